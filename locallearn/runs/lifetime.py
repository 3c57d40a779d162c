"""Lifetimes: one agent learning online in an environment, then a frozen-weight evaluation.

Every environment step: the observation is scaled to [0, 1] (bounds from the observation space,
or from a warm-up run of random actions when it is unbounded), encoded (``agent.encoder``), and
presented for ``agent.micro_steps`` network steps; after the last one the rule chooses the action
and learns from the previous transition. No replay, no batches: the weights change every step.
Episodes follow each other without resetting the weights; the network's state is reset at episode
boundaries when ``agent.reset_state`` is true.

Two figures per lifetime, both in ``summary.json``:

* the **training window**: the task's metric over the last ``training.window`` *finished*
  episodes of the lifetime (``value``): episodes cut by a step limit (the game's own or
  ``max_episode_steps``) are logged with ``"unfinished": true`` and counted in the summary's
  ``unfinished_episodes``, but a partial game's score never enters the figure. The return
  (``mean_return``, rows' ``return``) includes any shaping reward; the metric does not;
* the **frozen evaluation**: after the last step, the final weights play
  ``training.eval_episodes`` episodes greedily and as many with sampled actions, without
  learning, on environment seeds drawn from the "evaluation_env" stream — never a training seed
  (those are the run's seed and the environment's own continuation of it). Episodes are cut at
  ``training.eval_max_steps`` steps (counted as ``truncated``).

The weights are checked for NaN/inf before every update (every environment step), and the TD
error after it; either ends the lifetime "failed" with the last finite checkpoint named.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import analysis, io, numerics, stats, streams
from ..config import ConfigError, check_int, unknown_name_message
from ..encoders import ENCODERS, Scaler, make_encoder
from ..network import Network, NetworkConfig
from . import framework
from .framework import Divergence, ScheduleBase


@dataclass(frozen=True)
class AgentConfig:
    """How observations reach the network: encoder, micro-steps per env step, state resets."""

    encoder: str = "population"
    encoder_options: dict = field(default_factory=dict)
    micro_steps: int = 5
    reset_state: bool = True
    warmup_steps: int = 1000

    def __post_init__(self):
        if self.encoder not in ENCODERS:
            raise ConfigError(unknown_name_message("encoder", self.encoder, ENCODERS))
        if self.encoder == "bsa":
            raise ConfigError("agent.encoder 'bsa' looks ahead in time and cannot run online")
        check_int("agent", "micro_steps", self.micro_steps, minimum=1)
        check_int("agent", "warmup_steps", self.warmup_steps, minimum=1)


@dataclass(frozen=True)
class LifetimeConfig:
    """Length of the lifetime (environment steps), logging window, checkpoint period and the
    frozen evaluation at the end (``eval_episodes`` = 0: none)."""

    steps: int = 100_000
    window: int = 100
    checkpoint_every: int = 50_000
    max_episode_steps: int | None = None
    eval_episodes: int = 10
    eval_max_steps: int = 27_000

    def __post_init__(self):
        check_int("training", "steps", self.steps, minimum=1)
        check_int("training", "window", self.window, minimum=1)
        check_int("training", "checkpoint_every", self.checkpoint_every, minimum=0)
        check_int("training", "eval_episodes", self.eval_episodes, minimum=0)
        check_int("training", "eval_max_steps", self.eval_max_steps, minimum=1)
        if self.max_episode_steps is not None:
            check_int("training", "max_episode_steps", self.max_episode_steps, minimum=1)


SECTIONS = ("seed", "task", "network", "rule", "agent", "training", "record")


class Agent:
    """Encoder + network + rule: turns observations into actions, learning as it goes."""

    def __init__(self, config: dict, env):
        agent = config["agent"]
        self.encoder = make_encoder(agent["encoder"], **agent["encoder_options"])
        self.net = Network(NetworkConfig.from_dict(config["network"]))
        self.rule = framework.build_rule(config["rule"])
        self.rule.bind(self.net)
        self.micro_steps = agent["micro_steps"]
        self.reset_state = agent["reset_state"]
        self.n_obs = int(np.prod(env.observation_space.shape))
        self.scaler = self._scaler(env, agent["warmup_steps"], config["seed"])
        self.rng = streams.generator(config["seed"], "agent")

    @staticmethod
    def _scaler(env, warmup_steps: int, seed: int) -> Scaler:
        space = env.observation_space
        if np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
            return Scaler.from_space(space)
        rng = streams.generator(seed, "scaler_warmup")
        samples = [env.reset(seed=int(rng.integers(2**31)))[0]]
        for _ in range(warmup_steps):
            obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
            samples.append(obs)
            if terminated or truncated:
                samples.append(env.reset()[0])
        return Scaler.from_samples(np.asarray(samples).reshape(len(samples), -1))

    def begin_episode(self) -> None:
        self.encoder.reset(self.n_obs)
        if self.reset_state:
            self.net.reset_state()
        self.rule.begin_episode()

    def _inputs(self, observation) -> np.ndarray:
        u = self.scaler(np.asarray(observation).ravel())
        if self.encoder.stateless:
            x = self.encoder.step(u, self.rng)
            inputs = np.empty((self.micro_steps, x.shape[0]), self.net.dtype)
            inputs[:] = x
            return inputs
        return np.stack([self.encoder.step(u, self.rng) for _ in range(self.micro_steps)]).astype(
            self.net.dtype
        )

    def act(self, observation, greedy: bool = False, probe=None) -> int:
        """Present ``observation``; the rule learns from the last transition and picks an action.
        ``probe`` is called with the top layer's spikes after every micro-step (the micro-steps
        then run one by one: the same arithmetic as the rule's compiled call)."""
        inputs = self._inputs(observation)
        if probe is None:
            return self.rule.act(self.net, inputs, self.rng, greedy=greedy)
        net, rule, top = self.net, self.rule, self.net.layers[-1]
        for x in inputs[:-1]:
            net.step(x)
            probe(top.state.z)
            rule.advance(net)
        net.step(inputs[-1])
        probe(top.state.z)
        return self.rule.decide(self.net, self.rng, greedy=greedy)

    def act_frozen(self, observation, rng: np.random.Generator, greedy: bool) -> int:
        """Present ``observation`` and pick an action from the rule's policy, learning nothing
        (no trace, no weight is touched)."""
        self.rule.present_frozen(self.net, self._inputs(observation))
        pi = np.asarray(self.rule.policy(self.net)[0], np.float64)
        if greedy:
            return int(np.argmax(pi))
        return int(min(np.searchsorted(np.cumsum(pi), rng.random() * pi.sum(), side="right"), len(pi) - 1))

    def observe(self, reward: float, terminated: bool, truncated: bool, next_observation) -> None:
        self.rule.observe(reward, terminated, truncated)
        if truncated and not terminated:
            self.rule.advance_many(self.net, self._inputs(next_observation), decide_last=False)
            self.rule.bootstrap(self.net)


