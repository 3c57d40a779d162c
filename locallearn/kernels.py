"""The hot loops: numba kernels over contiguous arrays, each with a plain-numpy twin.

Every kernel is a pure function of its arguments: it reads arrays, writes the arrays it is
documented to write (in place, so that a step allocates nothing), and touches no global state.
The numpy twin of ``foo`` is ``foo_numpy``; it has the same signature and semantics and is what
the tests compare the compiled kernel against. ``KERNELS[name]`` maps a backend ("numba" or
"numpy") to the implementation so that callers never branch on the backend themselves.

Scalars are passed already cast to the arrays' dtype: with float32 arrays that keeps numba's
arithmetic in float32, like numpy's, so the twins round alike.

The equations are those of DESIGN §3 (dynamics) and §4 (e-prop traces):

    a_j^t = rho a_j^{t-1} + z_j^{t-1}
    v_j^t = alpha v_j^{t-1} + I_j^t - v_th z_j^{t-1},   I^t = W_in x^t + W_rec z^{t-1}
    z_j^t = H(v_j^t - v_th - beta_j a_j^t)            (0 while refractory)
    psi_j^t = gamma/v_th max(0, 1 - |v_j^t - A_j^t| / v_th)
"""

from __future__ import annotations

import math

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


def libm_exp(x):
    """exp of every element of float64 ``x`` by the C library's ``exp``, the function compiled
    kernels call. numpy's vectorised exp differs from it by an ulp on some arguments on CPUs with
    wide SIMD units (9,448 of 200,000 uniform arguments on an AVX-512 machine), so a twin that must
    round exactly like its kernel takes exp from here."""
    x = np.asarray(x, np.float64)
    return np.fromiter(map(math.exp, x.ravel()), np.float64, x.size).reshape(x.shape)


# --------------------------------------------------------------------------- synaptic input
def synaptic_current_numpy(w_in, x, w_rec, z_prev, out):
    """out = w_in @ x + w_rec @ z_prev  (w_rec may be an empty (n, 0) array: no recurrence)."""
    out[:] = w_in @ x
    if w_rec.shape[1] > 0:
        out += w_rec @ z_prev


@_jit
def synaptic_current(w_in, x, w_rec, z_prev, out):
    """Event-driven version of :func:`synaptic_current_numpy`: only non-zero presynaptic
    entries are visited, so silent inputs and neurons cost nothing. Four rows are summed side by
    side: each row's sum is still formed in presynaptic order (the same rounding as one row at a
    time), but four independent additions are in flight instead of one chain that waits on each
    add's latency."""
    n_post = out.shape[0]
    active_in = np.flatnonzero(x)
    active_rec = np.flatnonzero(z_prev) if w_rec.shape[1] > 0 else np.empty(0, np.int64)
    zero = out.dtype.type(0.0)
    j = 0
    while j + 4 <= n_post:
        acc0 = acc1 = acc2 = acc3 = zero
        for k in range(active_in.shape[0]):
            i = active_in[k]
            x_i = x[i]
            acc0 += w_in[j, i] * x_i
            acc1 += w_in[j + 1, i] * x_i
            acc2 += w_in[j + 2, i] * x_i
            acc3 += w_in[j + 3, i] * x_i
        for k in range(active_rec.shape[0]):
            i = active_rec[k]
            z_i = z_prev[i]
            acc0 += w_rec[j, i] * z_i
            acc1 += w_rec[j + 1, i] * z_i
            acc2 += w_rec[j + 2, i] * z_i
            acc3 += w_rec[j + 3, i] * z_i
        out[j], out[j + 1], out[j + 2], out[j + 3] = acc0, acc1, acc2, acc3
        j += 4
    remainder = j
    for j in range(remainder, n_post):
        acc = zero
        for k in range(active_in.shape[0]):
            i = active_in[k]
            acc += w_in[j, i] * x[i]
        for k in range(active_rec.shape[0]):
            i = active_rec[k]
            acc += w_rec[j, i] * z_prev[i]
        out[j] = acc


