"""Reward-modulated STDP: MSTDP and MSTDPET exactly as in Florian (2007), Neural Comput. 19:1468.

For every synapse from j to i, with spikes xi (0/1 per step)::

    P+_ij(t) = P+_ij(t - dt) exp(-dt / tau_plus)  + A_plus  xi_j(t)
    P-_ij(t) = P-_ij(t - dt) exp(-dt / tau_minus) + A_minus xi_i(t)          (A_minus < 0)
    zeta_ij(t) = P+_ij(t) xi_i(t) + P-_ij(t) xi_j(t)
    MSTDP:    W_ij(t + dt) = W_ij(t) + gamma r(t + dt) zeta_ij(t)
    MSTDPET:  z_ij(t + dt) = z_ij(t) exp(-dt / tau_z) + zeta_ij(t)
              W_ij(t + dt) = W_ij(t) + gamma r(t + dt) z_ij(t + dt)

P+ depends only on the presynaptic and P- only on the postsynaptic neuron, so they are kept once
per neuron (the trace kernel ``stdp_step``); z is per synapse. Florian's values: tau_plus =
tau_minus = 20 ms, A_plus = 1, A_minus = -1, tau_z = 25 ms. The reward r of an environment step
arrives at the next decision; with ``baseline_tau`` set, r is replaced by r - rbar (running mean
over that many steps), the variant DESIGN §4 lists.

In this network the input synapses see pre = x^t and post = z^t, the recurrent ones pre = z^{t-1}
and post = z^t, and the readout's synapses pre = z^t and, as "postsynaptic spike", the one-hot
action at decision steps (actions are sampled from softmax(y / temperature)). The value unit of
the readout is unused by this rule.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_choice, check_positive
from locallearn.losses import softmax
from locallearn.protocols import ReinforcementRule

from . import register
from ._kernels import kernel


@register("rstdp")
class RewardModulatedSTDP(ReinforcementRule):
    """MSTDP (``variant="mstdp"``) or MSTDPET (``variant="mstdpet"``, default)."""

    name = "rstdp"
    kind = "reinforcement"

    def __init__(
        self,
        variant: str = "mstdpet",
        lr: float = 1e-3,
        tau_plus: float = 20.0,
        tau_minus: float = 20.0,
        a_plus: float = 1.0,
        a_minus: float = -1.0,
        tau_z: float = 25.0,
        temperature: float = 1.0,
        baseline_tau: float | None = None,
        seed: int | None = None,
    ):
        check_choice("RewardModulatedSTDP", "variant", variant, ("mstdp", "mstdpet"))
        for field, value in (
            ("lr", lr),
            ("tau_plus", tau_plus),
            ("tau_minus", tau_minus),
            ("tau_z", tau_z),
            ("temperature", temperature),
        ):
            check_positive("RewardModulatedSTDP", field, value)
        if a_minus > 0:
            raise ValueError(f"RewardModulatedSTDP.a_minus must be <= 0 (depression), got {a_minus}")
        if baseline_tau is not None:
            check_positive("RewardModulatedSTDP", "baseline_tau", baseline_tau)
        self.variant, self.lr = variant, lr
        self.tau_plus, self.tau_minus, self.a_plus, self.a_minus = tau_plus, tau_minus, a_plus, a_minus
        self.tau_z, self.temperature, self.baseline_tau = tau_z, temperature, baseline_tau
        self.seed = seed
        self.net = None

    def bind(self, net) -> None:
        if self.net is net:
            return
        if len(net.layers) != 1 or not net.config.recurrent:
            raise NotImplementedError(
                f"{self.name} drives single-layer recurrent networks; got layers {net.layer_sizes}"
            )
        self.net, self.layer = net, net.layers[0]
        self.n_actions = net.n_out - 1
        dt, t = net.config.dt, net.dtype.type
        self._decay_plus, self._decay_minus = t(np.exp(-dt / self.tau_plus)), t(np.exp(-dt / self.tau_minus))
        self._a_plus, self._a_minus = t(self.a_plus), t(self.a_minus)
        self._decay_z = t(np.exp(-dt / self.tau_z)) if self.variant == "mstdpet" else t(0.0)
        self._kernel = kernel("stdp_step", net.config.backend)
        n, n_in = net.n_rec, net.n_in
        self.traces = {  # pre trace, post trace, eligibility z
            "w_in": (np.zeros(n_in, net.dtype), np.zeros(n, net.dtype), np.zeros((n, n_in), net.dtype)),
            "w_rec": (np.zeros(n, net.dtype), np.zeros(n, net.dtype), np.zeros((n, n), net.dtype)),
            "w_out": (
                np.zeros(n, net.dtype),
                np.zeros(net.n_out, net.dtype),
                np.zeros((net.n_out, n), net.dtype),
            ),
        }
        self._no_action = np.zeros(net.n_out, net.dtype)
        self.baseline = 0.0
        self.begin_episode()

    def begin_episode(self) -> None:
        for arrays in self.traces.values():
            for array in arrays:
                array.fill(0)
        self.pending = None
        self.last_delta = 0.0

    def _traces_step(self, action_spike: np.ndarray) -> None:
        layer = self.layer
        pairs = {
            "w_in": (layer.input, layer.state.z),
            "w_rec": (layer.z_prev, layer.state.z),
            "w_out": (layer.state.z, action_spike),
        }
        for name, (pre, post) in pairs.items():
            pre_trace, post_trace, elig = self.traces[name]
            self._kernel(
                pre,
                post,
                pre_trace,
                post_trace,
                self._decay_plus,
                self._decay_minus,
                self._a_plus,
                self._a_minus,
                self._decay_z,
                elig,
            )

    def advance(self, net) -> None:
        self._traces_step(self._no_action)

    def policy(self, net) -> tuple[np.ndarray, float]:
        y = np.asarray(net.y, np.float64)
        return softmax(y[: self.n_actions] / self.temperature), float(y[self.n_actions])

    def decide(self, net, rng: np.random.Generator, greedy: bool = False) -> int:
        pi, _ = self.policy(net)
        action = int(np.argmax(pi)) if greedy else int(rng.choice(self.n_actions, p=pi))
        spike = self._no_action.copy()
        spike[action] = 1
        self._traces_step(spike)
        return action

    def observe(self, reward: float, terminated: bool, truncated: bool) -> None:
        """r(t + dt) modulates the eligibility at the decision it follows."""
        signal = float(reward)
        if self.baseline_tau is not None:
            signal -= self.baseline
            self.baseline += (float(reward) - self.baseline) / self.baseline_tau
        self.last_delta = signal
        if signal != 0.0:
            step = self.net.dtype.type(self.lr * signal)
            for name, (_, _, elig) in self.traces.items():
                self.net.params[name] += step * elig
            self.net.enforce_constraints()
