"""Reward-based rules and the lifetime runner: signs, TD bookkeeping, smoke runs, gymnasium."""

import numpy as np
import pytest
from conftest import kill_then_resume, past_the_first_checkpoint
from locallearn.rules import _kernels as rule_kernels

import locallearn as ll
from locallearn import io
from locallearn.runs import play, run_lifetime
from locallearn.spaces import gymnasium_available


def _net(n_out=3, seed=0, **overrides):
    settings = dict(
        n_in=5,
        n_rec=20,
        n_out=n_out,
        w_in_gain=2.0,
        w_out_gain=0.1,
        tau_out=5.0,
        dtype="float64",
        n_ref=2,
        seed=seed,
    )
    settings.update(overrides)
    return ll.Network(ll.NetworkConfig(**settings))


def _present(net, rule, x, micro_steps=5):
    for m in range(micro_steps):
        net.step(x)
        if m < micro_steps - 1:
            rule.advance(net)


X = np.array([1.0, 0.0, 1.0, 0.0, 1.0])


def _policy_on_x(net, rule):
    net.reset_state()
    for _ in range(5):
        net.step(X)
    return rule.policy(net)


@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_positive_td_error_raises_the_probability_of_the_action_taken(feedback):
    """One-step bandit episode with delta = +1: the logit of the action taken and V must rise."""
    net = _net()
    rule = ll.rules.make("reward-eprop", feedback=feedback, lr=0.05, gamma=0.0, lam=0.0, guard_kappa=None)
    rule.bind(net)
    pi_before, value_before = _policy_on_x(net, rule)
    net.reset_state()
    rule.begin_episode()
    _present(net, rule, X)
    action = rule.decide(net, np.random.default_rng(1))
    rule.observe(rule.value_prev + 1.0, terminated=True, truncated=False)
    assert rule.last_delta == pytest.approx(1.0)
    pi_after, value_after = _policy_on_x(net, rule)
    assert pi_after[action] > pi_before[action]
    assert value_after > value_before


def test_inverse_temperature_anneals_linearly_and_scales_the_policy_gradient():
    """pi = softmax(beta y); the policy error folded into the traces is -dlog pi_a/dy, checked
    against central differences at each point of the anneal."""
    net = _net(n_out=4)
    rule = ll.rules.make(
        "reward-eprop",
        lr=1e-3,
        gamma=0.9,
        lam=0.5,
        guard_kappa=None,
        inverse_temperature=1.0,
        inverse_temperature_final=3.0,
        anneal_steps=10,
    )
    rule.bind(net)
    n_actions = rule.n_actions

    def log_pi(y, beta, action):
        logits = beta * y[:n_actions]
        return logits[action] - np.log(np.sum(np.exp(logits - logits.max()))) - logits.max()

    for decisions, beta in ((0, 1.0), (5, 2.0), (10, 3.0), (40, 3.0)):
        rule.decisions = decisions
        assert rule.beta == pytest.approx(beta)
        net.reset_state()
        rule.begin_episode()
        _present(net, rule, X)
        y = np.asarray(net.y, np.float64).copy()
        pi, _ = rule.policy(net)
        np.testing.assert_allclose(
            pi, np.exp(beta * y[:n_actions]) / np.exp(beta * y[:n_actions]).sum(), rtol=1e-12
        )
        action = rule.decide(net, np.random.default_rng(decisions))
        # first decision of an episode: F_out = outer(err, readout trace)
        j = int(np.argmax(rule.readout_trace))
        err = rule.F["w_out"][:, j] / rule.readout_trace[j]
        h = 1e-6
        numeric = np.array(
            [
                (log_pi(y + h * e, beta, action) - log_pi(y - h * e, beta, action)) / (2 * h)
                for e in np.eye(net.n_out)
            ]
        )
        np.testing.assert_allclose(err[:n_actions], -numeric[:n_actions], atol=1e-7)
        assert err[n_actions] == pytest.approx(-rule.c_value)
    assert rule.decisions == 41


def test_inverse_temperature_options_are_checked():
    with pytest.raises(ll.ConfigError, match="inverse_temperature"):
        ll.rules.make("reward-eprop", inverse_temperature=0.0)
    with pytest.raises(ll.ConfigError, match="anneal_steps"):
        ll.rules.make("reward-eprop", inverse_temperature_final=2.0, anneal_steps=0)