def _episode(env, seed: int, act, max_steps: int, before_step=None) -> tuple[float, dict, bool]:
    """One game from ``env.reset(seed)``, ``act(observation) -> action`` at every step, cut at
    ``max_steps``: (return, last info, whether the cap cut it). ``before_step(steps)`` is called
    before each step (a frame strip)."""
    observation, _ = env.reset(seed=int(seed))
    total, steps, info, done, capped = 0.0, 0, {}, False, False
    while not done:
        if before_step is not None:
            before_step(steps)
        observation, reward, terminated, truncated, info = env.step(act(observation))
        total += float(reward)
        steps += 1
        if steps >= max_steps and not (terminated or truncated):
            truncated = capped = True
        done = terminated or truncated
    return total, info, capped


def play_episodes(
    agent: Agent,
    env,
    seeds: list[int],
    greedy: bool,
    rng: np.random.Generator,
    max_steps: int,
    strip: list | None = None,
    strip_every: int = 4,
    strip_frames: int = 24,
) -> dict:
    """Frozen-weight episodes, one per seed: per-episode returns, metrics and truncations."""
    returns, metrics, truncations = [], [], 0

    def frame(steps: int) -> None:
        if steps % strip_every == 0 and len(strip) < strip_frames:
            strip.append(env.render())

    for index, seed in enumerate(seeds):
        agent.encoder.reset(agent.n_obs)
        agent.net.reset_state()
        total, info, capped = _episode(
            env,
            seed,
            lambda observation: agent.act_frozen(observation, rng, greedy),
            max_steps,
            frame if strip is not None and index == 0 else None,
        )
        truncations += capped
        returns.append(total)
        metrics.append(float(env.episode_metric(total, info)))
    return {"returns": returns, "metrics": metrics, "truncated": truncations}


