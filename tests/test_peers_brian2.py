"""The Brian2 peer (benchmarks/peers/brian2_peer.py) is our network: the same spikes and membrane
potentials as ours on small LIF, ALIF and mixed networks. Brian2 2.9.0 needs numpy < 2.4, so it
runs in its own environment, named by LOCALLEARN_BRIAN2_PYTHON (CI makes one); without it, skipped."""

import os
import subprocess

import numpy as np
import pytest
from conftest import load_benchmark, random_sequence, small_network

import locallearn as ll

PYTHON = os.environ.get("LOCALLEARN_BRIAN2_PYTHON")
if not PYTHON or subprocess.run([PYTHON, "-c", "import brian2"], capture_output=True).returncode:
    pytest.skip("no Brian2 environment (set LOCALLEARN_BRIAN2_PYTHON)", allow_module_level=True)


@pytest.mark.parametrize("n_adaptive", [0, 4, 8], ids=["LIF", "mixed", "ALIF"])
def test_the_brian2_network_spikes_like_ours(tmp_path, n_adaptive):
    peer = load_benchmark("peers/brian2_peer")
    net = small_network(seed=4, n_adaptive=n_adaptive, n_ref=2)
    inputs, _, _ = random_sequence(net, T=120, seed=5)
    inputs[0] = 0  # Brian2's input group fires one step ahead: nothing can reach step 0
    peer.write_problem(tmp_path / "problem.npz", net, inputs)
    peer.run_brian2(PYTHON, tmp_path / "problem.npz", "runtime", "float64", tmp_path / "out")
    theirs = np.load(tmp_path / "out.npz")
    reference = ll.reference.simulate(net, inputs)
    assert reference.z.sum() > 60  # active enough for the comparison to mean something
    np.testing.assert_array_equal(theirs["z"], reference.z)
    np.testing.assert_allclose(theirs["v"], reference.v, rtol=0, atol=1e-12)
