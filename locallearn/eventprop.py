"""EventProp (Wunderlich & Pehle 2021): exact gradients of a spiking network in continuous time,
by an adjoint system run backward with jumps at the spike times (DESIGN §9). A plain-numpy
reference: event by event, float64, closed forms between events.

Model: current-based LIF neurons, hidden (spiking, optionally recurrent) and output — leaky and
non-spiking (``readout="leaky"``) or spiking (``readout="first_spike"``)::

    tau_mem dV/dt = -V + I,    tau_syn dI/dt = -I,    I_j += W_ji when neuron i spikes
    hidden neuron n spikes when V_n reaches theta from below; then V_n <- 0

Between events every neuron has the closed form V(t) = (V0 - A) e^{-t/tau_mem} + A e^{-t/tau_syn},
A = I0 tau_syn / (tau_syn - tau_mem) (tau_mem != tau_syn); a spike time is the first root of
V(t) = theta, bracketed by the single extremum of V and refined by Brent's method to machine
precision. Losses: ``"leaky"``: cross-entropy of softmax(m) with the label, m_o = (1/T) int_0^T
V_o dt; ``"first_spike"`` (as in the paper's Yin-Yang experiment): with t_o the first spike time
of output o (T if it never fires: such an output passes no gradient),
L = -log softmax(-t / tau0)[label] + a (exp(t_label / tau1) - 1), ``first_spike_loss = (tau0, tau1,
a)``.

Adjoint (forward-time form; lambda(T) = 0, integrated backward, closed form between events)::

    d lambda_V/dt = lambda_V / tau_mem - dL/dV,   d lambda_I/dt = -lambda_V / tau_mem + lambda_I / tau_syn
    dL/dV_o = (dL/dm_o) / T on output neurons, 0 on hidden ones

so that lambda(t) . dx(t) is the change of the loss caused by a change dx of the state at t. At a
spike of neuron n at t_k (+: just after, -: just before; V_dot^- = (I_n - theta) / tau_mem)::

    lambda_Vn^- = [lambda_Vn^+ I_n / tau_mem
                   + sum_m W_mn (lambda_Vm^+ / tau_mem - lambda_Im / tau_syn) - dL/dt_k] / V_dot^-
    dL/dW_mn += lambda_Im(t_k)       (the same for input spikes, W_in; lambda_I does not jump)

(derived from the perturbed spike time dt_k = -dV_n / V_dot^-; it is the paper's jump with
lambda_I in these units). Memory: the events (times, kinds, and the current at each hidden spike)
— it grows with the number of spikes, not with a time grid (``Trajectory.stored_floats``).
Tested against central finite differences with the spike count fixed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from .config import ConfigError


@dataclass(frozen=True)
class EventNetwork:
    """Weights (float64) and constants of a continuous-time network: ``w_in`` (hidden <- inputs),
    ``w_rec`` (hidden <- hidden, zero diagonal; None: feed-forward), ``w_out`` (outputs <- hidden);
    times in ms."""

    w_in: np.ndarray
    w_out: np.ndarray
    w_rec: np.ndarray | None = None
    tau_mem: float = 20.0
    tau_syn: float = 5.0
    theta: float = 1.0
    readout: str = "leaky"
    first_spike_loss: tuple = (2.0, 10.0, 0.0)

    def __post_init__(self):
        if self.readout not in ("leaky", "first_spike"):
            raise ConfigError(f"EventNetwork.readout must be 'leaky' or 'first_spike', got {self.readout!r}")
        if self.tau_mem <= 0 or self.tau_syn <= 0 or self.tau_mem == self.tau_syn:
            raise ConfigError(
                "EventNetwork needs positive tau_mem != tau_syn (the closed form divides by their gap)"
            )
        n_hidden = self.w_in.shape[0]
        if self.w_out.shape[1] != n_hidden:
            raise ConfigError(
                f"w_out must have {n_hidden} columns (one per hidden neuron), got {self.w_out.shape}"
            )
        if self.w_rec is not None and (
            self.w_rec.shape != (n_hidden, n_hidden) or np.any(np.diag(self.w_rec))
        ):
            raise ConfigError("w_rec must be (n_hidden, n_hidden) with a zero diagonal")

    @property
    def n_hidden(self) -> int:
        return self.w_in.shape[0]

    @property
    def n_out(self) -> int:
        return self.w_out.shape[0]

    def targets(self) -> np.ndarray:
        """(n_hidden + n_out, n_hidden): what a hidden spike adds to every neuron's current."""
        rec = self.w_rec if self.w_rec is not None else np.zeros((self.n_hidden, self.n_hidden))
        return np.vstack([rec, self.w_out])


@dataclass(frozen=True)
class Trajectory:
    """One simulated sample: the events in time order, the readout and the loss."""

    times: np.ndarray  # event times (ms)
    kinds: np.ndarray  # 0: input spike, 1: hidden spike, 2: output spike
    sources: np.ndarray  # which input / hidden neuron
    currents: np.ndarray  # the spiking neuron's current just before its spike (nan for inputs)
    readout: np.ndarray  # m_o = (1/T) int V_o dt, or the first spike times t_o
    loss: float

    @property
    def hidden_spikes(self) -> int:
        return int(np.sum(self.kinds == 1))

    @property
    def stored_floats(self) -> int:
        """What the backward pass keeps: four numbers per event."""
        return 4 * len(self.times)


