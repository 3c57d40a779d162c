"""Kernels that belong to particular rules (the engine's own are in ``locallearn.kernels``).

Same contract as the engine's: pure functions over arrays, writing in place, each with a
plain-numpy twin ``foo_numpy`` that the tests compare it against; ``kernel(name, backend)``
picks the implementation. Users: ``rstdp`` (Florian's STDP eligibility), ``sal`` (the
antisymmetric STDP window), ``reward-eprop`` (the actor-critic decision and readout traces,
and a whole agent step), ``eprop`` (the compiled online chunk).
"""

from __future__ import annotations

import numba
import numpy as np

from locallearn.kernels import (
    _ROW_BLOCK,
    BACKENDS,
    _eligibility_rows,
    _presynaptic_step,
    eligibility_step,
    eligibility_step_numpy,
    leaky_readout,
    leaky_readout_numpy,
    learn_eligibility_step,
    learn_eligibility_step_numpy,
    libm_exp,
    neuron_step,
    neuron_step_numpy,
    present_steps,
    present_steps_numpy,
    softmax_into,
    softmax_into_numpy,
    synaptic_current,
    synaptic_current_numpy,
)

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


def sal_pair_steps_numpy(
    draws,
    w,
    b,
    bias_low,
    bias_up,
    offset_low,
    offset_up,
    coupling,
    decay,
    t_ref,
    t,
    lr,
    lr_ratio,
    spikes_low,
    spikes_up,
    psp_low,
    psp_up,
    history_low,
    history_up,
    traces_low,
    traces_up,
    since_low,
    since_up,
):
    """``draws.shape[0]`` steps of a two-population SAL network (lower <- B -> upper <- W),
    state arrays updated in place; returns the learning rate after the last step. Per step,
    with the uniform draws of row t (the lower population's first)::

        u_low = bias_low + coupling B psp_up,   u_up = bias_up + W psp_low   (the old psp)
        fire  = draw < sigmoid(u - offset)  and  since > t_ref   (since <- 1 if fire, else + 1)
        psp  += s - s(t - t_ref);  x <- decay x + s
        B    += lr (outer(x_low, s_up) - outer(s_low, x_up));  lr <- lr lr_ratio

    as :meth:`SALNetwork.step` does step by step (whose generator draws the same numbers)."""
    n_low = spikes_low.shape[0]
    for row in draws:
        slot = t % t_ref
        u_low = bias_low + coupling * (b @ psp_up)
        u_up = bias_up + w @ psp_low
        for u, offset, draw, spikes, since in (
            (u_low, offset_low, row[:n_low], spikes_low, since_low),
            (u_up, offset_up, row[n_low:], spikes_up, since_up),
        ):
            rate = 1.0 / (1.0 + libm_exp(-(u - offset)))
            fire = (draw < rate) & (since > t_ref)
            since[:] = np.where(fire, 1, since + 1)
            spikes[:] = fire
        for spikes, psp, history, traces in (
            (spikes_low, psp_low, history_low, traces_low),
            (spikes_up, psp_up, history_up, traces_up),
        ):
            psp += spikes - history[slot]
            history[slot] = spikes
            traces *= decay
            traces += spikes
        antisymmetric_stdp_step_numpy(traces_low, spikes_low, traces_up, spikes_up, lr, b)
        lr = lr * lr_ratio
        t += 1
    return lr


@_jit
def _sal_population(u_base, weights, psp_other, scale, offset, draw, t_ref, spikes, since):
    for j in range(spikes.shape[0]):
        drive = 0.0
        for k in range(psp_other.shape[0]):
            drive += weights[j, k] * psp_other[k]
        u = u_base[j] + scale * drive
        rate = 1.0 / (1.0 + np.exp(-(u - offset[j])))
        fire = draw[j] < rate and since[j] > t_ref
        since[j] = 1 if fire else since[j] + 1
        spikes[j] = 1.0 if fire else 0.0


