"""Learning rules (installed as ``locallearn.rules``): one file per family, found by name.

    ll.rules.make("eprop", feedback="random")   # build a rule
    ll.rules.available()                         # names of every registered rule
    @ll.rules.register("my-rule")                # add your own class, no engine change
    class MyRule: ...

Installed packages can also provide rules through the ``locallearn.rules`` entry-point group.
Feedback pathways have their own registry: ``ll.rules.feedback.available()``.
"""

from locallearn.registry import Registry

registry = Registry("rule", entry_point_group="locallearn.rules")
register = registry.register
make = registry.make
available = registry.available
get = registry.get

# built-in rules register themselves on import
from . import eprop, feedback, reward_eprop, reward_trace_bp, rstdp, sal, snap, stream_ac, trace_bp, uoro  # noqa: E402,F401

__all__ = ["available", "eprop", "feedback", "get", "make", "register", "registry"]
