"""Spikes across learning: chosen neurons of a lifetime's network over chosen windows of its
steps — or of a supervised run's network on fixed probe trials after chosen numbers of training
trials — with the task's context, written as Neo blocks in NIX files (issue 21).

A lifetime's configuration may hold a ``record`` section::

    [record]
    windows = [[0, 2000], [100000, 102000], [198000, 200000]]   # environment steps, [start, stop)
    neurons = 20            # the first 20 neurons of the top layer; or a list of ids; default all

Inside a window every micro-step's spikes of those neurons are kept sparsely (memory in
proportion to the spikes of one window), and every environment step's context: the action taken
(at its decision micro-step), the reward received and the ends of episodes (with the episode's
return and whether it finished). When a window closes it is written to
``recording/window-<k>.nix`` in the run directory — one ``neo.Block`` with one ``Segment``: a
``SpikeTrain`` per neuron (annotated with its id; times in ms, one micro-step = ``dt_ms``) and
``Event`` objects "action", "reward", "episode_end". Neo's ``NixIO`` reads it back, and so does
any NIX reader (nixio in Python, NIX in C++, the NIX MATLAB bindings) without this package.

Why NIX and not NWB: Neo is what Elephant reads, and NIX is Neo's own lossless format (spike
trains, events, annotations all round-trip), with nothing to map; NWB would need a schema choice
for a simulated network's units and a dependency (pynwb) the analysis does not use.

A supervised run's ``record`` section names training-trial counts instead::

    [record]
    trials = [0, 100, 1000]   # probe before any training, after 100 and after 1000 trials
    probe_trials = 16         # fresh trials (the "probe_trials" stream), the same at every probe
    neurons = 20

At each count a copy of the network, weights frozen and state reset per trial, runs the probe
trials; ``recording/window-<k>.nix`` holds one ``Segment`` per probe trial (its spike trains,
annotated with the trial's label) — training is untouched (tested bit for bit).

Recording changes nothing in the lifetime: inside a window the micro-steps are stepped one by
one (so that each one's spikes can be read) instead of in one compiled call, which is the same
arithmetic (tested bit for bit against an unrecorded lifetime). A window's buffers are part of the
lifetime's checkpoints, so a killed run resumes mid-window and writes the same file. The
micro-steps of a truncated episode's bootstrap (after its last step) are not recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .analysis import SpikeRecorder, to_neo
from .config import ConfigError

FOLDER = "recording"


def _neo():
    try:
        import neo
        import nixio  # noqa: F401  (Neo's NixIO needs it)
        import quantities as pq
    except ModuleNotFoundError as error:
        raise ConfigError(
            "recording writes NIX files through Neo: pip install -e '.[analysis]' (neo, nixio, quantities)"
        ) from error
    return neo, pq


@dataclass(frozen=True)
class RecordConfig:
    """Which environment steps (``windows``: [start, stop) pairs, ascending, not overlapping)
    and which neurons of the top layer (``neurons``: a count of the first ones, a list of ids,
    or None for all) a lifetime records."""

    windows: list = field(default_factory=list)
    neurons: int | list | None = None
    dt_ms: float = 1.0

    def __post_init__(self):
        if not isinstance(self.windows, list | tuple) or not self.windows:
            raise ConfigError("record.windows must be a non-empty list of [start, stop] step pairs")
        previous = 0
        for window in self.windows:
            if (
                not isinstance(window, list | tuple)
                or len(window) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in window)
            ):
                raise ConfigError(f"record.windows: each window is [start, stop] in steps, got {window!r}")
            start, stop = window
            if start < previous or stop <= start:
                raise ConfigError(
                    f"record.windows must ascend without overlapping, each start < stop; got {window!r}"
                )
            previous = stop
        if self.neurons is not None:
            ok = (
                isinstance(self.neurons, int) and not isinstance(self.neurons, bool) and self.neurons >= 1
            ) or (
                isinstance(self.neurons, list | tuple)
                and self.neurons
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in self.neurons)
                and len(set(self.neurons)) == len(self.neurons)
            )
            if not ok:
                raise ConfigError(
                    "record.neurons must be a count >= 1, a list of distinct neuron ids, or "
                    f"absent; got {self.neurons!r}"
                )
        if not isinstance(self.dt_ms, int | float) or isinstance(self.dt_ms, bool) or self.dt_ms <= 0:
            raise ConfigError(f"record.dt_ms must be a positive number of milliseconds, got {self.dt_ms!r}")

    def neuron_ids(self, n_neurons: int) -> list[int]:
        return neuron_ids(self.neurons, n_neurons)


def neuron_ids(neurons, n_neurons: int) -> list[int]:
    """The recorded ids (``neurons``: None, a count or a list), checked against the layer's size."""
    if neurons is None:
        return list(range(n_neurons))
    ids = list(range(neurons)) if isinstance(neurons, int) else list(neurons)
    if max(ids) >= n_neurons:
        raise ConfigError(f"record.neurons asks for neuron {max(ids)}; the top layer has {n_neurons}")
    return ids


