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
    metric = summary.get("metric") or next(k for k in rows[0] if k not in
                                           {"trial", "steps", "kind", "wall_seconds", "eval_loss",
                                            "train_loss", "rate_hz"})
    path = run_dir / "learning_curve.png"
    title = f"{summary.get('task', '')} — {summary.get('rule_label', '')}, seed {summary.get('seed', '')}"
    plot_learning_curve(rows, metric, path, title=title)
    return [path]
