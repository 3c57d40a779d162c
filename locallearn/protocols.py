"""The two small protocols every learning rule is built from (DESIGN §1, §4).

A **Feedback** carries output errors to the neurons that must change: it owns a feedback matrix B
(exact transpose, fixed random, learned, ...) and turns an output error into a per-neuron learning
signal ``L_j = sum_k B_jk err_k``. A **Rule** combines a feedback pathway with the trace engine and a
third factor and produces weight changes; the engine calls it once per step and never needs to
know which rule it is.

The online loop (``locallearn.runner``) drives a supervised rule like this::

    rule.bind(net)                      # once: allocate traces, draw feedback weights
    net.reset_state(); rule.begin_sequence()
    for t:  y = net.step(x[t]);  rule.step(net, err[t])        # err = dE/dy^t (masked)
            deltas = optimizer.step(net.params, rule.gradients())  # online, or once per sequence
            rule.after_update(net, deltas);  rule.zero_grad()
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Feedback(Protocol):
    """Maps a signal of an upper population to a learning signal per neuron of the one below.

    Bound to one forward weight W = ``net.params[weight]`` (upper <- lower): by default the
    readout ``w_out`` (the signal is the output error), in a stack ``w_in_{l+1}`` (the signal is
    layer l+1's ``L * psi``). ``learns`` (default False) says whether ``after_update`` changes B,
    i.e. whether callers must hand it the applied weight changes; ``direct`` (default False)
    says that in a stack every layer receives the output error itself (DFA).
    """

    name: str

    def bind(self, net, rng: np.random.Generator, weight: str = "w_out") -> None:
        """Create B for ``net.params[weight]`` (B has W's transposed shape); ``rng`` is the only
        source of randomness."""

    def matrix(self) -> np.ndarray:
        """The current feedback matrix B, shape (n_lower, n_upper)."""

    def learning_signal(self, error: np.ndarray) -> np.ndarray:
        """L = B @ signal for one step."""

    def after_update(self, net, deltas: dict[str, np.ndarray]) -> None:
        """Called after weights changed by ``deltas``; learned feedback updates B here."""


@runtime_checkable
class Rule(Protocol):
    """A credit-assignment rule. ``kind`` is "supervised" or "reinforcement"."""

    name: str
    kind: str

    def bind(self, net) -> None:
        """Attach to ``net``: allocate traces and gradient buffers (idempotent for one net)."""

    def begin_sequence(self) -> None:
        """The network's state was just reset: reset the traces that belong to a sequence."""

    def step(self, net, error: np.ndarray) -> None:
        """Fold step t in, after ``net.step``: ``error`` is dE/dy^t (shape (n_out,))."""

    def gradients(self) -> dict[str, np.ndarray]:
        """The accumulated estimate of dE/dW per parameter name (descent is -gradient)."""

    def zero_grad(self) -> None:
        """Clear the accumulated estimate."""

    def after_update(self, net, deltas: dict[str, np.ndarray]) -> None:
        """Called after the optimizer changed the weights by ``deltas``."""


class FeedbackPathway:
    """Base of feedback pathways: the attributes and hooks callers read, with their defaults.

    ``learns``: B changes in ``after_update`` (callers must hand it the applied weight changes);
    ``direct``: in a stack every layer receives the output error itself (DFA); ``transports``:
    B stands for the transpose of ``forward`` (so ``angle(B, forward^T)`` means something; False
    for a DFA matrix, which has no forward counterpart); ``forward``/``weight``: the forward
    weight array and its parameter name, set by ``bind``.
    """

    name = "feedback"
    learns = False
    direct = False
    transports = True
    forward = None
    weight = "w_out"

    def after_update(self, net, deltas: dict[str, np.ndarray]) -> None:
        """Learned feedback updates B here; fixed feedback does nothing."""

    def compiled_signal(self) -> tuple[np.ndarray, bool] | None:
        """How compiled code computes this pathway's signal, if it is one fixed product:
        ``(matrix, left)`` for ``error @ matrix`` (left, a live forward weight) or
        ``matrix @ error``; None when it is anything else (then only the stepwise path runs)."""
        return None

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Fixed feedback has no state beyond what ``bind`` rebuilds."""


class SupervisedRule:
    """Base of supervised rules: every hook :class:`locallearn.runner.OnlineLearner` may call,
    with its default, so the runner never probes a rule for what it offers.

    Required: ``bind``, ``begin_sequence``, ``step``, ``gradients``, ``zero_grad`` (see
    :class:`Rule`). Optional capabilities, off by default:

    * ``can_fold_sgd()`` / ``accumulate_into_weights(lr)``: per-step plain SGD applied inside the
      rule's own sweep over the synapses;
    * ``can_learn_sequence(net)`` / ``learn_sequence`` / ``learn_batch``: a whole sequence (or a
      batch) with frozen weights in one compiled call;
    * ``can_learn_online(net)`` / ``learn_online``: a whole sequence learned online (per-step
      SGD folded into the weights) in one compiled call, bit-identical to ``step`` at every step;
    * ``learning_signals(net, error)``: per layer, the signals the rule sends (None: not defined);
    * ``feedback_pathways()``: the rule's Feedback objects (for alignment angles);
    * ``feedback_learns``: whether a pathway learns from the applied updates.
    """

    kind = "supervised"
    net = None
    feedback_learns = False

    def after_update(self, net, deltas: dict[str, np.ndarray]) -> None:
        """Called after the optimizer changed the weights by ``deltas``."""

    def can_fold_sgd(self) -> bool:
        return False

    def accumulate_into_weights(self, lr: float | None) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot fold SGD into its sweep")

    def can_learn_sequence(self, net) -> bool:
        return False

    def learn_sequence(self, net, inputs, targets, loss: str, mask):
        raise NotImplementedError(f"{type(self).__name__} has no whole-sequence path")

    def learn_batch(self, net, inputs, targets, loss: str, mask):
        raise NotImplementedError(f"{type(self).__name__} has no batched path")

    def can_learn_online(self, net) -> bool:
        return False

    def learn_online(self, net, inputs, targets, loss: str, mask, lr: float):
        raise NotImplementedError(f"{type(self).__name__} has no compiled online path")

    def learning_signals(self, net, error: np.ndarray) -> list[np.ndarray] | None:
        return None

    def feedback_pathways(self) -> list:
        return []

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Rules without state beyond their traces (rebuilt by ``bind``) restore nothing."""


class ReinforcementRule:
    """Base of reward-based rules: every hook a lifetime calls, with its default.

    An agent drives it, per environment step, as::

        action = rule.act(net, inputs, rng)                # = the two calls below
            rule.advance_many(net, inputs, decide_last=True)   # micro-steps; net.step on the last
            action = rule.decide(net, rng, greedy)             # learn from the pending transition
        rule.observe(reward, terminated, truncated)        # the third factor arrives
        (after truncation) rule.advance_many(net, next_inputs); rule.bootstrap(net)

    and ``policy(net)`` gives the action probabilities (and the value estimate) without learning,
    for frozen-weight evaluation. ``last_delta`` is the latest TD error or reward signal.
    """

    kind = "reinforcement"
    last_delta = 0.0

    def bind(self, net) -> None:
        raise NotImplementedError

    def begin_episode(self) -> None:
        """An episode starts: forget the previous one's traces."""

    def advance(self, net) -> None:
        """A micro-step without a decision (after ``net.step``)."""

    def advance_many(self, net, inputs: np.ndarray, decide_last: bool = False) -> None:
        """``net.step`` and :meth:`advance` for each row of ``inputs``; with ``decide_last`` the
        last row gets ``net.step`` only (:meth:`decide` follows). Rules override it with one
        compiled call."""
        silent = len(inputs) - 1 if decide_last else len(inputs)
        for x in inputs[:silent]:
            net.step(x)
            self.advance(net)
        if decide_last:
            net.step(inputs[-1])

    def act(self, net, inputs: np.ndarray, rng: np.random.Generator, greedy: bool = False) -> int:
        """One environment step: the micro-steps of ``inputs`` and the decision after them.
        Rules may override it with one compiled call that does the same arithmetic."""
        self.advance_many(net, inputs, decide_last=True)
        return self.decide(net, rng, greedy)

    def present_frozen(self, net, inputs: np.ndarray) -> None:
        """Present one observation's micro-steps for a frozen-weight evaluation: the network
        moves, nothing that learns does (no trace, no statistic)."""
        for x in inputs:
            net.step(x)

    def policy(self, net) -> tuple[np.ndarray, float]:
        """(action probabilities, value estimate) at the current state; learns nothing."""
        raise NotImplementedError

    def decide(self, net, rng: np.random.Generator, greedy: bool = False) -> int:
        raise NotImplementedError

    def observe(self, reward: float, terminated: bool, truncated: bool) -> None:
        raise NotImplementedError

    def bootstrap(self, net) -> None:
        """After truncation, with the final observation presented: learn from it (no critic:
        nothing to do)."""
