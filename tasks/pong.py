"""Pong in numpy, in the coordinates of ALE Pong-v5's RAM, calibrated against ALE (partly).

**A fast toy, easier than real Pong**: scripted players that win rallies here lose 0-21 on ALE
(figures below), and a policy learned here scored no better than random on ALE. Results about
Pong come from ``ale_pong`` (``tasks/ale.py``, the real game); tables showing this clone say so.

Units are those of the ALE RAM bytes (RAM[49] ball x, RAM[54] ball y, RAM[51] agent paddle y,
RAM[50] CPU paddle y), one step = one agent step of Pong-v5 (4 frames). Measured on ALE 0.12
with repeat_action_probability 0 and built in here:

* the ball moves 4 px per step horizontally between x = 52 and 205; the CPU paddle returns it at
  x = 69, the agent's paddle (on the right) at x = 189; it bounces between y = 44 and 207;
* a paddle at y returns a ball whose offset = ball y - paddle y lies in [-5, 17]; the ball
  leaves with vertical speed -8 for offsets <= 0, -4 for 1..4, 0 for 5..8, +4 for 9..12 and +8
  for >= 13 (the paddle's edges send it off steeply);
* the CPU keeps its paddle level with the ball (offset 0), moving 8 and 6 px on alternate
  steps. A ball at 8 px/step outruns it, so the CPU misses steep balls and little else. Measured
  by ``python benchmarks/pong_calibration.py --cpu --games 8 --max-steps 5000`` (noisy
  edge-aiming play): ALE missed 70 of 98 balls coming in at |dy| >= 8 (-8: 35/40, +8: 35/54) and
  4 of 230 others; this model 100 of 128 (-8: 61/61, +8: 39/67) and 29 of 365 others (mostly
  after a serve, when its paddle starts far from the ball). This is the weakness a learner can
  find;
* the agent's paddle moves within [38, 203] with inertia: +-10 px/step^2 while a button is held,
  top speed 23 px/step, 10 px/step of friction after release (ALE's measured response);
* after a point the ball is absent (x = y = 0, as in RAM) for 14 steps, then served from
  x = 128 towards a random side; a game is 21 points.

Matched (``python benchmarks/pong_calibration.py --games 5``, ours vs ALE): random play -19.0 vs
-20.0 per game, 54 vs 46 steps per point. Not matched: scripted players that hold fixed paddle
offsets (``track``, ``edge``) play long rallies here (+2.4 and +1.4 per game, thousands of steps
per point), while on ALE they lose 0-21 and 20-21. ALE moves and collides per frame (4 per step)
and its outcomes depend on that sub-step phase; this model decides a hit once per step.

Actions: 0 stay, 1 up (y decreases, ALE action 2), 2 down (ALE action 3). Rewards: +1 / -1 per
point, plus ``shaping`` for each return by the agent (0 by default). ``continuing=True`` never
terminates: games follow each other (a lifelong stream; ``info["games"]`` counts them). Otherwise
the episode ends after a game, or is truncated after ``max_steps`` (27,000 = ALE's 108,000 frames).

Observations (float32 in [0, 1]): ``"state"`` = ball x, y, x-velocity, y-velocity, agent y,
CPU y, agent paddle velocity (with inertia, part of the state); ``"relative"`` = those seven and
the ball's offset from the middle of the agent's hit window, 0.5 + 0.5 tanh(offset / 20 px);
``"relative_motion"`` = those eight and the offset's rate of change (ball dy - paddle velocity),
0.5 + 0.5 tanh(rate / 16 px/step);
``"positions"`` = ball x, y, agent y, CPU y (velocities must be inferred: needs memory);
``"ram"`` = RAM[49], RAM[54], RAM[51], RAM[50], RAM[13], RAM[14] divided by 255 (the vector an
adapter can build from the real game's RAM).
"""

from __future__ import annotations

import math

import numpy as np

from locallearn.config import check_choice, check_int, check_positive
from locallearn.envs import Environment
from locallearn.spaces import Box, Discrete

from . import register

X_MIN, X_MAX = 52, 205  # ball leaves the court beyond these
CPU_X, AGENT_X = 69, 189  # where paddles return the ball
Y_MIN, Y_MAX = 44, 207  # ball bounces off these walls
PADDLE_MIN, PADDLE_MAX = 38, 203  # paddle y range
HIT_LOW, HIT_HIGH = -5, 17  # ball y - paddle y inside this window is a hit
SERVE_X, PAUSE = 128, 14
ACCEL, V_MAX = 10, 23  # agent paddle inertia
DX = 4
POINTS_PER_GAME = 21
RELATIVE_SCALE = 20.0  # px, for the "relative" observation
RELATIVE_SPEED_SCALE = 16.0  # px/step, for the "relative_motion" observation


