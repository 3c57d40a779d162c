"""EventProp's network on a time grid: the discrete-time model with crossing-time interpolation
and its exact gradient, to show that the discrete exact gradient converges to EventProp's as the
step shrinks (issue 20, ``benchmarks/dt_convergence.py``).

The model is :class:`.eventprop.EventNetwork` (current-based LIF, leaky readout), advanced from
grid point ``t_k`` to ``t_k + h`` by the exact propagator of the linear dynamics::

    V' = a V + b I,   I' = c I,    a = e^{-h/tau_mem},  c = e^{-h/tau_syn},  b = beta(h)
    beta(s) = tau_syn / (tau_syn - tau_mem) (e^{-s/tau_syn} - e^{-s/tau_mem})

Input spikes are placed exactly (one at time s in the step adds w c(t_{k+1} - s) to I' and
w beta(t_{k+1} - s) to V'). A hidden neuron whose V' reaches theta spikes at the interpolated
time t* = t_k + h (theta - V) / (V' - V) — the linear interpolation of its membrane — and is
reset to 0 at t*, from where its membrane follows the current it had then (V' = beta(t_{k+1} - t*)
I'_n e^{(t_{k+1} - t*)/tau_syn}); its spike reaches its targets at t*:
I'_m += W_mn c(t_{k+1} - t*), V'_m += W_mn beta(t_{k+1} - t*). So spike times, and through them
the loss, depend smoothly on the weights within a fixed spike pattern. The readout integral is
the trapezoid rule; the loss is EventProp's cross-entropy of softmax(m), m = (1/T) int V_out.

The gradient is exact for this discrete map: forward-mode, every state carries its derivative
with respect to every weight (``dV``, ``dI`` of shape neurons x weights), propagated through the
same operations, including dt* = h dphi with phi = (theta - V) / (V' - V). It is checked against
central finite differences of the discrete loss (tests). What is not exact is the model: linear
interpolation of the crossing, inputs within a spike's step treated as arriving at it, spikes of
one step not seeing each other and the trapezoid make its error shrink with h; the benchmark
measures how fast its gradient approaches EventProp's.
"""

from __future__ import annotations

import math

import numpy as np

from .config import ConfigError
from .eventprop import EventNetwork


def _beta(s, net: EventNetwork):
    return net.tau_syn / (net.tau_syn - net.tau_mem) * (np.exp(-s / net.tau_syn) - np.exp(-s / net.tau_mem))


def _beta_rate(s, net: EventNetwork):
    """d beta / d s."""
    return (
        net.tau_syn
        / (net.tau_syn - net.tau_mem)
        * (-np.exp(-s / net.tau_syn) / net.tau_syn + np.exp(-s / net.tau_mem) / net.tau_mem)
    )