@_jit
def _sal_filter(spikes, psp, history_row, traces, decay):
    for j in range(spikes.shape[0]):
        psp[j] += spikes[j] - history_row[j]
        history_row[j] = spikes[j]
        traces[j] = traces[j] * decay + spikes[j]


@_jit
def sal_pair_steps(
    draws,
    w,
    b,
    bias_low,
    bias_up,
    offset_low,
    offset_up,
    coupling,
    decay,
    t_ref,
    t,
    lr,
    lr_ratio,
    spikes_low,
    spikes_up,
    psp_low,
    psp_up,
    history_low,
    history_up,
    traces_low,
    traces_up,
    since_low,
    since_up,
):
    """Compiled twin of :func:`sal_pair_steps_numpy`: the same steps in one call, the drives
    summed in presynaptic order (the twin's BLAS products may round them differently; a spike
    flips only if a draw lies within that rounding of its rate). The upper drive reads the
    lower population's psp before this step's spikes, as the twin does."""
    n_low = spikes_low.shape[0]
    for step in range(draws.shape[0]):
        slot = t % t_ref
        _sal_population(
            bias_low, b, psp_up, coupling, offset_low, draws[step, :n_low], t_ref, spikes_low, since_low
        )
        _sal_population(bias_up, w, psp_low, 1.0, offset_up, draws[step, n_low:], t_ref, spikes_up, since_up)
        _sal_filter(spikes_low, psp_low, history_low[slot], traces_low, decay)
        _sal_filter(spikes_up, psp_up, history_up[slot], traces_up, decay)
        antisymmetric_stdp_step(traces_low, spikes_low, traces_up, spikes_up, lr, b)
        lr = lr * lr_ratio
        t += 1
    return lr


# --------------------------------------------------------------------------- SnAp-1 / D-RTRL
def snap1_step_numpy(pre, psi, beta, alpha, rho, v_th, kappa, ev, ea, ez, ebar, signal, grad, recurrent):
    """One step of the SnAp-1 influence of a projection (n_post, n_pre), in place. ``ez`` holds
    dz_j/dw_ji of the previous step on entry and of this one on return::

        ea   <- rho ea + ez
        ev   <- alpha ev - v_th ez + pre_i          (v_th ez: the reset's derivative; 0 drops it)
        ez   <- psi_j (ev - beta_j ea)
        ebar <- kappa ebar + ez,   grad += L_j ebar   (diagonal kept at 0 when ``recurrent``)"""
    ea *= rho
    ea += ez
    ev *= alpha
    ev -= v_th * ez
    ev += pre[None, :]
    ez[:] = psi[:, None] * (ev - beta[:, None] * ea)
    ebar *= kappa
    ebar += ez
    change = signal[:, None] * ebar
    if recurrent:
        np.fill_diagonal(change, 0)
    grad += change


@_jit
def snap1_step(pre, psi, beta, alpha, rho, v_th, kappa, ev, ea, ez, ebar, signal, grad, recurrent):
    """Compiled twin of :func:`snap1_step_numpy` (one pass over the synapses)."""
    for j in range(ev.shape[0]):
        psi_j, beta_j, signal_j = psi[j], beta[j], signal[j]
        for i in range(ev.shape[1]):
            ea_ji = ea[j, i] * rho + ez[j, i]
            ev_ji = ev[j, i] * alpha - v_th * ez[j, i] + pre[i]
            ez_ji = psi_j * (ev_ji - beta_j * ea_ji)
            ebar_ji = ebar[j, i] * kappa + ez_ji
            ea[j, i], ev[j, i], ez[j, i], ebar[j, i] = ea_ji, ev_ji, ez_ji, ebar_ji
            if not (recurrent and i == j):
                grad[j, i] += signal_j * ebar_ji


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


