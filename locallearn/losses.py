"""Sequence losses of DESIGN §3 and their per-step output errors.

    MSE:            E = 1/2 sum_t m^t sum_k (y_k^t - y*_k^t)^2          err^t = m^t (y^t - y*^t)
    cross-entropy:  E = -sum_t m^t sum_k pi*_k^t log softmax(y^t)_k       err^t = m^t (pi^t - pi*^t)

``err^t = dE/dy^t`` (the explicit part at step t): the third factor of every supervised rule.
Cross-entropy targets may be class indices (T,) or one-hot / probability rows (T, n_out).
"""

from __future__ import annotations

import numpy as np

from .config import UnknownNameError, unknown_name_message
from .kernels import softmax_into

LOSSES = ("mse", "ce")


def check_loss(loss: str) -> str:
    aliases = {"cross_entropy": "ce", "cross-entropy": "ce", "crossentropy": "ce"}
    loss = aliases.get(loss, loss)
    if loss not in LOSSES:
        raise UnknownNameError(unknown_name_message("loss", loss, LOSSES))
    return loss


def prepare_targets(loss: str, targets, n_steps: int, n_out: int, dtype) -> np.ndarray:
    """Validate targets and return them as a (T, n_out) float array (one-hot rows for CE indices)."""
    loss = check_loss(loss)
    targets = np.asarray(targets)
    if loss == "ce" and targets.ndim == 1:
        if targets.shape[0] != n_steps:
            raise ValueError(f"class-index targets must have shape (T={n_steps},), got {targets.shape}")
        if not np.issubdtype(targets.dtype, np.integer):
            raise ValueError("class-index targets must be integers")
        if targets.min() < 0 or targets.max() >= n_out:
            raise ValueError(
                f"class indices must lie in [0, {n_out}), got [{targets.min()}, {targets.max()}]"
            )
        return np.ascontiguousarray(np.eye(n_out, dtype=dtype)[targets])
    if targets.shape != (n_steps, n_out):
        raise ValueError(f"targets must have shape (T={n_steps}, n_out={n_out}), got {targets.shape}")
    if not np.all(np.isfinite(targets)):
        raise ValueError("targets contain NaN or inf")
    return np.ascontiguousarray(targets, dtype=dtype)


def prepare_mask(mask, n_steps: int, dtype) -> np.ndarray:
    """Return the per-step loss mask as a (T,) float array (all ones when ``mask`` is None)."""
    if mask is None:
        return np.ones(n_steps, dtype)
    mask = np.asarray(mask)
    if mask.shape != (n_steps,):
        raise ValueError(f"mask must have shape (T={n_steps},), got {mask.shape}")
    if not np.all((mask == 0) | (mask == 1)):
        raise ValueError("mask entries must be 0 or 1")
    return np.ascontiguousarray(mask, dtype=dtype)


def softmax(y: np.ndarray) -> np.ndarray:
    shifted = np.exp(y - np.max(y, axis=-1, keepdims=True))
    return shifted / np.sum(shifted, axis=-1, keepdims=True)


def output_error(loss: str, y: np.ndarray, target: np.ndarray, mask_t) -> np.ndarray:
    """err^t = dE/dy^t for one step (a new array). The cross-entropy's softmax is the compiled
    one (``kernels.softmax_into``: libm's exp, summed in order), so that the stepwise path and
    the compiled online chunk (``eprop_online_steps``) produce the same bits."""
    if loss == "mse":
        return mask_t * (y - target)
    probabilities = np.empty_like(y)
    softmax_into(y, probabilities)
    return mask_t * (probabilities - target)


def sequence_errors(loss: str, outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:func:`output_error` for every step at once: outputs and targets (..., T, n_out), mask
    (..., T); the result has the outputs' shape."""
    if loss == "mse":
        return mask[..., None] * (outputs - targets)
    shifted = np.exp(outputs - outputs.max(axis=-1, keepdims=True))
    return mask[..., None] * (shifted / shifted.sum(axis=-1, keepdims=True) - targets)


def loss_value(loss: str, outputs: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> float:
    """E over a whole (T, n_out) output sequence, in float64."""
    outputs = np.asarray(outputs, np.float64)
    targets = np.asarray(targets, np.float64)
    mask = np.asarray(mask, np.float64)
    if loss == "mse":
        return float(0.5 * np.sum(mask[:, None] * (outputs - targets) ** 2))
    shifted = outputs - outputs.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.sum(mask[:, None] * targets * log_softmax))
