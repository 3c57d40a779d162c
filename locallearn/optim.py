"""Optimizers that turn a rule's gradient estimate into weight changes, in place.

``optimizer.step(params, grads)`` updates every ``params[name]`` that has a gradient and returns
the applied changes (``deltas``, reused buffers) so that rules which learn their feedback from
weight changes (Kolen-Pollack) see exactly what was applied.
"""

from __future__ import annotations

import numpy as np

from .config import ConfigError, UnknownNameError, check_positive, unknown_name_message


class SGD:
    """Plain gradient descent: ``delta = -lr * g``."""

    name = "sgd"

    def __init__(self, lr: float = 1e-3):
        check_positive("SGD", "lr", lr)
        self.lr = lr
        self._deltas: dict[str, np.ndarray] = {}

    def _delta_buffer(self, name: str, like: np.ndarray) -> np.ndarray:
        buffer = self._deltas.get(name)
        if buffer is None or buffer.shape != like.shape or buffer.dtype != like.dtype:
            buffer = self._deltas[name] = np.empty_like(like)
        return buffer

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> dict:
        deltas = {}
        for name, grad in grads.items():
            delta = self._delta_buffer(name, params[name])
            np.multiply(grad, params[name].dtype.type(-self.lr), out=delta)
            params[name] += delta
            deltas[name] = delta
        return deltas

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Adam(SGD):
    """Adam (Kingma & Ba 2015) with bias correction; the e-prop reference code's optimizer."""

    name = "adam"

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        for field, value in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= value < 1:
                raise ConfigError(f"Adam.{field} must lie in [0, 1), got {value}")
        check_positive("Adam", "eps", eps)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.t = 0
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> dict:
        self.t += 1
        correction1 = 1 - self.beta1**self.t
        correction2 = 1 - self.beta2**self.t
        deltas = {}
        for name, grad in grads.items():
            if name not in self.m:
                self.m[name] = np.zeros_like(params[name])
                self.v[name] = np.zeros_like(params[name])
            m, v = self.m[name], self.v[name]
            m *= self.beta1
            m += (1 - self.beta1) * grad
            v *= self.beta2
            v += (1 - self.beta2) * grad * grad
            delta = self._delta_buffer(name, params[name])
            step_size = self.lr * np.sqrt(correction2) / correction1
            np.divide(m, np.sqrt(v) + self.eps * np.sqrt(correction2), out=delta)
            delta *= -step_size
            params[name] += delta
            deltas[name] = delta
        return deltas

    def state_dict(self) -> dict:
        state = {"t": self.t}
        state.update({f"m/{k}": v for k, v in self.m.items()})
        state.update({f"v/{k}": v for k, v in self.v.items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        self.t = int(state["t"])
        self.m = {k[2:]: np.array(v) for k, v in state.items() if k.startswith("m/")}
        self.v = {k[2:]: np.array(v) for k, v in state.items() if k.startswith("v/")}


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


def make_optimizer(name: str, **kwargs):
    """Build an optimizer by name ("sgd", "adam")."""
    if name not in OPTIMIZERS:
        raise UnknownNameError(unknown_name_message("optimizer", name, OPTIMIZERS))
    return OPTIMIZERS[name](**kwargs)
