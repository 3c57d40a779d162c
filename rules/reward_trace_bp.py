"""Reward-based trace-BP (DESIGN §10): the trace-based backprop approximation (``trace-bp``)
driven by the TD error and the policy-gradient output error instead of a supervised target,
with the eligibility accumulated over decisions with gamma lam, as in reward-based e-prop.

The readout has ``n_actions`` policy units and one value unit, read at the decision micro-step
(pi = softmax(beta y[:A]), V = y[A]). At each decision, with g^t the one-step gradient estimate
trace-BP forms for the output error err^t (its rate traces, local derivatives and per-layer
learning signals through the chosen feedback pathways; exact for the readout)::

    err^t   = [beta (pi^t - onehot(a^t)), -c_V]        (= -d(log pi_a + c_V V)/dy)
    F^t     = gamma lam F^{t-1} + g^t(err^t)
    delta^t = r^t + gamma V^{t+1} - V^t                 (no bootstrap after termination)
    W      <- W - eta delta^t F^t,    eta bounded as in reward-eprop: eta / max(1, eta kappa
                                      max(|delta|, 1) ||F||_1)  (``guard_kappa``; None: off)

Between decisions the micro-steps only move trace-BP's traces. Unlike ``reward-eprop`` it drives
stacks of layers (``network.n_rec = [64, 64]``), where ``random`` and ``direct`` feedback differ.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_positive
from locallearn.losses import softmax
from locallearn.protocols import ReinforcementRule

from . import register
from .trace_bp import TraceBP


@register("reward-trace-bp")
class RewardTraceBP(ReinforcementRule):
    """Actor-critic on trace-BP's gradient estimates (see the module docstring)."""

    name = "reward-trace-bp"

    def __init__(
        self,
        feedback="random",
        feedback_options: dict | None = None,
        lr: float = 1e-3,
        gamma: float = 0.99,
        lam: float = 0.8,
        c_value: float = 1.0,
        tau_trace: float = 20.0,
        guard_kappa: float | None = 2.0,
        inverse_temperature: float = 1.0,
        seed: int | None = None,
    ):
        for name, value in (("gamma", gamma), ("lam", lam)):
            if not 0 <= value <= 1:
                raise ValueError(f"RewardTraceBP.{name} must lie in [0, 1], got {value}")
        check_positive("RewardTraceBP", "lr", lr)
        check_positive("RewardTraceBP", "c_value", c_value, allow_zero=True)
        check_positive("RewardTraceBP", "inverse_temperature", inverse_temperature)
        if guard_kappa is not None:
            check_positive("RewardTraceBP", "guard_kappa", guard_kappa)
        self.estimator = TraceBP(
            feedback=feedback, feedback_options=feedback_options, tau_trace=tau_trace, seed=seed
        )
        self.lr, self.gamma, self.lam, self.c_value = lr, gamma, lam, c_value
        self.guard_kappa, self.beta = guard_kappa, inverse_temperature
        self.net = None

    def bind(self, net) -> None:
        if self.net is net:
            return
        if net.n_out < 3:
            raise ValueError(f"reward-trace-bp needs n_actions + 1 readout units, got n_out = {net.n_out}")
        self.net = net
        self.estimator.bind(net)
        self.n_actions = net.n_out - 1
        self.F = {name: np.zeros_like(value) for name, value in net.params.items()}
        self._no_error = np.zeros(net.n_out, net.dtype)
        self.begin_episode()

    def begin_episode(self) -> None:
        self.estimator.begin_sequence()
        for trace in self.F.values():
            trace.fill(0)
        self.value_prev = None
        self.pending = None
        self.last_delta = 0.0

    def advance(self, net) -> None:
        self.estimator.step(net, self._no_error)

    def policy(self, net) -> tuple[np.ndarray, float]:
        y = np.asarray(net.y, np.float64)
        return softmax(self.beta * y[: self.n_actions]), float(y[self.n_actions])

    def decide(self, net, rng: np.random.Generator, greedy: bool = False) -> int:
        pi, value = self.policy(net)
        if self.pending is not None:
            self._learn(self.pending + self.gamma * value - self.value_prev)
            self.pending = None
        action = (
            int(np.argmax(pi))
            if greedy
            else int(min(np.searchsorted(np.cumsum(pi), rng.random()), len(pi) - 1))
        )
        error = np.zeros(net.n_out)
        error[: self.n_actions] = self.beta * pi
        error[action] -= self.beta
        error[self.n_actions] = -self.c_value
        estimator = self.estimator
        estimator.zero_grad()
        estimator.step(net, error.astype(net.dtype))
        decay = net.dtype.type(self.gamma * self.lam)
        for name, grad in estimator.gradients().items():
            self.F[name] *= decay
            self.F[name] += grad
        self.value_prev = value
        return action

    def observe(self, reward: float, terminated: bool, truncated: bool) -> None:
        if terminated:
            self._learn(float(reward) - self.value_prev)
        else:
            self.pending = float(reward)

    def bootstrap(self, net) -> None:
        if self.pending is not None:
            self._learn(self.pending + self.gamma * self.policy(net)[1] - self.value_prev)
            self.pending = None

    def _learn(self, delta: float) -> None:
        self.last_delta = delta
        step = self.lr
        if self.guard_kappa is not None:
            norm = sum(float(np.abs(f).sum()) for f in self.F.values())
            step = self.lr / max(self.lr * self.guard_kappa * max(abs(delta), 1.0) * norm, 1.0)
        scale = self.net.dtype.type(-step * delta)
        deltas = {name: scale * trace for name, trace in self.F.items()}
        for name, change in deltas.items():
            self.net.params[name] += change
        self.net.enforce_constraints()
        self.estimator.after_update(self.net, deltas)
