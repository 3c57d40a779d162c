"""MinAtar games (extra [minatar]): gymnasium's checker, MinAtar's own dynamics, exact checkpoints."""

import numpy as np
import pytest

import locallearn as ll
from locallearn.runs import checkpoint, execute

minatar = pytest.importorskip("minatar", reason="needs the [minatar] extra")
GAMES = ("breakout", "space_invaders", "freeway", "asterix", "seaquest")


@pytest.mark.parametrize("game", GAMES)
def test_each_game_passes_the_env_checker_and_shows_minatars_state(game):
    from gymnasium.utils.env_checker import check_env

    env = ll.tasks.make(f"minatar_{game}", sticky=0.0)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    own = minatar.Environment(game, sticky_action_prob=0.0)
    assert obs.shape == (int(np.prod(own.state_shape())),)
    np.testing.assert_array_equal(obs, env.env.state().astype(np.float32).ravel())
    assert env.action_space.n == len(own.minimal_action_set())


@pytest.mark.parametrize("game", GAMES)
def test_a_restored_checkpoint_continues_the_game_exactly(game, tmp_path):
    def play(env, n, seed):
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(n):
            step = env.step(int(rng.integers(env.action_space.n)))
            out.append((step[0], step[1:4]))
            if step[2] or step[3]:
                env.reset()
        return out

    a = ll.tasks.make(f"minatar_{game}")
    a.reset(seed=4)
    play(a, 300, seed=0)
    checkpoint.save(tmp_path, {"env": a}, {})
    b = ll.tasks.make(f"minatar_{game}")
    b.reset(seed=99)
    checkpoint.load(tmp_path, {"env": b})
    for (oa, ra), (ob, rb) in zip(play(a, 1500, seed=1), play(b, 1500, seed=1)):
        np.testing.assert_array_equal(oa, ob)
        assert ra == rb


def test_a_short_breakout_lifetime_runs_with_binary_inputs(tmp_path):
    summary = execute(
        {"task": "minatar_breakout", "seed": 0, "training": {"steps": 3000, "eval_episodes": 2}},
        tmp_path / "run",
        progress=False,
    )
    assert summary["status"] == "completed" and summary["episodes"] > 10
    assert summary["evaluation"]["greedy"]["n"] == 2
