"""A recurrent layer of LIF/ALIF neurons read out by leaky output units (DESIGN §3).

The network is organised as a list of :class:`SpikingLayer` objects followed by a readout, so that
stacks of layers (layer l's spikes are layer l+1's input) fit the same structure; this version
builds one recurrent layer. Weights live in ``net.params`` under the names used everywhere else
(``w_in``, ``w_rec``, ``w_out``, ``b_out``); optimizers update those arrays in place.

Initialisation (seeded by ``NetworkConfig.seed``) follows the e-prop reference code:
``w_in ~ N(0, 1/n_in)``, ``w_rec ~ N(0, 1/n_rec)`` with a zero diagonal, ``w_out ~ N(0, 1/n_rec)``,
``b_out = 0``, each scaled by its ``*_gain``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .config import ConfigError, check_choice, check_int, check_positive, from_mapping
from .kernels import BACKENDS, kernel
from .neurons import NeuronParams, NeuronState, neuron_step, readout_step

DTYPES = ("float32", "float64")
SPIKE_FUNCTIONS = ("heaviside", "sigmoid")


@dataclass(frozen=True)
class NetworkConfig:
    """Everything that defines a network; validated at construction.

    Times are in ms (``dt``, ``tau_*``), ``n_ref`` in steps. ``beta`` is the adaptation strength
    of the last ``n_adaptive`` neurons. ``spike_fn="sigmoid"`` replaces the Heaviside by a sigmoid
    of width ``sigmoid_width * v_th`` (for finite-difference checks only). ``dtype`` float32 is the
    fast default; float64 is for exact comparisons. ``backend`` picks numba kernels or their numpy
    twins.
    """

    n_in: int
    n_rec: int
    n_out: int
    n_adaptive: int = 0
    tau_mem: float = 20.0
    tau_out: float = 20.0
    tau_adapt: float = 2000.0
    beta: float = 0.0174
    v_th: float = 0.6
    n_ref: int = 5
    gamma: float = 0.3
    dt: float = 1.0
    seed: int = 0
    dtype: str = "float32"
    spike_fn: str = "heaviside"
    sigmoid_width: float = 0.1
    w_in_gain: float = 1.0
    w_rec_gain: float = 1.0
    w_out_gain: float = 1.0
    backend: str = "numba"

    def __post_init__(self):
        owner = "NetworkConfig"
        for name in ("n_in", "n_rec", "n_out"):
            check_int(owner, name, getattr(self, name), minimum=1)
        check_int(owner, "n_adaptive", self.n_adaptive, minimum=0)
        if self.n_adaptive > self.n_rec:
            raise ConfigError(f"{owner}.n_adaptive = {self.n_adaptive} exceeds n_rec = {self.n_rec}")
        for name in ("tau_mem", "tau_out", "tau_adapt", "v_th", "dt", "sigmoid_width"):
            check_positive(owner, name, getattr(self, name))
        for name in ("beta", "gamma", "w_in_gain", "w_rec_gain", "w_out_gain"):
            check_positive(owner, name, getattr(self, name), allow_zero=True)
        check_int(owner, "n_ref", self.n_ref, minimum=0)
        check_int(owner, "seed", self.seed, minimum=0)
        check_choice(owner, "dtype", self.dtype, DTYPES)
        check_choice(owner, "spike_fn", self.spike_fn, SPIKE_FUNCTIONS)
        check_choice(owner, "backend", self.backend, BACKENDS)

    @classmethod
    def from_dict(cls, mapping: dict[str, Any], **overrides) -> NetworkConfig:
        """Build from a dict (e.g. a TOML table); unknown keys raise a ConfigError naming them."""
        return from_mapping(cls, mapping, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SpikingLayer:
    """One layer of LIF/ALIF neurons with input and recurrent weights.

    After :meth:`step`, ``input`` holds what entered at this step (x^t), ``z_prev`` the spikes of
    the previous step (z^{t-1}), and ``state`` the values at t (v, a, z, psi). Rules and the trace
    engine read these; they never advance the dynamics themselves.
    """

    def __init__(self, n_in: int, n_rec: int, params: NeuronParams, dtype, backend: str):
        self.n_in, self.n = n_in, n_rec
        self.params = params
        self.dtype = np.dtype(dtype)
        self.backend = backend
        self.w_in = np.zeros((n_rec, n_in), self.dtype)
        self.w_rec = np.zeros((n_rec, n_rec), self.dtype)
        self.state = NeuronState.zeros(n_rec, self.dtype)
        self.input = np.zeros(n_in, self.dtype)
        self.z_prev = np.zeros(n_rec, self.dtype)
        self._current = np.zeros(n_rec, self.dtype)
        self._synaptic_current = kernel("synaptic_current", backend)

    @property
    def n_adaptive(self) -> int:
        return self.n - self.params.n_lif

    def reset_state(self) -> None:
        self.state.reset()
        self.input.fill(0)
        self.z_prev.fill(0)

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance one step with input ``x`` (shape (n_in,), already of this layer's dtype)."""
        self.input[:] = x
        self.z_prev[:] = self.state.z
        self._synaptic_current(self.w_in, self.input, self.w_rec, self.z_prev, self._current)
        neuron_step(self._current, self.state, self.params, self.backend)
        return self.state.z


