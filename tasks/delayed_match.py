"""Delayed match-to-sample (project-defined: not from the e-prop paper; say so when you cite it).

Two one-bit cues separated by a delay; answer whether they were equal. Inputs are four equal
channel groups: bit 0, bit 1, recall, noise. Cue 1 (``t_cue`` = 100 ms) shows its bit at ``f_in``
(40 Hz); after a delay drawn uniformly in [``min_delay``, ``max_delay``] ms (300-800 ms) cue 2
shows its bit; after a further 100 ms gap the recall channels fire for ``t_recall`` = 150 ms, the
window in which the readout must say "match" (class 1) or "no match" (class 0). The noise
channels fire at 10 Hz throughout. Trials have a fixed length (the longest delay), with the
cues placed so that the recall window always ends the trial. Cross-entropy over the recall window;
headline metric: accuracy. It is an XOR of two remembered bits, so a readout of the last cue alone
scores 50 %.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_int, check_positive
from locallearn.trials import Trial, memory_task_defaults, poisson_spikes

from . import register


@register("delayed_match")
class DelayedMatch:
    name = "delayed_match"
    loss = "ce"
    metric = "accuracy"
    higher_is_better = True
    defaults = memory_task_defaults(target=0.95)

    def __init__(
        self,
        n_in: int = 40,
        t_cue: int = 100,
        min_delay: int = 300,
        max_delay: int = 800,
        t_gap: int = 100,
        t_recall: int = 150,
        f_in: float = 40.0,
        f_noise: float = 10.0,
        dt: float = 1.0,
    ):
        owner = "DelayedMatch"
        check_int(owner, "n_in", n_in, minimum=4)
        if n_in % 4:
            raise ValueError(f"{owner}.n_in must be a multiple of 4 (four channel groups), got {n_in}")
        for field in ("t_cue", "min_delay", "max_delay", "t_gap", "t_recall"):
            check_int(owner, field, locals()[field], minimum=1)
        if max_delay < min_delay:
            raise ValueError(f"{owner}.max_delay ({max_delay}) < min_delay ({min_delay})")
        check_positive(owner, "f_in", f_in)
        check_positive(owner, "f_noise", f_noise, allow_zero=True)
        check_positive(owner, "dt", dt)
        self.n_in, self.n_out = n_in, 2
        self.t_cue, self.min_delay, self.max_delay = t_cue, min_delay, max_delay
        self.t_gap, self.t_recall, self.f_in, self.f_noise, self.dt = t_gap, t_recall, f_in, f_noise, dt
        self.seq_len = 50 + 2 * t_cue + max_delay + t_gap + t_recall

    def trial(self, rng: np.random.Generator) -> Trial:
        group = self.n_in // 4
        first, second = rng.integers(0, 2, 2)
        delay = int(rng.integers(self.min_delay, self.max_delay + 1))
        label = int(first == second)
        rate = np.zeros((self.seq_len, self.n_in))
        p = self.f_in * self.dt / 1000
        recall_start = self.seq_len - self.t_recall
        second_start = recall_start - self.t_gap - self.t_cue
        first_start = second_start - delay - self.t_cue
        for start, bit in ((first_start, first), (second_start, second)):
            rate[start : start + self.t_cue, bit * group : (bit + 1) * group] = p
        rate[recall_start:, 2 * group : 3 * group] = p
        rate[:, 3 * group :] = self.f_noise * self.dt / 1000
        mask = np.zeros(self.seq_len, np.float32)
        mask[recall_start:] = 1
        targets = np.full(self.seq_len, label, np.int64)
        return Trial(
            inputs=poisson_spikes(rate, rng),
            targets=targets,
            mask=mask,
            label=label,
            info={"bits": (int(first), int(second)), "delay": delay},
        )

    def score(self, outputs: np.ndarray, trial: Trial) -> float:
        return float(int(np.argmax(outputs[-self.t_recall :].mean(axis=0))) == trial.label)
