"""Against NEST's e-prop models (extra [peers]): the convention mapping of
benchmarks/nest_comparison.py makes the two agree on the same weights and inputs before learning.

NEST runs in its own process: its kernel does not share a process well with everything else the
test session has loaded (it crashed in ResetKernel there)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("nest")
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "nest_comparison.py"


def test_nest_and_locallearn_agree_before_learning():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--iterations", "1", "--batch", "4", "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    ours = result["locallearn"]["loss_per_iteration"][0]
    theirs = result["nest"]["loss_per_iteration"][0]
    assert 0.3 < theirs < 2.0
    assert abs(ours - theirs) / theirs < 0.05
