"""Lifetimes in lockstep: K independent lifetimes advanced together, one environment step each in
turn, in one process.

Each lifetime is an ordinary run (:class:`.framework.Run`): its own configuration, run directory,
metrics rows, checkpoints, summary and random streams, so that its files are what it would have
written alone — bit for bit, for every rule (tested on catch, flappy, pong and ALE Pong, float32
and float64). A lifetime that diverges ends "failed" and the others go on; Ctrl-C ends all of
them "interrupted" after the current step, each with its checkpoint; resuming a group resumes
each lifetime from its own checkpoint (completed ones are returned as they are).

What lockstep buys today: one process, one numba compilation and one interpreter for K
lifetimes, and a driver that hands the K environments their steps together — the place where
batched environments and a batched compiled agent step go. Each agent still steps through its
own compiled kernels, so the per-lifetime cost is that of a lifetime alone;
``benchmarks/lockstep.py`` measures the throughput against separate processes.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

from .. import io, numerics
from ..config import ConfigError
from . import console
from .framework import Divergence, Run, _Interrupt, is_environment, open_directory, task_name_of


def execute_lockstep(
    user_configs: list[dict | None],
    outs: list[str | Path | None],
    resume: bool | list[bool] = False,
    progress: bool = True,
    force: bool = False,
    stream=None,
) -> list[dict]:
    """Run (or resume) the lifetimes ``user_configs`` describe, in ``outs``, in lockstep;
    return their summaries in the same order. ``resume`` (for all, or one flag per lifetime)
    continues a lifetime from its directory's checkpoint; its configuration may then be None
    (the stored one is used)."""
    stream = stream or sys.stderr
    if len(user_configs) != len(outs) or not outs:
        raise ConfigError(
            f"lockstep needs one run directory per lifetime, got {len(user_configs)} configs and {len(outs)}"
        )
    for config in user_configs:
        name = task_name_of(config or {})
        if name is not None and not is_environment(name):
            raise ConfigError(f"lockstep runs lifetimes; {name!r} is a supervised task")
    resumes = list(resume) if isinstance(resume, (list, tuple)) else [resume] * len(outs)
    if len(resumes) != len(outs):
        raise ConfigError(f"lockstep got {len(resumes)} resume flags for {len(outs)} lifetimes")
    named = [Path(out).resolve() for out in outs if out is not None]
    if len(set(named)) != len(named):
        raise ConfigError("lockstep lifetimes need distinct run directories")
    flushes = _flush_choices(user_configs, outs, resumes)
    summaries: list[dict | None] = [None] * len(outs)
    with contextlib.ExitStack() as stack:
        runs: list[tuple[int, Run]] = []
        for index, (config, out, again) in enumerate(zip(user_configs, outs, resumes)):
            resolved, directory = open_directory(config, out, again, force)
            stack.enter_context(directory)
            finished = directory.summary() if again else None
            if finished and finished.get("status") == "completed":
                summaries[index] = {**finished, "run_dir": str(directory.path)}
                continue
            runs.append((index, Run(resolved, directory, again)))
        if runs:
            console.compile_notice(stream)
            with numerics.flush_subnormals(flushes):  # one thread, so one arithmetic for all
                _drive([run for _, run in runs], progress, stream)
                extra = {"lockstep": len(runs)}
                for index, run in runs:
                    summaries[index] = run.close(stream, extra)
    return summaries


def _flush_choices(user_configs: list[dict | None], outs: list, resumes: list[bool]) -> bool:
    """The group's ``network.flush_subnormals`` (a resumed lifetime's from its stored
    configuration), checked equal before any directory is written: the lifetimes share a thread,
    and the flag is that thread's."""
    choices = set()
    for config, out, again in zip(user_configs, outs, resumes):
        stored = Path(out) / "config.json" if again and out is not None else None
        if stored is not None and stored.exists():
            config = io.read_json(stored)
        choices.add(numerics.run_flushes(config or {}))
    if len(choices) > 1:
        raise ConfigError(
            "lockstep lifetimes share one thread and so one arithmetic: give every lifetime the "
            "same network.flush_subnormals"
        )
    return choices.pop()


def _drive(runs: list[Run], progress: bool, stream) -> None:
    """Advance every active lifetime one step at a time, in turn, checkpointing each when its
    schedule says so."""
    seeds = ", ".join(str(run.config["seed"]) for run in runs)
    first = runs[0]
    bar = console.Progress(
        sum(run.schedule.total for run in runs),
        first.schedule.unit,
        f"{first.config['task']['name']} / lockstep of {len(runs)} (seeds {seeds})",
        enabled=progress,
        stream=stream,
        initial=sum(run.schedule.position for run in runs),
    )
    with _Interrupt() as interrupt:
        try:
            for run in runs:
                run.begin()
            active = [run for run in runs if run.active]
            while active:
                if interrupt.requested:
                    for run in active:
                        run.status = "interrupted"
                    break
                done = 0
                for _ in range(first.schedule.chunk):  # the console between chunks, as alone
                    for run in active:
                        try:
                            run.schedule.advance(1)
                        except Divergence as error:
                            run.fail(error)
                            continue
                        done += 1
                        if run.schedule.checkpoint_due():
                            run.save()
                    if not all(run.active for run in active):
                        active = [run for run in active if run.active]
                        if not active:
                            break
                bar.update(done, **first.schedule.status())
        except KeyboardInterrupt:
            for run in runs:
                if run.active:
                    run.status = "interrupted"
        finally:
            bar.close()
