"""The compiled online chunk (``EProp.learn_online``, ``rules/_kernels.eprop_online_steps``):
a whole sequence of per-step e-prop with plain SGD folded into the weights, in one call, must
produce the same bits as the stepwise Python loop (``OnlineLearner(stepwise=True)``) — weights,
outputs, spike counts, and every state the next sequence starts from."""

import numpy as np
import pytest
from conftest import random_sequence, small_network

import locallearn as ll
from locallearn.kernels import kernel, libm_exp


def _state(net, rule) -> dict:
    """Everything the next step reads: weights, neuron state, traces, the rule's own state."""
    layer = net.layers[0]
    state = {f"param/{k}": v.copy() for k, v in net.params.items()}
    for name in ("v", "a", "z", "refractory", "psi"):
        state[f"neuron/{name}"] = getattr(layer.state, name).copy()
    state["y"] = net.y.copy()
    for kind, projection in rule.traces.projections.items():
        state[f"{kind}/pre"] = projection.presynaptic_trace.copy()
        state[f"{kind}/eps_a"] = projection.eps_a.copy()
        state[f"{kind}/filtered"] = projection.filtered.copy()
    state["readout_trace"] = rule.readout_trace.copy()
    state["bias_trace"] = np.array(rule.bias_trace)
    state["rate"] = rule.rate_khz.copy()
    state["reg"] = rule.reg_signals[0].copy()
    return state


def _run(stepwise: bool, *, seed, n_rec, n_adaptive, dtype, loss, feedback, c_reg, backend, sequences=3):
    net = small_network(seed, n_rec=n_rec, n_adaptive=n_adaptive, dtype=dtype, backend=backend)
    rule = ll.rules.make("eprop", feedback=feedback, c_reg=c_reg)
    learner = ll.OnlineLearner(net, rule, ll.SGD(lr=0.05), loss=loss, update="step", stepwise=stepwise)
    assert rule.can_learn_online(net)
    results = []
    for index in range(sequences):
        inputs, targets, mask = random_sequence(net, T=40, seed=seed + index, loss=loss)
        mask = np.asarray(mask, float)
        mask[5:9] = 0  # masked steps inside the sequence: traces advance without a signal
        results.append(learner.run_sequence(inputs, targets, mask))
    return results, _state(net, rule)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("n_adaptive", [0, 5], ids=["LIF", "mixed"])
@pytest.mark.parametrize("feedback", ["symmetric", "random", "direct", "none"])
@pytest.mark.parametrize("c_reg", [0.0, 0.5])
def test_compiled_online_chunk_is_bit_identical_to_the_stepwise_loop(
    backend, dtype, loss, n_adaptive, feedback, c_reg
):
    settings = dict(
        seed=3, n_rec=10, n_adaptive=n_adaptive, dtype=dtype, loss=loss, feedback=feedback, c_reg=c_reg
    )
    chunk, chunk_state = _run(False, backend=backend, **settings)
    loop, loop_state = _run(True, backend=backend, **settings)
    assert sum(r.spikes for r in loop) > 30  # the network is active: the comparison means something
    for a, b in zip(chunk, loop):
        np.testing.assert_array_equal(a.outputs, b.outputs)
        assert a.spikes == b.spikes and a.loss == b.loss
    for key, value in loop_state.items():
        np.testing.assert_array_equal(chunk_state[key], value, err_msg=key)
    if feedback != "none":  # learning below the readout happened
        start = small_network(3, n_rec=10, n_adaptive=n_adaptive, dtype=dtype, backend=backend)
        assert not np.array_equal(chunk_state["param/w_rec"], start.w_rec)


def _run_trials(path: str, *, seed, dtype, loss, feedback, c_reg, backend, sequences=4):
    """Trial updates (Adam after every 2 sequences) by the factored path, the compiled online
    path (``factored=False``) or the stepwise loop."""
    net = small_network(seed, n_rec=10, n_adaptive=5, dtype=dtype, backend=backend)
    rule = ll.rules.make("eprop", feedback=feedback, c_reg=c_reg)
    learner = ll.OnlineLearner(
        net,
        rule,
        ll.Adam(lr=0.02),
        loss=loss,
        update="trial",
        batch_size=2,
        stepwise=path == "stepwise",
        factored=path == "factored",
    )
    results = []
    for index in range(sequences):
        inputs, targets, mask = random_sequence(net, T=40, seed=seed + index, loss=loss)
        mask = np.asarray(mask, float)
        mask[5:9] = 0
        results.append(learner.run_sequence(inputs, targets, mask))
    return results, _state(net, rule), rule


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("feedback", ["symmetric", "random"])
@pytest.mark.parametrize("c_reg", [0.0, 0.5])
def test_online_trial_updates_in_one_call_are_bit_identical_to_the_stepwise_loop(
    backend, dtype, loss, feedback, c_reg
):
    """factored=False: gradients added at every step with the weights frozen, in one compiled
    call per sequence — the stepwise loop's bits; the factored path agrees only to rounding."""
    settings = dict(seed=4, dtype=dtype, loss=loss, feedback=feedback, c_reg=c_reg, backend=backend)
    online, online_state, online_rule = _run_trials("online", sequences=3, **settings)
    loop, loop_state, loop_rule = _run_trials("stepwise", sequences=3, **settings)
    factored, factored_state, _ = _run_trials("factored", sequences=3, **settings)
    assert sum(r.spikes for r in loop) > 30
    for a, b in zip(online, loop):
        np.testing.assert_array_equal(a.outputs, b.outputs)
        assert a.spikes == b.spikes and a.loss == b.loss
    for key, value in loop_state.items():
        np.testing.assert_array_equal(online_state[key], value, err_msg=key)
    for name, value in loop_rule.gradients().items():  # the third sequence's, not yet applied
        assert np.any(value != 0)
        np.testing.assert_array_equal(online_rule.gradients()[name], value, err_msg=name)
    start = small_network(4, n_rec=10, n_adaptive=5, dtype=dtype, backend=backend)
    assert not np.array_equal(online_state["param/w_rec"], start.w_rec)  # two Adam steps were taken
    rtol = 1e-4 if dtype == "float32" else 1e-9
    for key in ("param/w_in", "param/w_rec", "param/w_out"):
        np.testing.assert_allclose(factored_state[key], loop_state[key], rtol=rtol, atol=rtol, err_msg=key)


