"""Rule x task x seed comparisons through a ``concurrent.futures`` executor.

Every cell is an ordinary run directory under the sweep directory (``locallearn.runs.execute``,
whatever the kind of task). The sweep writes ``results.csv`` (one row per cell), ``results.md``
(rule x task table: mean ± sample std [95 % t-interval] over seeds, n) and ``curves.png``
(learning curves: mean and 95 % t-band over seeds, per rule).

Restarting the same sweep reuses a cell only when its run completed *and* its configuration
fingerprint (SHA-256 of the resolved config) equals the one asked for now; an unfinished cell of
the same fingerprint resumes from its checkpoint (bit-identical to an uninterrupted run); any
other cell directory is moved aside to ``stale/<cell>-<time>/`` (nothing is deleted) and run
again. A cell
that fails (bad numbers, an exception) is recorded as failed; the others go on. Every cell's
configuration is resolved before anything runs, so an unknown rule, task, feedback mode or option
stops the sweep at once, naming it. Pool workers watch their driver: when it dies (kill -9
included) they exit within a second instead of finishing their cell and sleeping forever.
"""

from __future__ import annotations

import csv
import fcntl
import io as _io
import json
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import io
from .config import ConfigError, check_int


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: a rule (and its feedback mode), a task, a seed, config overrides."""

    rule: str
    task: str
    seed: int
    feedback: str | None = None
    overrides: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        return f"{self.rule}:{self.feedback}" if self.feedback else self.rule

    @property
    def name(self) -> str:
        return f"{self.task}-{self.label.replace(':', '-')}-seed{self.seed}"

    def config(self) -> dict:
        config = json.loads(json.dumps(self.overrides))  # a deep copy
        config["task"] = {**config.get("task", {}), "name": self.task}
        rule = {**config.get("rule", {}), "name": self.rule}
        if self.feedback:
            rule["feedback"] = self.feedback
        config["rule"] = rule
        config["seed"] = self.seed
        return config


def parse_rules(text: str) -> list[tuple[str, str | None]]:
    """ "eprop:random,eprop:symmetric,rstdp" -> [("eprop", "random"), ..., ("rstdp", None)]."""
    rules = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, feedback = item.partition(":")
        rules.append((name, feedback or None))
    if not rules:
        raise ConfigError("no rules given")
    return rules


def parse_seeds(text: str) -> list[int]:
    """ "0-4" -> [0, 1, 2, 3, 4]; "0,2,5" -> [0, 2, 5]."""
    seeds = []
    try:
        for part in filter(None, (p.strip() for p in str(text).split(","))):
            if "-" in part:
                low, high = part.split("-", 1)
                seeds.extend(range(int(low), int(high) + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0:
        raise ConfigError(f"seeds must be non-negative integers or ranges like 0-4, got {text!r}")
    return seeds


def cells(rules, tasks, seeds, overrides: dict | None = None) -> list[Cell]:
    return [
        Cell(rule=r, feedback=f, task=t, seed=s, overrides=overrides or {})
        for t in tasks
        for r, f in rules
        for s in seeds
    ]


def validate(sweep: list[Cell]) -> list[dict]:
    """Resolve every cell's configuration (the first bad entry raises, naming the cell)."""
    from . import runs

    resolved = []
    for cell in sweep:
        try:
            resolved.append(runs.resolve(cell.config()))
        except (ConfigError, KeyError, ValueError, TypeError) as error:
            raise ConfigError(f"sweep cell {cell.name}: {error}") from None
    return resolved