# --------------------------------------------------------------------------- e-prop, online
# The network and trace arguments of eprop_online_steps are those of
# ``EligibilityTraces.compiled_arguments(net, accum)`` (present_steps' fixed arguments with the
# weights, or the gradient buffers, as accumulators), in that order.
def eprop_online_steps_numpy(
    inputs,
    targets,
    mask,
    cross_entropy,
    w_in,
    w_rec,
    w_out,
    b_out,
    kappa,
    v,
    a,
    z,
    refractory,
    psi,
    alpha,
    rho,
    beta,
    v_th,
    gamma,
    n_ref,
    sigmoid_width,
    current,
    layer_input,
    z_prev,
    y,
    n_lif,
    filter_decay,
    pre_in,
    eps_in,
    filtered_in,
    accum_in,
    pre_rec,
    eps_rec,
    filtered_rec,
    accum_rec,
    no_signal,
    feedback,
    feedback_left,
    scale,
    regularise,
    c_reg,
    rate,
    rate_decay,
    spike_to_khz,
    f_target_khz,
    reg_signal,
    scaled_reg,
    readout_trace,
    bias_trace,
    error,
    probabilities,
    parallel_in,
    parallel_rec,
    readout_into,
    bias_into,
    outputs,
):
    """Online e-prop with per-step SGD folded into the weights, for ``len(inputs)`` steps of one
    single-layer recurrent network, in place (what ``EProp.step`` with
    ``accumulate_into_weights(lr)`` does after every ``Network.step``, in one call) — or, with
    the gradient buffers as accumulators and ``scale`` 1, what ``EProp.step`` accumulating
    gradients does (weights frozen; an update per trial or batch). Per step::

        forward: I = W_in x + W_rec z_prev, neurons, y <- kappa y + W_out z + b
        err   = m (y - y*)  or  m (softmax(y) - y*)                 (0 on a masked step)
        L     = scale (err @ feedback)  if feedback_left  else  scale (feedback @ err)
        R_out += scale err (kappa ztilde + z)^T                     (only if err != 0)
        fbar  <- rate_decay fbar + spike_to_khz z; R = c_reg (fbar - f_target)   (regularise)
        W_in, W_rec += L ebar + (scale R) e    (the trace engine's sweep; W_rec's diagonal stays)
        ztilde <- kappa ztilde + z;  btilde <- kappa btilde + 1;  R_b += (scale btilde) err

    ``scale`` is -lr, and the accumulators (``accum_*``; ``readout_into`` R_out and ``bias_into``
    R_b) are the weights W_in, W_rec, W_out, b themselves; or ``scale`` is 1 and they are the
    gradient buffers; ``feedback`` is W_out itself for symmetric feedback (``feedback_left``:
    the signal is err @ W_out, read live) or a fixed B (n_rec, n_out). ``bias_trace`` is a
    one-element array; ``reg_signal`` keeps R and ``scaled_reg`` scale R (both stay 0 without
    regularisation); ``error``, ``probabilities`` are (n_out,) scratch; ``outputs`` (T, n_out)
    receives y. Returns the number of spikes. ``parallel_*`` is the engine's choice of sweep
    (rows are independent: the same bits either way)."""
    one = v.dtype.type(1.0)
    spikes = 0
    for t in range(inputs.shape[0]):
        x = inputs[t]
        z_prev[:] = z
        layer_input[:] = x
        synaptic_current_numpy(w_in, x, w_rec, z_prev, current)
        neuron_step_numpy(
            current, v, a, z, refractory, psi, alpha, rho, beta, v_th, gamma, n_ref, sigmoid_width
        )
        leaky_readout_numpy(w_out, z, b_out, kappa, y)
        outputs[t] = y
        spikes += int(np.count_nonzero(z))
        m = mask[t]
        if m == 0:
            error[:] = 0
        elif cross_entropy:
            softmax_into_numpy(y, probabilities)
            error[:] = m * (probabilities - targets[t])
        else:
            error[:] = m * (y - targets[t])
        if error.any():
            signal = scale * (error @ feedback if feedback_left else feedback @ error)
            readout_into += scale * np.multiply.outer(error, readout_trace * kappa + z)
        else:
            signal = no_signal
        if regularise:
            rate *= rate_decay
            rate += spike_to_khz * z
            np.subtract(rate, f_target_khz, out=reg_signal)
            reg_signal *= c_reg
            scaled_reg[:] = scale * reg_signal
        for pre, p, eps, filtered, accum, recurrent in (
            (layer_input, pre_in, eps_in, filtered_in, accum_in, False),
            (z_prev, pre_rec, eps_rec, filtered_rec, accum_rec, True),
        ):
            eligibility_step_numpy(
                pre, p, psi, beta, n_lif, alpha, rho, filter_decay, eps, filtered, signal, scaled_reg, accum,
                one, recurrent,
            )  # fmt: skip
        readout_trace *= kappa
        readout_trace += z
        bias_trace[0] = kappa * bias_trace[0] + one
        bias_into += scale * bias_trace[0] * error
    return spikes


