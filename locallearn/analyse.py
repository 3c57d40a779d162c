"""``locallearn analyse``: pattern statistics of a run's recorded windows, window by window, so
that what they measure can be followed across learning (issue 21): a lifetime's windows of
steps, or a supervised run's probes after chosen numbers of training trials.

The windows are the NIX files a ``[record]`` section wrote (:mod:`.recording`); each is analysed
on its own, in parallel on a process pool (``workers``) or a Dask cluster, with one of

* ``cubic`` — the order of correlation of the population (:func:`.patterns.cubic`);
* ``synchrony`` — spike-contrast synchrony (:func:`.patterns.spike_contrast`);
* ``spade`` — significant spatio-temporal patterns (:func:`.patterns.spade`);
* ``cad`` — cell assemblies (:func:`.patterns.cell_assemblies`);
* ``ue`` — unitary events of a group of neurons over the window's episodes as trials, aligned at
  their starts and cut to the shortest finished one, or over a supervised run's probe trials
  (:func:`.patterns.unitary_events`); the
  group is ``neurons`` or, when not given, the window's three most active neurons.

Results go to ``analysis/<method>.json`` in the run directory (per window: its steps, the
neurons, the method's options and findings, neuron ids as recorded) and ``analysis/<method>.png``
(the method's headline figure against the window's first step).
"""

from __future__ import annotations

import inspect
import multiprocessing
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import io, patterns, recording
from .config import ConfigError, unknown_name_message

METHODS = {
    "cubic": patterns.cubic,
    "synchrony": patterns.spike_contrast,
    "spade": patterns.spade,
    "cad": patterns.cell_assemblies,
    "ue": patterns.unitary_events,
}
HEADLINE = {
    "cubic": ("xi", "order of correlation (CuBIC xi)"),
    "synchrony": ("spike_contrast", "spike-contrast synchrony"),
    "spade": ("patterns", "significant SPADE patterns"),
    "cad": ("assemblies", "cell assemblies"),
    "ue": ("significant_fraction", "fraction of UE windows significant"),
}


def _check_options(method: str, options: dict) -> None:
    allowed = [
        name
        for name in inspect.signature(METHODS[method]).parameters
        if name not in ("raster", "trials", "neurons", "dt_ms")
    ]
    for key in options:
        if key not in allowed:
            raise ConfigError(unknown_name_message(f"{method} option", key, allowed))


def analyse_window(path: str, method: str, neurons: list[int] | None, options: dict) -> dict:
    """One window's findings (a JSON-ready dict)."""
    block = recording.read_window(path)
    raster, ids, dt = recording.raster(block)
    note = block.annotations
    row = {"window": int(Path(path).stem.split("-")[1])}
    if "after_trials" in note:  # a supervised run's probe: its position is a trial count
        row["after_trials"] = int(note["after_trials"])
    else:
        row["first_step"], row["last_step"] = int(note["first_step"]), int(note["last_step"])
    if neurons is not None:
        missing = [n for n in neurons if n not in ids]
        if missing:
            raise ConfigError(
                f"neuron {missing[0]} was not recorded in {path} (recorded: {ids[0]}..{ids[-1]})"
            )
    if method == "ue":
        return {**row, **_unitary_events(block, raster, ids, dt, neurons, options)}
    columns = list(range(len(ids))) if neurons is None else [ids.index(n) for n in neurons]
    raster, shown = raster[:, columns], [ids[c] for c in columns]
    row["neurons"] = shown
    if method == "synchrony":
        spiking = int(np.count_nonzero(raster.sum(axis=0)))
        if spiking < 2:  # undefined, not a failure: a window this silent is a finding of its own
            return {**row, "spike_contrast": None, "spiking_neurons": spiking}
    found = METHODS[method](raster, dt_ms=dt, **options)
    if method == "cubic":
        return {**row, "xi": found.xi, "p_values": found.p_values}
    if method == "synchrony":
        return {**row, "spike_contrast": found}
    items = [asdict(item) for item in found]
    for item in items:
        item["neurons"] = [shown[n] for n in item["neurons"]]
    key = "patterns" if method == "spade" else "assemblies"
    return {**row, key: len(items), "found": items}


def _unitary_events(block, raster, ids, dt, neurons, options) -> dict:
    """UE over the window's finished episodes (trials aligned at their starts), or over a
    supervised run's probe trials."""
    if "after_trials" in block.annotations:
        rasters, _, _ = recording.probe_rasters(block)
        length = min(r.shape[0] for r in rasters)
        return _ue_on_trials([r[:length] for r in rasters], raster, ids, dt, neurons, options)
    ends = next(e for e in block.segments[0].events if e.name == "episode_end")
    end_ms = np.asarray(ends.times.rescale("ms").magnitude)
    finished = np.array(["finished" in label for label in ends.labels], bool)
    starts = np.concatenate([[0.0], end_ms[:-1]])
    # the first episode began before the window unless the window opens the lifetime
    whole = (
        np.arange(len(end_ms)) > 0 if int(block.annotations["first_step"]) > 0 else np.ones(len(end_ms), bool)
    )
    spans = [(a, b) for a, b, keep in zip(starts, end_ms, finished & whole) if keep]
    if len(spans) < 2:
        raise ConfigError("unitary events need at least two finished episodes in a window")
    length = int(min(b - a for a, b in spans) / dt)
    trials = [raster[int(a / dt) : int(a / dt) + length] for a, _ in spans]
    return _ue_on_trials(trials, raster, ids, dt, neurons, options)


