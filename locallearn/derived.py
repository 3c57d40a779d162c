"""Values an object derives once from its own arrays — a kernel's fixed argument list, an update
plan — to spare rebuilding them at every step.

A :class:`Derived` is rebuilt whenever its owner is built and is never written to a checkpoint
(``locallearn.runs.checkpoint`` skips it): the arrays it refers to are recorded where they live
and restored in place, so the references it holds stay valid, and a checkpoint written before a
cache existed still fits.
"""

from __future__ import annotations


class Derived(tuple):
    """A tuple the checkpoint walk skips (see the module docstring)."""

    __slots__ = ()
