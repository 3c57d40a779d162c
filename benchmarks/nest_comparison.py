"""locallearn against NEST's e-prop models on evidence accumulation: wall time and loss curves.

The same network (40 inputs, 50 LIF + 50 ALIF, 2 readouts), the same initial weights, the same
random feedback matrix and the same input spike trains (drawn by ``locallearn.tasks.evidence``,
2,250-step trials) are run through

* NEST 3.10 (``pip install nest-simulator``, extra ``[peers]``): ``eprop_iaf_bsshslm_2020`` /
  ``eprop_iaf_adapt_bsshslm_2020`` / ``eprop_readout_bsshslm_2020`` wired as in NEST's own
  evidence-accumulation example, one update interval per trial, Adam with batch ``--batch``;
* locallearn: e-prop with that feedback matrix, per-trial gradient accumulation, Adam stepping
  once per batch.

It prints wall time per trial of each and their ratio, and the mean cross-entropy over the recall
window of every iteration (one batch) side by side.

How our conventions map onto NEST's (bsshslm_2020 models, read off their documentation):

* membrane: NEST v = alpha v + zeta (W_in x + W_rec z) - v_th z with zeta = 1 under regular spike
  arrival (the recurrent neurons here) — ours exactly (zeta = 1);
* adaptation: a = rho a + z^{t-1}, A = v_th + adapt_beta a — ours with beta = adapt_beta;
* pseudo-derivative: height gamma = 0.3, width 1 (piecewise linear) — ours;
* readout: NEST y = kappa y + (1 - kappa) W_out z (zeta = 1 - kappa without regular spike
  arrival) — ours y = kappa y + W_out z, so W_out(ours) = (1 - kappa) W_out(NEST), and the
  feedback matrix likewise B(ours) = (1 - kappa) B(NEST) so that both learning signals match;
* delays: NEST's input reaches the recurrent neurons 2 steps after its generator (generator ->
  parrot -> neuron), the readouts see spikes 1 step late, learning signals return 1 step late —
  inputs are scheduled 2 steps early so that both networks see step t's input at step t; the
  first two steps of every trial carry no spikes on both sides;
* softmax: NEST normalises each readout by the other readouts' values of the previous step (a
  rate connection with delay 1; an autapse would count a readout twice, 1/3 instead of 1/2 at
  rest) — ours normalises within the step;
* learning window: the last 150 steps of each update interval (NEST) — the recall-window mask;
* gradient and optimizer: NEST averages over the learning window and the batch and applies Adam
  per synapse, event-driven (a synapse's weight changes when its presynaptic neuron next
  spikes) — ours sums over window and batch and applies Adam to all weights at the end of the
  batch (Adam's step does not depend on the gradient's scale, up to epsilon);
* rate regularisation: off on both sides here (c_reg = 0).

Measured (seed 1, 20 iterations x 32 trials): the first iteration's loss, before any update,
agrees to 1.4 %; afterwards the curves part — max 18 %, 11 of 20 iterations within 5 % — our loss
moving 0.63-0.80 while NEST's stays within 0.676-0.695. NEST's optimizer (models/
eprop_optimizer.cpp) steps whenever 1 + update_index // batch_size grows: after the very first
trial (with that trial's gradient / batch_size), then after trials 33, 65, ...; its Adam catches
up skipped steps with zero gradients when a synapse next transmits. With ``--nest-schedule``
(our optimizer on that schedule) iterations 2-12 agree within 4.6 %, 12 of 20 within 5 %; from
iteration 13 our loss falls (0.58-0.66) while NEST's stays flat. The dynamics agree (iteration
1); the remaining gap is in when and how the weight changes take effect — NEST applies each
synapse's update lazily, at its presynaptic neuron's next spike — which we did not reproduce.

    python benchmarks/nest_comparison.py [--iterations 20] [--batch 32] [--seed 1]

``--timing`` times the three paths interleaved instead — for each of ``--repeats`` repeats, for
each thread count (NEST's virtual processes; numba's and BLAS's threads on our side), NEST, our
online path (traces advanced and gradients added at every step, weights frozen until the batch
ends: ``OnlineLearner(factored=False)``, one compiled call per trial), the same online learning by
our per-step Python loop (``stepwise=True``, bit for bit the same numbers) and our per-trial
factored path,
each in a fresh process on the same trials — and writes medians, per-repeat figures and the
ratios with bootstrap 95 % intervals over repeats to ``results/perf/nest_comparison.json``:

    python benchmarks/nest_comparison.py --timing [--repeats 5] [--threads 1,2] [--batch 32]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import locallearn as ll
from locallearn import stats

N_IN, N_REG, N_AD, N_OUT = 40, 50, 50, 2
TAU_M, TAU_OUT, TAU_A, V_TH, T_REF = 20.0, 20.0, 2000.0, 0.6, 5
ETA = 5e-3


def shared_problem(seed: int, n_trials: int):
    """Weights (NEST's example's initialisation), feedback and the trials both systems see."""
    rng = np.random.default_rng(seed)
    n_rec = N_REG + N_AD
    w_in = (rng.standard_normal((n_rec, N_IN)) / np.sqrt(N_IN)).astype(np.float32)
    w_rec = (rng.standard_normal((n_rec, n_rec)) / np.sqrt(n_rec)).astype(np.float32)
    np.fill_diagonal(w_rec, 0.0)
    limit = np.sqrt(3.0 / max(1.0, (n_rec + N_OUT) / 2.0))  # Glorot uniform
    w_out = rng.uniform(-limit, limit, (N_OUT, n_rec)).astype(np.float32)
    feedback = rng.standard_normal((n_rec, N_OUT)).astype(np.float32)
    task = ll.tasks.make("evidence")
    trials = [task.trial(rng) for _ in range(n_trials)]
    for trial in trials:  # the first two steps' spikes cannot be aligned with NEST's delays
        trial.inputs[:2] = 0
    return {"w_in": w_in, "w_rec": w_rec, "w_out": w_out, "B": feedback}, trials, task


def beta_adapt() -> float:
    return 1.7 * (1 - np.exp(-1 / TAU_A)) / (1 - np.exp(-1 / TAU_M))


def run_locallearn(weights, trials, batch: int, nest_schedule: bool = False, path: str = "trial") -> dict:
    """Train on ``trials`` from ``weights``. ``nest_schedule`` steps the optimizer when NEST's
    e-prop optimizer does (models/eprop_optimizer.cpp): an optimization step whenever
    1 + update_index // batch grows — after the very first trial, then after trials 33, 65, ...
    — with the gradients summed since the previous step divided by ``batch``. ``path``: "trial"
    (the factored whole-trial sum), "online" (traces every step, compiled) or "stepwise" (the
    same, by the per-step Python loop)."""
    kappa = np.exp(-1 / TAU_OUT)
    net = ll.Network(
        ll.NetworkConfig(
            n_in=N_IN,
            n_rec=N_REG + N_AD,
            n_out=N_OUT,
            n_adaptive=N_AD,
            tau_mem=TAU_M,
            tau_out=TAU_OUT,
            tau_adapt=TAU_A,
            beta=beta_adapt(),
            v_th=V_TH,
            n_ref=T_REF,
            seed=0,
        )
    )
    net.w_in, net.w_rec = weights["w_in"], weights["w_rec"]
    net.w_out = (1 - kappa) * weights["w_out"]
    feedback = ll.rules.feedback.make("random")
    rule = ll.rules.make("eprop", feedback=feedback)
    rule.bind(net)
    feedback.B[...] = (1 - kappa) * weights["B"]
    warm = ll.OnlineLearner(
        net.copy(),
        ll.rules.make("eprop", feedback="random"),
        ll.Adam(lr=ETA),
        loss="ce",
        update="trial",
        stepwise=path == "stepwise",
        factored=path == "trial",
    )
    warm.run_sequence(trials[0].inputs, trials[0].targets, trials[0].mask)  # load this path's kernels
    learner = ll.OnlineLearner(
        net,
        rule,
        ll.Adam(lr=ETA),
        loss="ce",
        update="trial",
        batch_size=len(trials) + 1 if nest_schedule else batch,
        stepwise=path == "stepwise",
        factored=path == "trial",
    )
    losses, start = [], time.perf_counter()
    for index, trial in enumerate(trials):
        result = learner.run_sequence(trial.inputs, trial.targets, trial.mask)
        losses.append(result.loss / trial.mask.sum())
        if nest_schedule and index % batch == 0:
            for value in rule.gradients().values():
                value /= batch
            learner._apply()
    wall = time.perf_counter() - start
    return {
        "wall_per_trial": wall / len(trials),
        "loss_per_iteration": np.mean(np.reshape(losses, (-1, batch)), axis=1),
    }


def run_nest(weights, trials, batch: int, threads: int = 1) -> dict:
    import nest

    n_trials, seq = len(trials), trials[0].inputs.shape[0]
    window = int(trials[0].mask.sum())
    nest.ResetKernel()
    nest.set(
        resolution=1.0,
        eprop_learning_window=float(window),
        eprop_reset_neurons_on_update=True,
        eprop_update_interval=float(seq),
        print_time=False,
        total_num_virtual_procs=threads,
    )
    common = {
        "C_m": 1.0,
        "E_L": 0.0,
        "I_e": 0.0,
        "V_m": 0.0,
        "V_th": V_TH,
        "tau_m": TAU_M,
        "t_ref": float(T_REF),
        "c_reg": 0.0,
        "f_target": 10.0,
        "surrogate_gradient_height": 0.3,
        "surrogate_gradient_width": 1.0,
        "surrogate_gradient_function": "piecewise_linear",
        "regular_spike_arrival": True,
    }
    generators = nest.Create("spike_generator", N_IN)
    parrots = nest.Create("parrot_neuron", N_IN)
    regular = nest.Create("eprop_iaf_bsshslm_2020", N_REG, common)
    adaptive = nest.Create(
        "eprop_iaf_adapt_bsshslm_2020",
        N_AD,
        {**common, "adapt_tau": TAU_A, "adapt_beta": beta_adapt(), "adaptation": 0.0},
    )
    readouts = nest.Create(
        "eprop_readout_bsshslm_2020",
        N_OUT,
        {
            "C_m": 1.0,
            "E_L": 0.0,
            "I_e": 0.0,
            "V_m": 0.0,
            "tau_m": TAU_OUT,
            "loss": "cross_entropy",
            "regular_spike_arrival": False,
        },
    )
    targets = nest.Create("step_rate_generator", N_OUT)
    recurrent = regular + adaptive
    nest.SetDefaults(
        "eprop_synapse_bsshslm_2020",
        {
            "optimizer": {
                "optimizer": "adam",
                "batch_size": batch,
                "beta_1": 0.9,
                "beta_2": 0.999,
                "epsilon": 1e-8,
                "eta": ETA,
                "Wmin": -100.0,
                "Wmax": 100.0,
            },
            "average_gradient": True,
        },
    )
    plastic = {"synapse_model": "eprop_synapse_bsshslm_2020", "delay": 1.0, "tau_m_readout": TAU_OUT}
    all_to_all = {"rule": "all_to_all", "allow_autapses": False}
    nest.Connect(generators, parrots, "one_to_one", {"delay": 1.0})
    nest.Connect(parrots, recurrent, all_to_all, {**plastic, "weight": weights["w_in"]})
    nest.Connect(recurrent, recurrent, all_to_all, {**plastic, "weight": weights["w_rec"]})
    nest.Connect(recurrent, readouts, all_to_all, {**plastic, "weight": weights["w_out"]})
    nest.Connect(
        readouts,
        recurrent,
        all_to_all,
        {
            "synapse_model": "eprop_learning_signal_connection_bsshslm_2020",
            "delay": 1.0,
            "weight": weights["B"],
        },
    )
    nest.Connect(
        targets,
        readouts,
        "one_to_one",
        {"synapse_model": "rate_connection_delayed", "delay": 1.0, "receptor_type": 2},
    )
    # softmax normaliser: each readout receives the others' signals (a readout adds its own; an
    # autapse would count it twice and turn 1/2 into 1/3 at rest)
    nest.Connect(
        readouts,
        readouts,
        all_to_all,
        {"synapse_model": "rate_connection_delayed", "delay": 1.0, "receptor_type": 1, "weight": 1.0},
    )
    # Our step t of trial k (0-based) must reach the recurrent neurons in NEST's step k seq + t + 1:
    # a generator spike at time tau reaches them at tau + 2 (generator -> parrot -> neuron), so
    # tau = k seq + t - 1; the first steps' spikes are dropped on both sides (shared_problem).
    offset = -1.0
    spikes = np.concatenate([t.inputs for t in trials])  # (n_trials * seq, N_IN)
    times = np.arange(spikes.shape[0], dtype=float) + offset
    spikes[times < 1] = 0
    nest.SetStatus(generators, [{"spike_times": times[spikes[:, i] > 0]} for i in range(N_IN)])
    labels = np.array([t.label for t in trials])
    onehot = np.eye(N_OUT)[labels]
    total_offset = 2.0  # readouts see step t's spikes at t + 1 (recurrent -> readout delay)
    change_times = np.arange(n_trials) * seq + total_offset
    nest.SetStatus(
        targets, [{"amplitude_times": change_times, "amplitude_values": onehot[:, k]} for k in range(N_OUT)]
    )
    meter = nest.Create(
        "multimeter",
        {
            "interval": 1.0,
            "record_from": ["readout_signal", "target_signal"],
            "start": total_offset,
            "stop": total_offset + n_trials * seq,
        },
    )
    nest.Connect(meter, readouts)
    start = time.perf_counter()
    nest.Simulate(n_trials * seq + total_offset + 1.0)
    wall = time.perf_counter() - start
    events = meter.get("events")
    senders = np.asarray(events["senders"])
    readout = np.array(
        [np.asarray(events["readout_signal"])[senders == s] for s in sorted(set(senders))]
    )  # (N_OUT, n_trials * seq)
    target = np.array([np.asarray(events["target_signal"])[senders == s] for s in sorted(set(senders))])
    readout = readout.reshape(N_OUT, n_trials, seq)[:, :, -window:]
    target = target.reshape(N_OUT, n_trials, seq)[:, :, -window:]
    per_trial = -np.mean(np.sum(target * np.log(np.maximum(readout, 1e-30)), axis=0), axis=1)
    return {
        "wall_per_trial": wall / n_trials,
        "loss_per_iteration": per_trial.reshape(-1, batch).mean(axis=1),
    }


TIMED = ("nest", "locallearn-online", "locallearn-stepwise", "locallearn-trial")


def time_one(system: str, threads: int, seed: int, batch: int) -> dict:
    """Wall time per trial of one system on ``batch`` trials, in this process."""
    weights, trials, _ = shared_problem(seed, batch)
    if system == "nest":
        result = run_nest(weights, trials, batch, threads=threads)
    else:
        result = run_locallearn(weights, trials, batch, path=system.removeprefix("locallearn-"))
    return {"system": system, "threads": threads, "wall_per_trial": result["wall_per_trial"]}


def timing(args) -> dict:
    import json
    import os
    import subprocess
    import sys

    rows = []
    for repeat in range(args.repeats):
        for threads in args.threads:
            env = os.environ | {
                name: str(threads)
                for name in (
                    "OMP_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS",
                )
            }
            for system in TIMED:
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--time-one",
                        system,
                        str(threads),
                        "--seed",
                        str(args.seed),
                        "--batch",
                        str(args.batch),
                    ],
                    capture_output=True,
                    text=True,
                    env=env,
                    check=True,
                )
                row = json.loads(out.stdout.strip().splitlines()[-1]) | {"repeat": repeat}
                rows.append(row)
                print(
                    f"repeat {repeat}, {threads} thread(s): {system:<18} "
                    f"{row['wall_per_trial'] * 1e3:8.1f} ms/trial",
                    flush=True,
                )
    rng = np.random.default_rng(0)
    summary = []
    for threads in args.threads:
        times = {
            s: [r["wall_per_trial"] for r in rows if r["system"] == s and r["threads"] == threads]
            for s in TIMED
        }
        for system in TIMED[1:]:
            summary.append(
                {
                    "threads": threads,
                    "path": system,
                    "ms_per_trial": 1e3 * float(np.median(times[system])),
                    "nest_ms_per_trial": 1e3 * float(np.median(times["nest"])),
                    "speedup_over_nest": float(np.median(times["nest"]) / np.median(times[system])),
                    "speedup_95": stats.median_ratio_interval(times["nest"], times[system], rng),
                }
            )
    return {
        "title": f"evidence accumulation, {args.batch} trials of 2,250 steps per measurement, "
        f"{args.repeats} interleaved repeats, medians",
        "command": "python benchmarks/nest_comparison.py --timing "
        + " ".join(
            f"--{k} {v}" for k, v in (("repeats", args.repeats), ("batch", args.batch), ("seed", args.seed))
        ),
        "rows": rows,
        "summary": summary,
    }


def timing_table(result: dict) -> dict:
    """The README's table of a --timing result (``locallearn report`` renders it)."""
    names = {
        "locallearn-online": "online (traces every step), compiled",
        "locallearn-stepwise": "online (traces every step), per-step Python loop",
        "locallearn-trial": "per trial (factored)",
    }
    rows = [
        [
            row["threads"],
            names.get(row["path"], row["path"]),
            f"{row['ms_per_trial']:.1f}",
            f"{row['nest_ms_per_trial']:.1f}",
            f"{row['speedup_over_nest']:.1f}x [{row['speedup_95'][0]:.1f}, {row['speedup_95'][1]:.1f}]",
        ]
        for row in result["summary"]
    ]
    return {
        "title": "locallearn against NEST 3.10's e-prop models, " + result["title"],
        "columns": [
            "threads (both sides)",
            "our path",
            "ours, ms/trial",
            "NEST, ms/trial",
            "speed-up [95 % CI]",
        ],
        "rows": rows,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timing", action="store_true", help="interleaved timing (see the docstring)")
    parser.add_argument("--time-one", nargs=2, metavar=("SYSTEM", "THREADS"), help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="1,2", help="thread counts for --timing")
    parser.add_argument("--out", default="results/perf/nest_comparison.json")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    parser.add_argument(
        "--nest-schedule",
        action="store_true",
        help="step locallearn's optimizer on NEST's schedule (see run_locallearn)",
    )
    args = parser.parse_args(argv)
    if args.time_one:
        import json

        print(json.dumps(time_one(args.time_one[0], int(args.time_one[1]), args.seed, args.batch)))
        return
    if args.timing:
        import json
        from pathlib import Path

        args.threads = [int(v) for v in args.threads.split(",")]
        result = timing(args)
        result["table"] = timing_table(result)
        for row in result["summary"]:
            low, high = row["speedup_95"]
            print(
                f"{row['threads']} thread(s): {row['path']:<18} {row['ms_per_trial']:8.1f} ms/trial, "
                f"NEST {row['nest_ms_per_trial']:.1f} -> {row['speedup_over_nest']:.1f}x "
                f"[{low:.1f}, {high:.1f}]"
            )
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
        print(f"wrote {args.out}")
        return
    weights, trials, _ = shared_problem(args.seed, args.iterations * args.batch)
    ours = run_locallearn(weights, trials, args.batch, args.nest_schedule)
    try:
        theirs = run_nest(weights, trials, args.batch)
    except ModuleNotFoundError:
        print("nest-simulator is not installed (pip install -e '.[peers]'): locallearn only")
        theirs = None
    if args.json:
        import json

        print(
            json.dumps(
                {
                    name: None
                    if r is None
                    else {
                        "wall_per_trial": r["wall_per_trial"],
                        "loss_per_iteration": [float(v) for v in r["loss_per_iteration"]],
                    }
                    for name, r in (("locallearn", ours), ("nest", theirs))
                }
            )
        )
        return
    print(f"{len(trials)} trials of {trials[0].inputs.shape[0]} steps, batch {args.batch}")
    print(f"wall time per trial: locallearn {ours['wall_per_trial'] * 1e3:.1f} ms", end="")
    if theirs:
        ratio = theirs["wall_per_trial"] / ours["wall_per_trial"]
        print(f", NEST {theirs['wall_per_trial'] * 1e3:.1f} ms  ->  locallearn {ratio:.1f}x faster")
    print()
    print(
        f"{'iteration':>9} {'locallearn loss':>16}"
        + (f" {'NEST loss':>10} {'rel. diff':>9}" if theirs else "")
    )
    for i, loss in enumerate(ours["loss_per_iteration"]):
        row = f"{i + 1:>9} {loss:>16.4f}"
        if theirs:
            other = theirs["loss_per_iteration"][i]
            row += f" {other:>10.4f} {abs(loss - other) / other:>9.1%}"
        print(row)


if __name__ == "__main__":
    main()
