"""locallearn tune: a tiny Optuna search end to end, resumable, with held-out seeds enforced."""

import csv

import pytest

from locallearn import tune
from locallearn.cli import main
from locallearn.config import ConfigError

pytest.importorskip("optuna", reason="needs the [tune] extra")

SPACE = """
[study]
task = "catch"
rule = "reward-eprop:random"
trials = {trials}
seeds = [1000, 1001]
[config]
training = {{ steps = 300, eval_episodes = 0 }}
[space]
"rule.lr" = {{ low = 1e-4, high = 1e-2, log = true }}
"network.n_rec" = {{ choices = [10, 20] }}
"""


def test_a_small_search_writes_trials_and_the_best_configuration_and_resumes(tmp_path):
    space = tmp_path / "catch.toml"
    space.write_text(SPACE.format(trials=3))
    result = tune.tune(space, out=tmp_path / "study", workers=1)
    assert result["trials"] == 3 and result["best"] is not None
    best = (tmp_path / "catch.best.toml").read_text()
    assert "[rule]" in best and "lr = " in best and "n_rec = " in best
    with open(tmp_path / "study" / "trials.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and all(r["state"] == "COMPLETE" for r in rows)
    assert (tmp_path / "study" / "trial-0" / "seed-1000" / "summary.json").exists()
    space.write_text(SPACE.format(trials=4))  # a larger budget continues the same study
    assert tune.tune(space, out=tmp_path / "study", workers=1)["trials"] == 4


def test_tuning_seeds_below_1000_are_refused(tmp_path, capsys):
    space = tmp_path / "bad.toml"
    space.write_text(SPACE.format(trials=2).replace("[1000, 1001]", "[0, 1]"))
    with pytest.raises(ConfigError, match="tuning seeds must be integers >= 1000"):
        tune.read_space(space)
    assert main(["tune", str(space)]) == 2
    assert "tuning seeds" in capsys.readouterr().err


def test_the_learning_curve_fed_to_the_pruner_is_a_moving_mean_of_finished_episodes():
    curve = tune.LearningCurve("catch_rate", offset=10, window=2)
    assert curve.add({"episode": 1, "steps": 9, "catch_rate": 1.0}) == (1.0, 19)
    assert curve.add({"episode": 2, "steps": 18, "catch_rate": 0.0}) == (0.5, 28)
    assert curve.add({"episode": 3, "steps": 27, "catch_rate": 0.0, "unfinished": True}) is None
    assert curve.add({"episode": 4, "steps": 36, "catch_rate": 0.0}) == (0.0, 46)
