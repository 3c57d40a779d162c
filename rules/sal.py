"""Spike-based alignment learning, SAL (Gierlich, Baumbach, Kungl, Max, Petrovici, arXiv 2503.02642;
reference code unibe-cns/sal-code, ``symmnet/sal_net.py``): feedback weights learn the transpose of
the forward weights from spike timing alone.

Network (the reference code's GLM sampling network): layers of stochastic neurons with escape
noise; neuron j of layer l fires with probability sigmoid(u_j - ln t_ref) per step unless it fired
within the last ``t_ref`` steps, where

    u_l = W_{l-1} psp_{l-1} + B_l psp_{l+1} + b_l          (psp: spikes in the last t_ref steps)

so W (upper <- lower) and B (lower <- upper) act at the same time. With traces
x <- d x + s, d = exp(-1 / tau), tau = t_ref (equal amplitudes and time constants)::

    Delta B_l = eta (outer(x_l, s_{l+1}) - outer(s_l, x_{l+1}))

Lower-before-upper spike pairs (caused by W) potentiate B_lj,k in proportion to W_kj; pairs
caused by B itself depress it, which bounds B without weight decay. Coincident spikes cancel.
``SALNetwork.symmetrize`` runs the noise-driven symmetrization phase and records the alignment of
every B_l with W_l^T over time; ``coupling`` scales B's drive of the lower layer (1: the
reference code's feedback-coupled dynamics). ``bias_std`` and ``threshold_std`` draw per-neuron
biases and thresholds (an offset to ln t_ref) to test robustness.

``SALFeedback`` (feedback mode ``"sal"``) puts SAL behind the Feedback protocol for any rule and
any layer: it keeps a two-population SAL network whose forward weights are the live
``net.params[weight]`` (rescaled to the reference code's weight range), learns B there in a
noise-driven phase of ``warmup_steps`` at bind time, and keeps learning for ``steps_per_update``
steps after every weight update, so B follows W as it changes.
"""

from __future__ import annotations

import json

import numpy as np

from locallearn import streams
from locallearn.config import check_int, check_positive
from locallearn.metrics import alignment_angle, alignment_slope, residual_variance
from locallearn.protocols import FeedbackPathway

from . import feedback as feedback_registry
from ._kernels import kernel


