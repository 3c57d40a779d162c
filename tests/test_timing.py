"""The spike-timing perturbation test: jitter keeps every input neuron's spike count."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from locallearn import timing
from locallearn.runs import execute


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), sigma=st.floats(0.0, 30.0), steps=st.integers(1, 80))
def test_jitter_keeps_counts_and_moves_spikes_by_about_sigma(seed, sigma, steps):
    rng = np.random.default_rng(seed)
    inputs = (rng.random((steps, 6)) < 0.2).astype(np.float32)
    moved = timing.jitter_spikes(inputs, sigma, np.random.default_rng(seed + 1))
    assert moved.dtype == inputs.dtype and moved.shape == inputs.shape
    np.testing.assert_array_equal(moved.sum(axis=0), inputs.sum(axis=0))
    if sigma == 0:
        np.testing.assert_array_equal(moved, inputs)


def test_jitter_moves_spikes_with_the_requested_spread():
    inputs = np.zeros((10_000, 1))
    inputs[5_000] = 400  # 400 spikes at one step, each moved on its own
    moved = timing.jitter_spikes(inputs, 20.0, np.random.default_rng(0))
    times = np.repeat(np.arange(10_000), moved[:, 0].astype(int))
    assert times.size == 400 and abs(times.mean() - 5_000) < 5 and 17 < times.std() < 23
    with pytest.raises(ValueError, match="spike counts"):
        timing.jitter_spikes(np.full((3, 2), 0.5), 1.0, np.random.default_rng(0))


def test_a_trained_run_is_scored_on_fresh_jittered_trials(tmp_path):
    config = {
        "task": {"name": "evidence", "n_cues": 1, "seq_len": 360},
        "network": {"n_rec": 10, "n_adaptive": 5},
        "training": {
            "n_trials": 3,
            "eval_every": 3,
            "validation_trials": 4,
            "test_trials": 4,
            "target": None,
        },
    }
    execute(config, tmp_path / "run", progress=False)
    curve = timing.jitter_curve(tmp_path / "run", [0, 5, 500], n_trials=8)
    assert len(curve) == 3 and all(0 <= value <= 1 for value in curve)
    assert curve == timing.jitter_curve(tmp_path / "run", [0, 5, 500], n_trials=8)  # seeded
