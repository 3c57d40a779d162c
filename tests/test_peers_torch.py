"""The PyTorch BPTT peer (benchmarks/peers/torch_bptt.py, extra [peers]) is our network: the
same spikes as the plain-numpy reference, and autograd's gradient equal to our exact BPTT."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import random_sequence, small_network

import locallearn as ll

torch = pytest.importorskip("torch")
PEER = Path(__file__).resolve().parents[1] / "benchmarks" / "peers" / "torch_bptt.py"


def _peer():
    spec = importlib.util.spec_from_file_location("torch_bptt", PEER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("n_ref", [0, 2])
def test_the_torch_peer_spikes_and_gradients_are_ours(loss, n_ref):
    net = small_network(seed=3, n_ref=n_ref)
    inputs, targets, mask = random_sequence(net, T=80, seed=5, loss=loss)
    peer = _peer().TorchNetwork.from_locallearn(net)
    y, z = peer(torch.tensor(inputs)[None])
    reference = ll.reference.simulate(net, inputs)
    assert reference.z.sum() > 20  # the comparison sees spikes, refractoriness and adaptation
    np.testing.assert_array_equal(z[0].detach().numpy(), reference.z)
    np.testing.assert_allclose(y[0].detach().numpy(), reference.y, rtol=0, atol=1e-12)
    theirs = peer.gradients(inputs, targets, mask, loss)
    ours = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask)
    assert theirs["loss"] == pytest.approx(ours["loss"], rel=1e-12)
    for name in ("w_in", "w_rec", "w_out", "b_out"):
        scale = np.abs(ours[name]).max()
        assert scale > 0
        np.testing.assert_allclose(theirs[name], ours[name], rtol=0, atol=1e-10 * scale, err_msg=name)
