"""UORO, unbiased online recurrent optimisation (Tallec & Ollivier 2018), for a recurrent spiking
layer (DESIGN §9): RTRL's influence matrix replaced by a random rank-one estimate whose
expectation is exact.

The layer's state is extended by the readout's filtered spikes q (``y = W_out q + b_out *
bias trace``), so that the loss at step t reads the state S^t = (v^t, a^t, q^t) alone::

    v^t = alpha v^{t-1} + W_in x^t + (W_rec - v_th I) z^{t-1},   a^t = rho a^{t-1} + z^{t-1}
    q^t = kappa q^{t-1} + z^t,       z = H(v - v_th - beta a),  dz/dv := psi, dz/da := -beta psi

UORO keeps a state-shaped vector s~ and a parameter-shaped theta~ (one matrix per projection)
with M^t ~= s~ theta~^T. Each step, with nu a vector of independent random signs::

    s~      <- rho0 (J^t s~) + rho1 nu            J^t = dS^t/dS^{t-1}   (a Jacobian-vector product)
    theta~  <- theta~ / rho0 + (nu^T dS^t/dtheta) / rho1
               nu^T dS^t/dW_ji = (nu_v + psi^t * nu_q)_j pre_i   (pre: x^t, or z^{t-1} for W_rec)
    rho0 = sqrt(||theta~|| / ||J s~||),  rho1 = sqrt(||nu^T dS/dtheta|| / ||nu||)   (variance balancing)
    dE/dW ~= sum_t (L^t . s~_q^t) theta~^t,   L^t = B err^t  (B = W_out^T: symmetric feedback)

The expectation over the signs is the exact RTRL gradient (tested with a statistical bound); the
variance is large, which is UORO's known weakness. Memory O(synapses) (theta~) + O(n); time per
step O(synapses) plus one product with W_rec. Written in numpy (the per-step work is a handful of
array operations); single recurrent layers, LIF and ALIF; the signs come from the "uoro" stream.
"""

from __future__ import annotations

import numpy as np

from locallearn import streams
from locallearn.protocols import SupervisedRule

from . import feedback as feedback_registry
from . import register
from ._readout import ReadoutTraces

EPSILON = 1e-7  # keeps rho0 and rho1 finite when a norm vanishes (silent steps)


@register("uoro")
class UORO(SupervisedRule):
    """Rank-one unbiased RTRL estimate; see the module docstring."""

    name = "uoro"

    def __init__(self, feedback="symmetric", feedback_options: dict | None = None, seed: int | None = None):
        if isinstance(feedback, str):
            feedback = feedback_registry.make(feedback, **(feedback_options or {}))
        self.feedback, self.seed = feedback, seed
        self.net = None

    def bind(self, net) -> None:
        if self.net is net:
            return
        if len(net.layers) != 1 or not net.config.recurrent:
            raise NotImplementedError(f"{self.name} drives a single recurrent layer")
        seed = net.config.seed if self.seed is None else self.seed
        self.feedback.bind(net, np.random.default_rng([seed, feedback_registry.FEEDBACK_STREAM]))
        self.signs = streams.generator(seed, "uoro")
        self.net, self.layer = net, net.layers[0]
        n = self.layer.n
        self.grads = {name: np.zeros_like(value) for name, value in net.params.items()}
        self.state_tangent = np.zeros(3 * n)  # s~ = (v, a, q) blocks
        shapes = {"w_in": self.layer.w_in.shape, "w_rec": self.layer.w_rec.shape}
        self.param_tangent = {kind: np.zeros(shape) for kind, shape in shapes.items()}
        self.psi_prev = np.zeros(n)
        self.readout = ReadoutTraces(n, net.dtype)

    def begin_sequence(self) -> None:
        self.state_tangent.fill(0)
        for value in self.param_tangent.values():
            value.fill(0)
        self.psi_prev.fill(0)
        self.readout.reset()

    def feedback_pathways(self) -> list:
        return [self.feedback]

    def learning_signals(self, net, error: np.ndarray) -> list[np.ndarray]:
        return [self.feedback.learning_signal(error)]

    def _jacobian_product(self, tangent: np.ndarray, psi: np.ndarray) -> np.ndarray:
        """J^t s~: how a change of S^{t-1} along ``tangent`` moves S^t."""
        layer, params = self.layer, self.layer.params
        n = layer.n
        beta = np.asarray(params.beta, np.float64)
        dv, da, dq = tangent[:n], tangent[n : 2 * n], tangent[2 * n :]
        dz_prev = self.psi_prev * (dv - beta * da)
        w_rec = np.asarray(layer.w_rec, np.float64)
        new_v = float(params.alpha) * dv + w_rec @ dz_prev - float(params.v_th) * dz_prev
        new_a = float(params.rho) * da + dz_prev
        new_q = float(self.net.kappa) * dq + psi * (new_v - beta * new_a)
        return np.concatenate([new_v, new_a, new_q])

    def step(self, net, error: np.ndarray) -> None:
        layer, n = self.layer, self.layer.n
        psi = np.asarray(layer.state.psi, np.float64)
        nu = self.signs.choice((-1.0, 1.0), size=3 * n)
        forward = self._jacobian_product(self.state_tangent, psi)
        drive = nu[:n] + psi * nu[2 * n :]  # nu^T dS/dv-parameters, per postsynaptic neuron
        pre = {"w_in": np.asarray(layer.input, np.float64), "w_rec": np.asarray(layer.z_prev, np.float64)}
        pushes = {kind: np.multiply.outer(drive, pre[kind]) for kind in self.param_tangent}
        np.fill_diagonal(pushes["w_rec"], 0)
        theta_norm = np.sqrt(sum(np.sum(t * t) for t in self.param_tangent.values()))
        push_norm = np.sqrt(sum(np.sum(p * p) for p in pushes.values()))
        rho0 = np.sqrt((theta_norm + EPSILON) / (np.linalg.norm(forward) + EPSILON))
        rho1 = np.sqrt((push_norm + EPSILON) / (np.linalg.norm(nu) + EPSILON))
        self.state_tangent = rho0 * forward + rho1 * nu
        for kind, tangent in self.param_tangent.items():
            tangent /= rho0
            tangent += pushes[kind] / rho1
        self.psi_prev = psi.copy()
        error = error.astype(net.dtype, copy=False)
        signal = np.asarray(self.feedback.learning_signal(error), np.float64)
        weight = float(signal @ self.state_tangent[2 * n :])
        for kind, tangent in self.param_tangent.items():
            name = layer.param_names[kind]
            self.grads[name] += (weight * tangent).astype(self.grads[name].dtype)
        self.readout.step(self.grads, error, layer.state.z, net.kappa)

    def gradients(self) -> dict[str, np.ndarray]:
        return self.grads

    def zero_grad(self) -> None:
        for value in self.grads.values():
            value.fill(0)
