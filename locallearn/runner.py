"""The online loop: a network, a rule and an optimizer fed one step at a time.

* :func:`gradient_estimate` runs one sequence with frozen weights and returns what the rule
  accumulated (the quantity compared with the exact references).
* :class:`OnlineLearner` runs sequences while learning: the weights change after every step
  (``update="step"``, truly online) or after every ``batch_size`` trials
  (``update="trial"``, the batch-of-trials protocol of the e-prop paper).
* :func:`run_supervised` is a whole experiment on a supervised task: a resolved configuration, a
  seeded trial stream, periodic evaluation on held-out trials, and a run directory holding
  ``config.json``, ``metrics.jsonl`` (one row per evaluation), ``weights.npz``,
  ``learning_curve.png`` and ``summary.json``. Memory does not grow with the number of trials.
"""

from __future__ import annotations

import copy
import inspect
import json
import math
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import io
from .config import ConfigError, check_choice, check_int, check_positive, unknown_name_message
from .losses import check_loss, loss_value, output_error, prepare_mask, prepare_targets
from .metrics import alignment_angle, cosine, gradient_cosine
from .network import Network, NetworkConfig
from .optim import OPTIMIZERS, SGD, make_optimizer

UPDATE_MODES = ("step", "trial")


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
    net = rule.net if getattr(rule, "net", None) is not None else copy.deepcopy(learner.net)
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
    if len(net.layers) < 2 or not hasattr(rule, "learning_signals"):
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
    pathways = getattr(rule, "feedbacks", None) or [getattr(rule, "feedback", None)]
    angles = {}
    for feedback in pathways:
        forward = getattr(feedback, "forward", None)
        if forward is None or not getattr(feedback, "transports", True):
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

    def __init__(self, net, rule, optimizer, loss: str = "mse", update: str = "step",
                 batch_size: int = 1):
        _check_rule(rule)
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
        self.direct = (update == "step" and type(optimizer) is SGD
                       and hasattr(rule, "accumulate_into_weights")
                       and not getattr(rule, "feedback_learns",
                                       getattr(getattr(rule, "feedback", None), "learns", False)))

    def run_batch(self, inputs, targets, mask=None) -> list[SequenceResult]:
        """Learn from B sequences at once (``inputs`` (B, T, n_in); ``targets`` (B, T, n_out) or
        (B, T) class indices; ``mask`` (B, T)) with the weights frozen across them — what
        ``update="trial"`` does to B consecutive trials, with one batched forward pass and one
        BLAS-3 product per weight matrix (``rule.learn_batch``). Counts B trials and applies
        the optimizer whenever ``batch_size`` trials have been seen."""
        if self.update != "trial":
            raise ValueError("run_batch needs update='trial' (weights frozen within a batch)")
        if not hasattr(self.rule, "learn_batch") or not self._whole_sequence(True):
            raise NotImplementedError(f"rule {self.rule.name!r} on this network has no batched "
                                      "path; use run_sequence")
        inputs = np.asarray(inputs)
        if inputs.ndim != 3:
            raise ValueError(f"inputs must have shape (B, T, n_in), got {inputs.shape}")
        n_batch, n_steps = inputs.shape[:2]
        masks = [None] * n_batch if mask is None else list(mask)
        prepared = [_prepare(self.net, inputs[b], targets[b], self.loss, masks[b])
                    for b in range(n_batch)]
        x = np.stack([p[0] for p in prepared])
        t = np.stack([p[1] for p in prepared])
        m = np.stack([p[3] for p in prepared])
        record = self.rule.learn_batch(self.net, x, t, self.loss, m)
        self.steps += n_batch * n_steps
        before = self.trials
        self.trials += n_batch
        if self.trials // self.batch_size > before // self.batch_size:
            self._apply()
        return [SequenceResult(loss=loss_value(self.loss, record["y"][b], t[b], m[b]),
                               outputs=record["y"][b], spikes=int(record["z"][b].sum()))
                for b in range(n_batch)]

    def _whole_sequence(self, learn: bool) -> bool:
        if len(self.net.layers) != 1 or self.net.config.spike_fn == "escape":
            return False
        if not learn:
            return True
        return hasattr(self.rule, "learn_sequence") and self.rule.can_learn_sequence(self.net)

    def _apply(self) -> None:
        deltas = self.optimizer.step(self.net.params, self.rule.gradients())
        self.net.enforce_constraints()
        self.rule.after_update(self.net, deltas)
        self.rule.zero_grad()

    def run_sequence(self, inputs, targets, mask=None, learn: bool = True) -> SequenceResult:
        """Run one sequence from a reset state; learn from it unless ``learn=False`` (then the
        rule is not touched at all, so evaluation never disturbs a batch in progress)."""
        inputs, targets, loss, mask = _prepare(self.net, inputs, targets, self.loss, mask)
        net, rule = self.net, self.rule
        net.reset_state()
        if learn:
            rule.begin_sequence()
        if not (learn and self.update == "step") and self._whole_sequence(learn):
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
            return SequenceResult(loss=loss_value(loss, record["y"], targets, mask),
                                  outputs=record["y"], spikes=int(record["z"].sum()))
        outputs = np.empty((inputs.shape[0], net.n_out), net.dtype)
        spikes = 0.0
        z = net.layers[-1].state.z
        online = learn and self.update == "step"
        direct = online and self.direct
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
        return SequenceResult(loss=loss_value(loss, outputs, targets, mask), outputs=outputs,
                              spikes=int(spikes))


