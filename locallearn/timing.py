"""Do trained networks use spike timing? A perturbation test in the spirit of Yu, Sun & Goodman
(2025): a trained supervised network is evaluated, weights frozen, on fresh trials whose input
spikes are each moved in time by a Gaussian offset of standard deviation sigma (rounded to whole
steps, kept inside the trial). Every input neuron keeps its spike count — its rate over the trial
is unchanged — so a metric that falls with sigma is one that depended on when spikes came, at
that time scale. Two spikes that land on the same step add (an input of 2), which keeps counts
exact.

``jitter_curve(run_dir, sigmas_ms)`` gives the metric per sigma on the same fresh trials (the
"timing_trials" stream, never a training, validation or test trial of the run) with the same
jitter draws for every run of a seed (the "timing_jitter" stream).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import io, streams
from .config import ConfigError


def jitter_spikes(inputs: np.ndarray, sigma_steps: float, rng: np.random.Generator) -> np.ndarray:
    """``inputs`` (T, n_in) of spike counts with every spike moved by round(N(0, sigma_steps))
    steps, clipped to [0, T - 1]; per-neuron counts are preserved exactly."""
    inputs = np.asarray(inputs)
    if sigma_steps < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma_steps}")
    counts = np.rint(inputs).astype(np.int64)
    if np.any(counts < 0) or not np.allclose(counts, inputs):
        raise ValueError("jitter_spikes needs spike counts (non-negative integers) as inputs")
    steps, neurons = np.nonzero(counts)
    repeats = counts[steps, neurons]
    steps, neurons = np.repeat(steps, repeats), np.repeat(neurons, repeats)
    moved = (
        steps + np.rint(rng.normal(0.0, sigma_steps, steps.size)).astype(np.int64) if sigma_steps else steps
    )
    moved = np.clip(moved, 0, inputs.shape[0] - 1)
    out = np.zeros_like(inputs, dtype=np.float64)
    np.add.at(out, (moved, neurons), 1.0)
    return out.astype(inputs.dtype)


def load_network(run_dir: str | Path):
    """(network with the run's final weights, task, config) of a supervised run directory."""
    from .network import Network, NetworkConfig
    from .runs.framework import build_task

    run_dir = Path(run_dir)
    config = io.read_json(run_dir / "config.json")
    if "agent" in config:
        raise ConfigError(f"{run_dir} is a lifetime; the timing test needs a supervised run")
    net = Network(NetworkConfig.from_dict(config["network"]))
    with np.load(run_dir / "weights.npz", allow_pickle=False) as weights:
        for name in net.params:
            net.params[name][...] = weights[name]
    return net, build_task(config["task"]), config


def jitter_curve(run_dir: str | Path, sigmas_ms, n_trials: int = 256) -> list[float]:
    """The run's task metric at each jitter sigma (ms), on ``n_trials`` fresh trials."""
    from .optim import SGD
    from .rules import make
    from .runner import OnlineLearner

    net, task, config = load_network(run_dir)
    # learn=False below: the rule and optimizer are never used, the weights stay as trained
    learner = OnlineLearner(net, make("eprop"), SGD(lr=1.0), loss=task.loss)
    trial_rng = streams.generator(config["seed"], "timing_trials")
    trials = [task.trial(trial_rng) for _ in range(n_trials)]
    curve = []
    for sigma in sigmas_ms:
        rng = streams.generator(config["seed"], "timing_jitter")
        scores = []
        for trial in trials:
            inputs = jitter_spikes(trial.inputs, sigma / net.config.dt, rng)
            result = learner.run_sequence(inputs, trial.targets, trial.mask, learn=False)
            scores.append(task.score(result.outputs, trial))
        curve.append(float(np.mean(scores)))
    return curve
