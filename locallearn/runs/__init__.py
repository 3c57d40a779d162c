"""One run framework for every kind of run (DESIGN §2): supervised trial streams and
environment lifetimes are two schedules over the same machinery.

    from locallearn import runs
    summary = runs.execute({"task": "evidence", "seed": 0}, "runs/evidence")
    summary = runs.execute(None, "runs/evidence", resume=True)     # continue a killed run

``run_supervised`` and ``run_lifetime`` are the same call, named for the reader; ``play``
evaluates a saved agent with its weights frozen; ``execute_lockstep`` runs several lifetimes
together in one process, each writing what it would have written alone.
"""

from .checkpoint import CheckpointError
from .directory import RunDirectoryError
from .framework import Divergence, build_task, execute, fingerprint, is_environment, resolve, rule_label
from .lifetime import Agent, AgentConfig, LifetimeConfig, load_agent, play
from .lockstep import execute_lockstep
from .supervised import TrainingConfig

# the same call under the names a reader looks for: the task decides the schedule
run_supervised = execute
run_lifetime = execute


__all__ = [
    "Agent",
    "AgentConfig",
    "CheckpointError",
    "Divergence",
    "LifetimeConfig",
    "RunDirectoryError",
    "TrainingConfig",
    "build_task",
    "execute",
    "execute_lockstep",
    "fingerprint",
    "is_environment",
    "load_agent",
    "play",
    "resolve",
    "rule_label",
    "run_lifetime",
    "run_supervised",
]
