"""Every numba kernel equals its plain-numpy twin (property-based over shapes, constants, spikes)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from locallearn.rules import _kernels as rule_kernels

from locallearn import encoders, kernels

DTYPES = {"float64": (np.float64, 1e-12), "float32": (np.float32, 2e-5)}
common = settings(max_examples=60, deadline=None)


def _spikes(rng, shape, density, dtype):
    return (rng.random(shape) < density).astype(dtype)


def _assert_same(a, b, tol):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


@common
@given(
    n_post=st.integers(1, 12),
    n_in=st.integers(1, 12),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**31),
    dtype=st.sampled_from(list(DTYPES)),
    recurrent=st.booleans(),
    analog=st.booleans(),
)
def test_synaptic_current_twins_agree(n_post, n_in, density, seed, dtype, recurrent, analog):
    t, tol = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    w_in = rng.standard_normal((n_post, n_in)).astype(t)
    w_rec = rng.standard_normal((n_post, n_post if recurrent else 0)).astype(t)
    x = _spikes(rng, n_in, density, t) * (rng.standard_normal(n_in).astype(t) if analog else 1)
    z = _spikes(rng, w_rec.shape[1], density, t)
    out_numba, out_numpy = np.empty(n_post, t), np.empty(n_post, t)
    kernels.synaptic_current(w_in, x, w_rec, z, out_numba)
    kernels.synaptic_current_numpy(w_in, x, w_rec, z, out_numpy)
    _assert_same(out_numba, out_numpy, tol)


@common
@given(
    n=st.integers(1, 16),
    n_adaptive=st.integers(0, 16),
    seed=st.integers(0, 2**31),
    alpha=st.floats(0.5, 0.999),
    rho=st.floats(0.5, 0.9999),
    n_ref=st.integers(0, 5),
    sigmoid=st.booleans(),
    dtype=st.sampled_from(list(DTYPES)),
    steps=st.integers(1, 20),
)
def test_neuron_step_twins_agree(n, n_adaptive, seed, alpha, rho, n_ref, sigmoid, dtype, steps):
    t, tol = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    n_adaptive = min(n_adaptive, n)
    beta = np.zeros(n, t)
    beta[n - n_adaptive :] = rng.uniform(0, 0.5)
    states = []
    for _ in range(2):
        states.append([np.zeros(n, t), np.zeros(n, t), np.zeros(n, t), np.zeros(n, np.int32), np.zeros(n, t)])
    args = (t(alpha), t(rho), beta, t(0.6), t(0.3), n_ref, t(0.2 if sigmoid else 0.0))
    for _ in range(steps):
        current = (rng.standard_normal(n) * 0.8).astype(t)
        kernels.neuron_step(current, *states[0], *args)
        kernels.neuron_step_numpy(current, *states[1], *args)
        for a, b in zip(states[0], states[1]):
            if sigmoid:
                _assert_same(a, b, tol)
            else:
                np.testing.assert_array_equal(a, b)


@common
@given(
    n_out=st.integers(1, 6),
    n=st.integers(1, 20),
    density=st.floats(0, 1),
    seed=st.integers(0, 2**31),
    kappa=st.floats(0, 0.999),
    dtype=st.sampled_from(list(DTYPES)),
)
def test_leaky_readout_twins_agree(n_out, n, density, seed, kappa, dtype):
    t, tol = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    w_out = rng.standard_normal((n_out, n)).astype(t)
    bias = rng.standard_normal(n_out).astype(t)
    y0 = rng.standard_normal(n_out).astype(t)
    z = _spikes(rng, n, density, t)
    y_numba, y_numpy = y0.copy(), y0.copy()
    kernels.leaky_readout(w_out, z, bias, t(kappa), y_numba)
    kernels.leaky_readout_numpy(w_out, z, bias, t(kappa), y_numpy)
    _assert_same(y_numba, y_numpy, tol)


@common
@given(
    n_post=st.integers(1, 10),
    n_pre=st.integers(1, 10),
    n_adaptive=st.integers(0, 10),
    seed=st.integers(0, 2**31),
    alpha=st.floats(0.5, 0.999),
    rho=st.floats(0.5, 0.9999),
    filter_decay=st.floats(0, 0.999),
    accum_decay=st.sampled_from([0.0, 0.5, 1.0]),
    density=st.floats(0, 1),
    square=st.booleans(),
    dtype=st.sampled_from(list(DTYPES)),
    steps=st.integers(1, 15),
)
def test_eligibility_step_twins_agree(
    n_post, n_pre, n_adaptive, seed, alpha, rho, filter_decay, accum_decay, density, square, dtype, steps
):
    t, tol = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    if square:
        n_pre = n_post
    n_adaptive = min(n_adaptive, n_post)
    n_lif = n_post - n_adaptive
    beta = np.zeros(n_post, t)
    beta[n_lif:] = rng.uniform(0, 1, n_adaptive)
    states = []
    for _ in range(2):
        states.append(
            dict(
                pre_trace=np.zeros(n_pre, t),
                eps_a=np.zeros((n_adaptive, n_pre), t),
                filtered=np.zeros((n_post, n_pre), t),
                accum=np.full((n_post, n_pre), 0.25, t),
            )
        )
    for _ in range(steps):
        pre = _spikes(rng, n_pre, density, t)
        psi = np.maximum(0, rng.standard_normal(n_post)).astype(t)
        signal = rng.standard_normal(n_post).astype(t)
        reg = rng.standard_normal(n_post).astype(t)
        for implementation, s in (
            (kernels.eligibility_step, states[0]),
            (kernels.eligibility_step_numpy, states[1]),
        ):
            implementation(
                pre,
                s["pre_trace"],
                psi,
                beta,
                n_lif,
                t(alpha),
                t(rho),
                t(filter_decay),
                s["eps_a"],
                s["filtered"],
                signal,
                reg,
                s["accum"],
                t(accum_decay),
                square,
            )
        for key in states[0]:
            _assert_same(states[0][key], states[1][key], tol)
    if square:
        np.testing.assert_array_equal(np.diagonal(states[0]["accum"]), 0.25)


@pytest.mark.parametrize("square", [False, True])
def test_parallel_eligibility_sweep_is_bit_identical_to_the_serial_one(square):
    rng = np.random.default_rng(3)
    t = np.float32
    n_post, n_pre, n_adaptive = 300, 300 if square else 400, 120
    beta = np.zeros(n_post, t)
    beta[n_post - n_adaptive :] = 0.3
    states = [
        dict(
            pre_trace=np.zeros(n_pre, t),
            eps_a=np.zeros((n_adaptive, n_pre), t),
            filtered=np.zeros((n_post, n_pre), t),
            accum=np.full((n_post, n_pre), 0.25, t),
        )
        for _ in range(2)
    ]
    for step in range(5):
        pre = _spikes(rng, n_pre, 0.3, t)
        psi = np.maximum(0, rng.standard_normal(n_post)).astype(t)
        signal = rng.standard_normal(n_post).astype(t) if step % 2 else np.zeros(n_post, t)
        reg = np.zeros(n_post, t)
        for implementation, s in (
            (kernels.eligibility_step, states[0]),
            (kernels.eligibility_step_parallel, states[1]),
        ):
            implementation(
                pre,
                s["pre_trace"],
                psi,
                beta,
                n_post - n_adaptive,
                t(0.9),
                t(0.99),
                t(0.95),
                s["eps_a"],
                s["filtered"],
                signal,
                reg,
                s["accum"],
                t(1.0),
                square,
            )
    for key in states[0]:
        np.testing.assert_array_equal(states[0][key], states[1][key])


@common
@given(
    n_post=st.integers(1, 10),
    n_pre=st.integers(1, 10),
    n_adaptive=st.integers(0, 10),
    square=st.booleans(),
    seed=st.integers(0, 2**31),
    dtype=st.sampled_from(list(DTYPES)),
    steps=st.integers(1, 8),
)
def test_learn_eligibility_step_is_a_weight_update_then_a_trace_step(
    n_post, n_pre, n_adaptive, square, seed, dtype, steps
):
    """Numpy twin, compiled kernel, parallel kernel and the two-pass reference (W += s accum,
    then eligibility_step) agree; with ``square`` W's diagonal is never touched."""
    t, tol = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    n_pre = n_post if square else n_pre
    n_adaptive = min(n_adaptive, n_post)
    beta = np.zeros(n_post, t)
    beta[n_post - n_adaptive :] = rng.uniform(0, 1, n_adaptive)
    weights = rng.standard_normal((n_post, n_pre)).astype(t)
    states = [
        dict(
            weights=weights.copy(),
            pre_trace=np.zeros(n_pre, t),
            eps_a=np.zeros((n_adaptive, n_pre), t),
            filtered=np.zeros((n_post, n_pre), t),
            accum=rng.standard_normal((n_post, n_pre)).astype(t),
        )
        for _ in range(4)
    ]
    for s in states[1:]:
        for key in s:
            s[key][...] = states[0][key]

    def two_pass(weights, step, *args):
        change = step * args[-3]
        if args[-1]:
            np.fill_diagonal(change, 0)
        weights += change
        kernels.eligibility_step(*args)

    for _ in range(steps):
        pre = _spikes(rng, n_pre, 0.4, t)
        psi = np.maximum(0, rng.standard_normal(n_post)).astype(t)
        signal, reg = (rng.standard_normal(n_post).astype(t) for _ in range(2))
        step = t(rng.standard_normal())
        for implementation, s in zip(
            (
                kernels.learn_eligibility_step,
                kernels.learn_eligibility_step_numpy,
                kernels.learn_eligibility_step_parallel,
                two_pass,
            ),
            states,
        ):
            implementation(
                s["weights"],
                step,
                pre,
                s["pre_trace"],
                psi,
                beta,
                n_post - n_adaptive,
                t(0.9),
                t(0.99),
                t(0.8),
                s["eps_a"],
                s["filtered"],
                signal,
                reg,
                s["accum"],
                t(0.95),
                square,
            )
    for key in states[0]:
        _assert_same(states[0][key], states[1][key], tol)
        np.testing.assert_array_equal(states[0][key], states[2][key])
        np.testing.assert_array_equal(states[0][key], states[3][key])
    if square:
        np.testing.assert_array_equal(np.diagonal(states[0]["weights"]), np.diagonal(weights))


