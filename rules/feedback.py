"""Feedback pathways (DESIGN §4): each owns B for one forward weight matrix W (upper <- lower).

``bind(net, rng, weight="w_out")`` ties the pathway to ``net.params[weight]``: by default the
readout, so that B (n_top, n_out) turns the output error into the top layer's learning signal
``L_j = sum_k B_jk err_k``; in a stack, layer l's pathway is bound to ``w_in_{l+1}`` and carries
layer l+1's signal down (``L_l = B_l (L_{l+1} * psi_{l+1})``, ``locallearn.rules.eprop``).
``n_lower`` (random family only) overrides B's row count: DFA's B_l maps the output error straight
to layer l. Modes:

* ``symmetric`` — B = W_out^T, read live (exact weight transport; e-prop's exact form);
* ``none``      — B = 0: only the readout learns (the baseline for what hidden learning adds);
* ``random``    — fixed B ~ N(0, 1/n_out) (feedback alignment / broadcast alignment);
* ``direct``    — direct feedback alignment: every layer gets the output error through its own
  fixed random matrix. With one recurrent layer it draws exactly what ``random`` draws (same
  generator, same calls) and is identical to it; the two differ once layers stack;
* ``adaptive``  — Kolen-Pollack: B starts random and receives the update applied to W_out^T;
  both B and W_out then decay by (1 - decay), so W_out - B^T shrinks by (1 - decay) per update;
* ``sign_symmetry`` — B = sign(W_out^T) / sqrt(n_out) (uSF, Liao et al. 2016), read live;
  ``sign_symmetry_fr`` — B = |M| o sign(W_out^T) with M fixed random (frSF);
* ``weight_mirror`` — after every weight update, white noise x (std ``sigma``) is injected into
  the layer, the readout answers y = W_out x, and B <- B + eta (x y^T - lambda B) (Akrout et al.
  2019): B tends to (eta sigma^2 / lambda) W_out^T;
* ``pal`` — like the weight mirror but with Ornstein-Uhlenbeck noise xi (time constant ``tau``
  updates) and the readout's response high-passed: B <- B + eta (xi hp(W_out xi)^T - alpha B).
"""

from __future__ import annotations

import json

import numpy as np

from locallearn import streams
from locallearn.config import ConfigError, check_positive
from locallearn.protocols import FeedbackPathway
from locallearn.registry import Registry

registry = Registry("feedback mode", entry_point_group="locallearn.feedback")
register = registry.register
make = registry.make
available = registry.available

# Rules draw feedback weights from the network's seed and the "feedback" stream, so that two runs
# with the same config agree bit for bit while feedback weights stay independent of the network's.
FEEDBACK_STREAM = streams.key("feedback")


def pathways(owner: str, feedback, feedback_options: dict | None):
    """A rule's ``feedback`` argument as (list of pathways, factory of more of the same mode):
    a mode name (with ``feedback_options``) gives one pathway and a factory for the layers below;
    a Feedback instance, or a list of them (bottom to top), is taken as it is, without factory."""
    if isinstance(feedback, str):
        options = dict(feedback_options or {})

        def factory(mode=feedback):
            return make(mode, **options)

        return [factory()], factory
    if feedback_options:
        raise ConfigError(f"{owner}.feedback_options only applies when feedback is a name")
    return (list(feedback) if isinstance(feedback, (list, tuple)) else [feedback]), None


def bind_stack(feedbacks: list, factory, net, make_rng, seed: int) -> list:
    """Bind one pathway per layer of ``net`` (bottom to top) and return them.

    The top one is bound to ``w_out``; layer l's to ``w_in_{l+1}``, or, for a ``direct`` mode, to
    the output error with a B of n_l rows. A single given pathway is completed with fresh ones
    from ``factory`` (the same mode and options) for the layers below; without a factory, the
    caller must give one pathway per layer.
    """
    n_layers = len(net.layers)
    if len(feedbacks) != n_layers:
        if factory is None or len(feedbacks) != 1:
            raise ConfigError(
                f"got {len(feedbacks)} feedback pathway(s) for a network of "
                f"{n_layers} layers; pass a mode name or one Feedback per layer "
                "(bottom to top)"
            )
        feedbacks = [factory() for _ in range(n_layers - 1)] + list(feedbacks)
    for index, feedback in enumerate(feedbacks):
        top = index == n_layers - 1
        # the readout's pathway draws from the stream a single layer always used
        rng = make_rng([seed, FEEDBACK_STREAM] if top else [seed, FEEDBACK_STREAM, index + 1])
        if top:
            feedback.bind(net, rng)
        elif feedback.direct:
            feedback.bind(net, rng, weight="w_out", n_lower=net.layers[index].n)
        else:
            feedback.bind(net, rng, weight=net.layers[index + 1].param_names["w_in"])
    return feedbacks


