"""Brian2 as a peer: our network of DESIGN §3 written in Brian2 (2.9.0, cpp_standalone; runtime
mode as a fallback, labelled), and the e-prop trace workload on it — every synapse's eligibility
filtered and its weight moved at every step by a constant learning signal — against our online
e-prop stream on the same network.

Brian2 2.9.0 needs numpy < 2.4, so it lives in an environment of its own; this file is both the
harness (run with our interpreter) and the Brian2 side (run with Brian2's, named by ``--brian2``
or ``LOCALLEARN_BRIAN2_PYTHON``). The two exchange the network as an ``.npz`` file: weights,
neuron constants and input spikes drawn on our side.

The model is our discrete-time map, written as Brian2 code run once per step (``run_regularly``):

* at the start of step t every neuron reads I = W_in x^t + W_rec z^{t-1} (accumulated by the
  synapses' ``on_pre`` during step t-1), and updates a <- rho a + z^{t-1},
  v <- alpha v + I - v_th z^{t-1}, z^t = H(v - v_th - beta a) outside the refractory period,
  psi^t (our pseudo-derivative), the refractory counter and the presynaptic trace
  zbar <- alpha zbar + z^{t-1};
* the input layer is a group whose spikes at step t are x^{t+1} (one step ahead, so that they
  reach the neurons at step t+1, as ours do); it keeps x^t and its trace xbar <- alpha xbar + x^t;
* at the end of the step every synapse (i -> j) updates its eligibility: for LIF e = psi_j pbar_i;
  for ALIF e = psi_j (pbar_i - beta eps_a) and eps_a <- psi_j pbar_i + (rho - psi_j beta) eps_a;
  ebar <- kappa ebar + e and w <- w - lr L_j ebar (L constant).

Ours does at least that work per step (and a readout, its error and the learning signal besides):
the compiled online chunk with per-step SGD, as in the BrainTrace comparison.
``tests/test_peers_brian2.py`` shows the Brian2 network spikes as ours (float64, runtime mode).

    python benchmarks/peers/brian2_peer.py --brian2 /path/to/brian2-env/bin/python
        [--sizes 100,256,1024] [--steps 2000,2000,500] [--repeats 5] [--threads 1]
        [--out results/perf/brian2.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_IN, N_OUT, RATE, LR = 100, 3, 0.02, 1e-4
SIGNAL = 0.1  # the constant learning signal of the Brian2 workload


# ----------------------------------------------------------------------------- our side
def write_problem(path, net, inputs, lr: float = 0.0, signal: float = 0.0) -> None:
    """The network (one recurrent layer) and input spikes ``inputs`` (T, n_in) for Brian2."""
    layer = net.layers[0]
    params = layer.params
    np.savez(
        path,
        w_in=np.asarray(layer.w_in, np.float64),
        w_rec=np.asarray(layer.w_rec, np.float64),
        beta=np.asarray(params.beta, np.float64),
        inputs=np.asarray(inputs, np.float64),
        constants=np.array(
            [params.alpha, params.rho, params.v_th, params.gamma, params.n_ref, net.kappa, lr, signal],
            np.float64,
        ),
    )


def brian2_python(given: str | None = None) -> str | None:
    """The interpreter with Brian2 installed (``--brian2``, else ``LOCALLEARN_BRIAN2_PYTHON``)."""
    return given or os.environ.get("LOCALLEARN_BRIAN2_PYTHON")


def run_brian2(
    python: str, problem: Path, mode: str, dtype: str, out: Path, threads: int = 1, prefix: tuple = ()
) -> dict:
    """Run the Brian2 side in its own interpreter (after ``prefix``: a CPU pin); its JSON line
    (and ``out``.npz: spikes and membrane potentials, unless a timing run)."""
    command = [*prefix, python, __file__, "--side", str(problem), mode, dtype, str(out)]
    env = {**os.environ, **_thread_variables(threads)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"the Brian2 side failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _thread_variables(threads: int) -> dict:
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    return {name: str(threads) for name in names}


# ----------------------------------------------------------------------------- Brian2's side
def brian2_side(problem: str, mode: str, dtype: str, out: str) -> dict:
    """Build and run the network of ``problem`` in Brian2 (``mode`` "cpp_standalone" or
    "runtime"), record spikes and membrane potentials unless the learning rate is non-zero
    (a timing run), and return the wall time of the simulation alone."""
    import brian2 as b2

    data = np.load(problem)
    w_in, w_rec, beta, inputs = data["w_in"], data["w_rec"], data["beta"], data["inputs"]
    alpha, rho, v_th, gamma, n_ref, kappa, lr, signal = data["constants"]
    n_rec, n_in = w_in.shape
    steps = inputs.shape[0]
    timing = lr != 0
    workdir = tempfile.mkdtemp(prefix="brian2-peer-")
    if mode == "cpp_standalone":
        b2.set_device("cpp_standalone", directory=workdir, build_on_run=False)
        threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
        b2.prefs.devices.cpp_standalone.openmp_threads = threads if threads > 1 else 0
    else:
        b2.prefs.codegen.target = "numpy"
    b2.prefs.core.default_float_dtype = {"float32": np.float32, "float64": np.float64}[dtype]
    b2.defaultclock.dt = 1 * b2.ms
    ahead = np.zeros_like(inputs)
    ahead[:-1] = inputs[1:]  # the input group fires x^{t+1} at step t (see the docstring)
    spikes_ahead = b2.TimedArray(ahead, dt=b2.defaultclock.dt)
    constants = dict(
        alpha=alpha, rho=rho, v_th=v_th, gamma=gamma, n_ref=n_ref, kappa=kappa, lr=lr, signal=signal
    )
    source = b2.NeuronGroup(
        n_in,
        "x : 1\nx_next : 1\nxbar : 1",
        threshold="x_next > 0.5",
        reset="",
        namespace={**constants, "spikes_ahead": spikes_ahead},
    )
    source.run_regularly("x = x_next\nx_next = spikes_ahead(t, i)\nxbar = alpha * xbar + x", when="start")
    neurons = b2.NeuronGroup(
        n_rec,
        """
        v : 1
        a : 1
        z : 1
        I : 1
        psi : 1
        refractory_left : 1
        zbar : 1
        beta : 1 (constant)
        L : 1
        """,
        threshold="z > 0.5",
        reset="",
        namespace=constants,
    )
    neurons.beta = beta
    neurons.L = signal
    neurons.run_regularly(
        """
        z_prev = z
        zbar = alpha * zbar + z_prev
        a = rho * a + z_prev
        v = alpha * v + I - v_th * z_prev
        I = 0
        distance = v - (v_th + beta * a)
        free = int(refractory_left <= 0)
        z = int(distance > 0) * free
        psi = free * (gamma / v_th) * clip(1 - abs(distance) / v_th, 0, inf)
        refractory_left = z * n_ref + (1 - z) * clip(refractory_left - 1, 0, inf)
        """,
        when="start",
    )
    trace = """
        w : 1
        ebar : 1
        eps_a : 1
        """
    if np.any(beta != 0):  # ALIF: the adaptation's eligibility eps_a per synapse
        eligibility = """
        e = psi_post * ({pre} - beta_post * eps_a)
        eps_a = psi_post * {pre} + (rho - psi_post * beta_post) * eps_a
        ebar = kappa * ebar + e
        w = w - lr * L_post * ebar
        """
    else:
        eligibility = """
        ebar = kappa * ebar + psi_post * {pre}
        w = w - lr * L_post * ebar
        """
    feed = b2.Synapses(source, neurons, trace, on_pre="I_post += w", namespace=constants)
    rows, cols = np.nonzero(np.ones_like(w_in))  # dense: post j, pre i
    feed.connect(i=cols, j=rows)
    feed.w = w_in[rows, cols]
    recurrent = b2.Synapses(neurons, neurons, trace, on_pre="I_post += w", namespace=constants)
    rows, cols = np.nonzero(~np.eye(n_rec, dtype=bool))  # no self-connections
    recurrent.connect(i=cols, j=rows)
    recurrent.w = w_rec[rows, cols]
    if timing:
        feed.run_regularly(eligibility.format(pre="xbar_pre"), when="end")
        recurrent.run_regularly(eligibility.format(pre="zbar_pre"), when="end")
        monitors = []
    else:
        monitors = [b2.StateMonitor(neurons, ["z", "v"], record=True, when="end")]
    network = b2.Network(source, neurons, feed, recurrent, *monitors)
    start = time.perf_counter()
    network.run(steps * b2.defaultclock.dt)
    if mode == "cpp_standalone":
        b2.device.build(directory=workdir, compile=True, run=True)
        seconds = float(b2.device._last_run_time)
    else:
        seconds = time.perf_counter() - start
    if not timing:
        monitor = monitors[0]
        np.savez(out, z=np.asarray(monitor.z).T, v=np.asarray(monitor.v).T)
    return {"mode": mode, "brian2": b2.__version__, "steps": steps, "seconds": seconds}


# ----------------------------------------------------------------------------- timing
def _problem(n_rec: int, alif: bool, steps: int, seed: int = 0):
    import locallearn as ll

    config = dict(n_in=N_IN, n_rec=n_rec, n_out=N_OUT, n_adaptive=n_rec if alif else 0, dtype="float32")
    net = ll.Network(ll.NetworkConfig(**config, seed=seed))
    rng = np.random.default_rng(seed + 1)
    inputs = (rng.random((steps, N_IN)) < RATE).astype(np.float32)
    targets = rng.standard_normal((steps, N_OUT)).astype(np.float32)
    return net, inputs, targets


def ours(n_rec: int, alif: bool, steps: int, chunks: int = 2) -> float:
    """Steps/s of our compiled online chunk (per-step SGD, symmetric feedback), in this process."""
    import locallearn as ll
    from locallearn.optim import SGD
    from locallearn.runner import OnlineLearner

    net, inputs, targets = _problem(n_rec, alif, steps)
    learner = OnlineLearner(net, ll.rules.make("eprop", feedback="symmetric"), SGD(lr=LR), update="step")
    mask = np.ones(steps, np.float32)
    seconds = []
    for _ in range(chunks + 1):
        start = time.perf_counter()
        learner.run_sequence(inputs, targets, mask)
        seconds.append(time.perf_counter() - start)
    return steps / statistics.median(seconds[1:])


def benchmark(args) -> dict:
    rows = []
    pin = ["taskset", "-c", "0"] if args.threads == 1 else []
    env = {**os.environ, **_thread_variables(args.threads)}
    with tempfile.TemporaryDirectory() as root:
        for repeat in range(args.repeats):
            for n_rec in args.sizes:
                for alif in (False, True):
                    steps = args.steps[n_rec]
                    problem = Path(root) / f"{n_rec}-{int(alif)}.npz"
                    net, inputs, _ = _problem(n_rec, alif, steps)
                    write_problem(problem, net, inputs, lr=LR, signal=SIGNAL)
                    command = [*pin, sys.executable, __file__, "--ours", str(n_rec), str(int(alif))]
                    command.append(str(steps))
                    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
                    ours_rate = json.loads(done.stdout.strip().splitlines()[-1])["steps_per_s"]
                    out = Path(root) / "out"
                    side = run_brian2(args.brian2, problem, args.mode, "float32", out, args.threads, pin)
                    rows.append(
                        {
                            "repeat": repeat,
                            "n_rec": n_rec,
                            "neurons": "ALIF" if alif else "LIF",
                            "locallearn": ours_rate,
                            "brian2": steps / side["seconds"],
                            "brian2_version": side["brian2"],
                        }
                    )
                    print(
                        f"repeat {repeat}: {rows[-1]['neurons']:<4} n_rec={n_rec:<5} ours {ours_rate:>9,.0f} "
                        f"steps/s, Brian2 {rows[-1]['brian2']:>9,.0f} steps/s",
                        flush=True,
                    )
    return {"rows": rows}


def benchmark_table(result: dict, args) -> dict:
    from locallearn import stats

    table, rng = [], np.random.default_rng(0)
    for neurons in ("LIF", "ALIF"):
        for n_rec in args.sizes:
            picked = [r for r in result["rows"] if r["neurons"] == neurons and r["n_rec"] == n_rec]
            ours_rates = [r["locallearn"] for r in picked]
            theirs = [r["brian2"] for r in picked]
            low, high = stats.median_ratio_interval(ours_rates, theirs, rng)
            ratio = statistics.median(ours_rates) / statistics.median(theirs)
            table.append(
                [
                    neurons,
                    f"{n_rec:,}",
                    f"{statistics.median(ours_rates):,.0f}",
                    f"{statistics.median(theirs):,.0f}",
                    f"{ratio:.2f}× [{low:.2f}, {high:.2f}]",
                ]
            )
    version = result["rows"][0]["brian2_version"]
    label = "cpp_standalone" if args.mode == "cpp_standalone" else "runtime (numpy), a fallback"
    return {
        "title": f"Online e-prop trace workload, float32, {N_IN} Poisson inputs, steps/s: ours (compiled "
        f"online chunk, per-step SGD with the readout and its error) against Brian2 {version} {label} (every "
        "synapse's eligibility and weight updated every step with a constant learning signal; its "
        "simulation time alone, compilation excluded), "
        f"{args.threads} thread(s) each, medians of {args.repeats} interleaved repeats; our speed-up with "
        "its bootstrap 95 % interval",
        "columns": ["neurons", "n_rec", "ours, steps/s", "Brian2, steps/s", "ours / Brian2"],
        "rows": table,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="online e-prop trace workload: ours against Brian2")
    side = ("PROBLEM", "MODE", "DTYPE", "OUT")
    parser.add_argument("--side", nargs=4, metavar=side, help=argparse.SUPPRESS)
    parser.add_argument("--ours", nargs=3, metavar=("N_REC", "ALIF", "STEPS"), help=argparse.SUPPRESS)
    parser.add_argument("--brian2", help="python of an environment with Brian2 (or LOCALLEARN_BRIAN2_PYTHON)")
    parser.add_argument("--mode", default="cpp_standalone", choices=["cpp_standalone", "runtime"])
    parser.add_argument("--sizes", default="100,256,1024")
    parser.add_argument("--steps", default="2000,2000,500", help="steps per measurement, one per size")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="results/perf/brian2.json")
    args = parser.parse_args(argv)
    if args.side:
        print(json.dumps(brian2_side(*args.side)))
        return
    if args.ours:
        n_rec, alif, steps = map(int, args.ours)
        print(json.dumps({"steps_per_s": ours(n_rec, bool(alif), steps)}))
        return
    args.brian2 = brian2_python(args.brian2)
    if not args.brian2:
        sys.exit("name Brian2's interpreter: --brian2 PATH or LOCALLEARN_BRIAN2_PYTHON")
    args.sizes = [int(s) for s in args.sizes.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    steps = steps * len(args.sizes) if len(steps) == 1 else steps
    if len(steps) != len(args.sizes):
        parser.error(f"--steps gives {len(steps)} lengths for {len(args.sizes)} sizes")
    args.steps = dict(zip(args.sizes, steps))
    result = benchmark(args)
    from locallearn import report

    table = benchmark_table(result, args)
    given = argv if argv is not None else sys.argv[1:]  # Brian2's interpreter is this machine's
    shown = [a for a in given if not a.startswith("--brian2") and "python" not in a]
    command = "python benchmarks/peers/brian2_peer.py " + " ".join(shown)
    report.write_benchmark(
        Path(args.out), table["title"], command, table["columns"], table["rows"], measurements=result["rows"]
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
