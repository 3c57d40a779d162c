"""The exact references agree with each other, with finite differences, and with the engine."""

import numpy as np
import pytest
from conftest import activity_report, finite_difference_gradient, random_sequence, small_network

import locallearn as ll
from locallearn.metrics import relative_error

KEYS = ("w_in", "w_rec", "w_out", "b_out")


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("detach", [(), ("reset",), ("recurrent", "reset")])
def test_rtrl_equals_bptt_on_lif_alif_networks(seed, loss, detach):
    net = small_network(seed)
    inputs, targets, mask = random_sequence(net, seed=seed, loss=loss)
    activity = activity_report(net, inputs)
    assert activity["spikes"] > 20 and activity["refractory_blocks"] > 0
    assert activity["adaptation"] > 0
    gb = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask, detach=detach)
    gr = ll.reference.rtrl_gradients(net, inputs, targets, loss=loss, mask=mask, detach=detach)
    assert gb["loss"] == pytest.approx(gr["loss"], rel=1e-14)
    for key in KEYS:
        assert np.linalg.norm(gb[key]) > 0
        assert relative_error(gr[key], gb[key]) <= 1e-9, key


@pytest.mark.parametrize("n_ref", [0, 2])
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_bptt_matches_finite_differences_with_smooth_spikes(n_ref, loss):
    net = small_network(3, n_ref=n_ref, spike_fn="sigmoid", sigmoid_width=0.3)
    inputs, targets, mask = random_sequence(net, T=40, seed=3, loss=loss)
    gb = ll.reference.bptt_gradients(net, inputs, targets, loss=loss, mask=mask)
    for key in KEYS:
        numeric = finite_difference_gradient(net, key, inputs, targets, loss, mask)
        assert relative_error(gb[key], numeric) <= 1e-6, key


def test_engine_forward_matches_reference_transcription():
    net = small_network(4)
    inputs, _, _ = random_sequence(net, T=80, seed=4)
    record = net.run(inputs)
    traj = ll.reference.simulate(net, inputs)
    np.testing.assert_array_equal(record["z"], traj.z)
    for key in ("v", "a", "psi", "y"):
        np.testing.assert_allclose(record[key], getattr(traj, key), rtol=0, atol=1e-12)


def test_refractory_neuron_stays_silent_for_n_ref_steps():
    net = small_network(0, n_in=1, n_rec=2, n_out=1, n_adaptive=0, n_ref=3, w_rec_gain=0.0)
    net.w_in = np.array([[5.0], [5.0]])  # drive far above threshold every step
    record = net.run(np.ones((20, 1)))
    spikes = record["z"][:, 0]
    np.testing.assert_array_equal(np.flatnonzero(spikes), np.arange(0, 20, 4))
    assert np.all(record["psi"][spikes == 0][:3] == 0)


def test_detach_rejects_unknown_paths():
    net = small_network(0)
    inputs, targets, _ = random_sequence(net)
    with pytest.raises(ValueError, match="adaptation"):
        ll.reference.bptt_gradients(net, inputs, targets, detach=("adaptation",))
