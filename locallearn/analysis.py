"""Plots of runs: learning curves and readout-vs-target traces (Agg backend, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import io  # noqa: E402

_LOSS_NAMES = {"mse": "mean squared error", "ce": "cross-entropy"}


def _mark_status(ax, status: str | None) -> None:
    """Write 'FAILED' / 'INTERRUPTED' across a curve of a run that did not complete."""
    if status and status != "completed":
        ax.text(
            0.5,
            0.5,
            status.upper(),
            transform=ax.transAxes,
            ha="center",
            va="center",
            fontsize=22,
            color="C3",
            alpha=0.35,
            rotation=15,
        )


def plot_learning_curve(
    rows: list[dict],
    metric: str,
    path: str | Path,
    title: str = "",
    loss: str | None = None,
    status: str | None = None,
) -> None:
    """Validation metric and loss against training trials, the test figure at the end, from the
    rows of ``metrics.jsonl``; a run that failed or was interrupted is marked so."""
    evals = [r for r in rows if r.get("kind") == "validation"]
    tests = [r for r in rows if r.get("kind") == "test"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    if evals:
        trials = [r["trial"] for r in evals]
        top.plot(
            trials,
            [r[metric] for r in evals],
            marker="o",
            ms=3,
            label="validation (the same trials each time)",
        )
        bottom.plot(trials, [r["loss"] for r in evals], marker="o", ms=3, label="validation loss")
        train = [(r["trial"], r["train_loss"]) for r in evals if r.get("train_loss") is not None]
        if train:
            bottom.plot(
                *zip(*train),
                marker=".",
                ms=3,
                alpha=0.7,
                label="training loss (mean since the last evaluation)",
            )
    if tests:
        last = tests[-1]
        top.scatter(
            [last["trial"]], [last[metric]], color="C3", zorder=3, label="test (fresh trials, drawn once)"
        )
        top.annotate(
            f"{last[metric]:.3g}",
            (last["trial"], last[metric]),
            textcoords="offset points",
            xytext=(-10, -14),
            color="C3",
        )
    top.set_ylabel(metric)
    top.grid(alpha=0.3)
    top.legend(loc="best", fontsize=8)
    bottom.set_ylabel(f"loss ({_LOSS_NAMES.get(loss, loss)})" if loss else "loss")
    bottom.set_xlabel("training trials")
    bottom.grid(alpha=0.3)
    bottom.legend(loc="best", fontsize=8)
    _mark_status(top, status)
    if title:
        top.set_title(title + ("" if not status or status == "completed" else f" ({status})"))
    io.save_figure(figure, path)
    plt.close(figure)


def plot_outputs(
    outputs: np.ndarray, targets: np.ndarray, path: str | Path, dt: float = 1.0, title: str = ""
) -> None:
    """Readout traces against their targets on one trial (one panel per output)."""
    outputs, targets = np.asarray(outputs), np.asarray(targets)
    n_out = outputs.shape[1]
    time_ms = np.arange(outputs.shape[0]) * dt
    figure, axes = plt.subplots(n_out, 1, figsize=(6.4, 1.9 * n_out + 0.6), sharex=True, squeeze=False)
    for k, ax in enumerate(axes[:, 0]):
        ax.plot(time_ms, targets[:, k], color="k", lw=1.5, label="target")
        ax.plot(time_ms, outputs[:, k], color="C1", lw=1.0, label="readout")
        ax.set_ylabel(f"y_{k}")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time (ms)")
    if title:
        axes[0, 0].set_title(title)
    io.save_figure(figure, path)
    plt.close(figure)


def replot_run(run_dir: str | Path) -> list[Path]:
    """Redraw a run directory's figures from its files; returns the paths written."""
    run_dir = Path(run_dir)
    summary = io.read_json(run_dir / "summary.json") if (run_dir / "summary.json").exists() else {}
    config = io.read_json(run_dir / "config.json")
    rows = io.read_jsonl(run_dir / "metrics.jsonl")
    path = run_dir / "learning_curve.png"
    title = (
        f"{config['task']['name']} — {summary.get('rule_label', config['rule']['name'])}, "
        f"seed {config['seed']}"
    )
    status = summary.get("status")
    if "agent" in config:
        plot_episode_curve(
            rows,
            summary.get("metric", "return"),
            path,
            config["training"]["window"],
            title=title,
            status=status,
        )
        return [path]
    metric = summary.get("metric") or next(
        k
        for k in rows[0]
        if k not in {"trial", "steps", "kind", "wall_seconds", "loss", "train_loss", "rate_hz"}
    )
    plot_learning_curve(rows, metric, path, title=title, loss=summary.get("loss"), status=status)
    return [path]