@_jit
def _feedback_product(error, feedback, left):
    """err @ feedback (left) or feedback @ err by BLAS gemv, as numpy's ``@`` computes it. A
    function of its own: inside a ``parallel=True`` function numba would turn ``np.dot`` into
    its own parallel loop, which sums in another order."""
    return np.dot(error, feedback) if left else np.dot(feedback, error)


@numba.njit(cache=True, nogil=True, parallel=True)
def eprop_online_steps(
    inputs,
    targets,
    mask,
    cross_entropy,
    w_in,
    w_rec,
    w_out,
    b_out,
    kappa,
    v,
    a,
    z,
    refractory,
    psi,
    alpha,
    rho,
    beta,
    v_th,
    gamma,
    n_ref,
    sigmoid_width,
    current,
    layer_input,
    z_prev,
    y,
    n_lif,
    filter_decay,
    pre_in,
    eps_in,
    filtered_in,
    accum_in,
    pre_rec,
    eps_rec,
    filtered_rec,
    accum_rec,
    no_signal,
    feedback,
    feedback_left,
    scale,
    regularise,
    c_reg,
    rate,
    rate_decay,
    spike_to_khz,
    f_target_khz,
    reg_signal,
    scaled_reg,
    readout_trace,
    bias_trace,
    error,
    probabilities,
    parallel_in,
    parallel_rec,
    readout_into,
    bias_into,
    outputs,
):
    """Compiled twin of :func:`eprop_online_steps_numpy`: a chunk of online steps in one call.
    The learning signal is BLAS gemv (``_feedback_product``, as numpy's ``@`` in the twin); every
    other operation rounds once, in the twin's order.

    Compiled with ``parallel=True`` for the sweeps' ``prange`` alone (the trace engine's split
    into row blocks, taken when ``parallel_*``): a cached function that *calls* a parallel one
    crashes when loaded from numba's cache, so the split lives here. Everything else is written
    as plain ``range`` loops, which numba leaves serial (an array expression would become a
    parallel loop with a thread launch at every step)."""
    one = v.dtype.type(1.0)
    zero = v.dtype.type(0.0)
    spikes = 0
    n_out = y.shape[0]
    n_post = psi.shape[0]
    n_blocks = (n_post + _ROW_BLOCK - 1) // _ROW_BLOCK
    for t in range(inputs.shape[0]):
        x = inputs[t]
        for j in range(z.shape[0]):
            z_prev[j] = z[j]
        for i in range(x.shape[0]):
            layer_input[i] = x[i]
        synaptic_current(w_in, x, w_rec, z_prev, current)
        neuron_step(current, v, a, z, refractory, psi, alpha, rho, beta, v_th, gamma, n_ref, sigmoid_width)
        leaky_readout(w_out, z, b_out, kappa, y)
        any_error = False
        m = mask[t]
        if m != 0 and cross_entropy:
            softmax_into(y, probabilities)
        for k in range(n_out):
            outputs[t, k] = y[k]
            if m == 0:
                error[k] = zero
            elif cross_entropy:
                error[k] = m * (probabilities[k] - targets[t, k])
            else:
                error[k] = m * (y[k] - targets[t, k])
            any_error = any_error or error[k] != 0
        for j in range(z.shape[0]):
            if z[j] != 0:
                spikes += 1
        if any_error:
            product = _feedback_product(error, feedback, feedback_left)
            signal = np.empty_like(product)
            for j in range(product.shape[0]):
                signal[j] = scale * product[j]
            for k in range(n_out):
                for j in range(z.shape[0]):
                    readout_into[k, j] += scale * (error[k] * (readout_trace[j] * kappa + z[j]))
        else:
            signal = no_signal
        if regularise:
            for j in range(z.shape[0]):
                r = rate[j] * rate_decay
                r = r + spike_to_khz * z[j]
                rate[j] = r
                reg = (r - f_target_khz) * c_reg
                reg_signal[j] = reg
                scaled_reg[j] = scale * reg
        # the trace engine's sweeps: eligibility_step's single sweep, or eligibility_step_parallel's
        # split into row blocks (the same arithmetic per row)
        _presynaptic_step(layer_input, pre_in, alpha)
        _presynaptic_step(z_prev, pre_rec, alpha)
        if parallel_in:
            for block in numba.prange(n_blocks):
                start = block * _ROW_BLOCK
                _eligibility_rows(
                    start,
                    min(n_post, start + _ROW_BLOCK),
                    pre_in,
                    psi,
                    beta,
                    n_lif,
                    rho,
                    filter_decay,
                    eps_in,
                    filtered_in,
                    signal,
                    scaled_reg,
                    accum_in,
                    one,
                    False,
                    filtered_in,
                    filter_decay,
                    False,
                )
        else:
            _eligibility_rows(
                0,
                n_post,
                pre_in,
                psi,
                beta,
                n_lif,
                rho,
                filter_decay,
                eps_in,
                filtered_in,
                signal,
                scaled_reg,
                accum_in,
                one,
                False,
                filtered_in,
                filter_decay,
                False,
            )
        if parallel_rec:
            for block in numba.prange(n_blocks):
                start = block * _ROW_BLOCK
                _eligibility_rows(
                    start,
                    min(n_post, start + _ROW_BLOCK),
                    pre_rec,
                    psi,
                    beta,
                    n_lif,
                    rho,
                    filter_decay,
                    eps_rec,
                    filtered_rec,
                    signal,
                    scaled_reg,
                    accum_rec,
                    one,
                    True,
                    filtered_rec,
                    filter_decay,
                    False,
                )
        else:
            _eligibility_rows(
                0,
                n_post,
                pre_rec,
                psi,
                beta,
                n_lif,
                rho,
                filter_decay,
                eps_rec,
                filtered_rec,
                signal,
                scaled_reg,
                accum_rec,
                one,
                True,
                filtered_rec,
                filter_decay,
                False,
            )
        for j in range(readout_trace.shape[0]):
            readout_trace[j] = readout_trace[j] * kappa + z[j]
        bias = kappa * bias_trace[0] + one
        bias_trace[0] = bias
        step = scale * bias
        for k in range(n_out):
            bias_into[k] += step * error[k]
    return spikes


