"""One lifetime in an environment: observe, encode, think for k micro-steps, act, learn — online.

Every environment step: the observation is scaled to [0, 1] (bounds from the observation space,
or from a warm-up run of random actions when it is unbounded), encoded (``agent.encoder``), and
presented for ``agent.micro_steps`` network steps; after the last one the rule chooses the action
and learns from the previous transition. No replay, no batches: the weights change every step.
Episodes follow each other without resetting the weights; the network's state is reset at episode
boundaries when ``agent.reset_state`` is true.

The run directory holds ``config.json``, ``metrics.jsonl`` (one row per episode), ``weights.npz``
(and ``checkpoint.pkl`` every ``training.checkpoint_every`` steps, for ``resume``), ``learning_curve.png`` and
``summary.json`` (mean return and the task's metric over the last ``training.window`` episodes).
"""

from __future__ import annotations

import json
import math
import pickle
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import io
from .config import ConfigError, check_int, unknown_name_message
from .encoders import ENCODERS, Scaler, make_encoder
from .network import Network, NetworkConfig
from .runner import _construct, _Interrupt, _progress, _rule_section, build_task, open_run_dir


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
    """Length of the lifetime (environment steps), logging window and checkpoint period."""

    steps: int = 100_000
    window: int = 100
    checkpoint_every: int = 50_000
    max_episode_steps: int | None = None

    def __post_init__(self):
        check_int("training", "steps", self.steps, minimum=1)
        check_int("training", "window", self.window, minimum=1)
        check_int("training", "checkpoint_every", self.checkpoint_every, minimum=0)
        if self.max_episode_steps is not None:
            check_int("training", "max_episode_steps", self.max_episode_steps, minimum=1)


SECTIONS = ("seed", "task", "network", "rule", "agent", "training")


def is_environment(task_name: str) -> bool:
    from . import tasks

    return getattr(tasks.get(task_name), "kind", None) == "environment"


def _checked(cls, section: str, values: dict) -> dict:
    unknown = sorted(set(values) - set(cls.__dataclass_fields__))
    if unknown:
        raise ConfigError(unknown_name_message(f"{section} key", unknown[0], cls.__dataclass_fields__))
    return asdict(cls(**values))


def resolve_config(user: dict[str, Any]) -> dict[str, Any]:
    """Fill a partial lifetime configuration with the environment's defaults and validate it."""
    from . import rules, tasks

    unknown = sorted(set(user) - set(SECTIONS))
    if unknown:
        raise ConfigError(unknown_name_message("config section", unknown[0], SECTIONS))
    seed = user.get("seed", 0)
    check_int("config", "seed", seed, minimum=0)
    task_section = user["task"] if isinstance(user["task"], dict) else {"name": user["task"]}
    task_section = dict(task_section)
    name = task_section.pop("name")
    env_class = tasks.get(name)
    defaults = getattr(env_class, "defaults", {})
    # a task may ask for options of its own in lifetime runs (pong: reward shaping), which
    # the user's task section overrides; ``tasks.make`` still gives the plain game
    task_section = {**defaults.get("task", {}), **task_section}
    env = _construct(f"task {name!r}", env_class, task_section)
    agent_defaults = dict(defaults.get("agent", {}))
    user_agent = user.get("agent", {})
    if "encoder" in user_agent and user_agent["encoder"] != agent_defaults.get("encoder"):
        agent_defaults.pop("encoder_options", None)  # options of another encoder do not carry over
    agent = _checked(AgentConfig, "agent", {**agent_defaults, **user_agent})
    encoder = make_encoder(agent["encoder"], **agent["encoder_options"])
    n_obs = int(np.prod(env.observation_space.shape))
    network = {**defaults.get("network", {}), **user.get("network", {})}
    network.update(n_in=encoder.n_outputs(n_obs), n_out=env.action_space.n + 1,
                   seed=network.get("seed", seed))
    NetworkConfig.from_dict(network)
    rule_section = _rule_section(defaults.get("rule", {"name": "reward-eprop"}), user.get("rule", {}))
    rule_class = rules.get(rule_section["name"])
    rule = _construct(f"rule {rule_section['name']!r}", rule_class,
                      {k: v for k, v in rule_section.items() if k != "name"})
    if getattr(rule, "kind", None) != "reinforcement":
        raise ConfigError(f"rule {rule_section['name']!r} is not a reinforcement-learning rule; "
                          f"{name!r} is an environment")
    training = _checked(LifetimeConfig, "training",
                        {**defaults.get("training", {}), **user.get("training", {})})
    return {"seed": seed, "task": {"name": name, **task_section}, "network": network,
            "rule": rule_section, "agent": agent, "training": training}


