"""MinAtar (Young & Tian 2019; pip ``minatar``, extra ``[minatar]``): Breakout, Space Invaders,
Freeway, Asterix and Seaquest — the small-arcade benchmark of streaming-RL papers.

The state is 10 x 10 x n binary (n channels per game: 4, 6, 7, 4, 10), given as one input per
cell and channel (flattened, float 0/1): with the default ``current`` encoder each active cell
drives its input neuron at every micro-step. Sticky actions (``sticky`` = 0.1) and difficulty
ramping (``ramping`` = True) are MinAtar's defaults. ``actions``: ``"minimal"`` (the game's own
minimal set, MinAtar's ``minimal_action_set``) or ``"full"`` (all 6). Rewards and termination are
MinAtar's; ``max_steps`` (100,000) truncates an episode that never ends.

Seeding: ``reset(seed=s)`` seeds the game's generator (MinAtar's ``seed``) from ``s``; later
resets continue it. Checkpoints record the game's state and generator as data.

The defaults of network, rule and budget are a starting point, not tuned (issue 19 tunes every
rule with the same budget).
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_choice, check_int
from locallearn.envs import Environment
from locallearn.spaces import Box, Discrete

from . import register

GAMES = ("breakout", "space_invaders", "freeway", "asterix", "seaquest")
_WRAPPER = ("channels", "action_map", "random", "ramping")  # rebuilt by the constructor


def _minatar():
    try:
        import minatar
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError("MinAtar tasks need minatar: pip install 'locallearn[minatar]'") from error
    return minatar


def _random_state(rng: np.random.RandomState) -> dict:
    name, keys, position, has_gauss, cached = rng.get_state()
    return {
        "name": name,
        "keys": keys.copy(),
        "position": int(position),
        "has_gauss": int(has_gauss),
        "cached": float(cached),
    }


class MinAtarGame(Environment):
    """One MinAtar game as a Gymnasium-shaped environment."""

    game = "breakout"
    metric = "return"
    defaults = {
        "network": {"n_rec": 128, "n_adaptive": 0, "tau_mem": 5.0, "tau_out": 5.0, "w_in_gain": 1.0},
        "agent": {"encoder": "current", "micro_steps": 2},
        "rule": {"name": "reward-eprop", "feedback": "random", "lr": 5e-4, "gamma": 0.99, "lam": 0.8},
        "training": {"steps": 5_000_000, "window": 100},
    }

    def __init__(
        self, sticky: float = 0.1, ramping: bool = True, actions: str = "minimal", max_steps: int = 100_000
    ):
        if not 0 <= sticky <= 1:
            raise ValueError(f"{type(self).__name__}.sticky must lie in [0, 1], got {sticky}")
        check_choice(type(self).__name__, "actions", actions, ("minimal", "full"))
        check_int(type(self).__name__, "max_steps", max_steps, minimum=1)
        minatar = _minatar()
        self.env = minatar.Environment(
            self.game, sticky_action_prob=float(sticky), difficulty_ramping=bool(ramping)
        )
        self.sticky, self.ramping, self.actions, self.max_steps = sticky, ramping, actions, max_steps
        self.action_set = list(self.env.minimal_action_set()) if actions == "minimal" else list(range(6))
        shape = self.env.state_shape()
        self.observation_space = Box(0.0, 1.0, shape=(int(np.prod(shape)),), dtype=np.float32)
        self.action_space = Discrete(len(self.action_set))
        self._seed(None)
        self.t = None

    def _observe(self) -> np.ndarray:
        return self.env.state().astype(np.float32).ravel()

    def reset(self, seed=None, options=None):
        self._seed(seed)
        if seed is not None:
            self.env.seed(int(np.random.SeedSequence(int(seed)).generate_state(1)[0]))
        self.env.reset()
        self.t = 0
        return self._observe(), {}

    def step(self, action):
        if self.t is None:
            raise RuntimeError("call reset() before step()")
        if not self._is_action(action):
            raise ValueError(f"{self.name}: action must lie in [0, {self.action_space.n}), got {action!r}")
        reward, terminal = self.env.act(self.action_set[int(action)])
        self.t += 1
        truncated = not terminal and self.t >= self.max_steps
        return self._observe(), float(reward), bool(terminal), truncated, {}

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_state(self) -> dict:
        game = self.env.env
        return {
            "game": {k: v for k, v in vars(game).items() if k not in _WRAPPER},
            "random": _random_state(self.env.random),
            "last_action": int(self.env.last_action),
            "t": self.t,
            "np_random": self.np_random,
        }

    def restore_checkpoint_state(self, state: dict) -> None:
        game = self.env.env
        for name, value in state["game"].items():
            setattr(game, name, value)
        rng = np.random.RandomState()
        r = state["random"]
        rng.set_state(
            (r["name"], np.asarray(r["keys"], np.uint32), r["position"], r["has_gauss"], r["cached"])
        )
        self.env.random = game.random = rng
        self.env.last_action = state["last_action"]
        self.t = state["t"]
        self.np_random.bit_generator.state = state["np_random"].bit_generator.state


def _register(game: str) -> None:
    cls = type(
        f"MinAtar{''.join(p.title() for p in game.split('_'))}",
        (MinAtarGame,),
        {"game": game, "name": f"minatar_{game}", "__doc__": f"MinAtar {game} (see the module docstring)."},
    )
    register(f"minatar_{game}")(cls)
    globals()[cls.__name__] = cls


for _game in GAMES:
    _register(_game)