@pytest.mark.parametrize("rewarded_arm", [0, 1])
def test_bandit_is_learned_with_the_right_sign(rewarded_arm):
    net = _net()
    rule = ll.rules.make("reward-eprop", feedback="random", lr=0.02, gamma=0.0, lam=0.0)
    rule.bind(net)
    rng = np.random.default_rng(0)
    chosen = []
    for _ in range(300):
        net.reset_state()
        rule.begin_episode()
        _present(net, rule, X)
        action = rule.decide(net, rng)
        rule.observe(1.0 if action == rewarded_arm else 0.0, terminated=True, truncated=False)
        chosen.append(action == rewarded_arm)
    assert np.mean(chosen[-100:]) > 0.9


def test_terminated_does_not_bootstrap_and_truncated_does():
    gamma = 0.9
    for terminated in (True, False):
        net = _net(seed=2)
        rule = ll.rules.make("reward-eprop", lr=1e-9, gamma=gamma, lam=0.5, guard_kappa=None)
        rule.bind(net)
        rng = np.random.default_rng(0)
        net.reset_state()
        rule.begin_episode()
        _present(net, rule, X)
        rule.decide(net, rng)
        value_prev = rule.value_prev
        rule.observe(0.5, terminated=terminated, truncated=not terminated)
        if terminated:
            assert rule.last_delta == pytest.approx(0.5 - value_prev, abs=1e-12)
        else:
            for _ in range(5):
                net.step(X)
                rule.advance(net)
            _, value_next = rule.policy(net)
            rule.bootstrap(net)
            assert rule.last_delta == pytest.approx(0.5 + gamma * value_next - value_prev, abs=1e-9)


def test_rl_trace_decays_by_gamma_lambda_between_decisions():
    net = _net(seed=3)
    rule = ll.rules.make("reward-eprop", lr=1e-12, gamma=0.9, lam=0.5, guard_kappa=None)
    rule.bind(net)
    rng = np.random.default_rng(0)
    net.reset_state()
    rule.begin_episode()
    _present(net, rule, X)
    rule.decide(net, rng)
    readout_before = rule.F["w_out"].copy()
    rule.observe(0.0, False, False)
    _present(net, rule, X)
    action = rule.decide(net, rng)
    pi, _ = rule.policy(net)
    err = np.append(pi, -rule.c_value)
    err[action] -= 1
    expected = 0.45 * readout_before + np.outer(err, rule.readout_trace)
    np.testing.assert_allclose(rule.F["w_out"], expected, rtol=1e-12)


@pytest.mark.parametrize("variant", ["mstdp", "mstdpet"])
def test_rstdp_update_is_reward_times_florians_eligibility(variant):
    net = _net(seed=4)
    rule = ll.rules.make("rstdp", variant=variant, lr=0.01)
    rule.bind(net)
    rng = np.random.default_rng(0)
    decay = np.exp(-1 / 20)
    decay_z = np.exp(-1 / 25) if variant == "mstdpet" else 0.0
    pre_trace, post_trace = np.zeros(net.n_in), np.zeros(net.n_rec)
    z = np.zeros((net.n_rec, net.n_in))
    net.reset_state()
    rule.begin_episode()
    layer = net.layers[0]
    for m in range(5):
        net.step(X)
        pre_trace = decay * pre_trace + layer.input
        post_trace = decay * post_trace - layer.state.z
        z = decay_z * z + np.outer(layer.state.z, pre_trace) + np.outer(post_trace, layer.input)
        if m < 4:
            rule.advance(net)
    rule.decide(net, rng)
    assert np.abs(z).max() > 0
    before = net.w_in.copy()
    rule.observe(-2.0, terminated=True, truncated=False)
    np.testing.assert_allclose(net.w_in - before, 0.01 * -2.0 * z, rtol=1e-10, atol=1e-14)


