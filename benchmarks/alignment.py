"""Feedback alignment with the forward weights fixed: SAL, weight mirror, PAL and Kolen-Pollack on
the same 30-20-10 network (issue: deep credit assignment).

Every method starts from feedback weights B drawn independently of W (~90 degrees) and only B
learns. Prints angle(B, W^T), the B-on-W^T slope and var(B - W^T) per layer at the end, writes
alignment.png (angle against simulation steps) and alignment.json to --out.

* SAL — the escape-noise spiking network of ``locallearn.rules.sal`` in its noise-driven
  symmetrization phase (learning rate decaying geometrically from 2e-2 to 1e-4);
* weight mirror (Akrout et al. 2019) — white noise x into layer l, upper response y = W x,
  B <- B + eta (x y^T - lambda B);
* PAL (rate-based) — Ornstein-Uhlenbeck noise xi into layer l, the upper layer's rate
  r = sigmoid(W xi) high-passed, B <- B + eta (xi hp(r)^T - alpha B);
* Kolen-Pollack — B <- (1 - lambda)(B + Delta W^T): with W fixed, Delta W = 0 and B only shrinks,
  so its angle to W^T never changes (KP aligns through the learning of W, not without it).

    python benchmarks/alignment.py [--steps 2000000] [--heterogeneity 0.5] [--out runs/alignment]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from locallearn.rules.sal import SALNetwork

from locallearn import io
from locallearn.analysis import plt
from locallearn.metrics import alignment_angle, alignment_slope, residual_variance

SIZES = (30, 20, 10)


def _measure(Bs, Ws):
    return [
        {
            "angle": alignment_angle(B, W),
            "slope": alignment_slope(B, W),
            "residual_variance": residual_variance(B, W),
        }
        for B, W in zip(Bs, Ws)
    ]


def run_sal(steps: int, seed: int, heterogeneity: float = 0.0) -> list[dict]:
    net = SALNetwork(SIZES, lr=2e-2, seed=seed, bias_std=heterogeneity, threshold_std=heterogeneity)
    return net.symmetrize(steps, record_every=max(steps // 50, 1), seed=seed, final_lr=1e-4), net


def run_weight_mirror(Ws, steps: int, seed: int, lr=1e-3, decay=1e-3) -> list[dict]:
    rng = np.random.default_rng([seed, 1])
    Bs = [rng.uniform(-1, 1, W.T.shape) / np.sqrt(W.shape[0]) for W in Ws]
    rows = []
    for t in range(steps):
        if t % max(steps // 50, 1) == 0:
            rows.append({"step": t, "alignment": _measure(Bs, Ws)})
        for B, W in zip(Bs, Ws):
            x = rng.standard_normal(W.shape[1])
            B += lr * (np.outer(x, W @ x) - decay * B)
    rows.append({"step": steps, "alignment": _measure(Bs, Ws)})
    return rows


def run_pal(Ws, steps: int, seed: int, lr=1e-3, alpha=1e-3, tau_noise=5.0, tau_highpass=20.0):
    rng = np.random.default_rng([seed, 2])
    Bs = [rng.uniform(-1, 1, W.T.shape) / np.sqrt(W.shape[0]) for W in Ws]
    noise = [np.zeros(W.shape[1]) for W in Ws]
    low_pass = [np.zeros(W.shape[0]) for W in Ws]
    a_noise, a_hp = np.exp(-1 / tau_noise), np.exp(-1 / tau_highpass)
    rows = []
    for t in range(steps):
        if t % max(steps // 50, 1) == 0:
            rows.append({"step": t, "alignment": _measure(Bs, Ws)})
        for l, (B, W) in enumerate(zip(Bs, Ws)):
            noise[l] = a_noise * noise[l] + np.sqrt(1 - a_noise**2) * rng.standard_normal(W.shape[1])
            rate = 1 / (1 + np.exp(-(W @ noise[l])))
            low_pass[l] = a_hp * low_pass[l] + (1 - a_hp) * rate
            B += lr * (np.outer(noise[l], rate - low_pass[l]) - alpha * B)
    rows.append({"step": steps, "alignment": _measure(Bs, Ws)})
    return rows


def run_kolen_pollack(Ws, steps: int, seed: int, decay=1e-4) -> list[dict]:
    rng = np.random.default_rng([seed, 3])
    Bs = [rng.uniform(-1, 1, W.T.shape) / np.sqrt(W.shape[0]) for W in Ws]
    rows = []
    for t in range(steps):
        if t % max(steps // 50, 1) == 0:
            rows.append({"step": t, "alignment": _measure(Bs, Ws)})
        for B in Bs:
            B *= 1 - decay  # Delta W = 0 while W is fixed
    rows.append({"step": steps, "alignment": _measure(Bs, Ws)})
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2_000_000, help="SAL simulation steps")
    parser.add_argument("--rate-steps", type=int, default=50_000, help="updates of the rate-based methods")
    parser.add_argument(
        "--heterogeneity",
        type=float,
        default=0.5,
        help="std of per-neuron biases and threshold offsets for the SAL rerun",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/alignment")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sal_rows, net = run_sal(args.steps, args.seed)
    results = {
        "SAL": sal_rows,
        "weight mirror": run_weight_mirror(net.W, args.rate_steps, args.seed),
        "PAL": run_pal(net.W, args.rate_steps, args.seed),
        "Kolen-Pollack (W fixed)": run_kolen_pollack(net.W, args.rate_steps, args.seed),
    }
    if args.heterogeneity > 0:
        results[f"SAL, heterogeneity {args.heterogeneity}"] = run_sal(
            args.steps, args.seed, args.heterogeneity
        )[0]
    print(
        f"{'method':<28} {'layer':>5} {'angle start':>12} {'angle end':>10} {'slope':>7} {'var(B-W^T)':>11}"
    )
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for name, rows in results.items():
        for layer in range(len(SIZES) - 1):
            first, last = rows[0]["alignment"][layer], rows[-1]["alignment"][layer]
            print(
                f"{name:<28} {layer:>5} {first['angle']:>12.1f} {last['angle']:>10.1f} "
                f"{last['slope']:>7.2f} {last['residual_variance']:>11.4f}"
            )
            steps = np.array([r["step"] for r in rows], float)
            axes[layer].plot(steps / steps[-1], [r["alignment"][layer]["angle"] for r in rows], label=name)
    for layer, ax in enumerate(axes):
        ax.set_title(f"B_{layer} ({SIZES[layer]} <- {SIZES[layer + 1]})")
        ax.set_xlabel("fraction of the run")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("angle(B, W^T) (degrees)")
    axes[1].legend(fontsize=8)
    io.save_figure(figure, out / "alignment.png")
    io.write_json(
        out / "alignment.json",
        {"sal_steps": args.steps, "rate_steps": args.rate_steps, "seed": args.seed, "results": results},
    )
    print(f"wrote {out}/alignment.png and alignment.json")


if __name__ == "__main__":
    main()
