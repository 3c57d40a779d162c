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


def _background(rng, steps, neurons, rate=0.005):
    return (rng.random((steps, neurons)) < rate).astype(float)


def test_spade_finds_an_injected_pattern_with_its_lags_and_nothing_in_independent_data():
    rng = np.random.default_rng(1)
    raster = _background(rng, 5000, 12, 0.01)
    starts = rng.choice(np.arange(0, 4990, 20), 20, replace=False)
    raster[starts, 2] = raster[starts, 5] = raster[starts + 6, 9] = 1  # neuron 9 six ms later
    found = patterns.spade(raster, bin_ms=3, window_bins=3, n_surrogates=50)
    assert found, "the injected pattern was not found"
    best = max(found, key=lambda p: len(p.neurons))
    assert set(best.neurons) == {2, 5, 9} and best.occurrences >= 18 and best.p_value < 0.05
    lag_of = dict(zip(best.neurons[1:], best.lags_ms))
    assert abs(lag_of.get(9, 6.0) - 6.0) <= 3  # within a bin of the injected lag
    assert all(set(p.neurons) <= {2, 5, 9} for p in found)
    # independent trains of the same rates: at alpha 0.05 with FDR, five data sets give none
    assert (
        sum(
            len(patterns.spade(_background(np.random.default_rng(s), 5000, 12, 0.011), n_surrogates=50))
            for s in range(5)
        )
        == 0
    )


def test_spade_is_reproducible_and_leaves_numpys_global_generator_alone():
    raster = _background(np.random.default_rng(2), 3000, 8, 0.02)
    np.random.seed(123)
    state = np.random.get_state()
    first = patterns.spade(raster, n_surrogates=20, seed=4)
    assert np.random.get_state()[1].tolist() == state[1].tolist()
    assert patterns.spade(raster, n_surrogates=20, seed=4) == first


def test_cell_assemblies_find_only_injected_neurons_and_none_in_independent_data():
    rng = np.random.default_rng(1)
    raster = _background(rng, 10000, 12)
    raster[rng.choice(np.arange(10000), 60, replace=False)[:, None], [2, 5, 9]] = 1
    found = patterns.cell_assemblies(raster, bin_ms=5, max_lag=2)
    assert found and all(set(a.neurons) <= {2, 5, 9} and a.p_value < 0.05 for a in found)
    assert all(a.occurrences >= 55 for a in found)
    assert patterns.cell_assemblies(_background(np.random.default_rng(7), 10000, 12), bin_ms=5) == []


def test_spike_contrast_is_higher_for_synchronous_trains():
    rng = np.random.default_rng(3)
    independent = _background(rng, 5000, 10, 0.02)
    shared = rng.random(5000) < 0.02
    synchronous = np.where(rng.random((5000, 10)) < 0.8, shared[:, None], independent).astype(float)
    assert patterns.spike_contrast(synchronous) > patterns.spike_contrast(independent) + 0.3
    with pytest.raises(ValueError, match="two neurons"):
        patterns.spike_contrast(np.zeros((100, 3)))


def test_spade_in_shares_equals_elephant_with_one_share_and_finds_the_pattern_with_two():
    rng = np.random.default_rng(1)
    raster = _background(rng, 4000, 10, 0.01)
    starts = rng.choice(np.arange(0, 3990, 20), 20, replace=False)
    raster[starts, 1] = raster[starts, 4] = raster[starts, 8] = 1
    options = {"bin_ms": 3, "n_surrogates": 30, "seed": 5}
    whole = patterns.spade(raster, **options)
    one_share = patterns._spade_in_shares(
        raster, 1.0, 3, 1, 30, 2, 3, 15.0, 0.05, "fdr_bh", 5, workers=1, executor=None
    )
    assert [tuple(int(n) for n in p["neurons"]) for p in one_share["patterns"]] == [p.neurons for p in whole]
    assert [float(p["pvalue"]) for p in one_share["patterns"]] == [p.p_value for p in whole]
    shared = patterns.spade(raster, workers=2, **options)
    assert {1, 4, 8} in [set(p.neurons) for p in shared]
    assert all(set(p.neurons) <= {1, 4, 8} for p in shared)


def test_the_pattern_cost_benchmark_writes_its_table(tmp_path):
    from conftest import load_benchmark

    out = tmp_path / "cost.json"
    load_benchmark("pattern_cost").main(
        ["--surrogates", "6", "--repeats", "1", "--neurons", "20", "--seconds", "2", "--out", str(out)]
    )
    from locallearn import io

    rows = io.read_json(out)["rows"]
    assert [row[0] for row in rows] == [1, 2] and all(row[3] >= 1 for row in rows)


def test_spade_under_a_memory_bound_gives_the_same_patterns_or_a_cost_error():
    rng = np.random.default_rng(1)
    raster = _background(rng, 5000, 12, 0.01)
    starts = rng.choice(np.arange(0, 4990, 20), 20, replace=False)
    raster[starts, 2] = raster[starts, 5] = raster[starts + 6, 9] = 1
    options = dict(bin_ms=3, window_bins=3, n_surrogates=20)
    free = patterns.spade(raster, **options)
    assert free and patterns.spade(raster, memory_limit_gb=4, **options) == free
    # 60 neurons firing in 40 % of the steps: the closed itemsets explode; the child hits its
    # 1.5 GB cap within seconds and this process carries on
    dense = (np.random.default_rng(0).random((2000, 60)) < 0.4).astype(float)
    with pytest.raises(patterns.PatternCostError, match=r"more than 1.5 GB .* 60 neurons"):
        patterns.spade(dense, n_surrogates=5, memory_limit_gb=1.5)
    with pytest.raises(ValueError, match="memory_limit_gb must be > 0"):
        patterns.spade(raster, memory_limit_gb=0)