def gradients(net: EventNetwork, input_times, duration: float, label: int, step: float) -> dict:
    """dL/dw_in, dL/dw_rec (if recurrent), dL/dw_out, the loss and the hidden spike count of
    the discrete model at step ``step`` (ms)."""
    if net.readout != "leaky":
        raise ConfigError("the gridded model has the leaky readout only")
    n_steps = int(round(duration / step))
    if n_steps < 1 or abs(n_steps * step - duration) > 1e-9 * duration:
        raise ConfigError(f"step {step} ms must divide the duration {duration} ms")
    n_hidden, n_out = net.n_hidden, net.n_out
    n_all, n_in = n_hidden + n_out, net.w_in.shape[1]
    recurrent = net.w_rec is not None
    # the weights, flattened: w_in, then the targets of hidden spikes (w_rec rows, w_out rows)
    targets = net.targets()
    n_w_in, n_targets = n_hidden * n_in, targets.size
    n_params = n_w_in + n_targets
    index_in = np.arange(n_w_in).reshape(n_hidden, n_in)
    index_targets = n_w_in + np.arange(n_targets).reshape(targets.shape)
    v, i = np.zeros(n_all), np.zeros(n_all)
    dv, di = np.zeros((n_all, n_params)), np.zeros((n_all, n_params))
    integral, d_integral = np.zeros(n_out), np.zeros((n_out, n_params))
    a, c, b = math.exp(-step / net.tau_mem), math.exp(-step / net.tau_syn), float(_beta(step, net))
    arrivals = [[] for _ in range(n_steps)]
    for source, times in enumerate(input_times):
        for t in np.asarray(times, float):
            if not 0 <= t < duration:
                raise ValueError(f"input spike times must lie in [0, {duration})")
            k = min(int(t // step), n_steps - 1)
            arrivals[k].append((float(t), source))
    hidden_spikes = 0
    for k in range(n_steps):
        end = (k + 1) * step
        v_new, i_new = a * v + b * i, c * i
        dv_new, di_new = a * dv + b * di, c * di
        for t, source in arrivals[k]:
            lag = end - t
            weight = net.w_in[:, source]
            i_new[:n_hidden] += weight * math.exp(-lag / net.tau_syn)
            v_new[:n_hidden] += weight * _beta(lag, net)
            rows = np.arange(n_hidden)
            di_new[rows, index_in[:, source]] += math.exp(-lag / net.tau_syn)
            dv_new[rows, index_in[:, source]] += _beta(lag, net)
        spiking = np.flatnonzero((v_new[:n_hidden] >= net.theta) & (v[:n_hidden] < net.theta))
        effects = []
        for n in spiking:
            rise = v_new[n] - v[n]
            phi = (net.theta - v[n]) / rise
            d_phi = (-dv[n] - phi * (dv_new[n] - dv[n])) / rise
            lag = step * (1.0 - phi)  # from the spike to the grid point
            d_lag = -step * d_phi
            effects.append((n, lag, d_lag))
            hidden_spikes += 1
        for n, lag, d_lag in effects:
            # reset at t*, then the membrane follows from 0 with the current it had at t*
            # (I' carried back over the lag): the post-reset voltage depends on t*, as in
            # continuous time — dropping it (V' = 0) leaves an O(1) error in the gradient of any
            # neuron that spikes twice
            grow, beta_lag = math.exp(lag / net.tau_syn), float(_beta(lag, net))
            current, d_current = i_new[n] * grow, di_new[n] * grow + i_new[n] * grow / net.tau_syn * d_lag
            v_new[n] = beta_lag * current
            dv_new[n] = float(_beta_rate(lag, net)) * current * d_lag + beta_lag * d_current
        for n, lag, d_lag in effects:
            w = targets[:, n]
            decay, rate = math.exp(-lag / net.tau_syn), float(_beta_rate(lag, net))
            beta_lag = float(_beta(lag, net))
            i_new += w * decay
            v_new += w * beta_lag
            di_new += np.outer(w * (-decay / net.tau_syn), d_lag)
            dv_new += np.outer(w * rate, d_lag)
            di_new[np.arange(n_all), index_targets[:, n]] += decay
            dv_new[np.arange(n_all), index_targets[:, n]] += beta_lag
        integral += 0.5 * step * (v[n_hidden:] + v_new[n_hidden:])
        d_integral += 0.5 * step * (dv[n_hidden:] + dv_new[n_hidden:])
        v, i, dv, di = v_new, i_new, dv_new, di_new
    readout = integral / duration
    shifted = readout - readout.max()
    p = np.exp(shifted) / np.exp(shifted).sum()
    loss = float(np.log(np.sum(np.exp(shifted))) - shifted[label])
    dl_dm = p.copy()
    dl_dm[label] -= 1.0
    grad = dl_dm @ (d_integral / duration)
    grad_targets = grad[n_w_in:].reshape(targets.shape)
    result = {
        "w_in": grad[:n_w_in].reshape(n_hidden, n_in),
        "w_out": grad_targets[n_hidden:],
        "loss": loss,
        "hidden_spikes": hidden_spikes,
    }
    if recurrent:
        result["w_rec"] = grad_targets[:n_hidden].copy()
        np.fill_diagonal(result["w_rec"], 0.0)
    return result
