"""Roofline of one online e-prop step: achieved bytes/s and FLOP/s against this machine's limits.

1. Limits, measured in the same run: sustained memory bandwidth (numba copy and triad over 256 MB
   float32 arrays, one thread and all threads; numpy copy for reference) and FLOP rate (float32
   matrix product through BLAS, all threads; a compiled multiply-add loop in cache, one thread).
2. For each e-prop configuration (n_in = 100, n_rec in --sizes, all-LIF and all-ALIF), the bytes
   and FLOPs one online step must touch — per synapse of w_in and w_rec:

       filtered eligibility ebar   read + write    8 B   2 FLOP (decay, add)
       weight (the accumulator)    read + write    8 B   4 FLOP (L ebar + R e, add)
       ALIF eps_a                  read + write    8 B   5 FLOP (e and eps_a updates)
       LIF  e = psi * p                                  1 FLOP

   plus the forward pass's reads of the weight columns of active inputs (event-driven, counted at
   the measured activity) — and the measured time of one step (OnlineLearner, per-step SGD folded
   into the trace sweep). Prints achieved GB/s, the fraction of the bandwidth limit, achieved
   GFLOP/s and the fraction of the FLOP limit. The step is memory-bound when bytes/FLOP exceeds
   the machine balance (limit GB/s over limit GFLOP/s).

    python benchmarks/roofline.py [--sizes 256 1024 2048] [--seconds 2]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

import locallearn as ll


@numba.njit(cache=True)
def _copy(a, b):
    for i in range(a.shape[0]):
        b[i] = a[i]


@numba.njit(cache=True, parallel=True)
def _copy_parallel(a, b):
    for i in numba.prange(a.shape[0]):
        b[i] = a[i]


@numba.njit(cache=True)
def _triad(a, b, c, s):
    for i in range(a.shape[0]):
        a[i] = b[i] + s * c[i]


@numba.njit(cache=True, parallel=True)
def _triad_parallel(a, b, c, s):
    for i in numba.prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


@numba.njit(cache=True)
def _fma_in_cache(x, repeats):
    acc = np.zeros(16, np.float32)
    for _ in range(repeats):
        for i in range(x.shape[0]):
            acc[i % 16] = acc[i % 16] * np.float32(0.999) + x[i]
    return acc


def _best(fn, repeats=5) -> float:
    fn()
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def machine_limits() -> dict:
    n = 64 * 1024 * 1024  # 256 MB per float32 array: far beyond any cache
    a, b, c = (np.ones(n, np.float32) for _ in range(3))
    s = np.float32(0.5)
    limits = {
        "copy 1 thread": 2 * a.nbytes / _best(lambda: _copy(a, b)),
        "copy all threads": 2 * a.nbytes / _best(lambda: _copy_parallel(a, b)),
        "triad 1 thread": 3 * a.nbytes / _best(lambda: _triad(a, b, c, s)),
        "triad all threads": 3 * a.nbytes / _best(lambda: _triad_parallel(a, b, c, s)),
        "numpy copy": 2 * a.nbytes / _best(lambda: np.copyto(b, a)),
    }
    m = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    limits["sgemm GFLOP/s"] = 2 * 2048**3 / _best(lambda: m @ m, 3) / 1e9
    x = np.ones(4096, np.float32)
    limits["fma loop GFLOP/s"] = 2 * 4096 * 2000 / _best(lambda: _fma_in_cache(x, 2000), 3) / 1e9
    return limits


def step_cost(n_in: int, n_rec: int, alif: bool, active_inputs: float) -> tuple[float, float]:
    """(bytes, FLOPs) one online e-prop step must touch (see the module docstring)."""
    synapses = n_rec * (n_in + n_rec)
    per_synapse_bytes = 16 + (8 if alif else 0)
    per_synapse_flops = 6 + (5 if alif else 1)
    forward_bytes = 4 * n_rec * active_inputs
    return synapses * per_synapse_bytes + forward_bytes, synapses * per_synapse_flops


def measure_step(n_in: int, n_rec: int, alif: bool, seconds: float) -> tuple[float, float]:
    """(seconds per online step, mean active presynaptic entries per step)."""
    net = ll.Network(
        ll.NetworkConfig(n_in=n_in, n_rec=n_rec, n_out=2, n_adaptive=n_rec if alif else 0, seed=0)
    )
    rng = np.random.default_rng(0)
    inputs = (rng.random((200, n_in)) < 0.04).astype(np.float32)
    targets = np.zeros((200, 2), np.float32)
    learner = ll.OnlineLearner(net, ll.rules.make("eprop", feedback="random"), ll.SGD(lr=1e-5), update="step")
    learner.run_sequence(inputs[:20], targets[:20])
    steps, spikes, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        result = learner.run_sequence(inputs, targets)
        steps += len(inputs)
        spikes += result.spikes
    elapsed = time.perf_counter() - start
    active = inputs.sum(axis=1).mean() + spikes / steps
    return elapsed / steps, active


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[256, 1024, 2048])
    parser.add_argument("--n-in", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    limits = machine_limits()
    print(f"machine: {numba.get_num_threads()} threads")
    for name, value in limits.items():
        unit = "" if "GFLOP" in name else " GB/s"
        print(f"  {name:<20} {value / (1 if 'GFLOP' in name else 1e9):8.1f}{unit}")
    bandwidth = max(v for k, v in limits.items() if "GFLOP" not in k)
    flops = max(limits["sgemm GFLOP/s"], limits["fma loop GFLOP/s"]) * 1e9
    print(
        f"limits used: {bandwidth / 1e9:.1f} GB/s, {flops / 1e9:.1f} GFLOP/s "
        f"(balance {flops / bandwidth:.2f} FLOP/B)\n"
    )
    print(
        f"{'n_rec':>6} {'neurons':>7} {'MB/step':>8} {'FLOP/B':>7} {'step ms':>8} {'GB/s':>6} "
        f"{'of BW':>6} {'GFLOP/s':>8} {'of peak':>8}"
    )
    for n_rec in args.sizes:
        for alif in (False, True):
            seconds, active = measure_step(args.n_in, n_rec, alif, args.seconds)
            nbytes, nflops = step_cost(args.n_in, n_rec, alif, active)
            achieved = nbytes / seconds
            print(
                f"{n_rec:>6} {'ALIF' if alif else 'LIF':>7} {nbytes / 1e6:>8.2f} "
                f"{nflops / nbytes:>7.2f} {seconds * 1e3:>8.3f} {achieved / 1e9:>6.1f} "
                f"{achieved / bandwidth:>6.0%} {nflops / seconds / 1e9:>8.2f} "
                f"{nflops / seconds / flops:>8.1%}"
            )


if __name__ == "__main__":
    main()