# --------------------------------------------------------------------------- reward e-prop, one agent step
def abs_sum_numpy(x):
    """sum |x| as numpy computes it (``np.abs(x).sum()``, pairwise, in x's dtype)."""
    return np.abs(x).sum()


_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE


@_jit
def _block_abs_sum(x, start, n, zero):
    # one leaf of numpy's pairwise summation: below 8 terms one by one, else 8 interleaved
    # partial sums combined as a tree, then the remainder
    if n < 8:
        total = zero
        for i in range(start, start + n):
            total += abs(x[i])
        return total
    r0, r1, r2, r3 = abs(x[start]), abs(x[start + 1]), abs(x[start + 2]), abs(x[start + 3])
    r4, r5, r6, r7 = abs(x[start + 4]), abs(x[start + 5]), abs(x[start + 6]), abs(x[start + 7])
    i = start + 8
    end = start + n - n % 8
    while i < end:
        r0 += abs(x[i])
        r1 += abs(x[i + 1])
        r2 += abs(x[i + 2])
        r3 += abs(x[i + 3])
        r4 += abs(x[i + 4])
        r5 += abs(x[i + 5])
        r6 += abs(x[i + 6])
        r7 += abs(x[i + 7])
        i += 8
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < start + n:
        total += abs(x[i])
        i += 1
    return total


