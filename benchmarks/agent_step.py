"""Where an environment step of a lifetime goes, and how many steps a second it makes.

At a task's lifetime defaults (Pong unless ``--task``), a seeded agent first plays
``--warmup`` steps (traces and weights in a realistic state), then each part of one step is timed
on its own, best of five repetitions: observation scaling and encoding, the ``micro_steps``
network steps (one compiled call), the decision (policy, action, learning from the previous
transition, trace sweep with the learning signal), and the environment's step; where the rule
runs an agent step as one compiled call (``RewardEProp.act``), that call too. Last, whole
lifetimes of ``--steps`` steps give steps/s as ``locallearn run`` reports it, with the compiled
agent step and with the stepwise path (``RewardEProp.compiled_act = False``), interleaved.

Run it on a quiet machine; with other work on the cores the figures rise together.

    python benchmarks/agent_step.py [--task pong] [--steps 30000] [--warmup 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from locallearn.rules.reward_eprop import RewardEProp

from locallearn.runs import Agent, build_task, resolve, run_lifetime


def _best_of_five(action, repeats: int) -> float:
    """Microseconds per call of ``action`` (best of five runs of ``repeats`` calls)."""
    action()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeats):
            action()
        best = min(best, (time.perf_counter() - start) / repeats)
    return best * 1e6


def parts(task: str, warmup: int, repeats: int = 2000) -> dict[str, float]:
    config = resolve({"task": task, "seed": 0})
    env = build_task(config["task"])
    agent = Agent(config, env)
    observation, _ = env.reset(seed=0)
    agent.begin_episode()
    for _ in range(warmup):
        action = agent.act(observation)
        observation, reward, terminated, truncated, _ = env.step(action)
        agent.observe(reward, terminated, truncated, observation)
        if terminated or truncated:
            observation, _ = env.reset()
            agent.begin_episode()
    rule, net = agent.rule, agent.net
    u = agent.scaler(np.asarray(observation).ravel())
    x = agent.encoder.step(u, agent.rng)
    inputs = np.empty((agent.micro_steps, x.shape[0]), net.dtype)
    inputs[:] = x

    def encode():
        agent.encoder.step(agent.scaler(np.asarray(observation).ravel()), agent.rng)

    def decide():  # with a pending transition, as on every step but an episode's first
        rule.pending = 0.0
        rule.decide(net, agent.rng)

    def act():  # the compiled agent step: micro-steps and decision in one call
        rule.pending = 0.0
        rule.act(net, inputs, agent.rng)

    def environment():
        _, _, terminated, truncated, _ = env.step(1)
        if terminated or truncated:
            env.reset()

    # the learning rate is 0 so that repeating a decision cannot drift the weights
    rule.lr = 0.0
    timings = {
        "scale + encode": _best_of_five(encode, repeats),
        f"{agent.micro_steps} micro-steps": _best_of_five(
            lambda: rule.advance_many(net, inputs, decide_last=True), repeats
        ),
        "decide + learn": _best_of_five(decide, repeats),
        "environment": _best_of_five(environment, repeats),
    }
    if rule.compiled_act and rule._compiled_act_plan(net) is not None:
        # instead of the two rows above it, not in addition
        timings["(compiled: both in one call)"] = _best_of_five(act, repeats)
    return timings


def lifetime(task: str, steps: int, compiled: bool) -> float:
    """Steps/s of a whole lifetime (seed 0) as ``locallearn run`` reports it."""
    RewardEProp.compiled_act = compiled
    try:
        with tempfile.TemporaryDirectory() as out:
            config = {"task": task, "seed": 0, "training": {"steps": steps, "eval_episodes": 0}}
            return run_lifetime(config, f"{out}/run", progress=False)["steps_per_second"]
    finally:
        RewardEProp.compiled_act = True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="pong")
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, default=3, help="interleaved lifetimes of each path")
    args = parser.parse_args(argv)
    timings = parts(args.task, args.warmup)
    stepwise_parts = [value for name, value in timings.items() if not name.startswith("(")]
    for name, micros in timings.items():
        print(f"{name:>30}: {micros:7.1f} us")
    print(f"{'sum of parts (stepwise)':>30}: {sum(stepwise_parts):7.1f} us")
    rates = {"compiled": [], "stepwise": []}
    for _ in range(args.repeats):  # interleaved: host drift falls on both alike
        for path in rates:
            rates[path].append(lifetime(args.task, args.steps, path == "compiled"))
    for path, values in rates.items():
        median = float(np.median(values))
        print(
            f"{'lifetime, ' + path:>30}: {1e6 / median:7.1f} us per step = {median:,.0f} steps/s "
            f"(median of {len(values)} lifetimes of {args.steps:,} steps, {args.task}, seed 0)"
        )
    ratios = np.asarray(rates["compiled"]) / np.asarray(rates["stepwise"])
    spread = f"per pair {ratios.min():.2f}-{ratios.max():.2f}"
    print(f"{'compiled / stepwise':>30}: {np.median(ratios):.2f}x ({spread})")


if __name__ == "__main__":
    main()
