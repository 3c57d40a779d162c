"""The compiled agent step (``RewardEProp.act``, ``rules/_kernels.reward_eprop_act``): the
micro-steps and the decision of an environment step in one call must give the bits of the
stepwise path (``advance_many(decide_last=True)`` then ``decide``) — weights, traces, network
state, actions and TD errors — for every option it runs with; where it cannot run, ``act`` is the
stepwise path."""

import numpy as np
import pytest
from conftest import small_network
from locallearn.rules._kernels import kernel
from locallearn.rules.reward_eprop import RewardEProp

import locallearn as ll
from locallearn.runs import run_lifetime


def _stepwise(monkeypatch):
    monkeypatch.setattr(RewardEProp, "compiled_act", False)


def _state(net, rule) -> dict:
    layer = net.layers[0]
    state = {f"param/{k}": v.copy() for k, v in net.params.items()}
    state.update({f"F/{k}": v.copy() for k, v in rule.F.items()})
    for name in ("v", "a", "z", "refractory", "psi"):
        state[f"neuron/{name}"] = getattr(layer.state, name).copy()
    state["y"] = net.y.copy()
    for kind, projection in rule.traces.projections.items():
        for name in ("presynaptic_trace", "eps_a", "filtered"):
            state[f"{kind}/{name}"] = getattr(projection, name).copy()
    state["readout_trace"] = rule.readout_trace.copy()
    state["bias_trace"] = np.array(rule.bias_trace)
    return state


def _drive(compiled: bool, monkeypatch, *, backend, dtype, n_rec=12, n_adaptive=4, steps=145, **options):
    """A lifetime in miniature: random spike inputs, rewards, episode ends (terminated and
    truncated, with the bootstrap), greedy and sampled decisions."""
    with monkeypatch.context() as patch:
        if not compiled:
            _stepwise(patch)
        net = small_network(
            7, n_in=6, n_rec=n_rec, n_out=4, n_adaptive=n_adaptive, dtype=dtype, backend=backend
        )
        rule = ll.rules.make("reward-eprop", **{"lr": 0.002, "gamma": 0.9, "lam": 0.8, **options})
        rule.bind(net)
        data = np.random.default_rng(11)
        agent_rng = np.random.default_rng(3)
        record = []
        for step in range(steps):
            inputs = (data.random((3, 6)) < 0.4).astype(net.dtype)
            action = rule.act(net, inputs, agent_rng, greedy=step % 7 == 0)
            reward = float(data.choice([0.0, 0.0, 1.0, -1.0]))
            terminated, truncated = step % 37 == 36, step % 53 == 52
            rule.observe(reward, terminated, truncated)
            if truncated and not terminated:
                rule.advance_many(net, (data.random((3, 6)) < 0.4).astype(net.dtype))
                rule.bootstrap(net)
            if terminated or truncated:
                net.reset_state()
                rule.begin_episode()
            record.append((action, rule.last_delta, rule.value_prev, rule.decisions))
        return record, _state(net, rule), rule


CASES = [
    {},
    {"feedback": "random"},
    {"feedback": "direct"},
    {"feedback": "none"},
    {"guard_kappa": 2.0},
    {"guard_kappa": 2.0, "feedback": "random", "lr_layer": 0.01},
    {"value_to_layer": False, "c_value": 0.5},
    {"inverse_temperature": 0.5, "inverse_temperature_final": 3.0, "anneal_steps": 100},
]


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "options", CASES, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default"
)
def test_the_compiled_agent_step_is_bit_identical_to_the_stepwise_path(backend, dtype, options, monkeypatch):
    options = {"feedback": "symmetric", "guard_kappa": None, **options}
    compiled, compiled_state, rule = _drive(True, monkeypatch, backend=backend, dtype=dtype, **options)
    assert rule._compiled_act_plan(rule.net) is not None  # it did run compiled
    stepwise, stepwise_state, _ = _drive(False, monkeypatch, backend=backend, dtype=dtype, **options)
    assert np.all(np.isfinite([delta for _, delta, *_ in stepwise]))
    assert compiled == stepwise  # actions, TD errors, values, the anneal's clock
    assert len({action for action, *_ in stepwise}) > 1
    # the layer's traces carried a signal (none: B = 0, only the readout learns)
    assert np.any(stepwise_state["F/w_rec"] != 0) == (options["feedback"] != "none")
    for name, value in stepwise_state.items():
        assert value.dtype == compiled_state[name].dtype, name
        np.testing.assert_array_equal(compiled_state[name], value, err_msg=name)


