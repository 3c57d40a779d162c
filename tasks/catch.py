"""Catch (sanity RL task, as in bsuite's catch): a ball falls down a grid, a paddle must be under it.

Grid of ``rows`` x ``columns`` (10 x 5). The ball starts in the top row at a uniformly random column
and falls one row per step; the paddle sits in the bottom row (starting in the middle) and moves
left, stays, or moves right (actions 0, 1, 2). When the ball reaches the bottom row the episode
terminates with reward +1 if the paddle is under it and -1 otherwise (0 on the other steps), so an
episode lasts ``rows - 1`` steps. Observation ``"state"``: [ball column, ball row, paddle column],
each scaled to [0, 1]; ``"pixels"``: the flattened grid (1 = ball or paddle).
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_choice, check_int
from locallearn.envs import Environment
from locallearn.spaces import Box, Discrete

from . import register


@register("catch")
class Catch(Environment):
    name = "catch"
    metric = "catch_rate"
    defaults = {
        "network": {
            "n_rec": 50,
            "n_adaptive": 0,
            "n_ref": 2,
            "w_in_gain": 1.5,
            "w_out_gain": 0.1,
            "tau_out": 5.0,
        },
        "agent": {"encoder": "population", "encoder_options": {"n_neurons": 10}, "micro_steps": 5},
        "rule": {
            "name": "reward-eprop",
            "feedback": "symmetric",
            "lr": 1e-3,
            "gamma": 0.95,
            "lam": 0.95,
            "guard_kappa": None,
        },
        "training": {"steps": 200_000, "window": 100},
    }

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(
        self, rows: int = 10, columns: int = 5, observation: str = "state", render_mode: str | None = None
    ):
        self._set_render_mode(render_mode)
        check_int("Catch", "rows", rows, minimum=3)
        check_int("Catch", "columns", columns, minimum=2)
        check_choice("Catch", "observation", observation, ("state", "pixels"))
        self.rows, self.columns, self.observation = rows, columns, observation
        size = 3 if observation == "state" else rows * columns
        self.observation_space = Box(0.0, 1.0, shape=(size,), dtype=np.float32)
        self.action_space = Discrete(3)
        self._seed(None)
        self.ball = self.paddle = None

    def _observe(self) -> np.ndarray:
        if self.observation == "state":
            return np.array(
                [
                    self.ball[1] / (self.columns - 1),
                    self.ball[0] / (self.rows - 1),
                    self.paddle / (self.columns - 1),
                ],
                np.float32,
            )
        grid = np.zeros((self.rows, self.columns), np.float32)
        grid[self.ball[0], self.ball[1]] = 1
        grid[-1, self.paddle] = 1
        return grid.ravel()

    def reset(self, seed=None, options=None):
        self._seed(seed)
        self.ball = [0, int(self.np_random.integers(self.columns))]
        self.paddle = self.columns // 2
        return self._observe(), {}

    def step(self, action):
        if self.ball is None:
            raise RuntimeError("call reset() before step()")
        if not self._is_action(action):
            raise ValueError(f"Catch: action must be 0, 1 or 2, got {action!r}")
        # min/max, not np.clip: the same integer at a twentieth of np.clip's call cost on scalars
        self.paddle = min(max(self.paddle + int(action) - 1, 0), self.columns - 1)
        self.ball[0] += 1
        terminated = self.ball[0] == self.rows - 1
        reward = 0.0
        info = {}
        if terminated:
            caught = self.ball[1] == self.paddle
            reward = 1.0 if caught else -1.0
            info["caught"] = caught
        return self._observe(), reward, terminated, False, info

    @staticmethod
    def episode_metric(episode_return: float, info: dict) -> float:
        return float(info.get("caught", episode_return > 0))

    def render(self) -> np.ndarray | None:
        """An RGB frame: the grid at 16 px per cell, ball white, paddle green."""
        if self.render_mode != "rgb_array":
            return None
        if self.ball is None:
            raise RuntimeError("call reset() before render()")
        from locallearn.render import canvas, fill_rect

        cell = 16
        frame = canvas(self.rows * cell, self.columns * cell, (24, 24, 32))
        fill_rect(
            frame, self.ball[1] * cell + 3, self.ball[0] * cell + 3, cell - 6, cell - 6, (240, 240, 240)
        )
        fill_rect(
            frame, self.paddle * cell, (self.rows - 1) * cell + cell // 2, cell, cell // 2, (92, 186, 92)
        )
        return frame
