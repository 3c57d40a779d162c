"""LIF / ALIF neurons and the leaky readout: frozen parameters, mutable state, a pure step.

The dynamics (DESIGN §3), for neuron j of a layer whose last ``n_adaptive`` neurons adapt
(beta_j > 0, ALIF) and whose others do not (beta_j = 0, LIF), with alpha = exp(-dt/tau_mem),
rho = exp(-dt/tau_adapt), kappa = exp(-dt/tau_out) and all state zero at t = 0::

    a_j^t   = rho a_j^{t-1} + z_j^{t-1}
    A_j^t   = v_th + beta_j a_j^t
    v_j^t   = alpha v_j^{t-1} + sum_i W^in_ji x_i^t + sum_i W^rec_ji z_i^{t-1} - v_th z_j^{t-1}
    z_j^t   = H(v_j^t - A_j^t)                       (0 during the n_ref steps after a spike)
    psi_j^t = gamma / v_th max(0, 1 - |v_j^t - A_j^t| / v_th)        (0 while refractory)
    y_k^t   = kappa y_k^{t-1} + sum_j W^out_kj z_j^t + b_k

``psi`` is the pseudo-derivative that stands in for dz/dv in every gradient and trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .kernels import kernel


@dataclass(frozen=True)
class NeuronParams:
    """Constants of one layer of LIF/ALIF neurons, cast to the layer's dtype.

    ``beta`` has one entry per neuron (zero for LIF); ``n_lif`` neurons come first.
    ``sigmoid_width > 0`` selects the smooth spike function used for finite-difference checks.
    """

    alpha: np.floating
    rho: np.floating
    beta: np.ndarray
    v_th: np.floating
    gamma: np.floating
    n_ref: int
    n_lif: int
    sigmoid_width: np.floating

    @classmethod
    def from_time_constants(
        cls,
        *,
        n: int,
        n_adaptive: int,
        tau_mem: float,
        tau_adapt: float,
        beta: float,
        v_th: float,
        gamma: float,
        n_ref: int,
        dt: float,
        sigmoid_width: float,
        dtype,
    ) -> NeuronParams:
        t = np.dtype(dtype).type
        beta_per_neuron = np.zeros(n, dtype=dtype)
        beta_per_neuron[n - n_adaptive :] = beta
        beta_per_neuron.setflags(write=False)
        return cls(
            alpha=t(math.exp(-dt / tau_mem)),
            rho=t(math.exp(-dt / tau_adapt)),
            beta=beta_per_neuron,
            v_th=t(v_th),
            gamma=t(gamma),
            n_ref=int(n_ref),
            n_lif=n - n_adaptive,
            sigmoid_width=t(sigmoid_width),
        )


@dataclass
class NeuronState:
    """State of a layer at the current step: v, a, z (spikes), psi, and refractory counters."""

    v: np.ndarray
    a: np.ndarray
    z: np.ndarray
    psi: np.ndarray
    refractory: np.ndarray

    @classmethod
    def zeros(cls, n: int, dtype) -> NeuronState:
        return cls(
            v=np.zeros(n, dtype),
            a=np.zeros(n, dtype),
            z=np.zeros(n, dtype),
            psi=np.zeros(n, dtype),
            refractory=np.zeros(n, np.int32),
        )

    def reset(self) -> None:
        for array in (self.v, self.a, self.z, self.psi, self.refractory):
            array.fill(0)


def neuron_step(
    current: np.ndarray,
    state: NeuronState,
    params: NeuronParams,
    backend: str = "numba",
    uniform: np.ndarray | None = None,
) -> None:
    """Advance ``state`` from t-1 to t given the synaptic current I^t (in place). With
    ``uniform`` (one U(0, 1) draw per neuron) the neurons are stochastic, escape noise of width
    ``params.sigmoid_width`` (``escape_neuron_step``)."""
    if uniform is not None:
        kernel("escape_neuron_step", backend)(
            current,
            state.v,
            state.a,
            state.z,
            state.refractory,
            state.psi,
            params.alpha,
            params.rho,
            params.beta,
            params.v_th,
            params.n_ref,
            params.sigmoid_width,
            uniform,
        )
        return
    kernel("neuron_step", backend)(
        current,
        state.v,
        state.a,
        state.z,
        state.refractory,
        state.psi,
        params.alpha,
        params.rho,
        params.beta,
        params.v_th,
        params.gamma,
        params.n_ref,
        params.sigmoid_width,
    )


def readout_step(
    w_out: np.ndarray, z: np.ndarray, bias: np.ndarray, kappa, y: np.ndarray, backend: str = "numba"
) -> None:
    """y^t = kappa y^{t-1} + W_out z^t + b (in place)."""
    kernel("leaky_readout", backend)(w_out, z, bias, kappa, y)
