"""Pattern generation (e-prop paper, Fig. 2 / S2; the reference code's pattern tutorial).

One frozen pattern: ``n_in`` = 100 Poisson inputs at 50 Hz, drawn once from the task's ``seed`` and
shown on every trial, and ``n_out`` target traces of ``seq_len`` = 1000 ms, each a sum of sines with
periods 1000, 500, 333 and 200 ms, amplitudes uniform in [0.5, 2] and phases uniform in [0, 2 pi),
normalised to a peak of 1 (the reference code's sines span seq_len // period full cycles). The
loss is the MSE over the whole trial; the headline metric is the trial's MSE per step and output.
"""

from __future__ import annotations

import numpy as np

from locallearn import streams
from locallearn.config import check_int, check_positive
from locallearn.trials import Trial, poisson_spikes

from . import register


def sum_of_sines(seq_len: int, periods, rng: np.random.Generator) -> np.ndarray:
    """One target trace: sum_k w_k sin(phase_k + 2 pi (seq_len // P_k) s), s in [0, 1], peak 1."""
    trace = np.zeros(seq_len)
    for period in periods:
        weight, phase = rng.uniform(0.5, 2.0), rng.uniform(0, 2 * np.pi)
        cycles = seq_len // period
        trace += weight * np.sin(np.linspace(phase, 2 * np.pi * cycles + phase, seq_len))
    return trace / np.max(np.abs(trace))


@register("pattern")
class PatternGeneration:
    name = "pattern"
    loss = "mse"
    metric = "mse"
    higher_is_better = False
    defaults = {
        "network": {"n_rec": 100, "n_adaptive": 0, "tau_mem": 30.0, "tau_out": 30.0},
        "rule": {"name": "eprop", "feedback": "random", "c_reg": 0.0},
        "training": {
            "n_trials": 1000,
            "update": "trial",
            "lr": 3e-3,
            "eval_every": 50,
            "validation_trials": 1,
            "test_trials": 1,
        },
    }

    def __init__(
        self,
        n_in: int = 100,
        n_out: int = 2,
        seq_len: int = 1000,
        f_in: float = 50.0,
        periods: tuple = (1000, 500, 333, 200),
        seed: int = 0,
        dt: float = 1.0,
    ):
        owner = "PatternGeneration"
        check_int(owner, "n_in", n_in, minimum=1)
        check_int(owner, "n_out", n_out, minimum=1)
        check_int(owner, "seq_len", seq_len, minimum=2)
        check_int(owner, "seed", seed, minimum=0)
        check_positive(owner, "f_in", f_in)
        check_positive(owner, "dt", dt)
        periods = tuple(int(p) for p in periods)
        if not periods or min(periods) < 2 or max(periods) > seq_len:
            raise ValueError(f"{owner}.periods must lie in [2, seq_len={seq_len}], got {periods}")
        self.n_in, self.n_out, self.seq_len, self.periods = n_in, n_out, seq_len, periods
        rng = streams.generator(seed, "pattern_inputs")
        self.inputs = poisson_spikes(np.full((seq_len, n_in), f_in * dt / 1000), rng)
        self.targets = np.stack([sum_of_sines(seq_len, periods, rng) for _ in range(n_out)], axis=1).astype(
            np.float32
        )
        self.mask = np.ones(seq_len, np.float32)

    def trial(self, rng: np.random.Generator) -> Trial:
        return Trial(inputs=self.inputs.copy(), targets=self.targets.copy(), mask=self.mask.copy())

    def score(self, outputs: np.ndarray, trial: Trial) -> float:
        return float(np.mean((np.asarray(outputs, np.float64) - trial.targets) ** 2))