OBSERVATIONS = {"state": 7, "relative": 8, "relative_motion": 9, "positions": 4, "ram": 6}


def features(
    observation: str,
    present: bool,
    ball_x: int,
    ball_y: int,
    dx: int,
    dy: int,
    agent_y: int,
    cpu_y: int,
    agent_v: int,
) -> np.ndarray:
    """The feature observations (every mode but "ram") from the game's state in RAM units —
    one function for this clone and the real game (``ale_pong`` computes velocities from
    consecutive RAM reads), so an encoder and an agent move between them unchanged."""
    ball_x_n = (ball_x - X_MIN) / (X_MAX - X_MIN) if present else 0.0
    ball_y_n = (ball_y - Y_MIN) / (Y_MAX - Y_MIN) if present else 0.0
    agent = (agent_y - PADDLE_MIN) / (PADDLE_MAX - PADDLE_MIN)
    cpu = min(max((cpu_y - PADDLE_MIN) / (PADDLE_MAX - PADDLE_MIN), 0.0), 1.0)
    if observation == "positions":
        values = [ball_x_n, ball_y_n, agent, cpu]
    else:
        # the paddle's own velocity is part of the state: with inertia, where the paddle
        # will be depends on it, and without it the observation is not Markov
        values = [
            ball_x_n,
            ball_y_n,
            (dx / DX + 1) / 2,
            (dy / 8 + 1) / 2,
            agent,
            cpu,
            (agent_v / V_MAX + 1) / 2,
        ]
    if observation in ("relative", "relative_motion"):
        # where the ball is relative to the paddle's hit window, squashed so that the
        # window (offsets -5..17) spans most of [0, 1]: the few pixels that decide between a
        # steep and a flat return get neurons of their own
        offset = ball_y - agent_y - (HIT_LOW + HIT_HIGH) / 2 if present else 0.0
        values.append(0.5 + 0.5 * math.tanh(offset / RELATIVE_SCALE))
    if observation == "relative_motion":
        # and how fast that offset changes: with the paddle's inertia, when to stop pressing
        # depends on offset and closing speed together, which a population code of ball dy and
        # paddle velocity apart does not give a linear readout
        closing = dy - agent_v if present else 0
        values.append(0.5 + 0.5 * math.tanh(closing / RELATIVE_SPEED_SCALE))
    # clipped in Python (float64, then cast): the same numbers as np.clip on the float32 array,
    # at a fraction of its call overhead on 4-9 values
    return np.array([0.0 if v < 0.0 else 1.0 if v > 1.0 else v for v in values], np.float32)


def _clip(value: int, low: int, high: int) -> int:
    return low if value < low else high if value > high else value  # scalars: no numpy overhead


def _bounce_dy(offset: int) -> int:
    """Vertical speed after a hit at ``offset`` = ball y - paddle y, as measured on ALE: the
    paddle's top edge sends the ball up steeply, its bottom edge down steeply."""
    if offset <= 0:
        return -8
    if offset <= 4:
        return -4
    if offset <= 8:
        return 0
    return 4 if offset <= 12 else 8


