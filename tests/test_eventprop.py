"""EventProp: exact continuous-time gradients = central finite differences (spike count fixed)."""

import dataclasses

import numpy as np
import pytest

import locallearn as ll
from locallearn.config import ConfigError

eventprop = ll.reference.eventprop


def _problem(seed, recurrent, n_in=5, n_hidden=8, n_out=3, readout="leaky"):
    rng = np.random.default_rng(seed)
    w_rec = rng.normal(0, 0.5, (n_hidden, n_hidden)) if recurrent else None
    if w_rec is not None:
        np.fill_diagonal(w_rec, 0)
    spiking = readout == "first_spike"
    net = eventprop.EventNetwork(
        w_in=rng.normal(1.5 if spiking else 1.2, 0.8, (n_hidden, n_in)),
        w_out=rng.normal(1.5 if spiking else 0.0, 1, (n_out, n_hidden)),
        w_rec=w_rec,
        readout=readout,
        first_spike_loss=(5.0, 20.0, 0.01),
    )
    inputs = [np.sort(rng.uniform(0, 40 if spiking else 60, rng.integers(1, 4))) for _ in range(n_in)]
    return net, inputs


def _finite_differences(net, name, inputs, spikes, h=1e-6):
    weights = getattr(net, name)
    numeric = np.zeros_like(weights)
    for index in np.ndindex(weights.shape):
        if name == "w_rec" and index[0] == index[1]:
            continue
        losses = []
        for sign in (1, -1):
            moved = weights.copy()
            moved[index] += sign * h
            trajectory = eventprop.simulate(dataclasses.replace(net, **{name: moved}), inputs, 100.0, 1)
            assert len(trajectory.times) == spikes  # the perturbation kept the spike count
            losses.append(trajectory.loss)
        numeric[index] = (losses[0] - losses[1]) / (2 * h)
    return numeric


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("recurrent", [False, True])
@pytest.mark.parametrize("readout", ["leaky", "first_spike"])
def test_eventprop_gradient_equals_finite_differences(seed, recurrent, readout):
    net, inputs = _problem(seed, recurrent, readout=readout)
    exact = eventprop.gradients(net, inputs, 100.0, label=1)
    trajectory = exact["trajectory"]
    spikes = len(trajectory.times)  # input, hidden and output events alike
    assert trajectory.hidden_spikes >= 3
    if readout == "first_spike":
        assert np.all(trajectory.readout < 100.0)  # every output fired: each passes a gradient
    for name in ("w_in", "w_out") + (("w_rec",) if recurrent else ()):
        numeric = _finite_differences(net, name, inputs, spikes)
        assert np.linalg.norm(numeric) > 0
        error = np.linalg.norm(exact[name] - numeric) / np.linalg.norm(numeric)
        assert error <= 1e-6, (name, error)


def test_spike_times_are_threshold_crossings_and_memory_follows_spikes_not_time():
    net, inputs = _problem(0, True)
    short = eventprop.simulate(net, inputs, 100.0, 0)
    long = eventprop.simulate(net, inputs, 1000.0, 0)  # ten times the span, silent after 100 ms
    assert short.hidden_spikes == long.hidden_spikes > 0
    assert short.stored_floats == long.stored_floats == 4 * len(short.times)
    assert np.all(np.diff(short.times) >= 0)
    hidden = short.kinds == 1
    # at each hidden spike the crossing neuron's current drove it upwards through theta
    assert np.all(short.currents[hidden] > net.theta)


def test_a_membrane_that_rises_through_threshold_and_falls_back_spikes():
    # one strong input: V peaks above theta and decays below it before anything else happens
    net = eventprop.EventNetwork(w_in=np.array([[8.0]]), w_out=np.array([[1.0]]))  # peak 1.26
    trajectory = eventprop.simulate(net, [[1.0]], 200.0, 0)
    assert trajectory.hidden_spikes >= 1
    t = trajectory.times[1] - 1.0  # the first spike, after the input at 1 ms
    assert eventprop._voltage(0.0, 8.0, t, net) == pytest.approx(net.theta, abs=1e-12)


