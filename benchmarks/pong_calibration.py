"""Pong calibration: our numpy Pong against ALE Pong-v5 (when ale-py is installed).

Plays scripted players — random, centre-tracking ("track") and edge-aiming ("edge") — for a few
games on each and prints points for/against, score per game and steps per point side by side.
ALE runs with repeat_action_probability 0 so that both are deterministic given the seed.

    python benchmarks/pong_calibration.py [--games 3] [--max-steps 20000]
"""

from __future__ import annotations

import argparse

import numpy as np

import locallearn as ll

ALE_ACTIONS = (0, 2, 3)  # stay, up, down


def scripted(policy: str, ball_x: int, ball_y: int, agent_y: int, rng) -> int:
    if policy == "random":
        return int(rng.integers(3))
    if ball_x == 0:
        target = 120
    elif policy == "track":
        target = ball_y - 7
    else:
        side = -1 if ball_y > 125 else 1
        target = ball_y - 7 - side * 9
    gap = target - agent_y
    return 0 if abs(gap) <= 5 else (2 if gap > 0 else 1)


def play_ours(policy: str, games: int, max_steps: int, seed: int = 0):
    env = ll.tasks.make("pong", max_steps=max_steps)
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    results = []
    for _ in range(games):
        env.reset()
        steps, done = 0, False
        while not done:
            action = scripted(policy, env.ball_x, env.ball_y, env.agent_y, rng)
            _, _, terminated, truncated, _ = env.step(action)
            steps += 1
            done = terminated or truncated
        results.append((env.agent_score, env.cpu_score, steps))
    return results


def play_ale(policy: str, games: int, max_steps: int, seed: int = 0):
    import ale_py
    import gymnasium

    gymnasium.register_envs(ale_py)
    env = gymnasium.make("ALE/Pong-v5", obs_type="ram", repeat_action_probability=0.0)
    rng = np.random.default_rng(seed)
    results = []
    for game in range(games):
        ram, _ = env.reset(seed=seed + game)
        agent = cpu = steps = 0
        done = False
        while not done and steps < max_steps:
            action = scripted(policy, int(ram[49]), int(ram[54]), int(ram[51]), rng)
            ram, reward, terminated, truncated, _ = env.step(ALE_ACTIONS[action])
            agent += reward > 0
            cpu += reward < 0
            steps += 1
            done = terminated or truncated
        results.append((agent, cpu, steps))
    return results


def _row(name, policy, results):
    agent = np.array([r[0] for r in results])
    cpu = np.array([r[1] for r in results])
    steps = np.array([r[2] for r in results])
    points = max(agent.sum() + cpu.sum(), 1)
    print(f"{name:<6} {policy:<7} {np.mean(agent - cpu):>+7.1f} {agent.sum():>6} {cpu.sum():>6} "
          f"{steps.sum() / points:>9.1f}   {[(int(a), int(c)) for a, c, _ in results]}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=20000)
    args = parser.parse_args(argv)
    try:
        import ale_py  # noqa: F401
        have_ale = True
    except ModuleNotFoundError:
        have_ale = False
        print("ale-py not installed (extra [games]): ours only")
    print(f"{'game':<6} {'player':<7} {'score':>7} {'for':>6} {'agst':>6} {'steps/pt':>9}   games")
    for policy in ("random", "track", "edge"):
        _row("ours", policy, play_ours(policy, args.games, args.max_steps))
        if have_ale:
            _row("ALE", policy, play_ale(policy, args.games, args.max_steps))


if __name__ == "__main__":
    main()
