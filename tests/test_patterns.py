"""Pattern statistics through Elephant find injected synchrony and report none in independent data."""

import numpy as np
import pytest

pytest.importorskip("elephant", reason="needs the [analysis] extra")
from locallearn import patterns  # noqa: E402


def _trial(rng, inject, steps=1000, neurons=10):
    raster = (rng.random((steps, neurons)) < 0.01).astype(float)  # 10 Hz background
    if inject:
        raster[rng.integers(400, 600, 6)[:, None], [2, 5, 7]] = 1  # 6 joint spikes in 400-600 ms
    return raster


def test_unitary_events_find_injected_coincidences_where_they_are():
    rng = np.random.default_rng(0)
    result = patterns.unitary_events([_trial(rng, True) for _ in range(20)], (2, 5, 7))
    found = result.centres_ms[result.significant]
    assert found.size > 0 and found.min() >= 350 and found.max() <= 650  # windows of 100 ms
    assert result.significant[(result.centres_ms > 450) & (result.centres_ms < 550)].all()
    assert result.observed.max() > 5 * result.expected.max()


def test_unitary_events_on_independent_data_stay_near_the_nominal_false_positive_rate():
    # one chance coincidence lights several overlapping windows, so the rate is taken over ten
    # independent data sets: at alpha = 0.05 per window it stays near 0.05 (0.03 measured)
    rates = []
    for seed in range(1, 11):
        rng = np.random.default_rng(seed)
        result = patterns.unitary_events([_trial(rng, False) for _ in range(20)], (2, 5, 7))
        rates.append(result.significant.mean())
    assert np.mean(rates) <= 0.06


def test_cubic_finds_the_order_of_injected_synchrony_and_order_one_without_it():
    rng = np.random.default_rng(0)
    raster = (rng.random((20_000, 50)) < 0.02).astype(float)
    assert patterns.cubic(raster).xi == 1
    raster[rng.choice(20_000, 300, replace=False)[:, None], [1, 8, 14, 30]] = 1  # order 4
    result = patterns.cubic(raster)
    assert result.xi == 4 and result.p_values[-1] > 0.05 > max(result.p_values[:-1])


def test_bad_input_is_refused():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="at least two"):
        patterns.unitary_events([_trial(rng, False)], (3,))
    with pytest.raises(ValueError, match="same number of steps"):
        patterns.unitary_events([_trial(rng, False), _trial(rng, False, steps=500)], (1, 2))