# ----------------------------------------------------------------------------- experiments
@dataclass(frozen=True)
class TrainingConfig:
    """How a supervised run trains and evaluates.

    ``n_trials`` training trials; weights change every step (``update="step"``) or every
    ``batch_size`` trials (``update="trial"``). Every ``eval_every`` trials the network is scored on
    ``eval_trials`` held-out trials (the same ones each time); at the end, and whenever the quick
    evaluation reaches ``target``, on ``final_eval_trials``. A final evaluation that reaches
    ``target`` ends the run early (the reference code's stopping criterion). The learning rate is
    multiplied by ``lr_decay`` every ``lr_decay_every`` trials (1.0: constant). With
    ``gradient_check`` every evaluation also logs ``grad_cosine``: the cosine between the rule's
    estimate and the exact BPTT gradient for the weights below the readout, on one fixed
    held-out trial (it costs one BPTT pass per evaluation).
    """

    n_trials: int = 1000
    update: str = "trial"
    batch_size: int = 1
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_decay: float = 1.0
    lr_decay_every: int = 100
    eval_every: int = 50
    eval_trials: int = 64
    final_eval_trials: int = 512
    target: float | None = None
    gradient_check: bool = False

    def __post_init__(self):
        owner = "training"
        for name in ("n_trials", "batch_size", "eval_every", "eval_trials", "final_eval_trials",
                     "lr_decay_every"):
            check_int(owner, name, getattr(self, name), minimum=1)
        check_choice(owner, "update", self.update, UPDATE_MODES)
        check_choice(owner, "optimizer", self.optimizer, OPTIMIZERS)
        check_positive(owner, "lr", self.lr)
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"training.lr_decay must lie in (0, 1], got {self.lr_decay}")
        if self.target is not None and not isinstance(self.target, int | float):
            raise ConfigError(f"training.target must be a number or absent, got {self.target!r}")


SECTIONS = ("seed", "task", "network", "rule", "training")


def _construct(kind: str, factory: Callable, options: dict):
    """Call ``factory(**options)``, turning unknown keywords into a ConfigError naming them."""
    parameters = inspect.signature(factory).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        allowed = [n for n, p in parameters.items() if p.kind is not p.VAR_POSITIONAL]
        for key in options:
            if key not in allowed:
                raise ConfigError(unknown_name_message(f"{kind} option", key, allowed))
    return factory(**options)


