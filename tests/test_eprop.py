"""e-prop against the exact references (DESIGN §4, "an exact characterisation")."""

import numpy as np
import pytest
from conftest import activity_report, random_sequence, small_network

import locallearn as ll
from locallearn.metrics import relative_error
from locallearn.traces import EligibilityTraces

EPROP_MODEL = ("recurrent", "reset")


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("n_adaptive", [0, 4, 8])
def test_eprop_readout_gradient_equals_bptt(loss, n_adaptive):
    net = small_network(1, n_adaptive=n_adaptive)
    inputs, targets, mask = random_sequence(net, seed=1, loss=loss)
    g = ll.gradient_estimate(
        net, ll.rules.make("eprop", feedback="random"), inputs, targets, loss=loss, mask=mask
    )
    gb = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask)
    for key in ("w_out", "b_out"):
        assert relative_error(g[key], gb[key]) <= 1e-10, key


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("n_adaptive", [0, 4, 8], ids=["LIF", "mixed", "ALIF"])
@pytest.mark.parametrize("seed", [0, 5])
def test_symmetric_eprop_equals_bptt_with_spikes_constant_into_membranes(loss, n_adaptive, seed):
    net = small_network(seed, n_adaptive=n_adaptive, n_ref=2)
    inputs, targets, mask = random_sequence(net, seed=seed, loss=loss)
    activity = activity_report(net, inputs)
    assert activity["spikes"] > 20 and activity["refractory_blocks"] > 0
    g = ll.gradient_estimate(
        net, ll.rules.make("eprop", feedback="symmetric"), inputs, targets, loss=loss, mask=mask
    )
    gb = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask, detach=EPROP_MODEL)
    assert g["loss"] == pytest.approx(gb["loss"], rel=1e-12)
    for key in ("w_in", "w_rec", "w_out", "b_out"):
        assert relative_error(g[key], gb[key]) <= 1e-9, key
    # and it is an approximation of the full gradient, not the gradient itself
    full = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask)
    assert relative_error(g["w_rec"], full["w_rec"]) > 1e-6


@pytest.mark.parametrize("n_adaptive", [0, 4, 8])
def test_factorization_with_total_learning_signal_is_exact(n_adaptive):
    """Sum_t (dE/dz_j^t) e_ji^t == BPTT, with e_ji^t = psi_j^t (eps_v - beta_j eps_a) from the
    engine and dE/dz_j^t the adjoint's total derivative through every path except neuron j's own
    hidden state. Treated as constant on both sides: the reset -v_th z_j^{t-1} (our eligibility
    vector eps_v is the plain presynaptic trace, so it carries no reset term). Kept on both sides:
    the recurrent input W_rec z^{t-1} (in dE/dz), the adaptation a_j (in eps_a), the readout."""
    net = small_network(2, n_adaptive=n_adaptive)
    inputs, targets, mask = random_sequence(net, seed=2)
    gb = ll.reference.bptt_gradients(net, inputs, targets, mask=mask, detach=("reset",))
    traces = EligibilityTraces(net.layers[0], filter_decay=0.0)
    accum = {"w_in": np.zeros_like(net.w_in), "w_rec": np.zeros_like(net.w_rec)}
    no_reg = np.zeros(net.n_rec)
    net.reset_state()
    for t, x in enumerate(net.check_inputs(inputs)):
        net.step(x)
        traces.step(gb["learning_signal"][t], no_reg, accum)
    for key in ("w_in", "w_rec"):
        assert relative_error(accum[key], gb[key]) <= 1e-12, key


def test_direct_equals_random_feedback_for_one_layer():
    net = small_network(3)
    inputs, targets, mask = random_sequence(net, seed=3)
    g_random = ll.gradient_estimate(
        net, ll.rules.make("eprop", feedback="random"), inputs, targets, mask=mask
    )
    g_direct = ll.gradient_estimate(
        net, ll.rules.make("eprop", feedback="direct"), inputs, targets, mask=mask
    )
    for key in ("w_in", "w_rec", "w_out"):
        np.testing.assert_array_equal(g_random[key], g_direct[key])


