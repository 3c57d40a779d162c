"""Record golden Flappy Bird trajectories from the real flappy-bird-gymnasium 0.4.0.

    pip install flappy-bird-gymnasium==0.4.0 && python tests/data/record_flappy_golden.py

Writes tests/data/flappy_golden.npz: for each seed, the actions played (a hand controller with
occasional random extra flaps on odd seeds, so that episodes both pass pipes and crash), and
the observations (the 12 features), rewards, terminated and truncated flags the package
returned. tests/test_flappy.py replays the actions on locallearn's "flappy" and requires identical outputs.
"""

from pathlib import Path

import numpy as np

SEEDS = (0, 1, 2, 3, 4, 5)
MAX_STEPS = 700


def controller(env, rng, p_random: float) -> int:
    game = env.unwrapped
    lows = [p for p in game._lower_pipes if p["x"] + 52 >= game._player_x]
    low = min(lows, key=lambda p: p["x"])
    flap = game._player_y + 24 > low["y"] - 12 and game._player_vel_y >= 0
    return int(flap or rng.random() < p_random)


def main() -> None:
    import flappy_bird_gymnasium  # noqa: F401  (registers FlappyBird-v0)
    import gymnasium

    records = {"seeds": np.array(SEEDS), "lengths": []}
    actions, observations, rewards, terminated, truncated = [], [], [], [], []
    for seed in SEEDS:
        env = gymnasium.make("FlappyBird-v0", use_lidar=False, normalize_obs=True)
        rng = np.random.default_rng(1000 + seed)
        obs, _ = env.reset(seed=seed)
        acts, obss, rews, terms, truns = [], [obs], [], [], []
        for _ in range(MAX_STEPS):
            action = controller(env, rng, 0.01 if seed % 2 else 0.0)
            obs, reward, term, trunc, _ = env.step(action)
            acts.append(action)
            obss.append(obs)
            rews.append(reward)  # noqa: E702
            terms.append(term)
            truns.append(trunc)  # noqa: E702
            if term or trunc:
                break
        records["lengths"].append(len(acts))
        pad = MAX_STEPS - len(acts)
        actions.append(np.pad(acts, (0, pad)))
        observations.append(np.pad(np.array(obss), ((0, pad), (0, 0))))
        rewards.append(np.pad(rews, (0, pad)))
        terminated.append(np.pad(terms, (0, pad)))
        truncated.append(np.pad(truns, (0, pad)))
    np.savez_compressed(
        Path(__file__).with_name("flappy_golden.npz"),
        seeds=records["seeds"],
        lengths=np.array(records["lengths"]),
        actions=np.array(actions, np.int8),
        observations=np.array(observations),
        rewards=np.array(rewards),
        terminated=np.array(terminated),
        truncated=np.array(truncated),
    )
    print("lengths", records["lengths"])


if __name__ == "__main__":
    main()
