"""Validation helpers shared by every frozen configuration record.

Each check raises :class:`ConfigError` naming the field, the offending value and what is allowed,
so a mistyped config file fails before anything runs.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


class ConfigError(ValueError):
    """A configuration value or key is not allowed; the message names it."""


def check_int(owner: str, name: str, value: Any, minimum: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{owner}.{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{owner}.{name} must be >= {minimum}, got {value}")


def check_positive(owner: str, name: str, value: Any, allow_zero: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{owner}.{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{owner}.{name} must be finite and {bound}, got {value}")


def check_choice(owner: str, name: str, value: Any, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError(f"{owner}.{name} = {value!r} is not one of {', '.join(map(repr, choices))}")


def unknown_name_message(kind: str, name: str, known: Iterable[str]) -> str:
    """'unknown rule 'epop'; did you mean 'eprop'? known: ...' — shared by every registry."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (available: {', '.join(known) or 'none'})"


def from_mapping(cls, mapping: Mapping[str, Any], **overrides):
    """Build dataclass ``cls`` from a mapping, rejecting keys it does not have."""
    fields = {f.name for f in dataclasses.fields(cls)}
    values = {**dict(mapping), **overrides}
    unknown = sorted(set(values) - fields)
    if unknown:
        key = unknown[0]
        raise ConfigError(unknown_name_message(f"{cls.__name__} key", key, fields))
    return cls(**values)


class UnknownNameError(ValueError, KeyError):
    """A rule, task, feedback mode or loss name that no registry knows; the message lists them."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
