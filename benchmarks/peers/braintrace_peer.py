"""BrainTrace (JAX; ``braintrace`` 0.2.6 with brainstate 0.5) as a peer: our network of DESIGN §3
written as a brainstate module whose input and recurrent weights go through BrainTrace's
eligibility-tracked ``matmul``, learned online by its ``EProp`` (or ``D_RTRL``, or ``ES_D_RTRL``).

The module is our network, step for step: LIF and ALIF neurons, reset by subtraction of
``v_th z^{t-1}``, refractoriness, the zero-diagonal recurrent matrix, the leaky readout, and our
pseudo-derivative as the spike's surrogate. Two choices make its e-prop the same rule as ours:
the reset and the refractory mask carry no gradient (Bellec et al. drop both), and the previous
step's spikes are recomputed from the hidden state (v, a), so that BrainTrace's per-neuron
Jacobian holds the adaptation's dependence on the spike (our eps_a). The readout state is
not a hidden state of BrainTrace's graph (its leak is in BrainTrace's kappa filter).

Where the definitions differ: BrainTrace's e-prop filters the *presynaptic part* of the trace
and multiplies by the pseudo-derivative of the step the loss is read at (its learning signal
dL/dv^t holds psi^t), sum_t L^t psi^t F_kappa(eps)^t; ours filters the whole eligibility
psi eps, sum_t L^t F_kappa(psi eps)^t (Bellec et al., eq. for the leaky readout). With a readout
without memory (kappa = 0) both are sum_t L^t psi^t eps^t, and ``tests/test_peers_braintrace.py``
shows them equal there; with kappa > 0 they are different estimates.

    peer = BrainTracePeer.from_locallearn(net, algorithm="eprop")   # copies the weights
    z = peer.spikes(inputs)                                         # (T, n) forward pass
    grads = peer.gradients(inputs, targets, mask)                   # MSE, summed over steps
    stream = peer.online_stream(lr)                                 # jitted per-step SGD scan
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _modules():
    import brainstate
    import braintrace
    import jax
    import jax.numpy as jnp

    return brainstate, braintrace, jax, jnp


def _spike_function(gamma: float, v_th: float):
    """z = H(d) (H(0) = 0) forward; dz/dd = (gamma / v_th) max(0, 1 - |d| / v_th) backward."""
    _, _, jax, jnp = _modules()

    @jax.custom_jvp
    def spike(distance):
        return (distance > 0).astype(distance.dtype)

    @spike.defjvp
    def _(primals, tangents):
        (distance,), (tangent,) = primals, tangents
        psi = gamma / v_th * jnp.maximum(0.0, 1.0 - jnp.abs(distance) / v_th)
        return spike(distance), psi * tangent

    return spike


def build_module(w_in, w_rec, w_out, b_out, *, alpha, rho, kappa, v_th, gamma, n_ref, beta):
    """The brainstate module of our network with these weights (numpy arrays in our layout:
    ``w_in (n, n_in)``, ``w_rec (n, n)``, ``w_out (n_out, n)``)."""
    brainstate, braintrace, jax, jnp = _modules()
    spike = _spike_function(gamma, v_th)
    n = w_rec.shape[0]
    dtype = jnp.asarray(w_in).dtype
    adaptive = bool(np.any(np.asarray(beta) != 0))
    beta = jnp.asarray(beta, dtype)

    class Network(brainstate.nn.Module):
        def __init__(self):
            super().__init__()
            # BrainTrace's matmul is x @ W: our matrices transposed
            self.w_in = brainstate.ParamState({"weight": jnp.asarray(w_in.T)})
            self.w_rec = brainstate.ParamState({"weight": jnp.asarray(w_rec.T)})
            self.w_out = brainstate.ParamState({"weight": jnp.asarray(w_out.T), "bias": jnp.asarray(b_out)})

        def init_state(self, batch_size=None, **kwargs):
            zeros = jnp.zeros(n, dtype)
            self.v = brainstate.HiddenState(zeros)
            # an adaptation state only where a neuron adapts: a LIF layer is one state per neuron
            self.a = brainstate.HiddenState(zeros) if adaptive else brainstate.ShortTermState(zeros)
            self.free = brainstate.ShortTermState(jnp.ones(n, dtype))  # not refractory at t-1
            self.since = brainstate.ShortTermState(jnp.full(n, 1e9, dtype))  # steps since a spike
            self.y = brainstate.ShortTermState(jnp.zeros(w_out.shape[0], dtype))

        def reset_state(self, batch_size=None, **kwargs):
            self.init_state()

        def update(self, x):
            v_prev, a_prev = self.v.value, self.a.value
            # z^{t-1} recomputed from (v, a)^{t-1}: the spike's dependence on the adaptation stays
            # in BrainTrace's per-neuron Jacobian (our eps_a); the refractory mask carries none
            z_prev = spike(v_prev - (v_th + beta * a_prev)) * jax.lax.stop_gradient(self.free.value)
            a = rho * a_prev + z_prev
            current = braintrace.matmul(x, self.w_in.value["weight"])
            # the diagonal is kept zero by projecting each update (a weight_fn mask here makes
            # BrainTrace's traced matmul three times slower)
            recurrent = braintrace.matmul(jax.lax.stop_gradient(z_prev), self.w_rec.value["weight"])
            v = alpha * v_prev + current + recurrent - v_th * jax.lax.stop_gradient(z_prev)
            distance = v - (v_th + beta * a)
            free = (self.since.value >= n_ref).astype(dtype)
            z = spike(distance) * jax.lax.stop_gradient(free)
            fired = (jax.lax.stop_gradient(distance) > 0) & (free > 0)
            self.since.value = jnp.where(fired, 0.0, self.since.value + 1)
            self.v.value, self.a.value, self.free.value = v, a, free
            w = self.w_out.value
            y = kappa * jax.lax.stop_gradient(self.y.value) + z @ w["weight"] + w["bias"]
            self.y.value = y
            return y, z

    return Network()


class BrainTracePeer:
    """Our network in BrainTrace, with one of its online algorithms attached."""

    ALGORITHMS = {"eprop": "EProp", "d_rtrl": "D_RTRL", "es_d_rtrl": "ES_D_RTRL"}

    def __init__(
        self,
        module,
        n_in: int,
        algorithm: str = "eprop",
        kappa: float = 0.0,
        alpha: float = 0.9,
        dtype=np.float32,
    ):
        brainstate, braintrace, jax, jnp = _modules()
        if algorithm not in self.ALGORITHMS:
            raise ValueError(
                f"BrainTracePeer: algorithm must be one of {sorted(self.ALGORITHMS)}, got {algorithm!r}"
            )
        self.module, self.algorithm, self.dtype = module, algorithm, dtype
        # brainstate owns JAX's x64 switch (it resets it to its own precision setting)
        brainstate.environ.set(precision=64 if np.dtype(dtype) == np.float64 else 32)
        # e-prop's filter is the readout's kappa; ES-D-RTRL's low-rank decay the membrane's alpha
        # (its input trace then filters as our presynaptic trace does)
        options = {"eprop": {"kappa_filter_decay": kappa}, "es_d_rtrl": {"decay_or_rank": alpha}}
        options = options.get(algorithm, {})
        self.learner = braintrace.compile(
            module, getattr(braintrace, self.ALGORITHMS[algorithm]), jnp.zeros(n_in, dtype), **options
        )

    @classmethod
    def from_locallearn(cls, net, algorithm: str = "eprop", dtype=np.float64) -> BrainTracePeer:
        """The same network as ``net`` (a single recurrent layer, Heaviside spikes)."""
        import brainstate

        brainstate.environ.set(precision=64 if np.dtype(dtype) == np.float64 else 32)
        c = net.config
        if len(net.layers) != 1 or not c.recurrent or c.spike_fn != "heaviside":
            raise NotImplementedError("the BrainTrace peer builds one recurrent layer with Heaviside spikes")
        beta = np.zeros(net.n_rec)
        if c.n_adaptive:
            beta[net.n_rec - c.n_adaptive :] = c.beta
        kappa = math.exp(-c.dt / c.tau_out)
        module = build_module(
            *(np.asarray(a, dtype) for a in (net.w_in, net.w_rec, net.w_out, net.b_out)),
            alpha=math.exp(-c.dt / c.tau_mem),
            rho=math.exp(-c.dt / c.tau_adapt),
            kappa=kappa,
            v_th=float(c.v_th),
            gamma=float(c.gamma),
            n_ref=int(c.n_ref),
            beta=beta.astype(dtype),
        )
        return cls(module, net.n_in, algorithm, kappa=kappa, alpha=math.exp(-c.dt / c.tau_mem), dtype=dtype)

    def reset(self) -> None:
        import brainstate

        brainstate.nn.init_all_states(self.module)

    def spikes(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The readout and the spikes over ``inputs`` (T, n_in), from the zero state."""
        brainstate, _, _, jnp = _modules()
        self.reset()
        ys, zs = brainstate.transform.for_loop(self.module, jnp.asarray(inputs, self.dtype))
        return np.asarray(ys), np.asarray(zs)

    def gradients(self, inputs: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> dict:
        """The algorithm's online gradient of E = 1/2 sum_t m^t |y^t - y*^t|^2 (our MSE) for the
        input and recurrent weights, in our layout."""
        _, _, _, jnp = _modules()
        self.reset()
        learner = self.learner

        def step_loss(x, target):
            y, _ = learner(x)
            return 0.5 * jnp.sum((y - target) ** 2)

        grads = learner.etrace_grad(
            jnp.asarray(inputs, self.dtype),
            jnp.asarray(targets, self.dtype),
            step_fn=step_loss,
            mask=jnp.asarray(mask, self.dtype),
            reduction="sum",
            weights={"w_in": self.module.w_in, "w_rec": self.module.w_rec},
        )
        result = {name: np.array(grads[name]["weight"]).T for name in ("w_in", "w_rec")}
        np.fill_diagonal(result["w_rec"], 0)  # the projection that keeps the diagonal zero
        return result

    def online_stream(self, lr: float):
        """A jitted function ``(inputs (T, n_in), targets (T, n_out)) -> final loss`` that runs
        the stream from the current state with an SGD step on every parameter after every
        time step (the algorithm's online gradient for the traced weights, the immediate
        gradient for the readout), inside one ``for_loop`` (a JAX scan)."""
        brainstate, _, jax, jnp = _modules()
        learner = self.learner
        weights = {"w_in": self.module.w_in, "w_rec": self.module.w_rec, "w_out": self.module.w_out}
        n = self.module.w_rec.value["weight"].shape[0]
        off_diagonal = jnp.asarray(1 - np.eye(n), self.dtype)

        def step(x, target):
            def loss():
                y, _ = learner(x)
                return 0.5 * jnp.sum((y - target) ** 2)

            grads, value = brainstate.transform.grad(loss, weights, return_value=True)()
            for name, state in weights.items():
                state.value = jax.tree.map(lambda w, g: w - lr * g, state.value, grads[name])
            w_rec = weights["w_rec"].value
            weights["w_rec"].value = {"weight": w_rec["weight"] * off_diagonal}
            return value

        @brainstate.transform.jit
        def run(inputs, targets):
            return brainstate.transform.for_loop(step, inputs, targets)[-1]

        return run


# ---------------------------------------------------------------------------------- benchmark
# python benchmarks/peers/braintrace_peer.py [--sizes 100,256,1024] [--repeats 5] [--threads 2]
#     [--steps 1000,1000,200] [--chunks 2] [--out results/perf/braintrace.json]
#
# Online e-prop streams with an SGD step after every time step, float32, 100 Poisson inputs
# (20 Hz), MSE to 3 random targets: ours (OnlineLearner update="step", symmetric feedback: the
# compiled online chunk, one numba call per chunk; "locallearn-stepwise" is the same learning,
# bit for bit, by the per-step Python loop) against BrainTrace's EProp, D_RTRL and ES_D_RTRL on the
# same network (the
# same weights and input spikes), all-LIF and all-ALIF layers. Interleaved: for each repeat, every
# size, neuron type and system in turn, each in its own process (its peak memory its own), the
# first chunk (numba / XLA compilation) timed apart and excluded, steps/s the median of the
# timed chunks. Threads equal and stated: numba, BLAS and XLA see the same cores (--threads 1
# pins each process to one core).

SYSTEMS = (
    "locallearn",
    "locallearn-stepwise",
    "braintrace-eprop",
    "braintrace-d_rtrl",
    "braintrace-es_d_rtrl",
)
N_IN, N_OUT, RATE, LR = 100, 3, 0.02, 1e-4


def _problem(n_rec: int, alif: bool, steps: int, seed: int = 0):
    import locallearn as ll

    config = dict(n_in=N_IN, n_rec=n_rec, n_out=N_OUT, n_adaptive=n_rec if alif else 0, dtype="float32")
    net = ll.Network(ll.NetworkConfig(**config, seed=seed))
    rng = np.random.default_rng(seed + 1)
    inputs = (rng.random((steps, N_IN)) < RATE).astype(np.float32)
    targets = rng.standard_normal((steps, N_OUT)).astype(np.float32)
    return net, inputs, targets


def measure(system: str, n_rec: int, alif: bool, steps: int, chunks: int) -> dict:
    """Steps per second of one system's online stream, in this process."""
    import resource

    net, inputs, targets = _problem(n_rec, alif, steps)
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if system.startswith("locallearn"):
        import locallearn as ll
        from locallearn.optim import SGD
        from locallearn.runner import OnlineLearner

        rule = ll.rules.make("eprop", feedback="symmetric")
        stepwise = system == "locallearn-stepwise"
        learner = OnlineLearner(net, rule, SGD(lr=LR), update="step", stepwise=stepwise)
        mask = np.ones(steps, np.float32)

        def chunk():
            learner.run_sequence(inputs, targets, mask)
    else:
        peer = BrainTracePeer.from_locallearn(net, algorithm=system.split("-", 1)[1], dtype=np.float32)
        peer.reset()
        stream = peer.online_stream(LR)

        def chunk():
            stream(inputs, targets).block_until_ready()

    seconds = []
    for _ in range(chunks + 1):
        start = time.perf_counter()
        chunk()
        seconds.append(time.perf_counter() - start)
    return {
        "system": system,
        "n_rec": n_rec,
        "neurons": "ALIF" if alif else "LIF",
        "first_chunk_s": seconds[0],
        "steps_per_s": steps / statistics.median(seconds[1:]),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "baseline_mb": baseline,
    }


def _environment(threads: int) -> dict:
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
    env = {**os.environ, **{name: str(threads) for name in names}}
    if threads == 1:  # XLA sizes its pool by the cores it may use
        env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    return env


def benchmark(args) -> dict:
    rows = []
    pin = ["taskset", "-c", "0"] if args.threads == 1 else []
    for repeat in range(args.repeats):
        for n_rec in args.sizes:
            for alif in (False, True):
                for system in args.systems:
                    command = [*pin, sys.executable, __file__, "--one", system, str(n_rec), str(int(alif))]
                    command += ["--steps", str(args.steps[n_rec]), "--chunks", str(args.chunks)]
                    out = subprocess.run(
                        command, capture_output=True, text=True, env=_environment(args.threads), check=True
                    )
                    row = json.loads(out.stdout.strip().splitlines()[-1]) | {"repeat": repeat}
                    rows.append(row)
                    print(
                        f"repeat {repeat}: {row['neurons']:<4} n_rec={n_rec:<5} {system:<21} "
                        f"{row['steps_per_s']:>9,.0f} steps/s, peak {row['peak_mb']:.0f} MB "
                        f"(first chunk {row['first_chunk_s']:.1f} s)",
                        flush=True,
                    )
    return {"rows": rows}


def benchmark_table(result: dict) -> dict:
    """The README's table of a benchmark result (``locallearn report`` renders it)."""
    from locallearn import stats

    rows, rng = [], np.random.default_rng(0)
    raw = result["rows"]
    peers = [s for s in result["systems"] if s != "locallearn"]
    for neurons in ("LIF", "ALIF"):
        for n_rec in result["sizes"]:

            def cell(system, key, neurons=neurons, n_rec=n_rec):
                return [
                    r[key]
                    for r in raw
                    if r["system"] == system and r["neurons"] == neurons and r["n_rec"] == n_rec
                ]

            ours = cell("locallearn", "steps_per_s")
            memory = statistics.median(cell("locallearn", "peak_mb"))
            line = [neurons, f"{n_rec:,}", f"{statistics.median(ours):,.0f}; {memory:.0f} MB"]
            for peer in peers:
                theirs = cell(peer, "steps_per_s")
                low, high = stats.median_ratio_interval(ours, theirs, rng)
                ratio = statistics.median(ours) / statistics.median(theirs)
                memory = statistics.median(cell(peer, "peak_mb"))
                speed = f"{statistics.median(theirs):,.0f} ({ratio:.2f}× [{low:.2f}, {high:.2f}])"
                line.append(f"{speed}; {memory:.0f} MB")
            rows.append(line)
    repeats = 1 + max(r["repeat"] for r in raw)
    chunks = "/".join(str(v) for v in result["steps"].values())
    return {
        "title": f"Online e-prop streams, SGD after every step, float32, {N_IN} Poisson inputs: steps/s here "
        f"against BrainTrace {result['braintrace']} (JAX {result['jax']}; one jitted scan per "
        f"chunk of {chunks} steps) on the same network, {result['threads']} thread(s) each, "
        f"medians of {repeats} interleaved repeats, one process per measurement, compilation excluded; "
        "in brackets our speed-up with its bootstrap 95 % interval; then the process's peak resident memory. "
        "Ours is the compiled online chunk; locallearn-stepwise is the same learning (bit for bit) by our "
        "per-step Python loop",
        "columns": [
            "neurons",
            "n_rec",
            "ours, steps/s; peak",
            *[f"{p}, steps/s (ours ×); peak" for p in peers],
        ],
        "rows": rows,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="online e-prop streams: ours against BrainTrace")
    parser.add_argument("--one", nargs=3, metavar=("SYSTEM", "N_REC", "ALIF"), help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100,256,1024")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--steps", default="1000,1000,200", help="steps per chunk, one per size (or one for all)"
    )
    parser.add_argument("--chunks", type=int, default=2, help="timed chunks per measurement")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.one:
        system, n_rec, alif = args.one
        print(json.dumps(measure(system, int(n_rec), alif == "1", int(args.steps), args.chunks)))
        return
    args.sizes = [int(s) for s in args.sizes.split(",")]
    steps = [int(s) for s in args.steps.split(",")]
    if len(steps) == 1:
        steps *= len(args.sizes)
    if len(steps) != len(args.sizes):
        parser.error(f"--steps gives {len(steps)} chunk lengths for {len(args.sizes)} sizes")
    args.steps = dict(zip(args.sizes, steps))
    args.systems = args.systems.split(",")
    unknown = sorted(set(args.systems) - set(SYSTEMS))
    if unknown or "locallearn" not in args.systems:
        parser.error(
            f"--systems takes locallearn and any of {', '.join(SYSTEMS[1:])}; got {unknown or args.systems}"
        )
    import braintrace
    import jax

    result = benchmark(args) | {
        "command": "python benchmarks/peers/braintrace_peer.py "
        + " ".join(
            f"--{k} {v}"
            for k, v in (
                ("sizes", ",".join(map(str, args.sizes))),
                ("repeats", args.repeats),
                ("threads", args.threads),
                ("steps", ",".join(str(args.steps[n]) for n in args.sizes)),
                ("chunks", args.chunks),
            )
        ),
        "braintrace": braintrace.__version__,
        "jax": jax.__version__,
        "sizes": args.sizes,
        "systems": args.systems,
        "steps": {str(n): v for n, v in args.steps.items()},
        "threads": args.threads,
    }
    result["table"] = benchmark_table(result)
    from locallearn import report

    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        print(report.benchmark_table(args.out))


if __name__ == "__main__":
    main()
