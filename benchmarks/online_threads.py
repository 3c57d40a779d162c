"""Microseconds per online e-prop step (the compiled chunk, float32, SGD every step) against the
number of numba threads, OpenMP's wait policy, and load from busy processes on the same cores.

    python benchmarks/online_threads.py --sizes 256,512,1024 --threads 1,2 --load 0,2

What it answers: from which size splitting the synaptic sweep over threads pays
(``traces.PARALLEL_MIN_SYNAPSES``), and what spin-waiting OpenMP threads cost when more threads
want to run than there are cores (why ``OMP_WAIT_POLICY`` defaults to PASSIVE in
``locallearn/__init__.py``). Each figure is the best of three chunks in a fresh process; a size
is only split over threads when it is at or above the threshold, so ``--force-split`` measures a
split below it.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time


def _busy(stop) -> None:
    while not stop.is_set():
        pass


def _one(n_rec: int, threads: int, steps: int, force_split: bool) -> float:
    import numba
    import numpy as np

    import locallearn as ll
    from locallearn import traces

    if force_split:
        traces.PARALLEL_MIN_SYNAPSES = 0
    numba.set_num_threads(threads)
    net = ll.Network(ll.NetworkConfig(n_in=100, n_rec=n_rec, n_out=3, dtype="float32", seed=0))
    rng = np.random.default_rng(1)
    inputs = (rng.random((steps, 100)) < 0.02).astype(np.float32)
    targets = rng.standard_normal((steps, 3)).astype(np.float32)
    mask = np.ones(steps, np.float32)
    learner = ll.OnlineLearner(net, ll.rules.make("eprop"), ll.SGD(lr=1e-4), update="step")
    learner.run_sequence(inputs, targets, mask)  # compilation
    times = []
    for _ in range(3):
        start = time.perf_counter()
        learner.run_sequence(inputs, targets, mask)
        times.append(time.perf_counter() - start)
    return min(times) / steps * 1e6


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512,1024")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--load", default="0", help="busy processes running alongside, per setting")
    parser.add_argument(
        "--policies",
        default="unset,PASSIVE",
        help="OMP_WAIT_POLICY values; 'unset' is GNU OpenMP's own default (an empty value, which "
        "locallearn leaves alone and GOMP ignores), what ran before locallearn chose PASSIVE",
    )
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--force-split", action="store_true")
    parser.add_argument("--one", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_one(args.one[0], args.one[1], args.steps, args.force_split)))
        return
    print("load  policy    n_rec  threads  us/step")
    for load in (int(v) for v in args.load.split(",")):
        stop = multiprocessing.Event()
        busy = [multiprocessing.Process(target=_busy, args=(stop,)) for _ in range(load)]
        for process in busy:
            process.start()
        try:
            for policy in args.policies.split(","):
                env = dict(os.environ)
                env["OMP_WAIT_POLICY"] = "" if policy == "unset" else policy
                for n_rec in (int(v) for v in args.sizes.split(",")):
                    for threads in (int(v) for v in args.threads.split(",")):
                        command = [sys.executable, __file__, "--one", str(n_rec), str(threads)]
                        command += ["--steps", str(args.steps)] + (
                            ["--force-split"] if args.force_split else []
                        )
                        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
                        value = json.loads(out.stdout.strip().splitlines()[-1])
                        print(f"{load:>4}  {policy:<8} {n_rec:>6}  {threads:>7}  {value:>7.0f}", flush=True)
        finally:
            stop.set()
            for process in busy:
                process.join()


if __name__ == "__main__":
    main()