@register("pong")
class Pong(Environment):
    name = "pong"
    metric = "score"
    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}
    defaults = {
        # lifetime runs: the paddle-relative observation and +0.5 per return (the score
        # excludes it); ``tasks.make("pong")`` is still the plain game
        "task": {"observation": "relative", "shaping": 0.5},
        # fast neurons: the game is Markov in the observation, and with tau_mem = 20 ms (7 env
        # steps at 3 micro-steps each) the layer smears the fast features a return depends on:
        # a linear read of the paddle-ball offset from the readout trace explains 28 % of its
        # variance at tau_mem = 20, 63 % at tau_mem = tau_out = 3 (benchmarks/pong_agent.py
        # --decode)
        "network": {
            "n_rec": 100,
            "n_adaptive": 0,
            "n_ref": 2,
            "w_in_gain": 1.5,
            "w_out_gain": 0.1,
            "tau_mem": 3.0,
            "tau_out": 3.0,
        },
        "agent": {"encoder": "population", "encoder_options": {"n_neurons": 12}, "micro_steps": 3},
        "rule": {
            "name": "reward-eprop",
            "feedback": "symmetric",
            "lr": 5e-4,
            "gamma": 0.99,
            "lam": 0.95,
            "guard_kappa": None,
        },
        # 6M steps: what one lifetime covers in 30 minutes on the 2-core machine (~4,500
        # steps/s alone); seeds 1 and 2 are still improving at 3M
        "training": {"steps": 6_000_000, "window": 10},
    }

    def __init__(
        self,
        observation: str = "state",
        cpu_speed: int = 7,
        shaping: float = 0.0,
        continuing: bool = False,
        max_steps: int = 27_000,
        render_mode: str | None = None,
    ):
        check_choice("Pong", "observation", observation, tuple(OBSERVATIONS))
        check_int("Pong", "cpu_speed", cpu_speed, minimum=2)
        check_positive("Pong", "shaping", shaping, allow_zero=True)
        check_int("Pong", "max_steps", max_steps, minimum=1)
        self._set_render_mode(render_mode)
        self.observation, self.cpu_speed, self.shaping = observation, cpu_speed, shaping
        self.continuing, self.max_steps = continuing, max_steps
        size = OBSERVATIONS[observation]
        self.observation_space = Box(0.0, 1.0, shape=(size,), dtype=np.float32)
        self.action_space = Discrete(3)
        self._seed(None)
        self.t = None

    # ------------------------------------------------------------------ state
    def _serve(self) -> None:
        self.ball_x = self.ball_y = 0
        self.dx = self.dy = 0
        self.pause = PAUSE

    def _launch(self) -> None:
        rng = self.np_random
        self.ball_x = SERVE_X
        self.ball_y = int(rng.integers(Y_MIN + 30, Y_MAX - 30))
        self.dx = DX if rng.random() < 0.5 else -DX
        self.dy = int(rng.choice([-4, -2, 2, 4]))

    def _observe(self) -> np.ndarray:
        if self.observation == "ram":
            values = [self.ball_x, self.ball_y, self.agent_y, self.cpu_y, self.cpu_score, self.agent_score]
            return (np.array(values, np.float32) / 255).astype(np.float32)
        return features(
            self.observation,
            self.ball_x != 0,
            self.ball_x,
            self.ball_y,
            self.dx,
            self.dy,
            self.agent_y,
            self.cpu_y,
            self.agent_v,
        )

    def reset(self, seed=None, options=None):
        self._seed(seed)
        self.agent_y = self.cpu_y = (PADDLE_MIN + PADDLE_MAX) // 2
        self.agent_v = 0
        self.agent_score = self.cpu_score = 0
        self.games = 0
        self.t = 0
        self._serve()
        return self._observe(), {"games": 0}

    # ------------------------------------------------------------------ dynamics
    def _move_agent(self, action: int) -> None:
        # Inertia as measured on ALE: +-10 px/step^2 while a button is held, top speed 23,
        # and 10 px/step of friction once it is released.
        direction = {0: 0, 1: -1, 2: 1}[action]
        if direction:
            self.agent_v = _clip(self.agent_v + ACCEL * direction, -V_MAX, V_MAX)
        else:
            speed = max(abs(self.agent_v) - ACCEL, 0)
            self.agent_v = speed if self.agent_v > 0 else -speed
        self.agent_y = _clip(self.agent_y + self.agent_v, PADDLE_MIN, PADDLE_MAX)
        if self.agent_y in (PADDLE_MIN, PADDLE_MAX):
            self.agent_v = 0

    def _move_cpu(self) -> None:
        if self.ball_x == 0:
            return
        # ALE's CPU keeps its paddle level with the ball (offset 0, the top of its hit window),
        # moving 8 and 6 px on alternate steps: a ball at 8 px/step outruns it by 1 px a step,
        # so steep returns are the ones it misses.
        speed = self.cpu_speed + (1 if self.t % 2 else -1)
        self.cpu_y += _clip(self.ball_y - self.cpu_y, -speed, speed)
        self.cpu_y = _clip(self.cpu_y, PADDLE_MIN - 38, PADDLE_MAX)

    def _move_ball(self) -> tuple[int, bool]:
        """Advance the ball; return (point: +1 agent / -1 cpu / 0, agent returned the ball)."""
        if self.ball_x == 0:
            self.pause -= 1
            if self.pause <= 0:
                self._launch()
            return 0, False
        x, y = self.ball_x + self.dx, self.ball_y + self.dy
        if y < Y_MIN:
            y, self.dy = 2 * Y_MIN - y, -self.dy
        elif y > Y_MAX:
            y, self.dy = 2 * Y_MAX - y, -self.dy
        returned = False
        if self.dx > 0 and self.ball_x < AGENT_X <= x:
            offset = y - self.agent_y
            if HIT_LOW <= offset <= HIT_HIGH:
                x, self.dx, self.dy = AGENT_X, -DX, _bounce_dy(offset)
                returned = True
        elif self.dx < 0 and self.ball_x > CPU_X >= x:
            offset = y - self.cpu_y
            if HIT_LOW <= offset <= HIT_HIGH:
                x, self.dx, self.dy = CPU_X, DX, _bounce_dy(offset)
        self.ball_x, self.ball_y = x, y
        if x > X_MAX:
            return -1, returned
        if x < X_MIN:
            return 1, returned
        return 0, returned

    def step(self, action):
        if self.t is None:
            raise RuntimeError("call reset() before step()")
        if not self._is_action(action):
            raise ValueError(f"Pong: action must be 0 (stay), 1 (up) or 2 (down), got {action!r}")
        self.t += 1
        self._move_agent(int(action))
        self._move_cpu()
        point, returned = self._move_ball()
        reward = float(point) + (self.shaping if returned else 0.0)
        info = {"games": self.games}
        terminated = False
        if point:
            if point > 0:
                self.agent_score += 1
            else:
                self.cpu_score += 1
            self._serve()
            if max(self.agent_score, self.cpu_score) >= POINTS_PER_GAME:
                info["score"] = self.agent_score - self.cpu_score
                self.games += 1
                info["games"] = self.games
                if self.continuing:
                    self.agent_score = self.cpu_score = 0
                else:
                    terminated = True
        truncated = not terminated and not self.continuing and self.t >= self.max_steps
        if truncated:  # an unfinished game scores the points so far (never the shaping reward)
            info["score"] = self.agent_score - self.cpu_score
        return self._observe(), reward, terminated, truncated, info

    @staticmethod
    def episode_metric(episode_return: float, info: dict) -> float:
        """Score of the game (agent points - CPU points), shaping excluded."""
        return float(info.get("score", episode_return))

    # ------------------------------------------------------------------ rendering
    def render(self) -> np.ndarray | None:
        """An RGB frame (210 x 160, ALE's size) in RAM coordinates shifted to the screen: the
        CPU's paddle on the left, the agent's on the right, the score as bars at the top."""
        if self.render_mode != "rgb_array":
            return None
        if self.t is None:
            raise RuntimeError("call reset() before render()")
        from locallearn.render import canvas, fill_rect

        frame = canvas(210, 160, (144, 72, 17))
        dx, dy = X_MIN - 8, 20  # ball x 52..205 -> columns 8..161; RAM y 44..207 -> rows 24..187
        fill_rect(frame, 0, Y_MIN - dy - 4, 160, 4, (236, 236, 236))
        fill_rect(frame, 0, Y_MAX - dy + 4, 160, 4, (236, 236, 236))
        for x, y, color in (
            (CPU_X - 4, self.cpu_y, (213, 130, 74)),
            (AGENT_X + 1, self.agent_y, (92, 186, 92)),
        ):
            fill_rect(frame, x - dx, y + HIT_LOW - dy, 4, HIT_HIGH - HIT_LOW, color)
        if self.ball_x:
            fill_rect(frame, self.ball_x - dx - 1, self.ball_y - dy - 2, 2, 4, (236, 236, 236))
        for column, score, color in (
            (10, self.cpu_score, (213, 130, 74)),
            (90, self.agent_score, (92, 186, 92)),
        ):
            fill_rect(frame, column, 4, 3 * score, 8, color)
        return frame

    # ------------------------------------------------------------------ scripted players
    def scripted_action(self, policy: str) -> int:
        """Reference players: "track" keeps the paddle centred on the ball, "edge" aims to hit
        the ball with the paddle's edge (steep returns the CPU cannot follow)."""
        centre = (HIT_LOW + HIT_HIGH) // 2
        if self.ball_x == 0:
            target = (PADDLE_MIN + PADDLE_MAX) // 2
        elif policy == "track":
            target = self.ball_y - centre
        elif policy == "edge":
            side = -1 if self.ball_y > (Y_MIN + Y_MAX) / 2 else 1
            target = self.ball_y - centre - side * 8
        else:
            raise ValueError(f"unknown scripted policy {policy!r} (track, edge)")
        gap = target - self.agent_y
        if abs(gap) <= 5:
            return 0
        return 2 if gap > 0 else 1
