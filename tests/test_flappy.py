"""Flappy Bird: step-exact with flappy-bird-gymnasium 0.4.0 (golden trajectories and live)."""

from pathlib import Path

import numpy as np
import pytest

import locallearn as ll
from locallearn.spaces import gymnasium_available

GOLDEN = Path(__file__).parent / "data" / "flappy_golden.npz"


def _replay(k, golden):
    env = ll.tasks.make("flappy", observation="features")
    obs, info = env.reset(seed=int(golden["seeds"][k]))
    np.testing.assert_array_equal(obs, golden["observations"][k, 0])
    for t in range(golden["lengths"][k]):
        obs, reward, terminated, truncated, info = env.step(int(golden["actions"][k, t]))
        np.testing.assert_array_equal(obs, golden["observations"][k, t + 1], err_msg=f"step {t}")
        assert reward == golden["rewards"][k, t], f"step {t}"
        assert terminated == golden["terminated"][k, t] and truncated == golden["truncated"][k, t]
    return info


def test_golden_trajectories_from_the_real_package_replay_exactly():
    golden = np.load(GOLDEN)
    scores = [_replay(k, golden)["score"] for k in range(len(golden["seeds"]))]
    assert max(golden["lengths"]) == 700 and max(scores) >= 10  # pipes passed and recycled
    assert golden["terminated"].any()  # and crashes covered


@pytest.mark.skipif(not gymnasium_available(), reason="gymnasium (extra [games]) not installed")
def test_live_package_and_ours_agree_step_by_step():
    flappy_bird_gymnasium = pytest.importorskip("flappy_bird_gymnasium")
    import gymnasium

    del flappy_bird_gymnasium
    rng = np.random.default_rng(7)
    for seed in (11, 12, 13):
        real = gymnasium.make("FlappyBird-v0", use_lidar=False, normalize_obs=True)
        ours = ll.tasks.make("flappy", observation="features")
        a, _ = real.reset(seed=seed)
        b, _ = ours.reset(seed=seed)
        np.testing.assert_array_equal(a, b)
        for t in range(400):
            action = int(ours.scripted_action() or rng.random() < 0.05)
            a, ra, ta, ua, ia = real.step(action)
            b, rb, tb, ub, ib = ours.step(action)
            np.testing.assert_array_equal(a, b, err_msg=f"seed {seed} step {t}")
            assert (ra, ta, ua, ia["score"]) == (rb, tb, ub, ib["score"])
            if ta:
                break


def test_hand_controller_passes_about_a_hundred_pipes_and_random_play_none():
    env = ll.tasks.make("flappy")
    rng = np.random.default_rng(0)
    hand, random = [], []
    for seed in range(5):
        for scores, policy in ((hand, "hand"), (random, "random")):
            env.reset(seed=seed)
            done, info = False, {}
            while not done:
                action = env.scripted_action() if policy == "hand" else int(rng.random() < 0.1)
                _, _, done, _, info = env.step(action)
            scores.append(info["score"])
    assert np.mean(hand) >= 50
    assert np.mean(random) < 1


def test_compact_observation_is_four_bounded_features():
    env = ll.tasks.make("flappy")
    obs, _ = env.reset(seed=0)
    for _ in range(200):
        assert obs.shape == (4,) and obs.dtype == np.float32
        assert np.all((obs >= 0) & (obs <= 1))
        obs, _, done, _, _ = env.step(env.scripted_action())
        if done:
            obs, _ = env.reset()


@pytest.mark.skipif(not gymnasium_available(), reason="gymnasium (extra [games]) not installed")
def test_flappy_passes_gymnasiums_env_checker():
    from gymnasium.utils.env_checker import check_env

    for observation in ("compact", "features"):
        check_env(ll.tasks.make("flappy", observation=observation), skip_render_check=True)


def test_flappy_gym_adapter_gives_our_compact_observation_of_the_real_game():
    pytest.importorskip("flappy_bird_gymnasium")
    real = ll.tasks.make("flappy_gym")
    ours = ll.tasks.make("flappy")
    a, _ = real.reset(seed=3)
    b, _ = ours.reset(seed=3)
    np.testing.assert_array_equal(a, b)
    for _ in range(300):
        action = ours.scripted_action()
        a, ra, ta, _, _ = real.step(action)
        b, rb, tb, _, _ = ours.step(action)
        np.testing.assert_array_equal(a, b)
        assert (ra, ta) == (rb, tb)
        if ta:
            break