def random_policy(task: dict, episodes: int, max_steps: int, seed: int = 0) -> dict:
    """A uniform random policy's figures over ``episodes`` games of ``task`` (each on its own
    environment seed, from the stream ``random_policy``): the zero of normalised scores."""
    if episodes < 1:
        raise ConfigError(f"random_policy needs at least one episode, got {episodes}")
    env = framework.build_task(task)
    rng = streams.generator(seed, "random_policy")
    returns, metrics, truncations = [], [], 0
    for _ in range(episodes):
        game_seed = int(rng.integers(streams.EVALUATION_SEED_LOW, 2**63 - 1))
        total, info, capped = _episode(
            env, game_seed, lambda _: int(rng.integers(env.action_space.n)), max_steps
        )
        truncations += capped
        returns.append(total)
        metrics.append(float(env.episode_metric(total, info)))
    env.close()
    return _figures({"returns": returns, "metrics": metrics, "truncated": truncations})


def _figures(result: dict) -> dict:
    metric = stats.summarize(result["metrics"])
    returns = stats.summarize(result["returns"])
    return {
        "metric": metric.mean,
        "std": metric.std,
        "low": metric.low,
        "high": metric.high,
        "interval": metric.method,
        "n": metric.n,
        "mean_return": returns.mean,
        "truncated": result["truncated"],
        "values": result["metrics"],
    }