def test_random_feedback_differs_from_symmetric_but_readout_is_shared():
    net = small_network(3)
    inputs, targets, mask = random_sequence(net, seed=3)
    g_sym = ll.gradient_estimate(net, ll.rules.make("eprop"), inputs, targets, mask=mask)
    g_rand = ll.gradient_estimate(net, ll.rules.make("eprop", feedback="random"), inputs, targets, mask=mask)
    np.testing.assert_allclose(g_sym["w_out"], g_rand["w_out"], rtol=1e-12)
    assert relative_error(g_rand["w_in"], g_sym["w_in"]) > 0.1


def test_random_feedback_matrix_has_variance_one_over_n_out():
    net = small_network(0, n_rec=400, n_out=5, n_in=2, n_adaptive=0)
    rule = ll.rules.make("eprop", feedback="random")
    rule.bind(net)
    B = rule.feedback.matrix()
    assert B.shape == (400, 5)
    assert np.var(B) == pytest.approx(1 / 5, rel=0.1)


def test_learning_signal_is_feedback_times_error():
    net = small_network(0)
    for mode in ("symmetric", "random", "adaptive"):
        rule = ll.rules.make("eprop", feedback=mode)
        rule.bind(net)
        error = np.array([0.5, -1.0, 2.0])
        np.testing.assert_allclose(
            rule.feedback.learning_signal(error), rule.feedback.matrix() @ error, rtol=1e-14
        )


def test_kolen_pollack_shrinks_mismatch_by_one_minus_decay_per_update():
    net = small_network(4)
    inputs, targets, mask = random_sequence(net, T=30, seed=4)
    decay = 0.05
    rule = ll.rules.make("eprop", feedback="adaptive", feedback_options={"decay": decay})
    learner = ll.OnlineLearner(net, rule, ll.SGD(lr=0.01), update="step")
    before = np.linalg.norm(net.w_out - rule.feedback.matrix().T)
    learner.run_sequence(inputs, targets, mask)
    after = np.linalg.norm(net.w_out - rule.feedback.matrix().T)
    assert after == pytest.approx(before * (1 - decay) ** 30, rel=1e-9)


def test_rate_regularisation_adds_c_reg_rate_error_times_eligibility():
    net = small_network(5, n_adaptive=4)
    inputs, targets, mask = random_sequence(net, seed=5)
    zero_mask = np.zeros_like(mask)  # no task error: only the regulariser acts
    c_reg, f_target, tau_rate = 0.7, 10.0, 30.0
    rule = ll.rules.make("eprop", c_reg=c_reg, f_target=f_target, tau_rate=tau_rate)
    g = ll.gradient_estimate(net, rule, inputs, targets, mask=zero_mask)
    # direct evaluation: e_ji^t from the trace engine, rates from the recorded spikes
    traces = EligibilityTraces(net.layers[0], filter_decay=0.0)
    decay = np.exp(-1.0 / tau_rate)
    rate = np.full(net.n_rec, f_target / 1000)
    expected = {"w_in": np.zeros_like(net.w_in), "w_rec": np.zeros_like(net.w_rec)}
    net.reset_state()
    for x in net.check_inputs(inputs):
        net.step(x)
        rate = decay * rate + (1 - decay) * net.layers[0].state.z
        traces.step(np.zeros(net.n_rec), c_reg * (rate - f_target / 1000), expected)
    for key in expected:
        assert np.abs(expected[key]).max() > 0
        assert relative_error(g[key], expected[key]) <= 1e-12


def test_per_sequence_update_is_minus_lr_times_the_estimate():
    net = small_network(6)
    inputs, targets, mask = random_sequence(net, seed=6)
    g = ll.gradient_estimate(net, ll.rules.make("eprop"), inputs, targets, mask=mask)
    before = {k: v.copy() for k, v in net.params.items()}
    learner = ll.OnlineLearner(net, ll.rules.make("eprop"), ll.SGD(lr=0.1), update="trial")
    learner.run_sequence(inputs, targets, mask)
    for key in ("w_in", "w_rec", "w_out", "b_out"):
        np.testing.assert_allclose(net.params[key], before[key] - 0.1 * g[key], rtol=1e-12)
    assert np.all(np.diagonal(net.w_rec) == 0)


