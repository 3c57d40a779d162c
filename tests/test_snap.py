"""SnAp-1 / D-RTRL and SnAp-2 against the exact references, e-prop, and their numpy twins."""

import numpy as np
import pytest
from conftest import activity_report, random_sequence, small_network
from hypothesis import given, settings
from hypothesis import strategies as st
from locallearn.rules import _kernels as rule_kernels

import locallearn as ll
from locallearn.config import ConfigError
from locallearn.metrics import relative_error

KEYS = ("w_in", "w_rec", "w_out", "b_out")


def _estimate(net, rule, loss, seed, T=60):
    inputs, targets, mask = random_sequence(net, T=T, seed=seed, loss=loss)
    return ll.gradient_estimate(net, rule, inputs, targets, loss=loss, mask=mask), (inputs, targets, mask)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_snap1_is_exact_bptt_with_recurrent_spikes_held_constant(seed, loss):
    net = small_network(seed)
    estimate, (inputs, targets, mask) = _estimate(net, ll.rules.make("snap", n=1), loss, seed)
    activity = activity_report(net, inputs)
    assert activity["spikes"] > 20 and activity["adaptation"] > 0
    exact = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask, detach=("recurrent",))
    for key in KEYS:
        assert np.linalg.norm(exact[key]) > 0
        assert relative_error(estimate[key], exact[key]) <= 1e-9, key
    full = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask)
    assert relative_error(estimate["w_in"], full["w_in"]) > 1e-6  # a truncation, not the gradient


@pytest.mark.parametrize("seed", [0, 1])
def test_snap1_without_recurrent_weights_is_exact_rtrl(seed):
    net = small_network(seed, recurrent=False)
    estimate, (inputs, targets, mask) = _estimate(net, ll.rules.make("d-rtrl"), "mse", seed)
    exact = ll.reference.rtrl_gradients(net, inputs, targets, loss="mse", mask=mask)
    for key in ("w_in", "w_out", "b_out"):
        assert relative_error(estimate[key], exact[key]) <= 1e-9, key


@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_snap1_without_the_reset_derivative_is_eprop(feedback):
    net = small_network(4)
    snap, _ = _estimate(net, ll.rules.make("snap", feedback=feedback, reset=False), "mse", 4)
    eprop, _ = _estimate(net, ll.rules.make("eprop", feedback=feedback), "mse", 4)
    for key in KEYS:
        assert relative_error(snap[key], eprop[key]) <= 1e-9, key


@pytest.mark.parametrize("seed", [0, 1])
def test_snap2_on_a_densely_connected_layer_is_exact_rtrl(seed):
    net = small_network(seed)
    assert np.count_nonzero(net.params["w_rec"]) == net.n_rec * (net.n_rec - 1)
    estimate, (inputs, targets, mask) = _estimate(net, ll.rules.make("snap", n=2), "ce", seed, T=40)
    exact = ll.reference.rtrl_gradients(net, inputs, targets, loss="ce", mask=mask)
    for key in KEYS:
        assert relative_error(estimate[key], exact[key]) <= 1e-9, key


def test_snap2_on_a_sparse_layer_lies_between_snap1_and_rtrl():
    net = small_network(5, n_rec=10)
    w_rec = net.params["w_rec"]
    w_rec[np.random.default_rng(0).random(w_rec.shape) < 0.6] = 0.0  # structural zeros
    snap1, (inputs, targets, mask) = _estimate(net, ll.rules.make("snap", n=1), "mse", 5)
    snap2, _ = _estimate(net, ll.rules.make("snap", n=2), "mse", 5)
    exact = ll.reference.rtrl_gradients(net, inputs, targets, loss="mse", mask=mask)
    errors = [relative_error(g["w_in"], exact["w_in"]) for g in (snap1, snap2)]
    assert errors[1] < errors[0] and errors[1] > 1e-9


@settings(max_examples=40, deadline=None)
@given(
    n_post=st.integers(1, 8),
    n_pre=st.integers(1, 8),
    seed=st.integers(0, 2**31),
    recurrent=st.booleans(),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_snap1_step_twins_agree(n_post, n_pre, seed, recurrent, dtype):
    t = np.dtype(dtype).type
    rng = np.random.default_rng(seed)
    n_pre = n_post if recurrent else n_pre
    pre = (rng.random(n_pre) < 0.4).astype(t)
    psi, beta, signal = (np.abs(rng.standard_normal(n_post)).astype(t) for _ in range(3))
    start = [rng.standard_normal((n_post, n_pre)).astype(t) for _ in range(5)]
    results = []
    for step in (rule_kernels.snap1_step, rule_kernels.snap1_step_numpy):
        arrays = [a.copy() for a in start]
        step(pre, psi, beta, t(0.95), t(0.99), t(1.0), t(0.9), *arrays[:4], signal, arrays[4], recurrent)
        results.append(arrays)
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-6 if dtype == "float32" else 1e-13, atol=1e-6)


