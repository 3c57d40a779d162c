"""Spike-train statistics on trains whose answers are known, the sparse recorder and the plots."""

import numpy as np
import pytest

from locallearn import analysis


def _poisson(rate_hz, steps, n, seed=0):
    return (np.random.default_rng(seed).random((steps, n)) < rate_hz / 1000).astype(np.float32)


def test_rates_cv_fano_of_poisson_trains_are_as_theory_says():
    spikes = _poisson(20.0, 200_000, 5)
    np.testing.assert_allclose(analysis.firing_rates(spikes), 20.0, rtol=0.05)
    np.testing.assert_allclose(analysis.isi_cv(spikes), 1.0, atol=0.05)
    np.testing.assert_allclose(analysis.fano_factor(spikes, window=100), 1.0, atol=0.1)


def test_regular_train_has_zero_cv_and_fano():
    spikes = np.zeros((1000, 1))
    spikes[::10] = 1
    assert analysis.isi_cv(spikes)[0] == pytest.approx(0.0)
    assert analysis.fano_factor(spikes, window=100)[0] == pytest.approx(0.0)


def test_correlations_and_synchrony_tell_copies_from_independent_trains():
    independent = _poisson(30.0, 50_000, 20)
    copies = np.repeat(_poisson(30.0, 50_000, 1), 20, axis=1)
    c = analysis.count_correlations(copies)
    np.testing.assert_allclose(c, 1.0, atol=1e-12)
    off_diagonal = analysis.count_correlations(independent)[~np.eye(20, dtype=bool)]
    assert np.abs(off_diagonal).max() < 0.2  # ~4 sigma for 500 windows
    assert analysis.synchrony(copies) == pytest.approx(1.0)
    assert analysis.synchrony(independent) < 0.4


def test_sparse_recorder_round_trips_and_stores_only_spikes():
    spikes = _poisson(10.0, 5000, 30, seed=3)
    recorder = analysis.SpikeRecorder(30)
    for z in spikes:
        recorder.record(z)
    np.testing.assert_array_equal(recorder.dense(), spikes)
    assert recorder.times.size == int(spikes.sum())


def test_raster_and_heatmap_are_written(tmp_path):
    analysis.plot_raster(_poisson(20.0, 500, 15), tmp_path / "raster.png", title="test")
    analysis.plot_heatmap(np.random.default_rng(0).standard_normal((8, 5)), tmp_path / "w.png")
    assert (tmp_path / "raster.png").stat().st_size > 0 and (tmp_path / "w.png").stat().st_size > 0


def test_neo_export_feeds_elephant():
    pytest.importorskip("neo")
    elephant_statistics = pytest.importorskip("elephant.statistics")
    import quantities as pq

    from locallearn.analysis import SpikeRecorder, firing_rates, isi_cv

    rng = np.random.default_rng(0)
    raster = (rng.random((5000, 6)) < np.linspace(0.005, 0.05, 6)).astype(np.float32)
    recorder = SpikeRecorder(6, dt=0.5)
    for row in raster:
        recorder.record(row)
    trains = recorder.to_neo()
    assert len(trains) == 6 and float(trains[0].t_stop.rescale(pq.ms)) == 2500.0
    ours = firing_rates(raster, dt=0.5)
    theirs = [float(elephant_statistics.mean_firing_rate(t).rescale(pq.Hz)) for t in trains]
    np.testing.assert_allclose(theirs, ours, rtol=1e-9)
    cv = [elephant_statistics.cv(elephant_statistics.isi(t)) for t in trains]
    np.testing.assert_allclose(cv, isi_cv(raster), rtol=1e-6)
    assert [len(t) for t in trains] == raster.sum(axis=0).astype(int).tolist()
