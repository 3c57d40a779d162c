"""Subnormal flushing (locallearn.numerics): the register is set inside, restored outside, and a
run that asks for it computes with it from its first step to its summary."""

import numba
import numpy as np
import pytest

import locallearn as ll
from locallearn import numerics
from locallearn.config import ConfigError
from locallearn.runs import execute, execute_lockstep, resolve

x86 = pytest.mark.skipif(not numerics.supported(), reason="the FTZ/DAZ register is x86-64's")
SUBNORMAL = np.float32(1e-39)


@numba.njit
def _times_one(x):
    return x * np.float32(1.0)


@x86
def test_flushes_inside_and_restores_outside():
    assert not numerics.flushing()
    assert _times_one(SUBNORMAL) == SUBNORMAL  # IEEE: a subnormal survives
    with numerics.flush_subnormals():
        assert numerics.flushing()
        assert _times_one(SUBNORMAL) == 0.0  # compiled code
        assert SUBNORMAL * np.float32(1.0) == 0.0  # and numpy
        assert np.float32(1e-30) * np.float32(2.0) == np.float32(2e-30)  # normal numbers untouched
    assert not numerics.flushing()
    assert _times_one(SUBNORMAL) == SUBNORMAL


@x86
def test_restored_after_an_error_and_disabled_changes_nothing():
    with pytest.raises(RuntimeError), numerics.flush_subnormals():
        raise RuntimeError("inside")
    assert not numerics.flushing()
    with numerics.flush_subnormals(False):
        assert not numerics.flushing()


def test_other_cpus_get_a_one_line_error(monkeypatch):
    monkeypatch.setattr(numerics.platform, "machine", lambda: "aarch64")
    numerics._register.cache_clear()
    try:
        with pytest.raises(ConfigError, match="x86-64.*aarch64"), numerics.flush_subnormals():
            pass
    finally:
        numerics._register.cache_clear()


def test_option_is_checked_and_absent_by_default():
    with pytest.raises(ConfigError, match="flush_subnormals must be true or false"):
        ll.NetworkConfig(n_in=2, n_rec=3, n_out=2, flush_subnormals=1)
    # runs that never set it resolve without it: their fingerprints are what they were
    assert "flush_subnormals" not in resolve({"task": "catch", "seed": 0})["network"]
    assert resolve({"task": "catch", "network": {"flush_subnormals": True}})["network"]["flush_subnormals"]


@x86
@pytest.mark.parametrize("flush", [False, True])
def test_a_run_computes_with_its_choice_throughout(tmp_path, flush):
    seen = []
    config = {
        "task": "catch",
        "seed": 0,
        "network": {"flush_subnormals": flush},
        "training": {"steps": 60, "eval_episodes": 2},
    }
    record = (lambda row: seen.append(numerics.flushing()),)
    summary = execute(config, tmp_path / "run", progress=False, callbacks=record)
    assert summary["status"] == "completed"
    assert seen and set(seen) == {flush}  # every episode row was written under the run's choice
    assert not numerics.flushing()  # and the caller's register is back
    stored = ll.io.read_json(tmp_path / "run" / "config.json")["network"]
    assert stored.get("flush_subnormals", False) is flush


def test_lockstep_refuses_mixed_choices_before_writing(tmp_path):
    configs = [
        {"task": "catch", "seed": s, "network": {"flush_subnormals": s == 1}, "training": {"steps": 20}}
        for s in (0, 1)
    ]
    outs = [tmp_path / "a", tmp_path / "b"]
    with pytest.raises(ConfigError, match="same network.flush_subnormals"):
        execute_lockstep(configs, outs, progress=False)
    assert not any(out.exists() for out in outs)


def test_lockstep_groups_keep_choices_apart():
    from locallearn.sweep import Cell, lockstep_groups

    flushed = {"network": {"flush_subnormals": True}}
    cells = [Cell("reward-eprop", "catch", s, overrides=flushed if s >= 2 else {}) for s in range(4)]
    assert [[c.seed for c in g] for g in lockstep_groups(cells, 4)] == [[0, 1], [2, 3]]