def _moving_average(values, window: int) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.maximum(np.arange(1, len(values) + 1) - window, 0)]) / counts


def plot_episode_curve(
    rows: list[dict],
    metric: str,
    path: str | Path,
    window: int = 100,
    title: str = "",
    status: str | None = None,
) -> None:
    """Per-episode return (dots) and its moving average, and the task metric's moving average,
    against environment steps, from the rows of a lifetime's ``metrics.jsonl``."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    if rows:
        steps = np.array([r["steps"] for r in rows])
        returns = np.array([r["return"] for r in rows])
        top.scatter(steps, returns, s=3, alpha=0.25, color="C0", label="episode return")
        top.plot(steps, _moving_average(returns, window), color="C0", lw=1.8, label=f"mean of last {window}")
        if metric != "return" and metric in rows[0]:
            values = np.array([r[metric] for r in rows])
            bottom.plot(steps, _moving_average(values, window), color="C2", lw=1.8)
        else:
            bottom.plot(steps, [r["length"] for r in rows], color="C2", lw=1.0)
            metric = "episode length"
    top.set_ylabel("return")
    top.grid(alpha=0.3)
    if rows:
        top.legend(loc="best", fontsize=8)
    bottom.set_ylabel(f"{metric} (mean of last {window})")
    bottom.set_xlabel("environment steps")
    bottom.grid(alpha=0.3)
    _mark_status(top, status)
    if title:
        top.set_title(title + ("" if not status or status == "completed" else f" ({status})"))
    io.save_figure(figure, path)
    plt.close(figure)


# ----------------------------------------------------------------------------- spike trains
class SpikeRecorder:
    """Records spikes sparsely — (step, neuron) pairs of the spikes that happened — so that a
    long run costs memory in proportion to its spikes, not to steps x neurons."""

    def __init__(self, n_neurons: int, dt: float = 1.0):
        self.n_neurons, self.dt = n_neurons, dt
        self._times: list[np.ndarray] = []
        self._ids: list[np.ndarray] = []
        self.steps = 0

    def record(self, z: np.ndarray) -> None:
        active = np.flatnonzero(z)
        if active.size:
            self._times.append(np.full(active.size, self.steps, np.int64))
            self._ids.append(active.astype(np.int32))
        self.steps += 1

    @property
    def times(self) -> np.ndarray:
        return np.concatenate(self._times) if self._times else np.zeros(0, np.int64)

    @property
    def ids(self) -> np.ndarray:
        return np.concatenate(self._ids) if self._ids else np.zeros(0, np.int32)

    def dense(self) -> np.ndarray:
        """The (steps, n_neurons) 0/1 raster."""
        raster = np.zeros((self.steps, self.n_neurons), np.float32)
        raster[self.times, self.ids] = 1
        return raster

    def to_neo(self) -> list:
        """The recorded spikes as one ``neo.SpikeTrain`` per neuron (see :func:`to_neo`)."""
        return to_neo(self.times, self.ids, self.n_neurons, self.steps, self.dt)


def to_neo(times, ids, n_neurons: int, steps: int, dt: float = 1.0) -> list:
    """Spikes as ``neo.SpikeTrain`` objects (one per neuron, times in ms, [0, steps * dt)), so
    that Elephant's statistics (rates, CV, unitary events, SPADE, ...) apply. ``times`` are step
    indices and ``ids`` neuron indices of each spike; a spike at step t is placed at t * dt.
    Needs the ``[analysis]`` extra (neo, quantities)."""
    try:
        import neo
        import quantities as pq
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "exporting to Neo needs the [analysis] extra: pip install -e '.[analysis]'"
        ) from error
    times, ids = np.asarray(times), np.asarray(ids)
    if times.shape != ids.shape:
        raise ValueError(f"times and ids must have the same shape, got {times.shape} and {ids.shape}")
    if ids.size and (ids.min() < 0 or ids.max() >= n_neurons):
        raise ValueError(f"neuron ids must lie in [0, {n_neurons}), got {ids.min()}..{ids.max()}")
    t_stop = steps * dt
    trains = []
    for neuron in range(n_neurons):
        spike_times = np.sort(times[ids == neuron]) * dt
        trains.append(
            neo.SpikeTrain(
                spike_times * pq.ms, t_start=0 * pq.ms, t_stop=t_stop * pq.ms, name=f"neuron {neuron}"
            )
        )
    return trains


def raster_to_neo(spikes: np.ndarray, dt: float = 1.0) -> list:
    """A (T, n) 0/1 raster as Neo spike trains (:func:`to_neo`)."""
    steps, neurons = np.nonzero(np.asarray(spikes))
    return to_neo(steps, neurons, np.asarray(spikes).shape[1], np.asarray(spikes).shape[0], dt)


def firing_rates(spikes: np.ndarray, dt: float = 1.0) -> np.ndarray:
    """Mean rate of each neuron in Hz from a (T, n) raster (dt in ms)."""
    spikes = np.asarray(spikes, np.float64)
    return spikes.mean(axis=0) * 1000.0 / dt


def isi_cv(spikes: np.ndarray) -> np.ndarray:
    """Coefficient of variation of the inter-spike intervals per neuron (nan with < 3 spikes)."""
    spikes = np.asarray(spikes)
    cvs = np.full(spikes.shape[1], np.nan)
    for j in range(spikes.shape[1]):
        intervals = np.diff(np.flatnonzero(spikes[:, j]))
        if intervals.size >= 2 and intervals.mean() > 0:
            cvs[j] = intervals.std() / intervals.mean()
    return cvs


def _counts(spikes: np.ndarray, window: int) -> np.ndarray:
    spikes = np.asarray(spikes, np.float64)
    n_windows = spikes.shape[0] // window
    if n_windows < 2:
        raise ValueError(f"need at least two windows of {window} steps, got {spikes.shape[0]} steps")
    return spikes[: n_windows * window].reshape(n_windows, window, -1).sum(axis=1)


def fano_factor(spikes: np.ndarray, window: int = 100) -> np.ndarray:
    """Variance / mean of spike counts in consecutive windows of ``window`` steps, per neuron."""
    counts = _counts(spikes, window)
    mean = counts.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean > 0, counts.var(axis=0) / mean, np.nan)


def count_correlations(spikes: np.ndarray, window: int = 100) -> np.ndarray:
    """Pairwise Pearson correlations of windowed spike counts (n x n; nan for silent neurons)."""
    counts = _counts(spikes, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.corrcoef(counts, rowvar=False)


def synchrony(spikes: np.ndarray, window: int = 10) -> float:
    """Golomb's synchrony measure chi: std of the population-averaged (windowed) activity over the
    mean of the single neurons' stds; ~1/sqrt(n) for independent neurons, 1 for full synchrony."""
    counts = _counts(spikes, window)
    single = counts.std(axis=0)
    if not np.any(single > 0):
        return float("nan")
    return float(counts.mean(axis=1).std() / np.sqrt(np.mean(single**2)))


