"""Layers of LIF/ALIF neurons read out by leaky output units (DESIGN §3).

The network is a list of :class:`SpikingLayer` objects followed by a readout. ``n_rec`` is one
size (one layer, the e-prop setting) or a tuple of sizes, bottom to top: layer l's spikes at step t
are layer l+1's input at the same step, and the readout reads the top layer. ``recurrent=False``
makes every layer feed-forward (no ``w_rec``).

Weights live in ``net.params``; optimizers update those arrays in place. Names: layer 0 has
``w_in`` (n_0, n_in) and ``w_rec``; layer l >= 1 has ``w_in_l`` (n_l, n_{l-1}) and ``w_rec_l``;
the readout has ``w_out`` (n_out, n_top) and ``b_out``.

Initialisation (seeded by ``NetworkConfig.seed``) follows the e-prop reference code:
``w_in ~ N(0, 1/n_in)``, ``w_rec ~ N(0, 1/n_rec)`` with a zero diagonal, ``w_out ~ N(0, 1/n_top)``,
``b_out = 0``, each scaled by its ``*_gain``; layer l >= 1's input weights ~ N(0, 1/n_{l-1}) times
``w_hidden_gain``. A single-layer network draws exactly what it always drew.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from . import streams
from .config import ConfigError, check_choice, check_int, check_positive, from_mapping
from .kernels import BACKENDS, kernel
from .neurons import NeuronParams, NeuronState, neuron_step, readout_step

DTYPES = ("float32", "float64")
SPIKE_FUNCTIONS = ("heaviside", "sigmoid", "escape")


@dataclass(frozen=True)
class NetworkConfig:
    """Everything that defines a network; validated at construction.

    Times are in ms (``dt``, ``tau_*``), ``n_ref`` in steps. ``beta`` is the adaptation strength
    of the last ``n_adaptive`` neurons. ``spike_fn="sigmoid"`` replaces the Heaviside by a sigmoid
    of width ``sigmoid_width * v_th`` (for finite-difference checks only); ``spike_fn="escape"``
    makes the neurons stochastic: a neuron fires with probability
    sigmoid((v - A) / (v_th sigmoid_width)) (escape noise, with the usual reset and refractory
    period; psi is that probability's derivative), its draws coming from a generator seeded by
    ``seed`` and the layer (SAL's neuron model; DESIGN §4). ``dtype`` float32 is the
    fast default; float64 is for exact comparisons. ``backend`` picks numba kernels or their numpy
    twins. ``flush_subnormals`` makes a run compute with subnormal floats flushed to zero
    (:mod:`locallearn.numerics`: faster where traces decay into them; a recorded change of the
    arithmetic, off by default).
    """

    n_in: int
    n_rec: int | tuple[int, ...]
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
    w_hidden_gain: float = 1.0
    recurrent: bool = True
    backend: str = "numba"
    flush_subnormals: bool = False

    def __post_init__(self):
        owner = "NetworkConfig"
        if isinstance(self.n_rec, (list, tuple)):
            if len(self.n_rec) == 0:
                raise ConfigError(f"{owner}.n_rec must name at least one layer size, got []")
            for size in self.n_rec:
                check_int(owner, "n_rec", size, minimum=1)
            # a one-element list is the single-layer network; lists become tuples (hashable)
            n_rec = int(self.n_rec[0]) if len(self.n_rec) == 1 else tuple(int(n) for n in self.n_rec)
            object.__setattr__(self, "n_rec", n_rec)
        else:
            check_int(owner, "n_rec", self.n_rec, minimum=1)
        for name in ("n_in", "n_out"):
            check_int(owner, name, getattr(self, name), minimum=1)
        check_int(owner, "n_adaptive", self.n_adaptive, minimum=0)
        if self.n_adaptive > min(self.layer_sizes):
            raise ConfigError(
                f"{owner}.n_adaptive = {self.n_adaptive} exceeds the smallest layer "
                f"({min(self.layer_sizes)} neurons); it applies to every layer"
            )
        for name in ("recurrent", "flush_subnormals"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{owner}.{name} must be true or false, got {getattr(self, name)!r}")
        for name in ("tau_mem", "tau_out", "tau_adapt", "v_th", "dt", "sigmoid_width"):
            check_positive(owner, name, getattr(self, name))
        for name in ("beta", "gamma", "w_in_gain", "w_rec_gain", "w_out_gain", "w_hidden_gain"):
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

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Sizes of the spiking layers, bottom to top."""
        return tuple(self.n_rec) if isinstance(self.n_rec, tuple) else (self.n_rec,)


class SpikingLayer:
    """One layer of LIF/ALIF neurons with input and recurrent weights.

    After :meth:`step`, ``input`` holds what entered at this step (x^t), ``z_prev`` the spikes of
    the previous step (z^{t-1}), and ``state`` the values at t (v, a, z, psi). Rules and the trace
    engine read these; they never advance the dynamics themselves.
    """

    def __init__(
        self,
        n_in: int,
        n_rec: int,
        params: NeuronParams,
        dtype,
        backend: str,
        index: int = 0,
        recurrent: bool = True,
    ):
        self.n_in, self.n = n_in, n_rec
        self.index, self.recurrent = index, recurrent
        # the names of this layer's weights in ``net.params`` (and in every gradient dict)
        suffix = f"_{index}" if index else ""
        self.param_names = {"w_in": f"w_in{suffix}", "w_rec": f"w_rec{suffix}"}
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
        self.noise = None  # a np.random.Generator for escape-noise neurons

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
        uniform = None if self.noise is None else self.noise.random(self.n, dtype=self.dtype)
        neuron_step(self._current, self.state, self.params, self.backend, uniform)
        return self.state.z


def weight_bytes(config: NetworkConfig) -> int:
    """Bytes the weights of ``config`` take (rules keep traces of about the same size besides)."""
    count, n_pre = 0, config.n_in
    for size in config.layer_sizes:
        count += size * n_pre + (size * size if config.recurrent else 0)
        n_pre = size
    count += config.n_out * (n_pre + 1)
    return count * np.dtype(config.dtype).itemsize


def _check_memory(config: NetworkConfig, dtype: np.dtype) -> None:
    """A ConfigError stating the network's size when its weights alone exceed the memory here."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: let numpy decide
        return
    need = weight_bytes(config)
    if need > physical:
        raise ConfigError(
            f"network n_in={config.n_in}, n_rec={config.n_rec}, n_out={config.n_out} "
            f"({dtype.name}) needs {need / 2**30:,.1f} GiB for its weights alone; "
            f"this machine has {physical / 2**30:,.1f} GiB"
        )


class Network:
    """A recurrent spiking network with a leaky readout (see module docstring)."""

    def __init__(self, config: NetworkConfig):
        if not isinstance(config, NetworkConfig):
            raise TypeError(f"Network expects a NetworkConfig, got {type(config).__name__}")
        self.config = config
        self.dtype = np.dtype(config.dtype)
        _check_memory(config, self.dtype)
        t = self.dtype.type
        self.layers = []
        self.params = {}
        n_pre = config.n_in
        for index, size in enumerate(config.layer_sizes):
            neuron_params = NeuronParams.from_time_constants(
                n=size,
                n_adaptive=config.n_adaptive,
                tau_mem=config.tau_mem,
                tau_adapt=config.tau_adapt,
                beta=config.beta,
                v_th=config.v_th,
                gamma=config.gamma,
                n_ref=config.n_ref,
                dt=config.dt,
                sigmoid_width=config.sigmoid_width if config.spike_fn != "heaviside" else 0.0,
                dtype=self.dtype,
            )
            layer = SpikingLayer(
                n_pre, size, neuron_params, self.dtype, config.backend, index, config.recurrent
            )
            if config.spike_fn == "escape":
                # escape noise: its own stream per layer, independent of the weights' draws
                layer.noise = streams.generator(config.seed, "escape_noise", index)
            self.layers.append(layer)
            self.params[layer.param_names["w_in"]] = layer.w_in
            if config.recurrent:
                self.params[layer.param_names["w_rec"]] = layer.w_rec
            n_pre = size
        self.kappa = t(np.exp(-config.dt / config.tau_out))
        self.w_out_array = np.zeros((config.n_out, n_pre), self.dtype)
        self.b_out_array = np.zeros(config.n_out, self.dtype)
        self.y = np.zeros(config.n_out, self.dtype)
        self.params["w_out"] = self.w_out_array
        self.params["b_out"] = self.b_out_array
        self._initialise_weights(np.random.default_rng(config.seed))

    # ------------------------------------------------------------------ weights
    def _initialise_weights(self, rng: np.random.Generator) -> None:
        c = self.config
        for layer in self.layers:
            n, n_pre = layer.n, layer.n_in
            if c.recurrent:
                w_rec = rng.standard_normal((n, n)) * (c.w_rec_gain / np.sqrt(n))
                np.fill_diagonal(w_rec, 0.0)
            gain = c.w_in_gain if layer.index == 0 else c.w_hidden_gain
            self._set(layer.param_names["w_in"], rng.standard_normal((n, n_pre)) * (gain / np.sqrt(n_pre)))
            if c.recurrent:
                self._set(layer.param_names["w_rec"], w_rec)
        n_top = self.layers[-1].n
        self.w_out = rng.standard_normal((c.n_out, n_top)) * (c.w_out_gain / np.sqrt(n_top))

    def _set(self, name: str, value) -> None:
        if name not in self.params:
            raise KeyError(f"no parameter {name!r}; this network has {sorted(self.params)}")
        target = self.params[name]
        value = np.asarray(value)
        if value.shape != target.shape:
            raise ValueError(f"{name} must have shape {target.shape}, got {value.shape}")
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{name} contains NaN or inf; weights must be finite")
        if name.startswith("w_rec") and np.any(np.diagonal(value) != 0):
            raise ValueError(
                f"{name} must have a zero diagonal (no self-connections); use np.fill_diagonal(w, 0)"
            )
        target[...] = value

    def set_param(self, name: str, value) -> None:
        """Set weight ``name`` (any key of ``params``) with the same checks as the properties."""
        self._set(name, value)

    w_in = property(
        lambda self: self.params["w_in"],
        lambda self, v: self._set("w_in", v),
        doc="Input weights, shape (n_rec, n_in).",
    )
    w_rec = property(
        lambda self: self.layers[0].w_rec,
        lambda self, v: self._set("w_rec", v),
        doc="Recurrent weights of layer 0, shape (n_rec, n_rec), zero diagonal.",
    )
    w_out = property(
        lambda self: self.params["w_out"],
        lambda self, v: self._set("w_out", v),
        doc="Readout weights, shape (n_out, n_rec).",
    )
    b_out = property(
        lambda self: self.params["b_out"],
        lambda self, v: self._set("b_out", v),
        doc="Readout bias, shape (n_out,).",
    )

    def enforce_constraints(self) -> None:
        """Re-establish structural zeros after an update (no self-connections)."""
        for layer in self.layers:
            np.fill_diagonal(layer.w_rec, 0)

    def layer_of(self, name: str) -> str:
        """Which part of the network parameter ``name`` belongs to ("layer 1", "readout")."""
        for layer in self.layers:
            if name in layer.param_names.values():
                return f"layer {layer.index}"
        return "readout"

    def check_finite(self) -> None:
        """FloatingPointError naming the first parameter holding NaN or inf. A sum per array
        (NaN and inf survive it) screens at a fraction of an element-wise check's cost, so this
        can run before every update."""
        add = np.add.reduce  # the ufunc itself: a third of ``ndarray.sum``'s call cost
        for name, value in self.params.items():
            if not math.isfinite(add(value, axis=None)) and not np.all(np.isfinite(value)):
                raise FloatingPointError(f"{name} ({self.layer_of(name)}) became non-finite (NaN or inf)")

    # ------------------------------------------------------------------ dynamics
    @property
    def n_in(self) -> int:
        return self.config.n_in

    @property
    def n_rec(self) -> int:
        """Size of the top layer (the one the readout reads)."""
        return self.layers[-1].n

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return self.config.layer_sizes

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
        readout_step(self.w_out_array, signal, self.b_out_array, self.kappa, self.y, self.config.backend)
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
        ``z``, ``v``, ``a``, ``psi`` (T, n_rec) of the top layer, ``y`` (T, n_out), and for
        stacks ``z_l`` (T, n_l) the spikes of every layer l."""
        inputs = self.check_inputs(inputs)
        if reset:
            self.reset_state()
        n_steps = inputs.shape[0]
        state = self.layers[-1].state
        record = {name: np.empty((n_steps, self.n_rec), self.dtype) for name in ("z", "v", "a", "psi")}
        record["y"] = np.empty((n_steps, self.n_out), self.dtype)
        stacked = len(self.layers) > 1
        if stacked:
            for layer in self.layers:
                record[f"z_{layer.index}"] = np.empty((n_steps, layer.n), self.dtype)
        for t in range(n_steps):
            record["y"][t] = self.step(inputs[t])
            if stacked:
                for layer in self.layers:
                    record[f"z_{layer.index}"][t] = layer.state.z
            record["z"][t], record["v"][t] = state.z, state.v
            record["a"][t], record["psi"][t] = state.a, state.psi
        return record

    def simulate(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Advance a single-layer network through ``inputs`` (T, n_in; contiguous, of our dtype)
        from its current state, in one compiled call; return the histories ``z``, ``psi``
        (T, n_rec) and ``y`` (T, n_out). The state afterwards is that of the last step, exactly
        as after T calls of :meth:`step`."""
        if len(self.layers) != 1 or self.config.spike_fn == "escape":
            raise NotImplementedError("simulate() runs single-layer deterministic networks; use step()")
        layer, n_steps = self.layers[0], inputs.shape[0]
        p, st = layer.params, layer.state
        z_before = st.z.copy()
        record = {
            "z": np.empty((n_steps, layer.n), self.dtype),
            "psi": np.empty((n_steps, layer.n), self.dtype),
            "y": np.empty((n_steps, self.n_out), self.dtype),
        }
        kernel("simulate_steps", self.config.backend)(
            inputs,
            layer.w_in,
            layer.w_rec,
            self.w_out_array,
            self.b_out_array,
            self.kappa,
            st.v,
            st.a,
            st.z,
            st.refractory,
            st.psi,
            p.alpha,
            p.rho,
            p.beta,
            p.v_th,
            p.gamma,
            p.n_ref,
            p.sigmoid_width,
            layer._current,
            record["z"],
            record["psi"],
            record["y"],
            self.y,
        )
        if n_steps:
            layer.input[:] = inputs[-1]
            layer.z_prev[:] = record["z"][-2] if n_steps > 1 else z_before
        return record

    def simulate_batch(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Run B independent sequences (``inputs`` (B, T, n_in)) through a single-layer
        deterministic network, each from the reset state, with shared weights: every step is
        one matrix product over the batch (BLAS-3) instead of B vector products. Returns ``z``,
        ``psi`` (B, T, n_rec) and ``y`` (B, T, n_out); the network's own state is not touched."""
        from .kernels import neuron_step_numpy

        if len(self.layers) != 1 or self.config.spike_fn == "escape":
            raise NotImplementedError("simulate_batch() runs single-layer deterministic networks")
        inputs = np.asarray(inputs, self.dtype)
        if inputs.ndim != 3 or inputs.shape[2] != self.n_in:
            raise ValueError(f"inputs must have shape (B, T, n_in={self.n_in}), got {inputs.shape}")
        layer, (n_batch, n_steps, _) = self.layers[0], inputs.shape
        p, n = layer.params, layer.n
        v, a, z, psi = (np.zeros((n_batch, n), self.dtype) for _ in range(4))
        refractory = np.zeros((n_batch, n), np.int32)
        y = np.zeros((n_batch, self.n_out), self.dtype)
        record = {
            "z": np.empty((n_batch, n_steps, n), self.dtype),
            "psi": np.empty((n_batch, n_steps, n), self.dtype),
            "y": np.empty((n_batch, n_steps, self.n_out), self.dtype),
        }
        w_in_t, w_rec_t, w_out_t = layer.w_in.T, layer.w_rec.T, self.w_out_array.T
        for t in range(n_steps):
            current = inputs[:, t] @ w_in_t
            if layer.recurrent:
                current += z @ w_rec_t
            neuron_step_numpy(
                current,
                v,
                a,
                z,
                refractory,
                psi,
                p.alpha,
                p.rho,
                p.beta,
                p.v_th,
                p.gamma,
                p.n_ref,
                p.sigmoid_width,
            )
            y *= self.kappa
            y += z @ w_out_t
            y += self.b_out_array
            record["z"][:, t], record["psi"][:, t], record["y"][:, t] = z, psi, y
        return record

    def copy(self) -> Network:
        """An independent network with the same config and weights (state reset)."""
        twin = Network(self.config)
        for name, value in self.params.items():
            twin.params[name][...] = value
        return twin

    def __repr__(self) -> str:
        c = self.config
        kind = "" if c.recurrent else ", feed-forward"
        return (
            f"Network(n_in={c.n_in}, n_rec={c.n_rec} ({c.n_adaptive} ALIF per layer{kind}), "
            f"n_out={c.n_out}, dtype={c.dtype})"
        )
