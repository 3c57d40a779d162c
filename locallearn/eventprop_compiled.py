"""EventProp compiled: the event loop and the adjoint of :mod:`.eventprop` in numba, for training
(``eventprop.gradients(..., backend="numba")``). The same equations, event for event; the plain
numpy/scipy module is its twin and the tests hold the two together (spike times, loss and every
gradient within 1e-9 relative).

One difference of method, not of model: a threshold crossing is found by Newton's method
safeguarded by bisection inside the bracket [0, peak] (V rises monotonically there: it has at most
one extremum), to 1e-14 ms, where the reference calls scipy's Brent.
"""

from __future__ import annotations

import math

import numba
import numpy as np

NONE = -1.0  # "no crossing" (an event time is never negative)


@numba.njit(cache=True)
def _voltage(v0, i0, t, tau_mem, tau_syn):
    a = i0 * tau_syn / (tau_syn - tau_mem)
    return (v0 - a) * math.exp(-t / tau_mem) + a * math.exp(-t / tau_syn)


@numba.njit(cache=True)
def _slope(v0, i0, t, tau_mem, tau_syn):
    a = i0 * tau_syn / (tau_syn - tau_mem)
    return -(v0 - a) / tau_mem * math.exp(-t / tau_mem) - a / tau_syn * math.exp(-t / tau_syn)


@numba.njit(cache=True)
def _integral(v0, i0, t, tau_mem, tau_syn):
    a = i0 * tau_syn / (tau_syn - tau_mem)
    return (v0 - a) * tau_mem * -math.expm1(-t / tau_mem) + a * tau_syn * -math.expm1(-t / tau_syn)


@numba.njit(cache=True)
def crossing(v0, i0, horizon, tau_mem, tau_syn, theta):
    """The first t in (0, horizon] with V(t) = theta from below, or NONE."""
    a = i0 * tau_syn / (tau_syn - tau_mem)
    peak = horizon
    if v0 != a:
        ratio = -a * tau_mem / ((v0 - a) * tau_syn)
        if ratio > 0:
            t_extremum = math.log(ratio) / (1 / tau_syn - 1 / tau_mem)
            if 0 < t_extremum < horizon:
                peak = t_extremum
    if _voltage(v0, i0, peak, tau_mem, tau_syn) < theta:
        return NONE
    low, high = 0.0, peak
    t = 0.5 * (low + high)
    for _ in range(200):
        f = _voltage(v0, i0, t, tau_mem, tau_syn) - theta
        if f < 0:
            low = t
        else:
            high = t
        slope = _slope(v0, i0, t, tau_mem, tau_syn)
        step_ok = slope > 0
        candidate = t - f / slope if step_ok else 0.5 * (low + high)
        if not (low < candidate < high):
            candidate = 0.5 * (low + high)
        if abs(candidate - t) <= 1e-14 or high - low <= 1e-14:
            return candidate
        t = candidate
    return t