def test_snap_options_are_checked():
    with pytest.raises(ConfigError, match="must be 1 or 2"):
        ll.rules.make("snap", n=3)
    with pytest.raises(ConfigError, match="max_bytes"):
        ll.rules.make("snap", n=2, max_bytes=1000).bind(small_network(0))
    with pytest.raises(NotImplementedError, match="single layer"):
        ll.rules.make("snap").bind(small_network(0, n_rec=(6, 6)))


def test_snap1_learns_online_like_eprop():
    # the online loop drives it like any supervised rule: the loss falls on a fixed sequence
    net = small_network(2)
    learner = ll.OnlineLearner(net, ll.rules.make("snap"), ll.Adam(lr=3e-3), loss="mse", update="trial")
    inputs, targets, mask = random_sequence(net, T=60, seed=2)
    losses = [learner.run_sequence(inputs, targets, mask).loss for _ in range(30)]
    assert losses[-1] < 0.8 * losses[0]


def test_the_temporal_credit_table_checks_itself_and_renders(tmp_path):
    from conftest import load_benchmark

    from locallearn import report

    bench = load_benchmark("temporal_credit")
    row = bench.cosines(0)
    assert row["RTRL (exact)"][0] == pytest.approx(1.0, abs=1e-9)  # the exact reference
    assert row["SnAp-1 = D-RTRL"][1] == pytest.approx(1.0, abs=1e-9)  # exact for its own model
    assert row["SnAp-2"][0] > row["e-prop"][0]
    bench.main(["--cosines", "--networks", "2", "--workers", "1", "--out", str(tmp_path / "c.json")])
    text = report.report([tmp_path / "c.json"])
    assert "| SnAp-2 |" in text and "--networks 2" in text
    with pytest.raises(ValueError, match="one cell per column"):
        report.write_benchmark(tmp_path / "bad.json", "t", "c", ["a", "b"], [["only one"]])


def _uoro_samples(k: int, seed: int = 5, error_at: int | None = 10):
    """``k`` UORO estimates and the exact RTRL gradient on a short sequence in which the reset,
    the adaptation and the recurrent spikes all matter (holding the reset or the recurrent
    spikes constant moves the exact w_in gradient by 50 % and 22 %); with ``error_at`` the loss
    counts one step only, whose influence has few terms (a small variance: a sharp test)."""
    net = small_network(2, n_rec=6, n_adaptive=3, n_in=4, n_out=2, w_in_gain=1.5, n_ref=0)
    inputs, targets, mask = random_sequence(net, T=12, seed=2, density=0.5)
    if error_at is not None:
        mask = np.zeros_like(mask)
        mask[error_at] = 1.0
    exact = ll.reference.rtrl_gradients(net, inputs, targets, loss="mse", mask=mask)
    rule = ll.rules.make("uoro", seed=seed)
    samples = []
    for _ in range(k):  # the sign stream runs on: every estimate is an independent draw
        g = ll.gradient_estimate(net, rule, inputs, targets, loss="mse", mask=mask)
        samples.append(np.concatenate([g["w_in"].ravel(), g["w_rec"].ravel()]))
    return np.array(samples), np.concatenate([exact["w_in"].ravel(), exact["w_rec"].ravel()])


def _z_scores(samples, exact):
    error = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
    assert np.all(error[exact != 0] > 0)
    kept = error > 0
    return (samples.mean(axis=0)[kept] - exact[kept]) / error[kept]


def test_uoro_is_unbiased_within_a_statistical_bound():
    # every entry's mean over 3,000 estimates lies within 4.5 standard errors of exact RTRL
    # (over ~34 entries that bound is crossed by chance with probability ~2e-4), and the
    # spread of the z-scores is that of noise around the truth, not of a systematic offset
    samples, exact = _uoro_samples(3000)
    z = _z_scores(samples, exact)
    assert np.abs(z).max() < 4.5 and 0.3 < np.mean(z**2) < 2.0
    samples_other_seed, _ = _uoro_samples(10, seed=6)
    assert not np.allclose(samples_other_seed[0], samples[0])  # the signs are random


@pytest.mark.slow
def test_uoro_error_of_the_mean_falls_like_one_over_root_k():
    samples, exact = _uoro_samples(20_000, error_at=None)
    errors = [
        np.linalg.norm(samples[:k].mean(axis=0) - exact) / np.linalg.norm(exact) for k in (1250, 20_000)
    ]
    assert errors[1] < 0.5 * errors[0] and errors[1] < 0.5


def test_the_cost_table_measures_small_layers_and_names_what_would_not_fit(tmp_path):
    from conftest import load_benchmark

    from locallearn import report

    bench = load_benchmark("temporal_credit")
    micros, state = bench.costs(8, "SnAp-1 = D-RTRL", steps=3, memory=2**34)
    assert micros > 0 and state > 4 * 8 * (40 + 8) * 4  # ev, ea, ez, ebar per synapse (float32) and more
    assert bench.costs(1024, "SnAp-2", steps=3, memory=2**30) == (
        None,
        bench._influence_bytes("SnAp-2", 1024),
    )
    bench.main(["--costs", "--sizes", "8", "--steps", "3", "--out", str(tmp_path / "costs.json")])
    assert "| UORO |" in report.report([tmp_path / "costs.json"])
