"""Store-recall: keep one bit in memory across a delay of up to ~2 s.

Modelled on the e-prop paper's store-recall task (its reference code's ``storerecall_utils``),
simplified to one store and one recall per trial. Inputs are four equal channel groups: bit 0,
bit 1, store, recall, firing at ``f_in`` (50 Hz) when their symbol is shown. A trial is a sentence
of ``n_symbols`` = 10 symbols of ``t_symbol`` = 200 ms. Every symbol shows a random bit on the bit
channels, except the recall symbol, which shows only the recall channel. The store symbol (drawn
among the first ``n_symbols - 2``) shows the store channel together with the bit to remember; the
recall symbol comes at least two symbols later. The target is the stored bit during the recall
symbol (cross-entropy there, masked elsewhere); the headline metric is the fraction of correct
recalls (arg-max of the readout averaged over the recall symbol).
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_int, check_positive
from locallearn.trials import Trial, memory_task_defaults, poisson_spikes

from . import register


@register("store_recall")
class StoreRecall:
    name = "store_recall"
    loss = "ce"
    metric = "accuracy"
    higher_is_better = True
    defaults = memory_task_defaults(target=0.95)

    def __init__(
        self,
        n_in: int = 40,
        n_symbols: int = 10,
        t_symbol: int = 200,
        f_in: float = 50.0,
        min_delay: int = 2,
        dt: float = 1.0,
    ):
        owner = "StoreRecall"
        check_int(owner, "n_in", n_in, minimum=4)
        if n_in % 4:
            raise ValueError(f"{owner}.n_in must be a multiple of 4 (four channel groups), got {n_in}")
        check_int(owner, "min_delay", min_delay, minimum=1)
        check_int(owner, "n_symbols", n_symbols, minimum=min_delay + 1)
        check_int(owner, "t_symbol", t_symbol, minimum=1)
        check_positive(owner, "f_in", f_in)
        check_positive(owner, "dt", dt)
        self.n_in, self.n_out = n_in, 2
        self.n_symbols, self.t_symbol, self.f_in = n_symbols, t_symbol, f_in
        self.min_delay, self.dt = min_delay, dt
        self.seq_len = n_symbols * t_symbol

    def trial(self, rng: np.random.Generator) -> Trial:
        group, T = self.n_in // 4, self.t_symbol
        bits = rng.integers(0, 2, self.n_symbols)
        store = int(rng.integers(0, self.n_symbols - self.min_delay))
        recall = int(rng.integers(store + self.min_delay, self.n_symbols))
        label = int(bits[store])
        rate = np.zeros((self.seq_len, self.n_in))
        p = self.f_in * self.dt / 1000
        for k, bit in enumerate(bits):
            window = slice(k * T, (k + 1) * T)
            if k == recall:
                rate[window, 3 * group :] = p
                continue
            rate[window, bit * group : (bit + 1) * group] = p
            if k == store:
                rate[window, 2 * group : 3 * group] = p
        mask = np.zeros(self.seq_len, np.float32)
        mask[recall * T : (recall + 1) * T] = 1
        targets = np.full(self.seq_len, label, np.int64)
        return Trial(
            inputs=poisson_spikes(rate, rng),
            targets=targets,
            mask=mask,
            label=label,
            info={"store": store, "recall": recall, "bits": bits},
        )

    def score(self, outputs: np.ndarray, trial: Trial) -> float:
        window = trial.mask > 0
        return float(int(np.argmax(outputs[window].mean(axis=0))) == trial.label)