# --------------------------------------------------------------------------- LIF / ALIF neurons
def neuron_step_numpy(current, v, a, z, refractory, psi, alpha, rho, beta, v_th, gamma, n_ref, sigmoid_width):
    """Advance LIF/ALIF neurons by one step, in place.

    On entry ``z`` holds z^{t-1}, ``v``/``a`` hold v^{t-1}/a^{t-1} and ``refractory`` counts the
    steps each neuron must still stay silent. On exit they hold the values at t, and ``psi`` the
    pseudo-derivative dz/dv at t. ``sigmoid_width > 0`` replaces the Heaviside by the smooth
    z = sigmoid((v - A) / (v_th sigmoid_width)) and psi by its exact derivative (gradient checks);
    the refractory period is then started by v > A.
    """
    a *= rho
    a += z
    v *= alpha
    v += current
    v -= v_th * z
    threshold = v_th + beta * a
    distance = v - threshold
    blocked = refractory > 0
    if sigmoid_width > 0:
        s = v_th * sigmoid_width
        smooth = 1.0 / (1.0 + np.exp(-distance / s))
        z[:] = np.where(blocked, 0, smooth)
        psi[:] = np.where(blocked, 0, smooth * (1 - smooth) / s)
        fired = (distance > 0) & ~blocked
    else:
        fired = (distance > 0) & ~blocked
        z[:] = fired
        psi[:] = np.where(blocked, 0, gamma / v_th * np.maximum(0, 1 - np.abs(distance) / v_th))
    refractory[:] = np.where(fired, n_ref, np.maximum(refractory - 1, 0))


@_jit
def neuron_step(current, v, a, z, refractory, psi, alpha, rho, beta, v_th, gamma, n_ref, sigmoid_width):
    """Compiled twin of :func:`neuron_step_numpy` (same arguments, same in-place contract)."""
    one = v.dtype.type(1.0)
    zero = v.dtype.type(0.0)
    for j in range(v.shape[0]):
        z_prev = z[j]
        a_j = rho * a[j] + z_prev
        v_j = alpha * v[j] + current[j] - v_th * z_prev
        distance = v_j - (v_th + beta[j] * a_j)
        a[j] = a_j
        v[j] = v_j
        blocked = refractory[j] > 0
        fired = (distance > zero) and not blocked
        if blocked:
            z[j] = zero
            psi[j] = zero
        elif sigmoid_width > zero:
            s = v_th * sigmoid_width
            smooth = one / (one + np.exp(-distance / s))
            z[j] = smooth
            psi[j] = smooth * (one - smooth) / s
        else:
            z[j] = one if fired else zero
            psi[j] = gamma / v_th * max(zero, one - abs(distance) / v_th)
        if fired:
            refractory[j] = n_ref
        elif refractory[j] > 0:
            refractory[j] -= 1


def escape_neuron_step_numpy(
    current, v, a, z, refractory, psi, alpha, rho, beta, v_th, n_ref, width, uniform
):
    """Stochastic (escape-noise) version of :func:`neuron_step_numpy`, in place: a neuron that is
    not refractory fires with probability p = sigmoid((v - A) / (v_th width)), decided by
    ``uniform`` (one U(0, 1) draw per neuron, from the caller's generator); psi = dp/dv =
    p (1 - p) / (v_th width), the derivative of the firing probability (0 while refractory).
    Reset and refractoriness as in the deterministic neuron."""
    a *= rho
    a += z
    v *= alpha
    v += current
    v -= v_th * z
    s = v_th * width
    p = 1.0 / (1.0 + np.exp(-(v - (v_th + beta * a)) / s))
    blocked = refractory > 0
    fired = (uniform < p) & ~blocked
    z[:] = fired
    psi[:] = np.where(blocked, 0, p * (1 - p) / s)
    refractory[:] = np.where(fired, n_ref, np.maximum(refractory - 1, 0))


@_jit
def escape_neuron_step(current, v, a, z, refractory, psi, alpha, rho, beta, v_th, n_ref, width, uniform):
    """Compiled twin of :func:`escape_neuron_step_numpy`."""
    one = v.dtype.type(1.0)
    zero = v.dtype.type(0.0)
    s = v_th * width
    for j in range(v.shape[0]):
        z_prev = z[j]
        a_j = rho * a[j] + z_prev
        v_j = alpha * v[j] + current[j] - v_th * z_prev
        a[j] = a_j
        v[j] = v_j
        p = one / (one + np.exp(-(v_j - (v_th + beta[j] * a_j)) / s))
        blocked = refractory[j] > 0
        fired = (uniform[j] < p) and not blocked
        z[j] = one if fired else zero
        psi[j] = zero if blocked else p * (one - p) / s
        if fired:
            refractory[j] = n_ref
        elif refractory[j] > 0:
            refractory[j] -= 1


# --------------------------------------------------------------------------- leaky readout
def leaky_readout_numpy(w_out, z, bias, kappa, y):
    """y <- kappa y + w_out @ z + bias, in place."""
    y *= kappa
    y += w_out @ z
    y += bias


@_jit
def leaky_readout(w_out, z, bias, kappa, y):
    """Compiled twin of :func:`leaky_readout_numpy`; skips silent neurons."""
    active = np.flatnonzero(z)
    for k in range(y.shape[0]):
        acc = kappa * y[k] + bias[k]
        for m in range(active.shape[0]):
            j = active[m]
            acc += w_out[k, j] * z[j]
        y[k] = acc