class Agent:
    """Encoder + network + rule: turns observations into actions, learning as it goes."""

    def __init__(self, config: dict, env):
        from . import rules

        self.config = config
        agent = config["agent"]
        self.encoder = make_encoder(agent["encoder"], **agent["encoder_options"])
        self.net = Network(NetworkConfig.from_dict(config["network"]))
        rule_options = {k: v for k, v in config["rule"].items() if k != "name"}
        self.rule = rules.make(config["rule"]["name"], **rule_options)
        self.rule.bind(self.net)
        self.micro_steps = agent["micro_steps"]
        self.reset_state = agent["reset_state"]
        self.n_obs = int(np.prod(env.observation_space.shape))
        self.scaler = self._scaler(env, agent["warmup_steps"], config["seed"])
        self.rng = np.random.default_rng([config["seed"], 0xA6E7])

    @staticmethod
    def _scaler(env, warmup_steps: int, seed: int) -> Scaler:
        space = env.observation_space
        if np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high)):
            return Scaler.from_space(space)
        rng = np.random.default_rng([seed, 0x5CA1E])
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

    def _present(self, observation, last_is_decision: bool) -> None:
        u = self.scaler(np.asarray(observation).ravel())
        if self.encoder.stateless:
            x = self.encoder.step(u, self.rng)
            inputs = np.empty((self.micro_steps, x.shape[0]), self.net.dtype)
            inputs[:] = x
        else:
            inputs = np.stack([self.encoder.step(u, self.rng) for _ in range(self.micro_steps)]
                              ).astype(self.net.dtype)
        if hasattr(self.rule, "advance_many"):  # every micro-step in one compiled call
            self.rule.advance_many(self.net, inputs, decide_last=last_is_decision)
            return
        silent = self.micro_steps - 1 if last_is_decision else self.micro_steps
        for x in inputs[:silent]:
            self.net.step(x)
            self.rule.advance(self.net)
        if last_is_decision:
            self.net.step(inputs[-1])

    def act(self, observation, greedy: bool = False) -> int:
        self._present(observation, last_is_decision=True)
        return self.rule.decide(self.net, self.rng, greedy=greedy)

    def observe(self, reward: float, terminated: bool, truncated: bool, next_observation) -> None:
        self.rule.observe(reward, terminated, truncated)
        if truncated and not terminated:
            self._present(next_observation, last_is_decision=False)
            self.rule.bootstrap(self.net)


def _episode_metric(env, episode_return: float, info: dict) -> float:
    metric = getattr(env, "episode_metric", None)
    return float(metric(episode_return, info)) if metric else float(episode_return)


def _save_checkpoint(out: Path, agent: Agent, env, life: dict) -> None:
    """The whole live state (agent with its traces and generators, environment, counters) at a
    step boundary, pickled: what ``resume`` needs to continue exactly where the run was."""
    payload = pickle.dumps({"agent": agent, "env": env, "life": life},
                           protocol=pickle.HIGHEST_PROTOCOL)
    io.write_bytes(out / "checkpoint.pkl", payload)


