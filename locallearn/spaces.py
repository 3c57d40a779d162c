"""Observation and action spaces: gymnasium's when it is installed, small stand-ins otherwise.

The stand-ins carry what our code and users read (``low``, ``high``, ``shape``, ``dtype``, ``n``,
``sample``, ``contains``); with gymnasium installed, tasks build real ``gymnasium.spaces`` objects so
that ``gymnasium.utils.env_checker.check_env`` accepts them.
"""

from __future__ import annotations

import numpy as np

try:  # optional extra [games]
    import gymnasium as _gymnasium
except ModuleNotFoundError:  # the core works without it
    _gymnasium = None


class _Box:
    def __init__(self, low, high, shape=None, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        shape = shape if shape is not None else np.shape(low)
        self.low = np.broadcast_to(np.asarray(low, self.dtype), shape).copy()
        self.high = np.broadcast_to(np.asarray(high, self.dtype), shape).copy()
        self.shape = tuple(shape)
        self._rng = np.random.default_rng()

    def seed(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def sample(self):
        return self._rng.uniform(self.low, self.high).astype(self.dtype)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == self.shape and bool(np.all(x >= self.low) and np.all(x <= self.high))

    def __repr__(self):
        return f"Box({self.low.min()}, {self.high.max()}, {self.shape}, {self.dtype})"


class _Discrete:
    def __init__(self, n: int):
        self.n = int(n)
        self.shape = ()
        self.dtype = np.dtype(np.int64)
        self._rng = np.random.default_rng()

    def seed(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def sample(self):
        return np.int64(self._rng.integers(self.n))

    def contains(self, x) -> bool:
        return isinstance(x, int | np.integer) and 0 <= int(x) < self.n

    def __repr__(self):
        return f"Discrete({self.n})"


def Box(low, high, shape=None, dtype=np.float32):  # noqa: N802  (mirrors gymnasium's name)
    if _gymnasium is not None:
        return _gymnasium.spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    return _Box(low, high, shape, dtype)


def Discrete(n: int):  # noqa: N802
    if _gymnasium is not None:
        return _gymnasium.spaces.Discrete(n)
    return _Discrete(n)


def gymnasium_available() -> bool:
    return _gymnasium is not None
