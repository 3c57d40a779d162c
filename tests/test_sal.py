"""SAL: the antisymmetric spike-timing update and the symmetrization it produces."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from locallearn.rules import _kernels as rule_kernels
from locallearn.rules.sal import SALNetwork

from locallearn.metrics import alignment_angle, alignment_slope, residual_variance


def _run_update(low_spikes, up_spikes, decay=0.9, lr=0.1, backend="numba"):
    n_low, n_up = low_spikes.shape[1], up_spikes.shape[1]
    x_low, x_up, B = np.zeros(n_low), np.zeros(n_up), np.zeros((n_low, n_up))
    update = rule_kernels.kernel("antisymmetric_stdp_step", backend)
    for s_low, s_up in zip(low_spikes, up_spikes):
        x_low = decay * x_low + s_low
        x_up = decay * x_up + s_up
        update(x_low, s_low, x_up, s_up, lr, B)
    return B


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31), n_low=st.integers(1, 6), n_up=st.integers(1, 6), density=st.floats(0.05, 0.6)
)
def test_sal_update_is_antisymmetric_in_swapping_pre_and_post_trains(seed, n_low, n_up, density):
    rng = np.random.default_rng(seed)
    low = (rng.random((40, n_low)) < density).astype(float)
    up = (rng.random((40, n_up)) < density).astype(float)
    forward = _run_update(low, up)
    swapped = _run_update(up, low)
    np.testing.assert_allclose(forward, -swapped.T, atol=1e-12)
    np.testing.assert_allclose(forward, _run_update(low, up, backend="numpy"), atol=1e-12)


def test_coincident_spikes_cancel_and_timing_sets_the_sign():
    one = np.ones((1, 1))
    assert _run_update(one, one)[0, 0] == 0.0
    low_then_up = _run_update(np.array([[1.0], [0.0]]), np.array([[0.0], [1.0]]))
    up_then_low = _run_update(np.array([[0.0], [1.0]]), np.array([[1.0], [0.0]]))
    assert low_then_up[0, 0] == pytest.approx(0.1 * 0.9)  # lower before upper: potentiation
    assert up_then_low[0, 0] == pytest.approx(-0.1 * 0.9)  # upper before lower: depression


def test_sal_update_equals_the_formula_on_small_matrices():
    rng = np.random.default_rng(0)
    x_low, s_low = rng.random(4), (rng.random(4) < 0.5).astype(float)
    x_up, s_up = rng.random(3), (rng.random(3) < 0.5).astype(float)
    B = rng.standard_normal((4, 3))
    expected = B + 0.01 * (np.outer(x_low, s_up) - np.outer(s_low, x_up))
    rule_kernels.antisymmetric_stdp_step(x_low, s_low, x_up, s_up, 0.01, B)
    np.testing.assert_allclose(B, expected, rtol=1e-14)


def test_alignment_measures():
    W = np.random.default_rng(1).standard_normal((5, 7))
    assert alignment_angle(W.T, W) == pytest.approx(0.0, abs=1e-6)
    assert alignment_angle(-W.T, W) == pytest.approx(180.0, abs=1e-6)
    assert alignment_slope(2 * W.T, W) == pytest.approx(2.0)
    assert residual_variance(W.T + 1.0, W) == pytest.approx(0.0, abs=1e-12)


def test_short_symmetrization_moves_feedback_towards_the_transpose():
    net = SALNetwork(sizes=(12, 8, 4), lr=2e-2, seed=0)
    before = [a["angle"] for a in net.alignment()]
    rows = net.symmetrize(15000, record_every=5000)
    after = [a["angle"] for a in rows[-1]["alignment"]]
    assert all(a < b - 20 for a, b in zip(after, before))
    assert all(a["slope"] > 0.3 for a in rows[-1]["alignment"])


def _pair_state(net):
    return [
        *(a.copy() for a in (net.spikes[0], net.spikes[1], net.psp[0], net.psp[1])),
        *(a.copy() for a in (net.history[0], net.history[1], net.traces[0], net.traces[1])),
        *(a.copy() for a in (net.since[0], net.since[1])),
    ]


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    n_low=st.integers(1, 12),
    n_up=st.integers(1, 6),
    t_ref=st.integers(1, 6),
    coupling=st.sampled_from([0.0, 1.0, 0.5]),
    ratio=st.sampled_from([1.0, 0.999]),
)
def test_sal_pair_steps_twins_agree(seed, n_low, n_up, t_ref, coupling, ratio):
    net = SALNetwork(sizes=(n_low, n_up), t_ref=t_ref, lr=0.05, seed=seed % 1000, coupling=coupling)
    net.run(30, np.random.default_rng(seed))  # a state with spikes, traces and refractoriness
    draws = np.random.default_rng(seed + 1).random((60, n_low + n_up))
    results = []
    for backend in ("numba", "numpy"):
        state, b = _pair_state(net), net.B[0].copy()
        lr = rule_kernels.kernel("sal_pair_steps", backend)(
            draws,
            net.W[0],
            b,
            net.bias[0],
            net.bias[1],
            net.offset[0],
            net.offset[1],
            coupling,
            float(net.decay),
            t_ref,
            net.t,
            0.05,
            ratio,
            *state,
        )
        results.append((lr, b, state))
    (lr_a, b_a, state_a), (lr_b, b_b, state_b) = results
    assert lr_a == lr_b
    for index in (0, 1, 4, 5, 8, 9):  # spikes, history and refractory counters: exactly
        np.testing.assert_array_equal(state_a[index], state_b[index])
    np.testing.assert_allclose(b_a, b_b, rtol=1e-12, atol=1e-12)
    for index in (2, 3, 6, 7):  # psp and traces
        np.testing.assert_allclose(state_a[index], state_b[index], rtol=1e-12, atol=1e-12)


def test_a_compiled_run_is_the_same_as_stepping_with_the_same_generator():
    stepped, compiled = (SALNetwork(sizes=(20, 4), lr=2e-2, seed=3) for _ in range(2))
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(700):
        stepped.step(rng_a)
        stepped.lr *= 0.999
    compiled.run(700, rng_b, lr_ratio=0.999, block=256)  # blocks do not change the draws
    assert rng_a.random() == rng_b.random() and stepped.t == compiled.t == 700
    assert compiled.lr == pytest.approx(stepped.lr, rel=1e-12)
    np.testing.assert_array_equal(stepped.since[0], compiled.since[0])
    np.testing.assert_array_equal(stepped.history[1], compiled.history[1])
    np.testing.assert_allclose(compiled.B[0], stepped.B[0], rtol=1e-10, atol=1e-12)
    assert np.abs(stepped.B[0] - SALNetwork(sizes=(20, 4), lr=2e-2, seed=3).B[0]).max() > 1e-3  # it learned
