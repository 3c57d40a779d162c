"""The readout's exact gradient, shared by rules that estimate only the hidden weights' part.

With the readout y^t = kappa y^{t-1} + W_out z^t + b_out and an output error err^t = dE/dy^t,
dE/dW_out = sum_t err^t (zbar^t)^T and dE/db_out = sum_t err^t bbar^t, where zbar^t = kappa
zbar^{t-1} + z^t and bbar^t = kappa bbar^{t-1} + 1 (DESIGN §4: exact, no truncation).
"""

from __future__ import annotations

import numpy as np


class ReadoutTraces:
    """zbar and bbar of one readout, in the network's dtype."""

    def __init__(self, n: int, dtype):
        self.dtype = np.dtype(dtype)
        self.readout_trace = np.zeros(n, self.dtype)
        self.bias_trace = self.dtype.type(0)

    def reset(self) -> None:
        self.readout_trace.fill(0)
        self.bias_trace = self.dtype.type(0)

    def step(self, grads: dict, error: np.ndarray, z: np.ndarray, kappa) -> None:
        """Fold step t into ``grads["w_out"]`` and ``grads["b_out"]`` (``z`` = z^t)."""
        grads["w_out"] += np.multiply.outer(error, self.readout_trace * kappa + z)
        self.readout_trace *= kappa
        self.readout_trace += z
        self.bias_trace = kappa * self.bias_trace + 1
        grads["b_out"] += self.bias_trace * error
