"""Stream AC(λ): hand-derived gradients against finite differences, the ObGD bound, learning."""

import numpy as np
import pytest
from locallearn.rules.stream_ac import mlp_backward, mlp_forward, sparse_init

import locallearn as ll
from locallearn.runs import execute


def _params(rng, n_in=5, hidden=6, n_out=3):
    return {
        "w1": rng.standard_normal((hidden, n_in)),
        "b1": rng.standard_normal(hidden),
        "w2": rng.standard_normal((hidden, hidden)),
        "b2": rng.standard_normal(hidden),
        "w3": rng.standard_normal((n_out, hidden)),
        "b3": rng.standard_normal(n_out),
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_gradients_equal_central_differences(seed):
    rng = np.random.default_rng(seed)
    params, x, d_out = _params(rng), rng.standard_normal(5), rng.standard_normal(3)
    _, cache = mlp_forward(params, x)
    grads = mlp_backward(params, cache, d_out)
    h = 1e-6
    for name, value in params.items():
        numeric = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            original = value[index]
            value[index] = original + h
            up = d_out @ mlp_forward(params, x)[0]
            value[index] = original - h
            down = d_out @ mlp_forward(params, x)[0]
            value[index] = original
            numeric[index] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


def test_sparse_init_zeroes_ninety_percent_of_each_row_within_the_bound():
    w = sparse_init(8, 20, np.random.default_rng(0))
    assert np.all((w == 0).sum(axis=1) == 18) and np.abs(w).max() <= 1 / np.sqrt(20)


def test_an_update_never_exceeds_the_obgd_bound_and_rises_the_action_taken():
    net = ll.Network(ll.NetworkConfig(n_in=4, n_rec=8, n_out=4, seed=0))
    rule = ll.rules.make("stream-ac", lr=1.0)
    rule.bind(net)
    rng = np.random.default_rng(0)
    rule.advance_many(net, rng.random((1, 4)))
    before = {k: v.copy() for k, v in rule.params["policy"].items()}
    action = rule.decide(net, rng)
    pi_before = rule.policy(net)[0][action]
    rule.observe(5.0, terminated=True, truncated=False)  # a large positive surprise
    assert rule.last_delta > 0
    change = sum(np.abs(rule.params["policy"][k] - before[k]).sum() for k in before)
    # ObGD: the L1 change is step |delta| ||e||_1 with step <= lr / (lr kappa max(|delta|, 1) ||e||_1),
    # so it never exceeds 1 / kappa (kappa_policy = 3)
    assert change <= 1 / 3 + 1e-9
    assert rule.policy(net)[0][action] > pi_before


def test_short_catch_lifetime_learns_above_chance(tmp_path):
    summary = execute(
        {
            "task": "catch",
            "rule": {"name": "stream-ac"},
            "seed": 0,
            "agent": {"encoder": "current", "micro_steps": 1},
            "training": {"steps": 15000, "eval_episodes": 5},
        },
        tmp_path / "run",
        progress=False,
    )
    assert summary["status"] == "completed"
    assert summary["value"] > 0.6  # random play catches about a quarter


@pytest.mark.slow
def test_catch_lifetime_reaches_95_percent(tmp_path):
    summary = execute(
        {
            "task": "catch",
            "rule": {"name": "stream-ac"},
            "seed": 1,
            "agent": {"encoder": "current", "micro_steps": 1},
            "training": {"steps": 100000},
        },
        tmp_path / "run",
        progress=False,
    )
    assert summary["value"] >= 0.95
