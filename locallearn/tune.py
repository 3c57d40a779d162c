"""``locallearn tune``: equal-budget hyper-parameter search with Optuna (extra ``[tune]``).

A search is one TOML file (``sweeps/tune/<rule>.toml`` by convention)::

    [study]
    task = "catch"
    rule = "reward-eprop"            # the rule (and its feedback: rule = "eprop:random")
    trials = 40                      # the budget in trials, the same for every rule compared
    seeds = [1000, 1001, 1002]       # tuning seeds: >= 1000, never the evaluation seeds (0-999)
    # storage = "sqlite:///path.db" | "journal:path.log"   (default: SQLite next to the results)
    [config]                         # fixed settings, as in a run's config (the per-trial budget)
    training = { steps = 200000 }
    [space]                          # what is searched: dotted config keys
    "rule.lr" = { low = 1e-4, high = 1e-2, log = true }
    "rule.lam" = { low = 0.5, high = 0.99 }
    "network.n_rec" = { choices = [50, 100, 200] }

Each trial runs the task once per tuning seed, one after the other, as ordinary run directories
(``<out>/trial-<n>/seed-<s>``), and reports the learning curve to Optuna as it goes (the
validation metric of a supervised run, the training-window metric of a lifetime) so that the
median pruner can stop a poor trial early. Its value is the mean over seeds of the validation
metric at the stop (supervised) or of the training-window metric (lifetimes) — never a test
figure: the test and the evaluation seeds stay held out. Sampler: TPE (seeded); pruner: median
(5 startup trials, and never before a seed's first third: the check is skipped until then).

Trials run in ``workers`` processes (the same process pool as ``compare``; or ``--dask`` workers),
each optimising against the shared study storage, so the study is resumable: running the
command again continues to ``trials`` finished trials; a killed tuner loses only the trials that
were running (marked failed on restart). At the end ``<space>.best.toml`` is written next to the
space file: the configuration of the best trial, ready for ``locallearn run --config`` or
``compare --sweep``; and ``<out>/trials.csv`` lists every trial.
"""

from __future__ import annotations

import csv
import io as text_io
import json
import math
from pathlib import Path

from . import io
from .config import ConfigError

TUNING_SEED_MIN = 1000


def _optuna():
    try:
        import optuna
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError("tune needs optuna: pip install 'locallearn[tune]'") from error
    return optuna