def run_cell(cell: Cell, sweep_dir: str) -> dict:
    """Run (or reuse) one cell; never raises — a failure becomes a row with status "failed".

    The cell is locked while it runs: a worker orphaned by a killed driver may still be finishing
    it when the sweep restarts, and the restart then waits for it instead of racing it."""
    with open(Path(sweep_dir) / f".{cell.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _run_cell_locked(cell, sweep_dir)


def run_alone(cell: Cell, sweep_dir: str) -> list[dict]:
    """:func:`run_cell` as a group of one (the pool's jobs all return lists of rows)."""
    return [run_cell(cell, sweep_dir)]


def _move_aside(run_dir: Path) -> Path:
    stale = run_dir.parent / "stale" / f"{run_dir.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    for k in range(2, 1000):
        if not stale.exists():
            break
        stale = stale.with_name(f"{stale.name.rsplit('~', 1)[0]}~{k}")
    stale.parent.mkdir(parents=True, exist_ok=True)
    run_dir.rename(stale)
    return stale


def _plan(cell: Cell, sweep_dir: str) -> tuple[Path, dict, str, dict]:
    """(run directory, resolved config, what to do, stored summary) for one cell: "reuse" a
    completed run of the same configuration, "resume" an unfinished one from its checkpoint (a
    sweep killed at the end of a session goes on in the next), or "run" afresh — any other
    folder in the way is moved aside, kept."""
    from . import runs
    from .runs import checkpoint

    run_dir = Path(sweep_dir) / cell.name
    resolved = runs.resolve(cell.config())
    wanted = runs.fingerprint(resolved)
    same = (run_dir / "config.json").exists() and runs.fingerprint(
        io.read_json(run_dir / "config.json")
    ) == wanted
    summary = io.read_json(run_dir / "summary.json") if (run_dir / "summary.json").exists() else {}
    if same and summary.get("status") == "completed":
        return run_dir, resolved, "reuse", summary
    if same and checkpoint.exists(run_dir):
        return run_dir, resolved, "resume", summary
    if run_dir.exists():
        _move_aside(run_dir)
    return run_dir, resolved, "run", summary


def _failure(run_dir: Path, error: Exception) -> dict:
    summary = {
        "status": "failed",
        "message": f"{type(error).__name__}: {error}",
        "metric": None,
        "value": None,
        "steps": 0,
        "wall_seconds": 0.0,
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    io.write_json(run_dir / "failure.json", summary)
    return summary


def _run_cell_locked(cell: Cell, sweep_dir: str) -> dict:
    from . import runs

    run_dir, resolved, action, summary = _plan(cell, sweep_dir)
    if action == "reuse":
        return _row(cell, resolved, run_dir, summary, reused=True)
    try:
        if action == "resume":
            summary = runs.execute(None, run_dir, resume=True, progress=False)
        else:
            summary = runs.execute(cell.config(), run_dir, progress=False)
    except Exception as error:  # a cell's failure must not stop the sweep
        summary = _failure(run_dir, error)
    return _row(cell, resolved, run_dir, summary, reused=False)


def run_group(group: list[Cell], sweep_dir: str) -> list[dict]:
    """Run (or reuse) lifetime cells in lockstep in this process; rows in the cells' order.
    Each cell is locked, planned and reported as :func:`run_cell` would; an exception other
    than a lifetime's divergence fails the lifetimes of the group that were still running."""
    import contextlib

    from .runs.lockstep import execute_lockstep

    with contextlib.ExitStack() as stack:
        for cell in group:
            lock = stack.enter_context(open(Path(sweep_dir) / f".{cell.name}.lock", "w"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        plans = [_plan(cell, sweep_dir) for cell in group]
        rows: list[dict | None] = [
            _row(cell, resolved, run_dir, summary, reused=True) if action == "reuse" else None
            for cell, (run_dir, resolved, action, summary) in zip(group, plans)
        ]
        todo = [k for k, row in enumerate(rows) if row is None]
        if not todo:
            return rows
        try:
            summaries = execute_lockstep(
                [None if plans[k][2] == "resume" else group[k].config() for k in todo],
                [plans[k][0] for k in todo],
                resume=[plans[k][2] == "resume" for k in todo],
                progress=False,
            )
        except Exception as error:
            summaries = [_failure(plans[k][0], error) for k in todo]
        for k, summary in zip(todo, summaries):
            rows[k] = _row(group[k], plans[k][1], plans[k][0], summary, reused=False)
    return rows


def lockstep_groups(sweep: list[Cell], size: int) -> list[list[Cell]]:
    """Consecutive lifetime cells of one rule, feedback and task (and one choice of
    ``network.flush_subnormals``: a group shares a thread), in groups of at most ``size`` (a
    supervised cell, or ``size`` 1, is a group of its own)."""
    from .runs import is_environment

    groups: list[list[Cell]] = []
    for cell in sweep:
        last = groups[-1] if groups else None
        if (
            size > 1
            and last
            and len(last) < size
            and is_environment(cell.task)
            and _lockstep_key(last[0]) == _lockstep_key(cell)
        ):
            last.append(cell)
        else:
            groups.append([cell])
    return groups


def _lockstep_key(cell: Cell) -> tuple:
    flushes = cell.overrides.get("network", {}).get("flush_subnormals", False)
    return cell.task, cell.rule, cell.feedback, flushes


def _row(cell: Cell, resolved: dict, run_dir: Path, summary: dict, reused: bool) -> dict:
    """One results row; the label names the feedback pathway the run used, also when the cell
    left it to the task's default (``reward-eprop:symmetric``)."""
    from . import runs

    feedback = resolved["rule"].get("feedback")
    return {
        "task": cell.task,
        "rule": cell.rule,
        "feedback": feedback if isinstance(feedback, str) else "",
        "label": runs.rule_label(resolved),
        "seed": cell.seed,
        "metric": summary.get("metric"),
        "value": summary.get("value"),
        "status": summary.get("status"),
        "steps": summary.get("steps"),
        "wall_seconds": summary.get("wall_seconds"),
        "reused": reused,
        "message": summary.get("message", ""),
        "run_dir": str(run_dir),
    }


COLUMNS = (
    "task",
    "rule",
    "feedback",
    "label",
    "seed",
    "metric",
    "value",
    "status",
    "steps",
    "wall_seconds",
    "message",
    "run_dir",
)


def write_results(rows: list[dict], out: Path) -> None:
    buffer = _io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k) for k in COLUMNS})
    io.write_text(out / "results.csv", buffer.getvalue())
    io.write_text(out / "results.md", results_table(rows))


def results_table(rows: list[dict]) -> str:
    """Markdown table: one line per rule, one column per task; each cell the mean ± sample std
    [95 % t-interval] over the completed seeds, and n (failed seeds are counted apart)."""
    from .stats import summarize

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    labels = list(dict.fromkeys(r["label"] for r in rows))
    metrics = {t: next((r["metric"] for r in rows if r["task"] == t and r["metric"]), "") for t in tasks}
    lines = [
        "| rule | " + " | ".join(f"{t} ({metrics[t]})" for t in tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    for label in labels:
        cells_text = []
        for task in tasks:
            values = [
                float(r["value"])
                for r in rows
                if r["task"] == task
                and r["label"] == label
                and r["status"] == "completed"
                and r["value"] not in (None, "")
            ]
            failed = sum(
                1 for r in rows if r["task"] == task and r["label"] == label and r["status"] != "completed"
            )
            text = summarize(values).text() if values else "—"
            if failed:
                text += f", {failed} failed"
            cells_text.append(text)
        lines.append(f"| {label} | " + " | ".join(cells_text) + " |")
    return "\n".join(lines) + "\n"


def _curve(run_dir: Path, metric: str):
    path = run_dir / "metrics.jsonl"
    if not io.jsonl_exists(path) or not metric:
        return None
    rows = io.read_jsonl(path)
    if rows and "episode" in rows[0]:
        from .analysis import _moving_average

        x = np.array([r["steps"] for r in rows], float)
        return x, _moving_average([r[metric] for r in rows], 100)
    evals = [r for r in rows if r.get("kind") == "validation"]
    if not evals:
        return None
    return np.array([r["trial"] for r in evals], float), np.array([r[metric] for r in evals])


def plot_curves(rows: list[dict], path: Path) -> None:
    from .analysis import plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    figure, axes = plt.subplots(1, len(tasks), figsize=(5.2 * len(tasks), 3.8), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for k, label in enumerate(dict.fromkeys(r["label"] for r in rows if r["task"] == task)):
            curves = [
                _curve(Path(r["run_dir"]), r["metric"])
                for r in rows
                if r["task"] == task and r["label"] == label and r["status"] == "completed"
            ]
            curves = [c for c in curves if c is not None and len(c[0]) > 1]
            if not curves:
                continue
            grid = np.linspace(0, min(c[0][-1] for c in curves), 60)
            values = np.array([np.interp(grid, x, y) for x, y in curves])
            mean = values.mean(axis=0)
            ax.plot(grid, mean, color=f"C{k}", label=f"{label} (n={len(curves)} seeds)")
            if len(curves) > 1:  # 95 % t-interval of the mean over seeds
                from scipy.stats import t as student

                half = student.ppf(0.975, len(curves) - 1) * values.std(axis=0, ddof=1) / np.sqrt(len(curves))
                ax.fill_between(grid, mean - half, mean + half, color=f"C{k}", alpha=0.2)
        metric = next((r["metric"] for r in rows if r["task"] == task and r["metric"]), "")
        from matplotlib.ticker import EngFormatter

        from .runs import is_environment

        ax.set_title(f"{task}: mean over seeds, band = 95 % CI of the mean", fontsize=10)
        if is_environment(task):
            ax.set_xlabel("environment steps (up to the shortest lifetime)")
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.set_ylabel(f"{metric} (mean of the last 100 training episodes)")
        else:
            ax.set_xlabel("training trials (up to the shortest run: early stopping ends some)")
            ax.set_ylabel(f"{metric} (validation)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    io.save_figure(figure, path)
    plt.close(figure)


def _watch_driver(driver: int) -> None:
    """In a pool worker: exit as soon as the driver that started it is gone. Under the
    forkserver context a worker's parent is the server, which exits with the driver, so both
    are watched: the parent changing (orphaned) or the driver's pid no longer existing."""
    import os
    import threading

    parent = os.getppid()

    def driver_alive() -> bool:
        try:
            os.kill(driver, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # exists, owned by someone else (pid reused): treat as gone
            return False
        return True

    def watch() -> None:
        while True:
            if os.getppid() != parent or not driver_alive():
                os._exit(3)
            time.sleep(0.5)

    threading.Thread(target=watch, daemon=True, name="driver-watch").start()


def _start_worker(driver: int, threads: int) -> None:
    """Pool initializer: watch the driver, and run numba's parallel sweeps on this worker's
    share of the cores (workers x threads never exceeds them)."""
    import numba

    _watch_driver(driver)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def process_pool(workers: int | None) -> ProcessPoolExecutor:
    """The process pool of sweeps and tuners. Workers come from a forkserver, not a fork of
    the driver: the driver may already run threads (numba, BLAS, or JAX when a peer was
    imported), and forking a multithreaded process can deadlock the child. The server
    preloads the package, so a worker starts without re-importing numpy and numba. Each worker
    gets cores // workers numba threads (at least one)."""
    import multiprocessing
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    threads = max(1, cores // (workers or cores))
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["locallearn.sweep"])
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_start_worker, initargs=(os.getpid(), threads)
    )


def run_sweep(
    sweep: list[Cell],
    out: str | Path,
    workers: int | None = None,
    executor: Executor | None = None,
    lockstep: int = 1,
) -> list[dict]:
    """Run every cell (reusing completed ones of the same configuration); write the results.
    With ``lockstep`` K > 1, lifetimes of one rule and task run K at a time in one process
    (:func:`run_group`); their files are those of separate runs."""
    check_int("compare", "lockstep", lockstep, minimum=1)

    validate(sweep)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    io.write_json(
        out / "sweep.json",
        {
            "cells": [
                {
                    "rule": c.rule,
                    "feedback": c.feedback,
                    "task": c.task,
                    "seed": c.seed,
                    "overrides": c.overrides,
                }
                for c in sweep
            ]
        },
    )
    own = executor is None
    executor = executor or process_pool(workers)
    try:
        futures = [
            executor.submit(run_group, group, str(out))
            if len(group) > 1
            else executor.submit(run_alone, group[0], str(out))
            for group in lockstep_groups(sweep, lockstep)
        ]
        rows = [row for future in futures for row in future.result()]
    finally:
        if own:
            executor.shutdown()
    write_results(rows, out)
    plot_curves(rows, out / "curves.png")
    return rows