def _coefficient(current, net: EventNetwork):
    return current * net.tau_syn / (net.tau_syn - net.tau_mem)


def _voltage(v0, i0, t, net: EventNetwork):
    a = _coefficient(i0, net)
    return (v0 - a) * np.exp(-t / net.tau_mem) + a * np.exp(-t / net.tau_syn)


def _voltage_integral(v0, i0, t, net: EventNetwork):
    a = _coefficient(i0, net)
    return (v0 - a) * net.tau_mem * -np.expm1(-t / net.tau_mem) + a * net.tau_syn * -np.expm1(
        -t / net.tau_syn
    )


def _crossing(v0: float, i0: float, horizon: float, net: EventNetwork) -> float:
    """The first t in (0, horizon] at which V reaches theta from below (inf if none)."""
    if v0 >= net.theta:
        raise ValueError("a neuron above threshold between events (it should have spiked)")
    a = _coefficient(i0, net)
    # V has at most one extremum; V' = 0 where (v0 - a)/tau_mem e^{-t/tau_mem} = -a/tau_syn e^{-t/tau_syn}
    ratio = -a * net.tau_mem / ((v0 - a) * net.tau_syn) if v0 != a else 0.0
    peak = horizon
    if ratio > 0:
        t_extremum = math.log(ratio) / (1 / net.tau_syn - 1 / net.tau_mem)
        if 0 < t_extremum < horizon:
            peak = t_extremum
    if _voltage(v0, i0, peak, net) < net.theta:
        return math.inf
    return brentq(
        lambda t: _voltage(v0, i0, t, net) - net.theta, 0.0, peak, xtol=1e-15, rtol=4 * np.finfo(float).eps
    )


def _loss(net: EventNetwork, integral, first_spikes, duration: float, label: int):
    if net.readout == "leaky":
        readout = integral / duration
        return readout, _cross_entropy(readout, label)
    tau0, tau1, a = net.first_spike_loss
    return first_spikes, _cross_entropy(-first_spikes / tau0, label) + a * math.expm1(
        first_spikes[label] / tau1
    )


def simulate(
    net: EventNetwork, input_times: list[np.ndarray], duration: float, label: int, backend: str = "numpy"
) -> Trajectory:
    """Run one sample: ``input_times[i]`` are input neuron i's spike times (ms) in [0, duration).
    ``backend="numba"``: the compiled twin (:mod:`.eventprop_compiled`)."""
    inputs = sorted((float(t), i) for i, times in enumerate(input_times) for t in np.asarray(times, float))
    if any(not 0 <= t < duration for t, _ in inputs):
        raise ValueError(f"input spike times must lie in [0, {duration})")
    if backend == "numba":
        from . import eventprop_compiled

        capacity = len(inputs) + 16 * (net.n_hidden + net.n_out) + 256
        while True:  # the event arrays are preallocated: doubled until the sample fits
            try:
                events = eventprop_compiled.simulate_events(
                    np.array([t for t, _ in inputs], float), np.array([i for _, i in inputs], np.int64),
                    np.ascontiguousarray(net.w_in, float), np.ascontiguousarray(net.targets(), float),
                    net.n_out, float(duration), float(net.tau_mem), float(net.tau_syn), float(net.theta),
                    net.readout == "first_spike", capacity,
                )  # fmt: skip
                break
            except ValueError as error:
                if "capacity" not in str(error) or capacity > 10**8:
                    raise
                capacity *= 2
        times, kinds, sources, currents, count, integral, first_spikes = events
        readout, loss = _loss(net, integral, first_spikes, duration, label)
        return Trajectory(times[:count], kinds[:count], sources[:count], currents[:count], readout, loss)
    if backend != "numpy":
        raise ConfigError(f"backend must be 'numpy' or 'numba', got {backend!r}")
    n_hidden, n_all = net.n_hidden, net.n_hidden + net.n_out
    spiking = n_all if net.readout == "first_spike" else n_hidden
    targets = net.targets()
    first_spikes = np.full(net.n_out, duration)
    v, i = np.zeros(n_all), np.zeros(n_all)
    integral = np.zeros(net.n_out)
    now, position = 0.0, 0
    times, kinds, sources, currents = [], [], [], []
    while True:
        next_input = inputs[position][0] if position < len(inputs) else duration
        horizon = next_input - now
        crossings = [_crossing(v[n], i[n], horizon, net) for n in range(spiking)]
        first = int(np.argmin(crossings))
        spikes = crossings[first] <= horizon
        step = crossings[first] if spikes else horizon
        integral += _voltage_integral(v[n_hidden:], i[n_hidden:], step, net)
        v, i = _voltage(v, i, step, net), i * np.exp(-step / net.tau_syn)
        now += step
        if spikes and first >= n_hidden:  # an output neuron (first-spike readout)
            times.append(now), kinds.append(2), sources.append(first - n_hidden), currents.append(i[first])
            v[first] = 0.0
            first_spikes[first - n_hidden] = min(first_spikes[first - n_hidden], now)
        elif spikes:
            times.append(now), kinds.append(1), sources.append(first), currents.append(i[first])
            v[first] = 0.0
            i += targets[:, first]
        elif position < len(inputs):
            _, source = inputs[position]
            position += 1
            times.append(now), kinds.append(0), sources.append(source), currents.append(np.nan)
            i[:n_hidden] += net.w_in[:, source]
        else:
            break
    readout, loss = _loss(net, integral, first_spikes, duration, label)
    return Trajectory(
        np.array(times), np.array(kinds, int), np.array(sources, int), np.array(currents), readout, loss
    )