def plot_raster(
    spikes: np.ndarray, path: str | Path, dt: float = 1.0, title: str = "", rate_window_ms: float = 10.0
) -> None:
    """Spike raster with the population rate (Hz, box-filtered) underneath."""
    spikes = np.asarray(spikes)
    steps, n = spikes.shape
    times, ids = np.nonzero(spikes)
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(7.2, 4.6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.scatter(times * dt, ids, s=2, marker="|", color="k")
    top.set_ylim(-0.5, n - 0.5)
    top.set_ylabel("neuron")
    if title:
        top.set_title(title)
    width = max(int(rate_window_ms / dt), 1)
    rate = np.convolve(spikes.mean(axis=1), np.ones(width) / width, mode="same") * 1000 / dt
    bottom.plot(np.arange(steps) * dt, rate, color="C0")
    bottom.set_ylabel("rate (Hz)")
    bottom.set_xlabel("time (ms)")
    bottom.grid(alpha=0.3)
    io.save_figure(figure, path)
    plt.close(figure)


def plot_heatmap(
    matrix: np.ndarray,
    path: str | Path,
    title: str = "",
    xlabel: str = "presynaptic",
    ylabel: str = "postsynaptic",
) -> None:
    """A weight or eligibility-trace matrix as a symmetric-colour heatmap."""
    matrix = np.asarray(matrix, np.float64)
    bound = float(np.max(np.abs(matrix))) or 1.0
    figure, ax = plt.subplots(figsize=(5.2, 4.2))
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto", interpolation="nearest")
    figure.colorbar(image, ax=ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    io.save_figure(figure, path)
    plt.close(figure)
