"""Real Pong (ale-py, extra [games]): the adapter's semantics, its RAM features against the
screen, its checkpoints, and agents moving between the clone and the real game."""

import numpy as np
import pytest

import locallearn as ll
from locallearn.runs import checkpoint, execute, play

pytest.importorskip("ale_py", reason="needs the [games] extra")


def test_every_observation_passes_gymnasiums_env_checker():
    from gymnasium.utils.env_checker import check_env

    for observation in ("state", "relative", "relative_motion", "positions", "ram", "screen"):
        env = ll.tasks.make("ale_pong", observation=observation)
        check_env(env, skip_render_check=True)
        assert env.observation_space.shape == (
            1600
            if observation == "screen"
            else ll.tasks.make("pong", observation=observation).observation_space.shape[0],
        )


def test_ram_positions_agree_with_the_screen_within_one_pixel():
    env = ll.tasks.make("ale_pong", sticky=0.0, render_mode="rgb_array")
    env.reset(seed=3)
    rng = np.random.default_rng(0)
    checked = {"ball": 0, "agent": 0, "cpu": 0}
    for _ in range(600):
        env.step(int(rng.integers(3)))
        ram, screen = env.ale.getRAM(), env.render()
        court = screen[34:194]
        ball = np.argwhere(np.all(court == (236, 236, 236), axis=-1))
        if ram[54] and len(ball):
            assert abs(ball[:, 1].min() - (int(ram[49]) - 49)) <= 1
            assert abs(ball[:, 0].min() + 34 - (int(ram[54]) - 14)) <= 1
            checked["ball"] += 1
        for name, colour, index, offset in (
            ("agent", (92, 186, 92), 51, 14),
            ("cpu", (213, 130, 74), 50, 15),
        ):
            rows = np.argwhere(np.all(court == colour, axis=-1))[:, 0] + 34
            if len(rows) and 34 < rows.min() and rows.max() < 193:  # the whole paddle in view
                assert abs(rows.min() - (int(ram[index]) - offset)) <= 1, name
                checked[name] += 1
    assert min(checked.values()) > 100, checked


def test_up_and_down_move_the_agents_paddle_and_points_are_scored():
    env = ll.tasks.make("ale_pong", sticky=0.0)
    env.reset(seed=0)
    y0 = int(env.ale.getRAM()[51])
    for _ in range(3):
        env.step(1)
    up = int(env.ale.getRAM()[51])
    for _ in range(6):
        env.step(2)
    down = int(env.ale.getRAM()[51])
    assert up < y0 < down or (up < y0 and down > up)
    total, done, info = 0.0, False, {}
    while not done:
        _, reward, terminated, truncated, info = env.step(0)
        total += reward
        done = terminated or truncated
    assert terminated and info["finished"] and info["score"] == total == -21


def test_a_restored_checkpoint_continues_the_game_exactly(tmp_path):
    def play_on(env, n, seed=5):
        rng = np.random.default_rng(seed)
        return [env.step(int(rng.integers(3)))[:4] for _ in range(n)]

    a = ll.tasks.make("ale_pong", observation="relative", shaping=0.5)
    a.reset(seed=11)
    play_on(a, 300, seed=1)
    checkpoint.save(tmp_path, {"env": a}, {})
    b = ll.tasks.make("ale_pong", observation="relative", shaping=0.5)
    b.reset(seed=99)
    checkpoint.load(tmp_path, {"env": b})
    for (oa, ra, ta, tra), (ob, rb, tb, trb) in zip(play_on(a, 500), play_on(b, 500)):
        np.testing.assert_array_equal(oa, ob)
        assert (ra, ta, tra) == (rb, tb, trb)


def test_a_clone_agent_plays_the_real_game(tmp_path):
    execute(
        {"task": "pong", "seed": 0, "training": {"steps": 500, "eval_episodes": 0}},
        tmp_path / "clone",
        progress=False,
    )
    result = play(tmp_path / "clone", episodes=1, task="ale_pong", max_steps=300)
    assert result["episodes"] == 1 and result["metric"] == "score"


def test_kill_9_then_resume_a_real_pong_lifetime_gives_the_uninterrupted_weights(tmp_path):
    from conftest import kill_then_resume, past_the_first_checkpoint

    settings = [
        "--task",
        "ale_pong",
        "--steps",
        "4000",
        "--seed",
        "2",
        "--set",
        "training.checkpoint_every=500",
        "--set",
        "training.eval_episodes=1",
        "--set",
        "training.eval_max_steps=300",
        "--no-progress",
    ]

    kill_then_resume(settings, tmp_path, past_the_first_checkpoint)
