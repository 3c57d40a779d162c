"""e-prop: eligibility propagation (Bellec et al. 2020, Nat. Commun. 11:3625).

For a recurrent layer of LIF/ALIF neurons read out by leaky units (DESIGN §3, §4)::

    e_ji^t   = psi_j^t (eps_v,ji^t - beta_j eps_a,ji^t)          eligibility trace (trace engine)
    ebar^t   = kappa ebar^{t-1} + e^t                             filtered like the readout
    L_j^t    = sum_k B_jk err_k^t                                 learning signal (Feedback)
    dE/dW_ji ~ sum_t L_j^t ebar_ji^t + c_reg (fbar_j^t - f_target) e_ji^t
    dE/dW_out,kj = sum_t err_k^t ztilde_j^t,  ztilde^t = kappa ztilde^{t-1} + z^t      (exact)
    dE/db_k      = sum_t err_k^t btilde^t,          btilde^t = kappa btilde^{t-1} + 1      (exact)

``err = m^t (y - y*)`` (MSE) or ``m^t (pi - pi*)`` (cross-entropy). With B = W_out^T the estimate
equals the exact gradient of the model in which spikes are constants where they enter a membrane
(tests/test_eprop.py checks it to round-off).

Firing-rate regularisation (the reference code's ``reg_rate`` term, made online): fbar_j is an
exponential running average of neuron j's rate in kHz (spikes per ms) with time constant
``tau_rate`` ms, started at ``f_target``; the per-step contribution is
``c_reg (fbar_j - f_target / 1000) e_ji^t``. The reference code sums the same term over a trial
and divides by its length, so its ``reg`` corresponds to ``c_reg = reg / T``.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import ConfigError, check_positive
from locallearn.traces import EligibilityTraces

from . import feedback as feedback_registry
from . import register

# Rules draw their random numbers from the network's seed and this fixed key, so that two runs with
# the same config agree bit for bit while feedback weights stay independent of the network weights.
_FEEDBACK_STREAM = 0xFEEDBAC


@register("eprop")
class EProp:
    """e-prop with a pluggable feedback pathway (``symmetric``, ``random``, ``direct``,
    ``adaptive`` or any :class:`locallearn.protocols.Feedback` instance)."""

    name = "eprop"
    kind = "supervised"

    def __init__(self, feedback="symmetric", feedback_options: dict | None = None,
                 c_reg: float = 0.0, f_target: float = 10.0, tau_rate: float = 1000.0,
                 seed: int | None = None):
        check_positive("EProp", "c_reg", c_reg, allow_zero=True)
        check_positive("EProp", "f_target", f_target, allow_zero=True)
        check_positive("EProp", "tau_rate", tau_rate)
        if isinstance(feedback, str):
            feedback = feedback_registry.make(feedback, **(feedback_options or {}))
        elif feedback_options:
            raise ConfigError("EProp.feedback_options only applies when feedback is a name")
        self.feedback = feedback
        self.c_reg, self.f_target, self.tau_rate = c_reg, f_target, tau_rate
        self.seed = seed
        self.net = None
        self._direct_lr = None

    def bind(self, net) -> None:
        if self.net is net:
            return
        if len(net.layers) != 1:
            raise NotImplementedError("this e-prop rule drives single-layer networks")
        seed = net.config.seed if self.seed is None else self.seed
        self.feedback.bind(net, np.random.default_rng([seed, _FEEDBACK_STREAM]))
        self.net = net
        self.layer = net.layers[0]
        t = net.dtype.type
        self.traces = EligibilityTraces(self.layer, filter_decay=net.kappa)
        self.grads = {name: np.zeros_like(value) for name, value in net.params.items()}
        self.readout_trace = np.zeros(net.n_rec, net.dtype)
        self.bias_trace = t(0)
        self.rate_decay = t(np.exp(-net.config.dt / self.tau_rate))
        self.rate_khz = np.full(net.n_rec, self.f_target / 1000, net.dtype)
        self.reg_signal = np.zeros(net.n_rec, net.dtype)
        self._no_signal = np.zeros(net.n_rec, net.dtype)
        self._c_reg = t(self.c_reg)
        self._f_target_khz = t(self.f_target / 1000)
        self._spike_to_khz = t((1 - self.rate_decay) / net.config.dt)

    def begin_sequence(self) -> None:
        self.traces.reset()
        self.readout_trace.fill(0)
        self.bias_trace = self.net.dtype.type(0)

    def accumulate_into_weights(self, lr: float | None) -> None:
        """Online SGD inside the trace sweep: with ``lr`` set, every step adds -lr times its
        contribution straight to the weights rather than to the gradient buffers (one pass over
        the synapses instead of three). ``None`` goes back to accumulating gradients."""
        self._direct_lr = lr

    def step(self, net, error: np.ndarray) -> None:
        z = self.layer.state.z
        direct = self._direct_lr
        target = self.grads if direct is None else net.params
        scale = net.dtype.type(1.0 if direct is None else -direct)
        if error.any():
            learning_signal = self.feedback.learning_signal(error.astype(net.dtype, copy=False))
            if direct is not None:
                learning_signal = scale * learning_signal
            target["w_out"] += scale * np.multiply.outer(error, self.readout_trace * net.kappa + z)
        else:  # masked step: no learning signal, the traces still advance
            learning_signal = self._no_signal
        reg_signal = self.reg_signal
        if self.c_reg > 0:
            self.rate_khz *= self.rate_decay
            self.rate_khz += self._spike_to_khz * z
            np.subtract(self.rate_khz, self._f_target_khz, out=self.reg_signal)
            self.reg_signal *= self._c_reg
            if direct is not None:
                reg_signal = scale * self.reg_signal
        self.traces.step(learning_signal, reg_signal, target)
        self.readout_trace *= net.kappa
        self.readout_trace += z
        self.bias_trace = net.kappa * self.bias_trace + 1
        target["b_out"] += scale * self.bias_trace * error

    def gradients(self) -> dict[str, np.ndarray]:
        return self.grads

    def zero_grad(self) -> None:
        for value in self.grads.values():
            value.fill(0)

    def after_update(self, net, deltas) -> None:
        self.feedback.after_update(net, deltas)

    def state_dict(self) -> dict:
        """What must survive a checkpoint between trials: rate estimates, gradient buffers and
        the feedback pathway's own state."""
        state = {"rate_khz": self.rate_khz.copy()}
        state.update({f"grads/{k}": v.copy() for k, v in self.grads.items()})
        state.update({f"feedback/{k}": v for k, v in self.feedback.state_dict().items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        self.rate_khz[...] = state["rate_khz"]
        for name, value in self.grads.items():
            value[...] = state[f"grads/{name}"]
        self.feedback.load_state_dict({k[len("feedback/"):]: v for k, v in state.items()
                                       if k.startswith("feedback/")})