@dataclass(frozen=True)
class ProbeConfig:
    """When a supervised run probes its network (``trials``: ascending counts of training trials,
    0 = before training), on how many fixed fresh trials, and which neurons of the top layer."""

    trials: list = field(default_factory=list)
    probe_trials: int = 16
    neurons: int | list | None = None

    def __post_init__(self):
        if not isinstance(self.trials, list | tuple) or not self.trials:
            raise ConfigError("record.trials must be a non-empty list of training-trial counts")
        if not all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in self.trials) or list(
            self.trials
        ) != sorted(set(self.trials)):
            raise ConfigError(
                f"record.trials must be distinct counts >= 0 in ascending order, got {self.trials!r}"
            )
        if (
            isinstance(self.probe_trials, bool)
            or not isinstance(self.probe_trials, int)
            or self.probe_trials < 1
        ):
            raise ConfigError(f"record.probe_trials must be an integer >= 1, got {self.probe_trials!r}")
        RecordConfig(windows=[[0, 1]], neurons=self.neurons)  # the same rules for neurons

    def neuron_ids(self, n_neurons: int) -> list[int]:
        return neuron_ids(self.neurons, n_neurons)


def probe_network(net, task, trials: list, neurons, dt_ms: float, index: int, at_trial: int, config, run_dir):
    """Run ``trials`` through a frozen copy of ``net`` and write ``recording/window-<index>.nix``."""
    import copy

    neo, pq = _neo()
    net = copy.deepcopy(net)
    ids = np.asarray(neurons, np.int64)
    block = neo.Block(
        name=f"window {index}",
        description=f"{len(trials)} probe trials after {at_trial} training trials, weights frozen",
        task=config["task"]["name"],
        rule=config["rule"]["name"],
        seed=int(config["seed"]),
        after_trials=int(at_trial),
        dt_ms=float(dt_ms),
    )
    for number, trial in enumerate(trials):
        net.reset_state()
        spikes = net.simulate(trial.inputs)["z"][:, ids]
        steps, columns = np.nonzero(spikes)
        segment = neo.Segment(name=f"probe trial {number}")
        if trial.label is not None:
            segment.annotate(label=int(trial.label))
        _add_trains(segment, to_neo(steps, columns, len(ids), spikes.shape[0], dt_ms), ids)
        block.segments.append(segment)
    return _write_block(block, run_dir, index)


def _add_trains(segment, trains, neurons) -> None:
    """The spike trains into ``segment``, each named and annotated with its neuron's id."""
    for train, neuron in zip(trains, neurons):
        train.name = f"neuron {int(neuron)}"
        train.annotate(neuron=int(neuron))
        segment.spiketrains.append(train)


def _write_block(block, run_dir, index: int) -> Path:
    """``block`` as ``recording/window-<index>.nix`` in ``run_dir`` (replacing it)."""
    neo, _ = _neo()
    folder = Path(run_dir) / FOLDER
    folder.mkdir(exist_ok=True)
    path = folder / f"window-{index}.nix"
    io = neo.NixIO(str(path), mode="ow")
    try:
        io.write_block(block)
    finally:
        io.close()
    return path


class LifetimeRecording:
    """The recorder of one lifetime: call :meth:`covers` before an environment step, pass
    :meth:`probe` to the agent for that step's micro-steps, then :meth:`note` and
    :meth:`step_done` after it."""

    def __init__(self, section: dict, n_neurons: int, micro_steps: int, run_dir: str | Path):
        config = RecordConfig(**section)
        self.windows = [list(w) for w in config.windows]
        self.neurons = np.asarray(config.neuron_ids(n_neurons), np.int64)
        self.micro_steps, self.dt_ms = micro_steps, float(config.dt_ms)
        self.run_dir = str(run_dir)
        self.window = -1  # the index of the window being recorded (-1: none)
        self._clear()

    def _clear(self) -> None:
        self.spikes = SpikeRecorder(len(self.neurons), self.dt_ms)
        self.actions: list[int] = []
        self.rewards: list[float] = []
        self.episode_ends: list[list] = []  # [step in window, return, finished]

    def covers(self, position: int) -> bool:
        """Whether environment step ``position`` (0-based) is recorded; opens its window."""
        if self.window >= 0:
            return True
        for k, (start, stop) in enumerate(self.windows):
            if start <= position < stop:
                if position != start:  # a run resumed past a window's start has its buffers
                    return False
                self.window = k
                self._clear()
                return True
        return False

    def probe(self, z: np.ndarray) -> None:
        """One micro-step's spikes of the top layer."""
        self.spikes.record(z[self.neurons])

    def note(self, action: int, reward: float, episode_return: float | None, finished: bool) -> None:
        """The step's context; ``episode_return`` is given when the step ended an episode."""
        self.actions.append(int(action))
        self.rewards.append(float(reward))
        if episode_return is not None:
            self.episode_ends.append([len(self.actions) - 1, float(episode_return), bool(finished)])

    def step_done(self, position: int, config: dict) -> Path | None:
        """After environment step ``position - 1``: close and write the window when it ends
        there; returns the file written."""
        if self.window < 0 or position < self.windows[self.window][1]:
            return None
        path = write_window(self, config)
        self.window = -1
        self._clear()
        return path


