"""Exact gradients without autograd: BPTT by a hand-written adjoint, and RTRL (EventProp, for the
continuous-time model, is ``locallearn.eventprop``, also reachable as ``reference.eventprop``;
that model on a time grid, with its exact discrete gradient, is ``reference.eventgrid``).

Both work in float64 on a plain-numpy transcription of the dynamics (DESIGN §3) that shares no code
with the engine, so they double as an independent check of it. Both use dz/dv := psi (the
pseudo-derivative; with ``spike_fn="sigmoid"`` it is the true derivative) and, by default, include
every path through which a spike acts later: the recurrent input ``W_rec z^{t-1}``, the reset
``-v_th z^{t-1}``, the adaptation ``a^t = rho a^{t-1} + z^{t-1}`` and the readout.

``detach`` holds spikes constant where they enter a membrane (their derivative is dropped there):

* ``"recurrent"`` — through ``W_rec z^{t-1}`` into other neurons' membranes;
* ``"reset"``     — through ``-v_th z^{t-1}`` into the neuron's own membrane.

``detach=("recurrent", "reset")`` is the model whose exact gradient e-prop with symmetric feedback
computes (DESIGN §4, "an exact characterisation"). Refractory gating is piecewise constant and has
no derivative.

Adjoint (reverse) recursion, with ybar^t = err^t + kappa ybar^{t+1}::

    zbar^t = W_out^T ybar^t + abar^{t+1} + [W_rec^T vbar^{t+1}] + [-v_th vbar^{t+1}]
    vbar^t = psi^t zbar^t + alpha vbar^{t+1}
    abar^t = -beta psi^t zbar^t + rho abar^{t+1}
    dE/dW_in = sum_t vbar^t x^tT,  dE/dW_rec = sum_t vbar^t z^{t-1}T,  dE/dW_out = sum_t ybar^t z^tT

In a stack of layers, layer l's spikes at t are layer l+1's input at t, so ``zbar_l^t`` also
receives ``W_in_{l+1}^T vbar_{l+1}^t`` (computed top-down within each step). RTRL propagates the
influence matrices dv^t/dW and da^t/dW forward instead (O(n^3) memory per projection: small
single-layer networks only).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import eventgrid, eventprop  # noqa: F401  (continuous time: ll.reference.eventprop)
from .losses import check_loss, loss_value, prepare_mask, prepare_targets, softmax

DETACHABLE = ("recurrent", "reset")


@dataclass(frozen=True)
class Trajectory:
    """A simulated sequence in float64: histories (T, n) of the top layer, readouts (T, n_out),
    and ``layers``: per layer (bottom to top) a dict of its input ``x`` and ``v``, ``a``, ``z``,
    ``psi`` histories."""

    x: np.ndarray
    v: np.ndarray
    a: np.ndarray
    z: np.ndarray
    psi: np.ndarray
    y: np.ndarray
    layers: tuple = ()


class _Layer:
    def __init__(self, layer, c):
        self.names = layer.param_names
        self.recurrent = layer.recurrent
        self.w_in = np.array(layer.w_in, np.float64)
        self.w_rec = np.array(layer.w_rec, np.float64)
        self.beta = np.zeros(layer.n)
        self.beta[layer.n - c.n_adaptive :] = c.beta if c.n_adaptive else 0.0


class _Model:
    """The network's parameters in float64, read once."""

    def __init__(self, net, single_layer: bool = False):
        c = net.config
        if c.spike_fn == "escape":
            raise NotImplementedError(
                "the exact references need deterministic spikes; spike_fn='escape' draws them at random"
            )
        if single_layer and len(net.layers) != 1:
            raise NotImplementedError("RTRL covers single-layer networks (use bptt_gradients)")
        self.layers = [_Layer(layer, c) for layer in net.layers]
        self.w_in, self.w_rec = self.layers[0].w_in, self.layers[0].w_rec
        self.beta = self.layers[0].beta
        self.w_out = np.array(net.w_out, np.float64)
        self.b_out = np.array(net.b_out, np.float64)
        self.alpha = math.exp(-c.dt / c.tau_mem)
        self.rho = math.exp(-c.dt / c.tau_adapt)
        self.kappa = math.exp(-c.dt / c.tau_out)
        self.v_th, self.gamma, self.n_ref = c.v_th, c.gamma, c.n_ref
        self.width = c.sigmoid_width if c.spike_fn == "sigmoid" else 0.0


