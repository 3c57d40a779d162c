"""Flappy Bird, step-exact with flappy-bird-gymnasium 0.4.0 (``use_lidar=False``), in plain Python.

The game state advances exactly as ``FlappyBirdEnv.step`` does in that package (screen 288 x 512,
ground at 0.79 x 512, bird at x = 57 starting at y = 244 with v_y = -9; each step: a flap sets
v_y = -9 while y > -48, a pipe is passed when its middle crosses the bird's middle (reward +1),
gravity +1 up to a fall speed of 10, pipes move 4 px left and are recycled 52 px off-screen with a
gap top drawn uniformly from {100, 110, ..., 170} by the env's ``np_random``, gap 100; reward 0.1
for staying alive, -0.5 when above the screen, -1 and termination on hitting the ground or a pipe,
with rectangles truncated to integers as pygame does). ``tests/data/flappy_golden.npz`` holds
trajectories recorded from the real package that the tests replay.

Observations: ``"features"`` — the package's 12 normalised features (three nearest pipes' x,
gap top and gap bottom, the bird's y, v_y / 10 and rotation / 90), float64 like the package;
``"compact"`` — 4 features for small networks: horizontal distance from the bird to the next
pipe's far edge, vertical offset of the bird's middle from the next gap's middle (as
0.5 + 0.5 tanh(offset / 60 px), so that the offsets at which the bird fits the gap, +-38 px,
span 0.22..0.78 of the range instead of 0.45..0.55 for a linear scale), v_y and the bird's
height, each scaled to [0, 1] (float32). ``info["score"]`` counts pipes passed.
"""

from __future__ import annotations

import numpy as np

from locallearn.config import check_choice
from locallearn.envs import Environment
from locallearn.spaces import Box, Discrete

from . import register

SCREEN_WIDTH, SCREEN_HEIGHT = 288, 512
PIPE_VEL_X, PLAYER_MAX_VEL_Y, PLAYER_ACC_Y = -4, 10, 1
PLAYER_VEL_ROT, PLAYER_FLAP_ACC = 3, -9
PLAYER_WIDTH, PLAYER_HEIGHT = 34, 24
PIPE_WIDTH, PIPE_HEIGHT, PIPE_GAP = 52, 320, 100
GROUND_Y = SCREEN_HEIGHT * 0.79
GAP_TOPS = (20, 30, 40, 50, 60, 70, 80, 90)
GAP_SCALE = 60.0  # px; the compact offset from the gap is tanh-squashed: fine near the gap


def _rects_overlap(ax, ay, aw, ah, bx, by, bw, bh) -> bool:
    """pygame.Rect(...).colliderect with pygame's truncation of float coordinates."""
    ax, ay, bx, by = int(ax), int(ay), int(bx), int(by)
    return ax < bx + bw and ax + aw > bx and ay < by + bh and ay + ah > by


