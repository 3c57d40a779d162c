"""The one run framework: configuration, run directory, checkpoints, console, summary.

A run is a *schedule* driven by :func:`execute`. The schedule owns what is particular to its kind
of run — a supervised trial stream (:mod:`.supervised`) or an environment lifetime
(:mod:`.lifetime`) — and the framework owns everything else, identically for both:

1. the configuration: resolved from the user's partial one and the task's defaults (or, to
   resume, read from the run's ``config.json``; options given again must equal it);
2. the run directory (:mod:`.directory`): a new folder or the run's own, locked while written;
3. checkpoints (:mod:`.checkpoint`): data, written every ``schedule.checkpoint_due()``, restored
   into objects built afresh from the configuration; the first one at position 0, so that a
   run that cannot be checkpointed says so before it spends any time;
4. failure: a :class:`Divergence` (non-finite weights, loss or TD error, or a loss that grew
   beyond ``divergence_factor`` times its initial value) ends the run with status "failed", its
   reason printed on the console and written to ``summary.json`` with the last finite checkpoint;
   Ctrl-C ends it "interrupted" (exit 130 from the CLI) after the current unit of work;
5. the console (:mod:`.console`) and the summary: one schema (:data:`SUMMARY_SCHEMA`) whose
   common keys every run has, and the schedule's own figures besides.

The schedule protocol (:class:`Schedule`) is small: ``total`` and ``position`` in ``unit``s,
``begin()``, ``advance(limit)`` (at most ``limit`` units, returns how many), ``stop_reason``
(early stopping), ``checkpoint_objects()``, ``counters()`` / ``restore_counters()``,
``status()`` (console figures) and ``finish(status)`` (final evaluation, figures, summary keys).
:class:`ScheduleBase` holds what every schedule keeps for the framework (configuration,
directory, callbacks, ``position``, ``rows_written``, ``elapsed``, ``clock``, ``chunk``) and
writes metrics rows.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .. import io, numerics
from ..config import ConfigError, check_int, unknown_name_message
from . import checkpoint, console
from .directory import RunDirectory, RunDirectoryError, changed_options, default_path

SUMMARY_SCHEMA = 2


class Divergence(FloatingPointError):
    """The run's numbers left the finite range or grew without bound; the message says which."""


class Schedule(Protocol):
    kind: str  # "supervised" or "lifetime"
    unit: str  # what position counts: "trial" or "step"
    total: int
    position: int
    stop_reason: str | None  # set when the schedule ends before ``total`` (early stopping)

    def begin(self) -> None:
        """A fresh run starts (an initial evaluation, say); not called on resume."""

    def advance(self, limit: int) -> int:
        """Do at most ``limit`` units of work; return how many were done."""

    def checkpoint_due(self) -> bool:
        """Whether a checkpoint should be written now."""

    def checkpoint_objects(self) -> dict[str, Any]:
        """The live objects whose state a checkpoint records."""

    def counters(self) -> dict:
        """JSON counters that, with the objects' state, let a resumed run continue exactly."""

    def restore_counters(self, counters: dict, rows: list[dict]) -> None:
        """Take back the counters of a checkpoint and the metrics rows it accounts for."""

    def status(self) -> dict:
        """A few figures for the progress display."""

    def finish(self, status: str) -> dict:
        """End the run: final evaluation (when completed), figures; the summary's own keys."""


class ScheduleBase:
    """What every schedule keeps for the framework: its configuration, run directory, callbacks
    and the counters of :class:`Schedule`."""

    chunk = 1  # units per ``advance`` call between the framework's checks
    checkpoints = True  # False: the run writes no checkpoint at all (it cannot be resumed)

    def __init__(self, config: dict, directory, callbacks: tuple = ()):
        self.config, self.directory, self.callbacks = config, directory, callbacks
        self.position, self.stop_reason = 0, None
        self.rows_written, self.elapsed, self.clock = 0, 0.0, time.perf_counter()

    def write_row(self, row: dict, sync: bool = True) -> None:
        """Append ``row`` to ``metrics.jsonl`` and hand it to the callbacks."""
        self.directory.append_row(row, sync=sync)
        self.rows_written += 1
        for callback in self.callbacks:
            callback(row)


def config_record(seed: int, task: str, task_options: dict, **sections) -> dict:
    """A resolved configuration: seed, task table, then the schedule's sections in order."""
    return {"seed": seed, "task": {"name": task, **task_options}, **sections}


# ----------------------------------------------------------------------------- configuration
def construct(kind: str, factory: Callable, options: dict):
    """Call ``factory(**options)``, turning unknown keywords into a ConfigError naming them."""
    parameters = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        allowed = [n for n, p in parameters.items() if p.kind is not p.VAR_POSITIONAL]
        for key in options:
            if key not in allowed:
                raise ConfigError(unknown_name_message(f"{kind} option", key, allowed))
    return factory(**options)