# --------------------------------------------------------------------------- output error
def softmax_into_numpy(y, out):
    """out = softmax(y) for one step: exp of the shifted logits in float64 by the C library
    (:func:`libm_exp`, what compiled code calls), rounded to the dtype, summed in order. numpy's
    own exp and pairwise sum would round differently from any compiled loop; this definition is
    the one both the stepwise error and the compiled online chunk use."""
    shifted = y - np.max(y)
    out[:] = libm_exp(shifted.astype(np.float64)).astype(out.dtype)
    total = out.dtype.type(0.0)
    for k in range(out.shape[0]):
        total += out[k]
    out /= total


@_jit
def softmax_into(y, out):
    """Compiled twin of :func:`softmax_into_numpy`."""
    top = y[0]
    for k in range(1, y.shape[0]):
        if y[k] > top:
            top = y[k]
    total = out.dtype.type(0.0)
    for k in range(y.shape[0]):
        out[k] = math.exp(np.float64(y[k] - top))
        total += out[k]
    for k in range(y.shape[0]):
        out[k] = out[k] / total


# --------------------------------------------------------------------------- eligibility
def eligibility_step_numpy(
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
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
):
    """One step of the e-prop trace engine for one projection (input or recurrent), in place.

    ``pre`` is what enters the membrane at this step (x^t, or z^{t-1} for a recurrent projection).
    Rows ``j < n_lif`` are LIF neurons, the rest ALIF with adaptation state ``eps_a`` of shape
    (n_post - n_lif, n_pre). With ``p`` the presynaptic trace after this step's update::

        p_i        <- alpha p_i + pre_i                                  (pre_trace)
        e_ji        = psi_j (p_i - beta_j eps_a_ji)                       (eligibility)
        eps_a_ji   <- psi_j p_i + (rho - psi_j beta_j) eps_a_ji           (ALIF rows)
        ebar_ji    <- filter_decay ebar_ji + e_ji                         (filtered)
        accum_ji   <- accum_decay accum_ji + L_j ebar_ji + R_j e_ji       (accum)

    L is the learning signal and R the regularisation signal. With ``skip_diagonal`` the
    accumulator's diagonal stays untouched (recurrent self-connections do not exist).
    """
    pre_trace *= alpha
    pre_trace += pre
    n_post = psi.shape[0]
    eligibility = np.empty((n_post, pre_trace.shape[0]), dtype=filtered.dtype)
    eligibility[:n_lif] = psi[:n_lif, None] * pre_trace[None, :]
    if n_post > n_lif:
        psi_a = psi[n_lif:, None]
        beta_a = beta[n_lif:, None]
        eligibility[n_lif:] = psi_a * (pre_trace[None, :] - beta_a * eps_a)
        eps_a[:] = psi_a * pre_trace[None, :] + (rho - psi_a * beta_a) * eps_a
    filtered *= filter_decay
    filtered += eligibility
    update = learning_signal[:, None] * filtered + reg_signal[:, None] * eligibility
    if skip_diagonal:
        np.fill_diagonal(update, 0)
        diagonal = np.diagonal(accum).copy()
        accum *= accum_decay
        accum += update
        np.fill_diagonal(accum, diagonal)
    else:
        accum *= accum_decay
        accum += update


