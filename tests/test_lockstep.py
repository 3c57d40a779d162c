"""Lifetimes in lockstep write, bit for bit, what separate lifetimes write: weights, episode rows,
summaries; also when one fails, when the group is interrupted and resumed, and through `compare`."""

import numpy as np
import pytest

from locallearn import io, sweep
from locallearn.config import ConfigError
from locallearn.runs import Divergence, execute, execute_lockstep
from locallearn.runs.lifetime import LifetimeSchedule

SHORT = {"catch": 600, "flappy": 600, "pong": 600, "ale_pong": 300}  # steps of a lifetime
GAME_CUT = {"pong": 150, "ale_pong": 100}  # games cut short, so that every lifetime writes rows


def _config(task: str, seed: int, dtype: str = "float32", rule: dict | None = None) -> dict:
    return {
        "task": task,
        "seed": seed,
        "network": {"dtype": dtype},
        "rule": rule or {},
        "training": {
            "steps": SHORT[task],
            "checkpoint_every": 200,
            "eval_episodes": 2,
            "eval_max_steps": 300,
            "max_episode_steps": GAME_CUT.get(task),
        },
    }


def _timeless(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "wall_seconds"} for row in rows]


def _same_files(a, b) -> None:
    """Two run directories hold the same lifetime: rows, weights, summary figures."""
    assert io.read_jsonl(a / "metrics.jsonl")  # some episodes ended: the rows are compared
    assert _timeless(io.read_jsonl(a / "metrics.jsonl")) == _timeless(io.read_jsonl(b / "metrics.jsonl"))
    with np.load(a / "weights.npz") as left, np.load(b / "weights.npz") as right:
        assert sorted(left.files) == sorted(right.files)
        for name in left.files:
            assert left[name].dtype == right[name].dtype
            np.testing.assert_array_equal(left[name], right[name], err_msg=name)
    x, y = io.read_json(a / "summary.json"), io.read_json(b / "summary.json")
    for key in ("status", "steps", "episodes", "value", "mean_return", "evaluation", "config_fingerprint"):
        assert x[key] == y[key], key


def _lockstep_equals_alone(tmp_path, task: str, dtype: str, seeds=(0, 1, 2)) -> None:
    configs = [_config(task, seed, dtype) for seed in seeds]
    outs = [tmp_path / "lockstep" / f"seed{seed}" for seed in seeds]
    summaries = execute_lockstep(configs, outs, progress=False)
    assert [s["status"] for s in summaries] == ["completed"] * len(seeds)
    assert all(s["lockstep"] == len(seeds) for s in summaries)
    for seed, config, out in zip(seeds, configs, outs):
        alone = tmp_path / "alone" / f"seed{seed}"
        execute(config, alone, progress=False)
        _same_files(out, alone)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("task", ["catch", "flappy", "pong"])
