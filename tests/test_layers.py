"""Stacks of spiking layers: configuration, dynamics against the reference transcription, the
layered BPTT reference against finite differences, and layer-wise e-prop against BPTT where the
two must agree exactly."""

import numpy as np
import pytest
from conftest import finite_difference_gradient, random_sequence, small_network

import locallearn as ll
from locallearn.config import ConfigError
from locallearn.metrics import relative_error


def stack(seed=0, sizes=(6, 5), **overrides):
    settings = dict(n_rec=sizes, w_hidden_gain=3.0)
    settings.update(overrides)
    return small_network(seed, **settings)


def test_stack_names_shapes_and_config_checks():
    net = stack(0, sizes=[6, 5, 7])
    assert net.config.n_rec == (6, 5, 7) and net.n_rec == 7 and net.layer_sizes == (6, 5, 7)
    shapes = {name: value.shape for name, value in net.params.items()}
    assert shapes == {
        "w_in": (6, 4),
        "w_rec": (6, 6),
        "w_in_1": (5, 6),
        "w_rec_1": (5, 5),
        "w_in_2": (7, 5),
        "w_rec_2": (7, 7),
        "w_out": (3, 7),
        "b_out": (3,),
    }
    for name in ("w_rec", "w_rec_1", "w_rec_2"):
        assert np.all(np.diagonal(net.params[name]) == 0)
    feed_forward = stack(0, recurrent=False)
    assert "w_rec" not in feed_forward.params and "w_rec_1" not in feed_forward.params
    with pytest.raises(KeyError, match="w_rec"):
        feed_forward.w_rec = np.zeros((6, 6))
    with pytest.raises(ValueError, match="w_rec_1"):
        bad = net.params["w_rec_1"].copy()
        bad[0, 0] = 1.0
        net.set_param("w_rec_1", bad)
    with pytest.raises(ConfigError, match="n_adaptive"):
        ll.NetworkConfig(n_in=2, n_rec=(8, 3), n_out=1, n_adaptive=4)
    with pytest.raises(ConfigError, match="n_rec"):
        ll.NetworkConfig(n_in=2, n_rec=(), n_out=1)
    # a one-element list is the single-layer network, drawing the same weights as before
    single, listed = small_network(3), small_network(3, n_rec=[8])
    for name in single.params:
        np.testing.assert_array_equal(single.params[name], listed.params[name])


@pytest.mark.parametrize("recurrent", [True, False])
def test_stack_forward_matches_reference_transcription(recurrent):
    net = stack(1, recurrent=recurrent)
    inputs, _, _ = random_sequence(net, T=80, seed=1)
    record = net.run(inputs)
    traj = ll.reference.simulate(net, inputs)
    assert record["z_0"].sum() > 10 and record["z_1"].sum() > 10
    for index, layer in enumerate(traj.layers):
        np.testing.assert_array_equal(record[f"z_{index}"], layer["z"])
    np.testing.assert_allclose(record["y"], traj.y, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(traj.layers[1]["x"], traj.layers[0]["z"])


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_layered_bptt_matches_finite_differences_with_smooth_spikes(loss):
    net = stack(3, sizes=(4, 3), n_adaptive=2, n_ref=2, spike_fn="sigmoid", sigmoid_width=0.3)
    inputs, targets, mask = random_sequence(net, T=30, seed=3, loss=loss)
    gb = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask)
    for key in net.params:
        numeric = finite_difference_gradient(net, key, inputs, targets, loss, mask)
        assert np.linalg.norm(numeric) > 0, key
        assert relative_error(gb[key], numeric) <= 1e-6, key


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("sizes", [(6, 5), (6, 5, 4)])
def test_layered_symmetric_eprop_is_exact_without_integration(loss, sizes):
    """With membranes and readout that do not integrate (tau_mem, tau_out << dt, so alpha and
    kappa are ~1e-44), feed-forward layers and the reset held constant, the only path from a
    weight to the loss runs through the same step, and layer-wise e-prop with B_l = W_{l+1}^T is
    exactly BPTT — a check of the layer plumbing (same-step propagation, psi, transposes)."""
    net = stack(
        5,
        sizes=sizes,
        recurrent=False,
        n_adaptive=0,
        tau_mem=0.01,
        tau_out=0.01,
        w_in_gain=6.0,
        w_hidden_gain=6.0,
    )
    inputs, targets, mask = random_sequence(net, T=60, seed=5, loss=loss)
    record = net.run(inputs)
    assert all(record[f"z_{i}"].sum() > 10 for i in range(len(sizes)))
    g = ll.gradient_estimate(
        net, ll.rules.make("eprop", feedback="symmetric"), inputs, targets, loss=loss, mask=mask
    )
    gb = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask, detach=("reset",))
    for key in net.params:
        assert np.linalg.norm(gb[key]) > 0, key
        assert relative_error(g[key], gb[key]) <= 1e-9, key


