"""Pong calibration: our numpy Pong against ALE Pong-v5 (when ale-py is installed).

Plays scripted players — random, centre-tracking ("track") and edge-aiming ("edge") — for a few
games on each and prints points for/against, score per game and steps per point side by side.
ALE runs with repeat_action_probability 0 so that both are deterministic given the seed.

``--cpu`` instead measures the CPU's weakness: a noisy edge-aiming player (aim offset drawn per
game, +-6 px of noise per step) plays ``--games`` games on each, and every ball that reaches the
CPU's paddle is tallied by its vertical speed on the way in, as missed or returned.

    python benchmarks/pong_calibration.py [--games 3] [--max-steps 20000] [--cpu]
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


AIMS = (9, 0, 5, 12, -3, 9, 14, 3)


def noisy_edge(ball_x: int, ball_y: int, agent_y: int, aim: int, rng) -> int:
    if ball_x == 0:
        return 0 if abs(120 - agent_y) <= 5 else (2 if 120 > agent_y else 1)
    side = -1 if ball_y > 125 else 1
    target = ball_y - 7 - side * aim + int(rng.integers(-6, 7))
    gap = target - agent_y
    return 0 if abs(gap) <= 5 else (2 if gap > 0 else 1)


def cpu_table(step, games: int, max_steps: int, seed: int = 1) -> dict:
    """{incoming dy: [missed, returned]} for balls reaching the CPU. ``step(game, action)``
    plays one step and returns (ball x, ball y, agent y, reward) after it; game < 0 resets."""
    rng = np.random.default_rng(seed)
    table: dict[int, list[int]] = {}
    for game in range(games):
        aim = AIMS[game % len(AIMS)]
        x, y, agent, _ = step(game, -1)
        history = [(x, y)]
        for _ in range(max_steps):
            x, y, agent, reward = step(game, noisy_edge(x, y, agent, aim, rng))
            history.append((x, y))
            if len(history) < 3:
                continue
            (x0, y0), (x1, y1), (x2, _) = history[-3], history[-2], history[-1]
            if x1 and x0 > x1 and 0 < x1 <= 72 and x2 > x1:  # turned at the CPU's paddle
                table.setdefault(y1 - y0, [0, 0])[1] += 1
            if reward > 0:  # the CPU missed: find where the ball crossed x = 69
                for k in range(len(history) - 1, 0, -1):
                    (xa, ya), (xb, yb) = history[k - 1], history[k]
                    if xb and 0 < xb <= 69 < xa:
                        table.setdefault(yb - ya, [0, 0])[0] += 1
                        break
            if reward == 2:  # game over
                break
    return table


def cpu_ours(games: int, max_steps: int) -> dict:
    env = ll.tasks.make("pong", max_steps=10**9)

    def step(game, action):
        if action < 0:
            env.reset(seed=100 + game)
            return env.ball_x, env.ball_y, env.agent_y, 0.0
        _, reward, terminated, _, _ = env.step(action)
        return env.ball_x, env.ball_y, env.agent_y, 2 if terminated else reward

    return cpu_table(step, games, max_steps)


def cpu_ale(games: int, max_steps: int) -> dict:
    import ale_py
    import gymnasium

    gymnasium.register_envs(ale_py)
    env = gymnasium.make("ALE/Pong-v5", obs_type="ram", repeat_action_probability=0.0)

    def step(game, action):
        if action < 0:
            ram, _ = env.reset(seed=100 + game)
        else:
            ram, reward, terminated, truncated, _ = env.step(ALE_ACTIONS[action])
            if terminated or truncated:
                return int(ram[49]), int(ram[54]), int(ram[51]), 2
        return int(ram[49]), int(ram[54]), int(ram[51]), 0.0 if action < 0 else reward

    return cpu_table(step, games, max_steps)


def _cpu_rows(name: str, table: dict) -> None:
    steep = [sum(table.get(d, [0, 0])[i] for d in table if abs(d) >= 8) for i in (0, 1)]
    flat = [sum(table[d][i] for d in table if abs(d) < 8) for i in (0, 1)]
    by_dy = "  ".join(f"{d:+d}: {m}/{m + r}" for d, (m, r) in sorted(table.items()))
    print(
        f"{name:<5} steep (|dy| >= 8) missed {steep[0]}/{sum(steep)}, "
        f"others missed {flat[0]}/{sum(flat)};  by dy (missed/all): {by_dy}"
    )


def _row(name, policy, results):
    agent = np.array([r[0] for r in results])
    cpu = np.array([r[1] for r in results])
    steps = np.array([r[2] for r in results])
    points = max(agent.sum() + cpu.sum(), 1)
    print(
        f"{name:<6} {policy:<7} {np.mean(agent - cpu):>+7.1f} {agent.sum():>6} {cpu.sum():>6} "
        f"{steps.sum() / points:>9.1f}   {[(int(a), int(c)) for a, c, _ in results]}"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=3)
    parser.add_argument("--max-steps", type=int, default=20000)
    parser.add_argument(
        "--cpu", action="store_true", help="tally the CPU's misses by the ball's incoming vertical speed"
    )
    args = parser.parse_args(argv)
    try:
        import ale_py  # noqa: F401

        have_ale = True
    except ModuleNotFoundError:
        have_ale = False
        print("ale-py not installed (extra [games]): ours only")
    if args.cpu:
        _cpu_rows("ours", cpu_ours(args.games, args.max_steps))
        if have_ale:
            _cpu_rows("ALE", cpu_ale(args.games, args.max_steps))
        return
    print(f"{'game':<6} {'player':<7} {'score':>7} {'for':>6} {'agst':>6} {'steps/pt':>9}   games")
    for policy in ("random", "track", "edge"):
        _row("ours", policy, play_ours(policy, args.games, args.max_steps))
        if have_ale:
            _row("ALE", policy, play_ale(policy, args.games, args.max_steps))


if __name__ == "__main__":
    main()
