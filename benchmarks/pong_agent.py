"""Why a Pong agent wins or loses points: a trained agent's returns and misses, next to scripted
players with a known amount of action noise.

Points in this Pong come from one thing: the CPU misses steep returns (|dy| = 8, hit with the
paddle's edge) and little else. Points are lost when the agent misses. So a game is decided by
how often the agent sends the ball off steeply and how often it misses, and this script counts
both.

``RUN_DIR``: the saved agent of a lifetime (config.json + weights.npz) plays ``--steps`` steps
frozen, once sampling its policy as it did while learning and once greedily. Printed per mode:
points won and lost, the agent's returns by outgoing vertical speed (steep = |dy| 8), how many
steep and other returns the CPU missed, and the agent's misses by incoming vertical speed.

``--decode``: how much of each observed feature a linear read of the (untrained) recurrent
layer's readout trace recovers (held-out R^2; a noisy centre-tracker plays), for the Pong defaults,
slower neurons and shorter refractory periods: the policy can only use what the layer carries.

``--scripted``: the centre-tracking and edge-aiming players of ``pong_calibration.py`` with a
random action in place of theirs on a fraction ``eps`` of steps, score per game over ``--games``
games: how precise a policy has to be to break even.

    python benchmarks/pong_agent.py RUN_DIR [--steps 20000] [--seed 999]
    python benchmarks/pong_agent.py --decode
    python benchmarks/pong_agent.py --scripted [--games 6]
"""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

import locallearn as ll
from locallearn import io
from locallearn.runs import Agent, build_task, load_agent, resolve

STEEP = 8


def replay(run_dir: str, steps: int, seed: int, greedy: bool) -> dict:
    config = io.read_json(f"{run_dir}/config.json")
    if config["task"]["name"] != "pong":
        raise ValueError(f"{run_dir} is a {config['task']['name']!r} run, not pong")
    env = build_task(config["task"])
    agent = load_agent(run_dir, env, config)
    observation, _ = env.reset(seed=seed)
    agent.begin_episode()
    won = lost = 0
    returns, cpu_missed, cpu_faced, agent_missed, agent_faced = (Counter() for _ in range(5))
    in_flight = None  # steep or not, for a ball the agent returned that the CPU has not met yet
    for _ in range(steps):
        action = agent.act(observation, greedy=greedy)
        incoming = env.dx > 0 and env.ball_x != 0
        dy_before, dx_before = abs(env.dy), env.dx
        observation, reward, terminated, truncated, info = env.step(action)
        agent.observe(reward, terminated, truncated, observation)
        returned = dx_before > 0 and env.dx < 0
        point = 0 if returned else round(reward)  # a return step carries only the shaping
        if returned:
            in_flight = abs(env.dy) >= STEEP
            returns[in_flight] += 1
            cpu_faced[in_flight] += 1
        elif dx_before < 0 and env.dx > 0:  # the CPU returned it
            in_flight = None
        if incoming and (returned or point == -1):
            agent_faced[dy_before] += 1
        if point == 1:
            won += 1
            cpu_missed["serve" if in_flight is None else in_flight] += 1
        elif point == -1:
            lost += 1
            agent_missed[dy_before] += 1
        if point:
            in_flight = None
        if terminated or truncated:
            observation, _ = env.reset()
            agent.begin_episode()
            in_flight = None
    return {
        "won": won,
        "lost": lost,
        "returns": returns,
        "cpu_missed": cpu_missed,
        "cpu_faced": cpu_faced,
        "agent_missed": agent_missed,
        "agent_faced": agent_faced,
    }


def report(run_dir: str, steps: int, seed: int) -> None:
    print(f"{run_dir}: {steps} steps frozen, env seed {seed}")
    for greedy in (False, True):
        r = replay(run_dir, steps, seed, greedy)
        total = sum(r["returns"].values()) or 1
        faced = sum(r["agent_faced"].values()) or 1
        print(
            f"  {'greedy ' if greedy else 'sampled'}: points {r['won']} won / {r['lost']} lost; "
            f"{total} returns, {r['returns'][True] / total:.0%} steep; CPU missed "
            f"{r['cpu_missed'][True]}/{r['cpu_faced'][True]} steep and "
            f"{r['cpu_missed'][False]}/{r['cpu_faced'][False]} other returns; agent missed "
            f"{sum(r['agent_missed'].values())}/{faced} balls ("
            + ", ".join(
                f"|dy| {dy}: {r['agent_missed'][dy]}/{r['agent_faced'][dy]}"
                for dy in sorted(r["agent_faced"])
            )
            + ")"
        )