class LifetimeSchedule(ScheduleBase):
    """One lifetime of environment steps, for :func:`framework.execute`."""

    kind, unit, chunk = "lifetime", "step", 1000

    @staticmethod
    def resolve(user: dict[str, Any]) -> dict[str, Any]:
        """Fill a partial lifetime configuration with the environment's defaults; validate it."""
        from .. import tasks

        seed, name, task_options = framework.split_task(user, SECTIONS)
        if seed >= streams.EVALUATION_SEED_LOW:
            raise ConfigError(
                f"seed must be below {streams.EVALUATION_SEED_LOW} (larger ones are "
                "evaluation seeds), got {seed}"
            )
        env_class = tasks.get(name)
        if getattr(env_class, "kind", None) != "environment":
            raise ConfigError(f"{name!r} is a supervised task, not an environment")
        defaults = getattr(env_class, "defaults", {})
        # a task may ask for options of its own in lifetime runs (pong: reward shaping), which
        # the user's task section overrides; ``tasks.make`` still gives the plain game
        task_options = {**defaults.get("task", {}), **task_options}
        env = framework.construct(f"task {name!r}", env_class, task_options)
        agent_defaults = dict(defaults.get("agent", {}))
        user_agent = user.get("agent", {})
        if "encoder" in user_agent and user_agent["encoder"] != agent_defaults.get("encoder"):
            agent_defaults.pop("encoder_options", None)  # another encoder's options do not apply
        agent = framework.checked_section(AgentConfig, "agent", {**agent_defaults, **user_agent})
        encoder = make_encoder(agent["encoder"], **agent["encoder_options"])
        n_obs = int(np.prod(env.observation_space.shape))
        network = {**defaults.get("network", {}), **user.get("network", {})}
        network.update(
            n_in=encoder.n_outputs(n_obs), n_out=env.action_space.n + 1, seed=network.get("seed", seed)
        )
        NetworkConfig.from_dict(network)
        rule = framework.rule_config(defaults, user, "reinforcement", "reward-eprop", name)
        training = framework.training_config(LifetimeConfig, defaults, user)
        env.close()
        # present only when asked for: a lifetime without it keeps its configuration fingerprint
        record = {"record": _record_section(user["record"], network, training)} if "record" in user else {}
        return framework.config_record(
            seed, name, task_options, network=network, rule=rule, agent=agent, training=training, **record
        )

    def __init__(self, config: dict, directory, callbacks: tuple = ()):
        super().__init__(config, directory, callbacks)
        self.training = LifetimeConfig(**config["training"])
        self.env = framework.build_task(config["task"])
        self.agent = Agent(config, self.env)
        observation, _ = self.env.reset(seed=config["seed"])
        self.agent.begin_episode()
        self.life = {
            "episodes": 0,
            "returns": [],
            "metrics": [],
            "unfinished": 0,
            "episode_return": 0.0,
            "episode_steps": 0,
            "observation": observation,
        }
        self.metric = self.env.metric
        self.total = self.training.steps
        self.checkpoints = self.training.checkpoint_every > 0
        self.recording = None
        if "record" in config:
            from ..recording import LifetimeRecording

            self.recording = LifetimeRecording(
                config["record"], self.agent.net.layers[-1].n, self.agent.micro_steps, directory.path
            )

    def checkpoint_objects(self) -> dict:
        objects = {"agent": self.agent, "env": self.env, "life": self.life}
        if self.recording is not None:
            objects["recording"] = self.recording
        return objects

    def counters(self) -> dict:
        return {"position": self.position, "elapsed": self.elapsed}

    def restore_counters(self, counters: dict, rows: list[dict]) -> None:
        self.position, self.elapsed = counters["position"], counters["elapsed"]
        self.rows_written = len(rows)

    def status(self) -> dict:
        shown = {
            "episodes": self.life["episodes"],
            "steps/s": f"{self.position / max(time.perf_counter() - self.clock, 1e-9):,.0f}",
        }
        if self.life["metrics"]:
            shown[f"{self.metric} (window)"] = f"{np.mean(self.life['metrics']):.2f}"
        return shown

    def begin(self) -> None:
        self.agent.net.check_finite()

    def checkpoint_due(self) -> bool:
        every = self.training.checkpoint_every
        return bool(every) and self.position % every == 0

    def advance(self, limit: int) -> int:
        agent, env, life, training = self.agent, self.env, self.life, self.training
        net, rule, recording = agent.net, agent.rule, self.recording
        observation = life["observation"]
        every = training.checkpoint_every
        for done in range(1, limit + 1):
            try:
                net.check_finite()  # in-place writes are caught before the update they would feed
            except FloatingPointError as error:
                raise Divergence(f"{error} by step {self.position:,}") from None
            recorded = recording is not None and recording.covers(self.position)
            action = agent.act(observation, probe=recording.probe if recorded else None)
            observation, reward, terminated, truncated, info = env.step(action)
            life["episode_steps"] += 1
            if training.max_episode_steps and life["episode_steps"] >= training.max_episode_steps:
                truncated = True
            life["episode_return"] += reward
            agent.observe(reward, terminated, truncated, observation)
            if recorded:
                ended = terminated or truncated
                recording.note(action, reward, life["episode_return"] if ended else None, terminated)
            self.position += 1
            if not math.isfinite(rule.last_delta):
                raise Divergence(f"the TD error became {rule.last_delta} at step {self.position:,}")
            if terminated or truncated:
                observation = self._end_episode(info, finished=terminated)
            if recorded:
                recording.step_done(self.position, self.config)
            if every and self.position % every == 0:
                life["observation"] = observation
                return done
        life["observation"] = observation
        return limit

    def _end_episode(self, info: dict, finished: bool):
        """Log the episode that just ended (``finished``: it terminated; otherwise it was cut by
        a step limit, and it stays out of the training-window figure: a partial game's score is
        not a game's score)."""
        life, window = self.life, self.training.window
        life["episodes"] += 1
        value = float(self.env.episode_metric(life["episode_return"], info))
        if finished:  # only the last `window` finished episodes are kept: memory stays flat
            life["returns"] = (life["returns"] + [float(life["episode_return"])])[-window:]
            life["metrics"] = (life["metrics"] + [value])[-window:]
        else:
            life["unfinished"] += 1
        row = {
            "episode": life["episodes"],
            "steps": self.position,
            "return": float(life["episode_return"]),
            "length": life["episode_steps"],
            self.metric: value,
            "wall_seconds": round(time.perf_counter() - self.clock, 3),
        }
        if not finished:
            row["unfinished"] = True
        # flushed per episode, forced to disk with each checkpoint and at the end: an fsync per
        # episode cost 5 ms each, ~5 % of a Flappy lifetime
        self.write_row(row, sync=False)
        observation, _ = self.env.reset()
        self.agent.begin_episode()
        life["episode_return"], life["episode_steps"] = 0.0, 0
        return observation

    def evaluate(self) -> dict | None:
        """The frozen-weight evaluation (greedy and sampled) on never-trained seeds."""
        n = self.training.eval_episodes
        if n == 0:
            return None
        seeds = streams.evaluation_seeds(self.config["seed"], n)
        agent = copy.deepcopy(self.agent)
        env = framework.build_task(self.config["task"])
        rng = streams.generator(self.config["seed"], "evaluation_agent")
        result = {
            "episodes": n,
            "max_steps": self.training.eval_max_steps,
            "seeds": "streams.evaluation_seeds(seed, episodes)",
        }
        for mode in ("greedy", "sampled"):
            played = play_episodes(agent, env, seeds, mode == "greedy", rng, self.training.eval_max_steps)
            result[mode] = _figures(played)
        env.close()
        return result

    def finish(self, status: str) -> dict:
        config, life, out = self.config, self.life, self.directory.path
        io.write_npz(out / "weights.npz", dict(self.agent.net.params))
        window = stats.summarize(life["metrics"]) if life["metrics"] else None
        summary = {
            "metric": self.metric,
            "higher_is_better": True,
            "steps": self.position,
            "episodes": life["episodes"],
            "value": window.mean if window else None,
            "training_window": None
            if window is None
            else {
                "metric": window.mean,
                "std": window.std,
                "n": window.n,
                "low": window.low,
                "high": window.high,
                "interval": window.method,
            },
            "mean_return": float(np.mean(life["returns"])) if life["returns"] else None,
            "unfinished_episodes": life["unfinished"],
            "window": min(self.training.window, life["episodes"]),
            "steps_per_second": round(self.position / max(self.elapsed, 1e-9), 1),
            "update": "step",
        }
        summary["evaluation"] = self.evaluate() if status == "completed" else None
        analysis.plot_episode_curve(
            self.directory.rows(),
            self.metric,
            out / "learning_curve.png",
            self.training.window,
            title=f"{self.env.name} — {framework.rule_label(config)}, seed {config['seed']}",
            status=status,
        )
        self.env.close()
        return summary


