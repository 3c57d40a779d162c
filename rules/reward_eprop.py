"""Reward-based e-prop: an actor-critic trained online with eligibility traces (Bellec et al. 2020,
Fig. 4-5; DESIGN §4).

The readout has ``n_actions`` policy units and one value unit: pi = softmax(beta y[:A]),
V = y[A], both read at the last micro-step of an environment step (the decision); beta is the
inverse temperature (1 unless set; optionally raised linearly over the first ``anneal_steps``
decisions, Boltzmann exploration that narrows over a lifetime). With ebar the readout-filtered
eligibility trace of the trace engine and a ~ pi the action taken::

    err^t    = [beta (pi^t - onehot(a^t)),  -c_V]          (n_out "output errors";
                                                            beta (pi - onehot) = -dlog pi_a/dy)
    L_j^t    = sum_k B_jk err_k^t                           (learning signal; feedback B)
    F^t      = gamma lam F^{t-1} + L^t ebar^t               (second, per-synapse trace)
    F_out^t  = gamma lam F_out^{t-1} + err^t ztilde^tT      (readout: exact)
    delta^t  = r^t + gamma V^{t+1} - V^t                    (0 bootstrap after `terminated`;
                                                             V of the final observation after
                                                             `truncated`)
    W       <- W - eta delta^t F^t                          (every environment step)

Sign convention (tested on a bandit): with delta > 0 the update raises the logit of the action
taken and V; the entropy bonus (``c_entropy``) adds eta c_H (B dH/dy) ebar without delta.
The step size is bounded ObGD-style (Elsayed et al. 2024): with dbar = max(|delta|, 1) and
M = eta kappa dbar ||F||_1, the effective step is eta / max(M, 1), which prevents the overshoot
that makes streaming RL diverge.

Two options separate the critic from the layer: ``lr_layer`` is eta for the recurrent layer's
weights (default: ``lr``; the readout keeps ``lr``), and ``value_to_layer=False`` drops the value
error from the layer's learning signal (L = B[:, :A] err[:A]): the critic is then the value
readout alone, on features the layer learns for the policy.

Stacks of layers (``network.n_rec = [64, 64]``, recurrent or not): every layer keeps its own
traces and its own F, and receives its own learning signal through a pathway of the chosen mode,
``L_l = B_l (L_{l+1} * psi_{l+1})`` down the stack, or ``L_l = D_l err`` for ``direct`` (DFA) —
for one layer ``random`` and ``direct`` are the same rule, on a stack they differ. A stack steps
its micro-steps one by one (the compiled ``present`` call drives one recurrent layer), and keeps
its lower layers' state in attributes a single layer does not have, so that single-layer runs
and their checkpoints are exactly what they were.
"""

from __future__ import annotations

import functools

import numpy as np

from locallearn import streams
from locallearn.config import ConfigError, check_int, check_positive
from locallearn.derived import Derived
from locallearn.losses import softmax
from locallearn.protocols import ReinforcementRule
from locallearn.traces import EligibilityTraces

from . import feedback as feedback_registry
from . import register
from ._kernels import kernel


