"""Supervised runs: a seeded stream of training trials, validation during training, a test at
the end — three disjoint streams (``locallearn.streams``: "train", "validation", "test").

* Every ``eval_every`` trials the network is scored on ``validation_trials`` trials (the same
  ones each time): the learning curve, and — with ``target`` set and ``early_stopping`` on —
  the stopping rule: the run ends at the first validation score that reaches ``target``.
  Without ``target`` (or with ``early_stopping = false``) the budget of ``n_trials`` is fixed.
* At the end, and only then, ``test_trials`` fresh trials are drawn from the test stream and
  scored once: the reported figure (``summary.json``'s ``value`` and ``test``), with its 95 %
  interval — Wilson's for per-trial 0/1 scores (accuracy), Student's t over trials otherwise. The
  test trials never choose anything, so the number is held out; the validation score at the stop
  is reported beside it (``validation``) so the gap is visible.
* Divergence: non-finite weights (checked before every update and evaluation), a non-finite loss,
  or a validation loss above ``divergence_factor`` times the initial one ends the run "failed".

The learning rate is multiplied by ``lr_decay`` every ``lr_decay_every`` trials. With
``gradient_check`` every evaluation also logs ``grad_cosine``, the cosine between the rule's
estimate and the exact BPTT gradient below the readout on one fixed trial (one BPTT pass each).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import analysis, io, stats, streams
from ..config import ConfigError, check_choice, check_int, check_positive
from ..network import Network, NetworkConfig
from ..optim import OPTIMIZERS, make_optimizer
from ..runner import UPDATE_MODES, OnlineLearner, feedback_alignment, gradient_check, learning_signal_angles
from .framework import (
    Divergence,
    ScheduleBase,
    build_rule,
    build_task,
    config_record,
    construct,
    rule_config,
    rule_label,
    split_task,
    training_config,
)


@dataclass(frozen=True)
class TrainingConfig:
    """How a supervised run trains, validates and tests (see the module docstring)."""

    n_trials: int = 1000
    update: str = "trial"
    batch_size: int = 1
    optimizer: str = "adam"
    lr: float = 1e-3
    lr_decay: float = 1.0
    lr_decay_every: int = 100
    eval_every: int = 50
    validation_trials: int = 256
    test_trials: int = 1024
    target: float | None = None
    early_stopping: bool = True
    divergence_factor: float = 1e3
    gradient_check: bool = False

    def __post_init__(self):
        owner = "training"
        for name in (
            "n_trials",
            "batch_size",
            "eval_every",
            "validation_trials",
            "test_trials",
            "lr_decay_every",
        ):
            check_int(owner, name, getattr(self, name), minimum=1)
        check_choice(owner, "update", self.update, UPDATE_MODES)
        check_choice(owner, "optimizer", self.optimizer, OPTIMIZERS)
        check_positive(owner, "lr", self.lr)
        check_positive(owner, "divergence_factor", self.divergence_factor)
        if not 0 < self.lr_decay <= 1:
            raise ConfigError(f"training.lr_decay must lie in (0, 1], got {self.lr_decay}")
        if self.target is not None and (
            isinstance(self.target, bool) or not isinstance(self.target, int | float)
        ):
            raise ConfigError(f"training.target must be a number or absent, got {self.target!r}")
        for name in ("early_stopping", "gradient_check"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"training.{name} must be true or false, got {getattr(self, name)!r}")


SECTIONS = ("seed", "task", "network", "rule", "training", "record")


def evaluate(task, learner: OnlineLearner, trials: list) -> dict:
    """Per-trial scores and losses of ``learner`` on ``trials`` (weights frozen, rule untouched)."""
    scores, losses, spikes, steps = [], [], 0, 0
    last = None
    learner.net.check_finite()
    for trial in trials:
        result = learner.run_sequence(trial.inputs, trial.targets, trial.mask, learn=False)
        scores.append(task.score(result.outputs, trial))
        losses.append(result.loss)
        spikes += result.spikes
        steps += trial.inputs.shape[0]
        last = (trial, result)
    net = learner.net
    return {
        "scores": scores,
        "metric": float(np.mean(scores)),
        "loss": float(np.mean(losses)),
        "rate_hz": float(spikes / (steps * net.n_rec) * 1000 / net.config.dt),
        "last": last,
    }


def draw_trials(task, seed: int, stream: str, n: int) -> list:
    rng = streams.generator(seed, stream)
    return [task.trial(rng) for _ in range(n)]


def _record_section(section, network: dict, training: dict) -> dict:
    """The resolved ``record`` section of a supervised run: probe counts within the budget,
    neurons within the top layer; Neo and nixio must be installed."""
    from ..recording import ProbeConfig, _neo
    from .framework import checked_section

    if not isinstance(section, dict):
        raise ConfigError(f"record must be a table (trials, probe_trials, neurons), got {section!r}")
    values = checked_section(ProbeConfig, "record", section)
    n_rec = network["n_rec"]
    top = n_rec[-1] if isinstance(n_rec, list | tuple) else n_rec
    ProbeConfig(**values).neuron_ids(top)
    if values["trials"][-1] > training["n_trials"]:
        raise ConfigError(
            f"record.trials: {values['trials'][-1]} is beyond the run's {training['n_trials']} trials"
        )
    _neo()
    return values


class SupervisedSchedule(ScheduleBase):
    """Training trials with validation and a final test, for :func:`framework.execute`."""

    kind, unit = "supervised", "trial"

    @staticmethod
    def resolve(user: dict[str, Any]) -> dict[str, Any]:
        """Fill a partial configuration with the task's defaults and validate every section."""
        from .. import tasks

        seed, task_name, task_options = split_task(user, SECTIONS)
        task_class = tasks.get(task_name)
        if getattr(task_class, "kind", None) == "environment":
            raise ConfigError(f"{task_name!r} is an environment, not a supervised task")
        task = construct(f"task {task_name!r}", task_class, task_options)
        defaults = getattr(task_class, "defaults", {})
        network = {**defaults.get("network", {}), **user.get("network", {})}
        for key in ("n_in", "n_out"):
            if key in network and network[key] != getattr(task, key):
                raise ConfigError(
                    f"network.{key} = {network[key]} contradicts task {task_name!r} "
                    f"({key} = {getattr(task, key)})"
                )
        network.update(n_in=task.n_in, n_out=task.n_out, seed=network.get("seed", seed))
        NetworkConfig.from_dict(network)
        rule = rule_config(defaults, user, "supervised", "eprop", task_name)
        training = training_config(TrainingConfig, defaults, user)
        # present only when asked for: a run without it keeps its configuration fingerprint
        record = {"record": _record_section(user["record"], network, training)} if "record" in user else {}
        return config_record(
            seed, task_name, task_options, network=network, rule=rule, training=training, **record
        )

    def __init__(self, config: dict, directory, callbacks: tuple = ()):
        super().__init__(config, directory, callbacks)
        self.training = TrainingConfig(**config["training"])
        self.task = build_task(config["task"])
        net = Network(NetworkConfig.from_dict(config["network"]))
        t = self.training
        self.learner = OnlineLearner(
            net,
            build_rule(config["rule"]),
            make_optimizer(t.optimizer, lr=t.lr),
            loss=self.task.loss,
            update=t.update,
            batch_size=t.batch_size,
        )
        seed = config["seed"]
        self.train_rng = streams.generator(seed, "train")
        self.validation = draw_trials(self.task, seed, "validation", t.validation_trials)
        self.check_trial = draw_trials(self.task, seed, "gradient_check", 1)[0] if t.gradient_check else None
        self.total = t.n_trials
        self.probes = None
        if "record" in config:
            from ..recording import ProbeConfig

            probe = ProbeConfig(**config["record"])
            self.probes = {
                "at": list(probe.trials),
                "trials": draw_trials(self.task, seed, "probe_trials", probe.probe_trials),
                "neurons": probe.neuron_ids(net.layers[-1].n),
            }
        self.running_loss: list[float] = []
        self.initial_loss = None
        self.last_validation = None

    # ------------------------------------------------------------------ state
    def checkpoint_objects(self) -> dict:
        return {"learner": self.learner, "train_rng": self.train_rng}

    def counters(self) -> dict:
        return {
            "position": self.position,
            "elapsed": self.elapsed,
            "initial_loss": self.initial_loss,
            "last_validation": self.last_validation,
            "running_loss": self.running_loss,
        }

    def restore_counters(self, counters: dict, rows: list[dict]) -> None:
        self.position, self.elapsed = counters["position"], counters["elapsed"]
        self.initial_loss = counters["initial_loss"]
        self.last_validation = counters["last_validation"]
        self.running_loss = list(counters["running_loss"])
        self.rows_written = len(rows)

    def status(self) -> dict:
        rate = self.learner.steps / max(time.perf_counter() - self.clock, 1e-9)
        shown = {"steps/s": f"{rate:,.0f}"}
        if self.last_validation is not None:
            shown[f"validation {self.task.metric}"] = f"{self.last_validation['metric']:.3f}"
        return shown

    # ------------------------------------------------------------------ the schedule
    def _row(self, kind: str, evaluation: dict, trial: int) -> dict:
        learner = self.learner
        row = {
            "trial": trial,
            "steps": learner.steps,
            "kind": kind,
            "wall_seconds": round(time.perf_counter() - self.clock, 3),
            self.task.metric: evaluation["metric"],
            "loss": evaluation["loss"],
            "train_loss": float(np.mean(self.running_loss)) if self.running_loss else None,
            "rate_hz": evaluation["rate_hz"],
        }
        row.update(feedback_alignment(learner.rule))
        if self.training.gradient_check and kind == "validation":
            row["grad_cosine"] = round(gradient_check(learner, self.check_trial), 6)
            row.update(learning_signal_angles(learner.net, learner.rule, self.check_trial, learner.loss))
        self.write_row(row)
        return row

    def _validate(self) -> None:
        evaluation = evaluate(self.task, self.learner, self.validation)
        if not math.isfinite(evaluation["loss"]):
            raise Divergence(f"the validation loss became {evaluation['loss']} at trial {self.position}")
        if self.initial_loss is None:
            self.initial_loss = evaluation["loss"]
        elif evaluation["loss"] > self.training.divergence_factor * max(self.initial_loss, 1e-12):
            raise Divergence(
                f"the validation loss grew to {evaluation['loss']:.4g}, more than "
                f"{self.training.divergence_factor:g} x its initial "
                f"{self.initial_loss:.4g}, by trial {self.position}"
            )
        summary = stats.per_trial(evaluation["scores"])
        self.last_validation = {
            "trial": self.position,
            "metric": evaluation["metric"],
            "loss": evaluation["loss"],
            "n": summary.n,
            "low": summary.low,
            "high": summary.high,
            "interval": summary.method,
        }
        self._row("validation", evaluation, self.position)
        self.running_loss.clear()
        target = self.training.target
        if target is not None and self.training.early_stopping:
            better = self.task.higher_is_better
            if (evaluation["metric"] >= target) if better else (evaluation["metric"] <= target):
                self.stop_reason = (
                    f"validation {self.task.metric} {evaluation['metric']:.4g} reached the target {target:g}"
                )

    def begin(self) -> None:
        self._probe()
        self._validate()

    def _probe(self) -> None:
        """Record the network on the probe trials when the run is at one of the record's counts
        (a copy of it: training is untouched)."""
        if self.probes is None or self.position not in self.probes["at"]:
            return
        from ..recording import probe_network

        net = self.learner.net
        probe_network(
            net,
            self.task,
            self.probes["trials"],
            self.probes["neurons"],
            net.config.dt,
            self.probes["at"].index(self.position),
            self.position,
            self.config,
            self.directory.path,
        )

    def advance(self, limit: int) -> int:
        learner, t = self.learner, self.training
        trial = self.task.trial(self.train_rng)
        try:
            result = learner.run_sequence(trial.inputs, trial.targets, trial.mask)
            learner.net.check_finite()
        except FloatingPointError as error:
            raise Divergence(f"{error} at trial {self.position + 1} (step {learner.steps:,})") from None
        self.position += 1
        self.running_loss.append(result.loss)
        if not math.isfinite(result.loss):
            raise Divergence(f"the training loss became {result.loss} at trial {self.position}")
        if self.position % t.lr_decay_every == 0:
            learner.optimizer.lr *= t.lr_decay
        self._probe()
        at_batch_end = learner.update == "step" or self.position % t.batch_size == 0
        if at_batch_end and (self.position % t.eval_every == 0 or self.position == self.total):
            self._validate()
        return 1

    def checkpoint_due(self) -> bool:
        t = self.training
        at_batch_end = self.learner.update == "step" or self.position % t.batch_size == 0
        return at_batch_end and self.position % t.eval_every == 0

    def finish(self, status: str) -> dict:
        config, task, learner = self.config, self.task, self.learner
        t = self.training
        out = self.directory.path
        summary: dict = {
            "metric": task.metric,
            "higher_is_better": task.higher_is_better,
            "loss": task.loss,
            "steps": learner.steps,
            "trials": learner.trials,
            "update": t.update,
            "batch_size": t.batch_size,
            "stopped_early": self.stop_reason is not None,
        }
        if self.stop_reason:
            summary["stop_reason"] = self.stop_reason
        summary["validation"] = self.last_validation
        test = None
        if status == "completed":
            # drawn now, once: nothing above has seen these trials
            trials = draw_trials(task, config["seed"], "test", t.test_trials)
            evaluation = evaluate(task, learner, trials)
            interval = stats.per_trial(evaluation["scores"])
            test = {
                "metric": interval.mean,
                "n": interval.n,
                "low": interval.low,
                "high": interval.high,
                "interval": interval.method,
                "confidence": 0.95,
                "loss": evaluation["loss"],
                "rate_hz": evaluation["rate_hz"],
            }
            self._row("test", evaluation, learner.trials)
            if task.loss == "mse":
                trial, result = evaluation["last"]
                analysis.plot_outputs(
                    result.outputs,
                    trial.targets,
                    out / "output_vs_target.png",
                    title=f"{task.name}: readout vs target, a test trial",
                )
        summary["test"] = test
        summary["value"] = test["metric"] if test else None
        io.write_npz(out / "weights.npz", {k: np.asarray(v) for k, v in learner.net.params.items()})
        analysis.plot_learning_curve(
            self.directory.rows(),
            task.metric,
            out / "learning_curve.png",
            title=f"{task.name} — {rule_label(config)}, seed {config['seed']}",
            loss=task.loss,
            status=status,
        )
        summary["steps_per_second"] = round(learner.steps / max(self.elapsed, 1e-9), 1)
        return summary