@numba.njit(cache=True, nogil=True)
def _eligibility_rows(
    start,
    stop,
    pre_trace,
    psi,
    beta,
    n_lif,
    rho,
    filter_decay,
    eps_a,
    filtered,
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
    weights,
    weight_step,
    learn,
):
    """Rows ``start:stop`` (postsynaptic neurons; rows are independent) of
    :func:`eligibility_step`, after ``weights += weight_step * accum`` for each row when
    ``learn``; a recurrent projection's diagonal (``skip_diagonal``) is restored after its row.

    One function over a range of rows with the row's loops written out in it: a helper called
    per row — even one numba inlines — cost ~80 ns a row in array reference counting, 7-9x the
    arithmetic of a silent row at 50 x 30 (benchmarks/engine.py; the same bits either way)."""
    n_pre = pre_trace.shape[0]
    for j in range(start, stop):
        kept = accum[j, j] if skip_diagonal else accum[j, 0]
        if learn:  # the row's weights move while its accumulator row is in cache
            kept_weight = weights[j, j] if skip_diagonal else weights[j, 0]
            for i in range(n_pre):
                weights[j, i] += weight_step * accum[j, i]
            if skip_diagonal:
                weights[j, j] = kept_weight
        psi_j = psi[j]
        signal_j = learning_signal[j]
        reg_j = reg_signal[j]
        fold = not (signal_j == 0 and reg_j == 0 and accum_decay == 1)
        # branch-free inner loops (LIF and ALIF rows have their own) so that LLVM vectorises them
        if j < n_lif:
            if fold:
                for i in range(n_pre):
                    e = psi_j * pre_trace[i]
                    eb = filter_decay * filtered[j, i] + e
                    filtered[j, i] = eb
                    accum[j, i] = accum_decay * accum[j, i] + (signal_j * eb + reg_j * e)
            else:
                for i in range(n_pre):
                    filtered[j, i] = filter_decay * filtered[j, i] + psi_j * pre_trace[i]
        else:
            beta_j = beta[j]
            decay_a = rho - psi_j * beta_j
            row_a = j - n_lif
            if fold:
                for i in range(n_pre):
                    p = pre_trace[i]
                    ea = eps_a[row_a, i]
                    e = psi_j * (p - beta_j * ea)
                    eps_a[row_a, i] = psi_j * p + decay_a * ea
                    eb = filter_decay * filtered[j, i] + e
                    filtered[j, i] = eb
                    accum[j, i] = accum_decay * accum[j, i] + (signal_j * eb + reg_j * e)
            else:
                for i in range(n_pre):
                    p = pre_trace[i]
                    ea = eps_a[row_a, i]
                    eps_a[row_a, i] = psi_j * p + decay_a * ea
                    filtered[j, i] = filter_decay * filtered[j, i] + psi_j * (p - beta_j * ea)
        if skip_diagonal:
            accum[j, j] = kept


@numba.njit(cache=True, nogil=True, inline="always")
def _settle_row(
    j, n_lif, eps_a, filtered, accum, skip_diagonal, scale_filtered, scale_adapt, scale_accum, pending
):
    """Apply row ``j``'s deferred decay (see :func:`lazy_eligibility_step`) and clear it."""
    s, a, c = scale_filtered[j], scale_accum[j], pending[j]
    if s != 1 or a != 1 or c != 0:
        filtered_j = filtered[j]
        accum_j = accum[j]
        kept = accum_j[j] if skip_diagonal else accum_j[0]
        for i in range(filtered_j.shape[0]):
            stored = filtered_j[i]
            accum_j[i] = a * accum_j[i] + c * stored
            filtered_j[i] = s * stored
        if skip_diagonal:
            accum_j[j] = kept
    if j >= n_lif and scale_adapt[j] != 1:
        eps_j = eps_a[j - n_lif]
        r = scale_adapt[j]
        for i in range(eps_j.shape[0]):
            eps_j[i] = r * eps_j[i]
    scale_filtered[j] = 1.0
    scale_adapt[j] = 1.0
    scale_accum[j] = 1.0
    pending[j] = 0.0


@numba.njit(cache=True, nogil=True)
def _lazy_rows(
    start,
    stop,
    pre_trace,
    psi,
    beta,
    n_lif,
    rho,
    filter_decay,
    eps_a,
    filtered,
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
    scale_filtered,
    scale_adapt,
    scale_accum,
    pending,
):
    """Rows ``start:stop`` of :func:`lazy_eligibility_step`."""
    for j in range(start, stop):
        psi_j = psi[j]
        if psi_j == 0:  # e = 0: the row's traces only decay; O(1) instead of O(n_pre)
            scale_filtered[j] *= filter_decay
            if j >= n_lif:
                scale_adapt[j] *= rho
            pending[j] = accum_decay * pending[j] + learning_signal[j] * scale_filtered[j]
            scale_accum[j] *= accum_decay
            continue
        _settle_row(
            j, n_lif, eps_a, filtered, accum, skip_diagonal, scale_filtered, scale_adapt, scale_accum, pending
        )
        _eligibility_rows(
            j,
            j + 1,
            pre_trace,
            psi,
            beta,
            n_lif,
            rho,
            filter_decay,
            eps_a,
            filtered,
            learning_signal,
            reg_signal,
            accum,
            accum_decay,
            skip_diagonal,
            filtered,
            filter_decay,
            False,
        )


@numba.njit(cache=True, nogil=True, inline="always")
def _presynaptic_step(pre, pre_trace, alpha):
    for i in range(pre_trace.shape[0]):
        pre_trace[i] = alpha * pre_trace[i] + pre[i]


@_jit
def eligibility_step(
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
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
):
    """Compiled twin of :func:`eligibility_step_numpy`: one fused sweep over the synapses.

    A row whose signals are zero with ``accum_decay == 1`` leaves ``accum`` as it is, so its
    accumulator is not even read (masked steps of a task, the silent micro-steps between
    decisions of an agent); the diagonal is restored after its row.
    """
    _presynaptic_step(pre, pre_trace, alpha)
    # learn=False: `filtered` and `filter_decay` only stand in for weights of the right type
    _eligibility_rows(
        0,
        psi.shape[0],
        pre_trace,
        psi,
        beta,
        n_lif,
        rho,
        filter_decay,
        eps_a,
        filtered,
        learning_signal,
        reg_signal,
        accum,
        accum_decay,
        skip_diagonal,
        filtered,
        filter_decay,
        False,
    )