@numba.njit(cache=True)
def simulate_events(
    input_times, input_sources, w_in, targets, n_out, duration, tau_mem, tau_syn, theta, first_spike, capacity
):
    """The event loop of :func:`eventprop.simulate`: (times, kinds, sources, currents, count,
    integral of the outputs' V, first output spike times)."""
    n_hidden = w_in.shape[0]
    n_all = n_hidden + n_out
    spiking = n_all if first_spike else n_hidden
    v = np.zeros(n_all)
    i = np.zeros(n_all)
    integral = np.zeros(n_out)
    first_spikes = np.full(n_out, duration)
    times = np.empty(capacity)
    kinds = np.empty(capacity, np.int64)
    sources = np.empty(capacity, np.int64)
    currents = np.empty(capacity)
    count = 0
    now = 0.0
    position = 0
    decay_i = 0.0
    while True:
        next_input = input_times[position] if position < len(input_times) else duration
        horizon = next_input - now
        first = -1
        earliest = np.inf
        for n in range(spiking):
            t = crossing(v[n], i[n], horizon, tau_mem, tau_syn, theta)
            if t != NONE and t < earliest:
                earliest, first = t, n
        spikes = first >= 0 and earliest <= horizon
        step = earliest if spikes else horizon
        for o in range(n_out):
            integral[o] += _integral(v[n_hidden + o], i[n_hidden + o], step, tau_mem, tau_syn)
        decay_i = math.exp(-step / tau_syn)
        for n in range(n_all):
            v[n] = _voltage(v[n], i[n], step, tau_mem, tau_syn)
            i[n] = i[n] * decay_i
        now += step
        if not spikes and position >= len(input_times):
            break
        if count == capacity:
            raise ValueError("more events than the capacity; raise it")
        if spikes and first >= n_hidden:
            times[count], kinds[count], sources[count], currents[count] = now, 2, first - n_hidden, i[first]
            v[first] = 0.0
            first_spikes[first - n_hidden] = min(first_spikes[first - n_hidden], now)
        elif spikes:
            times[count], kinds[count], sources[count], currents[count] = now, 1, first, i[first]
            v[first] = 0.0
            for m in range(n_all):
                i[m] += targets[m, first]
        else:
            source = input_sources[position]
            position += 1
            times[count], kinds[count], sources[count], currents[count] = now, 0, source, np.nan
            for m in range(n_hidden):
                i[m] += w_in[m, source]
        count += 1
    return times, kinds, sources, currents, count, integral, first_spikes


@numba.njit(cache=True)
def adjoint(
    times, kinds, sources, currents, targets, source_v, dl_dt, n_in, duration, tau_mem, tau_syn, theta
):
    """The backward pass of :func:`eventprop.gradients`: (dL/dw_in, dL/dtargets)."""
    n_all, n_hidden = targets.shape
    lam_v = np.zeros(n_all)
    lam_i = np.zeros(n_all)
    grad_in = np.zeros((n_hidden, n_in))
    grad_all = np.zeros((n_all, n_hidden))
    later = duration
    seen_output = np.zeros(len(dl_dt), np.int64)  # output spikes met so far going backward
    total_output = np.zeros(len(dl_dt), np.int64)
    for k in range(len(times)):
        if kinds[k] == 2:
            total_output[sources[k]] += 1
    for k in range(len(times) - 1, -1, -1):
        t, kind, source = times[k], kinds[k], sources[k]
        span = later - t
        em, es = math.exp(-span / tau_mem), math.exp(-span / tau_syn)
        for n in range(n_all):
            s = source_v[n]
            new_v = lam_v[n] * em + s * tau_mem * (1 - em)
            new_i = lam_i[n] * es + (lam_v[n] - s * tau_mem) * tau_syn / (tau_mem - tau_syn) * (em - es)
            new_i += s * tau_syn * (1 - es)
            lam_v[n], lam_i[n] = new_v, new_i
        later = t
        if kind == 0:
            for m in range(n_hidden):
                grad_in[m, source] += lam_i[m]
            continue
        v_dot = (currents[k] - theta) / tau_mem
        if v_dot <= 1e-12:
            raise ValueError("a grazing threshold crossing: the spike time is not differentiable")
        if kind == 2:
            neuron = n_hidden + source
            seen_output[source] += 1
            first = seen_output[source] == total_output[source]  # no earlier spike of this output
            jump = lam_v[neuron] * currents[k] / tau_mem - (dl_dt[source] if first else 0.0)
            lam_v[neuron] = jump / v_dot
            continue
        for m in range(n_all):
            grad_all[m, source] += lam_i[m]
        jump = lam_v[source] * currents[k] / tau_mem
        for m in range(n_all):
            jump += targets[m, source] * (lam_v[m] / tau_mem - lam_i[m] / tau_syn)
        lam_v[source] = jump / v_dot
    return grad_in, grad_all
