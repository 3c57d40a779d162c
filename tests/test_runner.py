"""Short versions of every supervised run: files written, loss going down, clean interruption."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import kill_then_resume

import locallearn as ll
from locallearn import io
from locallearn.cli import main
from locallearn.runs import RunDirectoryError, resolve, run_supervised

RUN_FILES = ("config.json", "metrics.jsonl", "weights.npz", "learning_curve.png", "summary.json")

# Short versions: easy settings of each task that learn within ~100 trials on CI. The full-size
# demonstrations (tests marked slow, benchmarks/supervised.py) are what the headline numbers use.
_SMALL_NET = {"n_rec": 30, "n_adaptive": 15, "tau_adapt": 200.0, "beta": 0.1}
_SHORT_TRAINING = {
    "n_trials": 100,
    "lr": 5e-3,
    "eval_every": 50,
    "validation_trials": 16,
    "target": None,
    "test_trials": 16,
}
SHORT = {
    "evidence": {
        "task": {"name": "evidence", "n_cues": 1, "seq_len": 400},
        "network": _SMALL_NET,
        "training": _SHORT_TRAINING,
    },
    "pattern": {
        "task": {"name": "pattern", "seq_len": 300, "n_in": 40, "periods": [300, 150, 100]},
        "network": {"n_rec": 40},
        "training": {"n_trials": 40, "lr": 5e-3, "eval_every": 10, "validation_trials": 1, "test_trials": 1},
    },
    "store_recall": {
        "task": {"name": "store_recall", "n_symbols": 3, "t_symbol": 60},
        "network": _SMALL_NET,
        "training": _SHORT_TRAINING,
    },
    "delayed_match": {
        "task": {
            "name": "delayed_match",
            "min_delay": 50,
            "max_delay": 60,
            "t_cue": 50,
            "t_gap": 50,
            "t_recall": 60,
        },
        "network": _SMALL_NET,
        "training": _SHORT_TRAINING,
    },
}


@pytest.mark.parametrize("task", sorted(SHORT))
def test_short_run_writes_every_file_and_lowers_the_loss(task, tmp_path):
    config = {**SHORT[task], "rule": {"name": "eprop", "feedback": "symmetric"}, "seed": 1}
    initial = ll.Network(ll.NetworkConfig.from_dict(resolve(config)["network"]))
    summary = run_supervised(config, tmp_path / "run", progress=False)
    for name in RUN_FILES:
        assert (tmp_path / "run" / name).stat().st_size > 0, name
    assert summary["status"] == "completed"
    for key in ("task", "rule", "seed", "steps", "wall_seconds", "metric", "value"):
        assert key in summary
    assert summary["steps"] > 0 and summary["trials"] == config["training"]["n_trials"]
    rows = io.read_jsonl(tmp_path / "run" / "metrics.jsonl")
    evals = [r for r in rows if r["kind"] == "validation"]
    assert len(evals) == config["training"]["n_trials"] // config["training"]["eval_every"] + 1
    weights = np.load(tmp_path / "run" / "weights.npz")
    assert set(weights.files) == {"w_in", "w_rec", "w_out", "b_out"}
    for key in ("w_in", "w_rec", "w_out"):
        assert not np.array_equal(weights[key], initial.params[key]), key
    if task != "delayed_match":  # an XOR of two remembered bits needs thousands of trials
        assert evals[-1]["loss"] < 0.9 * evals[0]["loss"]
    resolved = io.read_json(tmp_path / "run" / "config.json")
    assert resolved == resolve(config)
    if task == "pattern":
        assert (tmp_path / "run" / "output_vs_target.png").exists()


def test_same_config_and_seed_give_identical_runs(tmp_path):
    config = {**SHORT["store_recall"], "seed": 3}
    config["training"] = {**config["training"], "n_trials": 20, "eval_every": 10}
    run_supervised(config, tmp_path / "a", progress=False)
    run_supervised(config, tmp_path / "b", progress=False)
    a, b = np.load(tmp_path / "a" / "weights.npz"), np.load(tmp_path / "b" / "weights.npz")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]  # noqa: E731
    assert strip(io.read_jsonl(tmp_path / "a" / "metrics.jsonl")) == strip(
        io.read_jsonl(tmp_path / "b" / "metrics.jsonl")
    )


def test_step_updates_and_trial_updates_are_both_available(tmp_path):
    base = {**SHORT["delayed_match"], "seed": 0}
    for update in ("step", "trial"):
        config = {**base, "training": {**base["training"], "n_trials": 4, "update": update, "eval_every": 2}}
        summary = run_supervised(config, tmp_path / update, progress=False)
        assert summary["update"] == update


def test_run_refuses_to_overwrite_an_existing_run(tmp_path):
    config = {**SHORT["delayed_match"]}
    config["training"] = {**config["training"], "n_trials": 2, "eval_every": 2}
    run_supervised(config, tmp_path / "r", progress=False)
    before = (tmp_path / "r" / "summary.json").read_text()
    with pytest.raises(RunDirectoryError, match="already holds a run"):
        run_supervised(config, tmp_path / "r", progress=False)
    assert (tmp_path / "r" / "summary.json").read_text() == before


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "--task", "evidnce"], "did you mean 'evidence'"),
        (["run", "--task", "evidence", "--feedback", "randm"], "unknown feedback mode 'randm'"),
        (["run", "--task", "evidence", "--rule", "bptt"], "unknown rule 'bptt'"),
        (["run", "--task", "evidence", "--update", "batch"], "training.update = 'batch'"),
        (["run", "--task", "evidence", "--set", "network.tau_men=3"], "did you mean 'tau_mem'"),
        (["run", "--task", "evidence", "--set", "rule.c_rg=1"], "unknown rule 'eprop' option 'c_rg'"),
        (["run", "--task", "evidence", "--lr", "-1"], "training.lr"),
        (["run", "--config", "/nonexistent.toml"], "does not exist"),
        (["plot", "/nonexistent"], "not a run directory"),
    ],
)
def test_cli_rejects_bad_input_with_exit_2_and_a_clear_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_list_names_rules_feedback_modes_and_tasks(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    for name in (
        "eprop",
        "symmetric",
        "random",
        "direct",
        "adaptive",
        "evidence",
        "pattern",
        "store_recall",
        "delayed_match",
    ):
        assert name in text


def test_cli_run_from_toml_with_overrides_then_plot(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("""
seed = 2
[task]
name = "pattern"
seq_len = 200
periods = [200, 100]
n_in = 20
[network]
n_rec = 20
[rule]
name = "eprop"
feedback = "symmetric"
[training]
n_trials = 4
eval_every = 2
validation_trials = 1
test_trials = 1
""")
    out = tmp_path / "run"
    code = main(
        ["run", "--config", str(config), "--set", "training.lr=0.004", "--out", str(out), "--no-progress"]
    )
    assert code == 0
    resolved = io.read_json(out / "config.json")
    assert resolved["training"]["lr"] == 0.004 and resolved["seed"] == 2
    assert resolved["rule"]["feedback"] == "symmetric" and resolved["network"]["n_rec"] == 20
    assert "mse" in capsys.readouterr().out
    (out / "learning_curve.png").unlink()
    assert main(["plot", str(out)]) == 0
    assert (out / "learning_curve.png").exists()


def test_sigint_leaves_a_complete_run_directory_marked_interrupted(tmp_path):
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "locallearn",
        "run",
        "--task",
        "evidence",
        "--trials",
        "100000",
        "--eval-every",
        "1000",
        "--validation-trials",
        "1",
        "--test-trials",
        "1",
        "--set",
        "network.n_rec=20",
        "--set",
        "network.n_adaptive=10",
        "--out",
        str(out),
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not (out / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    assert 0 < summary["trials"] < 100000
    for name in RUN_FILES:
        assert (out / name).exists(), name
    weights = np.load(out / "weights.npz")
    assert weights["w_rec"].shape == (20, 20)
    for row in io.read_jsonl(out / "metrics.jsonl"):
        assert "accuracy" in row
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]
    assert ll.tasks.make("evidence").n_in == weights["w_in"].shape[1]


def test_kill_9_then_resume_gives_the_weights_of_an_uninterrupted_run(tmp_path):
    settings = [
        "--task",
        "store_recall",
        "--seed",
        "4",
        "--trials",
        "40",
        "--eval-every",
        "5",
        "--validation-trials",
        "2",
        "--test-trials",
        "2",
        "--set",
        "task.n_symbols=3",
        "--set",
        "task.t_symbol=60",
        "--set",
        "network.n_rec=20",
        "--set",
        "network.n_adaptive=10",
        "--set",
        "training.lr_decay=0.9",
        "--set",
        "rule.feedback='adaptive'",
        "--no-progress",
    ]

    def three_evaluations_written(run_dir):
        path = run_dir / "metrics.jsonl"
        return path.exists() and len(io.read_jsonl(path)) >= 3

    killed = kill_then_resume(settings, tmp_path, three_evaluations_written)
    assert io.read_json(killed / "summary.json")["status"] == "completed"


def test_a_diverging_run_names_the_step_layer_and_last_checkpoint(tmp_path):
    config = {**SHORT["store_recall"], "seed": 0}
    config["training"] = {**config["training"], "lr": 1e38, "optimizer": "sgd"}
    summary = run_supervised(config, tmp_path / "run", progress=False)
    assert summary["status"] == "failed"
    assert "non-finite" in summary["message"] and "at trial 1 (step" in summary["message"]
    assert "layer 0" in summary["message"] or "readout" in summary["message"]
    assert "last finite checkpoint: trial 0" in summary["message"]