FEATURES = ("ball x", "ball y", "ball dx", "ball dy", "paddle y", "cpu y", "paddle v", "offset")


def decodability(network: dict, steps: int = 6000, seed: int = 0) -> dict:
    """Held-out R^2 of a least-squares read of each observed feature from the readout trace of
    an untrained agent (Pong lifetime defaults, ``network`` overrides), while a centre-tracker
    with 30 % random actions plays."""
    config = resolve({"task": "pong", "seed": seed, "network": network})
    env = build_task(config["task"])
    agent = Agent(config, env)
    agent.rule.lr = 0.0
    rng = np.random.default_rng(seed)
    observation, _ = env.reset(seed=seed)
    agent.begin_episode()
    traces, observed = [], []
    for _ in range(steps):
        agent.act(observation)
        traces.append(agent.rule.readout_trace.copy())
        observed.append(observation)
        action = int(rng.integers(3)) if rng.random() < 0.3 else env.scripted_action("track")
        observation, reward, terminated, truncated, _ = env.step(action)
        agent.observe(reward, terminated, truncated, observation)
        if terminated or truncated:
            observation, _ = env.reset()
            agent.begin_episode()
    design = np.c_[np.asarray(traces, np.float64), np.ones(steps)]
    observed = np.asarray(observed, np.float64)
    fit = 2 * steps // 3
    r2 = {}
    for i, name in enumerate(FEATURES[: observed.shape[1]]):
        coef, *_ = np.linalg.lstsq(design[:fit], observed[:fit, i], rcond=None)
        residual = observed[fit:, i] - design[fit:] @ coef
        r2[name] = 1 - residual.var() / observed[fit:, i].var()
    return r2


def scripted_scores(policy: str, eps: float, games: int) -> tuple[float, float, float]:
    env = ll.tasks.make("pong")
    rng = np.random.default_rng(0)
    scores, steps = [], 0
    for game in range(games):
        env.reset(seed=game)
        done = False
        while not done:
            action = int(rng.integers(3)) if rng.random() < eps else env.scripted_action(policy)
            _, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            steps += 1
        scores.append(info["score"])
    return float(np.mean(scores)), float(np.std(scores, ddof=1)), steps / games


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", nargs="?")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=999)
    parser.add_argument("--scripted", action="store_true")
    parser.add_argument("--games", type=int, default=6)
    parser.add_argument("--decode", action="store_true")
    args = parser.parse_args(argv)
    if args.run_dir:
        report(args.run_dir, args.steps, args.seed)
    if args.scripted:
        print(
            f"scripted players with a random action on a fraction eps of steps "
            f"({args.games} games each; score per game, mean ± std, steps per game)"
        )
        for policy in ("track", "edge"):
            for eps in (0.0, 0.05, 0.15, 0.3):
                mean, std, length = scripted_scores(policy, eps, args.games)
                print(f"  {policy:<5} eps {eps:4.2f}: {mean:+6.1f} ± {std:4.1f}   {length:7.0f}")
    if args.decode:
        print("held-out R^2 of a linear read of each feature from the readout trace (untrained)")
        print(f"  {'tau_mem/tau_out n_ref':<22}" + "".join(f"{name:>10}" for name in FEATURES))
        # n_ref = 2 at 3 micro-steps per decision lets a neuron spike at most once per decision:
        # the layer's code is then binary per step, which n_ref = 0 or 1 relaxes
        for tau_mem, tau_out, n_ref in (
            (20.0, 5.0, 2),
            (5.0, 5.0, 2),
            (3.0, 3.0, 2),
            (3.0, 3.0, 1),
            (3.0, 3.0, 0),
        ):
            r2 = decodability({"tau_mem": tau_mem, "tau_out": tau_out, "n_ref": n_ref})
            label = f"{tau_mem:g} / {tau_out:g}   {n_ref}"
            print(f"  {label:<22}" + "".join(f"{v:10.2f}" for v in r2.values()))
    if not (args.run_dir or args.scripted or args.decode):
        parser.error("give a RUN_DIR, --scripted or --decode")


if __name__ == "__main__":
    main()