@register("flappy")
class FlappyBird(Environment):
    name = "flappy"
    metric = "pipes"
    defaults = {
        "network": {
            "n_rec": 100,
            "n_adaptive": 0,
            "n_ref": 2,
            "w_in_gain": 1.5,
            "w_out_gain": 0.1,
            "tau_out": 5.0,
        },
        "agent": {"encoder": "population", "encoder_options": {"n_neurons": 10}, "micro_steps": 3},
        "rule": {
            "name": "reward-eprop",
            "feedback": "symmetric",
            "lr": 1e-3,
            "gamma": 0.95,
            "lam": 0.8,
            "guard_kappa": None,
        },
        "training": {"steps": 2_700_000, "window": 20},
    }

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, observation: str = "compact", render_mode: str | None = None):
        check_choice("FlappyBird", "observation", observation, ("compact", "features"))
        self._set_render_mode(render_mode)
        self.observation = observation
        if observation == "features":
            self.observation_space = Box(-1.0, 1.0, shape=(12,), dtype=np.float64)
        else:
            self.observation_space = Box(0.0, 1.0, shape=(4,), dtype=np.float32)
        self.action_space = Discrete(2)
        self._seed(None)
        self.player_y = None

    # ------------------------------------------------------------------ rendering
    def render(self) -> np.ndarray | None:
        """An RGB frame of the screen (512 x 288): sky, pipes, ground, bird — the package's
        geometry with flat colours (no sprites)."""
        if self.render_mode != "rgb_array":
            return None
        if self.player_y is None:
            raise RuntimeError("call reset() before render()")
        from locallearn.render import canvas, fill_rect

        frame = canvas(SCREEN_HEIGHT, SCREEN_WIDTH, (78, 192, 202))
        for pipe in self.upper + self.lower:
            fill_rect(frame, pipe["x"], pipe["y"], PIPE_WIDTH, PIPE_HEIGHT, (84, 168, 48))
        fill_rect(frame, 0, GROUND_Y, SCREEN_WIDTH, SCREEN_HEIGHT - GROUND_Y, (222, 216, 149))
        fill_rect(frame, self.player_x, self.player_y, PLAYER_WIDTH, PLAYER_HEIGHT, (247, 208, 58))
        fill_rect(frame, self.player_x + 24, self.player_y + 5, 5, 5, (255, 255, 255))
        fill_rect(frame, 8, 8, 6 * min(self.score, 45), 10, (255, 255, 255))  # score bar
        return frame

    # ------------------------------------------------------------------ the package's logic
    def _random_pipe(self):
        gap_y = GAP_TOPS[self.np_random.integers(0, len(GAP_TOPS))] + int(GROUND_Y * 0.2)
        pipe_x = SCREEN_WIDTH + PIPE_WIDTH + (SCREEN_WIDTH * 0.2)
        return {"x": pipe_x, "y": gap_y - PIPE_HEIGHT}, {"x": pipe_x, "y": gap_y + PIPE_GAP}

    def reset(self, seed=None, options=None):
        self._seed(seed)
        self.player_x = int(SCREEN_WIDTH * 0.2)
        self.player_y = int((SCREEN_HEIGHT - PLAYER_HEIGHT) / 2)
        self.player_vel_y = -9
        self.player_rot = 45
        self.flapped = False
        self.score = 0
        pipes = [self._random_pipe() for _ in range(3)]
        xs = (SCREEN_WIDTH, SCREEN_WIDTH + SCREEN_WIDTH / 2, SCREEN_WIDTH + SCREEN_WIDTH)
        self.upper = [{"x": x, "y": p[0]["y"]} for x, p in zip(xs, pipes)]
        self.lower = [{"x": x, "y": p[1]["y"]} for x, p in zip(xs, pipes)]
        return self._observe(), {"score": 0}

    def _crashed(self) -> bool:
        if self.player_y + PLAYER_HEIGHT >= GROUND_Y - 1:
            return True
        for up, low in zip(self.upper, self.lower):
            for pipe in (up, low):
                if _rects_overlap(
                    self.player_x,
                    self.player_y,
                    PLAYER_WIDTH,
                    PLAYER_HEIGHT,
                    pipe["x"],
                    pipe["y"],
                    PIPE_WIDTH,
                    PIPE_HEIGHT,
                ):
                    return True
        return False

    def step(self, action):
        if self.player_y is None:
            raise RuntimeError("call reset() before step()")
        if not self._is_action(action):
            raise ValueError(f"FlappyBird: action must be 0 (idle) or 1 (flap), got {action!r}")
        reward = None
        if int(action) == 1 and self.player_y > -2 * PLAYER_HEIGHT:
            self.player_vel_y = PLAYER_FLAP_ACC
            self.flapped = True
        player_mid = self.player_x + PLAYER_WIDTH / 2
        for pipe in self.upper:
            pipe_mid = pipe["x"] + PIPE_WIDTH / 2
            if pipe_mid <= player_mid < pipe_mid + 4:
                self.score += 1
                reward = 1
        if self.player_rot > -90:
            self.player_rot -= PLAYER_VEL_ROT
        if self.player_vel_y < PLAYER_MAX_VEL_Y and not self.flapped:
            self.player_vel_y += PLAYER_ACC_Y
        if self.flapped:
            self.flapped = False
            self.player_rot = 45
        self.player_y += min(self.player_vel_y, GROUND_Y - self.player_y - PLAYER_HEIGHT)
        for up, low in zip(self.upper, self.lower):
            up["x"] += PIPE_VEL_X
            low["x"] += PIPE_VEL_X
            if up["x"] < -PIPE_WIDTH:
                new_up, new_low = self._random_pipe()
                up.update(new_up)
                low.update(new_low)
        observation = self._observe()  # taken before a crash zeroes v_y, as the package does
        if reward is None:
            reward = 0.1
        if self.player_y < 0:
            reward = -0.5
        terminated = False
        if self._crashed():
            reward = -1
            terminated = True
            self.player_vel_y = 0
        return observation, float(reward), terminated, False, {"score": self.score}

    # ------------------------------------------------------------------ observations
    def _pipes_ahead(self):
        pipes = []
        for up, low in zip(self.upper, self.lower):
            if low["x"] > SCREEN_WIDTH:
                pipes.append((SCREEN_WIDTH, 0, SCREEN_HEIGHT))
            else:
                pipes.append((low["x"], up["y"] + PIPE_HEIGHT, low["y"]))
        return sorted(pipes, key=lambda p: p[0])

    def _observe(self) -> np.ndarray:
        if self.observation == "features":
            pipes = [
                (h / SCREEN_WIDTH, v1 / SCREEN_HEIGHT, v2 / SCREEN_HEIGHT)
                for h, v1, v2 in self._pipes_ahead()
            ]
            return np.array(
                [
                    *pipes[0],
                    *pipes[1],
                    *pipes[2],
                    self.player_y / SCREEN_HEIGHT,
                    self.player_vel_y / PLAYER_MAX_VEL_Y,
                    self.player_rot / 90,
                ]
            )
        ahead = [
            (up, low) for up, low in zip(self.upper, self.lower) if up["x"] + PIPE_WIDTH >= self.player_x
        ]
        up, low = min(ahead, key=lambda pair: pair[0]["x"])
        gap_middle = (up["y"] + PIPE_HEIGHT + low["y"]) / 2
        bird_middle = self.player_y + PLAYER_HEIGHT / 2
        values = [
            (up["x"] + PIPE_WIDTH - self.player_x) / (SCREEN_WIDTH + 2 * PIPE_WIDTH),
            0.5 + 0.5 * np.tanh((bird_middle - gap_middle) / GAP_SCALE),
            (self.player_vel_y + 9) / 19,
            bird_middle / GROUND_Y,
        ]
        # maximum/minimum: np.clip's values at a fraction of its call cost (once per step)
        return np.minimum(np.maximum(np.array(values, np.float32), 0), 1)

    @staticmethod
    def episode_metric(episode_return: float, info: dict) -> float:
        return float(info.get("score", 0))

    def scripted_action(self) -> int:
        """A simple hand controller: flap when the bird's bottom falls below the next gap's
        bottom minus a margin (the reference "about 100 pipes per episode" player)."""
        ahead = [
            (up, low) for up, low in zip(self.upper, self.lower) if up["x"] + PIPE_WIDTH >= self.player_x
        ]
        up, low = min(ahead, key=lambda pair: pair[0]["x"])
        return int(self.player_y + PLAYER_HEIGHT > low["y"] - 12 and self.player_vel_y >= 0)
