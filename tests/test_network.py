"""Configuration, weights, determinism, registries and clear errors on bad input."""

import numpy as np
import pytest
from conftest import load_benchmark, random_sequence, small_network

import locallearn as ll


def test_config_rejects_negative_time_constant_naming_the_field():
    with pytest.raises(ll.ConfigError, match=r"NetworkConfig\.tau_mem"):
        ll.NetworkConfig(n_in=2, n_rec=3, n_out=1, tau_mem=-20.0)


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("n_rec", 0, "n_rec"),
        ("n_adaptive", 9, "n_adaptive"),
        ("dtype", "float16", "dtype"),
        ("n_ref", -1, "n_ref"),
        ("spike_fn", "relu", "spike_fn"),
        ("v_th", float("nan"), "v_th"),
        ("backend", "cuda", "backend"),
        ("n_in", 2.5, "n_in"),
    ],
)
def test_config_rejects_bad_values(field, value, fragment):
    settings = dict(n_in=2, n_rec=3, n_out=1)
    settings[field] = value
    with pytest.raises(ll.ConfigError, match=fragment):
        ll.NetworkConfig(**settings)


def test_config_from_dict_rejects_unknown_keys_with_a_suggestion():
    with pytest.raises(ll.ConfigError, match="tau_men.*did you mean 'tau_mem'"):
        ll.NetworkConfig.from_dict({"n_in": 2, "n_rec": 3, "n_out": 1, "tau_men": 20.0})


def test_config_round_trips_through_a_dict():
    config = ll.NetworkConfig(n_in=2, n_rec=3, n_out=1, n_adaptive=2, seed=4)
    assert ll.NetworkConfig.from_dict(config.to_dict()) == config


def test_weights_have_documented_shapes_dtype_and_zero_diagonal():
    net = ll.Network(ll.NetworkConfig(n_in=40, n_rec=100, n_out=2, n_adaptive=50))
    assert net.w_in.shape == (100, 40) and net.w_rec.shape == (100, 100)
    assert net.w_out.shape == (2, 100)
    assert net.w_in.dtype == np.float32
    assert np.all(np.diagonal(net.w_rec) == 0)
    assert np.std(net.w_in) == pytest.approx(1 / np.sqrt(40), rel=0.1)


def test_weight_setters_validate_shape_finiteness_and_diagonal():
    net = small_network()
    with pytest.raises(ValueError, match=r"w_in must have shape \(8, 4\)"):
        net.w_in = np.zeros((4, 8))
    with pytest.raises(ValueError, match="NaN"):
        net.w_out = np.full((3, 8), np.nan)
    with pytest.raises(ValueError, match="zero diagonal"):
        net.w_rec = np.ones((8, 8))
    original = net.w_in.copy()
    with pytest.raises(ValueError):
        net.w_in = np.full((8, 4), np.inf)
    np.testing.assert_array_equal(net.w_in, original)  # a rejected value writes nothing
    net.w_in = np.ones((8, 4))
    assert np.all(net.w_in == 1)


def test_same_seed_gives_different_weights_than_other_seed():
    a = small_network(seed=1)
    b = small_network(seed=1)
    c = small_network(seed=2)
    np.testing.assert_array_equal(a.w_rec, b.w_rec)
    assert not np.array_equal(a.w_rec, c.w_rec)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("feedback", ["symmetric", "random", "adaptive"])
def test_same_seed_gives_bit_identical_weights_after_1000_online_steps(dtype, feedback):
    def train():
        net = small_network(seed=3, dtype=dtype)
        inputs, targets, mask = random_sequence(net, T=250, seed=3)
        rule = ll.rules.make("eprop", feedback=feedback, c_reg=0.1)
        learner = ll.OnlineLearner(net, rule, ll.Adam(lr=1e-3))
        for _ in range(4):
            learner.run_sequence(inputs, targets, mask)
        assert learner.steps == 1000
        return net.params

    first, second = train(), train()
    for key in first:
        assert first[key].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(first[key], second[key])