@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_online_learning_lowers_the_loss_on_a_fixed_sequence(feedback):
    net = small_network(7)
    inputs, _, mask = random_sequence(net, seed=7)
    phase = np.linspace(0, 2 * np.pi, inputs.shape[0])
    targets = np.stack([np.sin(phase), np.cos(phase), np.sin(2 * phase)], axis=1)
    learner = ll.OnlineLearner(net, ll.rules.make("eprop", feedback=feedback), ll.Adam(lr=1e-3))
    first = learner.run_sequence(inputs, targets, mask).loss
    for _ in range(30):
        last = learner.run_sequence(inputs, targets, mask).loss
    assert last < 0.6 * first


def test_sgd_folded_into_the_trace_sweep_equals_separate_updates():
    results = []
    for fold in (True, False):
        net = small_network(8)
        inputs, targets, mask = random_sequence(net, seed=8)
        learner = ll.OnlineLearner(
            net, ll.rules.make("eprop", feedback="random", c_reg=0.2), ll.SGD(lr=0.01), update="step"
        )
        learner.direct = fold
        for _ in range(3):
            learner.run_sequence(inputs, targets, mask)
        results.append({k: v.copy() for k, v in net.params.items()})
    assert ll.OnlineLearner(small_network(8), ll.rules.make("eprop"), ll.SGD(0.01)).direct
    for key in results[0]:
        np.testing.assert_allclose(results[0][key], results[1][key], rtol=1e-9, atol=1e-12)
    assert np.all(np.diagonal(results[0]["w_rec"]) == 0)


def test_sign_symmetry_feedbacks_transport_only_signs():
    net = small_network(9)
    for mode in ("sign_symmetry", "sign_symmetry_fr"):
        rule = ll.rules.make("eprop", feedback=mode)
        rule.bind(net)
        B = rule.feedback.matrix()
        np.testing.assert_array_equal(np.sign(B), np.sign(net.w_out.T))
        if mode == "sign_symmetry":
            np.testing.assert_allclose(np.abs(B), 1 / np.sqrt(net.n_out))
        else:
            assert np.std(np.abs(B)) > 0  # fixed random magnitudes


@pytest.mark.parametrize("mode", ["weight_mirror", "pal"])
def test_mirror_feedback_updates_follow_their_formula(mode):
    net = small_network(10)
    options = {"lr": 0.01, "decay": 0.05, "sigma": 0.5}
    rule = ll.rules.make("eprop", feedback=mode, feedback_options=options)
    rule.bind(net)
    feedback = rule.feedback
    B = feedback.matrix().copy()
    twin = np.random.default_rng()
    twin.bit_generator.state = feedback.rng.bit_generator.state
    xi, low = np.zeros(net.n_rec), np.zeros(net.n_out)
    for _ in range(3):
        noise = 0.5 * twin.standard_normal(net.n_rec)
        if mode == "pal":
            a, h = np.exp(-1 / 5.0), np.exp(-1 / 20.0)
            xi = a * xi + np.sqrt(1 - a**2) * noise
            noise = xi
            response = net.w_out @ noise
            low = h * low + (1 - h) * response
            response = response - low
        else:
            response = net.w_out @ noise
        B = B + 0.01 * (np.outer(noise, response) - 0.05 * B)
        feedback.after_update(net, {})
    np.testing.assert_allclose(feedback.matrix(), B, rtol=1e-12)


