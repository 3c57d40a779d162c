"""The protocol of supervised streaming tasks: a seeded stream of trials.

A supervised task produces :class:`Trial` records one at a time from a ``np.random.Generator``
(the only source of randomness), and scores a network's readout on a trial with its headline
metric. The runner never needs to know which task it is driving.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Trial:
    """One trial: inputs (T, n_in), targets (T, n_out) or class indices (T,), loss mask (T,).

    ``label`` is the trial's answer when it has one (a class, a stored bit); ``info`` anything
    else the task wants to keep (cue sequence, ...).
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    label: int | None = None
    info: dict = field(default_factory=dict)


@runtime_checkable
class SupervisedTask(Protocol):
    """Supervised stream: ``n_in``, ``n_out``, ``loss`` ("mse"/"ce"), ``metric`` (its name),
    ``higher_is_better``, ``trial(rng)`` and ``score(outputs, trial)``.

    A task class may carry ``defaults``: a dict with ``network``, ``rule`` and ``training`` tables
    of settings known to work on it, which a run configuration then only needs to override.
    """

    name: str
    n_in: int
    n_out: int
    loss: str
    metric: str
    higher_is_better: bool

    def trial(self, rng: np.random.Generator) -> Trial:
        """Draw one trial."""

    def score(self, outputs: np.ndarray, trial: Trial) -> float:
        """The headline metric of one trial given the readout history (T, n_out)."""


def poisson_spikes(rate_per_step: np.ndarray, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """Bernoulli approximation of Poisson spike trains with per-step probabilities ``rate_per_step``."""
    return (rng.random(rate_per_step.shape) < rate_per_step).astype(dtype)


def memory_task_defaults(target: float) -> dict:
    """Settings that reach the e-prop paper's results on its memory tasks (evidence accumulation,
    store-recall): 50 LIF + 50 ALIF, random feedback, rate regularisation, per-trial Adam updates
    with a decaying learning rate, stopping early once the validation accuracy (256 trials,
    every 100 trials) reaches ``target``, at most 3000 trials; tested on 1024 fresh trials."""
    return {
        "network": {"n_rec": 100, "n_adaptive": 50, "tau_adapt": 2000.0},
        "rule": {"name": "eprop", "feedback": "random", "c_reg": 1.0},
        "training": {
            "n_trials": 3000,
            "update": "trial",
            "batch_size": 1,
            "lr": 1e-3,
            "lr_decay": 0.8,
            "lr_decay_every": 300,
            "eval_every": 100,
            "validation_trials": 256,
            "test_trials": 1024,
            "target": target,
        },
    }