@_jit
def _left_half(n):
    half = n // 2
    return half - half % 8


@_jit
def abs_sum(x):
    """Compiled twin of :func:`abs_sum_numpy`, the same bits: numpy's pairwise summation over
    the flattened (C-contiguous) array — blocks of up to 128 terms, each longer run split in two
    at a multiple of 8 and the halves added. The tree is walked with an explicit stack (numba's
    cache cannot load a recursive function)."""
    flat = x.reshape(-1)
    zero = x.dtype.type(0.0)
    if flat.shape[0] <= _PAIRWISE_BLOCK:
        return zero + _block_abs_sum(flat, 0, flat.shape[0], zero)
    starts = np.empty(64, np.int64)
    sizes = np.empty(64, np.int64)
    right_pending = np.zeros(64, np.bool_)  # the left half is summed, kept in `left`
    left = np.empty(64, x.dtype)
    top = 0
    starts[0], sizes[0] = 0, flat.shape[0]
    while True:
        if sizes[top] > _PAIRWISE_BLOCK:  # descend into the left half
            right_pending[top] = False
            starts[top + 1], sizes[top + 1] = starts[top], _left_half(sizes[top])
            top += 1
            continue
        value = _block_abs_sum(flat, starts[top], sizes[top], zero)
        top -= 1
        while top >= 0 and right_pending[top]:  # both halves done: add them, go up
            value = left[top] + value
            top -= 1
        if top < 0:
            return zero + value
        left[top], right_pending[top] = value, True  # the left half is done: on to the right
        half = _left_half(sizes[top])
        starts[top + 1], sizes[top + 1] = starts[top] + half, sizes[top] - half
        top += 1


