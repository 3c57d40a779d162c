"""Against NEST's e-prop models (extra [peers]): the convention mapping of
benchmarks/nest_comparison.py makes the two agree on the same weights and inputs before learning."""

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nest")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import nest_comparison  # noqa: E402


def test_nest_and_locallearn_agree_before_learning():
    weights, trials, _ = nest_comparison.shared_problem(seed=1, n_trials=4)
    ours = nest_comparison.run_locallearn(weights, trials, batch=4)
    theirs = nest_comparison.run_nest(weights, trials, batch=4)
    first_ours, first_theirs = ours["loss_per_iteration"][0], theirs["loss_per_iteration"][0]
    assert np.isfinite(first_ours) and np.isfinite(first_theirs)
    assert abs(first_ours - first_theirs) / first_theirs < 0.05