def write_window(recording: LifetimeRecording, config: dict) -> Path:
    """The open window of ``recording`` as ``recording/window-<k>.nix``."""
    neo, pq = _neo()
    k, (start, stop) = recording.window, recording.windows[recording.window]
    dt, micro = recording.dt_ms, recording.micro_steps
    steps = recording.spikes.steps
    block = neo.Block(
        name=f"window {k}",
        description=f"environment steps [{start}, {stop}) of a lifetime, {micro} micro-steps each",
        task=config["task"]["name"],
        rule=config["rule"]["name"],
        seed=int(config["seed"]),
        first_step=int(start),
        last_step=int(stop - 1),
        micro_steps=int(micro),
        dt_ms=dt,
    )
    segment = neo.Segment(name=f"steps {start}-{stop - 1}")
    trains = to_neo(recording.spikes.times, recording.spikes.ids, len(recording.neurons), steps, dt)
    _add_trains(segment, trains, recording.neurons)
    decisions = (np.arange(len(recording.actions)) * micro + micro - 1) * dt
    segment.events.append(
        neo.Event(
            decisions * pq.ms,
            labels=np.array([str(a) for a in recording.actions]),
            name="action",
            description="the action chosen at the step's decision micro-step",
        )
    )
    rewarded = np.flatnonzero(np.asarray(recording.rewards) != 0)
    segment.events.append(
        neo.Event(
            (rewarded * micro + micro) * dt * pq.ms,
            labels=np.array([repr(recording.rewards[i]) for i in rewarded]),
            name="reward",
            description="a non-zero reward, received after the step (label: its value)",
        )
    )
    ends = recording.episode_ends
    segment.events.append(
        neo.Event(
            np.array([(e[0] * micro + micro) * dt for e in ends], float) * pq.ms,
            labels=np.array([f"{e[1]!r} {'finished' if e[2] else 'cut'}" for e in ends]),
            name="episode_end",
            description="an episode ended after this step (label: its return; finished, or cut "
            "by a step limit)",
        )
    )
    block.segments.append(segment)
    return _write_block(block, recording.run_dir, k)


def read_window(path: str | Path):
    """The ``neo.Block`` of a recorded window."""
    neo, _ = _neo()
    io = neo.NixIO(str(path), mode="ro")
    try:
        return io.read_block(lazy=False)
    finally:
        io.close()


def windows(run_dir: str | Path) -> list[Path]:
    """The recorded windows of a run, in order."""
    folder = Path(run_dir) / FOLDER
    paths = sorted(folder.glob("window-*.nix"), key=lambda p: int(p.stem.split("-")[1]))
    return paths


def _segment_raster(segment, dt: float, steps: int) -> tuple[np.ndarray, list[int]]:
    ids = [int(train.annotations["neuron"]) for train in segment.spiketrains]
    dense = np.zeros((steps, len(ids)), np.float32)
    for column, train in enumerate(segment.spiketrains):
        index = np.rint(train.rescale("ms").magnitude / dt).astype(np.int64)
        dense[index[index < steps], column] = 1
    return dense, ids


def probe_rasters(block) -> tuple[list[np.ndarray], list[int], float]:
    """(one steps x neurons raster per probe trial, neuron ids, dt) of a supervised run's window."""
    dt = float(block.annotations["dt_ms"])
    rasters, ids = [], []
    for segment in block.segments:
        steps = int(round(float(segment.spiketrains[0].t_stop.rescale("ms").magnitude) / dt))
        dense, ids = _segment_raster(segment, dt, steps)
        rasters.append(dense)
    return rasters, ids, dt


def raster(block) -> tuple[np.ndarray, list[int], float]:
    """(steps x neurons 0/1 raster, neuron ids, dt in ms) of a recorded window's block (a
    supervised run's probe trials one after the other)."""
    note = block.annotations
    if "after_trials" in note:
        rasters, ids, dt = probe_rasters(block)
        return np.concatenate(rasters), ids, dt
    dt, micro = float(note["dt_ms"]), int(note["micro_steps"])
    steps = (int(note["last_step"]) - int(note["first_step"]) + 1) * micro
    dense, ids = _segment_raster(block.segments[0], dt, steps)
    return dense, ids, dt