def test_weight_mirror_aligns_with_the_readout_over_many_updates():
    net = small_network(11, n_rec=30, n_out=5)
    rule = ll.rules.make("eprop", feedback="weight_mirror", feedback_options={"lr": 0.01, "decay": 0.01})
    rule.bind(net)
    before = ll.metrics.alignment_angle(rule.feedback.matrix(), net.w_out)
    for _ in range(2000):
        rule.feedback.after_update(net, {})
    after = ll.metrics.alignment_angle(rule.feedback.matrix(), net.w_out)
    assert before > 60 and after < 15


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("n_adaptive", [0, 4, 8], ids=["LIF", "mixed", "ALIF"])
@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_whole_sequence_learning_equals_the_stepwise_sums(loss, n_adaptive, feedback):
    """learn_sequence (compiled forward pass + factored sum) adds what step() at every step adds,
    rate regularisation included; the rates carried to the next sequence agree too."""
    from locallearn.runner import _prepare

    net = small_network(3, n_adaptive=n_adaptive, n_ref=2)
    inputs, targets, mask = random_sequence(net, T=90, seed=3, loss=loss)
    stepwise = ll.rules.make("eprop", feedback=feedback, c_reg=0.7)
    g = ll.gradient_estimate(net, stepwise, inputs, targets, loss=loss, mask=mask)
    whole = ll.rules.make("eprop", feedback=feedback, c_reg=0.7)
    whole.bind(net)
    x, t, loss_name, m = _prepare(net, inputs, targets, loss, mask)
    net.reset_state()
    whole.begin_sequence()
    record = whole.learn_sequence(net, x, t, loss_name, m)
    for key in ("w_in", "w_rec", "w_out", "b_out"):
        assert np.linalg.norm(g[key]) > 0, key
        assert relative_error(whole.grads[key], g[key]) <= 1e-12, key
    np.testing.assert_allclose(whole.rate_khz, stepwise.rate_khz, rtol=1e-12)
    np.testing.assert_array_equal(record["z"], net.copy().run(inputs)["z"])


