"""Observation -> spikes (or currents): the Spike-Encoding toolkit's methods without torch.

The methods follow Vasilache et al., "A PyTorch-compatible spike encoding framework for
energy-efficient neuromorphic applications" (arXiv 2504.11026). Signals are (T, d) arrays scaled to
[0, 1] per dimension (see :class:`Scaler`); every encoder has

* ``encode(signal, rng=None) -> (T, d * channels)`` over a whole time series;
* ``decode(spikes) -> (T, d)`` where the method defines one (``None`` attribute otherwise);
* a streaming form for closed-loop use: ``reset(d)`` then ``step(x, rng) -> (d * channels,)``
  once per time step (except Ben's Spiker Algorithm, which looks ahead and is offline only).

Randomness only comes from the ``np.random.Generator`` passed in (Poisson rate coding).

Channel layout: dimension-major (all channels of dimension 0, then dimension 1, ...); for the
two-channel methods the "up" channel comes before the "down" channel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .config import UnknownNameError, check_int, check_positive, unknown_name_message
from .kernels import libm_exp

# ----------------------------------------------------------------------------- scaling
_jit = numba.njit(cache=True, nogil=True)


# --------------------------------------------------------------------------- kernels
def population_activation_numpy(u, centres, width, out):
    """Gaussian receptive fields: out[i * C + c] = exp(-0.5 ((clip(u_i, 0, 1) - centre_c) /
    width)^2) for C = ``centres.shape[0]`` fields per dimension, in place."""
    clipped = np.minimum(np.maximum(u, 0.0), 1.0)
    out[:] = libm_exp(-0.5 * ((clipped[:, None] - centres[None, :]) / width) ** 2).ravel()


@_jit
def population_activation(u, centres, width, out):
    """Compiled twin of :func:`population_activation_numpy` (same operations, same rounding)."""
    n_fields = centres.shape[0]
    for i in range(u.shape[0]):
        clipped = min(max(u[i], 0.0), 1.0)
        for c in range(n_fields):
            distance = (clipped - centres[c]) / width
            out[i * n_fields + c] = np.exp(-0.5 * (distance * distance))


@dataclass
class Scaler:
    """Affine map of each observation dimension onto [0, 1] (values outside are clipped)."""

    low: np.ndarray
    high: np.ndarray

    def __post_init__(self):
        self.low = np.asarray(self.low, np.float64).ravel()
        self.high = np.asarray(self.high, np.float64).ravel()
        if self.low.shape != self.high.shape:
            raise ValueError("Scaler: low and high must have the same shape")
        if not (np.all(np.isfinite(self.low)) and np.all(np.isfinite(self.high))):
            raise ValueError("Scaler: bounds must be finite; use Scaler.from_samples for an unbounded space")
        if np.any(self.high <= self.low):
            raise ValueError("Scaler: every high bound must exceed its low bound")

    @classmethod
    def from_space(cls, space) -> Scaler:
        """Bounds of a Box-like space (``low``/``high`` attributes); unbounded -> ValueError."""
        return cls(space.low, space.high)

    @classmethod
    def from_samples(cls, samples, margin: float = 0.05) -> Scaler:
        """Bounds from a warm-up run: the observed range widened by ``margin`` on each side."""
        samples = np.asarray(samples, np.float64).reshape(len(samples), -1)
        low, high = samples.min(axis=0), samples.max(axis=0)
        span = np.where(high > low, high - low, 1.0)
        return cls(low - margin * span, high + margin * span)

    def __call__(self, x) -> np.ndarray:
        # maximum/minimum rather than np.clip: the same values at a fifth of the call overhead,
        # which matters once per environment step
        scaled = (np.asarray(x, np.float64) - self.low) / (self.high - self.low)
        return np.minimum(np.maximum(scaled, 0.0), 1.0)

    def inverse(self, u) -> np.ndarray:
        return self.low + np.asarray(u, np.float64) * (self.high - self.low)


def _as_signal(signal) -> np.ndarray:
    signal = np.asarray(signal, np.float64)
    if signal.ndim == 1:
        signal = signal[:, None]
    if signal.ndim != 2:
        raise ValueError(f"a signal must be (T,) or (T, d), got shape {signal.shape}")
    if not np.all(np.isfinite(signal)):
        raise ValueError("the signal contains NaN or inf")
    return signal


class _Encoder:
    """Offline ``encode`` runs the streaming ``step`` over time, so the two always agree.

    ``stateless`` encoders map the same input to the same output at every step (no memory, no
    randomness), so a caller may encode an observation once and present it for several steps.
    """

    channels = 1
    decode = None
    stateless = False

    def n_outputs(self, d: int) -> int:
        return d * self.channels

    def encode(self, signal, rng: np.random.Generator | None = None) -> np.ndarray:
        signal = _as_signal(signal)
        self.reset(signal.shape[1])
        return np.stack([self.step(x, rng) for x in signal]).astype(np.float32)

    def reset(self, d: int) -> None:
        self.d = d


# ----------------------------------------------------------------------------- rate coding
class RateEncoder(_Encoder):
    """Rate coding: value u in [0, 1] -> rate u * max_rate Hz.

    ``poisson=True`` spikes with probability u * max_rate * dt per step; ``poisson=False`` is the
    deterministic version (an accumulator that spikes each time it crosses 1). Decoding is the
    rate in a sliding window of ``window`` steps, divided by max_rate.
    """

    def __init__(self, max_rate: float = 100.0, poisson: bool = True, dt: float = 1.0, window: int = 50):
        check_positive("RateEncoder", "max_rate", max_rate)
        check_positive("RateEncoder", "dt", dt)
        check_int("RateEncoder", "window", window, minimum=1)
        self.p_max = max_rate * dt / 1000
        if self.p_max > 1:
            raise ValueError(
                f"RateEncoder: max_rate * dt = {self.p_max * 1000} Hz·ms exceeds one spike per step"
            )
        self.poisson, self.window = poisson, window

    def reset(self, d: int) -> None:
        super().reset(d)
        self.accumulator = np.zeros(d)

    def step(self, x, rng=None) -> np.ndarray:
        p = np.clip(np.asarray(x, np.float64), 0, 1) * self.p_max
        if self.poisson:
            if rng is None:
                raise ValueError("Poisson rate coding needs an np.random.Generator (rng=...)")
            return (rng.random(p.shape) < p).astype(np.float32)
        self.accumulator += p
        spikes = self.accumulator >= 1.0 - 1e-12
        self.accumulator[spikes] -= 1.0
        return spikes.astype(np.float32)

    def decode(self, spikes) -> np.ndarray:
        spikes = np.asarray(spikes, np.float64)
        kernel = np.ones(self.window) / self.window
        rate = np.stack([np.convolve(s, kernel)[: len(s)] for s in spikes.T], axis=1)
        return rate / self.p_max


# ----------------------------------------------------------------------------- population
class PopulationEncoder(_Encoder):
    """Gaussian receptive fields: ``n_neurons`` per dimension with centres evenly spaced on
    [0, 1] and width ``width`` (std, in units of the scaled signal). Each step emits the field
    activations as currents (``output="current"``) or spikes them with probability
    activation * max_rate * dt (``output="poisson"``). Decoding is the activation-weighted mean of
    the centres."""

    def __init__(
        self,
        n_neurons: int = 10,
        width: float | None = None,
        output: str = "current",
        max_rate: float = 200.0,
        dt: float = 1.0,
    ):
        check_int("PopulationEncoder", "n_neurons", n_neurons, minimum=2)
        if output not in ("current", "poisson"):
            raise ValueError(f"PopulationEncoder.output must be 'current' or 'poisson', got {output!r}")
        self.channels = n_neurons
        self.centres = np.linspace(0, 1, n_neurons)
        self.width = width if width is not None else 1.0 / (n_neurons - 1)
        check_positive("PopulationEncoder", "width", self.width)
        self.output, self.p_max = output, max_rate * dt / 1000

    @property
    def stateless(self) -> bool:
        return self.output == "current"

    def activation(self, x) -> np.ndarray:
        u = np.ascontiguousarray(x, np.float64).ravel()
        out = np.empty(u.shape[0] * self.channels)
        population_activation(u, self.centres, float(self.width), out)
        return out

    def step(self, x, rng=None) -> np.ndarray:
        a = self.activation(x)
        if self.output == "current":
            return a.astype(np.float32)
        if rng is None:
            raise ValueError("Poisson population coding needs an np.random.Generator (rng=...)")
        return (rng.random(a.shape) < a * self.p_max).astype(np.float32)

    def decode(self, activity) -> np.ndarray:
        activity = np.asarray(activity, np.float64)
        a = activity.reshape(activity.shape[0], -1, self.channels)
        total = a.sum(axis=2)
        return np.where(total > 0, (a * self.centres).sum(axis=2) / np.maximum(total, 1e-12), 0.5)


# ----------------------------------------------------------------------------- delta codes
class TemporalContrastEncoder(_Encoder):
    """Temporal contrast / send-on-delta: an "up" (or "down") spike whenever the signal has risen
    (fallen) by ``threshold`` since the last spike's reference level, which then moves by
    ``threshold`` towards the signal. Decoding integrates the spikes (x0 + thr * (up - down))."""

    channels = 2

    def __init__(self, threshold: float = 0.05, initial: float = 0.0):
        check_positive("TemporalContrastEncoder", "threshold", threshold)
        self.threshold, self.initial = threshold, initial

    def reset(self, d: int) -> None:
        super().reset(d)
        self.reference = None

    def step(self, x, rng=None) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.reference is None:
            self.reference = np.full_like(x, self.initial)
        up = x - self.reference >= self.threshold
        down = self.reference - x >= self.threshold
        self.reference = self.reference + self.threshold * (up.astype(float) - down)
        return np.stack([up, down], axis=1).ravel().astype(np.float32)

    def decode(self, spikes) -> np.ndarray:
        s = np.asarray(spikes, np.float64).reshape(len(spikes), -1, 2)
        return self.initial + self.threshold * np.cumsum(s[:, :, 0] - s[:, :, 1], axis=0)


class StepForwardEncoder(TemporalContrastEncoder):
    """Step-forward (SF) coding (Petro et al. 2020): a baseline starts at the first sample; an up
    (down) spike is sent when the signal exceeds baseline + threshold (falls below baseline -
    threshold) and the baseline steps by threshold. Decoding: baseline_0 + thr * cumsum(up - down).
    The decoded signal stays within one threshold of the input wherever it moves by less than one
    threshold per step."""

    def reset(self, d: int) -> None:
        super().reset(d)
        self.baseline = None

    def step(self, x, rng=None) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if self.baseline is None:
            self.baseline = x.copy()
            self.initial_baseline = x.copy()
        up = x > self.baseline + self.threshold
        down = x < self.baseline - self.threshold
        self.baseline = self.baseline + self.threshold * (up.astype(float) - down)
        return np.stack([up, down], axis=1).ravel().astype(np.float32)

    def decode(self, spikes, initial=None) -> np.ndarray:
        s = np.asarray(spikes, np.float64).reshape(len(spikes), -1, 2)
        start = self.initial_baseline if initial is None else np.asarray(initial, np.float64)
        return start + self.threshold * np.cumsum(s[:, :, 0] - s[:, :, 1], axis=0)


# ----------------------------------------------------------------------------- BSA
class BensSpikerEncoder(_Encoder):
    """Ben's Spiker Algorithm (Schrauwen & Van Campenhout 2003): with a FIR filter h (a Hann
    window of ``filter_length`` steps, peak ``amplitude``), at each step compare the error of
    subtracting h from the upcoming signal with the error of not doing so; spike (and subtract)
    when it lowers the error by at least ``threshold * sum(h)``. Decoding convolves spikes with h.
    With threshold near 1 a spike is sent only when the whole filter fits under the residual, which
    keeps the greedy choice from overshooting (0 overshoots by tens of percent on slow signals).
    Looks ahead ``filter_length`` steps, so it is offline only (no ``step``)."""

    def __init__(self, filter_length: int = 20, amplitude: float = 0.1, threshold: float = 0.95):
        check_int("BensSpikerEncoder", "filter_length", filter_length, minimum=2)
        check_positive("BensSpikerEncoder", "amplitude", amplitude)
        self.filter = np.hanning(filter_length + 2)[1:-1]
        self.filter *= amplitude / self.filter.max()
        self.threshold = threshold

    def encode(self, signal, rng=None) -> np.ndarray:
        residual = _as_signal(signal).copy()
        T, d = residual.shape
        h, L = self.filter, len(self.filter)
        spikes = np.zeros((T, d), np.float32)
        for t in range(T):
            n = min(L, T - t)
            window = residual[t : t + n]
            error_spike = np.abs(window - h[:n, None]).sum(axis=0)
            error_none = np.abs(window).sum(axis=0)
            fire = error_spike <= error_none - self.threshold * h[:n].sum()
            spikes[t] = fire
            residual[t : t + n, fire] -= h[:n, None]
        return spikes

    def step(self, x, rng=None):
        raise NotImplementedError("Ben's Spiker Algorithm looks ahead; use encode() on a signal")

    def decode(self, spikes) -> np.ndarray:
        spikes = np.asarray(spikes, np.float64)
        return np.stack([np.convolve(s, self.filter)[: len(s)] for s in spikes.T], axis=1)


# ----------------------------------------------------------------------------- PWM
class PWMEncoder(_Encoder):
    """Pulse-width modulation: a sawtooth carrier of ``period`` steps rises from 0 to 1; one spike
    per period when the carrier first reaches the signal. Decoding reads the spike's phase in its
    period as the value (held over the period)."""

    def __init__(self, period: int = 20):
        check_int("PWMEncoder", "period", period, minimum=2)
        self.period = period

    def reset(self, d: int) -> None:
        super().reset(d)
        self.t = 0
        self.fired = np.zeros(d, bool)

    def step(self, x, rng=None) -> np.ndarray:
        phase = self.t % self.period
        if phase == 0:
            self.fired[:] = False
        carrier = phase / (self.period - 1)
        fire = (carrier >= np.clip(np.asarray(x, np.float64), 0, 1)) & ~self.fired
        self.fired |= fire
        self.t += 1
        return fire.astype(np.float32)

    def decode(self, spikes) -> np.ndarray:
        spikes = np.asarray(spikes, np.float64)
        T, d = spikes.shape
        out = np.zeros((T, d))
        for start in range(0, T, self.period):
            block = spikes[start : start + self.period]
            has = block.any(axis=0)
            phase = np.argmax(block, axis=0) / (self.period - 1)
            out[start : start + self.period] = np.where(has, phase, 1.0)
        return out


# ----------------------------------------------------------------------------- LIF / current
class LIFEncoder(_Encoder):
    """A LIF neuron per dimension driven by the signal as input current (u * gain per step,
    membrane decay exp(-dt/tau), threshold 1, reset by subtraction). Decoding inverts the
    steady-state rate-current curve of that neuron over a sliding window."""

    def __init__(self, tau: float = 20.0, gain: float = 0.2, dt: float = 1.0, window: int = 50):
        check_positive("LIFEncoder", "tau", tau)
        check_positive("LIFEncoder", "gain", gain)
        check_int("LIFEncoder", "window", window, minimum=1)
        self.decay, self.gain, self.window = np.exp(-dt / tau), gain, window

    def reset(self, d: int) -> None:
        super().reset(d)
        self.v = np.zeros(d)

    def step(self, x, rng=None) -> np.ndarray:
        self.v = self.decay * self.v + self.gain * np.clip(np.asarray(x, np.float64), 0, 1)
        fire = self.v >= 1.0
        self.v[fire] -= 1.0
        return fire.astype(np.float32)

    def _rate(self, u):
        drive = self.gain * u / (1 - self.decay)  # steady-state potential without spikes
        with np.errstate(divide="ignore", invalid="ignore"):
            interval = np.where(drive > 1, -np.log(1 - 1 / drive) / -np.log(self.decay), np.inf)
        return np.where(np.isfinite(interval), 1 / interval, 0.0)

    def decode(self, spikes) -> np.ndarray:
        spikes = np.asarray(spikes, np.float64)
        kernel = np.ones(self.window) / self.window
        rates = np.stack([np.convolve(s, kernel)[: len(s)] for s in spikes.T], axis=1)
        grid = np.linspace(0, 1, 1001)
        curve = self._rate(grid)
        return np.interp(rates, curve, grid)


class CurrentEncoder(_Encoder):
    """Direct current injection: the scaled value itself, times ``gain``, as analog input."""

    stateless = True

    def __init__(self, gain: float = 1.0):
        check_positive("CurrentEncoder", "gain", gain)
        self.gain = gain

    def step(self, x, rng=None) -> np.ndarray:
        return (self.gain * np.asarray(x, np.float64)).astype(np.float32)

    def decode(self, activity) -> np.ndarray:
        return np.asarray(activity, np.float64) / self.gain


ENCODERS = {
    "rate": RateEncoder,
    "population": PopulationEncoder,
    "temporal_contrast": TemporalContrastEncoder,
    "step_forward": StepForwardEncoder,
    "bsa": BensSpikerEncoder,
    "pwm": PWMEncoder,
    "lif": LIFEncoder,
    "current": CurrentEncoder,
}


def make_encoder(name: str, **kwargs):
    """Build an encoder by name: rate, population, temporal_contrast, step_forward, bsa, pwm, lif,
    current."""
    if name not in ENCODERS:
        raise UnknownNameError(unknown_name_message("encoder", name, ENCODERS))
    return ENCODERS[name](**kwargs)


def report(signal, encoders: dict | None = None, dt: float = 1.0, seed: int = 0) -> list[dict]:
    """Reconstruction RMSE and spikes per second per channel of each encoder on ``signal``
    (scaled to [0, 1]); analog outputs report their mean activation instead of a rate."""
    signal = _as_signal(signal)
    encoders = encoders or {name: cls() for name, cls in ENCODERS.items()}
    rows = []
    for name, encoder in encoders.items():
        rng = np.random.default_rng(seed)
        spikes = encoder.encode(signal, rng)
        decoded = encoder.decode(spikes) if encoder.decode is not None else None
        rmse = float(np.sqrt(np.mean((decoded - signal) ** 2))) if decoded is not None else None
        binary = np.all((spikes == 0) | (spikes == 1))
        rate = float(spikes.mean() * 1000 / dt) if binary else None
        rows.append(
            {"encoder": name, "channels": spikes.shape[1], "rmse": rmse, "spikes_per_s_per_channel": rate}
        )
    return rows
