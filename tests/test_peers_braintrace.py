"""The BrainTrace peer (benchmarks/peers/braintrace_peer.py, extra [peers]) is our network, and its
e-prop is ours where the two definitions meet: the same spikes and readout as the plain-numpy
reference; with a readout without memory its EProp and D_RTRL gradients equal our e-prop's; with
a leaky readout its EProp is the estimate the peer's docstring states, not ours."""

import numpy as np
import pytest
from conftest import load_benchmark, random_sequence, small_network

import locallearn as ll
from locallearn.metrics import relative_error

pytest.importorskip("braintrace")


def _peer():
    return load_benchmark("peers/braintrace_peer").BrainTracePeer


@pytest.mark.parametrize("n_adaptive", [0, 4, 8], ids=["LIF", "mixed", "ALIF"])
@pytest.mark.parametrize("n_ref", [0, 2])
def test_the_braintrace_peer_spikes_like_our_network(n_adaptive, n_ref):
    net = small_network(seed=4, n_adaptive=n_adaptive, n_ref=n_ref)
    inputs, _, _ = random_sequence(net, T=80, seed=5)
    y, z = _peer().from_locallearn(net).spikes(inputs)
    reference = ll.reference.simulate(net, inputs)
    assert reference.z.sum() > 40
    np.testing.assert_array_equal(z, reference.z)
    np.testing.assert_allclose(y, reference.y, rtol=0, atol=1e-12)


@pytest.mark.parametrize("algorithm", ["eprop", "d_rtrl"])
@pytest.mark.parametrize("n_adaptive", [0, 4, 8], ids=["LIF", "mixed", "ALIF"])
@pytest.mark.parametrize("seed", [3, 4])
def test_without_readout_memory_braintrace_eprop_is_our_eprop(algorithm, n_adaptive, seed):
    net = small_network(seed=seed, n_adaptive=n_adaptive, n_ref=2, tau_out=1e-3)  # kappa = e^-1000
    inputs, targets, mask = random_sequence(net, T=80, seed=5)
    theirs = _peer().from_locallearn(net, algorithm=algorithm).gradients(inputs, targets, mask)
    ours = ll.gradient_estimate(
        net, ll.rules.make("eprop", feedback="symmetric"), inputs, targets, loss="mse", mask=mask
    )
    for name in ("w_in", "w_rec"):
        assert np.abs(ours[name]).max() > 0.1
        assert relative_error(theirs[name], ours[name]) <= 1e-12, name


def test_with_a_leaky_readout_braintrace_filters_the_presynaptic_trace_not_the_eligibility():
    """sum_t L^t psi^t F_kappa(eps)^t (theirs) against sum_t L^t F_kappa(psi eps)^t (ours), LIF."""
    net = small_network(seed=4, n_adaptive=0, n_ref=2, tau_out=15.0)
    inputs, targets, mask = random_sequence(net, T=80, seed=5)
    theirs = _peer().from_locallearn(net).gradients(inputs, targets, mask)
    traj = ll.reference.simulate(net, inputs)
    c = net.config
    alpha, kappa = np.exp(-c.dt / c.tau_mem), np.exp(-c.dt / c.tau_out)
    signal = (mask[:, None] * (traj.y - targets)) @ net.w_out * traj.psi  # L^t psi^t
    expected = {}
    for name, presynaptic in (("w_in", traj.x), ("w_rec", np.vstack([0 * traj.z[:1], traj.z[:-1]]))):
        eps = np.zeros(presynaptic.shape[1])
        filtered = np.zeros_like(eps)
        gradient = np.zeros((net.n_rec, presynaptic.shape[1]))
        for t in range(len(inputs)):
            eps = alpha * eps + presynaptic[t]
            filtered = kappa * filtered + eps
            gradient += np.outer(signal[t], filtered)
        expected[name] = gradient
    np.fill_diagonal(expected["w_rec"], 0)
    ours = ll.gradient_estimate(
        net, ll.rules.make("eprop", feedback="symmetric"), inputs, targets, loss="mse", mask=mask
    )
    for name in ("w_in", "w_rec"):
        assert relative_error(theirs[name], expected[name]) <= 1e-12, name
        assert relative_error(theirs[name], ours[name]) > 0.05, name  # a different estimate