def _record_section(section, network: dict, training: dict) -> dict:
    """The resolved ``record`` section: validated, its neurons and windows checked against the
    network and the lifetime; Neo and nixio must be installed."""
    from ..recording import RecordConfig, _neo

    if not isinstance(section, dict):
        raise ConfigError(f"record must be a table (windows, neurons, dt_ms), got {section!r}")
    values = framework.checked_section(RecordConfig, "record", section)
    n_rec = network["n_rec"]
    top = n_rec[-1] if isinstance(n_rec, list | tuple) else n_rec
    RecordConfig(**values).neuron_ids(top)
    for start, stop in values["windows"]:
        if stop > training["steps"]:
            raise ConfigError(
                f"record.windows: [{start}, {stop}] ends after the lifetime's {training['steps']:,} steps"
            )
    _neo()
    return values


# ----------------------------------------------------------------------------- playing
def load_agent(run_dir: str | Path, env, config: dict | None = None) -> Agent:
    """The agent saved in ``run_dir`` (its config and final ``weights.npz``); act with
    :meth:`Agent.act_frozen` to leave it unchanged."""
    run_dir = Path(run_dir)
    config = io.read_json(run_dir / "config.json") if config is None else config
    if "agent" not in config:
        raise ConfigError(f"{run_dir} is a supervised run, not an agent; play needs a lifetime")
    agent = Agent(config, env)
    path = run_dir / "weights.npz"
    if not path.exists():
        raise ConfigError(f"{run_dir} holds no trained agent (no weights.npz)")
    with np.load(path, allow_pickle=False) as weights:
        for name in agent.net.params:
            value = weights[name]
            if not np.all(np.isfinite(value)):
                raise ConfigError(f"{path}: {name} holds NaN or inf; a diverged agent is not played")
            agent.net.params[name][...] = value
    return agent


