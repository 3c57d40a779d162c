"""Roofline of one online e-prop step, level by level: each configuration against the bandwidth of
the memory level its working set lives in.

1. Ceilings, measured in the same run: the sustained bandwidth of a streaming in-place update
   (``a = s a + b``: two reads and one write per element, the access pattern of the trace sweep)
   with a working set of half of L1d, half of L2, 64 MB (in L3 when L3 holds it) and 1.2 GB (far
   beyond any cache: DRAM), each on one thread and on every thread (numba ``prange``, the
   arrays split between the cores as the engine splits its rows); the cache sizes are read from
   ``/sys/devices/system/cpu/cpu0/cache``. Also the FLOP ceiling (float32 BLAS matrix product).
2. Per configuration (n_in inputs, n_rec in ``--sizes``, all-LIF and all-ALIF): the bytes one
   online step must move — per synapse of w_in and w_rec:

       filtered eligibility ebar   read + write    8 B   2 FLOP (decay, add)
       weight (the accumulator)    read + write    8 B   4 FLOP (L ebar + R e, add)
       ALIF eps_a                  read + write    8 B   5 FLOP (e and eps_a updates)
       LIF  e = psi * p                                  1 FLOP

   plus the forward pass's reads of the weight columns of active inputs (event-driven, counted
   at the measured activity) — its working set (the distinct bytes: 8 or 12 per synapse), the
   level that holds it (private levels count once per core the step runs on), and the measured
   time of one step (``OnlineLearner``, per-step SGD folded into the trace sweep, at the thread
   count numba runs with: the engine splits a sweep between threads above
   ``traces.PARALLEL_MIN_SYNAPSES`` synapses). Reported: achieved GB/s and its fraction of that
   level's ceiling at the step's thread count, and GFLOP/s against the FLOP ceiling.

Each round measures every ceiling and every configuration; the table gives medians over
``--repeats`` rounds and the range of the fraction of the ceiling. On a virtual machine the L3 is
shared with other tenants, so L3-resident figures move between rounds more than the others.

Run it on a quiet machine.

    python benchmarks/roofline.py [--sizes 256 512 1024 2048 4096 8192] [--seconds 2]
        [--repeats 3] [--out results/perf/roofline.json]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np

import locallearn as ll
from locallearn import report

DRAM_BYTES = 1_200_000_000


@numba.njit(cache=True)
def _update(a, b, s, repeats):
    for _ in range(repeats):
        for i in range(a.shape[0]):
            a[i] = s * a[i] + b[i]


@numba.njit(cache=True, parallel=True)
def _update_parallel(a, b, s, repeats, n_threads):
    # each thread keeps its own contiguous block across repeats (its share stays in its caches)
    block = (a.shape[0] + n_threads - 1) // n_threads
    for t in numba.prange(n_threads):
        start, stop = t * block, min(a.shape[0], (t + 1) * block)
        _update(a[start:stop], b[start:stop], s, repeats)  # the serial loop, vectorised as alone


def _best(fn, repeats=5) -> float:
    fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def cache_levels() -> dict[str, tuple[int, bool]]:
    """{"L1d": (bytes, private), "L2": ..., "L3": ...} from sysfs (a level it lacks is absent)."""
    levels = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text())
            size = (index / "size").read_text().strip()
            shared = (index / "shared_cpu_list").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        value = int(size[:-1]) * {"K": 1024, "M": 1024**2}[size[-1]] if size[-1] in "KM" else int(size)
        levels["L1d" if level == 1 else f"L{level}"] = (value, shared in ("0", ""))
    return levels


def ceilings(levels: dict) -> dict[str, dict[str, float]]:
    """Bytes/s of the streaming update per level, on 1 thread and on all threads."""
    sizes = {name: size // 2 for name, (size, _) in levels.items() if name != "L3"}
    if "L3" in levels and levels["L3"][0] > 128 * 1024**2:
        sizes["L3"] = 64 * 1024**2
    elif "L3" in levels:
        sizes["L3"] = levels["L3"][0] // 2
    sizes["DRAM"] = DRAM_BYTES
    threads = numba.get_num_threads()
    result = {}
    for name, working_set in sizes.items():
        n = working_set // 8  # two float32 arrays
        a, b = np.ones(n, np.float32), np.full(n, 1e-3, np.float32)
        repeats = max(1, int(2e8 // n))
        s = np.float32(0.5)
        moved = 12 * n * repeats
        figures = {"working set": working_set}
        figures["1 thread"] = moved / _best(lambda a=a, b=b, s=s, r=repeats: _update(a, b, s, r))
        scale = threads if levels.get(name, (0, False))[1] else 1  # private levels: one per core
        a, b = np.ones(n * scale, np.float32), np.full(n * scale, 1e-3, np.float32)
        seconds = _best(lambda a=a, b=b, s=s, r=repeats: _update_parallel(a, b, s, r, threads))
        figures[f"{threads} threads"] = 12 * n * scale * repeats / seconds
        result[name] = figures
    m = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    result["FLOP/s"] = {f"{threads} threads": 2 * 2048**3 / _best(lambda: m @ m, 3)}
    return result


def step_cost(n_in: int, n_rec: int, alif: bool, active_inputs: float) -> tuple[float, float, float]:
    """(bytes moved, FLOPs, working-set bytes) of one online e-prop step (module docstring)."""
    synapses = n_rec * (n_in + n_rec)
    per_synapse_bytes = 16 + (8 if alif else 0)
    per_synapse_flops = 6 + (5 if alif else 1)
    forward_bytes = 4 * n_rec * active_inputs
    working_set = synapses * per_synapse_bytes // 2
    return synapses * per_synapse_bytes + forward_bytes, synapses * per_synapse_flops, working_set


def level_of(working_set: float, levels: dict, threads: int) -> str:
    for name in ("L1d", "L2", "L3"):
        if name in levels:
            size, private = levels[name]
            if working_set <= size * (threads if private else 1):
                return name
    return "DRAM"


def measure_step(n_in: int, n_rec: int, alif: bool, seconds: float) -> tuple[float, float, bool]:
    """(seconds per online step, mean active presynaptic entries per step, sweeps split)."""
    net = ll.Network(
        ll.NetworkConfig(n_in=n_in, n_rec=n_rec, n_out=2, n_adaptive=n_rec if alif else 0, seed=0)
    )
    rng = np.random.default_rng(0)
    inputs = (rng.random((200, n_in)) < 0.04).astype(np.float32)
    targets = np.zeros((200, 2), np.float32)
    rule = ll.rules.make("eprop", feedback="random")
    learner = ll.OnlineLearner(net, rule, ll.SGD(lr=1e-5), update="step")
    learner.run_sequence(inputs[:20], targets[:20])
    steps, spikes, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        result = learner.run_sequence(inputs, targets)
        steps += len(inputs)
        spikes += result.spikes
    elapsed = time.perf_counter() - start
    active = inputs.sum(axis=1).mean() + spikes / steps
    return elapsed / steps, active, any(rule.traces.parallel_sweeps)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 512, 1024, 2048, 4096, 8192])
    parser.add_argument("--n-in", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3, help="rounds over every ceiling and configuration")
    parser.add_argument("--out", default="results/perf/roofline.json")
    args = parser.parse_args(argv)
    levels = cache_levels()
    threads = numba.get_num_threads()
    configs = [(n_rec, alif) for n_rec in args.sizes for alif in (False, True)]
    rounds = []  # per round: (ceilings, {config: (seconds, active, split)})
    for repeat in range(args.repeats):
        limits = ceilings(levels)
        shown = "; ".join(
            f"{name} " + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in figures.items() if k != "working set")
            for name, figures in limits.items()
        )
        print(f"round {repeat + 1}: ceilings (GB/s; FLOP/s in G) {shown}", flush=True)
        steps = {}
        for n_rec, alif in configs:
            steps[n_rec, alif] = measure_step(args.n_in, n_rec, alif, args.seconds)
            print(
                f"  n_rec {n_rec} {'ALIF' if alif else 'LIF'}: {steps[n_rec, alif][0] * 1e3:.3f} ms",
                flush=True,
            )
        rounds.append((limits, steps))
    # medians over rounds: a level shared with other tenants (this VM's L3) moves between them
    limits = {
        name: {k: float(np.median([r[0][name][k] for r in rounds])) for k in figures}
        for name, figures in rounds[0][0].items()
    }
    flops = limits["FLOP/s"][f"{threads} threads"]
    rows, raw = [], []
    for n_rec, alif in configs:
        measured = [r[1][n_rec, alif] for r in rounds]
        seconds = float(np.median([m[0] for m in measured]))
        active, split = measured[0][1], measured[0][2]
        moved, nflops, working_set = step_cost(args.n_in, n_rec, alif, active)
        step_threads = threads if split else 1
        level = level_of(working_set, levels, step_threads)
        key = f"{threads} threads" if split else "1 thread"
        ceiling = limits[level][key]
        fractions = sorted(moved / m[0] / r[0][level][key] for m, r in zip(measured, rounds))
        achieved = moved / seconds
        raw.append(
            {
                "n_rec": n_rec,
                "alif": alif,
                "seconds_per_step": [m[0] for m in measured],
                "bytes": moved,
                "flops": nflops,
                "working_set": working_set,
                "level": level,
                "threads": step_threads,
                "ceiling": ceiling,
            }
        )
        rows.append(
            [
                f"{n_rec:,}",
                "ALIF" if alif else "LIF",
                f"{working_set / 1e6:.2f}",
                level,
                step_threads,
                f"{seconds * 1e3:.3f}",
                f"{achieved / 1e9:.1f}",
                f"{ceiling / 1e9:.1f}",
                f"{achieved / ceiling:.0%} [{fractions[0]:.0%}, {fractions[-1]:.0%}]",
                f"{nflops / seconds / 1e9:.2f} ({nflops / seconds / flops:.1%})",
            ]
        )
        print(" | ".join(str(cell) for cell in rows[-1]), flush=True)
    ceiling_text = "; ".join(
        f"{name} ({figures['working set'] / 1e6:g} MB) "
        + ", ".join(f"{k} {v / 1e9:.1f}" for k, v in figures.items() if k != "working set")
        + " GB/s"
        for name, figures in limits.items()
        if name != "FLOP/s"
    )
    report.write_benchmark(
        Path(args.out),
        f"Roofline of one online e-prop step (n_in {args.n_in}, per-step SGD, float32), each "
        "configuration against the streaming-update bandwidth of the level its working set lives "
        f"in, measured in the same run: {ceiling_text}; FLOP ceiling {flops / 1e9:.0f} GFLOP/s "
        f"(BLAS sgemm, {threads} threads); {args.seconds:g} s per configuration, medians of "
        f"{args.repeats} rounds",
        "python benchmarks/roofline.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        [
            "n_rec",
            "neurons",
            "working set, MB",
            "level",
            "threads",
            "ms/step",
            "achieved GB/s",
            "level ceiling GB/s",
            "of ceiling [range over rounds]",
            "GFLOP/s (of peak)",
        ],
        rows,
        ceilings=limits,
        ceilings_per_round=[r[0] for r in rounds],
        levels={name: {"bytes": size, "private": private} for name, (size, private) in levels.items()},
        steps=raw,
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