def _toml(path: str | Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"search space file {path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def read_space(path: str | Path) -> dict:
    """The search file, checked: study settings, fixed config, and the space."""
    spec = _toml(path)
    unknown = sorted(set(spec) - {"study", "config", "space"})
    if unknown:
        raise ConfigError(f"{path}: unknown table {unknown[0]!r} (allowed: study, config, space)")
    study = dict(spec.get("study", {}))
    for key in ("task", "rule", "trials", "seeds"):
        if key not in study:
            raise ConfigError(f"{path}: [study] needs {key!r}")
    unknown = sorted(set(study) - {"task", "rule", "trials", "seeds", "storage", "name", "sampler_seed"})
    if unknown:
        raise ConfigError(f"{path}: unknown [study] key {unknown[0]!r}")
    seeds = study["seeds"]
    if not seeds or any(not isinstance(s, int) or s < TUNING_SEED_MIN for s in seeds):
        raise ConfigError(
            f"{path}: tuning seeds must be integers >= {TUNING_SEED_MIN} (evaluation "
            f"seeds stay below), got {seeds}"
        )
    if not isinstance(study["trials"], int) or study["trials"] < 1:
        raise ConfigError(f"{path}: [study] trials must be a positive integer")
    space = spec.get("space", {})
    if not space:
        raise ConfigError(f"{path}: [space] is empty: nothing to tune")
    for key, dist in space.items():
        if "." not in key or not isinstance(dist, dict):
            raise ConfigError(
                f"{path}: space entry {key!r} must be 'section.key' = {{low=, high=}} or {{choices=[...]}}"
            )
        if "choices" not in dist and not {"low", "high"} <= set(dist):
            raise ConfigError(f"{path}: space entry {key!r} needs low and high, or choices")
    return {"study": study, "config": spec.get("config", {}), "space": space, "path": str(path)}


def _set(config: dict, dotted: str, value) -> None:
    *sections, key = dotted.split(".")
    node = config
    for section in sections:
        node = node.setdefault(section, {})
    node[key] = value


def trial_config(spec: dict, params: dict, seed: int) -> dict:
    """The run configuration of one trial and seed: fixed settings, then the sampled values."""
    config = json.loads(json.dumps(spec["config"]))
    name, _, feedback = spec["study"]["rule"].partition(":")
    rule = {**config.get("rule", {}), "name": name}
    if feedback:
        rule["feedback"] = feedback
    config["rule"] = rule
    task = config.get("task", {})
    config["task"] = {**(task if isinstance(task, dict) else {}), "name": spec["study"]["task"]}
    for dotted, value in params.items():
        _set(config, dotted, value)
    config["seed"] = seed
    return config


def _suggest(trial, space: dict) -> dict:
    params = {}
    for dotted, dist in space.items():
        if "choices" in dist:
            params[dotted] = trial.suggest_categorical(dotted, list(dist["choices"]))
        elif isinstance(dist["low"], int) and isinstance(dist["high"], int) and not dist.get("log_float"):
            params[dotted] = trial.suggest_int(dotted, dist["low"], dist["high"], log=bool(dist.get("log")))
        else:
            params[dotted] = trial.suggest_float(
                dotted, float(dist["low"]), float(dist["high"]), log=bool(dist.get("log"))
            )
    return params


def _objective(spec: dict, out: Path):
    optuna = _optuna()
    from . import runs, tasks

    seeds = spec["study"]["seeds"]
    metric = tasks.get(spec["study"]["task"]).metric

    def objective(trial) -> float:
        params = _suggest(trial, spec["space"])
        values = []
        for index, seed in enumerate(seeds):
            config = trial_config(spec, params, seed)
            training = runs.resolve(config)["training"]
            budget = training["steps"] if "steps" in training else training["n_trials"]
            offset = index * 10**9
            # a lifetime reports on a grid of 1/50 of its budget: every episode would be a
            # storage round trip (thousands per trial on Catch), and a grid lines trials up
            curve = LearningCurve(metric, offset=offset, every=max(1, budget // 50))

            def report(row, curve=curve, offset=offset, budget=budget):
                point = curve.add(row)
                if point is None:
                    return
                trial.report(*point)
                if point[1] - offset >= budget / 3 and trial.should_prune():
                    raise optuna.TrialPruned()

            run_dir = out / f"trial-{trial.number}" / f"seed-{seed}"
            summary = runs.execute(config, run_dir, progress=False, callbacks=(report,))
            if summary["status"] != "completed":
                return float("nan")  # a failed (diverged) trial: Optuna records it as failed
            values.append(_tuning_value(summary))
        return float(sum(values) / len(values))

    return objective


class LearningCurve:
    """Turns metrics rows into (value, step) points for the pruner: a supervised run's validation
    metric at its trial count; a lifetime's mean metric over its last ``window`` finished
    episodes (single episodes are too noisy to compare), reported once per ``every`` steps at
    the grid point k * every that the last finished episode reached (so that trials whose
    episodes end at different steps are compared at the same steps). ``offset`` separates the
    seeds of a trial, which run one after the other."""

    def __init__(self, metric: str, offset: int = 0, window: int = 100, every: int = 1):
        self.metric, self.offset, self.window, self.every = metric, offset, window, every
        self.recent: list[float] = []
        self.next_report = every

    def add(self, row: dict) -> tuple[float, int] | None:
        if row.get("kind") == "validation":
            return float(row[self.metric]), self.offset + int(row["trial"])
        if "episode" in row and not row.get("unfinished"):
            self.recent = (self.recent + [float(row[self.metric])])[-self.window :]
            steps = int(row["steps"])
            if steps < self.next_report:
                return None
            point = steps // self.every * self.every
            self.next_report = point + self.every
            return sum(self.recent) / len(self.recent), self.offset + point
        return None


def _tuning_value(summary: dict) -> float:
    if summary["kind"] == "supervised":
        return float(summary["validation"]["metric"])
    return float(summary["value"]) if summary["value"] is not None else float("nan")


def _storage(spec: dict, out: Path):
    url = spec["study"].get("storage")
    if url is None:
        out.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(out / 'study.db').resolve()}"
    if url.startswith("journal:"):
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        return JournalStorage(JournalFileBackend(url[len("journal:") :]))
    return url


def _load_study(spec: dict, out: Path):
    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    from . import runs, tasks

    name = spec["study"].get("name") or Path(spec["path"]).stem
    higher = runs.is_environment(spec["study"]["task"]) or tasks.get(spec["study"]["task"]).higher_is_better
    sampler = optuna.samplers.TPESampler(seed=spec["study"].get("sampler_seed", 0))
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    return optuna.create_study(
        study_name=name,
        storage=_storage(spec, out),
        load_if_exists=True,
        direction="maximize" if higher else "minimize",
        sampler=sampler,
        pruner=pruner,
    )


def _started(study) -> int:
    """Trials that count against the budget: finished ones and those running now."""
    optuna = _optuna()
    states = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.RUNNING,
    )
    return len(study.get_trials(deepcopy=False, states=states))


def _work(spec: dict, out: str) -> None:
    """One worker: take a trial while the budget allows, run it, report it; repeat. Taking a
    trial happens under a file lock, so workers together run exactly ``trials`` trials."""
    import fcntl

    optuna = _optuna()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = Path(out)
    study = _load_study(spec, out)
    objective = _objective(spec, out)
    while True:
        with open(out / ".ask.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if _started(study) >= spec["study"]["trials"]:
                return
            trial = study.ask()
        try:
            value = objective(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            continue
        if math.isfinite(value):
            study.tell(trial, value)
        else:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)


def tune(space_path: str | Path, out: str | Path | None = None, workers: int = 1, executor=None) -> dict:
    """Run (or continue) the search ``space_path`` describes; returns the best trial's summary."""
    optuna = _optuna()
    spec = read_space(space_path)
    out = Path(out or Path("sweeps") / "tune" / Path(space_path).stem)
    from . import runs

    runs.resolve(trial_config(spec, {}, spec["study"]["seeds"][0]))  # a bad fixed config fails now
    study = _load_study(spec, out)
    for stale in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_state_values(stale._trial_id, optuna.trial.TrialState.FAIL)
    if executor is not None:
        futures = [executor.submit(_work, spec, str(out)) for _ in range(workers)]
        for future in futures:
            future.result()
    elif workers <= 1:
        _work(spec, str(out))
    else:
        from .sweep import process_pool

        with process_pool(workers) as pool:
            for future in [pool.submit(_work, spec, str(out)) for _ in range(workers)]:
                future.result()
    study = _load_study(spec, out)
    return _write_outputs(spec, study, out)


def _write_outputs(spec: dict, study, out: Path) -> dict:
    optuna = _optuna()
    trials = study.get_trials(deepcopy=False)
    buffer = text_io.StringIO()
    keys = sorted(spec["space"])
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["number", "state", "value", *keys])
    for t in trials:
        writer.writerow(
            [t.number, t.state.name, "" if t.value is None else t.value, *[t.params.get(k, "") for k in keys]]
        )
    io.write_text(out / "trials.csv", buffer.getvalue())
    complete = [
        t
        for t in trials
        if t.state == optuna.trial.TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
    ]
    if not complete:
        return {"best": None, "trials": len(trials)}
    best = study.best_trial
    config = trial_config(spec, best.params, 0)
    config.pop("seed")
    lines = [
        f"# best of {len(complete)} completed trials ({len(trials)} in all) of {spec['path']}:",
        f"# trial {best.number}, mean tuning value {best.value:.6g} over seeds {spec['study']['seeds']}",
        "# (written by locallearn tune; evaluate it on seeds the search never used)",
    ]
    for section in ("task", "network", "rule", "agent", "training"):
        if section in config:
            lines.append(f"[{section}]")
            for key, value in config[section].items():
                lines.append(f"{key} = {_toml_value(value)}")
    best_path = Path(spec["path"]).with_suffix(".best.toml")
    io.write_text(best_path, "\n".join(lines) + "\n")
    return {
        "best": {"number": best.number, "value": best.value, "params": best.params},
        "trials": len(trials),
        "best_config": str(best_path),
    }


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)
