"""The gridded network's gradient is exact for its own discrete map (central finite differences),
and approaches EventProp's continuous-time gradient as the step shrinks."""

import dataclasses

import numpy as np
import pytest
from conftest import load_benchmark

from locallearn import eventgrid, eventprop
from locallearn.config import ConfigError

NAMES = ("w_in", "w_rec", "w_out")


@pytest.mark.parametrize("recurrent", [False, True])
def test_the_gridded_gradient_equals_finite_differences_of_the_gridded_loss(recurrent):
    net, inputs = load_benchmark("dt_convergence").network(0)
    if not recurrent:
        net = dataclasses.replace(net, w_rec=None)
    exact = eventgrid.gradients(net, inputs, 100.0, 1, 0.5)
    assert exact["hidden_spikes"] > 3
    for name in [n for n in NAMES if getattr(net, n) is not None]:
        weights = getattr(net, name)
        numeric = np.zeros_like(weights)
        for index in np.ndindex(weights.shape):
            if name == "w_rec" and index[0] == index[1]:
                continue
            losses = []
            for sign in (1, -1):
                moved = weights.copy()
                moved[index] += sign * 1e-6
                result = eventgrid.gradients(dataclasses.replace(net, **{name: moved}), inputs, 100.0, 1, 0.5)
                assert result["hidden_spikes"] == exact["hidden_spikes"]
                losses.append(result["loss"])
            numeric[index] = (losses[0] - losses[1]) / 2e-6
        np.testing.assert_allclose(exact[name], numeric, atol=1e-8, rtol=1e-5, err_msg=name)


def test_the_gridded_gradient_approaches_eventprops_as_the_step_shrinks():
    bench = load_benchmark("dt_convergence")
    result = bench.errors(range(4), steps=(0.25, 0.05, 0.01))
    assert all(len(v) >= 3 for v in result.values())
    medians = [np.median(result[h]) for h in (0.25, 0.05, 0.01)]
    assert medians[2] < 2e-3 and medians[2] < medians[0] / 5
    assert bench.slope(result) > 0.5


def test_input_weights_converge_where_neurons_spike_more_than_once():
    # the post-reset membrane must follow from the interpolated spike time: with a reset at the
    # grid point (V' = 0) the input weights' gradient stopped converging on this network, whose
    # neurons spike up to four times
    net, inputs = load_benchmark("dt_convergence").network(0)
    exact = eventprop.gradients(net, inputs, 100.0, 1)
    hidden = exact["trajectory"].sources[exact["trajectory"].kinds == 1]
    assert np.bincount(hidden).max() >= 3
    grid = eventgrid.gradients(net, inputs, 100.0, 1, 0.01)
    error = np.linalg.norm(grid["w_in"] - exact["w_in"]) / np.linalg.norm(exact["w_in"])
    assert error < 1e-2


def test_bad_steps_and_readouts_are_refused():
    net, inputs = load_benchmark("dt_convergence").network(0)
    with pytest.raises(ConfigError, match="must divide"):
        eventgrid.gradients(net, inputs, 100.0, 1, 0.3)
    with pytest.raises(ConfigError, match="leaky readout"):
        eventgrid.gradients(dataclasses.replace(net, readout="first_spike"), inputs, 100.0, 1, 0.5)
