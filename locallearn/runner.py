"""The online loop: a network, a rule and an optimizer fed one step at a time.

:func:`gradient_estimate` runs one sequence with frozen weights and returns what the rule
accumulated (the quantity compared with the exact references). :class:`OnlineLearner` runs
sequences while learning, updating the weights after every step (``update="step"``, truly online)
or once per sequence (``update="sequence"``, the batch-of-trials protocol of the e-prop paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import check_choice
from .losses import check_loss, loss_value, output_error, prepare_mask, prepare_targets

UPDATE_MODES = ("step", "sequence")


def _prepare(net, inputs, targets, loss, mask):
    inputs = net.check_inputs(inputs)
    loss = check_loss(loss)
    targets = prepare_targets(loss, targets, inputs.shape[0], net.n_out, net.dtype)
    mask = prepare_mask(mask, inputs.shape[0], net.dtype)
    return inputs, targets, loss, mask


def _check_rule(rule) -> None:
    if getattr(rule, "kind", None) != "supervised":
        raise TypeError(f"rule {getattr(rule, 'name', rule)!r} is not a supervised rule "
                        f"(kind={getattr(rule, 'kind', None)!r})")


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
    for t in range(inputs.shape[0]):
        y = net.step(inputs[t])
        outputs[t] = y
        rule.step(net, output_error(loss, y, targets[t], mask[t]))
    estimate = {name: value.copy() for name, value in rule.gradients().items()}
    estimate["loss"] = loss_value(loss, outputs, targets, mask)
    return estimate


@dataclass
class SequenceResult:
    """What one sequence produced: its loss and readout history (T, n_out)."""

    loss: float
    outputs: np.ndarray


class OnlineLearner:
    """Runs sequences through ``net`` while ``rule`` and ``optimizer`` change its weights."""

    def __init__(self, net, rule, optimizer, loss: str = "mse", update: str = "step"):
        _check_rule(rule)
        check_choice("OnlineLearner", "update", update, UPDATE_MODES)
        self.net, self.rule, self.optimizer = net, rule, optimizer
        self.loss = check_loss(loss)
        self.update = update
        self.steps = 0
        rule.bind(net)

    def _apply(self) -> None:
        deltas = self.optimizer.step(self.net.params, self.rule.gradients())
        self.net.enforce_constraints()
        self.rule.after_update(self.net, deltas)
        self.rule.zero_grad()

    def run_sequence(self, inputs, targets, mask=None, learn: bool = True) -> SequenceResult:
        """Run one sequence from a reset state; learn from it unless ``learn=False``."""
        inputs, targets, loss, mask = _prepare(self.net, inputs, targets, self.loss, mask)
        net, rule = self.net, self.rule
        net.reset_state()
        rule.begin_sequence()
        rule.zero_grad()
        outputs = np.empty((inputs.shape[0], net.n_out), net.dtype)
        online = learn and self.update == "step"
        for t in range(inputs.shape[0]):
            y = net.step(inputs[t])
            outputs[t] = y
            if learn:
                rule.step(net, output_error(loss, y, targets[t], mask[t]))
                if online:
                    self._apply()
        if learn and not online:
            self._apply()
        self.steps += inputs.shape[0]
        return SequenceResult(loss=loss_value(loss, outputs, targets, mask), outputs=outputs)