# ``network`` is ``EligibilityTraces.compiled_arguments(net, F)``: present_steps' fixed arguments,
# with the rule's traces F of the layer as the accumulators, as one tuple.
def reward_eprop_act_numpy(
    inputs,
    network,
    readout,
    feedback,
    feedback_left,
    pi,
    err,
    layer_err,
    memory,
    has_pending,
    u,
    greedy,
    inverse_temperature,
    value_to_layer,
    c_value,
    gamma,
    lr,
    lr_layer,
    guard_kappa,
    trace_decay,
):
    """One environment step of reward-based e-prop, in place: what ``RewardEProp.advance_many(
    inputs, decide_last=True)`` followed by ``decide`` does, for one recurrent layer with a fixed
    feedback matrix (``err @ feedback`` if ``feedback_left``, else ``feedback @ err``).

    The micro-steps (traces and the readout trace stop before the last); with ``has_pending``
    (``memory`` = [reward, V before, -]) the TD error delta = r + gamma V - V_before, kept in
    ``memory[2]``, and the readout's update -eta delta F (eta bounded ObGD-style unless
    ``guard_kappa`` is NaN); the decision (pi, the action for the uniform draw ``u``, the output
    errors ``err``); the layer's learning signal from ``layer_err`` (``err``, its value entry
    zeroed unless ``value_to_layer``) and its trace step, with the layer's update -eta_layer delta F
    in the same sweep (``lr_layer`` NaN: eta); the readout traces. ``readout`` is
    (readout trace, F_w_out, F_b_out, [bias trace]). ``memory[1]`` receives V. Returns the
    action."""
    (w_in, w_rec, w_out, b_out, kappa, _, _, z, _, psi, alpha, rho, beta, _, _, _, _, _,
     layer_input, z_prev, y, n_lif, filter_decay, pre_in, eps_in, filtered_in, accum_in,
     pre_rec, eps_rec, filtered_rec, accum_rec, no_signal) = network  # fmt: skip
    readout_trace, f_w_out, f_b_out, bias_trace = readout
    one = w_in.dtype.type(1.0)
    present_steps_numpy(inputs, *network, readout_trace, inputs.shape[0] - 1)
    for _ in range(inputs.shape[0] - 1):
        bias_trace[0] = kappa * bias_trace[0] + one
    n_actions = pi.shape[0]
    value = float(y[n_actions])
    layer_scale = None
    if has_pending:
        delta = memory[0] + gamma * value - memory[1]
        memory[2] = delta
        step = lr
        if not np.isnan(guard_kappa):
            norm = 0.0
            for trace in (accum_in, accum_rec, f_w_out, f_b_out):
                norm += float(abs_sum_numpy(trace))
            step = lr / max(lr * guard_kappa * max(abs(delta), 1.0) * norm, 1.0)
        scale = w_in.dtype.type(-step * delta)
        layer_scale = scale if np.isnan(lr_layer) else w_in.dtype.type(-step * lr_layer / lr * delta)
        w_out += scale * f_w_out
        b_out += scale * f_b_out
    action = policy_decision_numpy(y, inverse_temperature, u, greedy, c_value, pi, err)
    layer_err[:] = err
    if not value_to_layer:
        layer_err[n_actions] = 0
    signal = layer_err @ feedback if feedback_left else feedback @ layer_err
    for weights, pre, pre_trace, eps_a, filtered, accum, recurrent in (
        (w_in, layer_input, pre_in, eps_in, filtered_in, accum_in, False),
        (w_rec, z_prev, pre_rec, eps_rec, filtered_rec, accum_rec, True),
    ):
        sweep = (
            pre,
            pre_trace,
            psi,
            beta,
            n_lif,
            alpha,
            rho,
            filter_decay,
            eps_a,
            filtered,
            signal,
            no_signal,
        )
        if layer_scale is None:
            eligibility_step_numpy(*sweep, accum, trace_decay, recurrent)
        else:
            learn_eligibility_step_numpy(weights, layer_scale, *sweep, accum, trace_decay, recurrent)
    bias_trace[0] = kappa * bias_trace[0] + one
    readout_eligibility_step_numpy(z, kappa, trace_decay, err, bias_trace[0], readout_trace, f_w_out, f_b_out)
    memory[1] = value
    return action


