"""SnAp-n (Menick et al. 2021) and D-RTRL: truncations of RTRL for a recurrent spiking layer
(DESIGN §9), online, behind the same protocol as e-prop.

Exact RTRL carries the influence of every weight on every neuron's state, ``M^t = J^t M^{t-1} +
dh^t/dtheta`` with J the (dense) state Jacobian; here, with ``Jv[k, j, i] = dv_k/dW_ji`` and alike
for a and z (as ``locallearn.reference.rtrl_gradients`` writes them)::

    Ja^t = rho Ja^{t-1} + Jz^{t-1}
    Jv^t = alpha Jv^{t-1} + (W_rec - v_th I) Jz^{t-1} + [k == j] pre_i^t
    Jz^t = psi^t (Jv^t - beta Ja^t),     ebar^t = kappa ebar^{t-1} + Jz^t
    dE/dW_ji ~= sum_t sum_k L_k^t ebar[k, j, i]^t,    L^t = B err^t

(with B = W_out^T, ``feedback="symmetric"``, this is the exact gradient; other pathways send
their own L). SnAp-n keeps only the entries (k, W_ji) that W_ji can reach within n steps of the
connectivity, and drops the others after every step:

* **SnAp-1** keeps k = j: a synapse's influence on its own neuron — memory and time per step
  O(n * n_pre) per projection, like e-prop with ALIF neurons (four floats per synapse: ev, ea,
  ez, ebar). Unlike e-prop it keeps the reset's derivative ``-v_th Jz`` in the neuron's own
  membrane (``reset=False`` drops it, and then SnAp-1 with symmetric feedback *is* e-prop). With
  no recurrent weights it is exact RTRL; with them it is exact BPTT with recurrent spikes held
  constant (``reference.bptt_gradients(detach=("recurrent",))``) — both tested.
* **SnAp-2** adds the neurons k one recurrent synapse away from j (W_rec[k, j] != 0, the
  structural pattern at bind time): memory O(n^2 * n_pre) per projection and time O(n^3 * n_pre)
  per step (a dense numpy reference, refused beyond ``max_bytes``). On a densely connected layer
  every k is one synapse away, and SnAp-2 is exact RTRL — tested.
* **D-RTRL** (``"d-rtrl"``, BrainTrace's diagonal RTRL): J replaced by each neuron's own block,
  the full dependence of its state on its own parameters kept. For these point neurons, whose
  state depends on other neurons only through W_rec (no self-connection), that is SnAp-1 exactly;
  the name is registered so that comparisons can say which they mean.

The readout's gradient is exact (as in e-prop). Single recurrent layers (LIF and ALIF); a stack
is refused.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import ConfigError
from locallearn.protocols import SupervisedRule

from . import feedback as feedback_registry
from . import register
from ._kernels import kernel
from ._readout import ReadoutTraces


@register("snap")
class SnAp(SupervisedRule):
    """SnAp-n truncated RTRL (n = 1 or 2); see the module docstring."""

    name = "snap"

    def __init__(
        self,
        n: int = 1,
        feedback="symmetric",
        feedback_options: dict | None = None,
        reset: bool = True,
        max_bytes: int = 2**30,
        seed: int | None = None,
    ):
        if n not in (1, 2):
            raise ConfigError(f"SnAp.n must be 1 or 2, got {n!r}")
        if not isinstance(reset, bool):
            raise ConfigError(f"SnAp.reset must be true or false, got {reset!r}")
        if isinstance(feedback, str):
            feedback = feedback_registry.make(feedback, **(feedback_options or {}))
        self.n, self.feedback, self.reset, self.max_bytes, self.seed = n, feedback, reset, max_bytes, seed
        self.net = None

    def bind(self, net) -> None:
        if self.net is net:
            return
        if len(net.layers) != 1 or not net.config.recurrent and self.n == 2:
            raise NotImplementedError(f"{self.name} drives a single layer (SnAp-2: a recurrent one)")
        layer = net.layers[0]
        n_synapses = layer.n * (layer.n_in + (layer.n if layer.recurrent else 0))
        influence_bytes = 4 * layer.n * n_synapses * 8  # four float64 tensors (k, j, i)
        if self.n == 2 and influence_bytes > self.max_bytes:
            raise ConfigError(
                f"SnAp-2 on n_rec={layer.n}, n_in={layer.n_in} keeps {influence_bytes / 2**30:.1f} GiB of "
                f"influences (more than max_bytes={self.max_bytes}); use n=1 or a smaller layer"
            )
        seed = net.config.seed if self.seed is None else self.seed
        self.feedback.bind(net, np.random.default_rng([seed, feedback_registry.FEEDBACK_STREAM]))
        self.net, self.layer = net, layer
        self.grads = {name: np.zeros_like(value) for name, value in net.params.items()}
        kinds = ("w_in", "w_rec") if layer.recurrent else ("w_in",)
        n_pre = {"w_in": layer.n_in, "w_rec": layer.n}
        if self.n == 1:
            shape = {kind: (layer.n, n_pre[kind]) for kind in kinds}
            self._step = kernel("snap1_step", layer.backend)
            dtype = net.dtype
        else:  # influences of every kept (k, j) pair, float64 like the reference
            shape = {kind: (layer.n, layer.n, n_pre[kind]) for kind in kinds}
            dtype = np.float64
            keep = (layer.w_rec != 0) | np.eye(layer.n, dtype=bool)
            self.keep = keep[:, :, None].astype(np.float64)
        self.influence = {
            kind: {part: np.zeros(shape[kind], dtype) for part in ("ev", "ea", "ez", "ebar")}
            for kind in kinds
        }
        self.readout = ReadoutTraces(layer.n, net.dtype)

    def begin_sequence(self) -> None:
        for parts in self.influence.values():
            for value in parts.values():
                value.fill(0)
        self.readout.reset()

    def feedback_pathways(self) -> list:
        return [self.feedback]

    def learning_signals(self, net, error: np.ndarray) -> list[np.ndarray]:
        return [self.feedback.learning_signal(error)]

    def step(self, net, error: np.ndarray) -> None:
        layer, params, t = self.layer, self.layer.params, net.dtype.type
        error = error.astype(net.dtype, copy=False)
        signal = np.ascontiguousarray(self.feedback.learning_signal(error), net.dtype)
        v_th = params.v_th if self.reset else t(0)
        pre = {"w_in": layer.input, "w_rec": layer.z_prev}
        for kind, parts in self.influence.items():
            name = layer.param_names[kind]
            if self.n == 1:
                self._step(
                    pre[kind],
                    layer.state.psi,
                    params.beta,
                    params.alpha,
                    params.rho,
                    v_th,
                    net.kappa,
                    parts["ev"],
                    parts["ea"],
                    parts["ez"],
                    parts["ebar"],
                    signal,
                    self.grads[name],
                    kind == "w_rec",
                )
            else:
                self._step2(
                    layer, pre[kind], parts, signal.astype(np.float64), float(v_th), float(net.kappa), name
                )
        self.readout.step(self.grads, error, layer.state.z, net.kappa)

    def _step2(self, layer, pre, parts, signal, v_th, kappa, name) -> None:
        """SnAp-2: the RTRL step on (k, j, i) influences, entries beyond one hop dropped."""
        params = layer.params
        ev, ea, ez, ebar = parts["ev"], parts["ea"], parts["ez"], parts["ebar"]
        coupling = np.asarray(layer.w_rec, np.float64) - v_th * np.eye(layer.n)
        ea *= float(params.rho)
        ea += ez
        ev *= float(params.alpha)
        ev += np.tensordot(coupling, ez, axes=(1, 0))
        ev[np.arange(layer.n), np.arange(layer.n), :] += np.asarray(pre, np.float64)[None, :]
        ev *= self.keep
        ea *= self.keep
        psi, beta = np.asarray(layer.state.psi, np.float64), np.asarray(params.beta, np.float64)
        ez[:] = psi[:, None, None] * (ev - beta[:, None, None] * ea)
        ebar *= kappa
        ebar += ez
        change = np.tensordot(signal, ebar, axes=(0, 0))
        if name == layer.param_names["w_rec"]:
            np.fill_diagonal(change, 0)
        self.grads[name] += change.astype(self.grads[name].dtype)

    def gradients(self) -> dict[str, np.ndarray]:
        return self.grads

    def zero_grad(self) -> None:
        for value in self.grads.values():
            value.fill(0)


@register("d-rtrl")
class DRTRL(SnAp):
    """Diagonal RTRL: each neuron's own block of the state Jacobian (= SnAp-1 for these point
    neurons, see the module docstring)."""

    name = "d-rtrl"

    def __init__(self, feedback="symmetric", feedback_options: dict | None = None, seed: int | None = None):
        super().__init__(n=1, feedback=feedback, feedback_options=feedback_options, seed=seed)
