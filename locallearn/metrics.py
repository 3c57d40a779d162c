"""Measurements that compare learning rules with each other and with the exact gradient."""

from __future__ import annotations

import numpy as np


def _flat(a) -> np.ndarray:
    return np.asarray(a, np.float64).ravel()


def cosine(a, b) -> float:
    """Cosine similarity of two arrays of equal size, flattened (nan if either is zero)."""
    a, b = _flat(a), _flat(b)
    if a.shape != b.shape:
        raise ValueError(f"cosine needs arrays of equal size, got {a.size} and {b.size}")
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else float("nan")


def gradient_cosine(estimate: dict, exact: dict, keys=("w_in", "w_rec", "w_out")) -> float:
    """Cosine between two gradient dicts, over the concatenation of ``keys``."""
    return cosine(
        np.concatenate([_flat(estimate[k]) for k in keys]), np.concatenate([_flat(exact[k]) for k in keys])
    )


def relative_error(estimate, exact) -> float:
    """||estimate - exact|| / ||exact|| (flattened)."""
    estimate, exact = _flat(estimate), _flat(exact)
    return float(np.linalg.norm(estimate - exact) / np.linalg.norm(exact))


def alignment_angle(B, W) -> float:
    """Angle in degrees between vec(B) and vec(W^T): B is (n_lower, n_upper), W (n_upper, n_lower)."""
    B, W = np.asarray(B), np.asarray(W)
    if B.shape != W.T.shape:
        raise ValueError(f"B must have the shape of W^T {W.T.shape}, got {B.shape}")
    c = np.clip(cosine(B, W.T), -1.0, 1.0)
    return float(np.degrees(np.arccos(c)))


def alignment_slope(B, W) -> float:
    """Least-squares slope of the entries of B regressed on those of W^T (through the origin):
    1 when B has W^T's magnitude."""
    b, w = _flat(B), _flat(np.asarray(W).T)
    return float(b @ w / (w @ w))


def residual_variance(B, W) -> float:
    """var(B - W^T) over the entries."""
    return float(np.var(_flat(B) - _flat(np.asarray(W).T)))