@_jit
def reward_eprop_act(
    inputs,
    network,
    readout,
    feedback,
    feedback_left,
    pi,
    err,
    layer_err,
    memory,
    has_pending,
    u,
    greedy,
    inverse_temperature,
    value_to_layer,
    c_value,
    gamma,
    lr,
    lr_layer,
    guard_kappa,
    trace_decay,
):
    """Compiled twin of :func:`reward_eprop_act_numpy`: an agent's whole step in one call, built
    from the same compiled pieces the stepwise path calls one by one (so the same bits)."""
    (w_in, w_rec, w_out, b_out, kappa, _, _, z, _, psi, alpha, rho, beta, _, _, _, _, _,
     layer_input, z_prev, y, n_lif, filter_decay, pre_in, eps_in, filtered_in, accum_in,
     pre_rec, eps_rec, filtered_rec, accum_rec, no_signal) = network  # fmt: skip
    readout_trace, f_w_out, f_b_out, bias_trace = readout
    one = w_in.dtype.type(1.0)
    present_steps(inputs, *network, readout_trace, inputs.shape[0] - 1)
    for _ in range(inputs.shape[0] - 1):
        bias_trace[0] = kappa * bias_trace[0] + one
    n_actions = pi.shape[0]
    value = np.float64(y[n_actions])
    learned = False
    layer_scale = w_in.dtype.type(0.0)
    if has_pending:
        delta = memory[0] + gamma * value - memory[1]
        memory[2] = delta
        step = lr
        if not np.isnan(guard_kappa):
            norm = 0.0
            norm += np.float64(abs_sum(accum_in))
            norm += np.float64(abs_sum(accum_rec))
            norm += np.float64(abs_sum(f_w_out))
            norm += np.float64(abs_sum(f_b_out))
            step = lr / max(lr * guard_kappa * max(abs(delta), 1.0) * norm, 1.0)
        scale = w_in.dtype.type(-step * delta)
        layer_scale = scale if np.isnan(lr_layer) else w_in.dtype.type(-step * lr_layer / lr * delta)
        for k in range(w_out.shape[0]):
            for j in range(w_out.shape[1]):
                w_out[k, j] += scale * f_w_out[k, j]
            b_out[k] += scale * f_b_out[k]
        learned = True
    action = policy_decision(y, inverse_temperature, u, greedy, c_value, pi, err)
    for k in range(err.shape[0]):
        layer_err[k] = err[k]
    if not value_to_layer:
        layer_err[n_actions] = 0
    signal = _feedback_product(layer_err, feedback, feedback_left)
    if learned:
        learn_eligibility_step(
            w_in, layer_scale, layer_input, pre_in, psi, beta, n_lif, alpha, rho, filter_decay,
            eps_in, filtered_in, signal, no_signal, accum_in, trace_decay, False,
        )  # fmt: skip
        learn_eligibility_step(
            w_rec, layer_scale, z_prev, pre_rec, psi, beta, n_lif, alpha, rho, filter_decay,
            eps_rec, filtered_rec, signal, no_signal, accum_rec, trace_decay, True,
        )  # fmt: skip
    else:
        eligibility_step(
            layer_input, pre_in, psi, beta, n_lif, alpha, rho, filter_decay,
            eps_in, filtered_in, signal, no_signal, accum_in, trace_decay, False,
        )  # fmt: skip
        eligibility_step(
            z_prev, pre_rec, psi, beta, n_lif, alpha, rho, filter_decay,
            eps_rec, filtered_rec, signal, no_signal, accum_rec, trace_decay, True,
        )  # fmt: skip
    bias_trace[0] = kappa * bias_trace[0] + one
    readout_eligibility_step(z, kappa, trace_decay, err, bias_trace[0], readout_trace, f_w_out, f_b_out)
    memory[1] = value
    return action


KERNELS = {
    "stdp_step": {"numba": stdp_step, "numpy": stdp_step_numpy},
    "antisymmetric_stdp_step": {"numba": antisymmetric_stdp_step, "numpy": antisymmetric_stdp_step_numpy},
    "sal_pair_steps": {"numba": sal_pair_steps, "numpy": sal_pair_steps_numpy},
    "snap1_step": {"numba": snap1_step, "numpy": snap1_step_numpy},
    "policy_decision": {"numba": policy_decision, "numpy": policy_decision_numpy},
    "readout_eligibility_step": {"numba": readout_eligibility_step, "numpy": readout_eligibility_step_numpy},
    "eprop_online_steps": {"numba": eprop_online_steps, "numpy": eprop_online_steps_numpy},
    "reward_eprop_act": {"numba": reward_eprop_act, "numpy": reward_eprop_act_numpy},
    "abs_sum": {"numba": abs_sum, "numpy": abs_sum_numpy},
}


def kernel(name: str, backend: str):
    """Return rule kernel ``name`` for ``backend`` ("numba" or "numpy")."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    return KERNELS[name][backend]