def _simulate(model: _Model, x: np.ndarray) -> Trajectory:
    n_steps = x.shape[0]
    y_hist = np.zeros((n_steps, model.w_out.shape[0]))
    hists, states = [], []
    for layer in model.layers:
        n = layer.w_rec.shape[0]
        hists.append(
            {k: np.zeros((n_steps, n)) for k in ("v", "a", "z", "psi")}
            | {"x": np.zeros((n_steps, layer.w_in.shape[1]))}
        )
        states.append(
            {
                "v": np.zeros(n),
                "a": np.zeros(n),
                "z": np.zeros(n),
                "since": np.full(n, np.iinfo(np.int64).max // 2),
            }
        )
    y = np.zeros(model.w_out.shape[0])
    for t in range(n_steps):
        signal = x[t]
        for layer, hist, st in zip(model.layers, hists, states):
            z = st["z"]
            a = model.rho * st["a"] + z
            v = model.alpha * st["v"] + layer.w_in @ signal + layer.w_rec @ z - model.v_th * z
            distance = v - (model.v_th + layer.beta * a)
            refractory = st["since"] < model.n_ref
            if model.width > 0:
                s = model.v_th * model.width
                smooth = 1 / (1 + np.exp(-distance / s))
                z = np.where(refractory, 0.0, smooth)
                psi = np.where(refractory, 0.0, smooth * (1 - smooth) / s)
            else:
                z = np.where(refractory, 0.0, (distance > 0).astype(float))
                psi = np.where(
                    refractory,
                    0.0,
                    model.gamma / model.v_th * np.maximum(0, 1 - np.abs(distance) / model.v_th),
                )
            fired = (distance > 0) & ~refractory
            st["since"] = np.where(fired, 0, st["since"] + 1)
            st["v"], st["a"], st["z"] = v, a, z
            hist["x"][t] = signal
            for k, value in (("v", v), ("a", a), ("z", z), ("psi", psi)):
                hist[k][t] = value
            signal = z
        y = model.kappa * y + model.w_out @ signal + model.b_out
        y_hist[t] = y
    top = hists[-1]
    return Trajectory(x=x, y=y_hist, v=top["v"], a=top["a"], z=top["z"], psi=top["psi"], layers=tuple(hists))


def simulate(net, inputs) -> Trajectory:
    """Run ``net``'s dynamics in float64 with plain numpy (independent of the engine)."""
    x = np.asarray(net.check_inputs(inputs), np.float64)
    return _simulate(_Model(net), x)


def _errors(loss: str, traj: Trajectory, targets, mask):
    n_steps, n_out = traj.y.shape
    loss = check_loss(loss)
    targets = prepare_targets(loss, targets, n_steps, n_out, np.float64)
    mask = prepare_mask(mask, n_steps, np.float64)
    if loss == "mse":
        err = mask[:, None] * (traj.y - targets)
    else:
        err = mask[:, None] * (softmax(traj.y) - targets)
    return err, loss_value(loss, traj.y, targets, mask)


def _check_detach(detach) -> frozenset:
    detach = frozenset(detach)
    unknown = detach - set(DETACHABLE)
    if unknown:
        raise ValueError(f"unknown detach path(s) {sorted(unknown)}; choose from {DETACHABLE}")
    return detach


def _readout_gradients(model: _Model, traj: Trajectory, err: np.ndarray):
    # Forward form of the exact readout gradient: sum_t err^t ztilde^tT with ztilde the
    # kappa-filtered z; the bias enters every step, so its "trace" is the filtered constant 1.
    ztilde, bias_trace = np.zeros(traj.z.shape[1]), 0.0
    g_out, g_b = np.zeros_like(model.w_out), np.zeros_like(model.b_out)
    for t in range(traj.z.shape[0]):
        ztilde = model.kappa * ztilde + traj.z[t]
        bias_trace = model.kappa * bias_trace + 1.0
        g_out += np.outer(err[t], ztilde)
        g_b += err[t] * bias_trace
    return g_out, g_b


def bptt_gradients(net, inputs, targets, loss: str = "mse", mask=None, detach=()) -> dict:
    """Exact gradient of the sequence loss by backpropagation through time.

    Returns the gradient of E for every parameter of ``net.params`` (``w_in``, ``w_rec`` with
    zero diagonal, ``w_out``, ``b_out``; in a stack also ``w_in_l``, ``w_rec_l``), ``loss``, and
    ``learning_signal`` (T, n_top): dE/dz_j^t of the top layer through every path except neuron
    j's own hidden state (its reset and adaptation), i.e. ``W_out^T ybar^t + W_rec^T vbar^{t+1}``
    — the total learning signal of the e-prop factorization. In a stack, layer l's spikes at t
    enter layer l+1's membrane at t, so ``zbar_l^t`` also receives ``W_in_{l+1}^T vbar_{l+1}^t``
    (never detached: ``detach`` concerns the recurrent and reset paths within a layer).
    """
    detach = _check_detach(detach)
    model = _Model(net)
    traj = _simulate(model, np.asarray(net.check_inputs(inputs), np.float64))
    err, value = _errors(loss, traj, targets, mask)
    n_steps = traj.z.shape[0]
    ybar = np.zeros(model.w_out.shape[0])
    sizes = [layer.w_rec.shape[0] for layer in model.layers]
    vbar_next = [np.zeros(n) for n in sizes]
    abar_next = [np.zeros(n) for n in sizes]
    g_in = [np.zeros_like(layer.w_in) for layer in model.layers]
    g_rec = [np.zeros_like(layer.w_rec) for layer in model.layers]
    g_out, g_b = np.zeros_like(model.w_out), np.zeros_like(model.b_out)
    learning_signal = np.zeros((n_steps, sizes[-1]))
    top = len(model.layers) - 1
    for t in range(n_steps - 1, -1, -1):
        ybar = err[t] + model.kappa * ybar
        g_out += np.outer(ybar, traj.z[t])
        g_b += ybar
        vbar_now = [None] * len(sizes)
        for index in range(top, -1, -1):
            layer, hist = model.layers[index], traj.layers[index]
            if index == top:
                through_others = model.w_out.T @ ybar
            else:
                through_others = model.layers[index + 1].w_in.T @ vbar_now[index + 1]
            if "recurrent" not in detach:
                through_others = through_others + layer.w_rec.T @ vbar_next[index]
            if index == top:
                learning_signal[t] = through_others
            zbar = through_others + abar_next[index]
            if "reset" not in detach:
                zbar = zbar - model.v_th * vbar_next[index]
            vbar = hist["psi"][t] * zbar + model.alpha * vbar_next[index]
            abar = -layer.beta * hist["psi"][t] * zbar + model.rho * abar_next[index]
            z_prev = hist["z"][t - 1] if t > 0 else np.zeros(sizes[index])
            g_in[index] += np.outer(vbar, hist["x"][t])
            g_rec[index] += np.outer(vbar, z_prev)
            vbar_now[index] = vbar
            abar_next[index] = abar
        vbar_next = vbar_now
    grads = {"w_out": g_out, "b_out": g_b, "loss": value, "learning_signal": learning_signal}
    for layer, gi, gr in zip(model.layers, g_in, g_rec):
        grads[layer.names["w_in"]] = gi
        if layer.recurrent:
            np.fill_diagonal(gr, 0)
            grads[layer.names["w_rec"]] = gr
    return grads


def rtrl_gradients(net, inputs, targets, loss: str = "mse", mask=None, detach=()) -> dict:
    """Exact gradient by real-time recurrent learning (forward propagation of influences).

    Influence tensors ``Jv[k, j, i] = dv_k / dW_ji`` (and Ja, Jz alike) for W_in and W_rec::

        Ja^t = rho Ja^{t-1} + Jz^{t-1}
        Jv^t = alpha Jv^{t-1} + M Jz^{t-1} + [k == j] pre_i^t,   M = W_rec - v_th I (minus detached)
        Jz^t = psi^t (Jv^t - beta Ja^t),   Jy^t = kappa Jy^{t-1} + W_out Jz^t
        dE/dW = sum_t err^t . Jy^t
    """
    detach = _check_detach(detach)
    model = _Model(net, single_layer=True)
    traj = _simulate(model, np.asarray(net.check_inputs(inputs), np.float64))
    err, value = _errors(loss, traj, targets, mask)
    n_steps, n = traj.z.shape
    n_out = model.w_out.shape[0]
    coupling = np.zeros((n, n))
    if "recurrent" not in detach:
        coupling += model.w_rec
    if "reset" not in detach:
        coupling -= model.v_th * np.eye(n)
    grads = {}
    for name, pre_hist in (("w_in", traj.x), ("w_rec", np.vstack([np.zeros((1, n)), traj.z[:-1]]))):
        n_pre = pre_hist.shape[1]
        jv = np.zeros((n, n, n_pre))
        ja = np.zeros((n, n, n_pre))
        jz = np.zeros((n, n, n_pre))
        jy = np.zeros((n_out, n, n_pre))
        grad = np.zeros((n, n_pre))
        for t in range(n_steps):
            ja = model.rho * ja + jz
            jv = model.alpha * jv + np.tensordot(coupling, jz, axes=(1, 0))
            jv[np.arange(n), np.arange(n), :] += pre_hist[t][None, :]
            jz = traj.psi[t][:, None, None] * (jv - model.beta[:, None, None] * ja)
            jy = model.kappa * jy + np.tensordot(model.w_out, jz, axes=(1, 0))
            grad += np.tensordot(err[t], jy, axes=(0, 0))
        grads[name] = grad
    np.fill_diagonal(grads["w_rec"], 0)
    if not model.layers[0].recurrent:
        del grads["w_rec"]
    grads["w_out"], grads["b_out"] = _readout_gradients(model, traj, err)
    grads["loss"] = value
    return grads


def sequence_loss(net, inputs, targets, loss: str = "mse", mask=None) -> float:
    """The sequence loss E of ``net`` on one sequence (float64), e.g. for finite differences."""
    traj = simulate(net, inputs)
    return _errors(loss, traj, targets, mask)[1]
