"""The trace engine: presynaptic traces and eligibility traces, maintained online.

For each projection into a layer (the input weights and the recurrent weights) the engine keeps
(DESIGN §4, e-prop):

* the presynaptic trace ``p_i^t = alpha p_i^{t-1} + pre_i^t`` with ``pre = x^t`` for input
  synapses and ``pre = z^{t-1}`` for recurrent ones, so that the LIF eligibility vector is
  ``eps_v,ji^t = p_i^t`` (one float per presynaptic neuron);
* for ALIF rows the adaptation component ``eps_a,ji`` (one float per synapse), with
  ``eps_a^{t+1} = psi^t eps_v^t + (rho - psi^t beta) eps_a^t``;
* the eligibility trace ``e_ji^t = psi_j^t (eps_v,ji^t - beta_j eps_a,ji^t)`` and its filtered
  version ``ebar^t = filter_decay ebar^{t-1} + e^t`` (one float per synapse; e-prop filters with the
  readout's kappa, 0 gives the unfiltered trace).

Memory is O(synapses) and independent of the sequence length. The step also folds a rule's
learning signal in, ``accum_ji <- accum_decay accum_ji + L_j ebar_ji + R_j e_ji``, in the same
sweep over the synapses: every three-factor rule's weight change has that form, so the engine
need not know which rule is running.
"""

from __future__ import annotations

import numpy as np

from .derived import Derived
from .kernels import kernel
from .network import SpikingLayer

# Splitting a sweep over threads costs a few microseconds per call (a wake-up and a barrier). A lone
# sweep pays from ~0.5 MB (benchmarks/roofline.py), but a whole online step (two sweeps, the rest
# serial) measured no faster on 2 threads than on 1 at n_rec 256-512 (float32, quiet) and 1.4-1.8x
# faster from ~724 on (benchmarks/online_threads.py): split from ~632^2 synapses. Rows are
# independent: the same bits either way.
PARALLEL_MIN_SYNAPSES = 400_000


def _sweep_kernel(projection, prefix: str = "") -> str:
    import numba

    synapses = projection.filtered.size
    if synapses >= PARALLEL_MIN_SYNAPSES and numba.get_num_threads() > 1:
        return prefix + "eligibility_step_parallel"
    return prefix + "eligibility_step"


class ProjectionTraces:
    """Trace state of one weight matrix of shape (n_post, n_pre)."""

    def __init__(self, n_post: int, n_pre: int, n_adaptive: int, dtype, recurrent: bool, lazy: bool = False):
        self.recurrent = recurrent
        self.presynaptic_trace = np.zeros(n_pre, dtype)
        self.eps_a = np.zeros((n_adaptive, n_pre), dtype)
        self.filtered = np.zeros((n_post, n_pre), dtype)
        # lazy decay: per-row factors of the deferred decay of silent rows
        # (kernels.lazy_eligibility_step; float64 so that long silences keep their precision)
        self.factors = (
            tuple(np.full(n_post, fill, np.float64) for fill in (1.0, 1.0, 1.0, 0.0)) if lazy else ()
        )

    def reset(self) -> None:
        self.presynaptic_trace.fill(0)
        self.eps_a.fill(0)
        self.filtered.fill(0)
        for factor, fill in zip(self.factors, (1.0, 1.0, 1.0, 0.0)):
            factor.fill(fill)

    @property
    def nbytes(self) -> int:
        arrays = (self.presynaptic_trace, self.eps_a, self.filtered, *self.factors)
        return sum(array.nbytes for array in arrays)


