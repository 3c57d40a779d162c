"""Encoders: rates, receptive fields, delta reconstruction, streaming = offline, clear errors."""

import numpy as np
import pytest

from locallearn import encoders


def _slow_signal(T=2000):
    t = np.arange(T)
    return 0.5 + 0.35 * np.sin(2 * np.pi * t / 400) + 0.1 * np.sin(2 * np.pi * t / 97)


@pytest.mark.parametrize("poisson", [True, False])
def test_rate_coding_mean_rate_is_value_times_max_rate(poisson):
    encoder = encoders.RateEncoder(max_rate=100.0, poisson=poisson)
    values = np.array([0.0, 0.25, 0.8])
    spikes = encoder.encode(np.tile(values, (20000, 1)), np.random.default_rng(0))
    rates_hz = spikes.mean(axis=0) * 1000
    p = values * 100 / 1000
    four_sigma_hz = 4 * np.sqrt(p * (1 - p) / len(spikes)) * 1000 if poisson else 0.1
    assert np.all(np.abs(rates_hz - values * 100) <= four_sigma_hz + 1e-9)


def test_poisson_rate_coding_needs_a_generator_and_is_seeded():
    encoder = encoders.RateEncoder()
    with pytest.raises(ValueError, match="Generator"):
        encoder.encode(np.full((10, 1), 0.5))
    a = encoder.encode(np.full((500, 2), 0.5), np.random.default_rng(3))
    b = encoder.encode(np.full((500, 2), 0.5), np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("value", [0.0, 0.13, 0.5, 0.77, 1.0])
def test_population_coding_peaks_at_the_neuron_whose_centre_is_nearest(value):
    encoder = encoders.PopulationEncoder(n_neurons=12)
    activity = encoder.encode(np.array([[value, 1 - value]]))[0]
    first, second = activity[:12], activity[12:]
    assert np.argmax(first) == np.argmin(np.abs(encoder.centres - value))
    assert np.argmax(second) == np.argmin(np.abs(encoder.centres - (1 - value)))
    if 0 < value < 1:  # the centroid decoder is biased inwards at the edges of the range
        np.testing.assert_allclose(encoder.decode(activity[None]), [[value, 1 - value]], atol=0.02)


@pytest.mark.parametrize("cls", [encoders.TemporalContrastEncoder, encoders.StepForwardEncoder])
def test_delta_codes_reconstruct_within_one_threshold(cls):
    signal = _slow_signal()
    threshold = 0.02
    encoder = (
        cls(threshold=threshold, initial=signal[0])
        if cls is encoders.TemporalContrastEncoder
        else cls(threshold=threshold)
    )
    spikes = encoder.encode(signal)
    assert spikes.shape == (len(signal), 2)
    decoded = encoder.decode(spikes)[:, 0]
    assert np.max(np.abs(decoded - signal)) <= threshold + 1e-9
    assert 0 < spikes.mean() < 0.5


def test_bsa_pwm_lif_and_current_reconstruct_a_slow_signal():
    signal = _slow_signal()
    rows = {r["encoder"]: r for r in encoders.report(signal)}
    assert rows["bsa"]["rmse"] < 0.05
    assert rows["pwm"]["rmse"] < 0.08
    assert rows["lif"]["rmse"] < 0.2
    assert rows["current"]["rmse"] < 1e-6
    assert rows["rate"]["spikes_per_s_per_channel"] == pytest.approx(100 * signal.mean(), rel=0.1)


@pytest.mark.parametrize(
    "name", ["rate", "population", "temporal_contrast", "step_forward", "pwm", "lif", "current"]
)
def test_streaming_steps_equal_offline_encoding(name):
    signal = np.random.default_rng(1).random((50, 3))
    offline = encoders.make_encoder(name).encode(signal, np.random.default_rng(5))
    streaming = encoders.make_encoder(name)
    streaming.reset(3)
    rng = np.random.default_rng(5)
    online = np.stack([streaming.step(x, rng) for x in signal])
    np.testing.assert_array_equal(offline, online)


def test_scaler_from_space_and_from_samples():
    class Box:
        low, high = np.array([-1.0, 0.0]), np.array([1.0, 10.0])

    scaler = encoders.Scaler.from_space(Box)
    np.testing.assert_allclose(scaler([0.0, 5.0]), [0.5, 0.5])
    np.testing.assert_allclose(scaler([5.0, -3.0]), [1.0, 0.0])
    np.testing.assert_allclose(scaler.inverse(scaler([0.3, 2.0])), [0.3, 2.0])
    samples = np.random.default_rng(0).normal(3.0, 1.0, (1000, 2))
    fitted = encoders.Scaler.from_samples(samples)
    assert np.all(fitted(samples) >= 0) and np.all(fitted(samples) <= 1)

    class Unbounded:
        low, high = np.array([-np.inf]), np.array([np.inf])

    with pytest.raises(ValueError, match="from_samples"):
        encoders.Scaler.from_space(Unbounded)


def test_unknown_encoder_and_bad_signal_are_clear_errors():
    with pytest.raises(KeyError, match="unknown encoder 'poison'"):
        encoders.make_encoder("poison")
    with pytest.raises(ValueError, match="NaN"):
        encoders.CurrentEncoder().encode(np.array([0.1, np.nan]))
    with pytest.raises(NotImplementedError, match="looks ahead"):
        encoders.BensSpikerEncoder().step(np.zeros(1))
