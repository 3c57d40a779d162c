"""Adapters to the real games (optional extra ``[games]``): the same observations and actions as
our ``flappy`` and ``pong``, so that an agent trained on ours plays the real thing.

* ``flappy_gym`` — flappy-bird-gymnasium's ``FlappyBird-v0`` (``use_lidar=False``), observation
  ``"compact"`` (our 4 features, computed from the package's game state) or ``"features"``
  (the package's own 12).
* ``ale_pong`` — ``ALE/Pong-v5`` (ale-py) read through its RAM: observation RAM[49], RAM[54],
  RAM[51], RAM[50], RAM[13], RAM[14] / 255 (our pong's ``"ram"`` mode); actions 0 / 1 / 2 map to
  ALE's 0 (NOOP) / 2 (up) / 3 (down).

Both import their game only when built, and say which extra to install when it is missing.
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


@register("ale_pong")
class ALEPong(_ForeignGame):
    name = "ale_pong"
    metric = "score"
    ACTIONS = (0, 2, 3)

    def __init__(self, sticky: float = 0.25):
        ale_py = _require("ale_py", "ale-py")
        gymnasium = _require("gymnasium", "gymnasium")
        gymnasium.register_envs(ale_py)
        self.env = gymnasium.make("ALE/Pong-v5", obs_type="ram", repeat_action_probability=sticky)
        self.observation_space = Box(0.0, 1.0, shape=(6,), dtype=np.float32)
        self.action_space = Discrete(3)

    @staticmethod
    def _convert(ram) -> np.ndarray:
        return (np.asarray(ram)[[49, 54, 51, 50, 13, 14]].astype(np.float32) / 255).astype(np.float32)

    def reset(self, seed=None, options=None):
        ram, info = self.env.reset(seed=seed)
        self.points = [0, 0]
        return self._convert(ram), info

    def step(self, action):
        ram, reward, terminated, truncated, info = self.env.step(self.ACTIONS[int(action)])
        if reward:
            self.points[reward < 0] += 1
        if terminated or truncated:
            info = {**info, "score": self.points[0] - self.points[1]}
        return self._convert(ram), float(reward), terminated, truncated, info

    @staticmethod
    def episode_metric(episode_return: float, info: dict) -> float:
        return float(info.get("score", episode_return))

    def close(self):
        self.env.close()