def test_numpy_backend_gives_the_same_run_as_numba():
    results = []
    for backend in ("numba", "numpy"):
        net = small_network(seed=4, backend=backend)
        inputs, targets, mask = random_sequence(net, T=100, seed=4)
        learner = ll.OnlineLearner(net, ll.rules.make("eprop", feedback="random"), ll.SGD(1e-3))
        learner.run_sequence(inputs, targets, mask)
        results.append(net.params)
    for key in results[0]:
        np.testing.assert_allclose(results[0][key], results[1][key], rtol=1e-10, atol=1e-12)


def test_wrong_input_shape_is_a_clear_error():
    net = small_network()
    rule = ll.rules.make("eprop")
    with pytest.raises(ValueError, match=r"inputs must have shape \(T, n_in=4\)"):
        ll.gradient_estimate(net, rule, np.zeros((10, 5)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"targets must have shape \(T=10, n_out=3\)"):
        ll.gradient_estimate(net, rule, np.zeros((10, 4)), np.zeros((10, 2)))
    with pytest.raises(ValueError, match=r"mask must have shape \(T=10,\)"):
        ll.gradient_estimate(net, rule, np.zeros((10, 4)), np.zeros((10, 3)), mask=np.ones(9))


def test_nan_in_inputs_is_a_clear_error_naming_the_step():
    net = small_network()
    inputs = np.zeros((10, 4))
    inputs[6, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf.*step 6, input 2"):
        ll.gradient_estimate(net, ll.rules.make("eprop"), inputs, np.zeros((10, 3)))


def test_unknown_rule_feedback_loss_and_optimizer_names_are_clear_errors():
    with pytest.raises(ll.UnknownNameError, match="unknown rule 'epop'; did you mean 'eprop'"):
        ll.rules.make("epop")
    with pytest.raises(ll.UnknownNameError, match="unknown feedback mode 'randm'.*random"):
        ll.rules.make("eprop", feedback="randm")
    with pytest.raises(ll.UnknownNameError, match="unknown loss 'hinge'"):
        ll.gradient_estimate(
            small_network(), ll.rules.make("eprop"), np.zeros((5, 4)), np.zeros((5, 3)), loss="hinge"
        )
    with pytest.raises(ll.UnknownNameError, match="unknown optimizer"):
        ll.make_optimizer("lbfgs")


def test_registries_list_builtins_and_accept_a_users_rule():
    assert "eprop" in ll.rules.available()
    assert set(ll.rules.feedback.available()) >= {"symmetric", "random", "direct", "adaptive"}
    assert "evidence" in ll.tasks.available()

    @ll.rules.register("test-readout-only")
    class ReadoutOnly:
        name, kind = "test-readout-only", "supervised"

        def bind(self, net):
            self.grads = {"w_out": np.zeros_like(net.w_out)}

        def begin_sequence(self):
            self.trace = 0

        def step(self, net, error):
            self.trace = net.kappa * self.trace + net.layers[0].state.z
            self.grads["w_out"] += np.outer(error, self.trace)

        def gradients(self):
            return self.grads

        def zero_grad(self):
            self.grads["w_out"][:] = 0

        def after_update(self, net, deltas):
            pass

    try:
        rule = ll.rules.make("test-readout-only")
        assert isinstance(rule, ll.Rule)
        net = small_network()
        inputs, targets, mask = random_sequence(net)
        g = ll.gradient_estimate(net, rule, inputs, targets, mask=mask)
        exact = ll.reference.bptt_gradients(net, inputs, targets, mask=mask)
        np.testing.assert_allclose(g["w_out"], exact["w_out"], rtol=1e-10)
        with pytest.raises(ValueError, match="already registered"):
            ll.rules.register("test-readout-only", object)
    finally:
        ll.rules.registry._factories.pop("test-readout-only")


def test_symmetric_eprop_is_far_from_orthogonal_to_bptt_on_evidence_accumulation():
    bench = load_benchmark("gradient_alignment")
    result = bench.measure("symmetric", seed=0, n_trials=6)
    assert result["hidden_vs_bptt"] > 0.3
    assert result["hidden_vs_eprop_model"] == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_compiled_sequence_equals_step_by_step(backend, dtype):
    config = ll.NetworkConfig(
        n_in=10, n_rec=30, n_out=3, n_adaptive=10, dtype=dtype, backend=backend, w_in_gain=3.0, seed=2
    )
    stepwise, whole = ll.Network(config), ll.Network(config)
    inputs = (np.random.default_rng(0).random((150, 10)) < 0.2).astype(dtype)
    record = stepwise.run(inputs)
    whole.reset_state()
    fast = whole.simulate(inputs)
    assert record["z"].sum() > 50
    for key in ("z", "psi", "y"):
        np.testing.assert_array_equal(record[key], fast[key])
    for name in ("v", "a", "z", "refractory"):
        np.testing.assert_array_equal(
            getattr(stepwise.layers[0].state, name), getattr(whole.layers[0].state, name)
        )
    np.testing.assert_array_equal(stepwise.layers[0].z_prev, whole.layers[0].z_prev)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_escape_noise_neurons_fire_with_the_sigmoid_probability(backend):
    """Stochastic neurons: with the membrane clamped by a strong leak (tau_mem tiny) and a
    constant input, each step fires with p = sigmoid((v - v_th) / (v_th width)) unless
    refractory; the rate matches p / (1 + n_ref p) and psi is p (1 - p) / (v_th width)."""
    drive = np.array([0.4, 0.6, 0.8])
    config = ll.NetworkConfig(
        n_in=3,
        n_rec=3,
        n_out=1,
        spike_fn="escape",
        sigmoid_width=0.2,
        tau_mem=0.01,
        n_ref=2,
        w_rec_gain=0.0,
        dtype="float64",
        backend=backend,
        seed=4,
    )
    net = ll.Network(config)
    net.w_in = np.diag(drive)
    # v = I - v_th z_prev: after a spike the reset lowers v for one step, but that step is
    # refractory anyway (n_ref = 2), so every non-refractory step sees v = drive
    record = net.run(np.ones((40_000, 3)))
    p = 1 / (1 + np.exp(-(drive - 0.6) / (0.6 * 0.2)))
    rate = record["z"].mean(axis=0)
    np.testing.assert_allclose(rate, p / (1 + 2 * p), rtol=0.05)
    free = record["psi"] > 0
    for j in range(3):
        np.testing.assert_allclose(record["psi"][free[:, j], j], p[j] * (1 - p[j]) / 0.12, rtol=1e-9)
    again = ll.Network(config)
    again.w_in = np.diag(drive)
    np.testing.assert_array_equal(again.run(np.ones((500, 3)))["z"], record["z"][:500])
    with pytest.raises(NotImplementedError, match="deterministic"):
        ll.reference.bptt_gradients(net, np.ones((5, 3)), np.zeros((5, 1)))


def test_escape_noise_twins_agree():
    from locallearn import kernels

    rng = np.random.default_rng(1)
    states = [
        [
            rng.standard_normal(6),
            np.abs(rng.standard_normal(6)),
            np.zeros(6),
            np.array([0, 1, 0, 2, 0, 0], np.int32),
            np.zeros(6),
        ]
        for _ in range(1)
    ]
    states.append([x.copy() for x in states[0]])
    beta = np.full(6, 0.2)
    spikes = 0
    for _ in range(20):
        current, uniform = rng.standard_normal(6), rng.random(6)
        for implementation, state in (
            (kernels.escape_neuron_step, states[0]),
            (kernels.escape_neuron_step_numpy, states[1]),
        ):
            v, a, z, refractory, psi = state
            implementation(current, v, a, z, refractory, psi, 0.9, 0.99, beta, 0.6, 2, 0.2, uniform)
        spikes += states[0][2].sum()
        for x, y in zip(*states):
            np.testing.assert_allclose(x, y, rtol=1e-12)
    assert spikes > 0
