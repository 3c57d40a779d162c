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

Stacks of layers (``NetworkConfig.n_rec`` a tuple): every layer keeps its own eligibility traces,
the top layer's signal is ``B err`` as above, and each lower layer's comes down one layer at a time,

    L_l^t = B_l (L_{l+1}^t * psi_{l+1}^t)      B_l bound to w_in_{l+1} (exact: W_{l+1}^T)

or, with ``direct`` feedback (DFA), straight from the output error, ``L_l^t = D_l err^t``. Each
layer's pathway is its own instance of the chosen feedback mode (so learned modes learn every B_l).
The layer-wise signal keeps only the same-step path from z_l^t to the loss: with B_l = W^T it is
the exact gradient when membranes and readout do not integrate (alpha = kappa = 0, feed-forward,
reset held constant; tests/test_layers.py), and an approximation otherwise.

Firing-rate regularisation (the reference code's ``reg_rate`` term, made online): fbar_j is an
exponential running average of neuron j's rate in kHz (spikes per ms) with time constant
``tau_rate`` ms, started at ``f_target``; the per-step contribution is
``c_reg (fbar_j - f_target / 1000) e_ji^t``. The reference code sums the same term over a trial
and divides by its length, so its ``reg`` corresponds to ``c_reg = reg / T``.

``lazy_decay=True`` lets the trace engine defer the decay of rows whose pseudo-derivative is 0
(their eligibility is 0 and their traces only decay; ``EligibilityTraces(lazy=True)``): the same
gradients to rounding, a sweep over the active rows only. It pays when the gradients are read
once per trial (``update = "trial"``); updated every step they are settled every step.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_positive
from locallearn.kernels import kernel
from locallearn.losses import sequence_errors
from locallearn.protocols import SupervisedRule
from locallearn.traces import EligibilityTraces

from . import feedback as feedback_registry
from . import register
from ._kernels import kernel as rule_kernel


@register("eprop")
class EProp(SupervisedRule):
    """e-prop with a pluggable feedback pathway (``symmetric``, ``random``, ``direct``,
    ``adaptive``, ... by name, or a :class:`locallearn.protocols.Feedback` instance — for a stack,
    a list of instances, one per layer, bottom to top)."""

    name = "eprop"
    kind = "supervised"

    def __init__(
        self,
        feedback="symmetric",
        feedback_options: dict | None = None,
        c_reg: float = 0.0,
        f_target: float = 10.0,
        tau_rate: float = 1000.0,
        lazy_decay: bool = False,
        seed: int | None = None,
    ):
        check_positive("EProp", "c_reg", c_reg, allow_zero=True)
        if not isinstance(lazy_decay, bool):
            raise ValueError(f"EProp.lazy_decay must be true or false, got {lazy_decay!r}")
        check_positive("EProp", "f_target", f_target, allow_zero=True)
        check_positive("EProp", "tau_rate", tau_rate)
        self.feedbacks, self._feedback_factory = feedback_registry.pathways(
            "EProp", feedback, feedback_options
        )
        self.feedback = self.feedbacks[-1]  # the readout's pathway
        self.c_reg, self.f_target, self.tau_rate = c_reg, f_target, tau_rate
        self.lazy_decay = lazy_decay
        self.seed = seed
        self.net = None
        self._direct_lr = None

    def bind(self, net) -> None:
        if self.net is net:
            return
        seed = net.config.seed if self.seed is None else self.seed
        self.feedbacks = feedback_registry.bind_stack(
            self.feedbacks, self._feedback_factory, net, np.random.default_rng, seed
        )
        self.net = net
        self.layer = net.layers[-1]
        t = net.dtype.type
        self.traces_per_layer = [
            EligibilityTraces(layer, filter_decay=net.kappa, lazy=self.lazy_decay) for layer in net.layers
        ]
        self.traces = self.traces_per_layer[-1]
        self.grads = {name: np.zeros_like(value) for name, value in net.params.items()}
        self.readout_trace = np.zeros(net.n_rec, net.dtype)
        self.bias_trace = t(0)
        self.rate_decay = t(np.exp(-net.config.dt / self.tau_rate))
        self.rates_khz = [np.full(layer.n, self.f_target / 1000, net.dtype) for layer in net.layers]
        self.rate_khz = self.rates_khz[-1]
        self.reg_signals = [np.zeros(layer.n, net.dtype) for layer in net.layers]
        self._no_signals = [np.zeros(layer.n, net.dtype) for layer in net.layers]
        self._c_reg = t(self.c_reg)
        self._filter = kernel("exponential_filter", net.config.backend)
        self._f_target_khz = t(self.f_target / 1000)
        self._spike_to_khz = t((1 - self.rate_decay) / net.config.dt)

    @property
    def feedback_learns(self) -> bool:
        """Whether any pathway learns B (it must then see the applied weight changes)."""
        return any(feedback.learns for feedback in self.feedbacks)

    def begin_sequence(self) -> None:
        for traces in self.traces_per_layer:
            traces.reset()
        self.readout_trace.fill(0)
        self.bias_trace = self.net.dtype.type(0)

    def feedback_pathways(self) -> list:
        return list(self.feedbacks)

    def can_fold_sgd(self) -> bool:
        return not self.feedback_learns

    def accumulate_into_weights(self, lr: float | None) -> None:
        """Online SGD inside the trace sweep: with ``lr`` set, every step adds -lr times its
        contribution straight to the weights rather than to the gradient buffers (one pass over
        the synapses instead of three). ``None`` goes back to accumulating gradients."""
        self._direct_lr = lr

    def learning_signals(self, net, error: np.ndarray) -> list[np.ndarray]:
        """Per layer, bottom to top: the top layer's B err, then down the stack through psi."""
        return feedback_registry.stack_signals(
            self.feedbacks, error, [layer.state.psi for layer in net.layers]
        )

    def step(self, net, error: np.ndarray) -> None:
        z = self.layer.state.z
        direct = self._direct_lr
        target = self.grads if direct is None else net.params
        scale = net.dtype.type(1.0 if direct is None else -direct)
        if error.any():
            signals = self.learning_signals(net, error.astype(net.dtype, copy=False))
            if direct is not None:
                signals = [scale * signal for signal in signals]
            target["w_out"] += scale * np.multiply.outer(error, self.readout_trace * net.kappa + z)
        else:  # masked step: no learning signal, the traces still advance
            signals = self._no_signals
        for index, (layer, traces) in enumerate(zip(net.layers, self.traces_per_layer)):
            reg_signal = self.reg_signals[index]
            if self.c_reg > 0:
                rate = self.rates_khz[index]
                rate *= self.rate_decay
                rate += self._spike_to_khz * layer.state.z
                np.subtract(rate, self._f_target_khz, out=reg_signal)
                reg_signal *= self._c_reg
                if direct is not None:
                    reg_signal = scale * reg_signal
            traces.step(signals[index], reg_signal, target, eager=direct is not None)
        self.readout_trace *= net.kappa
        self.readout_trace += z
        self.bias_trace = net.kappa * self.bias_trace + 1
        target["b_out"] += scale * self.bias_trace * error

    def can_learn_online(self, net) -> bool:
        """Whether :meth:`learn_online` applies: a single recurrent layer of deterministic
        (non-escape) neurons, feedback that is one fixed product (``compiled_signal``)."""
        layer = net.layers[-1]
        return (
            len(net.layers) == 1
            and layer.recurrent
            and layer.noise is None
            and net.config.spike_fn != "escape"
            and not self.feedback_learns
            and self.feedback.compiled_signal() is not None
        )

    def learn_online(self, net, inputs, targets, loss: str, mask, lr: float | None) -> tuple[np.ndarray, int]:
        """A whole sequence learned online in one compiled call (``eprop_online_steps``): at
        every step the forward pass, the error, and :meth:`step` — with plain SGD folded into the
        weights (``accumulate_into_weights(lr)``), or, ``lr`` None, adding to the gradient
        buffers with the weights frozen (an update per trial or batch follows) — the same bits as
        the stepwise loop (tests/test_online_chunk.py). ``inputs``, ``targets`` (T, n_out),
        ``mask`` (T,) are prepared arrays of the network's dtype; the network state and traces
        continue from where they are (``begin_sequence`` and ``reset_state`` come first, as for
        the stepwise loop). Returns the readout history (T, n_out) and the number of spikes."""
        if not self.can_learn_online(net):
            raise NotImplementedError("learn_online needs a single recurrent layer and fixed feedback")
        t = net.dtype.type
        self.traces.settle()
        accum = net.params if lr is not None else self.grads
        feedback, left = self.feedback.compiled_signal()
        outputs = np.empty((inputs.shape[0], net.n_out), net.dtype)
        bias_trace = np.array([self.bias_trace], net.dtype)
        parallel_in, parallel_rec = self.traces.parallel_sweeps
        spikes = rule_kernel("eprop_online_steps", net.config.backend)(
            inputs,
            targets,
            mask,
            loss == "ce",
            *self.traces.compiled_arguments(net, accum),
            feedback,
            left,
            t(1.0 if lr is None else -lr),
            self.c_reg > 0,
            self._c_reg,
            self.rate_khz,
            self.rate_decay,
            self._spike_to_khz,
            self._f_target_khz,
            self.reg_signals[0],
            np.zeros(net.n_rec, net.dtype),
            self.readout_trace,
            bias_trace,
            np.empty(net.n_out, net.dtype),
            np.empty(net.n_out, net.dtype),
            parallel_in,
            parallel_rec,
            accum["w_out"],
            accum["b_out"],
            outputs,
        )
        self.bias_trace = bias_trace[0]
        return outputs, spikes

    def can_learn_sequence(self, net) -> bool:
        """Whether :meth:`learn_sequence` applies: a single-layer network, gradients accumulated
        (not folded into the weights step by step)."""
        return len(net.layers) == 1 and self._direct_lr is None

    def learn_sequence(self, net, inputs, targets, loss: str, mask) -> np.ndarray:
        """Run a whole sequence from a reset state with frozen weights and add to the gradient
        buffers exactly what :meth:`step` at every step would have added (to rounding), in one
        compiled forward pass plus a factored sum (``EligibilityTraces.sequence_sums``). Returns
        the histories ``z``, ``psi`` (T, n_rec) and ``y`` (T, n_out) of ``Network.simulate``.
        ``inputs``, ``targets`` (T, n_out) and ``mask`` (T,) are prepared arrays of the
        network's dtype; the per-step traces are left stale (the next
        ``begin_sequence`` resets them)."""
        record = net.simulate(inputs)
        self._add_sequences(
            net, inputs[None], {k: v[None] for k, v in record.items()}, targets[None], loss, mask[None]
        )
        return record

    def learn_batch(self, net, inputs, targets, loss: str, mask) -> dict[str, np.ndarray]:
        """:meth:`learn_sequence` for B independent sequences at once (``inputs`` (B, T, n_in),
        ``targets`` (B, T, n_out), ``mask`` (B, T)), with shared weights: one batched forward
        pass (``Network.simulate_batch``, a matrix product per step) and one product per weight
        matrix for the summed update. Adds the sum of the B sequences' updates. Rate
        regularisation: every stream starts from the current rate estimate, which then continues
        from the mean of their final values. Returns ``z``, ``psi`` (B, T, n) and ``y``."""
        record = net.simulate_batch(inputs)
        self._add_sequences(net, inputs, record, targets, loss, mask)
        return record

    def _add_sequences(self, net, inputs, record, targets, loss: str, mask) -> None:
        """Add the summed updates of B sequences (histories (B, T, ...)) to the gradients."""
        z, psi, y = record["z"], record["psi"], record["y"]
        error = sequence_errors(loss, y, targets, mask).astype(net.dtype, copy=False)
        signal = error @ self.feedback.matrix().T
        if self.c_reg > 0:
            rates = np.empty_like(z)
            for b in range(z.shape[0]):
                self._filter(self._spike_to_khz * z[b], self.rate_decay, self.rate_khz, rates[b])
            self.rate_khz[...] = rates[:, -1].mean(axis=0)
            reg = self._c_reg * (rates - self._f_target_khz)
        else:
            reg = np.zeros_like(z)
        for name, total in self.traces.sequence_sums(inputs, z, psi, signal, reg).items():
            self.grads[name] += total
        # the readout's traces start at 0 with every sequence (as after begin_sequence)
        filtered_z = np.empty_like(z)
        zero = np.zeros(z.shape[-1], net.dtype)
        for b in range(z.shape[0]):
            self._filter(z[b], net.kappa, zero, filtered_z[b])
        bias = np.empty((z.shape[1], 1), net.dtype)
        self._filter(np.ones((z.shape[1], 1), net.dtype), net.kappa, np.zeros(1, net.dtype), bias)
        self.grads["w_out"] += error.reshape(-1, error.shape[-1]).T @ filtered_z.reshape(-1, z.shape[-1])
        self.grads["b_out"] += np.einsum("btk,t->k", error, bias[:, 0])

    def _settle(self) -> None:
        """With ``lazy_decay``, bring the gradient buffers up to date before they are read."""
        for traces in self.traces_per_layer:
            traces.settle()

    def gradients(self) -> dict[str, np.ndarray]:
        self._settle()
        return self.grads

    def zero_grad(self) -> None:
        self._settle()
        for value in self.grads.values():
            value.fill(0)

    def after_update(self, net, deltas) -> None:
        for feedback in self.feedbacks:
            feedback.after_update(net, deltas)

    def _keys(self, index: int) -> tuple[str, str]:
        # the top layer keeps the single-layer names, so old checkpoints still load
        top = index == len(self.feedbacks) - 1
        return ("rate_khz", "feedback/") if top else (f"rate_khz_{index}", f"feedback_{index}/")

    def state_dict(self) -> dict:
        """What must survive a checkpoint between trials: rate estimates, gradient buffers and
        every feedback pathway's own state."""
        self._settle()
        state = {f"grads/{k}": v.copy() for k, v in self.grads.items()}
        for index, feedback in enumerate(self.feedbacks):
            rate_key, prefix = self._keys(index)
            state[rate_key] = self.rates_khz[index].copy()
            state.update({prefix + k: v for k, v in feedback.state_dict().items()})
        return state

    def load_state_dict(self, state: dict) -> None:
        for name, value in self.grads.items():
            value[...] = state[f"grads/{name}"]
        for index, feedback in enumerate(self.feedbacks):
            rate_key, prefix = self._keys(index)
            self.rates_khz[index][...] = state[rate_key]
            feedback.load_state_dict({k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)})
