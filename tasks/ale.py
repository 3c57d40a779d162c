"""Real Atari Pong through ale-py's own interface (extra ``[games]``): ``ale_pong``.

Pong-v5 semantics, stated and configurable: one agent step is ``frameskip`` = 4 emulator frames
(rewards summed), sticky actions with ``repeat_action_probability`` = ``sticky`` = 0.25 (ALE
repeats the previous action on each frame with that probability; 0 gives the deterministic
game), episodes end when a player reaches 21 points (terminated) or after ``max_frames`` =
108,000 frames (truncated), as ``gymnasium.make("ALE/Pong-v5")`` defines them. The emulator is
driven directly (``ale_py.ALEInterface``), not through gymnasium's wrapper.

Actions (``actions``): ``"three"`` = 0 stay, 1 up, 2 down — the clone's actions, ALE's NOOP,
RIGHT, LEFT —; ``"minimal"`` = ALE's 6-action minimal set; ``"full"`` = all 18.

Observations (``observation``) are the clone's feature families, computed by the same function
(:func:`locallearn.tasks.pong.features`) from the RAM — RAM[49] ball x, RAM[54] ball y (0: no
ball in play), RAM[51] agent paddle y, RAM[50] CPU paddle y, RAM[13] / RAM[14] CPU / agent
points — with velocities taken from consecutive reads (one agent step apart): ``"state"``,
``"relative"``, ``"relative_motion"``, ``"positions"`` and ``"ram"`` (those six bytes / 255);
so an encoder and an agent move between ``pong`` and ``ale_pong`` unchanged. ``"screen"`` is the
court's grayscale pixels (rows 34-193), 4 x 4 average-pooled to 40 x 40, / 255.

The RAM coordinates map to the screen as: column = x - 49, row = y - 14 for the ball; paddles'
top rows y - 14 (agent, +-1) and y - 15 (CPU) — checked on recorded frames by the tests.

``shaping`` adds that reward for each ball the agent returns (its x velocity turns from
rightwards to leftwards); the score (``info["score"]``, the episode metric) never includes it.
Checkpoints record the emulator's full state with its random generator (``cloneState``), so a
resumed lifetime continues exactly.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_choice, check_int, check_positive
from locallearn.envs import Environment
from locallearn.spaces import Box, Discrete

from . import register
from .pong import OBSERVATIONS, Pong, features

RAM_BALL_X, RAM_BALL_Y, RAM_AGENT_Y, RAM_CPU_Y, RAM_CPU_POINTS, RAM_AGENT_POINTS = 49, 54, 51, 50, 13, 14
THREE_ACTIONS = (0, 2, 3)  # indices into the minimal set: NOOP, RIGHT (up), LEFT (down)
SCREEN_TOP, SCREEN_BOTTOM, POOL = 34, 194, 4


def _ale_py():
    try:
        import ale_py
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError("ale_pong needs ale-py: pip install 'locallearn[games]'") from error
    return ale_py


@register("ale_pong")
class ALEPong(Environment):
    name = "ale_pong"
    metric = "score"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}
    # the clone's lifetime settings (observation, shaping, network, agent, rule) carry over, so
    # a configuration that learns on one runs unchanged on the other; the budget is the real
    # game's: 10M agent steps (40M frames) per lifetime
    defaults = {**Pong.defaults, "training": {"steps": 10_000_000, "window": 10}}

    def __init__(
        self,
        observation: str = "state",
        sticky: float = 0.25,
        frameskip: int = 4,
        actions: str = "three",
        shaping: float = 0.0,
        max_frames: int = 108_000,
        render_mode: str | None = None,
    ):
        check_choice("ALEPong", "observation", observation, (*OBSERVATIONS, "screen"))
        check_choice("ALEPong", "actions", actions, ("three", "minimal", "full"))
        if not 0 <= sticky <= 1:
            raise ValueError(f"ALEPong.sticky must lie in [0, 1], got {sticky}")
        check_int("ALEPong", "frameskip", frameskip, minimum=1)
        check_positive("ALEPong", "shaping", shaping, allow_zero=True)
        check_int("ALEPong", "max_frames", max_frames, minimum=1)
        ale_py = _ale_py()
        self._set_render_mode(render_mode)
        ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)
        self.ale = ale_py.ALEInterface()
        self.ale.setFloat("repeat_action_probability", float(sticky))
        self.ale.setInt("max_num_frames_per_episode", int(max_frames))
        self.rom = ale_py.roms.get_rom_path("pong")
        self.ale.loadROM(self.rom)
        self.observation, self.sticky, self.frameskip = observation, sticky, frameskip
        self.shaping, self.max_frames = shaping, max_frames
        minimal = list(self.ale.getMinimalActionSet())
        legal = list(self.ale.getLegalActionSet())
        self.action_set = {"three": [minimal[i] for i in THREE_ACTIONS], "minimal": minimal, "full": legal}[
            actions
        ]
        self.actions = actions
        size = 40 * 40 if observation == "screen" else OBSERVATIONS[observation]
        self.observation_space = Box(0.0, 1.0, shape=(size,), dtype=np.float32)
        self.action_space = Discrete(len(self.action_set))
        self._seed(None)
        self.ram = None

    # ------------------------------------------------------------------ observations
    def _observe(self) -> np.ndarray:
        ram = self.ram
        if self.observation == "ram":
            values = ram[[RAM_BALL_X, RAM_BALL_Y, RAM_AGENT_Y, RAM_CPU_Y, RAM_CPU_POINTS, RAM_AGENT_POINTS]]
            return (values.astype(np.float32) / 255).astype(np.float32)
        if self.observation == "screen":
            court = self.ale.getScreenGrayscale()[SCREEN_TOP:SCREEN_BOTTOM].astype(np.float32)
            pooled = court.reshape(40, POOL, 40, POOL).mean(axis=(1, 3))
            return (pooled.ravel() / 255).astype(np.float32)
        ball_x, ball_y = int(ram[RAM_BALL_X]), int(ram[RAM_BALL_Y])
        present = ball_y != 0 and ball_x != 0
        was_present = self.previous[1] != 0 and self.previous[0] != 0
        dx = ball_x - self.previous[0] if present and was_present else 0
        dy = ball_y - self.previous[1] if present and was_present else 0
        agent_y = int(ram[RAM_AGENT_Y])
        agent_v = agent_y - self.previous[2]
        return features(
            self.observation, present, ball_x, ball_y, dx, dy, agent_y, int(ram[RAM_CPU_Y]), agent_v
        )

    def _read(self) -> None:
        self.previous = self.position
        self.ram = self.ale.getRAM()
        self.position = (int(self.ram[RAM_BALL_X]), int(self.ram[RAM_BALL_Y]), int(self.ram[RAM_AGENT_Y]))

    # ------------------------------------------------------------------ gymnasium surface
    def reset(self, seed=None, options=None):
        self._seed(seed)
        if seed is not None:
            # like gymnasium's AtariEnv: the emulator's seed derives from the episode seed, and
            # loading the ROM re-seeds its generator (sticky actions)
            ale_seed = np.random.SeedSequence(int(seed)).generate_state(1)[0] % 2**31
            self.ale.setInt("random_seed", int(ale_seed))
            self.ale.loadROM(self.rom)
        self.ale.reset_game()
        self.points = [0, 0]
        self.frames = 0
        self.position = (0, 0, 0)
        self._read()
        self.previous = self.position
        return self._observe(), {"games": 0}

    def step(self, action):
        if self.ram is None:
            raise RuntimeError("call reset() before step()")
        if not self._is_action(action):
            raise ValueError(f"ALEPong: action must lie in [0, {self.action_space.n}), got {action!r}")
        ale_action = self.action_set[int(action)]
        reward = 0
        for _ in range(self.frameskip):
            reward += self.ale.act(ale_action)
            self.frames += 1
            if self.ale.game_over():
                break
        was_moving_right = self.position[1] != 0 and self.position[0] > self.previous[0]
        self._read()
        returned = was_moving_right and self.position[1] != 0 and self.position[0] < self.previous[0]
        if reward:
            self.points[reward < 0] += 1
        terminated = self.ale.game_over() and not self.ale.game_truncated()
        truncated = bool(self.ale.game_truncated()) or (not terminated and self.frames >= self.max_frames)
        info = {"games": int(terminated)}
        if terminated or truncated:
            info["score"] = self.points[0] - self.points[1]
            info["finished"] = terminated
        shaped = float(reward) + (self.shaping if returned else 0.0)
        return self._observe(), shaped, terminated, truncated, info

    @staticmethod
    def episode_metric(episode_return: float, info: dict) -> float:
        """Score of the game (agent points - CPU points), shaping excluded."""
        return float(info.get("score", episode_return))

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self.ale.getScreenRGB()

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_state(self) -> dict:
        """The emulator's full state (with its generator) as bytes, and this adapter's counters."""
        emulator = np.frombuffer(self.ale.cloneState(include_rng=True).serialize(), np.uint8).copy()
        return {
            "emulator": emulator,
            "points": list(self.points),
            "frames": self.frames,
            "position": list(self.position),
            "previous": list(self.previous),
            "np_random": self.np_random,
        }

    def restore_checkpoint_state(self, state: dict) -> None:
        ale_py = _ale_py()
        self.ale.restoreState(ale_py.ALEState(np.asarray(state["emulator"], np.uint8).tobytes()))
        self.points = list(state["points"])
        self.frames = int(state["frames"])
        self.position, self.previous = tuple(state["position"]), tuple(state["previous"])
        self.np_random.bit_generator.state = state["np_random"].bit_generator.state
        self.ram = self.ale.getRAM()

    def close(self) -> None:
        self.ale = None
