"""Every named random stream of the project, in one place.

A run has one integer ``seed``; each consumer of randomness draws from its own stream,
``np.random.default_rng([seed, KEY, *more])``, so adding randomness to one part of a run never
shifts the numbers of another (the training trials stay the same when the evaluation changes).
The keys are arbitrary but fixed: changing one changes every result that used that stream.

Held-out data: ``validation`` (early stopping, curves) and ``test`` (the reported number, drawn
once at the end of a run) are disjoint from ``train`` by construction: they are different streams
of one seed, and a trial is a function of its stream's state only.
"""

from __future__ import annotations

import numpy as np

STREAMS: dict[str, int] = {
    "train": 0x7A1,  # supervised training trials
    "validation": 0xE7A1,  # periodic evaluation and early stopping
    "test": 0x7E57,  # the reported test figure, drawn once at the end
    "gradient_check": 0x6C05,  # the fixed trial on which rule and BPTT gradients are compared
    "feedback": 0xFEEDBAC,  # random feedback matrices (one more key per layer below the top)
    "escape_noise": 0xE5CA,  # stochastic neurons (one more key per layer)
    "agent": 0xA6E7,  # an agent's action sampling and stochastic encoders
    "scaler_warmup": 0x5CA1E,  # random play that measures unbounded observation ranges
    "evaluation_env": 0xE4A1,  # environment seeds of the frozen-weight evaluation of a lifetime
    "evaluation_agent": 0xE4A2,  # action sampling during that evaluation
    "sal_noise": 0x5A1,  # SAL's injected noise
    "sal_phase": 0x57E9,  # SAL's symmetrization phase
    "pattern_inputs": 0x9A77,  # the pattern task's frozen input spikes
    "stream_ac_init": 0x57AC,  # stream AC(λ)'s sparse initial weights
    "uoro": 0x0E0,  # UORO's random signs
    "timing_trials": 0x7177,  # fresh trials of a spike-timing perturbation test
    "timing_jitter": 0x7178,  # the jitter applied to them
    "probe_trials": 0x960BE,  # the fixed fresh trials a supervised run's recording probes
    "random_policy": 0x4A4D,  # a uniform random policy's games (the zero of normalised scores)
}

# Environment seeds of evaluations are drawn from [EVALUATION_SEED_LOW, 2**63): a training run's
# environment is seeded with the run's seed, which must stay below this bound (checked when a
# lifetime's configuration is resolved), so evaluation episodes never replay a training seed.
EVALUATION_SEED_LOW = 2**40


def key(name: str) -> int:
    """The fixed key of stream ``name`` (KeyError naming the known streams otherwise)."""
    try:
        return STREAMS[name]
    except KeyError:
        raise KeyError(f"no random stream {name!r}; known: {', '.join(sorted(STREAMS))}") from None


def generator(seed: int, name: str, *more: int) -> np.random.Generator:
    """The generator of stream ``name`` for ``seed`` (``more``: sub-streams, e.g. a layer index)."""
    return np.random.default_rng([int(seed), key(name), *map(int, more)])


def evaluation_seeds(seed: int, n: int) -> list[int]:
    """``n`` distinct environment seeds for a frozen-weight evaluation, never a training seed."""
    rng = generator(seed, "evaluation_env")
    seeds: list[int] = []
    while len(seeds) < n:
        candidate = int(rng.integers(EVALUATION_SEED_LOW, 2**63 - 1))
        if candidate not in seeds:
            seeds.append(candidate)
    return seeds