def new_run_dir(out: str | Path, config: dict) -> Path:
    """Create run directory ``out`` holding ``config.json``; refuse one that already holds a run."""
    out = Path(out)
    if (out / "summary.json").exists() or (out / "metrics.jsonl").exists():
        raise FileExistsError(f"{out} already holds a run; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    io.write_json(out / "config.json", config)
    return out


def open_run_dir(user_config, out, resume: bool, resolve) -> tuple[dict, Path, dict | None]:
    """(config, run directory, summary): a new directory for ``resolve(user_config)``, or with
    ``resume`` the existing one and its own config; ``summary`` is set when that run completed."""
    out = Path(out)
    if not resume:
        config = resolve(user_config)
        return config, new_run_dir(out, config), None
    if not (out / "config.json").exists():
        raise ConfigError(f"{out} is not a run directory (no config.json) to resume")
    summary_path = out / "summary.json"
    finished = io.read_json(summary_path) if summary_path.exists() else None
    if finished and finished.get("status") != "completed":
        finished = None
    return io.read_json(out / "config.json"), out, finished


def build_task(section: dict, name: str | None = None):
    """The task a resolved ``task`` table describes (``name`` overrides its name)."""
    from . import tasks

    options = {k: v for k, v in section.items() if k != "name"}
    return tasks.make(name or section["name"], **options)


def _rule_section(default: dict, user: dict) -> dict:
    """The task's default rule options apply only when the user keeps the default rule."""
    if "name" in user and user["name"] != default.get("name"):
        return dict(user)
    return {**default, **user}


def resolve_config(user: dict[str, Any]) -> dict[str, Any]:
    """Fill a partial run configuration with the task's defaults and validate every section.

    ``user`` has ``task`` (a name or a table with ``name`` and task options), optional ``network``
    (NetworkConfig fields), ``rule`` (``name`` and rule options), ``training`` (TrainingConfig
    fields) and ``seed``. Unknown keys anywhere raise a ConfigError naming them.
    """
    from . import rules, tasks

    unknown = sorted(set(user) - set(SECTIONS))
    if unknown:
        raise ConfigError(unknown_name_message("config section", unknown[0], SECTIONS))
    seed = user.get("seed", 0)
    check_int("config", "seed", seed, minimum=0)
    task_section = user.get("task")
    if task_section is None:
        raise ConfigError(f"config needs a task (available: {', '.join(tasks.available())})")
    if isinstance(task_section, str):
        task_section = {"name": task_section}
    task_section = dict(task_section)
    task_name = task_section.pop("name", None)
    task_class = tasks.get(task_name)
    if getattr(task_class, "kind", None) == "environment":
        raise ConfigError(f"{task_name!r} is an environment; run it with locallearn.lifetime")
    task = _construct(f"task {task_name!r}", task_class, task_section)
    defaults = getattr(task_class, "defaults", {})

    network = {**defaults.get("network", {}), **user.get("network", {})}
    for key in ("n_in", "n_out"):
        if key in network and network[key] != getattr(task, key):
            raise ConfigError(f"network.{key} = {network[key]} contradicts task {task_name!r} "
                              f"({key} = {getattr(task, key)})")
    network.update(n_in=task.n_in, n_out=task.n_out, seed=network.get("seed", seed))
    NetworkConfig.from_dict(network)

    rule_section = _rule_section(defaults.get("rule", {"name": "eprop"}), user.get("rule", {}))
    rule_options = {k: v for k, v in rule_section.items() if k != "name"}
    _construct(f"rule {rule_section['name']!r}", rules.get(rule_section["name"]), rule_options)

    training = {**defaults.get("training", {}), **user.get("training", {})}
    unknown = sorted(set(training) - {f for f in TrainingConfig.__dataclass_fields__})
    if unknown:
        raise ConfigError(unknown_name_message("training key", unknown[0],
                                               TrainingConfig.__dataclass_fields__))
    training = asdict(TrainingConfig(**training))
    return {"seed": seed, "task": {"name": task_name, **task_section}, "network": network,
            "rule": rule_section, "training": training}


@dataclass
class Run:
    """The live objects of an experiment, handed to callbacks."""

    config: dict
    task: Any
    net: Network
    rule: Any
    learner: OnlineLearner
    out: Path
    rows: list = field(default_factory=list)


class _Interrupt:
    """Turns SIGINT into a flag checked between trials, so the run stops at a clean boundary."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave the default handler alone
            self.previous = None
        return self

    def _handle(self, signum, frame):
        if self.requested:  # a second Ctrl-C stops at once
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def evaluate(task, learner: OnlineLearner, n_trials: int, seed: int, keep_last: bool = False):
    """Mean metric and loss on ``n_trials`` held-out trials (the same ones for the same seed)."""
    rng = np.random.default_rng([seed, 0xE7A1])
    scores, losses, spikes, steps = [], [], 0, 0
    last = None
    for _ in range(n_trials):
        trial = task.trial(rng)
        result = learner.run_sequence(trial.inputs, trial.targets, trial.mask, learn=False)
        scores.append(task.score(result.outputs, trial))
        losses.append(result.loss)
        spikes += result.spikes
        steps += trial.inputs.shape[0]
        if keep_last:
            last = (trial, result)
    net = learner.net
    rate_hz = spikes / (steps * net.n_rec) * 1000 / net.config.dt
    return {"metric": float(np.mean(scores)), "loss": float(np.mean(losses)),
            "rate_hz": float(rate_hz)}, last


def _write_checkpoint(out: Path, learner: OnlineLearner, train_rng, trial_index: int,
                      n_rows: int, elapsed: float) -> None:
    """Everything a resumed run needs to continue exactly as an uninterrupted one would (taken
    between trials, where the network's state is reset anyway)."""
    arrays = {f"params/{k}": v for k, v in learner.net.params.items()}
    arrays.update({f"optimizer/{k}": np.asarray(v)
                   for k, v in learner.optimizer.state_dict().items()})
    if hasattr(learner.rule, "state_dict"):
        arrays.update({f"rule/{k}": np.asarray(v) for k, v in learner.rule.state_dict().items()})
    meta = {"trial_index": trial_index, "steps": learner.steps, "trials": learner.trials,
            "lr": learner.optimizer.lr, "train_rng": train_rng.bit_generator.state,
            "rows": n_rows, "elapsed": elapsed,
            "noise": [None if layer.noise is None else layer.noise.bit_generator.state
                      for layer in learner.net.layers]}
    arrays["meta"] = np.array(json.dumps(meta))
    io.write_npz(out / "checkpoint.npz", arrays)


def _restore_checkpoint(path: Path, learner: OnlineLearner, train_rng) -> dict:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays.pop("meta")))
    for name, value in learner.net.params.items():
        value[...] = arrays[f"params/{name}"]
    learner.optimizer.load_state_dict({k[len("optimizer/"):]: v for k, v in arrays.items()
                                       if k.startswith("optimizer/")})
    learner.optimizer.lr = meta["lr"]
    if hasattr(learner.rule, "load_state_dict"):
        learner.rule.load_state_dict({k[len("rule/"):]: v for k, v in arrays.items()
                                      if k.startswith("rule/")})
    learner.steps, learner.trials = meta["steps"], meta["trials"]
    train_rng.bit_generator.state = meta["train_rng"]
    for layer, state in zip(learner.net.layers, meta.get("noise", [])):
        if state is not None:
            layer.noise.bit_generator.state = state
    return meta