def test_online_trial_updates_with_learned_feedback_keep_the_stepwise_loop():
    settings = dict(seed=5, dtype="float64", loss="mse", feedback="adaptive", c_reg=0.0, backend="numba")
    online, online_state, _ = _run_trials("online", **settings)
    loop, loop_state, _ = _run_trials("stepwise", **settings)
    for key, value in loop_state.items():
        np.testing.assert_array_equal(online_state[key], value, err_msg=key)
    with pytest.raises(ValueError, match="factored must be true or false"):
        ll.OnlineLearner(small_network(1), ll.rules.make("eprop"), ll.SGD(lr=0.1), factored=0)


def test_the_compiled_chunk_with_a_thread_split_sweep_is_bit_identical_too():
    """n_rec = 640: 409,600 recurrent synapses, above the engine's threshold for splitting a
    sweep over threads (when numba has more than one)."""
    import numba

    from locallearn.traces import PARALLEL_MIN_SYNAPSES

    assert 640 * 640 >= PARALLEL_MIN_SYNAPSES
    settings = dict(
        seed=1, n_rec=640, n_adaptive=100, dtype="float32", loss="mse", feedback="random", c_reg=0.3
    )
    chunk, chunk_state = _run(False, backend="numba", sequences=2, **settings)
    loop, loop_state = _run(True, backend="numba", sequences=2, **settings)
    net = small_network(1, n_rec=640, n_adaptive=100, dtype="float32")
    rule = ll.rules.make("eprop")
    rule.bind(net)
    assert rule.traces.parallel_sweeps == (False, numba.get_num_threads() > 1)
    for key, value in loop_state.items():
        np.testing.assert_array_equal(chunk_state[key], value, err_msg=key)
    assert [r.spikes for r in chunk] == [r.spikes for r in loop]


@pytest.mark.parametrize("feedback", ["adaptive", "sign_symmetry", "weight_mirror"])
def test_feedback_that_learns_or_is_derived_each_step_keeps_the_stepwise_loop(feedback):
    net = small_network(2)
    rule = ll.rules.make("eprop", feedback=feedback)
    rule.bind(net)
    assert not rule.can_learn_online(net)
    with pytest.raises(NotImplementedError, match="learn_online"):
        inputs, targets, mask = random_sequence(net)
        rule.learn_online(net, inputs, targets, "mse", mask, 0.1)


def test_a_stack_or_an_optimizer_other_than_sgd_keeps_the_stepwise_loop():
    stack = small_network(2, n_rec=(6, 6))
    rule = ll.rules.make("eprop", feedback="random")
    rule.bind(stack)
    assert not rule.can_learn_online(stack)
    net = small_network(2)
    adam = ll.OnlineLearner(net, ll.rules.make("eprop"), ll.Adam(lr=1e-3), update="step")
    assert not adam.direct  # Adam is applied by the optimizer after every step: no folding


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 3, 9, 17])
def test_softmax_into_twins_agree_exactly_and_equal_softmax(dtype, n):
    rng = np.random.default_rng(n)
    for _ in range(50):
        y = (rng.standard_normal(n) * 4).astype(dtype)
        out = [np.empty(n, dtype) for _ in range(2)]
        kernel("softmax_into", "numba")(y, out[0])
        kernel("softmax_into", "numpy")(y, out[1])
        np.testing.assert_array_equal(out[0], out[1])
        shifted = libm_exp(y.astype(np.float64) - y.max())
        np.testing.assert_allclose(
            out[0], shifted / shifted.sum(), rtol=1e-5 if dtype == np.float32 else 1e-14
        )


def test_the_chunk_kernel_runs_when_loaded_from_numbas_cache(tmp_path):
    """A cached numba function that calls a ``parallel=True`` one segfaults when a later process
    loads it from the cache (this kernel did, before its thread split moved inside it). Two fresh
    processes: the first may compile and cache, the second must load and run."""
    import subprocess
    import sys

    script = (
        "import numpy as np, locallearn as ll\n"
        "net = ll.Network(ll.NetworkConfig(n_in=4, n_rec=10, n_out=2, seed=0))\n"
        "learner = ll.OnlineLearner(net, ll.rules.make('eprop'), ll.SGD(lr=0.01), update='step')\n"
        "x = (np.random.default_rng(0).random((30, 4)) < 0.3).astype(np.float32)\n"
        "print(learner.run_sequence(x, np.zeros((30, 2))).spikes)\n"
    )
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=600, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout)
    assert outputs[0] == outputs[1]