# rows per thread task of the parallel sweeps (fewer, larger tasks: less scheduling per call)
_ROW_BLOCK = 32


@numba.njit(cache=True, nogil=True, parallel=True)
def eligibility_step_parallel(
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
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
):
    """:func:`eligibility_step` with blocks of rows split over threads. Each row's arithmetic is
    the same as in the serial kernel, so the results are bit-identical whatever the thread count;
    the split pays once a sweep moves more than a few hundred kB (the engine's choice)."""
    _presynaptic_step(pre, pre_trace, alpha)
    n_post = psi.shape[0]
    for block in numba.prange((n_post + _ROW_BLOCK - 1) // _ROW_BLOCK):
        _eligibility_rows(
            block * _ROW_BLOCK,
            min(n_post, (block + 1) * _ROW_BLOCK),
            pre_trace,
            psi,
            beta,
            n_lif,
            rho,
            filter_decay,
            eps_a,
            filtered,
            learning_signal,
            reg_signal,
            accum,
            accum_decay,
            skip_diagonal,
            filtered,
            filter_decay,
            False,
        )


def learn_eligibility_step_numpy(
    weights,
    weight_step,
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
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
):
    """A weight update from the accumulator followed by :func:`eligibility_step_numpy`::

        W_ji <- W_ji + weight_step accum_ji      (the accumulator before this step's fold)

    then the trace step as there (with ``skip_diagonal`` W's diagonal stays untouched too). This
    is a three-factor rule's step when its third factor for the previous accumulator arrives
    together with the next signal (reward-based e-prop: W += -eta delta F, then F moves on)."""
    change = weight_step * accum
    if skip_diagonal:
        np.fill_diagonal(change, 0)
    weights += change
    eligibility_step_numpy(
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
        learning_signal,
        reg_signal,
        accum,
        accum_decay,
        skip_diagonal,
    )


@_jit
def learn_eligibility_step(
    weights,
    weight_step,
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
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
):
    """Compiled twin of :func:`learn_eligibility_step_numpy`: each weight row is updated while
    its accumulator row is in cache, so the update costs no extra pass over memory."""
    _presynaptic_step(pre, pre_trace, alpha)
    _eligibility_rows(
        0,
        psi.shape[0],
        pre_trace,
        psi,
        beta,
        n_lif,
        rho,
        filter_decay,
        eps_a,
        filtered,
        learning_signal,
        reg_signal,
        accum,
        accum_decay,
        skip_diagonal,
        weights,
        weight_step,
        True,
    )


@numba.njit(cache=True, nogil=True, parallel=True)
def learn_eligibility_step_parallel(
    weights,
    weight_step,
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
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
):
    """:func:`learn_eligibility_step` with blocks of rows split over threads (bit-identical)."""
    _presynaptic_step(pre, pre_trace, alpha)
    n_post = psi.shape[0]
    for block in numba.prange((n_post + _ROW_BLOCK - 1) // _ROW_BLOCK):
        _eligibility_rows(
            block * _ROW_BLOCK,
            min(n_post, (block + 1) * _ROW_BLOCK),
            pre_trace,
            psi,
            beta,
            n_lif,
            rho,
            filter_decay,
            eps_a,
            filtered,
            learning_signal,
            reg_signal,
            accum,
            accum_decay,
            skip_diagonal,
            weights,
            weight_step,
            True,
        )


def lazy_eligibility_step_numpy(
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
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
    scale_filtered,
    scale_adapt,
    scale_accum,
    pending,
):
    """:func:`eligibility_step_numpy` with the decay of silent rows deferred.

    Where psi_j = 0 the row's eligibility is 0, so its traces only decay and its accumulator only
    gathers the decaying filtered trace::

        ebar_j <- kappa ebar_j,   eps_a,j <- rho eps_a,j,   accum_j <- d accum_j + L_j ebar_j

    Such a row is not swept: per-row factors (float64) keep what the sweep would have done, so
    that ``true ebar_j = scale_filtered_j * ebar_j``, ``true eps_a,j = scale_adapt_j * eps_a,j``
    and ``true accum_j = scale_accum_j * accum_j + pending_j * ebar_j`` (stored arrays on the
    right), updated in O(1) per step::

        scale_filtered_j *= kappa,  scale_adapt_j *= rho,
        pending_j = d pending_j + L_j scale_filtered_j,  scale_accum_j *= d

    A row that becomes active is settled (the factors applied, then reset to 1, 1, 1, 0) before
    its ordinary step; :func:`settle_rows` settles every row before anyone reads the arrays.
    Equal to the eager step to rounding (the factors are products where the sweep multiplies
    step by step). In networks that fire sparsely most rows are silent at most steps (about
    70 % on evidence accumulation), which is the point.
    """
    silent = psi == 0
    rows = np.flatnonzero(silent)
    kept = (filtered[rows].copy(), eps_a[rows[rows >= n_lif] - n_lif].copy(), accum[rows].copy())
    settle_rows_numpy(
        eps_a,
        filtered,
        accum,
        n_lif,
        skip_diagonal,
        np.where(silent, 1.0, scale_filtered),
        np.where(silent, 1.0, scale_adapt),
        np.where(silent, 1.0, scale_accum),
        np.where(silent, 0.0, pending),
    )
    active = ~silent
    scale_filtered[active], scale_adapt[active], scale_accum[active], pending[active] = 1.0, 1.0, 1.0, 0.0
    eligibility_step_numpy(
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
        learning_signal,
        reg_signal,
        accum,
        accum_decay,
        skip_diagonal,
    )
    # the silent rows go back to what they were; their step lives in the factors
    filtered[rows], eps_a[rows[rows >= n_lif] - n_lif], accum[rows] = kept
    scale_filtered[silent] *= filter_decay
    adaptive = silent & (np.arange(psi.shape[0]) >= n_lif)
    scale_adapt[adaptive] *= rho
    pending[silent] = accum_decay * pending[silent] + learning_signal[silent] * scale_filtered[silent]
    scale_accum[silent] *= accum_decay


@_jit
def lazy_eligibility_step(
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
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
    scale_filtered,
    scale_adapt,
    scale_accum,
    pending,
):
    """Compiled twin of :func:`lazy_eligibility_step_numpy`: active rows are swept as in
    :func:`eligibility_step` (the same inlined row), silent ones cost a few scalar operations."""
    _presynaptic_step(pre, pre_trace, alpha)
    _lazy_rows(
        0,
        psi.shape[0],
        pre_trace,
        psi,
        beta,
        n_lif,
        rho,
        filter_decay,
        eps_a,
        filtered,
        learning_signal,
        reg_signal,
        accum,
        accum_decay,
        skip_diagonal,
        scale_filtered,
        scale_adapt,
        scale_accum,
        pending,
    )


@numba.njit(cache=True, nogil=True, parallel=True)
def lazy_eligibility_step_parallel(
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
    learning_signal,
    reg_signal,
    accum,
    accum_decay,
    skip_diagonal,
    scale_filtered,
    scale_adapt,
    scale_accum,
    pending,
):
    """:func:`lazy_eligibility_step` with blocks of rows split over threads (bit-identical)."""
    _presynaptic_step(pre, pre_trace, alpha)
    n_post = psi.shape[0]
    for block in numba.prange((n_post + _ROW_BLOCK - 1) // _ROW_BLOCK):
        _lazy_rows(
            block * _ROW_BLOCK,
            min(n_post, (block + 1) * _ROW_BLOCK),
            pre_trace,
            psi,
            beta,
            n_lif,
            rho,
            filter_decay,
            eps_a,
            filtered,
            learning_signal,
            reg_signal,
            accum,
            accum_decay,
            skip_diagonal,
            scale_filtered,
            scale_adapt,
            scale_accum,
            pending,
        )


def settle_rows_numpy(
    eps_a, filtered, accum, n_lif, skip_diagonal, scale_filtered, scale_adapt, scale_accum, pending
):
    """Apply every row's deferred decay (:func:`lazy_eligibility_step_numpy`) and clear the
    factors: afterwards the arrays hold the eager step's values (to rounding)."""
    diagonal = np.diagonal(accum).copy() if skip_diagonal else None
    accum[...] = (scale_accum[:, None] * accum + pending[:, None] * filtered).astype(accum.dtype)
    filtered[...] = (scale_filtered[:, None] * filtered).astype(filtered.dtype)
    if skip_diagonal:
        np.fill_diagonal(accum, diagonal)
    eps_a[...] = (scale_adapt[n_lif:, None] * eps_a).astype(eps_a.dtype)
    scale_filtered.fill(1.0)
    scale_adapt.fill(1.0)
    scale_accum.fill(1.0)
    pending.fill(0.0)


@_jit
def settle_rows(
    eps_a, filtered, accum, n_lif, skip_diagonal, scale_filtered, scale_adapt, scale_accum, pending
):
    """Compiled twin of :func:`settle_rows_numpy`."""
    for j in range(filtered.shape[0]):
        _settle_row(
            j, n_lif, eps_a, filtered, accum, skip_diagonal, scale_filtered, scale_adapt, scale_accum, pending
        )


def present_steps_numpy(
    inputs,
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
    readout_trace,
    traced,
):
    """Run ``len(inputs)`` network steps and advance the e-prop traces without a learning signal
    (the silent micro-steps between two decisions), in place: per step the forward pass, the
    eligibility update of the input and recurrent projections, and the readout trace. Steps from
    ``traced`` on run the network only (a decision step, whose trace step carries a signal)."""
    one = v.dtype.type(1.0)
    for m, x in enumerate(inputs):
        z_prev[:] = z
        layer_input[:] = x
        synaptic_current_numpy(w_in, x, w_rec, z_prev, current)
        neuron_step_numpy(
            current, v, a, z, refractory, psi, alpha, rho, beta, v_th, gamma, n_ref, sigmoid_width
        )
        leaky_readout_numpy(w_out, z, b_out, kappa, y)
        if m >= traced:
            continue
        eligibility_step_numpy(
            x,
            pre_in,
            psi,
            beta,
            n_lif,
            alpha,
            rho,
            filter_decay,
            eps_in,
            filtered_in,
            no_signal,
            no_signal,
            accum_in,
            one,
            False,
        )
        eligibility_step_numpy(
            z_prev,
            pre_rec,
            psi,
            beta,
            n_lif,
            alpha,
            rho,
            filter_decay,
            eps_rec,
            filtered_rec,
            no_signal,
            no_signal,
            accum_rec,
            one,
            True,
        )
        readout_trace *= kappa
        readout_trace += z


@_jit
def present_steps(
    inputs,
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
    readout_trace,
    traced,
):
    """Compiled twin of :func:`present_steps_numpy`: k micro-steps in one call."""
    one = v.dtype.type(1.0)
    for m in range(inputs.shape[0]):
        x = inputs[m]
        z_prev[:] = z
        layer_input[:] = x
        synaptic_current(w_in, x, w_rec, z_prev, current)
        neuron_step(current, v, a, z, refractory, psi, alpha, rho, beta, v_th, gamma, n_ref, sigmoid_width)
        leaky_readout(w_out, z, b_out, kappa, y)
        if m >= traced:
            continue
        eligibility_step(
            x,
            pre_in,
            psi,
            beta,
            n_lif,
            alpha,
            rho,
            filter_decay,
            eps_in,
            filtered_in,
            no_signal,
            no_signal,
            accum_in,
            one,
            False,
        )
        eligibility_step(
            z_prev,
            pre_rec,
            psi,
            beta,
            n_lif,
            alpha,
            rho,
            filter_decay,
            eps_rec,
            filtered_rec,
            no_signal,
            no_signal,
            accum_rec,
            one,
            True,
        )
        for j in range(readout_trace.shape[0]):
            readout_trace[j] = kappa * readout_trace[j] + z[j]


# --------------------------------------------------------------------------- whole sequences
def simulate_steps_numpy(
    inputs,
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
    z_hist,
    psi_hist,
    y_hist,
    y,
):
    """Run ``len(inputs)`` forward steps from the current state, in place, recording the spikes,
    pseudo-derivatives and readouts of every step (rows of ``z_hist``, ``psi_hist``, ``y_hist``)."""
    z_prev = np.empty_like(z)
    for t in range(inputs.shape[0]):
        z_prev[:] = z
        synaptic_current_numpy(w_in, inputs[t], w_rec, z_prev, current)
        neuron_step_numpy(
            current, v, a, z, refractory, psi, alpha, rho, beta, v_th, gamma, n_ref, sigmoid_width
        )
        leaky_readout_numpy(w_out, z, b_out, kappa, y)
        z_hist[t], psi_hist[t], y_hist[t] = z, psi, y


@_jit
def simulate_steps(
    inputs,
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
    z_hist,
    psi_hist,
    y_hist,
    y,
):
    """Compiled twin of :func:`simulate_steps_numpy`: a whole sequence in one call."""
    z_prev = np.empty_like(z)
    for t in range(inputs.shape[0]):
        z_prev[:] = z
        synaptic_current(w_in, inputs[t], w_rec, z_prev, current)
        neuron_step(current, v, a, z, refractory, psi, alpha, rho, beta, v_th, gamma, n_ref, sigmoid_width)
        leaky_readout(w_out, z, b_out, kappa, y)
        z_hist[t] = z
        psi_hist[t] = psi
        y_hist[t] = y


def exponential_filter_numpy(x, decay, initial, out):
    """out[t] = decay out[t-1] + x[t] along the first axis, out[-1] := ``initial``."""
    previous = initial
    for t in range(x.shape[0]):
        out[t] = decay * previous + x[t]
        previous = out[t]


@_jit
def exponential_filter(x, decay, initial, out):
    """Compiled twin of :func:`exponential_filter_numpy`."""
    for j in range(x.shape[1]):
        out[0, j] = decay * initial[j] + x[0, j]
    for t in range(1, x.shape[0]):
        for j in range(x.shape[1]):
            out[t, j] = decay * out[t - 1, j] + x[t, j]


def eprop_sequence_factors_numpy(signal, reg, psi, beta, n_lif, rho, kappa, out):
    """Per neuron and step, the factor h that turns a whole sequence of e-prop updates into one
    product, sum_t (L^t ebar^t + R^t e^t)_ji = sum_s h_j^s p_i^s (p: presynaptic traces):

        Lbar^s = L^s + kappa Lbar^{s+1},   Q = Lbar + R            (ebar's filter, run backwards)
        G^s    = Q^{s+1} psi^{s+1} + (rho - psi^{s+1} beta) G^{s+1}, G^T = 0   (ALIF eps_a path)
        h^s    = psi^s (Q^s - beta G^s)                            (LIF: beta = 0, h = psi Q)
    """
    n_steps = signal.shape[0]
    lbar = np.zeros(signal.shape[1], signal.dtype)
    g = np.zeros(signal.shape[1], signal.dtype)
    q_next = np.zeros(signal.shape[1], signal.dtype)
    psi_next = np.zeros(signal.shape[1], signal.dtype)
    for t in range(n_steps - 1, -1, -1):
        lbar = signal[t] + kappa * lbar
        q = lbar + reg[t]
        g = q_next * psi_next + (rho - psi_next * beta) * g
        g[:n_lif] = 0
        out[t] = psi[t] * (q - beta * g)
        q_next, psi_next = q, psi[t]


@_jit
def eprop_sequence_factors(signal, reg, psi, beta, n_lif, rho, kappa, out):
    """Compiled twin of :func:`eprop_sequence_factors_numpy` (time outside, neurons inside: the
    histories are (T, n) row-major)."""
    n_steps, n = signal.shape
    lbar = np.zeros(n, signal.dtype)
    g = np.zeros(n, signal.dtype)
    q_next = np.zeros(n, signal.dtype)
    psi_next = np.zeros(n, signal.dtype)
    for t in range(n_steps - 1, -1, -1):
        for j in range(n):
            lbar[j] = signal[t, j] + kappa * lbar[j]
            q = lbar[j] + reg[t, j]
            if j >= n_lif:
                g[j] = q_next[j] * psi_next[j] + (rho - psi_next[j] * beta[j]) * g[j]
            out[t, j] = psi[t, j] * (q - beta[j] * g[j])
            q_next[j] = q
            psi_next[j] = psi[t, j]


KERNELS = {
    "synaptic_current": {"numba": synaptic_current, "numpy": synaptic_current_numpy},
    "neuron_step": {"numba": neuron_step, "numpy": neuron_step_numpy},
    "escape_neuron_step": {"numba": escape_neuron_step, "numpy": escape_neuron_step_numpy},
    "leaky_readout": {"numba": leaky_readout, "numpy": leaky_readout_numpy},
    "softmax_into": {"numba": softmax_into, "numpy": softmax_into_numpy},
    "eligibility_step": {"numba": eligibility_step, "numpy": eligibility_step_numpy},
    "eligibility_step_parallel": {"numba": eligibility_step_parallel, "numpy": eligibility_step_numpy},
    "learn_eligibility_step": {"numba": learn_eligibility_step, "numpy": learn_eligibility_step_numpy},
    "learn_eligibility_step_parallel": {
        "numba": learn_eligibility_step_parallel,
        "numpy": learn_eligibility_step_numpy,
    },
    "lazy_eligibility_step": {"numba": lazy_eligibility_step, "numpy": lazy_eligibility_step_numpy},
    "lazy_eligibility_step_parallel": {
        "numba": lazy_eligibility_step_parallel,
        "numpy": lazy_eligibility_step_numpy,
    },
    "settle_rows": {"numba": settle_rows, "numpy": settle_rows_numpy},
    "present_steps": {"numba": present_steps, "numpy": present_steps_numpy},
    "simulate_steps": {"numba": simulate_steps, "numpy": simulate_steps_numpy},
    "exponential_filter": {"numba": exponential_filter, "numpy": exponential_filter_numpy},
    "eprop_sequence_factors": {"numba": eprop_sequence_factors, "numpy": eprop_sequence_factors_numpy},
}

BACKENDS = ("numba", "numpy")


def kernel(name: str, backend: str):
    """Return kernel ``name`` for ``backend`` ("numba" or "numpy")."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    return KERNELS[name][backend]
