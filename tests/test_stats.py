"""The statistics helper against scipy and against its promised coverage."""

import numpy as np
import pytest
from scipy import stats as scipy_stats

from locallearn import stats


def test_summary_uses_the_sample_std_and_the_t_interval_scipy_gives():
    values = [0.91, 0.94, 0.93, 0.88, 0.95]
    s = stats.summarize(values)
    assert s.n == 5
    assert s.std == pytest.approx(np.std(values, ddof=1), rel=1e-12)
    low, high = scipy_stats.t.interval(0.95, 4, loc=np.mean(values), scale=scipy_stats.sem(values))
    assert (s.low, s.high) == pytest.approx((low, high), rel=1e-12)
    assert "(n=5)" in s.text()


def test_t_interval_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(3)
    hits = sum(
        s.low <= 1.0 <= s.high for s in (stats.summarize(rng.normal(1.0, 2.0, 5)) for _ in range(4000))
    )
    assert 0.935 < hits / 4000 < 0.965


def test_bootstrap_interval_contains_the_mean_and_is_reproducible():
    values = np.random.default_rng(0).exponential(size=30)
    a = stats.summarize(values, method="bootstrap", seed=1)
    b = stats.summarize(values, method="bootstrap", seed=1)
    assert a == b and a.low < a.mean < a.high and a.method == "bootstrap"


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (481, 512), (512, 512), (1, 1)])
def test_wilson_interval_equals_scipys(k, n):
    expected = scipy_stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert stats.wilson_interval(k, n) == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_per_trial_picks_wilson_for_accuracies_and_t_otherwise():
    assert stats.per_trial([1, 0, 1, 1]).method == "wilson"
    assert stats.per_trial([0.2, 0.4, 0.1]).method == "t"


def test_iqm_is_the_mean_of_the_middle_half():
    values = [100.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, -100.0]
    assert stats.iqm(values).mean == pytest.approx(3.5)


def test_degenerate_samples_and_bad_input():
    assert stats.summarize([]).n == 0 and stats.summarize([]).text() == "—"
    one = stats.summarize([2.0])
    assert one.mean == 2.0 and np.isnan(one.std) and one.text() == "2.000 (n=1)"
    assert stats.summarize([1.0, 1.0]).low == 1.0
    with pytest.raises(ValueError, match="finite"):
        stats.summarize([1.0, float("nan")])
    with pytest.raises(ValueError, match="method"):
        stats.summarize([1.0, 2.0], method="normal")


def test_rliable_aggregates_equal_a_direct_computation_on_a_small_table():
    rng = np.random.default_rng(5)
    x, y = rng.normal(1.0, 1.0, (6, 3)), rng.normal(0.5, 1.0, (5, 3))
    assert stats.interquartile_mean(x) == pytest.approx(scipy_stats.trim_mean(x.ravel(), 0.25))
    direct = np.mean(
        [np.mean([(a > b) + 0.5 * (a == b) for a in x[:, t] for b in y[:, t]]) for t in range(3)]
    )
    assert stats.probability_of_improvement(x, y) == pytest.approx(direct)
    ties = np.array([[1.0], [2.0]])
    assert stats.probability_of_improvement(ties, ties) == 0.5
    try:
        from rliable import metrics
    except Exception:  # not installed, or its arch dependency broken: the direct checks stand
        return
    assert stats.interquartile_mean(x) == pytest.approx(metrics.aggregate_iqm(x))
    assert stats.probability_of_improvement(x, y) == pytest.approx(metrics.probability_of_improvement(x, y))


def test_score_distribution_is_the_fraction_above_tau_averaged_over_tasks():
    x = np.array([[0.0, 10.0], [1.0, 20.0], [2.0, 30.0], [3.0, 40.0]])
    taus = np.array([-1.0, 0.5, 2.5, 15.0, 35.0, 50.0])
    # task 1 above tau: 4, 3, 1, 0, 0, 0 of 4; task 2: 4, 4, 4, 3, 1, 0 of 4
    expected = (np.array([4, 3, 1, 0, 0, 0]) + np.array([4, 4, 4, 3, 1, 0])) / 8
    np.testing.assert_allclose(stats.score_distribution(x, taus), expected)
    ragged = stats.score_distribution([[0.0, 1.0], [10.0, 20.0, 30.0, 40.0]], [0.5, 25.0])
    np.testing.assert_allclose(ragged, [(1 / 2 + 1) / 2, (0 + 2 / 4) / 2])  # each task weighs half
    profile, low, high = stats.score_distribution_band(x, taus, reps=300, seed=3)
    np.testing.assert_allclose(profile, expected)
    assert np.all(low <= profile) and np.all(profile <= high) and np.any(low < high)
    again = stats.score_distribution_band(x, taus, reps=300, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((profile, low, high), again))
    with pytest.raises(ValueError, match="at least one run"):
        stats.score_distribution([[1.0], []], taus)
    try:
        from rliable import library
    except Exception:  # not installed, or its arch dependency broken: the direct checks stand
        return
    rng = np.random.default_rng(4)
    scores = rng.normal(0.0, 1.0, (7, 3))
    grid = np.linspace(-2, 2, 41)
    np.testing.assert_allclose(
        stats.score_distribution(scores, grid), library.score_distributions(scores, grid)
    )


def test_stratified_bootstrap_resamples_within_tasks_and_is_reproducible():
    scores = np.column_stack([np.arange(8.0), 100 + np.arange(8.0)])  # two tasks on different scales
    a = stats.stratified_bootstrap(scores, statistic=lambda s: float(s[:, 1].min()), reps=500, seed=2)
    assert a == stats.stratified_bootstrap(scores, statistic=lambda s: float(s[:, 1].min()), reps=500, seed=2)
    assert a[1] >= 100  # a resample of task 2 never borrows task 1's runs
    estimate, low, high = stats.stratified_bootstrap(np.arange(20.0), reps=2000)
    assert low < estimate < high and estimate == stats.interquartile_mean(np.arange(20.0))


def test_median_ratio_interval_brackets_the_ratio_and_narrows_with_agreement():
    rng = np.random.default_rng(0)
    slow = 10 + rng.standard_normal(9) * 0.5
    fast = 2 + rng.standard_normal(9) * 0.1
    low, high = stats.median_ratio_interval(slow, fast, np.random.default_rng(1))
    assert low < np.median(slow) / np.median(fast) < high
    assert 4 < low and high < 6.5
    wide = stats.median_ratio_interval(slow * rng.uniform(0.5, 1.5, 9), fast, np.random.default_rng(1))
    assert wide[1] - wide[0] > high - low
    assert stats.median_ratio_interval([3.0] * 5, [1.0] * 5, np.random.default_rng(2)) == [3.0, 3.0]
    with pytest.raises(ValueError, match="at least one value"):
        stats.median_ratio_interval([], [1.0], rng)