def checked_section(cls, section: str, values: dict) -> dict:
    """``values`` validated by the frozen dataclass ``cls`` (unknown keys named), as a dict."""
    from dataclasses import asdict

    unknown = sorted(set(values) - set(cls.__dataclass_fields__))
    if unknown:
        raise ConfigError(unknown_name_message(f"{section} key", unknown[0], cls.__dataclass_fields__))
    return asdict(cls(**values))


def rule_section(default: dict, user: dict) -> dict:
    """The task's default rule options apply only when the user keeps the default rule."""
    if "name" in user and user["name"] != default.get("name"):
        return dict(user)
    return {**default, **user}


def rule_config(defaults: dict, user: dict, kind: str, default_name: str, task_name: str) -> dict:
    """The resolved ``rule`` section: the task's default rule (with its options) unless the user
    names another; every option checked by building the rule once; its ``kind`` must match."""
    from .. import rules

    section = rule_section(defaults.get("rule", {"name": default_name}), user.get("rule", {}))
    made = construct(
        f"rule {section['name']!r}",
        rules.get(section["name"]),
        {k: v for k, v in section.items() if k != "name"},
    )
    if getattr(made, "kind", None) != kind:  # validates user input: a registered class of any kind
        what = "a supervised" if kind == "supervised" else "a reinforcement-learning"
        raise ConfigError(f"rule {section['name']!r} is not {what} rule; {task_name!r} needs one")
    return section


def training_config(cls, defaults: dict, user: dict) -> dict:
    """The resolved ``training`` section: the task's defaults, the user's values, validated."""
    return checked_section(cls, "training", {**defaults.get("training", {}), **user.get("training", {})})


def split_task(user: dict, sections: tuple[str, ...]) -> tuple[int, str, dict]:
    """(seed, task name, task options) of a partial configuration; unknown sections named."""
    from .. import tasks

    unknown = sorted(set(user) - set(sections))
    if unknown:
        raise ConfigError(unknown_name_message("config section", unknown[0], sections))
    seed = user.get("seed", 0)
    check_int("config", "seed", seed, minimum=0)
    section = user.get("task")
    if section is None:
        raise ConfigError(f"config needs a task (available: {', '.join(tasks.available())})")
    section = {"name": section} if isinstance(section, str) else dict(section)
    name = section.pop("name", None)
    if name is None:
        raise ConfigError("the task section needs a name")
    tasks.get(name)  # an unknown name fails here, listing the known ones
    return seed, name, section


def build_task(section: dict, name: str | None = None):
    """The task a resolved ``task`` table describes (``name`` overrides its name)."""
    from .. import tasks

    options = {k: v for k, v in section.items() if k != "name"}
    return tasks.make(name or section["name"], **options)


def build_rule(section: dict):
    from .. import rules

    return rules.make(section["name"], **{k: v for k, v in section.items() if k != "name"})


def rule_label(config: dict) -> str:
    """'eprop:random' — the rule and, when it has one by name, its feedback pathway."""
    rule = config["rule"]
    feedback = rule.get("feedback")
    return f"{rule['name']}:{feedback}" if isinstance(feedback, str) else rule["name"]


