"""Recording spikes across a lifetime (issue 21): the lifetime is unchanged by it, the NIX files
hold what was recorded and open without this package, a killed run resumes mid-window."""

import numpy as np
import pytest

from locallearn import io, recording
from locallearn.config import ConfigError
from locallearn.runs import execute, resolve
from locallearn.runs.lifetime import LifetimeSchedule

pytest.importorskip("neo", reason="needs the [analysis] extra")
pytest.importorskip("nixio", reason="needs the [analysis] extra")

WINDOWS = [[0, 200], [500, 800]]


def _config(record: dict | None = None, **network) -> dict:
    config = {
        "task": "catch",
        "seed": 3,
        "network": {"n_adaptive": 10, **network},
        "training": {"steps": 900, "checkpoint_every": 300, "eval_episodes": 0},
    }
    if record is not None:
        config["record"] = record
    return config


def _events(block) -> dict:
    return {
        e.name: (np.asarray(e.times.rescale("ms").magnitude), list(e.labels))
        for e in block.segments[0].events
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_recorded_lifetime_equals_an_unrecorded_one(tmp_path, dtype):
    recorded = execute(_config({"windows": WINDOWS}, dtype=dtype), tmp_path / "rec", progress=False)
    plain = execute(_config(dtype=dtype), tmp_path / "plain", progress=False)
    assert recorded["value"] == plain["value"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_seconds"} for r in rows]  # noqa: E731
    assert strip(io.read_jsonl(tmp_path / "rec" / "metrics.jsonl")) == strip(
        io.read_jsonl(tmp_path / "plain" / "metrics.jsonl")
    )
    with np.load(tmp_path / "rec" / "weights.npz") as a, np.load(tmp_path / "plain" / "weights.npz") as b:
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    paths = recording.windows(tmp_path / "rec")
    assert [p.name for p in paths] == ["window-0.nix", "window-1.nix"]
    block = recording.read_window(paths[1])
    raster, ids, dt = recording.raster(block)
    assert raster.shape == (300 * 5, 50) and ids == list(range(50)) and dt == 1.0
    assert 0 < raster.mean() < 0.5
    events = _events(block)
    assert len(events["action"][0]) == 300 and set(events["action"][1]) <= {"0", "1", "2"}
    # Catch: an episode is 9 steps and ends with reward +-1
    assert len(events["episode_end"][0]) == len(events["reward"][0]) >= 300 // 9
    assert set(events["reward"][1]) <= {"1.0", "-1.0"}
    assert block.annotations["first_step"] == 500 and block.annotations["micro_steps"] == 5


def test_a_subset_of_neurons_is_those_columns_of_the_whole_layer(tmp_path):
    execute(_config({"windows": WINDOWS}), tmp_path / "all", progress=False)
    execute(_config({"windows": WINDOWS, "neurons": [7, 3, 40]}), tmp_path / "some", progress=False)
    whole, _, _ = recording.raster(recording.read_window(recording.windows(tmp_path / "all")[0]))
    part, ids, _ = recording.raster(recording.read_window(recording.windows(tmp_path / "some")[0]))
    assert ids == [7, 3, 40]
    np.testing.assert_array_equal(part, whole[:, [7, 3, 40]])


def test_the_file_holds_what_was_recorded_and_nixio_reads_it_alone(tmp_path):
    import nixio

    rec = recording.LifetimeRecording({"windows": [[10, 14]], "neurons": [2, 5]}, 8, 3, tmp_path)
    rng = np.random.default_rng(0)
    assert not rec.covers(9) and rec.covers(10)
    spikes = (rng.random((12, 8)) < 0.3).astype(np.float32)
    for step in range(4):
        for micro in range(3):
            rec.probe(spikes[step * 3 + micro])
        rec.note(
            action=step % 3,
            reward=[0.0, 1.0, 0.0, -1.0][step],
            episode_return=1.0 if step == 1 else None,
            finished=True,
        )
        written = rec.step_done(11 + step, {"task": {"name": "catch"}, "rule": {"name": "x"}, "seed": 0})
    assert written == tmp_path / "recording" / "window-0.nix"
    raster, ids, dt = recording.raster(recording.read_window(written))
    np.testing.assert_array_equal(raster, spikes[:, [2, 5]])
    events = _events(recording.read_window(written))
    np.testing.assert_array_equal(events["action"][0], [2.0, 5.0, 8.0, 11.0])
    assert events["action"][1] == ["0", "1", "2", "0"]
    assert events["reward"] == (pytest.approx([6.0, 12.0]), ["1.0", "-1.0"])
    assert events["episode_end"][1] == ["1.0 finished"]
    nix = nixio.File.open(str(written), nixio.FileMode.ReadOnly)  # no Neo, no locallearn
    try:
        trains = [mt for mt in nix.blocks[0].multi_tags if mt.type == "neo.spiketrain"]
        assert len(trains) == 2
        assert sum(len(mt.positions[:]) for mt in trains) == int(spikes[:, [2, 5]].sum())
    finally:
        nix.close()


def test_a_run_killed_inside_a_window_resumes_to_the_same_file(tmp_path, monkeypatch):
    execute(_config({"windows": WINDOWS}), tmp_path / "whole", progress=False)
    advance = LifetimeSchedule.advance

    def interrupted(self, limit):
        if self.position >= 600:  # at the checkpoint at 600, inside window [500, 800)
            raise KeyboardInterrupt
        return advance(self, limit)

    monkeypatch.setattr(LifetimeSchedule, "advance", interrupted)
    assert (
        execute(_config({"windows": WINDOWS}), tmp_path / "killed", progress=False)["status"] == "interrupted"
    )
    monkeypatch.setattr(LifetimeSchedule, "advance", advance)
    assert len(recording.windows(tmp_path / "killed")) == 1
    assert execute(None, tmp_path / "killed", resume=True, progress=False)["status"] == "completed"
    for k in range(2):
        a = recording.read_window(recording.windows(tmp_path / "whole")[k])
        b = recording.read_window(recording.windows(tmp_path / "killed")[k])
        np.testing.assert_array_equal(recording.raster(a)[0], recording.raster(b)[0])
        assert _events(a).keys() == _events(b).keys()
        for name in _events(a):
            np.testing.assert_array_equal(_events(a)[name][0], _events(b)[name][0])
            assert _events(a)[name][1] == _events(b)[name][1]


def test_recording_is_absent_from_a_configuration_that_does_not_ask_for_it():
    assert "record" not in resolve(_config())
    assert resolve(_config({"windows": WINDOWS}))["record"] == {
        "windows": WINDOWS,
        "neurons": None,
        "dt_ms": 1.0,
    }


@pytest.mark.parametrize(
    "record, message",
    [
        ({"windows": []}, "non-empty list"),
        ({"windows": [[0, 100], [50, 200]]}, "without overlapping"),
        ({"windows": [[0, 1000]]}, "ends after the lifetime's 900 steps"),
        ({"windows": [[0, 100]], "neurons": 51}, "the top layer has 50"),
        ({"windows": [[0, 100]], "neurons": [1, 1]}, "distinct"),
        ({"windows": [[0, 100]], "colour": 1}, "record key"),
    ],
)
def test_bad_recording_options_are_named(record, message):
    with pytest.raises(ConfigError, match=message):
        resolve(_config(record))


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory):
    pytest.importorskip("elephant", reason="needs the [analysis] extra")
    out = tmp_path_factory.mktemp("analyse") / "run"
    execute(_config({"windows": WINDOWS, "neurons": 16}), out, progress=False)
    return out


@pytest.mark.parametrize("method", ["cubic", "synchrony", "spade", "cad", "ue"])
def test_analyse_writes_a_table_and_a_figure_per_method(recorded_run, method, capsys):
    from locallearn.cli import main

    options = ["--option", "n_surrogates=10"] if method == "spade" else []
    assert main(["analyse", str(recorded_run), "--method", method, *options, "--workers", "2"]) == 0
    assert "| window | steps |" in capsys.readouterr().out
    result = io.read_json(recorded_run / "analysis" / f"{method}.json")
    assert [w["window"] for w in result["windows"]] == [0, 1]
    assert [w["first_step"] for w in result["windows"]] == [0, 500]
    assert (recorded_run / "analysis" / f"{method}.png").stat().st_size > 0


def test_analyse_on_chosen_windows_and_neurons_equals_the_pattern_function(recorded_run):
    from locallearn import analyse, patterns

    result = analyse.analyse_run(recorded_run, "cubic", windows=[1], neurons=[3, 4, 5, 6, 7, 8])
    raster, ids, dt = recording.raster(recording.read_window(recording.windows(recorded_run)[1]))
    direct = patterns.cubic(raster[:, 3:9], dt_ms=dt)
    assert result["windows"] == [
        {
            "window": 1,
            "first_step": 500,
            "last_step": 799,
            "neurons": [3, 4, 5, 6, 7, 8],
            "xi": direct.xi,
            "p_values": direct.p_values,
        }
    ]


def test_synchrony_of_a_window_with_fewer_than_two_spiking_neurons_is_undefined_not_an_error(recorded_run):
    from locallearn import analyse

    raster, ids, _ = recording.raster(recording.read_window(recording.windows(recorded_run)[0]))
    chosen = [ids[c] for c in np.flatnonzero(raster.sum(axis=0))[:1]]  # one neuron that spikes
    result = analyse.analyse_run(recorded_run, "synchrony", windows=[0], neurons=chosen)
    assert result["windows"][0]["spike_contrast"] is None
    assert result["windows"][0]["spiking_neurons"] == 1
    assert "undefined (1 neuron(s) spike)" in analyse.table(result)


def test_analyse_names_bad_requests(recorded_run, tmp_path):
    from locallearn import analyse

    with pytest.raises(ConfigError, match="window 5 was not recorded"):
        analyse.analyse_run(recorded_run, "cubic", windows=[5])
    with pytest.raises(ConfigError, match="neuron 30 was not recorded"):
        analyse.analyse_run(recorded_run, "cubic", neurons=[1, 30])
    with pytest.raises(ConfigError, match="spade option"):
        analyse.analyse_run(recorded_run, "spade", options={"surrogates": 5})
    with pytest.raises(ConfigError, match="method"):
        analyse.analyse_run(recorded_run, "gpfa")
    execute(_config(), tmp_path / "plain", progress=False)
    with pytest.raises(ConfigError, match="no recorded windows"):
        analyse.analyse_run(tmp_path / "plain", "cubic")


SUPERVISED = {
    "task": {"name": "evidence", "n_cues": 3, "seq_len": 700},
    "seed": 1,
    "network": {"n_rec": 30, "n_adaptive": 10},
    "training": {"n_trials": 12, "eval_every": 6, "validation_trials": 8, "test_trials": 8, "target": None},
}


def test_a_supervised_run_probed_during_training_trains_as_without_probes(tmp_path):
    probed = execute(
        {**SUPERVISED, "record": {"trials": [0, 6, 12], "probe_trials": 3, "neurons": [0, 5, 29]}},
        tmp_path / "probed",
        progress=False,
    )
    plain = execute(SUPERVISED, tmp_path / "plain", progress=False)
    assert probed["value"] == plain["value"]
    with np.load(tmp_path / "probed" / "weights.npz") as a, np.load(tmp_path / "plain" / "weights.npz") as b:
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    blocks = [recording.read_window(p) for p in recording.windows(tmp_path / "probed")]
    assert [int(b.annotations["after_trials"]) for b in blocks] == [0, 6, 12]
    labels = [[int(s.annotations["label"]) for s in b.segments] for b in blocks]
    assert labels[0] == labels[1] == labels[2] and len(labels[0]) == 3  # the same probe trials
    rasters, ids, dt = recording.probe_rasters(blocks[2])
    assert ids == [0, 5, 29] and len(rasters) == 3 and rasters[0].shape == (700, 3)
    # the probe is the network as trained: its spikes on a probe trial, simulated here again
    from locallearn import streams, timing

    net, task, config = timing.load_network(tmp_path / "probed")
    trial = task.trial(streams.generator(1, "probe_trials"))
    net.reset_state()
    np.testing.assert_array_equal(net.simulate(trial.inputs)["z"][:, [0, 5, 29]], rasters[0])


def test_analyse_a_supervised_runs_probes(tmp_path):
    from locallearn import analyse

    execute(
        {**SUPERVISED, "record": {"trials": [0, 12], "probe_trials": 4}}, tmp_path / "run", progress=False
    )
    cubic = analyse.analyse_run(tmp_path / "run", "cubic")
    assert [w["after_trials"] for w in cubic["windows"]] == [0, 12]
    assert "| window | after trials |" in analyse.table(cubic)
    ue = analyse.analyse_run(tmp_path / "run", "ue", neurons=[0, 1])
    assert [w["trials"] for w in ue["windows"]] == [4, 4] and ue["windows"][0]["trial_ms"] == 700


@pytest.mark.parametrize(
    "record, message",
    [
        ({"trials": [6, 0]}, "ascending"),
        ({"trials": [0, 20]}, "beyond the run's 12 trials"),
        ({"trials": [0], "probe_trials": 0}, "probe_trials"),
        ({"trials": [0], "neurons": 31}, "the top layer has 30"),
    ],
)
def test_bad_supervised_recording_options_are_named(record, message):
    with pytest.raises(ConfigError, match=message):
        resolve({**SUPERVISED, "record": record})