def stack_signals(feedbacks: list, error: np.ndarray, derivatives: list) -> list:
    """Learning signals per layer, bottom to top: ``L_top = B err``, then
    ``L_l = B_l (L_{l+1} * derivatives[l+1])`` (or ``D_l err`` for a direct mode)."""
    signals = [None] * len(feedbacks)
    signals[-1] = feedbacks[-1].learning_signal(error)
    for index in range(len(feedbacks) - 2, -1, -1):
        if feedbacks[index].direct:
            signals[index] = feedbacks[index].learning_signal(error)
        else:
            upper = signals[index + 1] * derivatives[index + 1]
            signals[index] = feedbacks[index].learning_signal(upper)
    return signals


def _random_matrix(
    net, rng: np.random.Generator, weight: str = "w_out", n_lower: int | None = None
) -> np.ndarray:
    n_upper, n_pre = net.params[weight].shape
    shape = (n_pre if n_lower is None else n_lower, n_upper)
    return (rng.standard_normal(shape) / np.sqrt(n_upper)).astype(net.dtype)


@register("symmetric")
class SymmetricFeedback(FeedbackPathway):
    """B = W^T (weight transport; W = ``net.params[weight]``, read live)."""

    name = "symmetric"

    def bind(self, net, rng: np.random.Generator, weight: str = "w_out") -> None:
        self.net, self.weight = net, weight
        self.forward = net.params[weight]

    def matrix(self) -> np.ndarray:
        return self.forward.T

    def learning_signal(self, error: np.ndarray) -> np.ndarray:
        return error @ self.forward

    def compiled_signal(self) -> tuple[np.ndarray, bool] | None:
        return self.forward, True

    def after_update(self, net, deltas) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


@register("none")
class NoFeedback(SymmetricFeedback):
    """B = 0: no learning signal reaches the layer (only the readout learns) — the baseline that
    shows what learning below the readout adds."""

    name = "none"

    def bind(self, net, rng: np.random.Generator, weight: str = "w_out", n_lower: int | None = None) -> None:
        super().bind(net, rng, weight)
        self.B = np.zeros(self.forward.T.shape, net.dtype)

    def matrix(self) -> np.ndarray:
        return self.B

    def learning_signal(self, error: np.ndarray) -> np.ndarray:
        return self.B @ error

    def compiled_signal(self) -> tuple[np.ndarray, bool] | None:
        return (self.B, False) if not self.learns else None


