"""Rule comparisons: a small sweep end to end, reuse of finished cells, failures, bad input."""

import csv

import numpy as np
import pytest

from locallearn import io, sweep
from locallearn.cli import main
from locallearn.config import ConfigError

SMALL = {
    "task": {"n_cues": 1, "seq_len": 360},
    "network": {"n_rec": 12, "n_adaptive": 6},
    "training": {"n_trials": 6, "eval_every": 3, "validation_trials": 4, "test_trials": 4, "target": None},
}


def test_parse_rules_and_seeds():
    assert sweep.parse_rules("eprop:random, eprop:symmetric,rstdp") == [
        ("eprop", "random"),
        ("eprop", "symmetric"),
        ("rstdp", None),
    ]
    assert sweep.parse_seeds("0-2,5") == [0, 1, 2, 5]
    with pytest.raises(ConfigError):
        sweep.parse_seeds("-1")


def test_small_sweep_writes_results_and_reuses_finished_cells(tmp_path):
    cells = sweep.cells(sweep.parse_rules("eprop:random,eprop:symmetric"), ["evidence"], [0, 1], SMALL)
    rows = sweep.run_sweep(cells, tmp_path, workers=2)
    assert [r["status"] for r in rows] == ["completed"] * 4
    with open(tmp_path / "results.csv") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 4 and {r["label"] for r in table} == {"eprop:random", "eprop:symmetric"}
    text = (tmp_path / "results.md").read_text()
    assert "eprop:random" in text and "(n=2)" in text
    assert (tmp_path / "curves.png").stat().st_size > 0
    weights = np.load(tmp_path / cells[0].name / "weights.npz")["w_in"].copy()
    again = sweep.run_sweep(cells, tmp_path, workers=1)  # a restart skips what completed
    assert all(r["reused"] for r in again)
    np.testing.assert_array_equal(np.load(tmp_path / cells[0].name / "weights.npz")["w_in"], weights)
    assert [r["value"] for r in again] == [r["value"] for r in rows]


def test_an_unfinished_cell_is_redone(tmp_path):
    cells = sweep.cells([("eprop", "random")], ["evidence"], [0], SMALL)
    sweep.run_sweep(cells, tmp_path, workers=1)
    summary_path = tmp_path / cells[0].name / "summary.json"
    summary = io.read_json(summary_path)
    io.write_json(summary_path, {**summary, "status": "interrupted"})
    rows = sweep.run_sweep(cells, tmp_path, workers=1)
    assert rows[0]["status"] == "completed" and not rows[0]["reused"]


def test_a_diverging_cell_fails_alone(tmp_path):
    diverging = {**SMALL, "training": {**SMALL["training"], "lr": 1e38, "optimizer": "sgd"}}
    cells = sweep.cells([("eprop", "random")], ["evidence"], [0], diverging) + sweep.cells(
        [("eprop", "random")], ["evidence"], [1], SMALL
    )
    rows = sweep.run_sweep(cells, tmp_path, workers=1)
    assert rows[0]["status"] == "failed" and "non-finite" in rows[0]["message"]
    assert rows[1]["status"] == "completed"
    assert "1 failed" in (tmp_path / "results.md").read_text()


@pytest.mark.parametrize(
    "rules, tasks, fragment",
    [
        ("eprop:randm", "evidence", "unknown feedback mode 'randm'"),
        ("bptt", "evidence", "unknown rule 'bptt'"),
        ("eprop", "evidnce", "unknown task 'evidnce'"),
        ("eprop", "catch", "not a reinforcement-learning rule"),
    ],
)
def test_bad_sweeps_fail_before_anything_runs(rules, tasks, fragment, tmp_path):
    overrides = {} if tasks == "catch" else SMALL
    cells = sweep.cells(sweep.parse_rules(rules), tasks.split(","), [0], overrides)
    with pytest.raises(ConfigError, match=fragment):
        sweep.run_sweep(cells, tmp_path / "s", workers=1)
    assert not (tmp_path / "s").exists()