def test_the_guard_sums_traces_as_numpy_does_on_layers_of_every_size(monkeypatch):
    """The ObGD bound reads sum |F| over more than 128 synapses per array (numpy's pairwise
    summation, copied in the kernel); a larger layer checks it on the whole lifetime."""
    settings = dict(backend="numba", dtype="float32", n_rec=40, n_adaptive=0, steps=60, guard_kappa=2.0)
    compiled, compiled_state, _ = _drive(True, monkeypatch, **settings)
    stepwise, stepwise_state, _ = _drive(False, monkeypatch, **settings)
    assert compiled == stepwise
    for name, value in stepwise_state.items():
        np.testing.assert_array_equal(compiled_state[name], value, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_compiled_absolute_sum_equals_numpys_to_the_bit(dtype):
    rng = np.random.default_rng(0)
    shapes = [(n,) for n in (*range(1, 140), 255, 256, 257, 1000, 8191, 8192, 8193, 65537)]
    shapes += [(4, 100), (100, 112), (5, 16), (256, 256), (3, 7)]
    for shape in shapes:
        x = (rng.standard_normal(shape) * rng.lognormal(0, 3, shape)).astype(dtype)
        assert kernel("abs_sum", "numba")(x) == kernel("abs_sum", "numpy")(x), shape
        assert kernel("abs_sum", "numba")(x) == np.abs(x).sum(), shape


@pytest.mark.parametrize("options", [{"feedback": "adaptive"}, {"feedback": "sal"}, {"c_entropy": 0.01}])
def test_rules_the_kernel_does_not_cover_take_the_stepwise_path(options, monkeypatch):
    compiled, compiled_state, rule = _drive(
        True, monkeypatch, backend="numba", dtype="float64", steps=40, **options
    )
    if "c_entropy" not in options:
        assert rule._compiled_act_plan(rule.net) is None
    stepwise, stepwise_state, _ = _drive(
        False, monkeypatch, backend="numba", dtype="float64", steps=40, **options
    )
    assert compiled == stepwise


@pytest.mark.parametrize(
    "task, extra",
    [
        ("catch", None),
        ("pong", None),
        ("flappy", None),
        ("ale_pong", "ale_py"),
        ("minatar_breakout", "minatar"),
    ],
)
def test_a_lifetime_writes_the_same_files_compiled_and_stepwise(task, extra, tmp_path, monkeypatch):
    """Each task at its lifetime defaults (MinAtar's include the ObGD bound)."""
    if extra is not None:
        pytest.importorskip(extra)
    config = {
        "task": task,
        "seed": 2,
        "training": {"steps": 3000, "eval_episodes": 2, "checkpoint_every": 1000},
    }
    compiled = run_lifetime(config, out=tmp_path / "compiled", progress=False)
    _stepwise(monkeypatch)
    stepwise = run_lifetime(config, out=tmp_path / "stepwise", progress=False)
    assert compiled["episodes"] >= 2
    for run in (compiled, stepwise):
        run.pop("run_dir", None)
        run.pop("steps_per_second", None)
        run.pop("wall_seconds", None)
    assert compiled["evaluation"] == stepwise["evaluation"] and compiled["value"] == stepwise["value"]
    rows = [
        [
            {k: v for k, v in row.items() if k != "wall_seconds"}
            for row in ll.io.read_jsonl(path / "metrics.jsonl")
        ]
        for path in (tmp_path / "compiled", tmp_path / "stepwise")
    ]
    assert rows[0] == rows[1]
    with (
        np.load(tmp_path / "compiled" / "weights.npz") as a,
        np.load(tmp_path / "stepwise" / "weights.npz") as b,
    ):
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
