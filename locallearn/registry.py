"""Name -> class registries for rules and tasks.

A registry is filled by the ``register`` decorator (built-in modules and users' own modules alike)
and, lazily, by installed packages that declare an entry point in the registry's group
(``locallearn.rules`` / ``locallearn.tasks``), so a new rule is one file, never an engine change.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata

from .config import UnknownNameError, unknown_name_message


class Registry:
    """Maps names to factories; ``make(name, **kw)`` builds one."""

    def __init__(self, kind: str, entry_point_group: str):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._factories: dict[str, Callable] = {}
        self._entry_points_loaded = False

    def register(self, name: str, factory: Callable | None = None, *, overwrite: bool = False):
        """Register ``factory`` under ``name``; usable as ``@registry.register("name")``."""

        def add(factory: Callable) -> Callable:
            if not overwrite and name in self._factories and self._factories[name] is not factory:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered (pass overwrite=True to replace it)"
                )
            self._factories[name] = factory
            return factory

        return add if factory is None else add(factory)

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for entry_point in metadata.entry_points(group=self.entry_point_group):
            if entry_point.name not in self._factories:
                self._factories[entry_point.name] = entry_point.load()

    def available(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._factories)

    def get(self, name: str) -> Callable:
        self._load_entry_points()
        if name not in self._factories:
            raise UnknownNameError(unknown_name_message(self.kind, name, self._factories))
        return self._factories[name]

    def make(self, name: str, **kwargs):
        return self.get(name)(**kwargs)

    def __contains__(self, name: str) -> bool:
        self._load_entry_points()
        return name in self._factories
