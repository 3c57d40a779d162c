"""Adapter to the real Flappy Bird (optional extra ``[games]``): the same observations and actions
as our ``flappy``, so that an agent trained on ours plays the real thing.

``flappy_gym`` — flappy-bird-gymnasium's ``FlappyBird-v0`` (``use_lidar=False``), observation
``"compact"`` (our 4 features, computed from the package's game state) or ``"features"`` (the
package's own 12). It imports the game only when built and names the extra when it is missing.
(Real Pong is ``ale_pong``, in ``tasks/ale.py``: the emulator driven directly.)
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_choice
from locallearn.envs import Environment
from locallearn.runs.checkpoint import CheckpointError
from locallearn.spaces import Box, Discrete

from . import register
from .flappy import FlappyBird


class _ForeignGame(Environment):
    """A real game behind an adapter: its emulator's state is not data this package can record
    yet, so a lifetime on it must run without checkpoints (``training.checkpoint_every = 0``)."""

    def checkpoint_state(self) -> dict:
        raise CheckpointError(
            f"{self.name} cannot be checkpointed yet (the real game's state is "
            "not recorded); set training.checkpoint_every = 0"
        )

    def restore_checkpoint_state(self, state: dict) -> None:
        self.checkpoint_state()


def _require(module: str, package: str):
    try:
        return __import__(module)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(f"this adapter needs {package}: pip install 'locallearn[games]'") from error


@register("flappy_gym")
class FlappyGym(_ForeignGame):
    name = "flappy_gym"
    metric = "pipes"
    defaults = FlappyBird.defaults

    def __init__(self, observation: str = "compact"):
        check_choice("FlappyGym", "observation", observation, ("compact", "features"))
        _require("flappy_bird_gymnasium", "flappy-bird-gymnasium")
        gymnasium = _require("gymnasium", "gymnasium")
        self.env = gymnasium.make("FlappyBird-v0", use_lidar=False, normalize_obs=True)
        self.observation = observation
        self.observation_space = (
            Box(-1.0, 1.0, shape=(12,), dtype=np.float64)
            if observation == "features"
            else Box(0.0, 1.0, shape=(4,), dtype=np.float32)
        )
        self.action_space = Discrete(2)
        self._mirror = FlappyBird(observation="compact")

    def _convert(self, features):
        if self.observation == "features":
            return np.asarray(features)
        game, mirror = self.env.unwrapped, self._mirror
        mirror.player_x, mirror.player_y = game._player_x, game._player_y
        mirror.player_vel_y = game._player_vel_y
        mirror.upper, mirror.lower = game._upper_pipes, game._lower_pipes
        return mirror._observe()

    def reset(self, seed=None, options=None):
        features, info = self.env.reset(seed=seed)
        return self._convert(features), info

    def step(self, action):
        features, reward, terminated, truncated, info = self.env.step(int(action))
        return self._convert(features), float(reward), terminated, truncated, info

    episode_metric = staticmethod(FlappyBird.episode_metric)

    def close(self):
        self.env.close()