def run_supervised(user_config: dict | None, out: str | Path, progress: bool = True,
                   callbacks: tuple = (), resume: bool = False) -> dict:
    """Train on a supervised task as ``user_config`` says; write the run directory ``out``.

    Returns the summary (also written to ``summary.json``). Ctrl-C stops after the current trial
    and still writes every file, with ``"status": "interrupted"``. Callbacks are called as
    ``callback(run, row)`` after each evaluation. A checkpoint is written at every evaluation;
    ``resume=True`` continues the run in ``out`` from it (its own config.json; ``user_config`` is
    ignored) and ends with the weights an uninterrupted run would have.
    """
    from . import analysis, rules

    config, out, finished = open_run_dir(user_config, out, resume, resolve_config)
    if finished:
        return finished
    task = build_task(config["task"])
    net = Network(NetworkConfig.from_dict(config["network"]))
    rule_options = {k: v for k, v in config["rule"].items() if k != "name"}
    rule = rules.make(config["rule"]["name"], **rule_options)
    training = TrainingConfig(**config["training"])
    learner = OnlineLearner(net, rule, make_optimizer(training.optimizer, lr=training.lr),
                            loss=task.loss, update=training.update, batch_size=training.batch_size)
    run = Run(config=config, task=task, net=net, rule=rule, learner=learner, out=out)
    seed = config["seed"]
    train_rng = np.random.default_rng([seed, 0x7A1])
    start = time.perf_counter()
    status, message, final, last = "completed", None, None, None
    running_loss = []
    checkpoint_path = out / "checkpoint.npz"
    trial_index, checkpoint_trial = 0, None
    if resume and checkpoint_path.exists():
        meta = _restore_checkpoint(checkpoint_path, learner, train_rng)
        trial_index = checkpoint_trial = meta["trial_index"]
        start -= meta["elapsed"]
        run.rows = io.read_jsonl(out / "metrics.jsonl")[:meta["rows"]]
    elif resume:  # killed before its first checkpoint: start over in the same directory
        (out / "metrics.jsonl").unlink(missing_ok=True)
    if resume:  # rows written after the checkpoint will be written again
        io.write_text(out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in run.rows))

    check_trial = task.trial(np.random.default_rng([seed, 0x6C05])) if training.gradient_check \
        else None

    def record(trials_done: int, evaluation: dict, kind: str) -> dict:
        row = {"trial": trials_done, "steps": learner.steps, "kind": kind,
               "wall_seconds": round(time.perf_counter() - start, 3),
               task.metric: evaluation["metric"], "eval_loss": evaluation["loss"],
               "train_loss": float(np.mean(running_loss)) if running_loss else None,
               "rate_hz": evaluation["rate_hz"]}
        row.update(feedback_alignment(learner.rule))
        if training.gradient_check:
            row["grad_cosine"] = round(gradient_check(learner, check_trial), 6)
            row.update(learning_signal_angles(learner.net, learner.rule, check_trial,
                                              learner.loss))
        io.append_jsonl(out / "metrics.jsonl", row)
        run.rows.append(row)
        for callback in callbacks:
            callback(run, row)
        return row

    def reached(value: float) -> bool:
        if training.target is None:
            return False
        return value >= training.target if task.higher_is_better else value <= training.target

    def checkpoint() -> None:
        nonlocal checkpoint_trial
        _write_checkpoint(out, learner, train_rng, trial_index, len(run.rows),
                          time.perf_counter() - start)
        checkpoint_trial = trial_index

    bar = _progress(training.n_trials, progress, f"{task.name} / {_rule_label(config)}")
    bar.update(trial_index)
    with _Interrupt() as interrupt:
        try:
            if checkpoint_trial is None:
                record(0, evaluate(task, learner, training.eval_trials, seed)[0], "eval")
                checkpoint()
            while trial_index < training.n_trials:
                if interrupt.requested:
                    status = "interrupted"
                    break
                trial = task.trial(train_rng)
                result = learner.run_sequence(trial.inputs, trial.targets, trial.mask)
                trial_index += 1
                running_loss.append(result.loss)
                if not math.isfinite(result.loss):
                    raise FloatingPointError(f"the loss became {result.loss}")
                net.check_finite()
                if trial_index % training.lr_decay_every == 0:
                    learner.optimizer.lr *= training.lr_decay
                bar.update(1)
                at_batch_end = learner.update == "step" or trial_index % training.batch_size == 0
                if at_batch_end and (trial_index % training.eval_every == 0
                                     or trial_index == training.n_trials):
                    evaluation, _ = evaluate(task, learner, training.eval_trials, seed)
                    row = record(trial_index, evaluation, "eval")
                    running_loss.clear()
                    rate = learner.steps / max(time.perf_counter() - start, 1e-9)
                    bar.set_postfix({task.metric: f"{row[task.metric]:.3f}",
                                     "steps/s": f"{rate:.0f}"})
                    if reached(evaluation["metric"]):
                        final, last = evaluate(task, learner, training.final_eval_trials, seed,
                                               keep_last=True)
                        record(trial_index, final, "final")
                        if reached(final["metric"]):
                            break
                        final = None
                    checkpoint()
        except KeyboardInterrupt:
            status = "interrupted"
        except FloatingPointError as error:
            status = "failed"
            message = (f"{error} at trial {trial_index} (step {learner.steps}); last finite "
                       f"checkpoint: trial {checkpoint_trial}, {checkpoint_path}")
        finally:
            bar.close()
    if final is None and status == "completed":
        final, last = evaluate(task, learner, training.final_eval_trials, seed, keep_last=True)
        record(learner.trials, final, "final")
    io.write_npz(out / "weights.npz", {k: np.asarray(v) for k, v in net.params.items()})
    analysis.plot_learning_curve(run.rows, task.metric, out / "learning_curve.png",
                                 title=f"{task.name} — {_rule_label(config)}, seed {seed}")
    if last is not None and task.loss == "mse":
        analysis.plot_outputs(last[1].outputs, last[0].targets, out / "output_vs_target.png")
    value = final["metric"] if final else (run.rows[-1][task.metric] if run.rows else None)
    summary = {"task": task.name, "rule": config["rule"]["name"], "rule_label": _rule_label(config),
               "seed": seed, "steps": learner.steps, "trials": learner.trials,
               "wall_seconds": round(time.perf_counter() - start, 3), "metric": task.metric,
               "value": value, "evaluated_on": (training.final_eval_trials if final
                                                else training.eval_trials),
               "update": training.update, "batch_size": training.batch_size, "status": status}
    if message:
        summary["message"] = message
    io.write_json(out / "summary.json", summary)
    return summary


def _rule_label(config: dict) -> str:
    rule = config["rule"]
    feedback = rule.get("feedback")
    return f"{rule['name']}:{feedback}" if isinstance(feedback, str) else rule["name"]


def _progress(total: int, enabled: bool, description: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="trial", desc=description, disable=not enabled, dynamic_ncols=True)