class Network:
    """A recurrent spiking network with a leaky readout (see module docstring)."""

    def __init__(self, config: NetworkConfig):
        if not isinstance(config, NetworkConfig):
            raise TypeError(f"Network expects a NetworkConfig, got {type(config).__name__}")
        self.config = config
        self.dtype = np.dtype(config.dtype)
        t = self.dtype.type
        neuron_params = NeuronParams.from_time_constants(
            n=config.n_rec, n_adaptive=config.n_adaptive, tau_mem=config.tau_mem,
            tau_adapt=config.tau_adapt, beta=config.beta, v_th=config.v_th, gamma=config.gamma,
            n_ref=config.n_ref, dt=config.dt,
            sigmoid_width=config.sigmoid_width if config.spike_fn == "sigmoid" else 0.0,
            dtype=self.dtype)
        self.layers = [SpikingLayer(config.n_in, config.n_rec, neuron_params, self.dtype,
                                    config.backend)]
        self.kappa = t(np.exp(-config.dt / config.tau_out))
        self.w_out_array = np.zeros((config.n_out, config.n_rec), self.dtype)
        self.b_out_array = np.zeros(config.n_out, self.dtype)
        self.y = np.zeros(config.n_out, self.dtype)
        self.params = {"w_in": self.layers[0].w_in, "w_rec": self.layers[0].w_rec,
                       "w_out": self.w_out_array, "b_out": self.b_out_array}
        self._initialise_weights(np.random.default_rng(config.seed))

    # ------------------------------------------------------------------ weights
    def _initialise_weights(self, rng: np.random.Generator) -> None:
        c = self.config
        w_rec = rng.standard_normal((c.n_rec, c.n_rec)) * (c.w_rec_gain / np.sqrt(c.n_rec))
        np.fill_diagonal(w_rec, 0.0)
        self.w_in = rng.standard_normal((c.n_rec, c.n_in)) * (c.w_in_gain / np.sqrt(c.n_in))
        self.w_rec = w_rec
        self.w_out = rng.standard_normal((c.n_out, c.n_rec)) * (c.w_out_gain / np.sqrt(c.n_rec))

    def _set(self, name: str, value) -> None:
        target = self.params[name]
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(f"{name} must have shape {target.shape}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or inf; weights must be finite")
        if name == "w_rec" and np.any(np.diagonal(value) != 0):
            raise ValueError("w_rec must have a zero diagonal (no self-connections); "
                             "use np.fill_diagonal(w, 0)")
        target[...] = value

    w_in = property(lambda self: self.params["w_in"], lambda self, v: self._set("w_in", v),
                    doc="Input weights, shape (n_rec, n_in).")
    w_rec = property(lambda self: self.params["w_rec"], lambda self, v: self._set("w_rec", v),
                     doc="Recurrent weights, shape (n_rec, n_rec), zero diagonal.")
    w_out = property(lambda self: self.params["w_out"], lambda self, v: self._set("w_out", v),
                     doc="Readout weights, shape (n_out, n_rec).")
    b_out = property(lambda self: self.params["b_out"], lambda self, v: self._set("b_out", v),
                     doc="Readout bias, shape (n_out,).")

    def enforce_constraints(self) -> None:
        """Re-establish structural zeros after an update (no self-connections)."""
        np.fill_diagonal(self.params["w_rec"], 0)

    def check_finite(self) -> None:
        for name, value in self.params.items():
            if not np.all(np.isfinite(value)):
                layer = "readout" if name in ("w_out", "b_out") else "layer 0"
                raise FloatingPointError(f"{name} ({layer}) became non-finite (NaN or inf)")

    # ------------------------------------------------------------------ dynamics
    @property
    def n_in(self) -> int:
        return self.config.n_in

    @property
    def n_rec(self) -> int:
        return self.config.n_rec

    @property
    def n_out(self) -> int:
        return self.config.n_out

    def reset_state(self) -> None:
        """Zero every state variable (the t = 0 state of DESIGN §3); weights are kept."""
        for layer in self.layers:
            layer.reset_state()
        self.y.fill(0)

    def step(self, x: np.ndarray) -> np.ndarray:
        """Advance one step with input x^t (shape (n_in,)); return the readout y^t (a view)."""
        signal = x
        for layer in self.layers:
            signal = layer.step(signal)
        readout_step(self.w_out_array, signal, self.b_out_array, self.kappa, self.y,
                     self.config.backend)
        return self.y

    def check_inputs(self, inputs) -> np.ndarray:
        """Validate a (T, n_in) input sequence and return it as a contiguous array of our dtype."""
        inputs = np.asarray(inputs)
        if inputs.ndim != 2 or inputs.shape[1] != self.n_in:
            raise ValueError(f"inputs must have shape (T, n_in={self.n_in}), got {inputs.shape}")
        if inputs.shape[0] == 0:
            raise ValueError("inputs is empty (T = 0)")
        if not np.all(np.isfinite(inputs)):
            bad = np.argwhere(~np.isfinite(inputs))[0]
            raise ValueError(f"inputs contains NaN or inf (first at step {bad[0]}, input {bad[1]})")
        return np.ascontiguousarray(inputs, dtype=self.dtype)

    def run(self, inputs, reset: bool = True) -> dict[str, np.ndarray]:
        """Simulate a whole sequence with frozen weights; return the recorded histories
        ``z``, ``v``, ``a``, ``psi`` (T, n_rec) and ``y`` (T, n_out)."""
        inputs = self.check_inputs(inputs)
        if reset:
            self.reset_state()
        n_steps = inputs.shape[0]
        state = self.layers[-1].state
        record = {name: np.empty((n_steps, self.n_rec), self.dtype)
                  for name in ("z", "v", "a", "psi")}
        record["y"] = np.empty((n_steps, self.n_out), self.dtype)
        for t in range(n_steps):
            record["y"][t] = self.step(inputs[t])
            record["z"][t], record["v"][t] = state.z, state.v
            record["a"][t], record["psi"][t] = state.a, state.psi
        return record

    def copy(self) -> Network:
        """An independent network with the same config and weights (state reset)."""
        twin = Network(self.config)
        for name, value in self.params.items():
            twin.params[name][...] = value
        return twin

    def __repr__(self) -> str:
        c = self.config
        return (f"Network(n_in={c.n_in}, n_rec={c.n_rec} ({c.n_adaptive} ALIF), n_out={c.n_out}, "
                f"dtype={c.dtype})")
