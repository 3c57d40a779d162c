"""The online loop: a network, a rule and an optimizer fed one step at a time.

* :func:`gradient_estimate` runs one sequence with frozen weights and returns what the rule
  accumulated (the quantity compared with the exact references).
* :class:`OnlineLearner` runs sequences while learning: the weights change after every step
  (``update="step"``, truly online) or after every ``batch_size`` trials
  (``update="trial"``, the batch-of-trials protocol of the e-prop paper).

Whole experiments (configuration, run directory, evaluation, checkpoints) are
:mod:`locallearn.runs`; this module is the loop they drive.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from .config import check_choice, check_int
from .losses import check_loss, loss_value, output_error, prepare_mask, prepare_targets
from .metrics import alignment_angle, cosine, gradient_cosine
from .optim import SGD

UPDATE_MODES = ("step", "trial")


def _prepare(net, inputs, targets, loss, mask):
    inputs = net.check_inputs(inputs)
    loss = check_loss(loss)
    targets = prepare_targets(loss, targets, inputs.shape[0], net.n_out, net.dtype)
    mask = prepare_mask(mask, inputs.shape[0], net.dtype)
    return inputs, targets, loss, mask


def _check_rule(rule) -> None:
    if getattr(rule, "kind", None) != "supervised":  # validates user input: any object
        raise TypeError(
            f"rule {getattr(rule, 'name', rule)!r} is not a supervised rule "
            f"(kind={getattr(rule, 'kind', None)!r})"
        )


def gradient_estimate(net, rule, inputs, targets, loss: str = "mse", mask=None) -> dict:
    """The rule's estimate of dE/dW over one sequence, weights frozen (DESIGN §5).

    Returns a dict with one array per parameter (``w_in``, ``w_rec``, ``w_out``, ``b_out``) in the
    network's dtype and ``loss``, the sequence loss. Descent is ``-gradient``.
    """
    _check_rule(rule)
    inputs, targets, loss, mask = _prepare(net, inputs, targets, loss, mask)
    rule.bind(net)
    net.reset_state()
    rule.begin_sequence()
    rule.zero_grad()
    outputs = np.empty((inputs.shape[0], net.n_out), net.dtype)
    no_error = np.zeros(net.n_out, net.dtype)
    for t in range(inputs.shape[0]):
        y = net.step(inputs[t])
        outputs[t] = y
        rule.step(net, output_error(loss, y, targets[t], mask[t]) if mask[t] else no_error)
    estimate = {name: value.copy() for name, value in rule.gradients().items()}
    estimate["loss"] = loss_value(loss, outputs, targets, mask)
    return estimate


def gradient_check(learner: OnlineLearner, trial) -> float:
    """Cosine between ``learner.rule``'s estimate on ``trial`` (weights frozen) and the exact BPTT
    gradient, over every weight below the readout. The rule is deep-copied with its network, so
    learned feedback is measured as it stands and the live run is not disturbed."""
    from .reference import bptt_gradients

    rule = copy.deepcopy(learner.rule)
    net = rule.net if rule.net is not None else copy.deepcopy(learner.net)
    estimate = gradient_estimate(net, rule, trial.inputs, trial.targets, learner.loss, trial.mask)
    exact = bptt_gradients(net, trial.inputs, trial.targets, learner.loss, trial.mask)
    keys = [name for name in net.params if name not in ("w_out", "b_out")]
    return gradient_cosine(estimate, exact, keys)


def learning_signal_angles(net, rule, trial, loss: str) -> dict[str, float]:
    """For a stack of layers: per layer below the top, the angle in degrees between the learning
    signals the rule sends there over ``trial`` (e.g. DFA's ``D_l err``) and the backpropagated
    ones, ``W_{l+1}^T (L_{l+1} * psi_{l+1})`` down from ``W_out^T err`` — concatenated over the
    trial's steps, weights frozen. Keys ``signal_angle/<l>``; empty for a single layer or a rule
    without ``learning_signals(net, error)``."""
    if len(net.layers) < 2:
        return {}
    inputs, targets, loss, mask = _prepare(net, trial.inputs, trial.targets, loss, trial.mask)
    net, rule = copy.deepcopy((net, rule))  # one copy: the rule stays bound to the copied net
    rule.bind(net)
    net.reset_state()
    sent = [[] for _ in net.layers[:-1]]
    exact = [[] for _ in net.layers[:-1]]
    for t in range(len(inputs)):
        y = net.step(inputs[t])
        if not mask[t]:
            continue
        error = output_error(loss, y, targets[t], mask[t])
        signals = rule.learning_signals(net, error)
        if signals is None:  # the rule defines no per-layer signals
            return {}
        backprop = error @ net.w_out
        for index in range(len(net.layers) - 2, -1, -1):
            upper = net.layers[index + 1]
            backprop = (backprop * upper.state.psi) @ upper.w_in
            sent[index].append(np.asarray(signals[index], np.float64))
            exact[index].append(np.asarray(backprop, np.float64))
    angles = {}
    for index in range(len(sent)):
        c = float(np.clip(cosine(np.concatenate(sent[index]), np.concatenate(exact[index])), -1, 1))
        angles[f"signal_angle/{index}"] = round(float(np.degrees(np.arccos(c))), 4)
    return angles


def feedback_alignment(rule) -> dict[str, float]:
    """For each feedback pathway of ``rule`` that transports a weight matrix: the angle in
    degrees between its B and that weight's transpose, as ``{"angle/<weight>": degrees}``
    (empty for rules without feedback weights; DFA's B has no forward counterpart and is skipped).
    """
    angles = {}
    for feedback in rule.feedback_pathways():
        forward = feedback.forward
        if forward is None or not feedback.transports:
            continue
        B = feedback.matrix()
        if not B.any():  # no feedback at all: the angle is undefined
            continue
        angles[f"angle/{feedback.weight}"] = round(alignment_angle(B, forward), 4)
    return angles


@dataclass
class SequenceResult:
    """What one sequence produced: its loss, readout history (T, n_out) and spike count."""

    loss: float
    outputs: np.ndarray
    spikes: int


class OnlineLearner:
    """Runs sequences through ``net`` while ``rule`` and ``optimizer`` change its weights."""

    def __init__(
        self,
        net,
        rule,
        optimizer,
        loss: str = "mse",
        update: str = "step",
        batch_size: int = 1,
        stepwise: bool = False,
        factored: bool = True,
    ):
        """``stepwise=True`` learns from every sequence step by step in Python, traces advancing
        at each step, even where a compiled path exists (``update="trial"`` otherwise takes the
        factored whole-sequence one, ``update="step"`` with plain SGD the compiled online chunk,
        ``rule.learn_online``): the reference loop, to time it or to check the others against.
        ``factored=False`` keeps ``update="trial"`` online — traces advanced and gradients added
        at every step, weights frozen until the trial or batch ends, as a streaming or on-chip
        learner computes them — in one compiled call where the rule offers one
        (``rule.learn_online`` without a learning rate; the same bits as the stepwise loop),
        else step by step."""
        _check_rule(rule)
        for name, value in (("stepwise", stepwise), ("factored", factored)):
            if not isinstance(value, bool):
                raise ValueError(f"OnlineLearner.{name} must be true or false, got {value!r}")
        self.stepwise, self.factored = stepwise, factored
        check_choice("OnlineLearner", "update", update, UPDATE_MODES)
        check_int("OnlineLearner", "batch_size", batch_size, minimum=1)
        self.net, self.rule, self.optimizer = net, rule, optimizer
        self.loss = check_loss(loss)
        self.update, self.batch_size = update, batch_size
        self.steps = 0
        self.trials = 0
        rule.bind(net)
        rule.zero_grad()
        # Per-step plain SGD can be folded into the rule's own sweep over the synapses, when the
        # rule offers it and no feedback pathway needs to see the applied changes.
        self.direct = (
            update == "step" and type(optimizer) is SGD and rule.can_fold_sgd() and not rule.feedback_learns
        )

    def run_batch(self, inputs, targets, mask=None) -> list[SequenceResult]:
        """Learn from B sequences at once (``inputs`` (B, T, n_in); ``targets`` (B, T, n_out) or
        (B, T) class indices; ``mask`` (B, T)) with the weights frozen across them — what
        ``update="trial"`` does to B consecutive trials, with one batched forward pass and one
        BLAS-3 product per weight matrix (``rule.learn_batch``). Counts B trials and applies
        the optimizer whenever ``batch_size`` trials have been seen."""
        if self.update != "trial":
            raise ValueError("run_batch needs update='trial' (weights frozen within a batch)")
        if not self._whole_sequence(True):
            raise NotImplementedError(
                f"rule {self.rule.name!r} on this network has no batched path; use run_sequence"
            )
        inputs = np.asarray(inputs)
        if inputs.ndim != 3:
            raise ValueError(f"inputs must have shape (B, T, n_in), got {inputs.shape}")
        n_batch, n_steps = inputs.shape[:2]
        masks = [None] * n_batch if mask is None else list(mask)
        prepared = [_prepare(self.net, inputs[b], targets[b], self.loss, masks[b]) for b in range(n_batch)]
        x = np.stack([p[0] for p in prepared])
        t = np.stack([p[1] for p in prepared])
        m = np.stack([p[3] for p in prepared])
        record = self.rule.learn_batch(self.net, x, t, self.loss, m)
        self.steps += n_batch * n_steps
        before = self.trials
        self.trials += n_batch
        if self.trials // self.batch_size > before // self.batch_size:
            self._apply()
        return [
            SequenceResult(
                loss=loss_value(self.loss, record["y"][b], t[b], m[b]),
                outputs=record["y"][b],
                spikes=int(record["z"][b].sum()),
            )
            for b in range(n_batch)
        ]

    def _whole_sequence(self, learn: bool) -> bool:
        if len(self.net.layers) != 1 or self.net.config.spike_fn == "escape":
            return False
        if not learn:
            return True
        return not self.stepwise and self.rule.can_learn_sequence(self.net)

    def _apply(self) -> None:
        self.net.check_finite()  # weights written in place are caught before they are used
        deltas = self.optimizer.step(self.net.params, self.rule.gradients())
        self.net.enforce_constraints()
        self.rule.after_update(self.net, deltas)
        self.rule.zero_grad()

    def run_sequence(self, inputs, targets, mask=None, learn: bool = True) -> SequenceResult:
        """Run one sequence from a reset state; learn from it unless ``learn=False`` (then the
        rule is not touched at all, so evaluation never disturbs a batch in progress)."""
        inputs, targets, loss, mask = _prepare(self.net, inputs, targets, self.loss, mask)
        net, rule = self.net, self.rule
        net.check_finite()
        net.reset_state()
        if learn:
            rule.begin_sequence()
        if not (learn and (self.update == "step" or not self.factored)) and self._whole_sequence(learn):
            # frozen weights for the whole sequence: one compiled forward pass (and, learning,
            # the rule's factored sum over the sequence) instead of T calls into Python
            if learn:
                record = rule.learn_sequence(net, inputs, targets, loss, mask)
                self.steps += inputs.shape[0]
                self.trials += 1
                if self.trials % self.batch_size == 0:
                    self._apply()
            else:
                record = net.simulate(inputs)
            return SequenceResult(
                loss=loss_value(loss, record["y"], targets, mask),
                outputs=record["y"],
                spikes=int(record["z"].sum()),
            )
        online = learn and self.update == "step"
        direct = online and self.direct
        accumulating = learn and not online and not self.factored
        if (direct or accumulating) and not self.stepwise and rule.can_learn_online(net):
            # per-step SGD, or per-step gradients with frozen weights, with fixed feedback: the
            # whole stepwise loop below in one compiled call (the same bits;
            # tests/test_online_chunk.py)
            lr = self.optimizer.lr if direct else None
            outputs, spikes = rule.learn_online(net, inputs, targets, loss, mask, lr)
            self.steps += inputs.shape[0]
            self.trials += 1
            if accumulating and self.trials % self.batch_size == 0:
                self._apply()
            return SequenceResult(
                loss=loss_value(loss, outputs, targets, mask), outputs=outputs, spikes=spikes
            )
        outputs = np.empty((inputs.shape[0], net.n_out), net.dtype)
        spikes = 0.0
        z = net.layers[-1].state.z
        if direct:
            rule.accumulate_into_weights(self.optimizer.lr)
        no_error = np.zeros(net.n_out, net.dtype)
        for t in range(inputs.shape[0]):
            y = net.step(inputs[t])
            outputs[t] = y
            spikes += z.sum()
            if learn:
                # a masked step has zero error: skip computing it (most steps of most tasks)
                rule.step(net, output_error(loss, y, targets[t], mask[t]) if mask[t] else no_error)
                if online and not direct:
                    self._apply()
        if direct:
            rule.accumulate_into_weights(None)
        if learn:
            self.steps += inputs.shape[0]
            self.trials += 1
            if not online and self.trials % self.batch_size == 0:
                self._apply()
        return SequenceResult(
            loss=loss_value(loss, outputs, targets, mask), outputs=outputs, spikes=int(spikes)
        )
