"""Kernels that belong to particular rules (the engine's own are in ``locallearn.kernels``).

Same contract as the engine's: pure functions over arrays, writing in place, each with a
plain-numpy twin ``foo_numpy`` that the tests compare it against; ``kernel(name, backend)``
picks the implementation. Users: ``rstdp`` (Florian's STDP eligibility), ``sal`` (the
antisymmetric STDP window), ``reward-eprop`` (the actor-critic decision and readout traces).
"""

from __future__ import annotations

import numba
import numpy as np

from locallearn.kernels import BACKENDS, libm_exp

_jit = numba.njit(cache=True, nogil=True)


# --------------------------------------------------------------------------- STDP eligibility
def stdp_step_numpy(
    pre, post, pre_trace, post_trace, decay_plus, decay_minus, a_plus, a_minus, decay_z, elig
):
    """One step of Florian's (2007) STDP eligibility, in place.

    P+_j <- decay_plus P+_j + a_plus pre_j          (pre_trace)
    P-_i <- decay_minus P-_i + a_minus post_i       (post_trace; a_minus < 0)
    zeta_ij = P+_j post_i + P-_i pre_j
    elig_ij <- decay_z elig_ij + zeta_ij            (decay_z = 0: elig = zeta, MSTDP)
    """
    pre_trace *= decay_plus
    pre_trace += a_plus * pre
    post_trace *= decay_minus
    post_trace += a_minus * post
    zeta = post[:, None] * pre_trace[None, :] + post_trace[:, None] * pre[None, :]
    elig *= decay_z
    elig += zeta


@_jit
def stdp_step(pre, post, pre_trace, post_trace, decay_plus, decay_minus, a_plus, a_minus, decay_z, elig):
    """Compiled twin of :func:`stdp_step_numpy`."""
    for j in range(pre.shape[0]):
        pre_trace[j] = decay_plus * pre_trace[j] + a_plus * pre[j]
    for i in range(post.shape[0]):
        post_trace[i] = decay_minus * post_trace[i] + a_minus * post[i]
    for i in range(post.shape[0]):
        post_i = post[i]
        trace_i = post_trace[i]
        row = elig[i]
        for j in range(pre.shape[0]):
            row[j] = decay_z * row[j] + (post_i * pre_trace[j] + trace_i * pre[j])


# --------------------------------------------------------------------------- SAL
def antisymmetric_stdp_step_numpy(x_low, s_low, x_up, s_up, lr, feedback):
    """Spike-based alignment learning of feedback weights B (lower <- upper), in place:

        B += lr (outer(x_low, s_up) - outer(s_low, x_up))

    with x the exponentially filtered spike trains *including* this step's spikes, so a
    coincident pair of spikes contributes lr (1 - 1) = 0 and swapping the two trains flips the
    sign (the window is antisymmetric)."""
    feedback += lr * (np.multiply.outer(x_low, s_up) - np.multiply.outer(s_low, x_up))


@_jit
def antisymmetric_stdp_step(x_low, s_low, x_up, s_up, lr, feedback):
    """Compiled twin of :func:`antisymmetric_stdp_step_numpy`; rows and columns of silent
    neurons are skipped."""
    for i in range(x_low.shape[0]):
        for k in range(x_up.shape[0]):
            change = x_low[i] * s_up[k] - s_low[i] * x_up[k]
            if change != 0.0:
                feedback[i, k] += lr * change


# --------------------------------------------------------------------------- actor-critic readout
def policy_decision_numpy(y, beta, u, greedy, c_value, pi, err):
    """An actor-critic decision from readout ``y`` (A policy units, then the value unit).

    pi <- softmax(beta y[:A]) in float64 (A = ``pi.shape[0]``); the action is argmax pi if
    ``greedy``, else the first a whose cumulative probability exceeds ``u`` ~ U[0, 1) (inverse-CDF
    sampling, capped at A - 1 against rounding); err <- [beta (pi - onehot(a)), -c_value] in err's
    dtype. Returns the action."""
    n_actions = pi.shape[0]
    logits = beta * y[:n_actions].astype(np.float64)
    shifted = libm_exp(logits - np.max(logits))
    pi[:] = shifted / np.sum(shifted)
    if greedy:
        action = int(np.argmax(pi))
    else:
        action = min(int(np.searchsorted(np.cumsum(pi), u, side="right")), n_actions - 1)
    policy_err = pi.copy()
    policy_err[action] -= 1.0
    policy_err *= beta
    err[:n_actions] = policy_err
    err[n_actions] = -c_value
    return action


@_jit
def policy_decision(y, beta, u, greedy, c_value, pi, err):
    """Compiled twin of :func:`policy_decision_numpy`, rounding alike: the sums run left to
    right as numpy's do for so few terms, and exp is the C library's in both."""
    n_actions = pi.shape[0]
    top = beta * np.float64(y[0])
    for k in range(1, n_actions):
        top = max(top, beta * np.float64(y[k]))
    total = 0.0
    for k in range(n_actions):
        pi[k] = np.exp(beta * np.float64(y[k]) - top)
        total += pi[k]
    for k in range(n_actions):
        pi[k] = pi[k] / total
    action = 0
    if greedy:
        for k in range(1, n_actions):
            if pi[k] > pi[action]:
                action = k
    else:
        cumulative = 0.0
        action = n_actions
        for k in range(n_actions):
            cumulative += pi[k]
            if cumulative > u:
                action = k
                break
        action = min(action, n_actions - 1)
    for k in range(n_actions):
        e = pi[k] - 1.0 if k == action else pi[k]
        err[k] = e * beta
    err[n_actions] = -c_value
    return action


def readout_eligibility_step_numpy(z, kappa, decay, err, bias_trace, readout_trace, f_w, f_b):
    """The readout's traces after a decision, in place: readout_trace <- kappa readout_trace + z,
    then F_w <- decay F_w + err readout_trace^T and F_b <- decay F_b + bias_trace err."""
    readout_trace *= kappa
    readout_trace += z
    f_w *= decay
    f_w += np.multiply.outer(err, readout_trace)
    f_b *= decay
    f_b += bias_trace * err


@_jit
def readout_eligibility_step(z, kappa, decay, err, bias_trace, readout_trace, f_w, f_b):
    """Compiled twin of :func:`readout_eligibility_step_numpy` (one rounding per operation, as
    there)."""
    for j in range(readout_trace.shape[0]):
        readout_trace[j] = readout_trace[j] * kappa + z[j]
    for k in range(f_w.shape[0]):
        for j in range(f_w.shape[1]):
            f_w[k, j] = f_w[k, j] * decay + err[k] * readout_trace[j]
        f_b[k] = f_b[k] * decay + bias_trace * err[k]


KERNELS = {
    "stdp_step": {"numba": stdp_step, "numpy": stdp_step_numpy},
    "antisymmetric_stdp_step": {"numba": antisymmetric_stdp_step, "numpy": antisymmetric_stdp_step_numpy},
    "policy_decision": {"numba": policy_decision, "numpy": policy_decision_numpy},
    "readout_eligibility_step": {"numba": readout_eligibility_step, "numpy": readout_eligibility_step_numpy},
}


def kernel(name: str, backend: str):
    """Return rule kernel ``name`` for ``backend`` ("numba" or "numpy")."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    return KERNELS[name][backend]