def test_lockstep_lifetimes_equal_separate_ones(tmp_path, task, dtype):
    _lockstep_equals_alone(tmp_path, task, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lockstep_on_real_pong_equals_separate_lifetimes(tmp_path, dtype):
    pytest.importorskip("ale_py", reason="needs the [games] extra")
    _lockstep_equals_alone(tmp_path, "ale_pong", dtype, seeds=(0, 1))


def test_a_lockstep_group_of_different_rules_still_equals_separate_lifetimes(tmp_path):
    configs = [
        _config("catch", 0, rule={"name": "reward-eprop", "feedback": "random"}),
        _config("catch", 1, rule={"name": "rstdp"}),
        _config("catch", 2, rule={"name": "stream-ac"}),
    ]
    outs = [tmp_path / "lockstep" / str(k) for k in range(3)]
    execute_lockstep(configs, outs, progress=False)
    for k, config in enumerate(configs):
        execute(config, tmp_path / "alone" / str(k), progress=False)
        _same_files(outs[k], tmp_path / "alone" / str(k))


def test_a_diverging_lifetime_fails_alone_and_the_others_complete(tmp_path, monkeypatch):
    advance = LifetimeSchedule.advance

    def poisoned(self, limit):
        if self.config["seed"] == 1 and self.position >= 250:
            raise Divergence("weights became nan (injected)")
        return advance(self, limit)

    monkeypatch.setattr(LifetimeSchedule, "advance", poisoned)
    outs = [tmp_path / f"seed{seed}" for seed in range(3)]
    summaries = execute_lockstep([_config("catch", s) for s in range(3)], outs, progress=False)
    assert [s["status"] for s in summaries] == ["completed", "failed", "completed"]
    assert "step 200" in summaries[1]["message"]  # its last finite checkpoint
    monkeypatch.setattr(LifetimeSchedule, "advance", advance)
    execute(_config("catch", 2), tmp_path / "alone", progress=False)
    _same_files(outs[2], tmp_path / "alone")


def test_an_interrupted_group_resumes_to_the_uninterrupted_files(tmp_path, monkeypatch):
    advance = LifetimeSchedule.advance

    def interrupted(self, limit):
        if self.config["seed"] == 2 and self.position == 450:
            raise KeyboardInterrupt
        return advance(self, limit)

    monkeypatch.setattr(LifetimeSchedule, "advance", interrupted)
    configs = [_config("catch", s) for s in range(3)]
    outs = [tmp_path / "group" / f"seed{s}" for s in range(3)]
    summaries = execute_lockstep(configs, outs, progress=False)
    assert [s["status"] for s in summaries] == ["interrupted"] * 3
    monkeypatch.setattr(LifetimeSchedule, "advance", advance)
    resumed = execute_lockstep([None] * 3, outs, resume=True, progress=False)
    assert [s["status"] for s in resumed] == ["completed"] * 3
    for seed, out in enumerate(outs):
        execute(configs[seed], tmp_path / "alone" / str(seed), progress=False)
        _same_files(out, tmp_path / "alone" / str(seed))
    again = execute_lockstep([None] * 3, outs, resume=True, progress=False)  # nothing left to run
    assert [s["wall_seconds"] for s in again] == [s["wall_seconds"] for s in resumed]


def test_compare_in_lockstep_gives_the_rows_of_separate_cells(tmp_path):
    overrides = {"training": {"steps": 400, "checkpoint_every": 200, "eval_episodes": 0}}
    cells = sweep.cells([("reward-eprop", "random"), ("rstdp", None)], ["catch"], [0, 1, 2], overrides)
    assert [len(g) for g in sweep.lockstep_groups(cells, 2)] == [2, 1, 2, 1]
    grouped = sweep.run_sweep(cells, tmp_path / "grouped", workers=1, lockstep=2)
    alone = sweep.run_sweep(cells, tmp_path / "alone", workers=1)
    assert [(r["label"], r["seed"], r["value"], r["status"]) for r in grouped] == [
        (r["label"], r["seed"], r["value"], r["status"]) for r in alone
    ]
    for row, other in zip(grouped, alone):
        _same_files(
            tmp_path / "grouped" / row["run_dir"].rsplit("/", 1)[1],
            tmp_path / "alone" / other["run_dir"].rsplit("/", 1)[1],
        )
    again = sweep.run_sweep(cells, tmp_path / "grouped", workers=1, lockstep=3)
    assert all(r["reused"] for r in again)


def test_lockstep_refuses_what_it_cannot_run(tmp_path):
    with pytest.raises(ConfigError, match="supervised task"):
        execute_lockstep([{"task": "evidence"}], [tmp_path / "a"], progress=False)
    with pytest.raises(ConfigError, match="distinct run directories"):
        execute_lockstep([_config("catch", 0), _config("catch", 1)], [tmp_path / "a", tmp_path / "a"])
    with pytest.raises(ConfigError, match="one run directory per lifetime"):
        execute_lockstep([_config("catch", 0)], [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(ConfigError, match="lockstep"):
        sweep.run_sweep(sweep.cells([("rstdp", None)], ["catch"], [0]), tmp_path / "s", lockstep=0)


def test_run_seeds_on_the_command_line_is_lockstep_and_resumes_several_directories(tmp_path, capsys):
    from locallearn.cli import main

    common = ["--task", "catch", "--steps", "300", "--set", "training.eval_episodes=0", "--no-progress"]
    assert main(["run", *common, "--seeds", "0-1", "--out", str(tmp_path / "group")]) == 0
    outs = sorted((tmp_path / "group").iterdir())
    assert [p.name for p in outs] == [
        "catch-reward-eprop-symmetric-seed0",
        "catch-reward-eprop-symmetric-seed1",
    ]
    assert "2 lifetimes in lockstep" in capsys.readouterr().out
    assert main(["run", "--resume", *map(str, outs), "--no-progress"]) == 0  # completed: returned as is
    assert main(["run", *common, "--seed", "0", "--out", str(tmp_path / "alone")]) == 0
    _same_files(outs[0], tmp_path / "alone")
    capsys.readouterr()
    assert main(["run", *common, "--seed", "0", "--seeds", "0-1"]) == 2
    assert "give --seed or --seeds, not both" in capsys.readouterr().err
    assert main(["run", "--task", "evidence", "--seeds", "0-1", "--trials", "2"]) == 2
    assert "supervised task" in capsys.readouterr().err


def test_the_lockstep_benchmark_writes_its_table(tmp_path):
    from conftest import load_benchmark

    out = tmp_path / "lockstep.json"
    load_benchmark("lockstep").main(
        [
            "--tasks",
            "catch",
            "--ks",
            "1,2",
            "--steps",
            "100",
            "--repeats",
            "1",
            "--cores",
            "2",
            "--out",
            str(out),
        ]
    )
    data = io.read_json(out)
    assert [row[:3] for row in data["rows"]] == [["catch", 1, 1], ["catch", 2, 2]]
    assert set(data["seconds"]) == {"catch/K=1", "catch/K=2"}
