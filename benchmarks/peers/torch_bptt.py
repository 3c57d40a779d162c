"""The peer most users would pick instead of online learning: backpropagation through time in
PyTorch (autograd), on the network of DESIGN §3 — LIF and ALIF neurons, reset by subtraction,
refractoriness, the leaky readout, and e-prop's pseudo-derivative as the surrogate gradient.

snnTorch (1.0) offers LIF neurons (``snn.Leaky``) but no adaptive threshold, and the evidence
task needs ALIF neurons; so the network is written here in plain PyTorch with the same autograd
BPTT that snnTorch builds on. ``tests/test_peers_torch.py`` shows it is our network: the same
spikes as ``locallearn.reference.simulate`` on a small LIF+ALIF network, and autograd's gradient
equal to ``locallearn.reference.bptt_gradients`` to round-off (float64).

    net = TorchNetwork.from_locallearn(ll_net)          # copies the weights
    grads = net.gradients(inputs, targets, mask, "ce")   # numpy arrays, keyed like net.params
"""

from __future__ import annotations

import math

import numpy as np
import torch


class _Spike(torch.autograd.Function):
    """z = H(v - A) forward; dz/dv = psi = (gamma / v_th) max(0, 1 - |v - A| / v_th) backward."""

    @staticmethod
    def forward(ctx, distance, gamma: float, v_th: float):
        ctx.save_for_backward(distance)
        ctx.gamma, ctx.v_th = gamma, v_th
        return (distance > 0).to(distance.dtype)

    @staticmethod
    def backward(ctx, grad):
        (distance,) = ctx.saved_tensors
        psi = ctx.gamma / ctx.v_th * torch.clamp(1 - distance.abs() / ctx.v_th, min=0)
        return grad * psi, None, None


class TorchNetwork(torch.nn.Module):
    """One recurrent layer of LIF (first ``n - n_adaptive``) and ALIF neurons and a leaky readout,
    stepped over a (B, T, n_in) input with the equations of DESIGN §3."""

    def __init__(self, w_in, w_rec, w_out, b_out, *, alpha, rho, kappa, v_th, gamma, n_ref, beta):
        super().__init__()
        dtype = w_in.dtype
        self.w_in = torch.nn.Parameter(w_in)
        self.w_rec = torch.nn.Parameter(w_rec)
        self.w_out = torch.nn.Parameter(w_out)
        self.b_out = torch.nn.Parameter(b_out)
        self.register_buffer("beta", torch.as_tensor(beta, dtype=dtype))
        self.register_buffer("off_diagonal", 1 - torch.eye(w_rec.shape[0], dtype=dtype))
        self.alpha, self.rho, self.kappa = alpha, rho, kappa
        self.v_th, self.gamma, self.n_ref = v_th, gamma, n_ref

    @classmethod
    def from_locallearn(cls, net, dtype=torch.float64) -> TorchNetwork:
        """The same network as ``net`` (a single recurrent layer, deterministic spikes)."""
        c = net.config
        if len(net.layers) != 1 or not c.recurrent or c.spike_fn != "heaviside":
            raise NotImplementedError("the torch peer builds one recurrent layer with Heaviside spikes")
        n = net.n_rec
        beta = np.zeros(n)
        if c.n_adaptive:
            beta[n - c.n_adaptive :] = c.beta

        def tensor(array):
            return torch.tensor(np.asarray(array, np.float64), dtype=dtype)

        return cls(
            tensor(net.w_in),
            tensor(net.w_rec),
            tensor(net.w_out),
            tensor(net.b_out),
            alpha=math.exp(-c.dt / c.tau_mem),
            rho=math.exp(-c.dt / c.tau_adapt),
            kappa=math.exp(-c.dt / c.tau_out),
            v_th=float(c.v_th),
            gamma=float(c.gamma),
            n_ref=int(c.n_ref),
            beta=beta,
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Readout y (B, T, n_out) and spikes z (B, T, n) for inputs x (B, T, n_in)."""
        n_batch, n_steps, _ = x.shape
        n = self.w_rec.shape[0]
        v = x.new_zeros(n_batch, n)
        a = x.new_zeros(n_batch, n)
        z = x.new_zeros(n_batch, n)
        y = x.new_zeros(n_batch, self.w_out.shape[0])
        since = torch.full((n_batch, n), 1 << 30, dtype=torch.int64)
        w_rec = self.w_rec * self.off_diagonal  # the diagonal stays zero, and so does its gradient
        currents = x @ self.w_in.T  # every step's input current in one product
        ys, zs = [], []
        for t in range(n_steps):
            a = self.rho * a + z
            v = self.alpha * v + currents[:, t] + z @ w_rec.T - self.v_th * z
            distance = v - (self.v_th + self.beta * a)
            free = (since >= self.n_ref).to(x.dtype)
            z = _Spike.apply(distance, self.gamma, self.v_th) * free
            since = torch.where((distance.detach() > 0) & (free > 0), 0, since + 1)
            y = self.kappa * y + z @ self.w_out.T + self.b_out
            ys.append(y)
            zs.append(z)
        return torch.stack(ys, 1), torch.stack(zs, 1)

    @staticmethod
    def sequence_loss(y, targets, mask, loss: str) -> torch.Tensor:
        """DESIGN §3's loss summed over the batch: MSE ½ Σ m (y - y*)², or cross-entropy
        -Σ m π* log softmax(y); ``targets`` (B, T, n_out), ``mask`` (B, T)."""
        if loss == "mse":
            return 0.5 * (mask[..., None] * (y - targets) ** 2).sum()
        return -(mask[..., None] * targets * torch.log_softmax(y, -1)).sum()

    def gradients(self, inputs, targets, mask=None, loss: str = "mse") -> dict:
        """dE/dθ for one sequence (arrays (T, ...); cross-entropy targets as (T, n_out)
        probabilities or (T,) class indices), as numpy arrays keyed like ``net.params``."""
        dtype = self.w_in.dtype
        targets = np.asarray(targets)
        if targets.ndim == 1:
            targets = np.eye(self.w_out.shape[0])[targets]
        x = torch.as_tensor(np.asarray(inputs, np.float64), dtype=dtype)[None]
        t = torch.as_tensor(np.asarray(targets, np.float64), dtype=dtype)[None]
        m = torch.ones(x.shape[:2], dtype=dtype) if mask is None else torch.as_tensor(mask, dtype=dtype)[None]
        self.zero_grad()
        y, _ = self(x)
        value = self.sequence_loss(y, t, m, loss)
        value.backward()
        grads = {name: p.grad.detach().numpy().copy() for name, p in self.named_parameters()}
        grads["loss"] = float(value.detach())
        return grads