def fingerprint(config: dict) -> str:
    """SHA-256 of a resolved configuration's canonical JSON: equal iff the runs are the same."""
    text = json.dumps(config, sort_keys=True, default=io.json_default, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def is_environment(task_name: str) -> bool:
    from .. import tasks

    return getattr(tasks.get(task_name), "kind", None) == "environment"


def schedule_for(task_name: str):
    """The schedule class that runs ``task_name``: a lifetime for environments, else trials."""
    from . import lifetime, supervised

    return lifetime.LifetimeSchedule if is_environment(task_name) else supervised.SupervisedSchedule


def task_name_of(user: dict) -> str | None:
    task = user.get("task")
    return task.get("name") if isinstance(task, dict) else task


def resolve(user: dict) -> dict:
    """Resolve a partial configuration of either kind of run."""
    name = task_name_of(user)
    if name is None:
        from .. import tasks

        raise ConfigError(f"config needs a task (available: {', '.join(tasks.available())})")
    return schedule_for(name).resolve(user)


# ----------------------------------------------------------------------------- running
class _Interrupt:
    """Turns SIGINT into a flag checked between units of work (a clean stopping point)."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave the default handler alone
            self.previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def open_directory(
    user_config: dict | None, out: str | Path | None, resume: bool, force: bool = False
) -> tuple[dict, RunDirectory]:
    """(resolved config, locked run directory) for a new run or for resuming one."""
    if resume:
        if out is None:
            raise RunDirectoryError("resume needs the run directory")
        directory = RunDirectory.reopen(out)
        try:
            config = directory.config
            changes = changed_options(config, user_config or {})
            if changes:
                raise RunDirectoryError(
                    f"--resume continues {out} with its stored configuration; these options "
                    f"differ from it: {'; '.join(changes)} (start a new run to change them)"
                )
        except BaseException:
            directory.release()
            raise
        return config, directory
    config = resolve(user_config or {})
    if out is None:
        out = default_path(config["task"]["name"], rule_label(config), config["seed"])
    return config, RunDirectory.create(out, config, force=force)


class Run:
    """One opened run for a driver loop: its directory, schedule and restored checkpoint, the
    checkpoint writer, and the summary at the end. :func:`execute` drives one; a lockstep
    group (:mod:`.lockstep`) drives several together. The directory must be held (entered)
    for the life of this object."""

    def __init__(self, config: dict, directory: RunDirectory, resume: bool, callbacks: tuple = ()):
        self.config, self.directory = config, directory
        self.schedule = schedule_for(config["task"]["name"])(config, directory, callbacks)
        self.objects = self.schedule.checkpoint_objects()
        self.last_checkpoint = None
        if resume and checkpoint.exists(directory.path):
            counters = checkpoint.load(directory.path, self.objects)
            self.schedule.restore_counters(counters, directory.keep_rows(counters["rows"]))
            self.last_checkpoint = self.schedule.position
        elif resume:  # killed before its first checkpoint: start over in the same directory
            directory.keep_rows(0)
        self.started = time.perf_counter() - (self.schedule.elapsed if resume else 0.0)
        self.schedule.clock = self.started
        self.status, self.message = "completed", None

    @property
    def label(self) -> str:
        return f"{self.config['task']['name']} / {rule_label(self.config)} / seed {self.config['seed']}"

    @property
    def active(self) -> bool:
        """Work is left and nothing has ended the run."""
        schedule = self.schedule
        return (
            self.status == "completed" and schedule.position < schedule.total and schedule.stop_reason is None
        )

    def begin(self) -> None:
        """A fresh run: the schedule's start, then the checkpoint at position 0 (so that a run
        that cannot be checkpointed says so before it spends any time)."""
        if self.last_checkpoint is None:
            self.schedule.begin()
            if self.schedule.checkpoints:
                self.save()

    def save(self) -> None:
        schedule = self.schedule
        schedule.elapsed = time.perf_counter() - self.started
        checkpoint.save(
            self.directory.path,
            self.objects,
            {**schedule.counters(), "rows": schedule.rows_written, "position": schedule.position},
        )
        self.directory.sync_rows()
        self.last_checkpoint = schedule.position

    def fail(self, error: Divergence) -> None:
        self.status = "failed"
        where = (
            f"{self.schedule.unit} {self.last_checkpoint:,}, {self.directory.path / checkpoint.MANIFEST}"
            if self.last_checkpoint is not None
            else "none"
        )
        self.message = f"{error}; last finite checkpoint: {where}"

    def close(self, stream, extra: dict | None = None) -> dict:
        """End the run: the schedule's figures and the summary file; returns the summary."""
        schedule, config = self.schedule, self.config
        self.directory.sync_rows()
        schedule.elapsed = time.perf_counter() - self.started
        summary = {
            "schema": SUMMARY_SCHEMA,
            "kind": schedule.kind,
            "task": config["task"]["name"],
            "rule": config["rule"]["name"],
            "feedback": config["rule"].get("feedback")
            if isinstance(config["rule"].get("feedback"), str)
            else None,
            "rule_label": rule_label(config),
            "seed": config["seed"],
            "status": self.status,
        }
        if self.message:
            summary["message"] = self.message
            print(f"run failed ({self.label}): {self.message}", file=stream, flush=True)
        summary.update(extra or {})
        summary.update(schedule.finish(self.status))
        summary["wall_seconds"] = round(time.perf_counter() - self.started, 3)
        summary["config_fingerprint"] = fingerprint(config)
        self.directory.write_summary(summary)
        return {**summary, "run_dir": str(self.directory.path)}


def execute(
    user_config: dict | None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
    callbacks: tuple = (),
    force: bool = False,
    stream=None,
) -> dict:
    """Run (or resume) the run ``user_config`` describes in ``out``; return its summary.

    ``callbacks`` are called with each metrics row as it is written (a notebook's live curve).
    A resumed run that had completed returns its summary without running again.
    """
    stream = stream or sys.stderr
    config, directory = open_directory(user_config, out, resume, force)
    with directory:
        finished = directory.summary() if resume else None
        if finished and finished.get("status") == "completed":
            return {**finished, "run_dir": str(directory.path)}
        console.compile_notice(stream)
        with numerics.flush_subnormals(numerics.run_flushes(config)):  # the run's arithmetic
            return _drive_one(Run(config, directory, resume, callbacks), progress, stream)


def _drive_one(run: Run, progress: bool, stream) -> dict:
    """Advance one run to its end (or Ctrl-C, or divergence) and close it."""
    schedule = run.schedule
    bar = console.Progress(
        schedule.total,
        schedule.unit,
        run.label,
        enabled=progress,
        stream=stream,
        initial=schedule.position,
    )
    with _Interrupt() as interrupt:
        try:
            run.begin()
            while run.active:
                if interrupt.requested:
                    run.status = "interrupted"
                    break
                done = schedule.advance(min(schedule.chunk, schedule.total - schedule.position))
                bar.update(done, **schedule.status())
                if schedule.checkpoint_due():
                    run.save()
        except KeyboardInterrupt:
            run.status = "interrupted"
        except Divergence as error:
            run.fail(error)
        finally:
            bar.close()
    return run.close(stream)
