"""Yin-Yang classification (Kriener, Goeltz, Petrovici 2021, arXiv 2102.08211; dataset code
lkriener/yin_yang_data_set): a small 2-D, 3-class problem that a linear classifier solves only to
about 64 % and a network with hidden layers to about 98 % — depth matters, the data are tiny.

A point (x, y) is drawn uniformly inside the disc of radius ``r_big`` centred at (r_big, r_big);
its class is "dot" (2) within ``r_small`` of either eye (centres (r_big/2, r_big) and
(3 r_big/2, r_big)), else "yin" (0) if it lies within ``r_small`` of the right eye, or in the left
half-disc ring (distance to the left eye in (r_small, r_big/2]), or above the centre line and more
than r_big/2 from the right eye; else "yang" (1). Classes are drawn in equal proportion (rejection
sampling, as in the dataset code). The network sees the dataset's four coordinates
(x, y, 1 - x, 1 - y) (with r_big = 0.5 they lie in [0, 1]) plus a constant 1, as input currents
held for ``seq_len`` steps; the loss is cross-entropy over the last ``decision_steps`` steps and the
decision is the class with the largest readout summed over them. Metric: accuracy.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_int, check_positive
from locallearn.trials import Trial

from . import register


def yinyang_class(x: float, y: float, r_small: float = 0.1, r_big: float = 0.5) -> int:
    """0 yin, 1 yang, 2 dot — the dataset's definition."""
    d_right = np.hypot(x - 1.5 * r_big, y - r_big)
    d_left = np.hypot(x - 0.5 * r_big, y - r_big)
    if d_right < r_small or d_left < r_small:
        return 2
    yin = d_right <= r_small or r_small < d_left <= 0.5 * r_big or (y > r_big and d_right > 0.5 * r_big)
    return 0 if yin else 1


@register("yinyang")
class YinYang:
    name = "yinyang"
    loss = "ce"
    metric = "accuracy"
    higher_is_better = True
    n_out = 3
    defaults = {
        "network": {
            "n_rec": [64, 64],
            "recurrent": False,
            "n_adaptive": 0,
            "tau_mem": 10.0,
            "tau_out": 10.0,
            "n_ref": 2,
            "w_in_gain": 6.0,
            "w_hidden_gain": 3.0,
        },
        "rule": {"name": "eprop", "feedback": "symmetric", "c_reg": 0.0},
        "training": {
            "n_trials": 4000,
            "update": "trial",
            "batch_size": 1,
            "lr": 3e-3,
            "lr_decay": 0.7,
            "lr_decay_every": 1000,
            "eval_every": 250,
            "validation_trials": 200,
            "test_trials": 1000,
        },
    }

    def __init__(self, seq_len: int = 30, decision_steps: int = 10, r_small: float = 0.1, r_big: float = 0.5):
        owner = "YinYang"
        check_int(owner, "seq_len", seq_len, minimum=2)
        check_int(owner, "decision_steps", decision_steps, minimum=1)
        if decision_steps > seq_len:
            raise ValueError(f"{owner}.decision_steps ({decision_steps}) exceeds seq_len ({seq_len})")
        check_positive(owner, "r_small", r_small)
        check_positive(owner, "r_big", r_big)
        self.seq_len, self.decision_steps = seq_len, decision_steps
        self.r_small, self.r_big = r_small, r_big
        self.n_in = 5
        self.mask = np.zeros(seq_len, np.float32)
        self.mask[-decision_steps:] = 1

    def sample(self, rng: np.random.Generator, label: int) -> tuple[float, float]:
        """A point of class ``label`` (rejection sampling inside the disc)."""
        r = self.r_big
        while True:
            x, y = rng.uniform(0, 2 * r, 2)
            if np.hypot(x - r, y - r) > r:
                continue
            if yinyang_class(x, y, self.r_small, r) == label:
                return float(x), float(y)

    def trial(self, rng: np.random.Generator) -> Trial:
        label = int(rng.integers(3))
        x, y = self.sample(rng, label)
        features = np.array([x, y, 1 - x, 1 - y, 1.0], np.float32)
        inputs = np.tile(features, (self.seq_len, 1))
        targets = np.full(self.seq_len, label, np.int64)
        return Trial(
            inputs=inputs, targets=targets, mask=self.mask.copy(), label=label, info={"point": (x, y)}
        )

    def decision(self, outputs: np.ndarray) -> int:
        return int(np.argmax(np.asarray(outputs)[-self.decision_steps :].sum(axis=0)))

    def score(self, outputs: np.ndarray, trial: Trial) -> float:
        return float(self.decision(outputs) == trial.label)