def test_layered_learning_signals_follow_their_formulas():
    """One step by hand: the top layer gets B err, the layer below B_0 (L_1 * psi_1), except
    with DFA, where it gets D_0 err with its own D_0 of shape (n_0, n_out)."""
    for mode in ("random", "symmetric", "direct", "adaptive"):
        net = stack(2)
        rule = ll.rules.make("eprop", feedback=mode)
        rule.bind(net)
        rng = np.random.default_rng(0)
        for x in (rng.random((20, net.n_in)) < 0.5).astype(float):
            net.step(x)
        error = rng.standard_normal(net.n_out)
        bottom, top = rule.learning_signals(net, error)
        B_top, B_bottom = rule.feedbacks[1].matrix(), rule.feedbacks[0].matrix()
        np.testing.assert_allclose(top, B_top @ error, rtol=1e-12)
        if mode == "direct":
            assert B_bottom.shape == (6, 3)
            np.testing.assert_allclose(bottom, B_bottom @ error, rtol=1e-12)
        else:
            assert B_bottom.shape == (6, 5)
            np.testing.assert_allclose(bottom, B_bottom @ (top * net.layers[1].state.psi), rtol=1e-12)
        if mode == "symmetric":
            np.testing.assert_array_equal(B_bottom, net.params["w_in_1"].T)
        else:  # each layer's pathway draws its own matrix
            rows, cols = min(5, B_bottom.shape[0]), min(3, B_bottom.shape[1])
            assert not np.allclose(B_top[:rows, :cols], B_bottom[:rows, :cols])


def test_kolen_pollack_aligns_every_layer_of_a_stack():
    """KP on a stack: for w_out and w_in_1 alike, W - B^T shrinks by (1 - decay) per update."""
    net = stack(4)
    rule = ll.rules.make("eprop", feedback="adaptive", feedback_options={"decay": 0.1})
    learner = ll.runner.OnlineLearner(net, rule, ll.optim.SGD(lr=1e-2), update="trial")
    gaps = [
        [
            np.linalg.norm(net.params[w] - f.matrix().T)
            for w, f in (("w_in_1", rule.feedbacks[0]), ("w_out", rule.feedbacks[1]))
        ]
    ]
    for seed in range(3):
        inputs, targets, mask = random_sequence(net, seed=seed)
        learner.run_sequence(inputs, targets, mask)
        gaps.append(
            [
                np.linalg.norm(net.params[w] - f.matrix().T)
                for w, f in (("w_in_1", rule.feedbacks[0]), ("w_out", rule.feedbacks[1]))
            ]
        )
    gaps = np.array(gaps)
    np.testing.assert_allclose(gaps[1:] / gaps[:-1], 0.9, rtol=1e-9)


def test_single_layer_rules_refuse_stacks():
    net = stack(0, n_out=4, n_adaptive=2)
    with pytest.raises(NotImplementedError, match="single-layer"):
        ll.rules.make("rstdp").bind(net)
    ll.rules.make("reward-eprop").bind(net)  # drives stacks (tests/test_rl.py)
    with pytest.raises(NotImplementedError, match="single-layer"):
        ll.reference.rtrl_gradients(net, *random_sequence(net)[:2])


