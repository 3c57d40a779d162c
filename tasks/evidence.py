"""Evidence accumulation (cue accumulation), as in the e-prop paper's Fig. 3 and its reference code.

Inputs are ``n_in`` Poisson channels in four equal groups: left cues, right cues, recall cue and
background noise. A trial of ``seq_len`` ms (2250 by default) shows ``n_cues`` = 7 cues: cue k
occupies [50 + 150 k, 150 + 150 k) ms, during which the ten channels of its side fire at 40 Hz.
Each trial first draws which side is "likely" (probability 1/2), then each cue's side independently
with probability ``p_majority`` = 0.7 for the likely one. After a delay the recall channels fire at
40 Hz during the last 150 ms; the noise channels fire at 10 Hz throughout. The answer is the side
that got more cues (class 1 = right). The loss is cross-entropy over the recall window; the
decision is the arg-max of the readout averaged over that window (headline metric: accuracy).
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_int, check_positive
from locallearn.trials import Trial, memory_task_defaults, poisson_spikes

from . import register


@register("evidence")
class EvidenceAccumulation:
    name = "evidence"
    loss = "ce"
    metric = "accuracy"
    higher_is_better = True
    defaults = memory_task_defaults(target=0.93)

    def __init__(
        self,
        n_in: int = 40,
        n_cues: int = 7,
        t_cue: int = 100,
        t_interval: int = 150,
        t_recall: int = 150,
        seq_len: int = 2250,
        f_cue: float = 40.0,
        f_noise: float = 10.0,
        p_majority: float = 0.7,
        dt: float = 1.0,
    ):
        owner = "EvidenceAccumulation"
        check_int(owner, "n_in", n_in, minimum=4)
        if n_in % 4:
            raise ValueError(f"{owner}.n_in must be a multiple of 4 (four channel groups), got {n_in}")
        check_int(owner, "n_cues", n_cues, minimum=1)
        if n_cues % 2 == 0:
            raise ValueError(f"{owner}.n_cues must be odd so that a majority exists, got {n_cues}")
        for field in ("t_cue", "t_interval", "t_recall", "seq_len"):
            check_int(owner, field, locals()[field], minimum=1)
        if t_cue > t_interval:
            raise ValueError(f"{owner}.t_cue ({t_cue}) must not exceed t_interval ({t_interval})")
        cue_end = (t_interval - t_cue) + n_cues * t_interval
        if cue_end + t_recall > seq_len:
            raise ValueError(
                f"{owner}.seq_len = {seq_len} is too short for {n_cues} cues and the "
                f"recall window (needs at least {cue_end + t_recall})"
            )
        for field in ("f_cue", "f_noise", "dt"):
            check_positive(owner, field, locals()[field], allow_zero=field == "f_noise")
        if not 0.5 < p_majority <= 1:
            raise ValueError(f"{owner}.p_majority must lie in (0.5, 1], got {p_majority}")
        self.n_in, self.n_out = n_in, 2
        self.n_cues, self.t_cue, self.t_interval = n_cues, t_cue, t_interval
        self.t_recall, self.seq_len = t_recall, seq_len
        self.f_cue, self.f_noise, self.p_majority, self.dt = f_cue, f_noise, p_majority, dt

    def trial(self, rng: np.random.Generator) -> Trial:
        group = self.n_in // 4
        likely_right = rng.random() < 0.5
        p_right = self.p_majority if likely_right else 1 - self.p_majority
        cue_sides = (rng.random(self.n_cues) < p_right).astype(np.int64)
        label = int(cue_sides.sum() > self.n_cues // 2)
        p_cue = self.f_cue * self.dt / 1000
        rate = np.zeros((self.seq_len, self.n_in))
        silence = self.t_interval - self.t_cue
        for k, side in enumerate(cue_sides):
            start = silence + k * self.t_interval
            rate[start : start + self.t_cue, side * group : (side + 1) * group] = p_cue
        rate[-self.t_recall :, 2 * group : 3 * group] = p_cue
        rate[:, 3 * group :] = self.f_noise * self.dt / 1000
        inputs = poisson_spikes(rate, rng)
        mask = np.zeros(self.seq_len, np.float32)
        mask[-self.t_recall :] = 1
        targets = np.full(self.seq_len, label, np.int64)
        return Trial(inputs=inputs, targets=targets, mask=mask, label=label, info={"cue_sides": cue_sides})

    def decision(self, outputs: np.ndarray) -> int:
        return int(np.argmax(outputs[-self.t_recall :].mean(axis=0)))

    def score(self, outputs: np.ndarray, trial: Trial) -> float:
        return float(self.decision(outputs) == trial.label)
