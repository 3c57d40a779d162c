"""`locallearn pack`: an ended run's rows gzipped, read alike by every reader, resumed exactly."""

import gzip
import json

import numpy as np
import pytest

from locallearn import io, report
from locallearn.cli import main
from locallearn.runs import RunDirectoryError, execute
from locallearn.runs.directory import RunDirectory, pack

LIFE = {"task": "catch", "seed": 3, "training": {"steps": 400, "eval_episodes": 2, "checkpoint_every": 100}}


def _rows(run_dir):
    return [
        {k: v for k, v in r.items() if k != "wall_seconds"} for r in io.read_jsonl(run_dir / "metrics.jsonl")
    ]


def test_packed_rows_read_report_and_repack_alike(tmp_path, capsys):
    out = tmp_path / "sweep" / "run"
    execute(LIFE, out, progress=False)
    plain_rows, plain_report = io.read_jsonl(out / "metrics.jsonl"), report.report([str(out)])
    assert main(["pack", str(tmp_path / "sweep")]) == 0
    assert "1 ended run" in capsys.readouterr().out
    assert not (out / "metrics.jsonl").exists() and (out / "metrics.jsonl.gz").exists()
    assert io.read_jsonl(out / "metrics.jsonl") == plain_rows
    assert report.report([str(out)]) == plain_report
    assert main(["plot", str(out)]) == 0
    first = (out / "metrics.jsonl.gz").read_bytes()
    (out / "metrics.jsonl.gz").unlink()
    io.write_text(out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in plain_rows))
    io.pack_jsonl(out / "metrics.jsonl")
    assert (out / "metrics.jsonl.gz").read_bytes() == first  # no timestamp: equal rows, equal bytes
    assert gzip.decompress(first).decode().count("\n") == len(plain_rows)


def test_a_packed_interrupted_run_resumes_bit_for_bit_writing_plain_rows(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    execute(LIFE, whole, progress=False)

    def stop_after_a_checkpoint(row):
        if row.get("steps", 0) > 250:
            raise KeyboardInterrupt

    summary = execute(LIFE, cut, progress=False, callbacks=(stop_after_a_checkpoint,))
    assert summary["status"] == "interrupted"
    assert pack(cut) is not None and not (cut / "metrics.jsonl").exists()
    assert execute(None, cut, resume=True, progress=False)["status"] == "completed"
    assert (cut / "metrics.jsonl").exists() and not (cut / "metrics.jsonl.gz").exists()
    assert _rows(cut) == _rows(whole)
    with np.load(whole / "weights.npz") as a, np.load(cut / "weights.npz") as b:
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


def test_a_run_being_written_is_not_packed(tmp_path):
    out = tmp_path / "run"
    execute(LIFE, out, progress=False)
    with RunDirectory.reopen(out):
        with pytest.raises(RunDirectoryError, match="being written by pid"):
            pack(out)
    assert (out / "metrics.jsonl").exists()


def test_an_unended_run_and_a_missing_folder_are_left_alone(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    io.write_text(tmp_path / "run" / "metrics.jsonl", '{"episode": 0}\n')
    assert pack(tmp_path / "run") is None  # no summary.json: a run still going (or killed)
    assert (tmp_path / "run" / "metrics.jsonl").exists()
    assert main(["pack", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
