"""Deep credit assignment pieces: the yinyang task, the "none" and "sal" feedback pathways on a
stack, and the runner's alignment log."""

import json

import numpy as np
import pytest
from locallearn.tasks.yinyang import yinyang_class

import locallearn as ll
from locallearn import io
from locallearn.runs import run_supervised


def test_yinyang_classes_and_trials():
    assert yinyang_class(0.75, 0.5) == 2 and yinyang_class(0.25, 0.5) == 2  # the eyes
    assert yinyang_class(0.5, 0.9) == 0  # upper half, far from the right eye: yin
    assert yinyang_class(0.5, 0.1) == 1  # lower half, far from the left eye: yang
    assert yinyang_class(0.25, 0.68) == 0  # ring around the left eye: yin
    task = ll.tasks.make("yinyang", seq_len=20, decision_steps=5)
    rng = np.random.default_rng(0)
    trials = [task.trial(rng) for _ in range(600)]
    counts = np.bincount([t.label for t in trials], minlength=3)
    assert np.all(np.abs(counts - 200) < 45), counts
    for trial in trials[:50]:
        x, y = trial.info["point"]
        assert np.hypot(x - 0.5, y - 0.5) <= 0.5 and yinyang_class(x, y) == trial.label
        np.testing.assert_allclose(trial.inputs[0], [x, y, 1 - x, 1 - y, 1], rtol=1e-6)
        assert trial.inputs.shape == (20, 5) and trial.mask.sum() == 5
    with pytest.raises(ValueError, match="decision_steps"):
        ll.tasks.make("yinyang", seq_len=5, decision_steps=6)


def _stack():
    return ll.Network(
        ll.NetworkConfig(
            n_in=5, n_rec=(12, 10), n_out=3, recurrent=False, w_in_gain=6.0, w_hidden_gain=3.0, seed=1
        )
    )


def test_no_feedback_leaves_hidden_layers_alone():
    net = _stack()
    before = {k: v.copy() for k, v in net.params.items()}
    rule = ll.rules.make("eprop", feedback="none")
    learner = ll.runner.OnlineLearner(net, rule, ll.optim.SGD(lr=1e-2), loss="ce")
    task = ll.tasks.make("yinyang")
    rng = np.random.default_rng(0)
    for _ in range(5):
        trial = task.trial(rng)
        learner.run_sequence(trial.inputs, trial.targets, trial.mask)
    for name in ("w_in", "w_in_1"):
        np.testing.assert_array_equal(net.params[name], before[name])
    assert not np.array_equal(net.params["w_out"], before["w_out"])


def test_sal_feedback_aligns_with_the_forward_weights_of_a_stack():
    net = _stack()
    rule = ll.rules.make(
        "eprop", feedback="sal", feedback_options={"warmup_steps": 30_000, "steps_per_update": 10}
    )
    rule.bind(net)
    random = ll.rules.feedback.make("random")
    random.bind(net, np.random.default_rng(0), weight="w_in_1")
    assert ll.metrics.alignment_angle(random.matrix(), net.params["w_in_1"]) > 70
    for feedback, weight in zip(rule.feedbacks, ("w_in_1", "w_out")):
        assert feedback.weight == weight and feedback.matrix().shape == net.params[weight].T.shape
        assert ll.metrics.alignment_angle(feedback.matrix(), net.params[weight]) < 60, weight
    # B keeps learning after every update, from the live forward weights
    B = rule.feedbacks[0].matrix().copy()
    rule.after_update(net, {"w_in_1": np.zeros_like(net.params["w_in_1"])})
    assert not np.array_equal(B, rule.feedbacks[0].matrix())


def test_runner_logs_feedback_alignment(tmp_path):
    config = {
        "task": {"name": "yinyang", "seq_len": 10, "decision_steps": 3},
        "network": {"n_rec": [8, 8]},
        "rule": {"name": "eprop", "feedback": "adaptive"},
        "seed": 0,
        "training": {"n_trials": 20, "eval_every": 10, "validation_trials": 4, "test_trials": 4},
    }
    run_supervised(config, tmp_path / "run", progress=False)
    rows = io.read_jsonl(tmp_path / "run" / "metrics.jsonl")
    for row in rows:
        assert set(k for k in row if k.startswith("angle/")) == {"angle/w_in_1", "angle/w_out"}
        assert 0 <= row["angle/w_out"] <= 180


