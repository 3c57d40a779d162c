"""Plots of runs: learning curves and readout-vs-target traces (Agg backend, no display)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from . import io  # noqa: E402


def plot_learning_curve(rows: list[dict], metric: str, path: str | Path, title: str = "") -> None:
    """Metric and loss against training trials, from the rows of ``metrics.jsonl``."""
    evals = [r for r in rows if r.get("kind", "eval") == "eval"]
    finals = [r for r in rows if r.get("kind") == "final"]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    if evals:
        trials = [r["trial"] for r in evals]
        top.plot(trials, [r[metric] for r in evals], marker="o", ms=3, label="held-out (quick)")
        bottom.plot(trials, [r["eval_loss"] for r in evals], marker="o", ms=3, label="held-out loss")
        train = [(r["trial"], r["train_loss"]) for r in evals if r.get("train_loss") is not None]
        if train:
            bottom.plot(*zip(*train), marker=".", ms=3, alpha=0.7, label="training loss (mean)")
    if finals:
        top.scatter([r["trial"] for r in finals], [r[metric] for r in finals], color="C3",
                    zorder=3, label="large held-out evaluation")
        last = finals[-1]
        top.annotate(f"{last[metric]:.3g}", (last["trial"], last[metric]),
                     textcoords="offset points", xytext=(-10, -14), color="C3")
    top.set_ylabel(metric)
    top.grid(alpha=0.3)
    top.legend(loc="best", fontsize=8)
    bottom.set_ylabel("loss")
    bottom.set_xlabel("training trials")
    bottom.grid(alpha=0.3)
    bottom.legend(loc="best", fontsize=8)
    if title:
        top.set_title(title)
    io.save_figure(figure, path)
    plt.close(figure)


def plot_outputs(outputs: np.ndarray, targets: np.ndarray, path: str | Path,
                 dt: float = 1.0) -> None:
    """Readout traces against their targets on one trial (one panel per output)."""
    outputs, targets = np.asarray(outputs), np.asarray(targets)
    n_out = outputs.shape[1]
    time_ms = np.arange(outputs.shape[0]) * dt
    figure, axes = plt.subplots(n_out, 1, figsize=(6.4, 1.9 * n_out + 0.6), sharex=True,
                                squeeze=False)
    for k, ax in enumerate(axes[:, 0]):
        ax.plot(time_ms, targets[:, k], color="k", lw=1.5, label="target")
        ax.plot(time_ms, outputs[:, k], color="C1", lw=1.0, label="readout")
        ax.set_ylabel(f"y_{k}")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time (ms)")
    io.save_figure(figure, path)
    plt.close(figure)


def replot_run(run_dir: str | Path) -> list[Path]:
    """Redraw a run directory's figures from its files; returns the paths written."""
    run_dir = Path(run_dir)
    summary = io.read_json(run_dir / "summary.json") if (run_dir / "summary.json").exists() else {}
    rows = io.read_jsonl(run_dir / "metrics.jsonl")
    if rows and "episode" in rows[0]:
        path = run_dir / "learning_curve.png"
        config = io.read_json(run_dir / "config.json")
        plot_episode_curve(rows, summary.get("metric", "return"), path,
                           config["training"]["window"],
                           title=f"{summary.get('task', '')} — {summary.get('rule', '')}")
        return [path]
    metric = summary.get("metric") or next(k for k in rows[0] if k not in
                                           {"trial", "steps", "kind", "wall_seconds", "eval_loss",
                                            "train_loss", "rate_hz"})
    path = run_dir / "learning_curve.png"
    title = f"{summary.get('task', '')} — {summary.get('rule_label', '')}, seed {summary.get('seed', '')}"
    plot_learning_curve(rows, metric, path, title=title)
    return [path]


def _moving_average(values, window: int) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if len(values) == 0:
        return values
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return (cumulative[1:] - cumulative[np.maximum(np.arange(1, len(values) + 1) - window, 0)]) / counts


def plot_episode_curve(rows: list[dict], metric: str, path: str | Path, window: int = 100,
                       title: str = "") -> None:
    """Per-episode return (dots) and its moving average, and the task metric's moving average,
    against environment steps, from the rows of a lifetime's ``metrics.jsonl``."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.4, 5.6), sharex=True)
    if rows:
        steps = np.array([r["steps"] for r in rows])
        returns = np.array([r["return"] for r in rows])
        top.scatter(steps, returns, s=3, alpha=0.25, color="C0", label="episode return")
        top.plot(steps, _moving_average(returns, window), color="C0", lw=1.8,
                 label=f"mean of last {window}")
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
    if title:
        top.set_title(title)
    io.save_figure(figure, path)
    plt.close(figure)