@register("random")
class RandomFeedback(FeedbackPathway):
    """Fixed random B ~ N(0, 1/n_upper), drawn once at bind time."""

    name = "random"

    def bind(self, net, rng: np.random.Generator, weight: str = "w_out", n_lower: int | None = None) -> None:
        self.net, self.weight = net, weight
        self.forward = net.params[weight]
        # a direct pathway (own row count) stands in for no forward weight's transpose
        self.transports = n_lower is None
        self.B = _random_matrix(net, rng, weight, n_lower)

    def matrix(self) -> np.ndarray:
        return self.B

    def learning_signal(self, error: np.ndarray) -> np.ndarray:
        return self.B @ error

    def compiled_signal(self) -> tuple[np.ndarray, bool] | None:
        return (self.B, False) if not self.learns else None

    def after_update(self, net, deltas) -> None:
        pass

    def state_dict(self) -> dict:
        return {"B": self.B.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.B[...] = state["B"]


@register("direct")
class DirectFeedback(RandomFeedback):
    """Direct feedback alignment (one fixed random matrix per layer, from the output error)."""

    name = "direct"
    direct = True  # in a stack every layer gets the output error through its own B


@register("adaptive")
class KolenPollackFeedback(RandomFeedback):
    """Kolen-Pollack: ``B <- (1 - decay)(B + dW^T)``, ``W <- (1 - decay) W``."""

    name = "adaptive"
    learns = True

    def __init__(self, decay: float = 1e-4):
        check_positive("KolenPollackFeedback", "decay", decay, allow_zero=True)
        if decay >= 1:
            raise ValueError(f"KolenPollackFeedback.decay must be < 1, got {decay}")
        self.decay = decay

    def after_update(self, net, deltas) -> None:
        if self.weight in deltas:
            self.B += deltas[self.weight].T
        keep = net.dtype.type(1 - self.decay)
        self.B *= keep
        self.forward *= keep


@register("sign_symmetry")
class SignSymmetryFeedback(SymmetricFeedback):
    """uSF: B = sign(W^T) / sqrt(n_upper), read live (only the signs are transported)."""

    name = "sign_symmetry"

    def bind(self, net, rng: np.random.Generator, weight: str = "w_out") -> None:
        super().bind(net, rng, weight)
        self.scale = net.dtype.type(1 / np.sqrt(self.forward.shape[0]))

    def magnitude(self) -> np.ndarray | np.floating:
        return self.scale

    def matrix(self) -> np.ndarray:
        return self.magnitude() * np.sign(self.forward.T)

    def learning_signal(self, error: np.ndarray) -> np.ndarray:
        return self.matrix() @ error

    def compiled_signal(self) -> None:
        return None  # B is derived from W at every step: not one fixed product


@register("sign_symmetry_fr")
class FixedRandomMagnitudeSignFeedback(SignSymmetryFeedback):
    """frSF: B = |M| o sign(W^T) with M ~ N(0, 1/n_upper) fixed at bind time."""

    name = "sign_symmetry_fr"

    def bind(self, net, rng: np.random.Generator, weight: str = "w_out") -> None:
        SymmetricFeedback.bind(self, net, rng, weight)
        self.M = np.abs(_random_matrix(net, rng, weight))

    def magnitude(self) -> np.ndarray:
        return self.M


@register("weight_mirror")
class WeightMirrorFeedback(RandomFeedback):
    """Weight mirror: after each update, noise x into the layer, B <- B + eta (x (W x)^T - lambda B)."""

    name = "weight_mirror"
    learns = True

    def __init__(self, lr: float = 1e-3, decay: float = 1e-3, sigma: float = 1.0):
        for field, value in (("lr", lr), ("decay", decay), ("sigma", sigma)):
            check_positive(type(self).__name__, field, value)
        self.lr, self.decay, self.sigma = lr, decay, sigma

    def bind(self, net, rng: np.random.Generator, weight: str = "w_out") -> None:
        super().bind(net, rng, weight)
        self.rng = rng

    def _noise(self, n: int) -> np.ndarray:
        return self.sigma * self.rng.standard_normal(n)

    def _response(self, net, noise: np.ndarray) -> np.ndarray:
        return self.forward @ noise

    def after_update(self, net, deltas) -> None:
        x = self._noise(self.forward.shape[1])
        y = self._response(net, x)
        self.B += (self.lr * (np.outer(x, y) - self.decay * self.B)).astype(net.dtype)

    def state_dict(self) -> dict:
        state = {"B": self.B.copy(), "rng": np.array(json.dumps(self.rng.bit_generator.state))}
        for name in ("xi", "low_pass"):
            if hasattr(self, name):
                state[name] = getattr(self, name).copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.B[...] = state["B"]
        self.rng.bit_generator.state = json.loads(str(state["rng"]))
        for name in ("xi", "low_pass"):
            if name in state:
                setattr(self, name, np.array(state[name]))


@register("pal")
class PALFeedback(WeightMirrorFeedback):
    """Phaseless alignment learning (rate-based): OU noise xi, high-passed readout response."""

    name = "pal"

    def __init__(
        self,
        lr: float = 1e-3,
        decay: float = 1e-3,
        sigma: float = 1.0,
        tau: float = 5.0,
        tau_highpass: float = 20.0,
    ):
        super().__init__(lr, decay, sigma)
        check_positive("PALFeedback", "tau", tau)
        check_positive("PALFeedback", "tau_highpass", tau_highpass)
        self.a_noise, self.a_highpass = np.exp(-1 / tau), np.exp(-1 / tau_highpass)

    def bind(self, net, rng: np.random.Generator, weight: str = "w_out") -> None:
        super().bind(net, rng, weight)
        self.xi = np.zeros(self.forward.shape[1])
        self.low_pass = np.zeros(self.forward.shape[0])

    def _noise(self, n: int) -> np.ndarray:
        self.xi = self.a_noise * self.xi + np.sqrt(1 - self.a_noise**2) * super()._noise(n)
        return self.xi

    def _response(self, net, noise: np.ndarray) -> np.ndarray:
        response = self.forward @ noise
        self.low_pass = self.a_highpass * self.low_pass + (1 - self.a_highpass) * response
        return response - self.low_pass
