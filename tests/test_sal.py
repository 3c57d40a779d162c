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
