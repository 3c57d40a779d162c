"""Trace-based backprop approximation (the idea of tracetorch v0.3 and BPOT, Yegor-men; DESIGN §4).

No eligibility per synapse and no history: each layer keeps exponential traces of what enters it
(one float per presynaptic neuron) and turns them into mean rates, from which it reconstructs its
average membrane potential and the local derivative there. For layer l with input x_l (the layer
below's spikes, or the network input) and its own spikes z_l::

    xhat_l^t = d xhat_l^{t-1} + x_l^t,      abar_l^t = (1 - d) xhat_l^t       mean input rate
    zhat_l^t = d zhat_l^{t-1} + z_l^{t-1},  rbar_l^t = (1 - d) zhat_l^t       mean recurrent rate
    vbar_l^t = (W_in,l abar_l^t + W_rec,l rbar_l^t) / (1 - alpha)              average free membrane
    phi'_l^t = (gamma / v_th) max(0, 1 - |vbar_l^t - v_th| / v_th)             local derivative
    L_top^t  = B err^t,   L_l^t = B_l (L_{l+1}^t * phi'_{l+1}^t)   (or D_l err^t: any Feedback)
    dE/dW_in,l  ~ sum_t (L_l^t * phi'_l^t) abar_l^tT,    dE/dW_rec,l ~ sum_t (L_l^t * phi'_l^t) rbar_l^tT

``d = exp(-dt / tau_trace)``. The readout's gradient is the exact one (as in e-prop). Memory is one
step per layer whatever the sequence length; the price is that a rate average replaces each
synapse's own history, so the estimate ignores spike timing within ~tau_trace.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_positive
from locallearn.protocols import SupervisedRule

from . import feedback as feedback_registry
from . import register


@register("trace-bp")
class TraceBP(SupervisedRule):
    """Trace-based backprop with a pluggable feedback pathway per layer (as ``eprop``)."""

    name = "trace-bp"
    kind = "supervised"

    def __init__(
        self,
        feedback="symmetric",
        feedback_options: dict | None = None,
        tau_trace: float = 20.0,
        seed: int | None = None,
    ):
        check_positive("TraceBP", "tau_trace", tau_trace)
        self.feedbacks, self._feedback_factory = feedback_registry.pathways(
            "TraceBP", feedback, feedback_options
        )
        self.feedback = self.feedbacks[-1]
        self.tau_trace, self.seed = tau_trace, seed
        self.net = None

    def bind(self, net) -> None:
        if self.net is net:
            return
        seed = net.config.seed if self.seed is None else self.seed
        self.feedbacks = feedback_registry.bind_stack(
            self.feedbacks, self._feedback_factory, net, np.random.default_rng, seed
        )
        self.feedback = self.feedbacks[-1]
        self.net = net
        t = net.dtype.type
        self.decay = t(np.exp(-net.config.dt / self.tau_trace))
        self.input_traces = [np.zeros(layer.n_in, net.dtype) for layer in net.layers]
        self.rate_traces = [np.zeros(layer.n, net.dtype) for layer in net.layers]
        self.derivatives = [np.zeros(layer.n, net.dtype) for layer in net.layers]
        self.grads = {name: np.zeros_like(value) for name, value in net.params.items()}
        self.readout_trace = np.zeros(net.n_rec, net.dtype)
        self.bias_trace = t(0)

    @property
    def feedback_learns(self) -> bool:
        return any(feedback.learns for feedback in self.feedbacks)

    def feedback_pathways(self) -> list:
        return list(self.feedbacks)

    def begin_sequence(self) -> None:
        for trace in self.input_traces + self.rate_traces:
            trace.fill(0)
        self.readout_trace.fill(0)
        self.bias_trace = self.net.dtype.type(0)

    def _local_derivative(self, layer, mean_input, mean_rate, out) -> None:
        p = layer.params
        drive = layer.w_in @ mean_input
        if layer.recurrent:
            drive += layer.w_rec @ mean_rate
        v_mean = drive / (1 - p.alpha)
        np.maximum(0, 1 - np.abs(v_mean - p.v_th) / p.v_th, out=out)
        out *= p.gamma / p.v_th

    def step(self, net, error: np.ndarray) -> None:
        keep = 1 - self.decay
        for index, layer in enumerate(net.layers):
            self.input_traces[index] *= self.decay
            self.input_traces[index] += layer.input
            self.rate_traces[index] *= self.decay
            self.rate_traces[index] += layer.z_prev
        z = net.layers[-1].state.z
        if error.any():
            error = error.astype(net.dtype, copy=False)
            means = [(keep * a, keep * r) for a, r in zip(self.input_traces, self.rate_traces)]
            for layer, (mean_input, mean_rate), out in zip(net.layers, means, self.derivatives):
                self._local_derivative(layer, mean_input, mean_rate, out)
            signals = feedback_registry.stack_signals(self.feedbacks, error, self.derivatives)
            for layer, (mean_input, mean_rate), signal, derivative in zip(
                net.layers, means, signals, self.derivatives
            ):
                delta = signal * derivative
                self.grads[layer.param_names["w_in"]] += np.outer(delta, mean_input)
                if layer.recurrent:
                    self.grads[layer.param_names["w_rec"]] += np.outer(delta, mean_rate)
            self.grads["w_out"] += np.multiply.outer(error, self.readout_trace * net.kappa + z)
        self.readout_trace *= net.kappa
        self.readout_trace += z
        self.bias_trace = net.kappa * self.bias_trace + 1
        self.grads["b_out"] += self.bias_trace * error

    def gradients(self) -> dict[str, np.ndarray]:
        for layer in self.net.layers:
            if layer.recurrent:
                np.fill_diagonal(self.grads[layer.param_names["w_rec"]], 0)
        return self.grads

    def zero_grad(self) -> None:
        for value in self.grads.values():
            value.fill(0)

    def after_update(self, net, deltas) -> None:
        for feedback in self.feedbacks:
            feedback.after_update(net, deltas)

    def state_dict(self) -> dict:
        state = {f"grads/{k}": v.copy() for k, v in self.grads.items()}
        for index, feedback in enumerate(self.feedbacks):
            state.update({f"feedback_{index}/{k}": v for k, v in feedback.state_dict().items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        for name, value in self.grads.items():
            value[...] = state[f"grads/{name}"]
        for index, feedback in enumerate(self.feedbacks):
            prefix = f"feedback_{index}/"
            feedback.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