class SALNetwork:
    """Layered escape-noise spiking network with fixed forward weights W and feedback weights B
    learned by SAL. ``sizes`` runs from the bottom (layer 0) to the top."""

    def __init__(
        self,
        sizes=(30, 20, 10),
        t_ref: int = 10,
        lr: float = 1e-3,
        bias_std: float = 0.0,
        threshold_std: float = 0.0,
        seed: int = 0,
        backend: str = "numba",
        coupling: float = 1.0,
    ):
        sizes = tuple(int(n) for n in sizes)
        if len(sizes) < 2:
            raise ValueError("SALNetwork needs at least two layers")
        for n in sizes:
            check_int("SALNetwork", "sizes", n, minimum=1)
        check_int("SALNetwork", "t_ref", t_ref, minimum=1)
        check_positive("SALNetwork", "lr", lr)
        check_positive("SALNetwork", "bias_std", bias_std, allow_zero=True)
        check_positive("SALNetwork", "threshold_std", threshold_std, allow_zero=True)
        check_positive("SALNetwork", "coupling", coupling, allow_zero=True)
        self.coupling = coupling
        rng = streams.generator(seed, "sal_noise")
        self.sizes, self.t_ref, self.lr = sizes, t_ref, lr
        # Forward and feedback weights are drawn independently (Kaiming-uniform, as the
        # reference code initialises both), so B starts at ~90 degrees from W^T.
        self.W = [
            rng.uniform(-1, 1, (sizes[l + 1], sizes[l])) / np.sqrt(sizes[l]) for l in range(len(sizes) - 1)
        ]
        self.B = [
            rng.uniform(-1, 1, (sizes[l], sizes[l + 1])) / np.sqrt(sizes[l + 1])
            for l in range(len(sizes) - 1)
        ]
        self.bias = [rng.normal(0.0, bias_std, n) for n in sizes]
        self.offset = [np.log(t_ref) + rng.normal(0.0, threshold_std, n) for n in sizes]
        self.decay = np.exp(-1.0 / t_ref)
        self._update = kernel("antisymmetric_stdp_step", backend)
        self._pair_steps = kernel("sal_pair_steps", backend)
        self.reset()

    def reset(self) -> None:
        self.spikes = [np.zeros(n) for n in self.sizes]
        self.history = [np.zeros((self.t_ref, n)) for n in self.sizes]
        self.psp = [np.zeros(n) for n in self.sizes]
        self.traces = [np.zeros(n) for n in self.sizes]
        self.since = [np.full(n, self.t_ref + 1) for n in self.sizes]
        self.t = 0

    def step(self, rng: np.random.Generator, learn: bool = True) -> None:
        """One step: potentials from the current PSPs, stochastic spikes, traces, SAL update."""
        L = len(self.sizes)
        slot = self.t % self.t_ref
        for l in range(L):
            u = self.bias[l].copy()
            if l > 0:
                u += self.W[l - 1] @ self.psp[l - 1]
            if l < L - 1:
                u += self.coupling * (self.B[l] @ self.psp[l + 1])
            rate = 1.0 / (1.0 + np.exp(-(u - self.offset[l])))
            fire = (rng.random(self.sizes[l]) < rate) & (self.since[l] > self.t_ref)
            self.since[l] = np.where(fire, 1, self.since[l] + 1)
            self.spikes[l] = fire.astype(np.float64)
        for l in range(L):
            self.psp[l] += self.spikes[l] - self.history[l][slot]
            self.history[l][slot] = self.spikes[l]
            self.traces[l] *= self.decay
            self.traces[l] += self.spikes[l]
        if learn:
            for l in range(L - 1):
                self._update(
                    self.traces[l], self.spikes[l], self.traces[l + 1], self.spikes[l + 1], self.lr, self.B[l]
                )
        self.t += 1

    def run(self, steps: int, rng: np.random.Generator, lr_ratio: float = 1.0, block: int = 10_000) -> None:
        """``steps`` learning steps, the rate multiplied by ``lr_ratio`` after each; the same
        as calling :meth:`step` that often (the generator gives the same draws) — for two
        populations in one compiled call per ``block`` steps, which is what makes SAL feedback
        affordable inside a lifetime (100 steps after every weight update)."""
        if len(self.sizes) != 2:
            for _ in range(steps):
                self.step(rng)
                self.lr *= lr_ratio
            return
        while steps > 0:
            n = min(steps, block)
            draws = rng.random((n, self.sizes[0] + self.sizes[1]))
            self.lr = self._pair_steps(
                draws,
                self.W[0],
                self.B[0],
                self.bias[0],
                self.bias[1],
                self.offset[0],
                self.offset[1],
                float(self.coupling),
                float(self.decay),
                self.t_ref,
                self.t,
                float(self.lr),
                float(lr_ratio),
                self.spikes[0],
                self.spikes[1],
                self.psp[0],
                self.psp[1],
                self.history[0],
                self.history[1],
                self.traces[0],
                self.traces[1],
                self.since[0],
                self.since[1],
            )
            self.t += n
            steps -= n

    def alignment(self) -> list[dict]:
        """Per feedback matrix: angle(B, W^T) in degrees, slope of B on W^T, var(B - W^T)."""
        return [
            {
                "angle": alignment_angle(B, W),
                "slope": alignment_slope(B, W),
                "residual_variance": residual_variance(B, W),
            }
            for B, W in zip(self.B, self.W)
        ]

    def symmetrize(
        self, steps: int, record_every: int = 1000, seed: int = 0, final_lr: float | None = None
    ) -> list[dict]:
        """Noise-driven symmetrization phase; returns rows (step, per-layer alignment, rates).
        With ``final_lr`` the learning rate decays geometrically from ``lr`` to it, which trades
        the early speed of a large rate for the low fluctuation of a small one."""
        rng = streams.generator(seed, "sal_phase")
        start_lr = self.lr
        ratio = (final_lr / start_lr) ** (1.0 / max(steps - 1, 1)) if final_lr else 1.0
        rows = []
        counts = [np.zeros(n) for n in self.sizes]
        for t in range(steps):
            if t % record_every == 0:
                rows.append({"step": t, "lr": self.lr, "alignment": self.alignment()})
            self.step(rng)
            self.lr *= ratio
            for c, s in zip(counts, self.spikes):
                c += s
        rows.append(
            {
                "step": steps,
                "alignment": self.alignment(),
                "rate_per_step": [float(c.mean() / steps) for c in counts],
            }
        )
        return rows