def play(
    run_dir: str | Path,
    episodes: int = 10,
    seed: int = 12345,
    greedy: bool = True,
    task: str | None = None,
    strip: str | Path | None = None,
    strip_every: int = 4,
    strip_frames: int = 24,
    max_steps: int = 27_000,
) -> dict:
    """Evaluate a saved agent for ``episodes`` episodes, weights frozen; mean and sample std of
    the return and of the task's metric. Episode k uses environment seed ``seed + k``.
    ``task`` plays another environment with the same observations and actions instead (e.g.
    ``flappy_gym``, the real game, for an agent trained on ``flappy``). ``strip`` saves a PNG
    strip of the first episode: every ``strip_every``-th frame, at most ``strip_frames``."""
    from .. import tasks
    from ..render import save_png
    from ..render import strip as lay_out

    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise ConfigError(f"episodes must be an integer >= 1, got {episodes!r}")
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists():
        raise ConfigError(f"{run_dir} is not a run directory (no config.json)")
    config = io.read_json(run_dir / "config.json")
    if "agent" not in config:
        raise ConfigError(
            f"{run_dir} is a supervised run ({config['task']['name']}), not an "
            "agent; play needs a lifetime's run directory"
        )
    section = dict(config["task"])
    name = task or section["name"]
    if getattr(tasks.get(name), "kind", None) != "environment":
        raise ConfigError(f"{name!r} is not an environment")
    if strip is not None:
        if "rgb_array" not in getattr(tasks.get(name), "metadata", {}).get("render_modes", []):
            raise ConfigError(
                f"{name!r} has no rgb_array render mode; a strip needs one (pong, flappy, catch)"
            )
        section["render_mode"] = "rgb_array"
    env = framework.build_task(section, name=task)
    trained_space = framework.build_task(config["task"]).observation_space
    n_actions = config["network"]["n_out"] - 1
    if env.observation_space.shape != trained_space.shape or env.action_space.n != n_actions:
        raise ConfigError(
            f"{task!r} does not share {config['task']['name']!r}'s observation and action spaces"
        )
    agent = load_agent(run_dir, env, config)
    frames: list | None = [] if strip is not None else None
    with numerics.flush_subnormals(numerics.run_flushes(config)):  # the arithmetic it learned with
        result = play_episodes(
            agent,
            env,
            [seed + k for k in range(episodes)],
            greedy,
            streams.generator(seed, "evaluation_agent"),
            max_steps,
            frames,
            strip_every,
            strip_frames,
        )
    env.close()
    if strip is not None:
        save_png(lay_out(frames), strip)
    returns, metrics = stats.summarize(result["returns"]), stats.summarize(result["metrics"])
    return {
        "episodes": episodes,
        "mean_return": returns.mean,
        "std_return": returns.std,
        "metric": env.metric,
        "mean_metric": metrics.mean,
        "std_metric": metrics.std,
        "low": metrics.low,
        "high": metrics.high,
        "truncated": result["truncated"],
    }