@common
@given(
    n_post=st.integers(1, 10),
    n_pre=st.integers(1, 10),
    n_adaptive=st.integers(0, 10),
    seed=st.integers(0, 2**31),
    rho=st.floats(0.5, 0.9999),
    filter_decay=st.floats(0, 0.999),
    accum_decay=st.sampled_from([0.0, 0.5, 1.0]),
    silent=st.floats(0, 1),
    square=st.booleans(),
    dtype=st.sampled_from(list(DTYPES)),
    steps=st.integers(1, 40),
)
def test_lazy_decay_equals_the_eager_sweep_and_its_twins_agree(
    n_post, n_pre, n_adaptive, seed, rho, filter_decay, accum_decay, silent, square, dtype, steps
):
    """Four engines on the same steps: eager compiled, lazy compiled, lazy numpy twin, lazy
    parallel. After settling, the lazy ones equal the eager one to rounding (the deferred decay
    is a product where the sweep multiplies step by step), the twins agree to rounding, and the
    parallel kernel equals the serial one bit for bit; with ``square`` the diagonal is kept."""
    t, tol = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    n_pre = n_post if square else n_pre
    n_adaptive = min(n_adaptive, n_post)
    n_lif = n_post - n_adaptive
    beta = np.zeros(n_post, t)
    beta[n_lif:] = rng.uniform(0, 1, n_adaptive)
    start = rng.standard_normal((n_post, n_pre)).astype(t)
    states = [
        dict(
            pre_trace=np.zeros(n_pre, t),
            eps_a=np.zeros((n_adaptive, n_pre), t),
            filtered=np.zeros((n_post, n_pre), t),
            accum=start.copy(),
            factors=tuple(np.full(n_post, f, np.float64) for f in (1.0, 1.0, 1.0, 0.0)),
        )
        for _ in range(4)
    ]
    lazies = (
        kernels.lazy_eligibility_step,
        kernels.lazy_eligibility_step_numpy,
        kernels.lazy_eligibility_step_parallel,
    )
    for step in range(steps):
        pre = _spikes(rng, n_pre, 0.4, t)
        # rows fall silent for stretches, as neurons far from threshold do
        psi = np.where(rng.random(n_post) < silent, 0, np.abs(rng.standard_normal(n_post))).astype(t)
        signal = rng.standard_normal(n_post).astype(t) if step % 3 else np.zeros(n_post, t)
        reg = rng.standard_normal(n_post).astype(t)
        constants = (t(0.9), t(rho), t(filter_decay))
        for index, s in enumerate(states):
            arguments = (pre, s["pre_trace"], psi, beta, n_lif, *constants, s["eps_a"], s["filtered"])
            arguments += (signal, reg, s["accum"], t(accum_decay), square)
            if index == 0:
                kernels.eligibility_step(*arguments)
            else:
                lazies[index - 1](*arguments, *s["factors"])
    for index, s in enumerate(states[1:]):
        settle = kernels.settle_rows_numpy if index == 1 else kernels.settle_rows
        settle(s["eps_a"], s["filtered"], s["accum"], n_lif, square, *s["factors"])
        for fill, factor in zip((1.0, 1.0, 1.0, 0.0), s["factors"]):
            assert np.all(factor == fill)
    scale = max(1.0, *(float(np.abs(states[0][k]).max(initial=0)) for k in ("filtered", "accum", "eps_a")))
    for key in ("pre_trace", "eps_a", "filtered", "accum"):
        for s in states[1:]:
            np.testing.assert_allclose(s[key], states[0][key], rtol=tol * 10, atol=tol * 10 * scale)
        np.testing.assert_array_equal(states[1][key], states[3][key])
    if square:
        for s in states:
            np.testing.assert_array_equal(np.diagonal(s["accum"]), np.diagonal(start))