@feedback_registry.register("sal")
class SALFeedback(FeedbackPathway):
    """Feedback B learned by SAL from the spike timing of a noise-driven two-population network
    whose forward weights are ``scale * net.params[weight]`` (see the module docstring)."""

    name = "sal"
    learns = True

    def __init__(
        self,
        lr: float = 2e-2,
        final_lr: float = 2e-4,
        t_ref: int = 10,
        warmup_steps: int = 200_000,
        steps_per_update: int = 100,
        coupling: float = 1.0,
    ):
        check_positive("SALFeedback", "lr", lr)
        check_positive("SALFeedback", "final_lr", final_lr)
        check_int("SALFeedback", "t_ref", t_ref, minimum=1)
        check_int("SALFeedback", "warmup_steps", warmup_steps, minimum=0)
        check_int("SALFeedback", "steps_per_update", steps_per_update, minimum=0)
        self.lr, self.final_lr, self.t_ref, self.coupling = lr, final_lr, t_ref, coupling
        self.warmup_steps, self.steps_per_update = warmup_steps, steps_per_update

    def bind(self, net, rng: np.random.Generator, weight: str = "w_out") -> None:
        self.net, self.weight = net, weight
        self.forward = net.params[weight]
        n_upper, n_lower = self.forward.shape
        self.rng = rng
        seed = int(rng.integers(2**31))
        self.sal = SALNetwork(
            (n_lower, n_upper), t_ref=self.t_ref, lr=self.lr, seed=seed, coupling=self.coupling
        )
        # SAL's escape-noise neurons work in the reference code's weight range, uniform(-1, 1) /
        # sqrt(n_lower): W is rescaled to that spread once, and B lives in those units too.
        spread = float(np.std(self.forward)) or 1.0
        self.scale = (1 / np.sqrt(3 * n_lower)) / spread
        self._sync()
        # the warm-up phase anneals the rate geometrically from lr to final_lr (large steps find
        # the direction, small ones lower the fluctuation floor); B then keeps learning at final_lr
        ratio = (self.final_lr / self.lr) ** (1 / max(self.warmup_steps - 1, 1))
        self.sal.run(self.warmup_steps, self.rng, lr_ratio=ratio)
        self.sal.lr = self.final_lr

    def _sync(self) -> None:
        self.sal.W[0] = self.scale * np.asarray(self.forward, np.float64)

    def _run(self, steps: int) -> None:
        self.sal.run(steps, self.rng)

    @property
    def B(self) -> np.ndarray:
        return self.sal.B[0]

    def matrix(self) -> np.ndarray:
        return self.sal.B[0].astype(self.net.dtype)

    def learning_signal(self, error: np.ndarray) -> np.ndarray:
        return (self.sal.B[0] @ error).astype(self.net.dtype)

    def after_update(self, net, deltas) -> None:
        if self.weight in deltas and self.steps_per_update:
            self._sync()
            self._run(self.steps_per_update)

    def state_dict(self) -> dict:
        sal = self.sal
        state = {
            "B": sal.B[0].copy(),
            "rng": np.array(json.dumps(self.rng.bit_generator.state)),
            "t": np.array(sal.t),
            "lr": np.array(sal.lr),
        }
        for name in ("spikes", "psp", "traces", "since"):
            for index, value in enumerate(getattr(sal, name)):
                state[f"{name}_{index}"] = value.copy()
        for index, value in enumerate(sal.history):
            state[f"history_{index}"] = value.copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        sal = self.sal
        sal.B[0][...] = state["B"]
        self.rng.bit_generator.state = json.loads(str(state["rng"]))
        sal.t, sal.lr = int(state["t"]), float(state["lr"])
        for name in ("spikes", "psp", "traces", "since", "history"):
            for index, value in enumerate(getattr(sal, name)):
                value[...] = state[f"{name}_{index}"]
