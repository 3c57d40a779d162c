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
from . import (  # noqa: E402,F401
    adapters,
    ale,
    catch,
    delayed_match,
    evidence,
    flappy,
    minatar,
    pattern,
    pong,
    store_recall,
    yinyang,
)


def register_with_gymnasium() -> list[str]:
    """Register every environment task with gymnasium as ``locallearn/<Name>-v0`` (no-op without
    gymnasium); returns the ids. Runs on import, so ``gymnasium.make("locallearn/Catch-v0")`` works
    after ``import locallearn``."""
    from locallearn.spaces import _gymnasium

    if _gymnasium is None:
        return []
    ids = []
    for name in available():
        factory = get(name)
        if getattr(factory, "kind", None) != "environment":
            continue
        env_id = f"locallearn/{factory.__name__}-v0"
        if env_id not in _gymnasium.registry:
            _gymnasium.register(id=env_id, entry_point=factory)
        ids.append(env_id)
    return ids


register_with_gymnasium()

__all__ = ["available", "get", "make", "register", "register_with_gymnasium", "registry"]
