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

    def _seed(self, seed: int | None) -> None:
        if _gymnasium is not None:
            super().reset(seed=seed)
        elif seed is not None or not hasattr(self, "np_random"):
            self.np_random = np.random.default_rng(seed)

    def close(self) -> None:
        pass
