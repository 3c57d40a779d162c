"""The run framework's promises: held-out numbers, safe run directories, data checkpoints,
failures reported — one regression test per defect of issue 17."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import small_network

import locallearn as ll
from locallearn import io, report, streams, sweep
from locallearn.cli import main
from locallearn.config import ConfigError
from locallearn.runs import CheckpointError, RunDirectoryError, checkpoint, execute, lifetime, play, resolve

TINY = {
    "task": {"name": "evidence", "n_cues": 1, "seq_len": 360},
    "network": {"n_rec": 10, "n_adaptive": 5},
    "training": {"n_trials": 6, "eval_every": 3, "validation_trials": 8, "test_trials": 16, "target": None},
}
TINY_LIFE = {"task": "catch", "seed": 0, "training": {"steps": 300, "eval_episodes": 3}}


def _tiny(**training):
    return {**TINY, "training": {**TINY["training"], **training}}


# ----------------------------------------------------------------------------- held out
def test_validation_test_and_training_trials_come_from_disjoint_streams():
    task = ll.tasks.make("evidence", n_cues=1, seq_len=360)
    draws = {name: task.trial(streams.generator(0, name)).inputs for name in ("train", "validation", "test")}
    assert not np.array_equal(draws["train"], draws["validation"])
    assert not np.array_equal(draws["validation"], draws["test"])
    assert len(set(streams.STREAMS.values())) == len(streams.STREAMS)


def test_the_reported_number_is_the_test_on_fresh_trials_with_its_interval(tmp_path):
    summary = execute(_tiny(), tmp_path / "run", progress=False)
    test = summary["test"]
    assert summary["value"] == test["metric"] and test["n"] == 16
    assert test["interval"] == "wilson" and test["low"] <= test["metric"] <= test["high"]
    assert summary["validation"]["n"] == 8 and summary["validation"]["trial"] == 6
    rows = io.read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert [r["kind"] for r in rows] == ["validation"] * 3 + ["test"]
    # the test trials are the test stream's first 16, scored once by the final network
    task = ll.tasks.make("evidence", n_cues=1, seq_len=360)
    rng = streams.generator(0, "test")
    net = ll.Network(ll.NetworkConfig.from_dict(resolve(TINY)["network"]))
    with np.load(tmp_path / "run" / "weights.npz") as weights:
        for name in net.params:
            net.params[name][...] = weights[name]
    scores = []
    for _ in range(16):
        trial = task.trial(rng)
        net.reset_state()
        scores.append(task.score(net.simulate(trial.inputs)["y"], trial))
    assert np.mean(scores) == test["metric"]


def test_early_stopping_uses_validation_and_a_fixed_budget_mode_exists(tmp_path):
    stopped = execute(_tiny(target=0.0), tmp_path / "early", progress=False)
    assert stopped["stopped_early"] and stopped["trials"] == 0
    assert "reached the target" in stopped["stop_reason"] and stopped["test"]["n"] == 16
    fixed = execute(_tiny(target=0.0, early_stopping=False), tmp_path / "fixed", progress=False)
    assert not fixed["stopped_early"] and fixed["trials"] == 6


# ----------------------------------------------------------------------------- directories
def test_two_runs_in_the_same_second_without_out_get_their_own_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = execute(_tiny(n_trials=1, eval_every=1), None, progress=False)
    b = execute(_tiny(n_trials=1, eval_every=1), None, progress=False)
    assert a["run_dir"] != b["run_dir"]
    assert io.read_json(os.path.join(a["run_dir"], "summary.json"))["status"] == "completed"


def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path):
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
        "--set",
        "task.n_cues=1",
        "--set",
        "task.seq_len=360",
        "--set",
        "network.n_rec=10",
        "--set",
        "network.n_adaptive=5",
        "--eval-every",
        "50",
        "--validation-trials",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not (out / "metrics.jsonl").exists() and time.time() < deadline:
            time.sleep(0.1)
        rows_before = len(io.read_jsonl(out / "metrics.jsonl"))
        with pytest.raises(RunDirectoryError, match=f"being written by pid {process.pid}"):
            execute(None, out, resume=True, progress=False)
        with pytest.raises(RunDirectoryError, match="being written|already holds a run"):
            execute(TINY, out, progress=False)
        assert len(io.read_jsonl(out / "metrics.jsonl")) >= rows_before  # nothing duplicated
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    rows = io.read_jsonl(out / "metrics.jsonl")
    assert len({(r["trial"], r["kind"]) for r in rows}) == len(rows)


def test_a_foreign_folder_is_refused_and_force_never_replaces_a_file(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    with pytest.raises(RunDirectoryError, match="not empty .*notes.txt"):
        execute(TINY, out, progress=False)
    (out / "weights.npz").write_bytes(b"a user's file")
    with pytest.raises(RunDirectoryError, match="weights.npz.*never replaces"):
        execute(TINY, out, progress=False, force=True)
    (out / "weights.npz").unlink()
    assert execute(TINY, out, progress=False, force=True)["status"] == "completed"
    assert (out / "notes.txt").read_text() == "keep me"


def test_resume_refuses_changed_options_and_accepts_equal_ones(tmp_path):
    out = tmp_path / "run"
    execute(TINY, out, progress=False)
    assert main(["run", "--resume", str(out), "--set", "training.lr=5", "--no-progress"]) == 2
    assert main(["run", "--resume", str(out), "--set", "training.lr=0.001", "--no-progress"]) == 0


def test_an_unwritable_out_is_a_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", "--task", "evidence", "--out", str(blocker / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot create" in err


# ----------------------------------------------------------------------------- checkpoints
def test_checkpoints_hold_no_pickle_and_restore_a_learner_exactly(tmp_path):
    def build():
        net = small_network(seed=1)
        return ll.OnlineLearner(
            net, ll.rules.make("eprop", feedback="adaptive"), ll.Adam(lr=1e-2), update="step"
        )

    inputs = (np.random.default_rng(0).random((30, 4)) < 0.3).astype(float)
    targets = np.random.default_rng(1).standard_normal((30, 3))
    a = build()
    a.run_sequence(inputs, targets)
    checkpoint.save(tmp_path, {"learner": a}, {"position": 1})
    with np.load(tmp_path / "checkpoint.npz", allow_pickle=False) as data:
        assert all(data[k].dtype != object for k in data.files)
    b = build()
    assert checkpoint.load(tmp_path, {"learner": b}) == {"position": 1}
    a.run_sequence(inputs, targets)
    b.run_sequence(inputs, targets)
    for name in a.net.params:
        np.testing.assert_array_equal(a.net.params[name], b.net.params[name])


def _killed_save(monkeypatch, tmp_path, learner, at):
    """Save ``learner`` as a process killed just before step ``at`` of the save would leave it."""
    real_write_text, real_replace = io.write_text, os.replace

    class Killed(BaseException):
        pass

    def write_text(path, text):
        if at == "manifest" and str(path).endswith("checkpoint.json"):
            raise Killed
        real_write_text(path, text)

    def replace(src, dst):
        if at == "rename" and str(src).endswith("checkpoint.pending.npz"):
            raise Killed
        real_replace(src, dst)

    monkeypatch.setattr(io, "write_text", write_text)
    monkeypatch.setattr(checkpoint.os, "replace", replace)
    with pytest.raises(Killed):
        checkpoint.save(tmp_path, {"learner": learner}, {"position": 2})
    monkeypatch.undo()


@pytest.mark.parametrize("killed_at, position", [("manifest", 1), ("rename", 2)])
def test_a_save_killed_between_its_writes_leaves_a_loadable_checkpoint(
    killed_at, position, tmp_path, monkeypatch
):
    # killed before the manifest: the old state; killed before the rename: the new one
    def build():
        net = small_network(seed=1)
        return ll.OnlineLearner(net, ll.rules.make("eprop", feedback="random"), ll.Adam(lr=1e-2))

    inputs = (np.random.default_rng(0).random((20, 4)) < 0.3).astype(float)
    targets = np.random.default_rng(1).standard_normal((20, 3))
    a = build()
    checkpoint.save(tmp_path, {"learner": a}, {"position": 1})
    before = {k: v.copy() for k, v in a.net.params.items()}
    a.run_sequence(inputs, targets)
    _killed_save(monkeypatch, tmp_path, a, killed_at)
    b = build()
    assert checkpoint.load(tmp_path, {"learner": b}) == {"position": position}
    expected = before if position == 1 else a.net.params
    for name in expected:
        np.testing.assert_array_equal(b.net.params[name], expected[name])
    checkpoint.save(tmp_path, {"learner": a}, {"position": 3})  # the next save tidies up
    assert not (tmp_path / "checkpoint.pending.npz").exists()
    assert checkpoint.load(tmp_path, {"learner": build()}) == {"position": 3}


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            lambda d: (d / "checkpoint.npz").write_bytes((d / "checkpoint.npz").read_bytes()[:200]),
            "does not match its manifest",
        ),
        (lambda d: (d / "checkpoint.npz").unlink(), "checkpoint.npz is missing"),
        (lambda d: (d / "checkpoint.json").write_text(""), "damaged"),
        (
            lambda d: (d / "checkpoint.json").write_text(
                json.dumps({"format": "locallearn-checkpoint", "version": 1})
            ),
            "version 1",
        ),
    ],
)
def test_a_damaged_checkpoint_is_a_one_line_error_naming_the_file(damage, message, tmp_path, capsys):
    out = tmp_path / "run"
    execute(_tiny(n_trials=3), out, progress=False)
    summary = io.read_json(out / "summary.json")
    io.write_json(out / "summary.json", {**summary, "status": "interrupted"})
    damage(out)
    with pytest.raises(CheckpointError, match=message):
        execute(None, out, resume=True, progress=False)
    assert main(["run", "--resume", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint" in err


def test_an_old_pickled_run_is_refused_with_a_message(tmp_path):
    out = tmp_path / "old"
    out.mkdir()
    io.write_json(out / "config.json", {"task": {"name": "catch"}})
    (out / "checkpoint.pkl").write_bytes(b"\x80\x04K\x01.")
    with pytest.raises(RunDirectoryError, match="older locallearn.*never loaded"):
        execute(None, out, resume=True, progress=False)


# ----------------------------------------------------------------------------- failures
def test_adam_divergence_fails_with_its_reason_on_the_console(tmp_path, capsys):
    config = {
        "task": {"name": "pattern", "seq_len": 200, "n_in": 20, "periods": [200, 100]},
        "network": {"n_rec": 20},
        "seed": 0,
        "training": {"n_trials": 40, "lr": 1e6, "optimizer": "adam", "eval_every": 5},
    }
    assert (
        main(["run", "--config", _toml(tmp_path, config), "--out", str(tmp_path / "run"), "--no-progress"])
        == 1
    )
    summary = io.read_json(tmp_path / "run" / "summary.json")
    assert summary["status"] == "failed" and summary["value"] is None
    assert "last finite checkpoint" in summary["message"]
    captured = capsys.readouterr()
    assert summary["message"] in captured.out + captured.err


def _toml(tmp_path, config) -> str:
    lines = [f"seed = {config['seed']}"]
    for section in ("task", "network", "training"):
        lines.append(f"[{section}]")
        for key, value in config[section].items():
            lines.append(f"{key} = {json.dumps(value)}")
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_a_nan_written_in_place_is_caught_before_the_next_update():
    net = small_network(seed=0)
    learner = ll.OnlineLearner(net, ll.rules.make("eprop", feedback="symmetric"), ll.SGD(lr=1e-3))
    net.w_rec[1, 0] = np.nan  # in place: the setter's check never sees it
    inputs = np.zeros((5, net.n_in))
    with pytest.raises(FloatingPointError, match="w_rec .*non-finite"):
        learner.run_sequence(inputs, np.zeros((5, net.n_out)))


def test_a_huge_network_says_how_large_it_is(capsys):
    assert main(["run", "--task", "evidence", "--set", "network.n_rec=300000", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "GiB for its weights" in err


@pytest.mark.parametrize(
    "task, module, extra", [("ale_pong", "ale_py", "games"), ("minatar_breakout", "minatar", "minatar")]
)
def test_a_missing_extra_is_named_and_the_task_still_listed(task, module, extra, capsys):
    import importlib.util

    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed")
    assert task in ll.tasks.available()
    assert main(["run", "--task", task, "--steps", "10", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pip install 'locallearn[{extra}]'" in err


# ----------------------------------------------------------------------------- lifetimes, play
def test_a_lifetime_ends_with_a_frozen_evaluation_on_unseen_seeds(tmp_path):
    summary = execute(TINY_LIFE, tmp_path / "life", progress=False)
    evaluation = summary["evaluation"]
    assert evaluation["episodes"] == 3
    for mode in ("greedy", "sampled"):
        assert evaluation[mode]["n"] == 3 and len(evaluation[mode]["values"]) == 3
    assert min(streams.evaluation_seeds(0, 3)) >= streams.EVALUATION_SEED_LOW > 0
    before = np.load(tmp_path / "life" / "weights.npz")["w_rec"].copy()
    play(tmp_path / "life", episodes=2)
    np.testing.assert_array_equal(np.load(tmp_path / "life" / "weights.npz")["w_rec"], before)


def test_play_refuses_nan_weights_supervised_runs_and_no_episodes(tmp_path, capsys):
    execute(TINY_LIFE, tmp_path / "life", progress=False)
    assert main(["play", str(tmp_path / "life"), "--episodes", "0"]) == 2
    assert "episodes must be an integer >= 1" in capsys.readouterr().err
    execute(_tiny(n_trials=1, eval_every=1), tmp_path / "sup", progress=False)
    assert main(["play", str(tmp_path / "sup")]) == 2
    assert "supervised run" in capsys.readouterr().err
    with np.load(tmp_path / "life" / "weights.npz") as data:
        weights = {k: data[k].copy() for k in data.files}
    weights["w_out"][0, 0] = np.nan
    io.write_npz(tmp_path / "life" / "weights.npz", weights)
    assert main(["play", str(tmp_path / "life")]) == 2
    assert "NaN or inf" in capsys.readouterr().err


# ----------------------------------------------------------------------------- sweeps, report
SMALL = {
    "task": {"n_cues": 1, "seq_len": 360},
    "network": {"n_rec": 10, "n_adaptive": 5},
    "training": {"n_trials": 3, "eval_every": 3, "validation_trials": 2, "test_trials": 4},
}


def test_a_sweep_cell_of_another_configuration_is_moved_aside_and_rerun(tmp_path):
    cells = sweep.cells([("eprop", "random")], ["evidence"], [0], SMALL)
    first = sweep.run_sweep(cells, tmp_path, workers=1)
    longer = {**SMALL, "training": {**SMALL["training"], "n_trials": 6, "eval_every": 3}}
    again = sweep.run_sweep(
        sweep.cells([("eprop", "random")], ["evidence"], [0], longer), tmp_path, workers=1
    )
    assert not again[0]["reused"] and again[0]["steps"] == 2 * first[0]["steps"]
    stale = list((tmp_path / "stale").iterdir())
    assert len(stale) == 1 and io.read_json(stale[0] / "summary.json")["trials"] == 3


def test_sweep_workers_exit_within_10_s_of_their_drivers_kill_9(tmp_path):
    command = [
        sys.executable,
        "-m",
        "locallearn",
        "compare",
        "--rules",
        "eprop:random",
        "--tasks",
        "evidence",
        "--seeds",
        "0-1",
        "--workers",
        "2",
        "--out",
        str(tmp_path / "s"),
        "--set",
        "training.n_trials=100000",
        "--set",
        "network.n_rec=10",
        "--set",
        "network.n_adaptive=5",
        "--set",
        "task.seq_len=360",
        "--set",
        "task.n_cues=1",
    ]
    driver = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(list((tmp_path / "s").glob("*/metrics.jsonl"))) < 2 and time.time() < deadline:
        time.sleep(0.1)
    workers = _children(driver.pid)
    assert workers, "the pool started no worker"
    driver.kill()
    driver.wait()
    deadline = time.time() + 10
    while any(_alive(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_report_summarises_seeds_with_the_sample_std_and_a_t_interval(tmp_path):
    cells = sweep.cells([("eprop", "random")], ["evidence"], [0, 1, 2], SMALL)
    rows = sweep.run_sweep(cells, tmp_path / "s", workers=2)
    text = report.report([tmp_path / "s"])
    values = [r["value"] for r in rows]
    assert ll.stats.summarize(values).text() in text and "(n=3)" in text


def test_the_readmes_tables_are_what_report_prints_from_the_committed_results():
    from pathlib import Path

    root = Path(__file__).parents[1]
    blocks = report.readme_blocks((root / "README.md").read_text())
    assert blocks, "the README has no generated result table"
    for words, body in blocks:
        assert body == report.block_body(words, root), words


# ----------------------------------------------------------------------------- console
def test_first_run_notice_appears_once_and_only_when_the_kernel_cache_is_empty(monkeypatch, tmp_path):
    import io as text_io

    import numba

    from locallearn.runs import console

    cache_is_empty = console.kernel_cache_is_empty
    assert not cache_is_empty()  # this test session has compiled the kernels already
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    assert cache_is_empty()  # an empty cache folder: the first run compiles
    monkeypatch.setattr(console, "_NOTICE_SHOWN", False)
    monkeypatch.setattr(console, "kernel_cache_is_empty", lambda: False)
    stream = text_io.StringIO()
    console.compile_notice(stream)
    assert stream.getvalue() == ""
    monkeypatch.setattr(console, "kernel_cache_is_empty", lambda: True)
    console.compile_notice(stream)
    console.compile_notice(stream)
    assert stream.getvalue() == "compiling kernels (first run only, ~25 s)\n"


def test_progress_off_a_terminal_is_a_few_plain_lines():
    import io as text_io

    from locallearn.runs import console

    stream = text_io.StringIO()
    progress = console.Progress(
        1000, "trial", "evidence / eprop:random", stream=stream, interval_seconds=3600
    )
    for _ in range(1000):
        progress.update(1, accuracy="0.90")
    progress.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[-1].startswith("evidence / eprop:random: 1,000/1,000 trials (100 %)")
    assert "accuracy 0.90" in lines[-1]


def test_a_real_game_adapter_says_it_cannot_be_checkpointed_yet():
    from locallearn.tasks.adapters import _ForeignGame

    class Game(_ForeignGame):
        name = "some_real_game"

    with pytest.raises(
        CheckpointError, match="some_real_game cannot be checkpointed yet.*checkpoint_every = 0"
    ):
        checkpoint.capture({"env": Game()})


def test_derived_caches_stay_out_of_checkpoints(tmp_path):
    # cached kernel arguments are skipped by the walk, so a reward-eprop agent's checkpoint keeps
    # the layout it had before the caches existed (older checkpoints still resume); that a resumed
    # run equals an uninterrupted one is tested with the runs' resume tests
    from locallearn.derived import Derived

    class Holder:
        __module__ = "locallearn.test"

        def __init__(self):
            self.weights = np.arange(3.0)
            self.cache = Derived((self.weights, {"anything": object()}))

    arrays, values = checkpoint.capture({"h": Holder()})
    assert set(arrays) == {"h/weights"} and not any("cache" in path for path in values)
    config = {
        "task": {"name": "flappy"},
        "rule": {"name": "reward-eprop", "feedback": "adaptive", "guard_kappa": 2.0},
        "seed": 1,
        "training": {"steps": 500, "eval_episodes": 0, "checkpoint_every": 500},
    }
    execute(config, tmp_path / "run", progress=False)
    manifest = (tmp_path / "run" / "checkpoint.json").read_text()
    with np.load(tmp_path / "run" / "checkpoint.npz") as saved:
        paths = " ".join(saved.files) + manifest
    assert "rule/F/w_rec" in paths and "traces/projections" in paths
    assert not any(cache in paths for cache in ("_update_plan", "_sweeps", "_present"))


def test_the_training_window_counts_finished_games_only_and_excludes_shaping(tmp_path):
    config = {
        "task": {"name": "pong", "max_steps": 1300, "shaping": 0.5},
        "seed": 0,
        "training": {"steps": 24000, "eval_episodes": 0, "window": 5},
    }
    summary = execute(config, tmp_path / "run", progress=False)
    rows = io.read_jsonl(tmp_path / "run" / "metrics.jsonl")
    cut = [r for r in rows if r.get("unfinished")]
    finished = [r for r in rows if not r.get("unfinished")]
    assert cut and finished and summary["unfinished_episodes"] == len(cut)
    assert summary["value"] == np.mean([r["score"] for r in finished[-5:]])
    assert summary["training_window"]["n"] == min(5, len(finished))


def test_report_draws_iqm_and_curve_figures_and_aggregate_readme_blocks(tmp_path, capsys):
    life = {"training": {"steps": 400, "eval_episodes": 2}}
    cells = sweep.cells([("reward-eprop", "random"), ("rstdp", None)], ["catch"], [0, 1], life)
    sweep.run_sweep(cells, tmp_path / "s", workers=2)
    assert main(["report", str(tmp_path / "s"), "--figures", str(tmp_path / "figs")]) == 0
    for name in ("iqm.png", "curves.png"):
        assert (tmp_path / "figs" / name).stat().st_size > 1000
    body = report.block_body(["--aggregate", "s"], tmp_path)
    assert body.startswith(report.report([tmp_path / "s"]))
    summaries = report.load([tmp_path / "s"])
    assert body.endswith(report.rl_aggregates(summaries)) and "over rstdp" in body
    (tmp_path / "README.md").write_text("x\n<!-- report --aggregate s -->\nold\n<!-- end report -->\n")
    assert report.update_readme(tmp_path / "README.md") == 1
    assert report.readme_blocks((tmp_path / "README.md").read_text()) == [(["--aggregate", "s"], body)]


def test_performance_profiles_normalise_between_a_random_policy_and_the_reference(tmp_path, monkeypatch):
    life = {"training": {"steps": 300, "eval_episodes": 1}}
    cells = sweep.cells([("reward-eprop", "symmetric"), ("rstdp", None)], ["catch"], [0, 1], life)
    sweep.run_sweep(cells, tmp_path / "s", workers=1)
    summaries = report.load([tmp_path / "s"])
    store = tmp_path / "figs" / "random-policy.json"
    zeros = report.random_policy_scores(summaries, store, episodes=20)
    played = io.read_json(store)["catch"]
    assert zeros == {"catch": played["metric"]} and played["n"] == 20 and played["task"] == {"name": "catch"}
    assert 0.0 <= played["metric"] <= 0.5  # a uniform policy catches a falling ball now and then
    # kept: asked again, the file answers without a game being played
    monkeypatch.setattr("locallearn.runs.lifetime.random_policy", lambda *a, **k: pytest.fail("replayed"))
    assert report.random_policy_scores(summaries, store, episodes=20) == zeros
    monkeypatch.undo()
    figure = tmp_path / "figs" / "profile.png"
    assert main(["report", str(tmp_path / "s"), "--profile", str(figure)]) == 0
    assert figure.stat().st_size > 1000
    assert not report.profile_figure(summaries, tmp_path / "none.png", zeros, reference="stream-ac")
    assert main(["report", str(tmp_path / "s"), "--profile", str(figure), "--reference", "x"]) == 2
    with pytest.raises(ConfigError, match="at least one episode"):
        lifetime.random_policy({"name": "catch"}, 0, 100)


def test_aggregates_compare_with_readout_only_feedback_as_a_baseline():
    def life(label, seed, value):
        return {
            "kind": "lifetime",
            "task": "catch",
            "rule_label": label,
            "seed": seed,
            "status": "completed",
            "value": value,
            "metric": "catch_rate",
            "evaluation": {"greedy": {"metric": value}},
        }

    summaries = [life("reward-eprop:random", s, 0.9 + 0.01 * s) for s in range(3)]
    summaries += [life("reward-eprop:none", s, 0.5) for s in range(3)]
    text = report.rl_aggregates(summaries, reps=200)
    line = next(row for row in text.splitlines() if "| reward-eprop:random |" in row)
    assert "over reward-eprop:none: 1.000" in line


def test_benchmark_result_files_render_their_own_tables(tmp_path):
    """The peers' result files keep their raw figures and a table that ``report`` renders; the
    engine benchmark writes one (tiny sizes here)."""
    from conftest import load_benchmark

    nest = load_benchmark("nest_comparison")
    timing = {
        "title": "t",
        "command": "python benchmarks/nest_comparison.py --timing",
        "summary": [
            {
                "threads": 1,
                "path": "locallearn-online",
                "ms_per_trial": 80.0,
                "nest_ms_per_trial": 160.0,
                "speedup_over_nest": 2.0,
                "speedup_95": [1.5, 2.5],
            }
        ],
    }
    io.write_json(tmp_path / "nest.json", {**timing, "table": nest.timing_table(timing)})
    text = report.report([tmp_path / "nest.json"])
    assert "| 1 | online (traces every step), compiled | 80.0 | 160.0 | 2.0x [1.5, 2.5] |" in text
    bptt = load_benchmark("peers/online_vs_bptt")
    rows = [
        {"T": 100, "system": s, "ms_per_trial": ms, "peak_above_baseline_mb": mb}
        for s, ms, mb in (("bptt", 50.0, 30.0), ("eprop-online", 20.0, 0.2), ("eprop-trial", 1.0, 0.0))
    ]
    cost = {"command": "c", "torch": "x", "threads": 2, "cost": {"summary": rows, "rows": [{"repeat": 0}]}}
    assert bptt.cost_table(cost)["rows"] == [["100", "50", "20", "1.0", "30", "< 1"]]
    peer = load_benchmark("peers/braintrace_peer")
    raw = [
        {"system": s, "n_rec": 100, "neurons": n, "steps_per_s": v * f, "peak_mb": 300.0, "repeat": r}
        for r, f in enumerate((1.0, 1.1, 0.9))
        for n in ("LIF", "ALIF")
        for s, v in (("locallearn", 3000.0), ("braintrace-eprop", 6000.0))
    ]
    stream = {
        "rows": raw,
        "systems": ["locallearn", "braintrace-eprop"],
        "sizes": [100],
        "steps": {"100": 1000},
    }
    table = peer.benchmark_table(stream | {"braintrace": "0.2.6", "jax": "0.10", "threads": 2})
    assert [row[:3] for row in table["rows"]] == [
        ["LIF", "100", "3,000; 300 MB"],
        ["ALIF", "100", "3,000; 300 MB"],
    ]
    assert table["rows"][0][3].startswith("6,000 (0.50× [")
    load_benchmark("engine").main(["--seconds", "0.02", "--sizes", "8x16", "--out", str(tmp_path / "e.json")])
    assert report.benchmark_table(tmp_path / "e.json").count("| 8x16 |") == 1
    io.write_json(tmp_path / "raw.json", {"command": "x", "rows": [1]})
    with pytest.raises(ValueError, match="not a benchmark result"):
        report.benchmark_table(tmp_path / "raw.json")