@register("reward-eprop")
class RewardEProp(ReinforcementRule):
    """Actor-critic e-prop for environments (``kind = "reinforcement"``)."""

    name = "reward-eprop"
    kind = "reinforcement"
    # act() in one compiled call where it can (bit-identical); False takes the stepwise path
    # everywhere (benchmarks/agent_step.py compares the two)
    compiled_act = True

    def __init__(
        self,
        feedback="random",
        feedback_options: dict | None = None,
        lr: float = 1e-3,
        gamma: float = 0.99,
        lam: float = 0.8,
        c_value: float = 1.0,
        c_entropy: float = 0.0,
        guard_kappa: float | None = 2.0,
        inverse_temperature: float = 1.0,
        inverse_temperature_final: float | None = None,
        anneal_steps: int = 1_000_000,
        lr_layer: float | None = None,
        value_to_layer: bool = True,
        seed: int | None = None,
    ):
        for name, value in (("gamma", gamma), ("lam", lam)):
            if not 0 <= value <= 1:
                raise ValueError(f"RewardEProp.{name} must lie in [0, 1], got {value}")
        check_positive("RewardEProp", "lr", lr)
        check_positive("RewardEProp", "c_value", c_value, allow_zero=True)
        check_positive("RewardEProp", "c_entropy", c_entropy, allow_zero=True)
        if guard_kappa is not None:
            check_positive("RewardEProp", "guard_kappa", guard_kappa)
        check_positive("RewardEProp", "inverse_temperature", inverse_temperature)
        if inverse_temperature_final is not None:
            check_positive("RewardEProp", "inverse_temperature_final", inverse_temperature_final)
        check_int("RewardEProp", "anneal_steps", anneal_steps, minimum=1)
        if lr_layer is not None:
            check_positive("RewardEProp", "lr_layer", lr_layer)
        if not isinstance(value_to_layer, bool):
            raise ConfigError(f"RewardEProp.value_to_layer must be true or false, got {value_to_layer!r}")
        if isinstance(feedback, str):
            # more pathways of the same mode for the layers of a stack (a partial is not state)
            self._feedback_factory = functools.partial(
                feedback_registry.make, feedback, **(feedback_options or {})
            )
            feedback = self._feedback_factory()
        self.feedback = feedback
        self.lr, self.gamma, self.lam = lr, gamma, lam
        self.c_value, self.c_entropy, self.guard_kappa = c_value, c_entropy, guard_kappa
        self.inverse_temperature = inverse_temperature
        self.inverse_temperature_final = inverse_temperature_final
        self.anneal_steps = anneal_steps
        self.lr_layer, self.value_to_layer = lr_layer, value_to_layer
        self.decisions = 0  # counts over the lifetime (not reset per episode): the anneal's clock
        self.seed = seed
        self.net = None

    # ------------------------------------------------------------------ set-up
    def bind(self, net) -> None:
        if self.net is net:
            return
        if net.n_out < 3:
            raise ValueError(
                "reward-eprop needs a readout of n_actions + 1 units (>= 2 actions "
                f"and a value unit), got n_out = {net.n_out}"
            )
        if len(net.layers) == 1 and not net.config.recurrent:
            raise NotImplementedError(f"{self.name} drives a recurrent layer or a stack of layers")
        if len(net.layers) > 1 and self.c_entropy > 0:
            raise NotImplementedError(f"{self.name}: c_entropy is implemented for a single layer only")
        seed = net.config.seed if self.seed is None else self.seed
        if len(net.layers) == 1:
            self.feedback.bind(net, streams.generator(seed, "feedback"))
        else:
            factory = getattr(self, "_feedback_factory", None)
            pathways = feedback_registry.bind_stack(
                [self.feedback], factory, net, np.random.default_rng, seed
            )
            self.lower_feedbacks = pathways[:-1]
            self.lower_traces = [
                EligibilityTraces(layer, filter_decay=net.kappa) for layer in net.layers[:-1]
            ]
            self.lower_zeros = [np.zeros(layer.n, net.dtype) for layer in net.layers[:-1]]
        self.net, self.layer = net, net.layers[-1]
        self.n_actions = net.n_out - 1
        self._is_value = np.arange(net.n_out) == self.n_actions
        self.traces = EligibilityTraces(self.layer, filter_decay=net.kappa)
        self.F = {name: np.zeros_like(value) for name, value in net.params.items()}
        self.readout_trace = np.zeros(net.n_rec, net.dtype)
        self._zero = np.zeros(net.n_rec, net.dtype)
        self._decay = net.dtype.type(self.gamma * self.lam)
        # what every update needs, fixed once bound: which accumulators are the layers' and
        # whether any pathway learns
        layer_names = {name for layer in net.layers for name in layer.param_names.values()}
        pathways = [*self.lower_feedbacks, self.feedback] if self.stacked else [self.feedback]
        self._update_plan = Derived(
            (
                pathways,
                any(pathway.learns for pathway in pathways),
                [(name, name in layer_names, trace) for name, trace in self.F.items()],
            )
        )
        self._bind_kernels()
        self.begin_episode()

    def _bind_kernels(self) -> None:
        backend = self.layer.backend
        self._decision = kernel("policy_decision", backend)
        self._readout_step = kernel("readout_eligibility_step", backend)
        self._act_kernel = kernel("reward_eprop_act", backend)
        self._pi = np.zeros(self.n_actions)
        self._err = np.zeros(self.net.n_out, self.net.dtype)
        self._act_plan = Derived()  # act()'s fixed arguments, or (None,) where it cannot run compiled

    @property
    def stacked(self) -> bool:
        return len(self.net.layers) > 1

    def _layer_traces(self) -> list:
        """Every layer's traces, bottom to top."""
        return [*self.lower_traces, self.traces] if self.stacked else [self.traces]

    def begin_episode(self) -> None:
        """Forget the episode's traces (the network state is reset or not by the runner)."""
        for traces in self._layer_traces():
            traces.reset()
        for value in self.F.values():
            value.fill(0)
        self.readout_trace.fill(0)
        self.bias_trace = self.net.dtype.type(0)
        self.value_prev = None
        self.pending = None
        self.last_delta = 0.0

    # ------------------------------------------------------------------ per step
    def advance(self, net) -> None:
        """A micro-step without a decision: the traces move on, F is untouched."""
        if self.stacked:
            for traces, zero in zip(self.lower_traces, self.lower_zeros):
                traces.step(zero, zero, self.F, 1.0)
        self.traces.step(self._zero, self._zero, self.F, 1.0)
        self._advance_readout_trace(net)

    def advance_many(self, net, inputs: np.ndarray, decide_last: bool = False) -> None:
        """``len(inputs)`` micro-steps without a decision, network and traces in one compiled
        call (equal to ``net.step`` + :meth:`advance` per row of ``inputs``). With
        ``decide_last`` the last row is the decision's micro-step: only ``net.step`` for it, so
        that :meth:`decide` follows."""
        if self.stacked:
            super().advance_many(net, inputs, decide_last)
            return
        traced = len(inputs) - 1 if decide_last else len(inputs)
        self.traces.present(net, inputs, self.readout_trace, self.F, traced)
        for _ in range(traced):
            self.bias_trace = net.kappa * self.bias_trace + 1

    def _advance_readout_trace(self, net) -> None:
        self.readout_trace *= net.kappa
        self.readout_trace += self.layer.state.z
        self.bias_trace = net.kappa * self.bias_trace + 1

    @property
    def beta(self) -> float:
        """The inverse temperature at the current decision."""
        if self.inverse_temperature_final is None:
            return self.inverse_temperature
        done = min(self.decisions / self.anneal_steps, 1.0)
        return self.inverse_temperature + done * (self.inverse_temperature_final - self.inverse_temperature)

    def policy(self, net) -> tuple[np.ndarray, float]:
        y = np.asarray(net.y, np.float64)
        return softmax(self.beta * y[: self.n_actions]), float(y[self.n_actions])

    def decide(self, net, rng: np.random.Generator, greedy: bool = False) -> int:
        """At the last micro-step of an environment step: learn from the pending transition,
        choose an action, and fold its eligibility into F. Returns the action."""
        value = float(net.y[self.n_actions])
        layer_step = None  # the layer's share of the pending update, made in the trace sweep
        if self.pending is not None:
            reward = self.pending
            layer_step = self._learn(reward + self.gamma * value - self.value_prev, defer=True)
            self.pending = None
        # pi, the action (inverse-CDF sampling: the draw rng.choice(p=pi) would use, at a tenth
        # of the cost) and the output errors, in one compiled call
        beta = self.beta
        u = 0.0 if greedy else rng.random()
        action = self._decision(net.y, float(beta), u, greedy, float(self.c_value), self._pi, self._err)
        err = self._err
        # without value_to_layer the critic is the value readout alone; layers learn for the policy
        layer_err = err if self.value_to_layer else np.where(self._is_value, 0, err).astype(net.dtype)
        if self.stacked:
            signal = self._step_lower_layers(net, layer_err, layer_step)
        else:
            signal = self.feedback.learning_signal(layer_err)
        signal = np.ascontiguousarray(signal, net.dtype)
        self.traces.step(signal, self._zero, self.F, self._decay, weight_step=layer_step)
        self.bias_trace = net.kappa * self.bias_trace + 1
        self._readout_step(
            self.layer.state.z,
            net.kappa,
            self._decay,
            err,
            self.bias_trace,
            self.readout_trace,
            self.F["w_out"],
            self.F["b_out"],
        )
        if self.c_entropy > 0:
            self._entropy_step(net, self._pi, beta)  # reads pi only
        self.value_prev = value
        self.decisions += 1
        return action

    def act(self, net, inputs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> int:
        """:meth:`advance_many` (``decide_last``) and :meth:`decide` in one compiled call
        (``reward_eprop_act``: the same arithmetic, bit for bit) for one recurrent layer with a
        fixed feedback matrix, its sweeps on one thread and no entropy bonus; otherwise those two."""
        plan = self._compiled_act_plan(net)
        if plan is None or self.c_entropy > 0:
            return super().act(net, inputs, rng, greedy)
        arrays, memory = plan
        beta = self.beta
        u = 0.0 if greedy else rng.random()
        has_pending = self.pending is not None
        if has_pending:
            memory[0], memory[1] = self.pending, self.value_prev
        bias = arrays[1][3]
        bias[0] = self.bias_trace
        none = float("nan")  # the kernel's None; options are read at every call (they may be set)
        options = (
            self.value_to_layer,
            float(self.c_value),
            float(self.gamma),
            float(self.lr),
            none if self.lr_layer is None else float(self.lr_layer),
            none if self.guard_kappa is None else float(self.guard_kappa),
            self._decay,
        )
        action = self._act_kernel(inputs, *arrays, memory, has_pending, u, greedy, float(beta), *options)
        self.bias_trace = bias[0]
        if has_pending:
            self.last_delta, self.pending = float(memory[2]), None
        self.value_prev = float(memory[1])
        self.decisions += 1
        return int(action)

    def _compiled_act_plan(self, net) -> tuple | None:
        """:meth:`act`'s fixed kernel arguments, built once per network: (the arrays, ``memory``);
        None where it cannot run compiled."""
        if not self.compiled_act:
            return None
        if self._act_plan and self._act_plan[0] is net:
            return self._act_plan[1]
        signal = None if self.stacked else self.feedback.compiled_signal()
        compiled = not (
            signal is None
            or self.traces.lazy
            or any(self.traces.parallel_sweeps)
            or self.layer.noise is not None
            or signal[0].dtype != net.dtype
        )
        plan = None
        if compiled:
            readout = (self.readout_trace, self.F["w_out"], self.F["b_out"], np.zeros(1, net.dtype))
            arrays = (
                self.traces.compiled_arguments(net, self.F),
                readout,
                *signal,
                self._pi,
                self._err,
                np.empty_like(self._err),
            )
            plan = (arrays, np.zeros(3))
        self._act_plan = Derived((net, plan))
        return plan

    def _step_lower_layers(self, net, err: np.ndarray, layer_step) -> np.ndarray:
        """The decision's trace step of the layers below the top, each with its own signal;
        returns the top layer's signal (formed on the way down)."""
        pathways = [*self.lower_feedbacks, self.feedback]
        derivatives = [layer.state.psi for layer in net.layers]
        signals = feedback_registry.stack_signals(pathways, err.astype(net.dtype), derivatives)
        for traces, zero, signal in zip(self.lower_traces, self.lower_zeros, signals[:-1]):
            signal = np.ascontiguousarray(signal, net.dtype)
            traces.step(signal, zero, self.F, self._decay, weight_step=layer_step)
        return signals[-1]

    def observe(self, reward: float, terminated: bool, truncated: bool) -> None:
        """The environment answered the last action. A terminal transition is learned from at
        once (no bootstrap); otherwise it waits for V of the next state."""
        if terminated:
            self._learn(reward - self.value_prev)
            self.pending = None
        else:
            self.pending = float(reward)

    def bootstrap(self, net) -> None:
        """After truncation: the network has seen the final observation; learn from it."""
        if self.pending is not None:
            _, value = self.policy(net)
            self._learn(self.pending + self.gamma * value - self.value_prev)
            self.pending = None

    # ------------------------------------------------------------------ updates
    def _learn(self, delta: float, defer: bool = False):
        """W <- W - eta delta F. With ``defer`` the layer's weights are left to the caller's next
        trace sweep (``EligibilityTraces.step(weight_step=...)``, same arithmetic, one pass over
        the synapses less) and their step is returned; otherwise None."""
        self.last_delta = delta
        step = self.lr
        params = self.net.params
        pathways, feedback_learns, traced = self._update_plan
        if self.guard_kappa is not None:
            trace_norm = sum(float(np.abs(trace).sum()) for _, _, trace in traced)
            bound = self.lr * self.guard_kappa * max(abs(delta), 1.0) * trace_norm
            step = self.lr / max(bound, 1.0)
        scale = self.net.dtype.type(-step * delta)
        layer_scale = (
            scale if self.lr_layer is None else self.net.dtype.type(-step * self.lr_layer / self.lr * delta)
        )
        if feedback_learns:
            deltas = {name: (layer_scale if in_layer else scale) * trace for name, in_layer, trace in traced}
            for name, change in deltas.items():
                params[name] += change
            for pathway in pathways:
                pathway.after_update(self.net, deltas)
        else:
            for name, in_layer, trace in traced:
                if not in_layer:
                    params[name] += scale * trace
                elif not defer:
                    params[name] += layer_scale * trace
            if defer:  # only the readout moved here, and it has no structural zeros
                return layer_scale
        self.net.enforce_constraints()
        return None

    def _entropy_step(self, net, pi: np.ndarray, beta: float) -> None:
        entropy = -float(np.sum(pi * np.log(pi + 1e-12)))
        d_entropy = np.zeros(net.n_out)  # dH/dy
        d_entropy[: self.n_actions] = -beta * pi * (np.log(pi + 1e-12) + entropy)
        signal = self.feedback.learning_signal(d_entropy.astype(net.dtype))
        step = net.dtype.type(self.lr * self.c_entropy)
        for name, projection in self.traces.projections.items():
            net.params[name] += step * signal[:, None] * projection.filtered
        net.params["w_out"] += step * np.multiply.outer(d_entropy, self.readout_trace).astype(net.dtype)
        net.enforce_constraints()