def test_compare_from_a_sweep_file(tmp_path, capsys):
    spec = tmp_path / "sweep.toml"
    spec.write_text(f"""
rules = ["eprop:random"]
tasks = ["evidence"]
seeds = [0]
workers = 1
out = "{tmp_path / "out"}"
[config.task]
n_cues = 1
seq_len = 360
[config.network]
n_rec = 12
n_adaptive = 6
[config.training]
n_trials = 3
eval_every = 3
validation_trials = 2
test_trials = 2
""")
    assert main(["compare", "--sweep", str(spec)]) == 0
    assert "eprop:random" in capsys.readouterr().out
    spec.write_text('rules = ["eprop"]\ntasks = ["evidence"]\nfoo = 1\n')
    assert main(["compare", "--sweep", str(spec)]) == 2
    assert "unknown sweep file key 'foo'" in capsys.readouterr().err


def test_a_sweep_starts_from_a_tuned_file_but_not_from_its_search_budget(tmp_path, capsys):
    best = tmp_path / "catch-x.best.toml"
    best.write_text(
        '[task]\nname = "catch"\n[network]\nn_rec = 12\n'
        '[rule]\nname = "reward-eprop"\nfeedback = "random"\nlr = 0.0042\n'
        "[training]\nsteps = 40000\neval_episodes = 0\n"
    )
    spec = tmp_path / "sweep.toml"
    body = (
        f'tuned = "{best}"\ntasks = ["catch"]\nseeds = [0]\nworkers = 1\nout = "{tmp_path / "out"}"\n'
        "[config]\nrule = {{ gamma = 0.9 }}\ntraining = {{ steps = 300, eval_episodes = 1 }}\n"
    )
    spec.write_text('rules = ["reward-eprop:random"]\n' + body.format())
    assert main(["compare", "--sweep", str(spec)]) == 0
    config = io.read_json(tmp_path / "out" / "catch-reward-eprop-random-seed0" / "config.json")
    assert config["rule"]["lr"] == 0.0042 and config["rule"]["gamma"] == 0.9
    assert config["network"]["n_rec"] == 12
    assert config["training"]["steps"] == 300 and config["training"]["eval_episodes"] == 1
    capsys.readouterr()
    spec.write_text('rules = ["reward-eprop:symmetric"]\n' + body.format())
    assert main(["compare", "--sweep", str(spec)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is for rule reward-eprop:random" in err


def test_a_transfer_takes_the_rule_section_alone_to_another_task(tmp_path, capsys):
    best = tmp_path / "catch-x.best.toml"
    best.write_text(
        '[task]\nname = "catch"\n[network]\nn_rec = 12\n'
        '[rule]\nname = "reward-eprop"\nfeedback = "random"\nlr = 0.0042\n'
        "[training]\nsteps = 40000\neval_episodes = 0\n"
    )
    spec = tmp_path / "sweep.toml"
    spec.write_text(
        f'rules = ["reward-eprop:random"]\ntuned_rule = "{best}"\ntasks = ["flappy"]\nseeds = [0]\n'
        f'workers = 1\nout = "{tmp_path / "out"}"\n'
        "[config]\nrule = { gamma = 0.9 }\ntraining = { steps = 200, eval_episodes = 0 }\n"
    )
    assert main(["compare", "--sweep", str(spec)]) == 0
    config = io.read_json(tmp_path / "out" / "flappy-reward-eprop-random-seed0" / "config.json")
    assert config["rule"]["lr"] == 0.0042 and config["rule"]["gamma"] == 0.9  # the rule moved
    assert config["network"]["n_rec"] != 12  # flappy's own network stayed
    capsys.readouterr()
    spec.write_text(spec.read_text().replace("tuned_rule", f'tuned = "{best}"\ntuned_rule'))
    assert main(["compare", "--sweep", str(spec)]) == 2
    assert "not both" in capsys.readouterr().err


def test_a_dask_local_cluster_gives_the_process_pool_results_bit_for_bit(tmp_path):
    distributed = pytest.importorskip("distributed")
    cells = sweep.cells(sweep.parse_rules("eprop:random,eprop:symmetric"), ["evidence"], [3], SMALL)
    pool_rows = sweep.run_sweep(cells, tmp_path / "pool", workers=2)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        dask_rows = sweep.run_sweep(cells, tmp_path / "dask", executor=client.get_executor())
    for a, b in zip(pool_rows, dask_rows):
        assert a["value"] == b["value"] and a["steps"] == b["steps"]
        wa = np.load(tmp_path / "pool" / a["run_dir"].split("/")[-1] / "weights.npz")
        wb = np.load(tmp_path / "dask" / b["run_dir"].split("/")[-1] / "weights.npz")
        for key in wa.files:
            np.testing.assert_array_equal(wa[key], wb[key])


def test_a_killed_sweep_restarted_gives_the_results_of_an_uninterrupted_one(tmp_path):
    import subprocess
    import sys
    import time

    def command(out):
        return [
            sys.executable,
            "-m",
            "locallearn",
            "compare",
            "--rules",
            "eprop:random",
            "--tasks",
            "evidence",
            "--seeds",
            "0-3",
            "--workers",
            "1",
            "--out",
            str(out),
            "--set",
            "task.n_cues=1",
            "--set",
            "task.seq_len=360",
            "--set",
            "network.n_rec=12",
            "--set",
            "network.n_adaptive=6",
            "--set",
            "training.n_trials=6",
            "--set",
            "training.eval_every=3",
            "--set",
            "training.validation_trials=4",
            "--set",
            "training.test_trials=4",
        ]

    subprocess.run(command(tmp_path / "whole"), check=True, capture_output=True)
    process = subprocess.Popen(command(tmp_path / "killed"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not list((tmp_path / "killed").glob("*/summary.json")) and time.time() < deadline:
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=30)
    assert not (tmp_path / "killed" / "results.csv").exists()
    subprocess.run(command(tmp_path / "killed"), check=True, capture_output=True)

    def table(out):
        with open(out / "results.csv") as handle:
            return [
                {k: v for k, v in row.items() if k not in ("wall_seconds", "run_dir")}
                for row in csv.DictReader(handle)
            ]

    assert table(tmp_path / "whole") == table(tmp_path / "killed")


def test_every_committed_sweep_and_search_file_resolves():
    # a pre-registered experiment must run as written, cell by cell, when its turn comes
    from pathlib import Path

    from locallearn import tune
    from locallearn.cli import _read_toml, _tuned_config

    root = Path(__file__).parents[1] / "sweeps"
    files = sorted(p for p in root.rglob("*.toml") if not p.name.endswith(".best.toml"))
    assert len(files) > 10
    for path in files:
        spec = _read_toml(str(path), "sweep")
        if "study" in spec:
            tune.read_space(path)
            continue
        rules, tasks = ",".join(spec["rules"]), ",".join(spec["tasks"])
        overrides = spec.get("config", {})
        if "tuned" in spec:
            if not (root.parent / spec["tuned"]).exists():
                continue  # its search has not run yet
            overrides = _tuned_config(str(root.parent / spec["tuned"]), rules, tasks, overrides)
        if "tuned_rule" in spec:
            if not (root.parent / spec["tuned_rule"]).exists():
                continue  # the search it transfers from has not run yet
            overrides = _tuned_config(str(root.parent / spec["tuned_rule"]), rules, None, overrides)
        cells = sweep.cells(sweep.parse_rules(rules), spec["tasks"], spec["seeds"], overrides)
        try:
            sweep.validate(cells)
        except ModuleNotFoundError:  # a real game without its extra installed
            continue


def _numba_threads(_task=None) -> int:
    import numba

    return numba.get_num_threads()


def test_pool_workers_share_the_cores_between_them():
    """Workers x numba threads never exceed the cores: with more threads than cores a split
    sweep waits on descheduled threads at every step."""
    import os

    from locallearn.sweep import process_pool

    cores = len(os.sched_getaffinity(0))
    for workers in (1, 2, cores + 1):
        with process_pool(workers) as pool:
            threads = set(pool.map(_numba_threads, range(workers)))
        assert threads == {max(1, cores // workers)}, (workers, threads)