def test_lazy_engine_defers_only_silent_rows_and_settles_before_anyone_reads():
    """In the engine: a silent row's arrays are untouched until settled, an eager step or a
    reset settles first, and a different accumulator is never handed another's deferred part."""
    import locallearn as ll
    from locallearn.traces import EligibilityTraces

    net = ll.Network(ll.NetworkConfig(n_in=3, n_rec=4, n_adaptive=2, n_out=1, dtype="float64", seed=1))
    layer = net.layers[0]
    eager, lazy = EligibilityTraces(layer, 0.9), EligibilityTraces(layer, 0.9, lazy=True)
    grads = [{name: np.zeros_like(value) for name, value in net.params.items()} for _ in range(3)]
    rng = np.random.default_rng(0)
    for step in range(30):
        net.step(rng.random(3))
        layer.state.psi[:2] = 0 if step % 10 < 7 else layer.state.psi[:2]  # rows 0, 1 silent mostly
        signal = rng.standard_normal(4)
        eager.step(signal, np.zeros(4), grads[0])
        lazy.step(signal, np.zeros(4), grads[1])
        if step == 5:
            frozen = lazy.projections["w_rec"].filtered[0].copy()
        if step == 6:  # row 0 was silent at steps 0-6: its stored trace did not move
            np.testing.assert_array_equal(lazy.projections["w_rec"].filtered[0], frozen)
    assert lazy._deferred is grads[1]
    eager.step(signal, np.zeros(4), grads[0])
    lazy.step(signal, np.zeros(4), grads[2])  # another accumulator: grads[1] is settled first
    assert lazy._deferred is grads[2]
    eager.step(signal, np.zeros(4), grads[0])
    lazy.step(signal, np.zeros(4), grads[2], eager=True)
    assert lazy._deferred is None
    for name in ("w_in", "w_rec"):
        np.testing.assert_allclose(grads[1][name] + grads[2][name], grads[0][name], rtol=1e-12, atol=1e-12)
        for kind in ("filtered", "eps_a"):
            np.testing.assert_allclose(
                getattr(lazy.projections[name], kind),
                getattr(eager.projections[name], kind),
                rtol=1e-12,
                atol=1e-14,
            )
    with pytest.raises(ValueError, match="lazy must be true or false"):
        EligibilityTraces(layer, 0.9, lazy="yes")


