"""Pong: rules of the game, observation modes, seeding, checker."""

import numpy as np
import pytest
from conftest import load_benchmark

import locallearn as ll
from locallearn.spaces import gymnasium_available


@pytest.mark.parametrize(
    "observation, size", [("state", 7), ("relative", 8), ("relative_motion", 9), ("positions", 4), ("ram", 6)]
)
def test_observations_have_their_documented_size_and_range(observation, size):
    env = ll.tasks.make("pong", observation=observation)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(300):
        assert obs.shape == (size,) and obs.dtype == np.float32
        assert np.all(obs >= 0) and np.all(obs <= 1)
        obs, *_ = env.step(int(rng.integers(3)))


def test_a_game_ends_at_21_points_with_score_in_info_and_unit_rewards():
    env = ll.tasks.make("pong")
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    total, done = 0.0, False
    while not done:
        _, reward, terminated, truncated, info = env.step(int(rng.integers(3)))
        assert reward in (-1.0, 0.0, 1.0)
        total += reward
        done = terminated or truncated
    assert terminated and max(env.agent_score, env.cpu_score) == 21
    assert info["score"] == total == env.agent_score - env.cpu_score


def test_continuing_mode_never_terminates_and_counts_games():
    env = ll.tasks.make("pong", continuing=True)
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    for _ in range(4000):
        _, _, terminated, truncated, info = env.step(int(rng.integers(3)))
        assert not terminated and not truncated
    assert info["games"] >= 1


def test_same_seed_same_game():
    trajectories = []
    for _ in range(2):
        env = ll.tasks.make("pong")
        obs, _ = env.reset(seed=5)
        frames = [obs]
        for t in range(500):
            obs, *_ = env.step(t % 3)
            frames.append(obs)
        trajectories.append(np.array(frames))
    np.testing.assert_array_equal(*trajectories)


def test_paddle_has_the_inertia_measured_on_ale():
    env = ll.tasks.make("pong")
    env.reset(seed=0)
    ys = [env.agent_y]
    for action in [2, 2, 2, 0, 0, 0]:
        env.step(action)
        ys.append(env.agent_y)
    assert np.diff(ys).tolist() == [10, 20, 23, 13, 3, 0]


@pytest.mark.skipif(not gymnasium_available(), reason="gymnasium (extra [games]) not installed")
def test_pong_passes_gymnasiums_env_checker():
    from gymnasium.utils.env_checker import check_env

    for observation in ("state", "relative", "relative_motion", "positions", "ram"):
        check_env(ll.tasks.make("pong", observation=observation), skip_render_check=True)


def test_ale_pong_adapter_reads_the_ram_features_and_maps_actions():
    pytest.importorskip("ale_py")
    env = ll.tasks.make("ale_pong", sticky=0.0, observation="ram")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6,) and obs.dtype == np.float32
    ys = []
    for _ in range(6):
        obs, reward, terminated, truncated, _ = env.step(1)  # up: RAM[51] decreases
        ys.append(obs[2] * 255)
        assert np.all((obs >= 0) & (obs <= 1))
    assert ys[-1] < ys[0]


def test_truncated_game_scores_points_not_shaping():
    env = ll.tasks.make("pong", max_steps=400, shaping=1.0)
    env.reset(seed=3)
    total, info, truncated, terminated = 0.0, {}, False, False
    while not (truncated or terminated):
        _, reward, terminated, truncated, info = env.step(env.scripted_action("track"))
        total += reward
    assert truncated and not terminated
    assert info["score"] == env.agent_score - env.cpu_score
    assert total != info["score"]  # the return holds shaping; the metric does not
    assert env.episode_metric(total, info) == info["score"]


def _cpu_faces(dy: int, y: int) -> bool:
    """A ball returned by the agent at height y with vertical speed dy, the CPU level with it;
    True when the CPU returns it."""
    env = ll.tasks.make("pong")
    env.reset(seed=0)
    env.ball_x, env.ball_y, env.dx, env.dy, env.cpu_y = 189, y, -4, dy, y
    env.agent_y = 120
    for _ in range(40):
        if env.dx > 0:
            return True
        if env.step(0)[1] == 1.0:
            return False
    raise AssertionError("the ball neither came back nor scored")


def test_cpu_misses_steep_balls_and_only_those_as_measured_on_ale():
    # ALE (benchmarks/pong_calibration.py --cpu): the CPU missed 70 of 98 balls at |dy| >= 8
    # and 4 of 230 others.
    heights = range(50, 200, 3)
    for dy in (-4, -2, 0, 2, 4):
        assert all(_cpu_faces(dy, y) for y in heights), dy
    steep = [_cpu_faces(dy, y) for dy in (-8, 8) for y in heights]
    assert np.mean(steep) < 0.5


