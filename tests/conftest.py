"""Shared builders: small float64 networks whose spikes, refractoriness and adaptation are active."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import locallearn as ll


def small_network(seed=0, n_in=4, n_rec=8, n_out=3, n_adaptive=4, n_ref=2, **overrides):
    settings = dict(
        n_in=n_in,
        n_rec=n_rec,
        n_out=n_out,
        n_adaptive=n_adaptive,
        n_ref=n_ref,
        dtype="float64",
        beta=0.3,
        tau_adapt=50.0,
        tau_mem=20.0,
        tau_out=15.0,
        w_in_gain=3.0,
        w_rec_gain=1.5,
        seed=seed,
    )
    settings.update(overrides)
    return ll.Network(ll.NetworkConfig(**settings))


def random_sequence(net, T=60, seed=0, density=0.3, loss="mse"):
    rng = np.random.default_rng(seed + 1000)
    inputs = (rng.random((T, net.n_in)) < density).astype(float)
    if loss == "mse":
        targets = rng.standard_normal((T, net.n_out))
    else:
        targets = rng.integers(0, net.n_out, T)
    mask = (rng.random(T) < 0.7).astype(float)
    return inputs, targets, mask


def finite_difference_gradient(net, name, inputs, targets, loss, mask, h=1e-6):
    """Central differences of the sequence loss for every entry of ``net.params[name]``
    (diagonals of recurrent weights, which stay zero, are left at 0)."""
    param = net.params[name]
    numeric = np.zeros_like(param)
    for index in np.ndindex(param.shape):
        if name.startswith("w_rec") and index[0] == index[1]:
            continue
        original = param[index]
        param[index] = original + h
        up = ll.reference.sequence_loss(net, inputs, targets, loss, mask)
        param[index] = original - h
        down = ll.reference.sequence_loss(net, inputs, targets, loss, mask)
        param[index] = original
        numeric[index] = (up - down) / (2 * h)
    return numeric


def activity_report(net, inputs):
    """Counts showing which mechanisms were exercised on this sequence."""
    traj = ll.reference.simulate(net, inputs)
    c = net.config
    beta = np.zeros(c.n_rec)
    beta[c.n_rec - c.n_adaptive :] = c.beta
    distance = traj.v - (c.v_th + beta * traj.a)
    return {
        "spikes": int(traj.z.sum()),
        "refractory_blocks": int(np.sum((distance > 0) & (traj.z == 0))),
        "adaptation": float(traj.a[:, c.n_rec - c.n_adaptive :].max()) if c.n_adaptive else 0.0,
    }


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def kill_then_resume(settings, tmp_path, killed_when):
    """Run ``locallearn run SETTINGS`` to the end, and again in a subprocess killed with SIGKILL
    once ``killed_when(run_dir)`` holds; resume that one. Both must end with the same weights and
    the same log (wall times aside). Returns the resumed run directory."""
    import subprocess
    import sys
    import time

    from locallearn import io
    from locallearn.cli import main

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(["run", *settings, "--out", str(whole)]) == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "locallearn", "run", *settings, "--out", str(killed)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.time() + 60
    while not killed_when(killed) and time.time() < deadline:
        time.sleep(0.02)
    process.kill()
    process.wait(timeout=30)
    assert not (killed / "summary.json").exists()  # it really died mid-run
    assert main(["run", "--resume", str(killed), "--no-progress"]) == 0
    a, b = np.load(whole / "weights.npz"), np.load(killed / "weights.npz")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])

    def log(run_dir):
        return [
            {k: v for k, v in row.items() if k != "wall_seconds"}
            for row in io.read_jsonl(run_dir / "metrics.jsonl")
        ]

    assert log(whole) == log(killed)
    return killed


def past_the_first_checkpoint(run_dir) -> bool:
    """Whether a run directory's checkpoint is past position 0 (a run to kill mid-way)."""
    import json

    try:
        return json.loads((Path(run_dir) / "checkpoint.json").read_text())["counters"]["position"] > 0
    except (FileNotFoundError, json.JSONDecodeError):
        return False


def load_benchmark(name: str):
    """A script of benchmarks/ loaded as a module (benchmarks/ is not a package)."""
    path = Path(__file__).parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name.replace('-', '_')}_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