def test_per_trial_learner_uses_the_whole_sequence_path_and_matches_stepwise_updates():
    from locallearn.runner import _prepare

    nets = [small_network(4), small_network(4), small_network(4)]
    learner = ll.OnlineLearner(
        nets[0],
        ll.rules.make("eprop", feedback="random"),
        ll.Adam(lr=1e-2),
        loss="mse",
        update="trial",
        batch_size=2,
    )
    online = ll.OnlineLearner(  # the same updates, learned step by step (the online path)
        nets[2],
        ll.rules.make("eprop", feedback="random"),
        ll.Adam(lr=1e-2),
        loss="mse",
        update="trial",
        batch_size=2,
        stepwise=True,
    )
    manual_rule = ll.rules.make("eprop", feedback="random")
    manual_rule.bind(nets[1])
    optimizer = ll.Adam(lr=1e-2)
    for seed in range(4):
        inputs, targets, mask = random_sequence(nets[0], seed=seed)
        learner.run_sequence(inputs, targets, mask)
        online.run_sequence(inputs, targets, mask)
        x, t, loss, m = _prepare(nets[1], inputs, targets, "mse", mask)
        nets[1].reset_state()
        manual_rule.begin_sequence()
        for step in range(len(x)):
            y = nets[1].step(x[step])
            manual_rule.step(nets[1], m[step] * (y - t[step]))
        if seed % 2 == 1:
            optimizer.step(nets[1].params, manual_rule.gradients())
            nets[1].enforce_constraints()
            manual_rule.zero_grad()
    for name in nets[0].params:
        np.testing.assert_allclose(nets[0].params[name], nets[1].params[name], rtol=1e-9, atol=1e-12)
        np.testing.assert_array_equal(nets[2].params[name], nets[1].params[name])
        assert not np.array_equal(nets[2].params[name], small_network(4).params[name])
    with pytest.raises(ValueError, match="stepwise must be true or false"):
        ll.OnlineLearner(nets[0], ll.rules.make("eprop"), ll.Adam(), stepwise="yes")


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_batched_learning_equals_the_sum_of_single_sequences(loss):
    from locallearn.runner import _prepare

    net = small_network(5, n_adaptive=4)
    sequences = [random_sequence(net, T=70, seed=s, loss=loss) for s in range(3)]
    single = ll.rules.make("eprop", feedback="random")
    single.bind(net)
    prepared = [_prepare(net, x, t, loss, m) for x, t, m in sequences]
    records = []
    for x, t, name, m in prepared:
        net.reset_state()
        single.begin_sequence()
        records.append(single.learn_sequence(net, x, t, name, m))
    batched = ll.rules.make("eprop", feedback="random")
    batched.bind(net)
    record = batched.learn_batch(
        net, *(np.stack([p[i] for p in prepared]) for i in (0, 1)), loss, np.stack([p[3] for p in prepared])
    )
    for key in ("w_in", "w_rec", "w_out", "b_out"):
        assert relative_error(batched.grads[key], single.grads[key]) <= 1e-12, key
    for b, single_record in enumerate(records):
        np.testing.assert_array_equal(record["z"][b], single_record["z"])
        np.testing.assert_allclose(record["y"][b], single_record["y"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("n_rec", [(8,), (6, 6)])
@pytest.mark.parametrize("c_reg", [0.0, 0.5])
def test_lazy_decay_learns_what_the_eager_engine_learns(n_rec, c_reg):
    """e-prop with ``lazy_decay`` (silent rows' decay deferred) against the eager engine, stepwise
    over four trials with a per-trial Adam update: the same weights to rounding, while most rows
    were in fact deferred at most steps."""
    nets = [small_network(5, n_rec=n_rec, n_adaptive=3) for _ in range(2)]
    learners = [
        ll.OnlineLearner(
            net,
            ll.rules.make("eprop", feedback="random", c_reg=c_reg, lazy_decay=lazy),
            ll.Adam(lr=1e-2),
            loss="mse",
            update="trial",
            stepwise=True,
        )
        for net, lazy in zip(nets, (False, True))
    ]
    silent = []
    for seed in range(4):
        sequence = random_sequence(nets[0], seed=seed)
        results = [learner.run_sequence(*sequence) for learner in learners]
        assert results[1].loss == pytest.approx(results[0].loss, rel=1e-9)
        silent.append(np.mean(nets[1].layers[-1].state.psi == 0))
    for name in nets[0].params:
        np.testing.assert_allclose(nets[1].params[name], nets[0].params[name], rtol=1e-9, atol=1e-12)
    assert not learners[0].rule.traces.lazy and learners[1].rule.traces.lazy
    assert max(silent) > 0  # rows were silent, so the lazy path did defer something
    with pytest.raises(ValueError, match="lazy_decay must be true or false"):
        ll.rules.make("eprop", lazy_decay=1)


def test_run_batch_trains_like_consecutive_trials():
    nets = [small_network(6), small_network(6)]
    learners = [
        ll.OnlineLearner(
            net,
            ll.rules.make("eprop", feedback="symmetric"),
            ll.Adam(lr=1e-2),
            loss="ce",
            update="trial",
            batch_size=4,
        )
        for net in nets
    ]
    batches = [[random_sequence(nets[0], seed=10 * k + b, loss="ce") for b in range(4)] for k in range(2)]
    for batch in batches:
        results = learners[0].run_batch(
            np.stack([s[0] for s in batch]), np.stack([s[1] for s in batch]), np.stack([s[2] for s in batch])
        )
        for (inputs, targets, mask), result in zip(batch, results):
            expected = learners[1].run_sequence(inputs, targets, mask)
            assert result.loss == pytest.approx(expected.loss, rel=1e-10)
    for name in nets[0].params:
        np.testing.assert_allclose(nets[0].params[name], nets[1].params[name], rtol=1e-9, atol=1e-12)
    assert learners[0].trials == 8 and learners[0].steps == learners[1].steps
    stepwise = ll.OnlineLearner(small_network(6), ll.rules.make("eprop"), ll.SGD(lr=1e-3), update="step")
    with pytest.raises(ValueError, match="update='trial'"):
        stepwise.run_batch(np.zeros((2, 5, 4)), np.zeros((2, 5, 3)))