def _cross_entropy(logits: np.ndarray, label: int) -> float:
    shifted = logits - logits.max()
    return float(np.log(np.sum(np.exp(shifted))) - shifted[label])


def _softmax(logits: np.ndarray) -> np.ndarray:
    p = np.exp(logits - logits.max())
    return p / p.sum()


def _adjoint_back(lam_v, lam_i, source_v, span, net: EventNetwork):
    """Integrate the adjoint backward over ``span`` ms (closed form; ``source_v`` = dL/dV)."""
    tm, ts = net.tau_mem, net.tau_syn
    em, es = math.exp(-span / tm), math.exp(-span / ts)
    new_v = lam_v * em + source_v * tm * (1 - em)
    new_i = lam_i * es + (lam_v - source_v * tm) * ts / (tm - ts) * (em - es) + source_v * ts * (1 - es)
    return new_v, new_i


def gradients(net: EventNetwork, input_times, duration: float, label: int, backend: str = "numpy") -> dict:
    """dL/dw_in, dL/dw_rec (if recurrent), dL/dw_out and the loss by EventProp (``backend``:
    "numpy", the reference, or "numba", its compiled twin)."""
    traj = simulate(net, input_times, duration, label, backend)
    n_hidden = net.n_hidden
    targets = net.targets()
    if net.readout == "leaky":
        dl_dm = _softmax(traj.readout)
        dl_dm[label] -= 1.0
        source_v = np.concatenate([np.zeros(n_hidden), dl_dm / duration])
        dl_dt = np.zeros(net.n_out)
    else:  # dL/dt_o of each output's first spike (outputs that never fired: none)
        tau0, tau1, a = net.first_spike_loss
        dl_dt = -(_softmax(-traj.readout / tau0)) / tau0
        dl_dt[label] += 1.0 / tau0
        dl_dt[label] += a / tau1 * math.exp(traj.readout[label] / tau1)
        source_v = np.zeros(n_hidden + net.n_out)
    if backend == "numba":
        from . import eventprop_compiled

        grad_in, grad_all = eventprop_compiled.adjoint(
            traj.times, traj.kinds, traj.sources, traj.currents, np.ascontiguousarray(targets, float),
            source_v, dl_dt, net.w_in.shape[1], float(duration), float(net.tau_mem), float(net.tau_syn),
            float(net.theta),
        )  # fmt: skip
        return _gradient_record(net, grad_in, grad_all, traj)
    lam_v, lam_i = np.zeros(n_hidden + net.n_out), np.zeros(n_hidden + net.n_out)
    grad_in, grad_all = np.zeros_like(net.w_in), np.zeros_like(targets)
    later = duration
    for k in range(len(traj.times) - 1, -1, -1):
        t, kind, source = traj.times[k], traj.kinds[k], traj.sources[k]
        lam_v, lam_i = _adjoint_back(lam_v, lam_i, source_v, later - t, net)
        later = t
        if kind == 0:
            grad_in[:, source] += lam_i[:n_hidden]
            continue
        v_dot = (traj.currents[k] - net.theta) / net.tau_mem
        if v_dot <= 1e-12:
            raise ValueError(
                f"a grazing threshold crossing at t = {t} ms: the spike time is not differentiable"
            )
        if kind == 2:  # an output spike: only its own time enters the loss (if it was the first)
            neuron = n_hidden + source
            first = not np.any((traj.kinds[:k] == 2) & (traj.sources[:k] == source))
            jump = lam_v[neuron] * traj.currents[k] / net.tau_mem - (dl_dt[source] if first else 0.0)
            lam_v[neuron] = jump / v_dot
            continue
        grad_all[:, source] += lam_i
        w = targets[:, source]
        jump = lam_v[source] * traj.currents[k] / net.tau_mem
        jump += np.sum(w * (lam_v / net.tau_mem - lam_i / net.tau_syn))
        lam_v[source] = jump / v_dot
    return _gradient_record(net, grad_in, grad_all, traj)


def _gradient_record(net: EventNetwork, grad_in, grad_all, traj: Trajectory) -> dict:
    result = {"w_in": grad_in, "w_out": grad_all[net.n_hidden :], "loss": traj.loss, "trajectory": traj}
    if net.w_rec is not None:
        result["w_rec"] = grad_all[: net.n_hidden]
        np.fill_diagonal(result["w_rec"], 0.0)
    return result