def test_bad_networks_and_inputs_are_refused():
    w_in, w_out = np.ones((3, 2)), np.ones((2, 3))
    with pytest.raises(ConfigError, match="tau_mem != tau_syn"):
        eventprop.EventNetwork(w_in, w_out, tau_mem=5.0, tau_syn=5.0)
    with pytest.raises(ConfigError, match="zero diagonal"):
        eventprop.EventNetwork(w_in, w_out, w_rec=np.ones((3, 3)))
    with pytest.raises(ConfigError, match="columns"):
        eventprop.EventNetwork(w_in, np.ones((2, 4)))
    with pytest.raises(ConfigError, match="readout"):
        eventprop.EventNetwork(w_in, w_out, readout="max")
    with pytest.raises(ValueError, match="must lie in"):
        eventprop.simulate(eventprop.EventNetwork(w_in, w_out), [[5.0], [120.0]], 100.0, 0)


@pytest.mark.parametrize("readout", ["leaky", "first_spike"])
@pytest.mark.parametrize("recurrent", [False, True])
def test_the_compiled_event_loop_and_adjoint_equal_the_reference(readout, recurrent):
    for seed in range(3):
        net, inputs = _problem(seed, recurrent, readout=readout)
        reference = eventprop.gradients(net, inputs, 100.0, 1)
        compiled = eventprop.gradients(net, inputs, 100.0, 1, backend="numba")
        a, b = reference["trajectory"], compiled["trajectory"]
        np.testing.assert_array_equal(a.kinds, b.kinds)
        np.testing.assert_array_equal(a.sources, b.sources)
        np.testing.assert_allclose(b.times, a.times, rtol=0, atol=1e-11)
        np.testing.assert_allclose(b.readout, a.readout, rtol=1e-11)
        assert b.loss == pytest.approx(a.loss, rel=1e-12)
        for name in ("w_in", "w_out", "w_rec") if recurrent else ("w_in", "w_out"):
            np.testing.assert_allclose(compiled[name], reference[name], rtol=1e-9, atol=1e-14, err_msg=name)


def test_the_compiled_loop_grows_its_event_arrays_when_a_sample_needs_it():
    net, _ = _problem(0, True)
    net = dataclasses.replace(net, w_in=np.abs(net.w_in) * 10)  # strongly driven: many spikes
    busy = [np.linspace(0.5, 99.5, 400) for _ in range(5)]  # 2,000 input events
    a = eventprop.simulate(net, busy, 100.0, 0)
    b = eventprop.simulate(net, busy, 100.0, 0, backend="numba")
    first_capacity = 2000 + 16 * (net.n_hidden + net.n_out) + 256
    assert len(b.times) == len(a.times) > first_capacity
    np.testing.assert_array_equal(a.sources, b.sources)
    with pytest.raises(ConfigError, match="backend"):
        eventprop.simulate(net, busy, 100.0, 0, backend="jax")


def test_the_yinyang_benchmark_trains_and_writes_its_table(tmp_path):
    from conftest import load_benchmark

    bench = load_benchmark("eventprop_yinyang")
    train, test = bench.points(0, "train", 30), bench.points(0, "test", 30)
    assert not np.isin(train[0][:, 0], test[0][:, 0]).any()  # disjoint streams
    assert sorted(np.bincount(train[1])) == [10, 10, 10]  # balanced classes
    out = tmp_path / "yinyang.json"
    bench.main(
        [
            "--seeds",
            "0",
            "--hidden",
            "30",
            "--epochs",
            "2",
            "--train",
            "150",
            "--test",
            "60",
            "--out",
            str(out),
        ]
    )
    from locallearn import io

    data = io.read_json(out)
    curve = data["runs"][0]["curve"]
    assert len(curve) == 2 and curve[1]["loss"] < curve[0]["loss"]
    assert 0.0 <= data["runs"][0]["test_accuracy"] <= 1.0


def test_the_yinyang_benchmark_tests_the_network_of_its_best_validation_epoch():
    from conftest import load_benchmark

    bench = load_benchmark("eventprop_yinyang")
    seen = []
    # at this step size the validation accuracy peaks at epoch 4 of 5 (0.5, then 0.3)
    result = bench.train(0, hidden=20, epochs=5, n_train=60, n_test=30, lr=5e-2, progress=seen.append)
    best = max(range(5), key=lambda k: (seen[k]["validation"], -k))
    assert best < 4
    assert result["epoch"] == best + 1 and result["validation_accuracy"] == seen[best]["validation"]
    # the network tested is that epoch's, not the last one's (which shares its arrays)
    assert bench.accuracy(result["network"], bench.points(0, "validation", 30)) == seen[best]["validation"]