def test_gradient_check_logs_cosine_to_bptt_without_disturbing_the_run(tmp_path):
    def run(check, name):
        config = {
            "task": {"name": "yinyang", "seq_len": 10, "decision_steps": 3},
            "network": {"n_rec": [8, 8]},
            "rule": {"name": "eprop", "feedback": "adaptive"},
            "seed": 0,
            "training": {
                "n_trials": 20,
                "eval_every": 10,
                "validation_trials": 4,
                "test_trials": 4,
                "gradient_check": check,
            },
        }
        run_supervised(config, tmp_path / name, progress=False)
        return io.read_jsonl(tmp_path / name / "metrics.jsonl"), np.load(tmp_path / name / "weights.npz")

    rows, weights = run(True, "checked")
    plain_rows, plain_weights = run(False, "plain")
    rows = [row for row in rows if row["kind"] == "validation"]
    assert all(-1 <= row["grad_cosine"] <= 1 for row in rows)
    # the first row is the untrained network: recompute its cosine independently
    config = json.loads((tmp_path / "checked" / "config.json").read_text())
    net = ll.Network(ll.NetworkConfig.from_dict(config["network"]))
    task = ll.tasks.make("yinyang", seq_len=10, decision_steps=3)
    trial = task.trial(ll.streams.generator(0, "gradient_check"))
    g = ll.gradient_estimate(
        net,
        ll.rules.make("eprop", feedback="adaptive"),
        trial.inputs,
        trial.targets,
        loss="ce",
        mask=trial.mask,
    )
    gb = ll.reference.bptt_gradients(net, trial.inputs, trial.targets, loss="ce", mask=trial.mask)
    expected = ll.metrics.gradient_cosine(g, gb, ("w_in", "w_in_1"))
    assert rows[0]["grad_cosine"] == pytest.approx(expected, abs=2e-6)
    assert len({row["grad_cosine"] for row in rows}) > 1
    for name in weights.files:
        np.testing.assert_array_equal(weights[name], plain_weights[name])


def test_learning_signal_angles_of_dfa_and_exact_transport():
    from locallearn.runner import learning_signal_angles

    net = _stack()
    task = ll.tasks.make("yinyang")
    trial = task.trial(np.random.default_rng(5))
    exact = ll.rules.make("eprop", feedback="symmetric")
    exact.bind(net)
    assert learning_signal_angles(net, exact, trial, "ce")["signal_angle/0"] < 1e-3
    dfa = ll.rules.make("eprop", feedback="direct")
    dfa.bind(net)
    before = dfa.feedbacks[0].matrix().copy()
    angle = learning_signal_angles(net, dfa, trial, "ce")["signal_angle/0"]
    assert 20 < angle < 160
    np.testing.assert_array_equal(dfa.feedbacks[0].matrix(), before)  # the live rule untouched
    single = ll.Network(ll.NetworkConfig(n_in=5, n_rec=8, n_out=3))
    assert learning_signal_angles(single, ll.rules.make("eprop"), trial, "ce") == {}


def test_eprop_learns_through_escape_noise_neurons(tmp_path):
    """Stochastic neurons are a network option: a stack of escape-noise layers trains on
    yinyang (step by step; the compiled whole-sequence path is for deterministic neurons)."""
    config = {
        "task": {"name": "yinyang", "seq_len": 20, "decision_steps": 5},
        "network": {"n_rec": [32, 32], "spike_fn": "escape", "sigmoid_width": 0.3},
        "rule": {"name": "eprop", "feedback": "symmetric"},
        "seed": 0,
        "training": {
            "n_trials": 300,
            "eval_every": 150,
            "validation_trials": 100,
            "test_trials": 200,
            "lr": 5e-3,
        },
    }
    summary = run_supervised(config, tmp_path / "escape", progress=False)
    rows = io.read_jsonl(tmp_path / "escape" / "metrics.jsonl")
    assert summary["status"] == "completed"
    assert summary["value"] > rows[0]["accuracy"] + 0.1, (rows[0]["accuracy"], summary["value"])
