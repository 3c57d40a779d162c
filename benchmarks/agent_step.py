"""Where an environment step of a lifetime goes, and how many steps a second it makes.

At a task's lifetime defaults (Pong unless ``--task``), a seeded agent first plays
``--warmup`` steps (traces and weights in a realistic state), then each part of one step is timed
on its own, best of five repetitions: observation scaling and encoding, the ``micro_steps``
network steps (one compiled call), the decision (policy, action, learning from the previous
transition, trace sweep with the learning signal), and the environment's step. Last, a whole
lifetime of ``--steps`` steps gives steps/s as ``locallearn run`` reports it.

Run it on a quiet machine; with other work on the cores the figures rise together.

    python benchmarks/agent_step.py [--task pong] [--steps 30000] [--warmup 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np

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
    return timings


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="pong")
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--warmup", type=int, default=2_000)
    args = parser.parse_args(argv)
    timings = parts(args.task, args.warmup)
    for name, micros in timings.items():
        print(f"{name:>18}: {micros:7.1f} us")
    print(f"{'sum of parts':>18}: {sum(timings.values()):7.1f} us")
    with tempfile.TemporaryDirectory() as out:
        summary = run_lifetime(
            {"task": args.task, "seed": 0, "training": {"steps": args.steps}}, f"{out}/run", progress=False
        )
    per_step = 1e6 / summary["steps_per_second"]
    print(
        f"{'lifetime':>18}: {per_step:7.1f} us per step = {summary['steps_per_second']:,.0f} "
        f"steps/s over {summary['steps']:,} steps ({args.task}, seed 0)"
    )


if __name__ == "__main__":
    main()