class EligibilityTraces:
    """Eligibility state of one :class:`SpikingLayer` (its ``w_in`` and ``w_rec`` projections).

    ``filter_decay`` is the decay of the filtered trace (kappa for e-prop, 0 for none).

    ``lazy=True`` defers the decay of silent rows (psi_j = 0: the row's eligibility is zero and
    its traces only decay; ``kernels.lazy_eligibility_step``), so a step sweeps only the active
    rows. The arrays then hold their values only after :meth:`settle`, which every reader must
    call first (:meth:`reset` and an eager :meth:`step` do it themselves). Equal to the eager
    engine to rounding.
    """

    def __init__(self, layer: SpikingLayer, filter_decay: float, lazy: bool = False):
        if not isinstance(lazy, bool):
            raise ValueError(f"EligibilityTraces.lazy must be true or false, got {lazy!r}")
        self.layer = layer
        self.dtype = layer.dtype
        self.filter_decay = self.dtype.type(filter_decay)
        self.lazy = lazy
        self.projections = {
            "w_in": ProjectionTraces(layer.n, layer.n_in, layer.n_adaptive, self.dtype, False, lazy)
        }
        if layer.recurrent:
            self.projections["w_rec"] = ProjectionTraces(
                layer.n, layer.n, layer.n_adaptive, self.dtype, True, lazy
            )
        self._kernels = {
            kind: kernel(_sweep_kernel(p), layer.backend) for kind, p in self.projections.items()
        }
        self._lazy_kernels = {
            kind: kernel(_sweep_kernel(p, "lazy_"), layer.backend) for kind, p in self.projections.items()
        }
        self._settle_kernel = kernel("settle_rows", layer.backend)
        self._deferred = None  # the accumulators that hold deferred contributions, if any
        self._learn_kernels = {
            kind: kernel("learn_" + _sweep_kernel(p), layer.backend) for kind, p in self.projections.items()
        }
        self._no_signal = np.zeros(layer.n, self.dtype)
        # A step's arguments, fixed at construction (every array here is updated in place, never
        # replaced): a step then costs the kernel call, not the rebuilding of 15 arguments.
        params = layer.params
        presynaptic = {"w_in": layer.input, "w_rec": layer.z_prev}
        self._sweeps = Derived(
            (
                kind,
                layer.param_names[kind],
                {"w_in": layer.w_in, "w_rec": layer.w_rec}[kind],
                (
                    presynaptic[kind],
                    p.presynaptic_trace,
                    layer.state.psi,
                    params.beta,
                    params.n_lif,
                    params.alpha,
                    params.rho,
                    self.filter_decay,
                    p.eps_a,
                    p.filtered,
                ),
                p.recurrent,
            )
            for kind, p in self.projections.items()
        )
        self._present = Derived()  # (net, accum, present_steps' fixed arguments) once presented
        self._present_kernel = kernel("present_steps", layer.backend)

    def reset(self) -> None:
        """Zero the traces (what a lazy engine deferred is settled into its accumulators first:
        it belongs to them)."""
        self.settle()
        for projection in self.projections.values():
            projection.reset()

    def settle(self) -> None:
        """Apply the deferred decay of a lazy engine to the traces and to the accumulators of
        its last steps, so that both hold the eager engine's values (no-op when eager)."""
        accum, self._deferred = self._deferred, None
        if accum is None:
            return
        for kind, name, _, fixed, recurrent in self._sweeps:
            projection = self.projections[kind]
            self._settle_kernel(
                projection.eps_a, projection.filtered, accum[name], fixed[4], recurrent, *projection.factors
            )

    @property
    def nbytes(self) -> int:
        return sum(p.nbytes for p in self.projections.values())

    @property
    def parallel_sweeps(self) -> tuple[bool, ...]:
        """Per projection (``w_in``, then ``w_rec``): whether its sweep is split over threads."""
        return tuple(_sweep_kernel(p).endswith("_parallel") for p in self.projections.values())

    def step(
        self,
        learning_signal: np.ndarray,
        reg_signal: np.ndarray,
        accum: dict[str, np.ndarray],
        accum_decay: float = 1.0,
        weight_step: float | None = None,
        eager: bool = False,
    ) -> None:
        """Advance the traces to the layer's current step and fold in the signals.

        Call once after each ``layer.step``. ``accum`` maps the layer's parameter names
        (``layer.param_names``: "w_in"/"w_rec" for layer 0, "w_in_1"/"w_rec_1" for layer 1, ...)
        to arrays shaped like the weights; each receives ``accum_decay * accum + L ebar + R e``.
        With ``weight_step`` the layer's weights first move by ``weight_step * accum`` (the
        accumulator as it was; recurrent diagonals untouched) in the same sweep: a rule whose
        update of the old accumulator falls on the step its new signal arrives saves a pass over
        the synapses. A lazy engine steps lazily unless ``weight_step`` is given or ``eager``
        (the accumulator is then read at once: a rule folding its update into the weights).
        """
        decay = self.dtype.type(accum_decay)
        if self.lazy and weight_step is None and not eager:
            if self._deferred is not None and self._deferred is not accum:
                self.settle()  # another accumulator: the deferred part belongs to the old one
            self._deferred = accum
            for kind, name, _, fixed, recurrent in self._sweeps:
                self._lazy_kernels[kind](
                    *fixed,
                    learning_signal,
                    reg_signal,
                    accum[name],
                    decay,
                    recurrent,
                    *self.projections[kind].factors,
                )
            return
        if self._deferred is not None:
            self.settle()
        if weight_step is None:
            for kind, name, _, fixed, recurrent in self._sweeps:
                self._kernels[kind](*fixed, learning_signal, reg_signal, accum[name], decay, recurrent)
        else:
            step = self.dtype.type(weight_step)
            for kind, name, weights, fixed, recurrent in self._sweeps:
                self._learn_kernels[kind](
                    weights, step, *fixed, learning_signal, reg_signal, accum[name], decay, recurrent
                )

    def sequence_sums(
        self,
        inputs: np.ndarray,
        z: np.ndarray,
        psi: np.ndarray,
        learning_signal: np.ndarray,
        reg_signal: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """What ``step`` would have accumulated over a whole sequence started from a reset state,
        ``sum_t L^t ebar^t + R^t e^t`` per projection, computed in factored form: a backward pass
        over per-neuron quantities (``eprop_sequence_factors``) and one matrix product per
        projection, ``H^T P`` with P the presynaptic traces of every step — O(T n) memory and
        BLAS-3 speed instead of a sweep over the synapses at every step. ``inputs`` (T, n_in),
        ``z``, ``psi``, ``learning_signal``, ``reg_signal`` (T, n) are the sequence's histories;
        with a leading batch axis (B, T, ...) the sums of B independent sequences come out of the
        same single product per projection. Equal to the stepwise sums up to rounding
        (tests/test_eprop.py)."""
        layer, params = self.layer, self.layer.params
        backend, dtype = layer.backend, self.dtype
        if inputs.ndim == 2:
            inputs, z, psi, learning_signal, reg_signal = (
                x[None] for x in (inputs, z, psi, learning_signal, reg_signal)
            )
        factors = np.empty_like(psi)
        factor_kernel = kernel("eprop_sequence_factors", backend)
        filter_ = kernel("exponential_filter", backend)
        for b in range(psi.shape[0]):
            factor_kernel(
                learning_signal[b],
                reg_signal[b],
                psi[b],
                params.beta,
                params.n_lif,
                params.rho,
                self.filter_decay,
                factors[b],
            )
        presynaptic = {"w_in": inputs}
        if layer.recurrent:
            z_prev = np.empty_like(z)
            z_prev[:, 0] = 0
            z_prev[:, 1:] = z[:, :-1]
            presynaptic["w_rec"] = z_prev
        flat_factors = factors.reshape(-1, factors.shape[-1])
        sums = {}
        for kind, pre in presynaptic.items():
            traces = np.empty(pre.shape, dtype)
            start = np.zeros(pre.shape[-1], dtype)
            for b in range(pre.shape[0]):
                filter_(pre[b], params.alpha, start, traces[b])
            total = flat_factors.T @ traces.reshape(-1, pre.shape[-1])
            if kind == "w_rec":
                np.fill_diagonal(total, 0)
            sums[layer.param_names[kind]] = total
        return sums

    def present(
        self,
        net,
        inputs: np.ndarray,
        readout_trace: np.ndarray,
        accum: dict[str, np.ndarray],
        traced: int | None = None,
    ) -> None:
        """Run ``net`` for ``len(inputs)`` steps (single-layer network, ``self.layer``) while the
        traces advance without a learning signal (``accum`` is left as it is) and
        ``readout_trace`` (kappa-filtered spikes) follows: the silent micro-steps between two
        decisions, in one compiled call. With ``traced`` < ``len(inputs)`` the traces and the
        readout trace stop after that many steps and the network runs on alone (a decision's
        micro-step, whose trace step with its learning signal comes after the decision)."""
        traced = len(inputs) if traced is None else traced
        if not self._present or self._present[0] is not net or self._present[1] is not accum:
            self._present = Derived((net, accum, self.compiled_arguments(net, accum)))
        self._present_kernel(inputs, *self._present[2], readout_trace, traced)

    def compiled_arguments(self, net, accum) -> tuple:
        """The fixed arrays of ``net``, its layer and these traces that compiled multi-step
        kernels take, in order: ``present_steps``' arguments between the inputs and the readout
        trace (``rules/_kernels.eprop_online_steps`` takes the same, with the weights as
        ``accum``). Every array is updated in place, never replaced, so a caller may keep them."""
        if len(net.layers) != 1 or not self.layer.recurrent or self.layer.noise is not None:
            raise NotImplementedError(
                "present() drives single-layer recurrent networks of deterministic neurons"
            )
        layer, params, state = self.layer, self.layer.params, self.layer.state
        p_in, p_rec = self.projections["w_in"], self.projections["w_rec"]
        return (
            layer.w_in,
            layer.w_rec,
            net.w_out,
            net.b_out,
            net.kappa,
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
            layer._current,
            layer.input,
            layer.z_prev,
            net.y,
            params.n_lif,
            self.filter_decay,
            p_in.presynaptic_trace,
            p_in.eps_a,
            p_in.filtered,
            accum["w_in"],
            p_rec.presynaptic_trace,
            p_rec.eps_a,
            p_rec.filtered,
            accum["w_rec"],
            self._no_signal,
        )