def test_stdp_kernel_equals_numpy_twin_and_coincident_spikes_cancel():
    rng = np.random.default_rng(0)
    states = [[np.zeros(6), np.zeros(4), np.zeros((4, 6))] for _ in range(2)]
    for _ in range(30):
        pre = (rng.random(6) < 0.3).astype(float)
        post = (rng.random(4) < 0.3).astype(float)
        for impl, s in ((rule_kernels.stdp_step, states[0]), (rule_kernels.stdp_step_numpy, states[1])):
            impl(pre, post, s[0], s[1], 0.9, 0.9, 1.0, -1.0, 0.8, s[2])
    for a, b in zip(states[0], states[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    pre_trace, post_trace, elig = np.zeros(1), np.zeros(1), np.zeros((1, 1))
    rule_kernels.stdp_step(np.ones(1), np.ones(1), pre_trace, post_trace, 0.9, 0.9, 1.0, -1.0, 0.0, elig)
    assert elig[0, 0] == 0.0


@pytest.mark.parametrize("rule", ["reward-eprop", "rstdp"])
def test_short_lifetime_on_catch_completes_with_well_formed_logs(rule, tmp_path):
    config = {"task": "catch", "rule": {"name": rule}, "training": {"steps": 2000, "window": 50}, "seed": 0}
    summary = run_lifetime(config, tmp_path / "run", progress=False)
    assert summary["status"] == "completed" and summary["steps"] == 2000
    rows = io.read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert len(rows) == summary["episodes"] == 2000 // 9
    for row in rows:
        assert set(row) >= {"episode", "steps", "return", "length", "catch_rate"}
        assert row["return"] in (-1.0, 1.0) and row["length"] == 9
    weights = np.load(tmp_path / "run" / "weights.npz")
    network = io.read_json(tmp_path / "run" / "config.json")["network"]
    initial = ll.Network(ll.NetworkConfig.from_dict(network))
    for key in ("w_in", "w_rec", "w_out"):
        assert not np.array_equal(weights[key], initial.params[key]), key
    assert (tmp_path / "run" / "learning_curve.png").stat().st_size > 0
    result = play(tmp_path / "run", episodes=5)
    assert result["episodes"] == 5 and -1 <= result["mean_return"] <= 1


@pytest.mark.parametrize("task, metric", [("pong", "score"), ("flappy", "pipes")])
@pytest.mark.parametrize("rule", ["reward-eprop", "rstdp"])
def test_short_lifetime_on_each_game_and_rule_completes_and_learns(task, metric, rule, tmp_path):
    config = {
        "task": {"name": task, "max_steps": 500} if task == "pong" else task,
        "rule": {"name": rule},
        "training": {"steps": 3000, "window": 5},
        "seed": 1,
    }
    summary = run_lifetime(config, tmp_path / "run", progress=False)
    assert summary["status"] == "completed" and summary["steps"] == 3000
    rows = io.read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert len(rows) == summary["episodes"] >= 2
    assert [row["episode"] for row in rows] == list(range(1, len(rows) + 1))
    assert sum(row["length"] for row in rows) <= 3000
    for row in rows:
        assert set(row) >= {"episode", "steps", "return", "length", metric, "wall_seconds"}
        assert np.isfinite(row["return"]) and np.isfinite(row[metric])
    weights = np.load(tmp_path / "run" / "weights.npz")
    network = io.read_json(tmp_path / "run" / "config.json")["network"]
    initial = ll.Network(ll.NetworkConfig.from_dict(network))
    for key in ("w_in", "w_rec", "w_out"):
        assert not np.array_equal(weights[key], initial.params[key]), key


def test_a_task_brings_its_own_lifetime_options_and_the_user_overrides_them():
    from locallearn.runs import resolve

    task = resolve({"task": "pong"})["task"]
    assert task == {"name": "pong", "observation": "relative", "shaping": 0.5}
    task = resolve({"task": {"name": "pong", "shaping": 0.0, "observation": "ram"}})["task"]
    assert task == {"name": "pong", "observation": "ram", "shaping": 0.0}
    assert resolve({"task": "pong"})["network"]["n_in"] == 8 * 12  # population code
    assert ll.tasks.make("pong").shaping == 0.0  # the plain game is unchanged


def _metric_column(run_dir, key):
    return np.array([row[key] for row in io.read_jsonl(run_dir / "metrics.jsonl")])


def test_short_catch_lifetime_learns(tmp_path):
    # the 200k-step version reaches 0.99 (tests/test_learning_slow.py); 40k steps take ~20 s
    run_lifetime(
        {"task": "catch", "seed": 0, "training": {"steps": 40_000}}, tmp_path / "run", progress=False
    )
    caught = _metric_column(tmp_path / "run", "catch_rate")
    assert caught[:100].mean() < 0.4 and caught[-100:].mean() >= 0.6


def test_short_flappy_lifetime_learns_to_pass_pipes(tmp_path):
    # random flapping passes no pipe; 100k steps (~50 s) reach ~2 pipes per episode on seeds
    # 0-2 (the 2.7M-step lifetime: 22 +- 5)
    run_lifetime(
        {"task": "flappy", "seed": 0, "training": {"steps": 100_000}}, tmp_path / "run", progress=False
    )
    pipes = _metric_column(tmp_path / "run", "pipes")
    assert pipes[:50].mean() == 0 and pipes[-50:].mean() >= 1.0


def test_catch_environment_follows_its_rules():
    env = ll.tasks.make("catch")
    obs, info = env.reset(seed=3)
    assert obs.shape == (3,) and obs.dtype == np.float32
    total, steps, done = 0.0, 0, False
    while not done:
        ball_column = env.ball[1]
        action = int(np.sign(ball_column - env.paddle)) + 1  # move towards the ball
        obs, reward, terminated, truncated, info = env.step(action)
        total += reward
        steps += 1
        done = terminated
        assert env.observation_space.contains(obs)
    assert steps == 9 and total == 1.0 and info["caught"]
    with pytest.raises(ValueError, match="action"):
        env.step(7)


@pytest.mark.skipif(not gymnasium_available(), reason="gymnasium (extra [games]) not installed")
def test_catch_passes_gymnasiums_env_checker_and_is_registered():
    import gymnasium
    from gymnasium.utils.env_checker import check_env

    check_env(ll.tasks.make("catch"), skip_render_check=True)
    check_env(ll.tasks.make("catch", observation="pixels"), skip_render_check=True)
    env = gymnasium.make("locallearn/Catch-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3,)


def test_cli_lifetime_run_and_play_on_another_environment(tmp_path, capsys):
    from locallearn.cli import main

    out = tmp_path / "flappy"
    assert main(["run", "--task", "flappy", "--steps", "600", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "pipes" in text and "steps/s" in text
    summary = io.read_json(out / "summary.json")
    assert summary["steps"] == 600 and summary["metric"] == "pipes"
    assert main(["play", str(out), "--episodes", "2"]) == 0
    assert "2 episodes (greedy actions, weights frozen)" in capsys.readouterr().out
    assert main(["play", str(out), "--task", "catch"]) == 2
    pytest.importorskip("flappy_bird_gymnasium")  # the real game needs the [games] extra
    assert main(["play", str(out), "--episodes", "1", "--task", "flappy_gym"]) == 0


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_compiled_micro_steps_equal_step_by_step_presentation(backend):
    rng = np.random.default_rng(0)
    inputs = (rng.random((7, 5)) < 0.5).astype(float)
    states = []
    for compiled in (True, False):
        net = _net(seed=6, n_adaptive=10, backend=backend)
        rule = ll.rules.make("reward-eprop", lr=1e-2, gamma=0.9, lam=0.8, guard_kappa=None)
        rule.bind(net)
        net.reset_state()
        rule.begin_episode()
        for _ in range(3):
            if compiled:
                rule.advance_many(net, inputs)
            else:
                for x in inputs:
                    net.step(x)
                    rule.advance(net)
            net.step(inputs[0])
            rule.decide(net, np.random.default_rng(1))
            rule.observe(0.5, False, False)
        projections = rule.traces.projections
        states.append(
            [
                net.y.copy(),
                net.layers[0].state.v.copy(),
                rule.readout_trace.copy(),
                projections["w_in"].filtered.copy(),
                projections["w_rec"].eps_a.copy(),
                rule.F["w_rec"].copy(),
                net.w_in.copy(),
                np.array(rule.bias_trace),
            ]
        )
    for a, b in zip(*states):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype, lr_layer", [("float32", None), ("float64", None), ("float64", 3e-2)])
def test_the_layer_update_made_inside_the_trace_sweep_is_w_minus_eta_delta_f(dtype, lr_layer):
    """decide() leaves the layer's share of W <- W - eta delta F to the next trace sweep; the
    weights it leaves are exactly W + (-eta delta) F of the traces before the decision (eta =
    lr_layer for the layer when it is set)."""
    net = _net(seed=4, dtype=dtype)
    rule = ll.rules.make("reward-eprop", lr=1e-2, gamma=0.9, lam=0.8, guard_kappa=None, lr_layer=lr_layer)
    rule.bind(net)
    rng = np.random.default_rng(0)
    x = np.asarray(X, net.dtype)
    for step in range(6):
        _present(net, rule, x)
        if step == 5:
            before = {name: (net.params[name].copy(), rule.F[name].copy()) for name in net.params}
            _, value = rule.policy(net)
            delta = rule.pending + rule.gamma * value - rule.value_prev
        rule.decide(net, rng)
        rule.observe(1.0 if step % 2 else -0.5, False, False)
    assert rule.last_delta == pytest.approx(delta)
    for name, (weights, trace) in before.items():
        lr = lr_layer if lr_layer and name in ("w_in", "w_rec") else rule.lr
        assert np.any(trace != 0), name
        np.testing.assert_allclose(
            net.params[name],
            weights + net.dtype.type(-lr * delta) * trace,
            rtol=1e-12 if lr_layer else 0,
            atol=0,
            err_msg=name,
        )
    assert np.all(np.diagonal(net.params["w_rec"]) == 0)


def test_without_value_to_layer_the_layer_traces_ignore_the_critic():
    """value_to_layer=False: the layer's F is the same whatever c_value (the value error no
    longer enters its learning signal); the value readout's F still carries it."""
    traces = []
    for c_value in (0.0, 5.0):
        net = _net(seed=5)
        rule = ll.rules.make("reward-eprop", c_value=c_value, value_to_layer=False, feedback="symmetric")
        rule.bind(net)
        rule.lr = 0.0  # frozen weights: the same network state for both values of c_value
        rng = np.random.default_rng(1)
        for _ in range(4):
            _present(net, rule, X)
            rule.decide(net, rng)
            rule.observe(0.0, False, False)
        traces.append({name: value.copy() for name, value in rule.F.items()})
    for name in ("w_in", "w_rec"):
        assert np.any(traces[0][name] != 0)
        np.testing.assert_array_equal(traces[0][name], traces[1][name])
    assert not np.array_equal(traces[0]["w_out"][-1], traces[1]["w_out"][-1])


@pytest.mark.parametrize("task, steps", [("catch", 6000), ("pong", 6000), ("flappy", 6000)])
def test_kill_9_then_resume_a_lifetime_gives_the_uninterrupted_weights(task, steps, tmp_path):
    settings = [
        "--task",
        task,
        "--steps",
        str(steps),
        "--seed",
        "2",
        "--set",
        "training.checkpoint_every=500",
        "--set",
        "training.eval_episodes=2",
        "--no-progress",
    ]

    kill_then_resume(settings, tmp_path, past_the_first_checkpoint)


def test_a_diverging_lifetime_fails_with_a_message_naming_step_and_checkpoint(tmp_path):
    config = {
        "task": "catch",
        "rule": {"lr": 1e30},
        "seed": 0,
        "training": {"steps": 3000, "checkpoint_every": 1000},
    }
    summary = run_lifetime(config, tmp_path / "run", progress=False)
    assert summary["status"] == "failed"
    assert "by step" in summary["message"] and "last finite checkpoint" in summary["message"]


# ----------------------------------------------------------------------------- stacks
def _first_decision_on_a_stack(feedback, **rule_options):
    net = _net(seed=6, n_rec=(12, 8), recurrent=False)
    rule = ll.rules.make("reward-eprop", feedback=feedback, **rule_options)
    rule.bind(net)
    rule.lr = 0.0  # frozen weights: F is what the decision left
    _present(net, rule, X)
    rule.decide(net, np.random.default_rng(3))
    return net, rule


@pytest.mark.parametrize("feedback", ["random", "direct"])
def test_on_a_stack_each_layer_learns_from_its_own_signal(feedback):
    # from F = 0, the first decision leaves F_l = L_l * ebar_l in every layer, with L_l handed
    # down the stack through psi (random, FA) or straight from the output error (direct, DFA)
    net, rule = _first_decision_on_a_stack(feedback)
    err = rule._err.astype(net.dtype)
    top = rule.feedback.learning_signal(err)
    lower = rule.lower_feedbacks[0]
    if feedback == "random":
        expected = lower.learning_signal(top * net.layers[1].state.psi)
    else:
        expected = lower.learning_signal(err)
    assert lower.matrix().shape == ((12, 8) if feedback == "random" else (12, 3))
    for traces, signal in ((rule.lower_traces[0], expected), (rule.traces, top)):
        name = traces.layer.param_names["w_in"]
        filtered = traces.projections["w_in"].filtered
        assert np.any(signal != 0) and np.any(filtered != 0)
        np.testing.assert_allclose(rule.F[name], signal[:, None] * filtered, rtol=1e-12, atol=1e-15)


def test_random_and_direct_feedback_coincide_on_one_layer_and_differ_on_a_stack():
    one = [_net(seed=6), _net(seed=6)]
    rules = [ll.rules.make("reward-eprop", feedback=mode) for mode in ("random", "direct")]
    for net, rule in zip(one, rules):
        rule.bind(net)
        rule.lr = 0.0
        _present(net, rule, X)
        rule.decide(net, np.random.default_rng(3))
    np.testing.assert_array_equal(rules[0].F["w_in"], rules[1].F["w_in"])
    stacks = [_first_decision_on_a_stack(mode)[1] for mode in ("random", "direct")]
    np.testing.assert_array_equal(stacks[0].F["w_in_1"], stacks[1].F["w_in_1"])  # the top: the same
    assert not np.allclose(stacks[0].F["w_in"], stacks[1].F["w_in"])


def test_on_a_stack_every_layer_moves_by_minus_eta_delta_f():
    net = _net(seed=4, n_rec=(12, 8))
    rule = ll.rules.make("reward-eprop", feedback="random", lr=1e-2, gamma=0.9, lam=0.8, guard_kappa=None)
    rule.bind(net)
    rng = np.random.default_rng(0)
    for step in range(6):
        _present(net, rule, X)
        if step == 5:
            before = {name: (net.params[name].copy(), rule.F[name].copy()) for name in net.params}
            delta = rule.pending + rule.gamma * rule.policy(net)[1] - rule.value_prev
        rule.decide(net, rng)
        rule.observe(1.0 if step % 2 else -0.5, False, False)
    assert set(before) == {"w_in", "w_rec", "w_in_1", "w_rec_1", "w_out", "b_out"}
    for name, (weights, trace) in before.items():
        assert np.any(trace != 0), name
        np.testing.assert_array_equal(net.params[name], weights + net.dtype.type(-rule.lr * delta) * trace)


def test_a_single_layer_rule_keeps_no_stack_state():
    # single-layer lifetimes and their committed checkpoints stay exactly as they were
    net = _net(seed=1)
    rule = ll.rules.make("reward-eprop", feedback="random")
    rule.bind(net)
    assert not hasattr(rule, "lower_traces") and not hasattr(rule, "lower_feedbacks")
    with pytest.raises(NotImplementedError, match="single layer"):
        ll.rules.make("reward-eprop", c_entropy=0.1).bind(_net(n_rec=(8, 8)))


def test_kill_9_then_resume_a_two_layer_lifetime_gives_the_uninterrupted_weights(tmp_path):
    settings = ["--task", "catch", "--rule", "reward-eprop", "--feedback", "direct", "--steps", "3000"]
    settings += ["--seed", "1", "--set", "network.n_rec=[16, 16]", "--set", "training.checkpoint_every=500"]
    settings += ["--set", "training.eval_episodes=2", "--no-progress"]
    killed = kill_then_resume(settings, tmp_path, past_the_first_checkpoint)
    assert io.read_json(killed / "config.json")["network"]["n_rec"] == [16, 16]


def test_committed_lifetime_checkpoints_restore_into_todays_objects():
    # a committed unfinished lifetime (results/) must resume with the code of today
    from pathlib import Path

    from locallearn.runs import RunDirectoryError, checkpoint, framework
    from locallearn.runs.directory import RunDirectory

    runs = sorted(p.parent for p in (Path(__file__).parents[1] / "results").rglob("checkpoint.json"))
    if not runs:
        pytest.skip("no unfinished lifetime is committed")
    for run in runs:
        with RunDirectory(run) as directory:
            try:
                directory._lock()
            except RunDirectoryError:  # being written here and now: not a committed state
                continue
            config = io.read_json(run / "config.json")
            try:
                schedule = framework.schedule_for(config["task"]["name"])(config, None, ())
            except ModuleNotFoundError as error:  # the game's extra is not installed
                pytest.skip(str(error))
            assert checkpoint.load(run, schedule.checkpoint_objects())["position"] >= 0, run