def test_kernel_lookup_rejects_unknown_backend():
    import pytest

    with pytest.raises(ValueError, match="backend"):
        kernels.kernel("neuron_step", "cuda")


@common
@given(
    n=st.integers(1, 12),
    n_adaptive=st.integers(0, 12),
    steps=st.integers(1, 40),
    seed=st.integers(0, 2**31),
    dtype=st.sampled_from(sorted(DTYPES)),
)
def test_whole_sequence_kernels_twins_agree(n, n_adaptive, steps, seed, dtype):
    t, tol = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    n_adaptive = min(n_adaptive, n)
    beta = np.zeros(n, t)
    beta[n - n_adaptive :] = rng.uniform(0, 1, n_adaptive)
    signal, reg = (rng.standard_normal((steps, n)).astype(t) for _ in range(2))
    psi = np.maximum(0, rng.standard_normal((steps, n))).astype(t)
    outs = [np.empty((steps, n), t) for _ in range(2)]
    kernels.eprop_sequence_factors(signal, reg, psi, beta, n - n_adaptive, t(0.98), t(0.9), outs[0])
    kernels.eprop_sequence_factors_numpy(signal, reg, psi, beta, n - n_adaptive, t(0.98), t(0.9), outs[1])
    _assert_same(outs[0], outs[1], tol)
    initial = rng.standard_normal(n).astype(t)
    filtered = [np.empty((steps, n), t) for _ in range(2)]
    kernels.exponential_filter(signal, t(0.8), initial, filtered[0])
    kernels.exponential_filter_numpy(signal, t(0.8), initial, filtered[1])
    _assert_same(filtered[0], filtered[1], tol)