@pytest.mark.parametrize(
    "offset, dy", [(-5, -8), (0, -8), (1, -4), (4, -4), (5, 0), (8, 0), (9, 4), (12, 4), (13, 8), (17, 8)]
)
def test_return_angle_follows_the_hit_offset(offset, dy):
    env = ll.tasks.make("pong")
    env.reset(seed=0)
    env.agent_y, env.agent_v = 120, 0
    env.ball_x, env.ball_y, env.dx, env.dy = 185, 120 + offset, 4, 0
    env.step(0)
    assert (env.ball_x, env.dx, env.dy) == (189, -4, dy)


@pytest.mark.parametrize("offset", [-6, 18])
def test_ball_outside_the_hit_window_passes_the_paddle(offset):
    env = ll.tasks.make("pong")
    env.reset(seed=0)
    env.agent_y, env.agent_v = 120, 0
    env.ball_x, env.ball_y, env.dx, env.dy = 185, 120 + offset, 4, 0
    env.step(0)
    assert env.dx == 4 and env.ball_x == 189


def test_relative_observation_measures_the_ball_against_the_hit_window():
    env = ll.tasks.make("pong", observation="relative")
    env.reset(seed=0)
    env.agent_y, env.ball_x, env.dx, env.dy = 120, 150, 4, 0
    values = []
    for offset in (-5, 6, 17):  # top of the window, its middle, its bottom
        env.ball_y = 120 + offset
        values.append(env._observe()[7])
    assert values[0] < 0.5 - 0.2 and values[1] == pytest.approx(0.5) and values[2] > 0.5 + 0.2
    state = ll.tasks.make("pong", observation="state")
    state.reset(seed=0)
    for name in ("ball_x", "ball_y", "dx", "dy", "agent_y", "cpu_y", "agent_v"):
        setattr(state, name, getattr(env, name))
    np.testing.assert_array_equal(env._observe()[:7], state._observe())


def test_relative_motion_adds_the_rate_at_which_the_offset_closes():
    env = ll.tasks.make("pong", observation="relative_motion")
    relative = ll.tasks.make("pong", observation="relative")
    for game in (env, relative):
        game.reset(seed=0)
    rng = np.random.default_rng(1)
    rates = set()
    for _ in range(400):
        action = int(rng.integers(3))
        obs, *_ = env.step(action)
        expected, *_ = relative.step(action)
        np.testing.assert_array_equal(obs[:8], expected)  # the first eight are "relative"
        rate = env.dy - env.agent_v if env.ball_x != 0 else 0
        assert obs[8] == pytest.approx(0.5 + 0.5 * np.tanh(rate / 16), abs=1e-6)
        if env.ball_x != 0 and rate:
            rates.add(np.sign(rate))
            # the offset grows with a positive rate: the ball moves down relative to the paddle
            assert (obs[8] > 0.5) == (rate > 0)
    assert rates == {-1, 1}


def test_state_observation_carries_the_paddles_velocity():
    # with inertia the paddle's next position depends on its velocity: the observation must
    # tell a resting paddle from one moving at top speed in either direction
    env = ll.tasks.make("pong", observation="state")
    env.reset(seed=0)
    seen = []
    for action in (1, 1, 1, 0, 0, 0, 2, 2, 2):
        obs, *_ = env.step(action)
        seen.append((env.agent_v, obs[6]))
    assert {v for v, _ in seen} >= {-23, 0, 23}
    for velocity, feature in seen:
        assert feature == pytest.approx((velocity / 23 + 1) / 2)


def test_agent_diagnosis_accounts_for_every_point_and_every_ball(tmp_path):
    from locallearn.runs import run_lifetime

    run_lifetime({"task": "pong", "seed": 0, "training": {"steps": 1500}}, tmp_path / "run", progress=False)
    bench = load_benchmark("pong_agent")
    counts = bench.replay(str(tmp_path / "run"), steps=4000, seed=3, greedy=False)
    assert counts["won"] + counts["lost"] > 0
    # every point lost is a ball the agent missed; every ball it met was returned or missed
    assert sum(counts["agent_missed"].values()) == counts["lost"]
    assert sum(counts["agent_faced"].values()) == counts["lost"] + sum(counts["returns"].values())
    assert sum(counts["cpu_missed"].values()) == counts["won"]
    assert counts["cpu_faced"] == counts["returns"]
    run_lifetime({"task": "catch", "seed": 0, "training": {"steps": 200}}, tmp_path / "catch", progress=False)
    with pytest.raises(ValueError, match="not pong"):
        bench.replay(str(tmp_path / "catch"), steps=10, seed=0, greedy=True)
