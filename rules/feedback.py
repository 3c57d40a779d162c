"""Feedback pathways for a single recurrent layer read out by ``w_out`` (DESIGN §4).

Each turns the output error into the learning signal ``L_j = sum_k B_jk err_k``:

* ``symmetric`` — B = W_out^T, read live (exact weight transport; e-prop's exact form);
* ``random``    — fixed B ~ N(0, 1/n_out) (feedback alignment / broadcast alignment);
* ``direct``    — direct feedback alignment: every layer gets the output error through its own
  fixed random matrix. With one recurrent layer it draws exactly what ``random`` draws (same
  generator, same calls) and is identical to it; the two differ once layers stack;
* ``adaptive``  — Kolen-Pollack: B starts random and receives the update applied to W_out^T;
  both B and W_out then decay by (1 - decay), so W_out - B^T shrinks by (1 - decay) per update.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_positive
from locallearn.registry import Registry

registry = Registry("feedback mode", entry_point_group="locallearn.feedback")
register = registry.register
make = registry.make
available = registry.available


def _random_matrix(net, rng: np.random.Generator) -> np.ndarray:
    return (rng.standard_normal((net.n_rec, net.n_out)) / np.sqrt(net.n_out)).astype(net.dtype)


@register("symmetric")
class SymmetricFeedback:
    """B = W_out^T."""

    name = "symmetric"

    def bind(self, net, rng: np.random.Generator) -> None:
        self.net = net

    def matrix(self) -> np.ndarray:
        return self.net.w_out.T

    def learning_signal(self, error: np.ndarray) -> np.ndarray:
        return error @ self.net.w_out

    def after_update(self, net, deltas) -> None:
        pass


@register("random")
class RandomFeedback:
    """Fixed random B ~ N(0, 1/n_out), drawn once at bind time."""

    name = "random"

    def bind(self, net, rng: np.random.Generator) -> None:
        self.B = _random_matrix(net, rng)

    def matrix(self) -> np.ndarray:
        return self.B

    def learning_signal(self, error: np.ndarray) -> np.ndarray:
        return self.B @ error

    def after_update(self, net, deltas) -> None:
        pass


@register("direct")
class DirectFeedback(RandomFeedback):
    """Direct feedback alignment (one fixed random matrix per layer, from the output error)."""

    name = "direct"


@register("adaptive")
class KolenPollackFeedback(RandomFeedback):
    """Kolen-Pollack: ``B <- (1 - decay)(B + dW_out^T)``, ``W_out <- (1 - decay) W_out``."""

    name = "adaptive"
    learns = True

    def __init__(self, decay: float = 1e-4):
        check_positive("KolenPollackFeedback", "decay", decay, allow_zero=True)
        if decay >= 1:
            raise ValueError(f"KolenPollackFeedback.decay must be < 1, got {decay}")
        self.decay = decay

    def after_update(self, net, deltas) -> None:
        if "w_out" in deltas:
            self.B += deltas["w_out"].T
        keep = net.dtype.type(1 - self.decay)
        self.B *= keep
        net.w_out *= keep