def test_libm_exp_rounds_like_compiled_exp():
    # the exact twins take exp from the C library because compiled kernels do; numpy's own exp
    # may differ by an ulp on wide-SIMD CPUs, so it is not the reference here
    import numba

    compiled_exp = numba.njit(lambda x: np.exp(x))
    x = np.random.default_rng(3).uniform(-40.0, 40.0, 20_000)
    got = kernels.libm_exp(x)
    assert got.shape == x.shape
    assert all(got[i] == compiled_exp(x[i]) for i in range(0, x.size, 7))
    np.testing.assert_allclose(got, np.exp(x), rtol=1e-15)
    assert kernels.libm_exp(np.zeros((2, 3))).shape == (2, 3)


@common
@given(
    n_actions=st.integers(2, 6),
    seed=st.integers(0, 2**31),
    beta=st.floats(0.1, 5.0),
    scale=st.sampled_from([1e-3, 1.0, 30.0]),
    greedy=st.booleans(),
    dtype=st.sampled_from(list(DTYPES)),
)
def test_policy_decision_twins_agree_exactly(n_actions, seed, beta, scale, greedy, dtype):
    # exactly: a lifetime's actions, hence its whole trajectory, hang on these bits
    t, _ = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    y = (scale * rng.standard_normal(n_actions + 1)).astype(t)
    for u in (rng.random(), 0.0, np.nextafter(1.0, 0.0)):
        pis = [np.zeros(n_actions) for _ in range(2)]
        errs = [np.zeros(n_actions + 1, t) for _ in range(2)]
        a_numba = rule_kernels.policy_decision(y, beta, u, greedy, 0.5, pis[0], errs[0])
        a_numpy = rule_kernels.policy_decision_numpy(y, beta, u, greedy, 0.5, pis[1], errs[1])
        assert a_numba == a_numpy and 0 <= a_numba < n_actions
        np.testing.assert_array_equal(pis[0], pis[1])
        np.testing.assert_array_equal(errs[0], errs[1])
        assert errs[0][n_actions] == t(-0.5)


def test_policy_decision_samples_by_the_inverse_cdf_and_signs_the_error():
    y = np.log(np.array([0.2, 0.3, 0.5, 0.0], np.float64))
    y[3] = 1.7  # the value unit is not part of the policy
    pi, err = np.zeros(3), np.zeros(4)
    for u, expected in ((0.0, 0), (0.19, 0), (0.21, 1), (0.49, 1), (0.51, 2), (0.999, 2)):
        assert rule_kernels.policy_decision(y, 1.0, u, False, 1.0, pi, err) == expected
        np.testing.assert_allclose(pi, [0.2, 0.3, 0.5])
        onehot = np.eye(3)[expected]
        np.testing.assert_allclose(err[:3], pi - onehot)  # = -dlog pi_a / dy
        assert err[3] == -1.0
    assert rule_kernels.policy_decision(y, 1.0, 0.0, True, 1.0, pi, err) == 2  # greedy: the argmax


@common
@given(
    n_out=st.integers(1, 5),
    n=st.integers(1, 20),
    seed=st.integers(0, 2**31),
    density=st.floats(0, 1),
    dtype=st.sampled_from(list(DTYPES)),
)
def test_readout_eligibility_step_twins_agree_exactly(n_out, n, seed, density, dtype):
    t, _ = DTYPES[dtype]
    rng = np.random.default_rng(seed)
    z = _spikes(rng, n, density, t)
    err = rng.standard_normal(n_out).astype(t)
    start = [
        rng.standard_normal(n).astype(t),
        rng.standard_normal((n_out, n)).astype(t),
        rng.standard_normal(n_out).astype(t),
    ]
    results = []
    for step in (rule_kernels.readout_eligibility_step, rule_kernels.readout_eligibility_step_numpy):
        trace, f_w, f_b = (a.copy() for a in start)
        step(z, t(0.7), t(0.94), err, t(2.5), trace, f_w, f_b)
        results.append((trace, f_w, f_b))
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(results[0][0], 0.7 * start[0] + z, rtol=1e-6)


@common
@given(
    d=st.integers(1, 8), n_fields=st.integers(2, 16), seed=st.integers(0, 2**31), width=st.floats(0.01, 1.0)
)
def test_population_activation_twins_agree_exactly(d, n_fields, seed, width):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-0.5, 1.5, d)  # outside [0, 1] too: clipped
    centres = np.linspace(0, 1, n_fields)
    outs = [np.empty(d * n_fields) for _ in range(2)]
    encoders.population_activation(u, centres, width, outs[0])
    encoders.population_activation_numpy(u, centres, width, outs[1])
    np.testing.assert_array_equal(outs[0], outs[1])
    fields = outs[0][:n_fields]
    if fields.max() > 0:  # narrow fields far from u underflow to 0 everywhere: no peak to find
        assert np.argmax(fields) == np.argmin(np.abs(centres - np.clip(u[0], 0, 1)))