def _ue_on_trials(trials, raster, ids, dt, neurons, options) -> dict:
    length = trials[0].shape[0]
    if neurons is None:
        neurons = [ids[c] for c in np.argsort(-raster.sum(axis=0), kind="stable")[:3]]
    columns = [ids.index(n) for n in neurons]
    trials = [trial[:, columns] for trial in trials]
    options = {"window_ms": min(100.0, length * dt), "step_ms": max(dt, min(5.0, length * dt / 4)), **options}
    found = patterns.unitary_events(trials, tuple(range(len(columns))), dt_ms=dt, **options)
    return {
        "neurons": [int(n) for n in neurons],
        "trials": len(trials),
        "trial_ms": length * dt,
        "significant_fraction": float(np.mean(found.significant)) if found.significant.size else 0.0,
        "max_surprise": float(np.max(found.surprise)) if found.surprise.size else None,
        "centres_ms": found.centres_ms.tolist(),
        "surprise": found.surprise.tolist(),
    }


def analyse_run(
    run_dir: str | Path,
    method: str,
    windows: list[int] | None = None,
    neurons: list[int] | None = None,
    options: dict | None = None,
    workers: int = 1,
    executor: Executor | None = None,
) -> dict:
    """Analyse the recorded ``windows`` (default: all) of ``run_dir`` with ``method``; writes
    ``analysis/<method>.json`` and ``.png`` and returns the JSON's content."""
    if method not in METHODS:
        raise ConfigError(unknown_name_message("method", method, METHODS))
    options = dict(options or {})
    _check_options(method, options)
    run_dir = Path(run_dir)
    paths = recording.windows(run_dir)
    if not paths:
        raise ConfigError(f"{run_dir} holds no recorded windows; give the lifetime a [record] section")
    index = {int(p.stem.split("-")[1]): p for p in paths}
    chosen = sorted(index) if windows is None else list(windows)
    missing = [k for k in chosen if k not in index]
    if missing:
        raise ConfigError(f"window {missing[0]} was not recorded (recorded: {sorted(index)})")
    jobs = [(str(index[k]), method, neurons, options) for k in chosen]
    if executor is None and workers > 1 and len(jobs) > 1:
        # spawned, not forked: a child forked after the FIM library ran in this process hangs
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=multiprocessing.get_context("spawn")
        ) as pool:
            rows = list(pool.map(analyse_window, *zip(*jobs)))
    elif executor is not None:
        rows = [f.result() for f in [executor.submit(analyse_window, *job) for job in jobs]]
    else:
        rows = [analyse_window(*job) for job in jobs]
    result = {"method": method, "options": options, "windows": rows}
    folder = run_dir / "analysis"
    folder.mkdir(exist_ok=True)
    io.write_json(folder / f"{method}.json", result)
    _plot(rows, method, folder / f"{method}.png", run_dir.name)
    return result


def _plot(rows: list[dict], method: str, path: Path, title: str) -> None:
    from .analysis import plt

    key, label = HEADLINE[method]
    figure, ax = plt.subplots(figsize=(5.5, 3.5))
    supervised = "after_trials" in rows[0]
    x = [r["after_trials"] if supervised else r["first_step"] for r in rows]
    y = [np.nan if r.get(key) is None else r[key] for r in rows]
    ax.plot(x, y, "o-")
    ax.set_xlabel(
        "training trials before the probe" if supervised else "first environment step of the window"
    )
    ax.set_ylabel(label)
    ax.set_title(f"{title}: {method} per recorded window", fontsize=9)
    ax.grid(alpha=0.3)
    io.save_figure(figure, path)
    plt.close(figure)


def table(result: dict) -> str:
    """A short markdown table of :func:`analyse_run`'s result."""
    key, label = HEADLINE[result["method"]]
    supervised = bool(result["windows"]) and "after_trials" in result["windows"][0]
    lines = [f"| window | {'after trials' if supervised else 'steps'} | {label} |", "|---|---|---|"]
    for row in result["windows"]:
        value = row.get(key)
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        if value is None and "spiking_neurons" in row:
            shown = f"undefined ({row['spiking_neurons']} neuron(s) spike)"
        where = f"{row['after_trials']:,}" if supervised else f"{row['first_step']:,}–{row['last_step']:,}"
        lines.append(f"| {row['window']} | {where} | {shown} |")
    return "\n".join(lines) + "\n"
