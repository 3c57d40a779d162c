"""The protocol of environment tasks (Gymnasium-shaped) and a base class for ours.

``reset(seed=None, options=None) -> (obs, info)`` and ``step(action) -> (obs, reward, terminated,
truncated, info)`` with ``observation_space`` and ``action_space``; every returned observation is a
fresh array. When gymnasium is installed our environments subclass ``gymnasium.Env`` (so
``check_env`` and wrappers accept them); otherwise a plain base with the same surface.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .spaces import _gymnasium

_Base = _gymnasium.Env if _gymnasium is not None else object


class Environment(_Base):
    """Base of our environments: seeding through ``self.np_random`` like gymnasium."""

    metadata: dict[str, Any] = {"render_modes": []}
    kind = "environment"
    render_mode = None
    metric = "return"  # the name of what ``episode_metric`` measures

    @staticmethod
    def episode_metric(episode_return: float, info: dict) -> float:
        """The task's headline figure of a finished episode (default: its return)."""
        return float(episode_return)

    def _set_render_mode(self, render_mode: str | None) -> None:
        """Accept ``render_mode`` if ``metadata["render_modes"]`` lists it (None: no frames)."""
        allowed = self.metadata.get("render_modes", [])
        if render_mode is not None and render_mode not in allowed:
            raise ValueError(
                f"{type(self).__name__}: render_mode must be None or one of {allowed}, got {render_mode!r}"
            )
        self.render_mode = render_mode

    def _is_action(self, action) -> bool:
        """``action_space.contains(action)``, with a fast path for the plain integers an agent
        passes every step (the space's own check costs as much as a Pong step)."""
        if type(action) is int or isinstance(action, np.integer):
            return 0 <= action < self.action_space.n
        return self.action_space.contains(action)

    def _seed(self, seed: int | None) -> None:
        if _gymnasium is not None:
            super().reset(seed=seed)
        elif seed is not None or not hasattr(self, "np_random"):
            self.np_random = np.random.default_rng(seed)

    def close(self) -> None:
        pass
