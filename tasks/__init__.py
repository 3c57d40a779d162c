"""Tasks (installed as ``locallearn.tasks``): supervised streams and environments, by name.

    ll.tasks.make("evidence", seed=0)     # build a task
    ll.tasks.available()                  # names of every registered task
    @ll.tasks.register("my-task")         # add your own

Installed packages can also provide tasks through the ``locallearn.tasks`` entry-point group.
"""

from locallearn.registry import Registry

registry = Registry("task", entry_point_group="locallearn.tasks")
register = registry.register
make = registry.make
available = registry.available
get = registry.get

# built-in tasks register themselves on import
from . import catch, delayed_match, evidence, pattern, store_recall  # noqa: E402,F401

__all__ = ["available", "get", "make", "register", "registry"]
