"""Scaling of online e-prop: speed and memory against network size and stream length.

1. Size: steps/s and peak memory of an online e-prop stream (per-step SGD, random feedback,
   n_in = 100 Poisson inputs at 40 Hz, float32) for n_rec in --sizes, all-LIF and all-ALIF.
2. Length: peak memory of the same online stream (n_rec = --length-n-rec) for T in --lengths steps,
   next to the exact BPTT reference on the same T (which must store the whole trajectory). The
   online stream draws its input step by step, as a real stream would, so nothing of size T exists.

Every measurement runs in its own fresh process; "peak MB" is that process's maximum resident set
size (ru_maxrss) and "growth MB" what it rose by after the warm-up (imports, compilation, first
steps), i.e. the memory the run itself needed.

    python benchmarks/scaling.py [--sizes 64 256 1024 2048] [--lengths 1000 10000 100000]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def child_online(n_rec: int, alif: bool, steps: int, n_in: int = 100) -> dict:
    import locallearn as ll

    net = ll.Network(
        ll.NetworkConfig(n_in=n_in, n_rec=n_rec, n_out=2, n_adaptive=n_rec if alif else 0, seed=0)
    )
    rule = ll.rules.make("eprop", feedback="random")
    rule.bind(net)
    rule.accumulate_into_weights(1e-5)  # per-step SGD inside the trace sweep (the runner's way)
    rng = np.random.default_rng(0)
    target = np.zeros(2, np.float32)
    x = np.zeros(n_in, np.float32)

    def run(n):
        for _ in range(n):
            np.less(rng.random(n_in, dtype=np.float32), 0.04, out=x, casting="unsafe")
            y = net.step(x)
            rule.step(net, y - target)

    run(200)  # warm-up: compilation, first touches
    base = _peak_mb()
    start = time.perf_counter()
    run(steps)
    elapsed = time.perf_counter() - start
    return {"steps_per_s": steps / elapsed, "peak_mb": _peak_mb(), "growth_mb": _peak_mb() - base}


def child_bptt(n_rec: int, steps: int, n_in: int = 100) -> dict:
    import locallearn as ll

    net = ll.Network(ll.NetworkConfig(n_in=n_in, n_rec=n_rec, n_out=2, seed=0))
    rng = np.random.default_rng(0)
    warm = (rng.random((50, n_in)) < 0.04).astype(np.float32)
    ll.reference.bptt_gradients(net, warm, np.zeros((50, 2)))
    base = _peak_mb()
    inputs = (rng.random((steps, n_in)) < 0.04).astype(np.float32)
    start = time.perf_counter()
    ll.reference.bptt_gradients(net, inputs, np.zeros((steps, 2)))
    elapsed = time.perf_counter() - start
    return {"steps_per_s": steps / elapsed, "peak_mb": _peak_mb(), "growth_mb": _peak_mb() - base}


def spawn(kind: str, **kwargs) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps([kind, kwargs])],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[64, 256, 1024, 2048])
    parser.add_argument("--size-steps", type=int, default=2000)
    parser.add_argument("--lengths", nargs="+", type=int, default=[1000, 10000, 100000])
    parser.add_argument("--length-n-rec", type=int, default=100)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, kwargs = json.loads(args.child)
        result = {"online": child_online, "bptt": child_bptt}[kind](**kwargs)
        print(json.dumps(result))
        return
    print(f"online e-prop, n_in = 100, float32, {args.size_steps} steps per cell")
    print(f"{'n_rec':>6} {'neurons':>7} {'steps/s':>9} {'peak MB':>8} {'growth MB':>10} {'synapses':>10}")
    for n_rec in args.sizes:
        for alif in (False, True):
            r = spawn("online", n_rec=n_rec, alif=alif, steps=args.size_steps)
            print(
                f"{n_rec:>6} {'ALIF' if alif else 'LIF':>7} {r['steps_per_s']:>9.0f} "
                f"{r['peak_mb']:>8.0f} {r['growth_mb']:>10.1f} {n_rec * (100 + n_rec):>10,}"
            )
    n = args.length_n_rec
    print(f"\npeak memory against stream length, n_rec = {n} (LIF), n_in = 100")
    print(f"{'T':>8} {'online peak MB':>15} {'growth MB':>10} {'BPTT peak MB':>13} {'growth MB':>10}")
    online_peaks = []
    for steps in args.lengths:
        online = spawn("online", n_rec=n, alif=False, steps=steps)
        bptt = spawn("bptt", n_rec=n, steps=steps)
        online_peaks.append(online["peak_mb"])
        print(
            f"{steps:>8} {online['peak_mb']:>15.1f} {online['growth_mb']:>10.1f} "
            f"{bptt['peak_mb']:>13.1f} {bptt['growth_mb']:>10.1f}"
        )
    spread = (max(online_peaks) - min(online_peaks)) / min(online_peaks)
    print(
        f"online peak varies by {spread:.1%} from T = {args.lengths[0]} to {args.lengths[-1]} "
        f"(aim: within 10 %)"
    )


if __name__ == "__main__":
    main()
