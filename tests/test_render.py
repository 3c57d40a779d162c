"""rgb_array frames of pong, flappy and catch, and the PNG strip of a trained agent's episode."""

import matplotlib.image
import numpy as np
import pytest

import locallearn as ll
from locallearn.render import canvas, fill_rect, strip


def test_drawing_helpers_clip_and_lay_out():
    frame = canvas(10, 20, (1, 2, 3))
    fill_rect(frame, -5, 8, 10, 10, (255, 0, 0))  # clipped at the left and bottom edges
    assert frame[8:, :5].tolist() == [[[255, 0, 0]] * 5] * 2 and frame[7, 0].tolist() == [1, 2, 3]
    sheet = strip([frame] * 5, columns=2, gap=1)
    assert sheet.shape == (3 * 10 + 2, 2 * 20 + 1, 3) and sheet.dtype == np.uint8
    with pytest.raises(ValueError, match="no frames"):
        strip([])


def _colour_at(frame, colour):
    ys, xs = np.nonzero(np.all(frame == colour, axis=2))
    return ys, xs


def test_pong_frame_shows_paddles_ball_and_score_where_the_state_says():
    env = ll.tasks.make("pong", render_mode="rgb_array")
    env.reset(seed=1)
    while env.ball_x == 0:
        env.step(0)
    frame = env.render()
    assert frame.shape == (210, 160, 3) and frame.dtype == np.uint8
    ys, xs = _colour_at(frame, (92, 186, 92))  # the agent's paddle
    from locallearn.tasks.pong import HIT_HIGH, HIT_LOW

    # the paddle is drawn over its hit window, 20 rows up (RAM y -> screen row)
    assert ys.min() == env.agent_y + HIT_LOW - 20 and ys.max() == env.agent_y + HIT_HIGH - 21
    assert xs.min() == 189 + 1 - 44
    ys, xs = _colour_at(frame, (236, 236, 236))
    ball = (ys > 44 - 20) & (ys < 207 - 20 + 4)  # between the walls
    assert abs(ys[ball].mean() - (env.ball_y - 20)) <= 2
    assert abs(xs[ball].mean() - (env.ball_x - 44)) <= 2
    assert ll.tasks.make("pong").render() is None  # no render mode: nothing drawn
    with pytest.raises(ValueError, match="render_mode"):
        ll.tasks.make("pong", render_mode="human")


def test_flappy_and_catch_frames():
    env = ll.tasks.make("flappy", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (512, 288, 3)
    ys, xs = _colour_at(frame, (247, 208, 58))  # the bird
    assert xs.min() == env.player_x and ys.min() == int(env.player_y)
    catch = ll.tasks.make("catch", render_mode="rgb_array")
    catch.reset(seed=0)
    frame = catch.render()
    ys, xs = _colour_at(frame, (240, 240, 240))
    assert xs.min() // 16 == catch.ball[1] and ys.min() // 16 == catch.ball[0]


def test_play_saves_a_strip_of_the_first_episode(tmp_path):
    from locallearn.cli import main

    out = tmp_path / "catch"
    assert main(["run", "--task", "catch", "--steps", "300", "--out", str(out), "--no-progress"]) == 0
    png = tmp_path / "strip.png"
    assert main(["play", str(out), "--episodes", "2", "--strip", str(png)]) == 0
    image = matplotlib.image.imread(png)
    assert image.shape[0] >= 160 and image.shape[1] > 80  # at least one 160 x 80 frame
    assert main(["play", str(out), "--strip", str(png), "--task", "evidence"]) != 0