def run_lifetime(user_config: dict | None, out: str | Path, progress: bool = True,
                 resume: bool = False, callbacks: tuple = ()) -> dict:
    """Live one lifetime as ``user_config`` says; write the run directory ``out``.
    ``callback(row)`` is called after every episode with its metrics row (a notebook's live
    learning curve, say).

    With ``resume=True`` the run in ``out`` continues from its last checkpoint (written every
    ``training.checkpoint_every`` steps; a pickle of the live objects, so only resume run
    directories you made yourself) and ends as the uninterrupted lifetime would have.
    """
    from . import analysis

    config, out, finished = open_run_dir(user_config, out, resume, resolve_config)
    if finished:
        return finished
    training = LifetimeConfig(**config["training"])
    seed = config["seed"]
    if resume and (out / "checkpoint.pkl").exists():
        state = pickle.loads((out / "checkpoint.pkl").read_bytes())
        agent, env, life = state["agent"], state["env"], state["life"]
        rows = io.read_jsonl(out / "metrics.jsonl")[:life["episodes"]]
        io.write_text(out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    else:
        (out / "metrics.jsonl").unlink(missing_ok=True)
        env = build_task(config["task"])
        agent = Agent(config, env)
        observation, _ = env.reset(seed=seed)
        agent.begin_episode()
        life = {"step": 0, "episodes": 0, "returns": [], "metrics": [], "episode_return": 0.0,
                "episode_steps": 0, "observation": observation, "elapsed": 0.0}
    metric_name = getattr(env, "metric", "return")
    start = time.perf_counter() - life["elapsed"]
    status, message = "completed", None
    bar = _progress(training.steps, progress, f"{env.name} / {config['rule']['name']}")
    bar.unit = "step"
    bar.update(life["step"])
    observation = life["observation"]
    with _Interrupt() as interrupt:
        try:
            while life["step"] < training.steps:
                if interrupt.requested:
                    status = "interrupted"
                    break
                action = agent.act(observation)
                observation, reward, terminated, truncated, info = env.step(action)
                life["episode_steps"] += 1
                if training.max_episode_steps and life["episode_steps"] >= training.max_episode_steps:
                    truncated = True
                life["episode_return"] += reward
                agent.observe(reward, terminated, truncated, observation)
                life["step"] += 1
                step = life["step"]
                if not math.isfinite(agent.rule.last_delta):
                    raise FloatingPointError(f"the TD error became {agent.rule.last_delta}")
                if step % 1000 == 0:
                    agent.net.check_finite()
                    bar.update(1000)
                if terminated or truncated:
                    life["episodes"] += 1
                    value = _episode_metric(env, life["episode_return"], info)
                    # only the last `window` episodes are kept: memory stays flat over a lifetime
                    life["returns"] = (life["returns"] + [life["episode_return"]])[-training.window:]
                    life["metrics"] = (life["metrics"] + [value])[-training.window:]
                    row = {"episode": life["episodes"], "steps": step,
                           "return": life["episode_return"], "length": life["episode_steps"],
                           metric_name: value, "wall_seconds": round(time.perf_counter() - start, 3)}
                    # flushed per episode, forced to disk with each checkpoint and at the end:
                    # an fsync per episode cost 5 ms each, ~5 % of a Flappy lifetime
                    io.append_jsonl(out / "metrics.jsonl", row, sync=False)
                    for callback in callbacks:
                        callback(row)
                    bar.set_postfix({"episodes": life["episodes"],
                                     "mean return": f"{np.mean(life['returns']):.2f}",
                                     "steps/s": f"{step / (time.perf_counter() - start):.0f}"})
                    observation, _ = env.reset()
                    agent.begin_episode()
                    life["episode_return"], life["episode_steps"] = 0.0, 0
                if training.checkpoint_every and step % training.checkpoint_every == 0:
                    agent.net.check_finite()  # a checkpoint is always a finite one
                    life["observation"] = observation
                    life["elapsed"] = time.perf_counter() - start
                    _save_checkpoint(out, agent, env, life)
                    if life["episodes"]:
                        io.sync_file(out / "metrics.jsonl")
        except KeyboardInterrupt:
            status = "interrupted"
        except FloatingPointError as error:
            last = (life["step"] // training.checkpoint_every * training.checkpoint_every
                    if training.checkpoint_every else None)
            status = "failed"
            message = (f"{error} (by step {life['step']}); last finite checkpoint: "
                       + (f"step {last}, {out / 'checkpoint.pkl'}" if last else "none"))
        finally:
            bar.close()
            if (out / "metrics.jsonl").exists():
                io.sync_file(out / "metrics.jsonl")
    step, episodes = life["step"], life["episodes"]
    returns, metrics = life["returns"], life["metrics"]
    io.write_npz(out / "weights.npz", dict(agent.net.params))
    rows = io.read_jsonl(out / "metrics.jsonl") if (out / "metrics.jsonl").exists() else []
    analysis.plot_episode_curve(rows, metric_name, out / "learning_curve.png", training.window,
                                title=f"{env.name} — {config['rule']['name']}, seed {seed}")
    window = metrics
    summary = {"task": env.name, "rule": config["rule"]["name"], "rule_label": config["rule"]["name"],
               "seed": seed, "steps": step, "episodes": episodes,
               "wall_seconds": round(time.perf_counter() - start, 3), "metric": metric_name,
               "value": float(np.mean(window)) if window else None,
               "mean_return": float(np.mean(returns)) if returns else None,
               "window": min(training.window, episodes),
               "steps_per_second": round(step / max(time.perf_counter() - start, 1e-9), 1),
               "update": "step", "status": status}
    if message:
        summary["message"] = message
    io.write_json(out / "summary.json", summary)
    return summary


def load_agent(run_dir: str | Path, env, config: dict | None = None) -> Agent:
    """The agent saved in ``run_dir`` (its config and final ``weights.npz``), frozen: the rule's
    learning rate is 0, so acting never changes a weight."""
    run_dir = Path(run_dir)
    config = io.read_json(run_dir / "config.json") if config is None else config
    agent = Agent(config, env)
    weights = np.load(run_dir / "weights.npz")
    for name in agent.net.params:
        agent.net.params[name][...] = weights[name]
    agent.rule.lr = 0.0  # evaluation only: the rule's updates become no-ops
    return agent


def play(run_dir: str | Path, episodes: int = 10, seed: int = 12345, greedy: bool = True,
         task: str | None = None, strip: str | Path | None = None, strip_every: int = 4,
         strip_frames: int = 24) -> dict:
    """Evaluate a saved agent for ``episodes`` episodes (no learning); mean and std of the return
    and of the task's metric. ``task`` plays another environment with the same observations and
    actions instead (e.g. ``flappy_gym``, the real game, for an agent trained on ``flappy``).
    ``strip`` saves a PNG strip of the first episode there: every ``strip_every``-th frame, at
    most ``strip_frames`` of them (environments with an ``rgb_array`` render mode)."""
    from .render import save_png
    from .render import strip as lay_out

    run_dir = Path(run_dir)
    config = io.read_json(run_dir / "config.json")
    section = dict(config["task"])
    if strip is not None:
        factory = build_task(section, name=task)
        if "rgb_array" not in getattr(factory, "metadata", {}).get("render_modes", []):
            raise ValueError(f"{task or section['name']!r} has no rgb_array render mode; "
                             "a strip needs one (pong, flappy, catch)")
        section["render_mode"] = "rgb_array"
    env = build_task(section, name=task)
    trained_space = build_task(config["task"]).observation_space
    n_actions = config["network"]["n_out"] - 1
    if env.observation_space.shape != trained_space.shape or env.action_space.n != n_actions:
        raise ValueError(f"{task!r} does not share {config['task']['name']!r}'s observation and "
                         "action spaces")
    agent = load_agent(run_dir, env, config)
    returns, metrics, frames = [], [], []
    observation, _ = env.reset(seed=seed)
    for episode in range(episodes):
        agent.begin_episode()
        total, done, info, steps = 0.0, False, {}, 0
        while not done:
            if strip is not None and episode == 0 and steps % strip_every == 0 \
                    and len(frames) < strip_frames:
                frames.append(env.render())
            observation, reward, terminated, truncated, info = env.step(
                agent.act(observation, greedy=greedy))
            total += reward
            steps += 1
            done = terminated or truncated
        returns.append(total)
        metrics.append(_episode_metric(env, total, info))
        observation, _ = env.reset()
    if strip is not None:
        save_png(lay_out(frames), strip)
    return {"episodes": episodes, "mean_return": float(np.mean(returns)),
            "std_return": float(np.std(returns)), "metric": getattr(env, "metric", "return"),
            "mean_metric": float(np.mean(metrics)), "std_metric": float(np.std(metrics))}