def test_stacked_online_learning_is_deterministic_and_checkpointable():
    finals = []
    for _ in range(2):
        net = stack(6, dtype="float32")
        rule = ll.rules.make("eprop", feedback="weight_mirror")
        learner = ll.runner.OnlineLearner(net, rule, ll.optim.Adam(lr=1e-3), update="step")
        for seed in range(3):
            learner.run_sequence(*random_sequence(net, seed=seed))
        finals.append({k: v.copy() for k, v in net.params.items()})
        state = rule.state_dict()
    assert {"rate_khz", "rate_khz_0", "feedback/B", "feedback_0/B"} <= set(state)
    for name in finals[0]:
        np.testing.assert_array_equal(finals[0][name], finals[1][name])


def _trace_bp_by_hand(net, inputs, targets, mask, tau_trace):
    """trace-bp's hidden-layer estimate with symmetric feedback, from the module docstring's
    equations, on the reference transcription's recorded layers (MSE)."""
    traj = ll.reference.simulate(net, inputs)
    c = net.config
    d, alpha = np.exp(-c.dt / tau_trace), np.exp(-c.dt / c.tau_mem)
    layers = net.layers
    xhat = [np.zeros(layer.n_in) for layer in layers]
    zhat = [np.zeros(layer.n) for layer in layers]
    grads = {name: np.zeros(net.params[name].shape) for name in net.params}
    for t in range(len(inputs)):
        err = mask[t] * (traj.y[t] - targets[t])
        means, phis = [], []
        for index, layer in enumerate(layers):
            rec = traj.layers[index]
            xhat[index] = d * xhat[index] + rec["x"][t]
            zhat[index] = d * zhat[index] + (rec["z"][t - 1] if t else 0)
            a, r = (1 - d) * xhat[index], (1 - d) * zhat[index]
            v_mean = (layer.w_in @ a + layer.w_rec @ r) / (1 - alpha)
            phis.append(c.gamma / c.v_th * np.maximum(0, 1 - np.abs(v_mean - c.v_th) / c.v_th))
            means.append((a, r))
        signal = net.w_out.T @ err
        for index in range(len(layers) - 1, -1, -1):
            delta = signal * phis[index]
            grads[layers[index].param_names["w_in"]] += np.outer(delta, means[index][0])
            grads[layers[index].param_names["w_rec"]] += np.outer(delta, means[index][1])
            signal = layers[index].w_in.T @ delta
    for layer in layers:
        np.fill_diagonal(grads[layer.param_names["w_rec"]], 0)
    return grads


def test_trace_bp_follows_its_equations():
    net = stack(7, n_adaptive=0)
    inputs, targets, mask = random_sequence(net, T=50, seed=7)
    g = ll.gradient_estimate(net, ll.rules.make("trace-bp", tau_trace=10.0), inputs, targets, mask=mask)
    by_hand = _trace_bp_by_hand(net, inputs, targets, mask, 10.0)
    gb = ll.reference.bptt_gradients(net, inputs, targets, mask=mask)
    for key in ("w_in", "w_rec", "w_in_1", "w_rec_1"):
        assert np.linalg.norm(by_hand[key]) > 0, key
        assert relative_error(g[key], by_hand[key]) <= 1e-10, key
    for key in ("w_out", "b_out"):  # the readout's gradient is the exact one
        assert relative_error(g[key], gb[key]) <= 1e-10, key


@pytest.mark.parametrize("rule", ["eprop", "trace-bp"])
def test_layered_estimates_point_along_the_full_gradient(rule):
    """Both layer-wise estimates (symmetric feedback) against full BPTT of a recurrent LIF stack,
    mean cosine over 4 seeds (measured: e-prop 0.93/0.97, trace-bp 0.68/0.65 for layers 0/1)."""
    cosines = []
    for seed in range(4):
        net = small_network(seed, n_in=10, n_rec=(20, 20), n_adaptive=0, w_in_gain=3.0, w_hidden_gain=3.0)
        inputs, targets, mask = random_sequence(net, T=100, seed=seed)
        g = ll.gradient_estimate(net, ll.rules.make(rule), inputs, targets, mask=mask)
        gb = ll.reference.bptt_gradients(net, inputs, targets, mask=mask)
        cosines.append([ll.metrics.cosine(g[k], gb[k]) for k in ("w_in", "w_in_1")])
    floor = 0.8 if rule == "eprop" else 0.4
    assert np.all(np.mean(cosines, axis=0) > floor), cosines
