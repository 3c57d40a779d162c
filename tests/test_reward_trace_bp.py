"""Reward-based trace-BP: the sign of its update, a bandit, and a two-layer agent."""

import numpy as np
import pytest

import locallearn as ll
from locallearn.runs import execute

X = np.array([1.0, 0.0, 1.0, 0.0, 1.0])


def _net(n_rec=16, seed=0):
    return ll.Network(
        ll.NetworkConfig(n_in=5, n_rec=n_rec, n_out=3, dtype="float64", w_in_gain=3.0, seed=seed)
    )


def _present(net, rule, micro_steps=5):
    net.reset_state()
    rule.begin_episode()
    rule.advance_many(net, np.tile(X, (micro_steps, 1)), decide_last=True)


@pytest.mark.parametrize("feedback", ["symmetric", "random"])
def test_a_positive_td_error_raises_the_probability_of_the_action_taken(feedback):
    net = _net()
    rule = ll.rules.make("reward-trace-bp", feedback=feedback, lr=0.05, gamma=0.0, lam=0.0, guard_kappa=None)
    rule.bind(net)
    _present(net, rule)
    pi_before = rule.policy(net)[0]
    action = rule.decide(net, np.random.default_rng(1))
    rule.observe(rule.value_prev + 1.0, terminated=True, truncated=False)
    assert rule.last_delta == pytest.approx(1.0)
    _present(net, rule)
    assert rule.policy(net)[0][action] > pi_before[action]


@pytest.mark.parametrize("rewarded_arm", [0, 1])
def test_a_bandit_is_learned(rewarded_arm):
    net = _net()
    rule = ll.rules.make("reward-trace-bp", lr=0.05, gamma=0.0, lam=0.0)
    rule.bind(net)
    rng = np.random.default_rng(0)
    chosen = []
    for _ in range(300):
        _present(net, rule)
        action = rule.decide(net, rng)
        rule.observe(1.0 if action == rewarded_arm else 0.0, terminated=True, truncated=False)
        chosen.append(action == rewarded_arm)
    assert np.mean(chosen[-100:]) > 0.9


@pytest.mark.parametrize("feedback", ["random", "direct"])
def test_a_two_layer_agent_plays_a_short_lifetime(feedback, tmp_path):
    summary = execute(
        {
            "task": "catch",
            "seed": 0,
            "network": {"n_rec": [24, 24]},
            "rule": {"name": "reward-trace-bp", "feedback": feedback},
            "training": {"steps": 2000, "eval_episodes": 2},
        },
        tmp_path / "run",
        progress=False,
    )
    assert summary["status"] == "completed" and summary["rule_label"] == f"reward-trace-bp:{feedback}"
