"""The run directory: one folder per run, written by one process at a time, never mixed.

* A new run refuses a folder that already holds a run ("resume it or choose another --out") and a
  non-empty folder that is not a run (a user's folder) unless ``force``; even then no file is
  replaced or deleted: the run refuses if any file it writes is already there.
* Default names are unique: ``runs/<task>-<rule>-seed<s>-<date-time>`` is created with an
  exclusive ``mkdir``; two runs started in the same second get ``…-2``, ``…-3``.
* While a process writes the folder it holds an exclusive lock (``run.lock``, ``flock``): a second
  writer — another run, or ``--resume`` of a run still going — fails at once, naming the holder's
  pid. The lock goes with the process, so a killed run can be resumed.
* Resuming continues the stored ``config.json``; options given again must equal the stored ones
  (:func:`changed_options` lists those that differ, which the caller refuses).
* Directories written by earlier versions (``checkpoint.pkl``, a pickle) are refused with a
  message, never unpickled.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from pathlib import Path

from .. import io
from ..config import ConfigError

LOCK = "run.lock"
# every file a run may write; with --force a folder holding any of them is still refused
OWN_FILES = (
    "config.json",
    "metrics.jsonl",
    "metrics.jsonl.gz",
    "summary.json",
    "weights.npz",
    "checkpoint.npz",
    "checkpoint.pending.npz",
    "checkpoint.json",
    "learning_curve.png",
    "output_vs_target.png",
    LOCK,
)


class RunDirectoryError(ConfigError):
    """The folder cannot be used for this run; the message says why and what to do."""


def default_path(task: str, label: str, seed: int, root: str | Path = "runs") -> Path:
    """A fresh folder ``root/<task>-<label>-seed<seed>-<YYYYmmdd-HHMMSS>[-k]``, created
    exclusively so that two runs never share it."""
    stem = f"{task}-{label.replace(':', '-')}-seed{seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    Path(root).mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        path = Path(root) / (stem if k == 1 else f"{stem}-{k}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunDirectoryError(f"no free run name under {root} for {stem}")


class RunDirectory:
    """An open run folder holding the writer's lock; use as a context manager."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock_handle = None
        self._rows_handle = None  # metrics.jsonl, kept open while rows are appended

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(cls, path: str | Path, config: dict, force: bool = False) -> RunDirectory:
        """A new run in ``path`` (created if needed) holding ``config.json``."""
        path = Path(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise RunDirectoryError(f"{path} exists and is not a folder") from None
        except OSError as error:
            raise RunDirectoryError(f"cannot create {path}: {error.strerror}") from None
        directory = cls(path)
        directory._lock()
        try:
            directory._check_empty(force)
            io.write_json(path / "config.json", config)
        except BaseException:
            directory.release()
            raise
        return directory

    @classmethod
    def reopen(cls, path: str | Path) -> RunDirectory:
        """An existing run, to be resumed (its own ``config.json`` is the configuration)."""
        path = Path(path)
        if (path / "checkpoint.pkl").exists():
            raise RunDirectoryError(
                f"{path} was written by an older locallearn (checkpoint.pkl, a pickle of live "
                "objects, which is never loaded: it could run code); start a new run"
            )
        if not (path / "config.json").exists():
            raise RunDirectoryError(f"{path} is not a run directory (no config.json) to resume")
        directory = cls(path)
        directory._lock()
        return directory

    def _check_empty(self, force: bool) -> None:
        present = sorted(p.name for p in self.path.iterdir() if p.name != LOCK)
        if not present:
            return
        if (self.path / "config.json").exists():
            raise RunDirectoryError(
                f"{self.path} already holds a run; resume it with "
                f"--resume {self.path} or choose another --out"
            )
        if not force:
            shown = ", ".join(present[:3]) + (", …" if len(present) > 3 else "")
            raise RunDirectoryError(
                f"{self.path} is not empty ({shown}) and is not a run; choose "
                "another --out, or --force to write beside those files"
            )
        clashes = [name for name in OWN_FILES if name in present]
        if clashes:
            raise RunDirectoryError(
                f"{self.path} holds {', '.join(clashes)}, which a run would "
                "replace; --force never replaces files: choose another --out"
            )

    # ------------------------------------------------------------------ the lock
    def _lock(self) -> None:
        lock_path = self.path / LOCK
        try:
            handle = open(lock_path, "a+")
        except OSError as error:
            raise RunDirectoryError(f"cannot write in {self.path}: {error.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            if error.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RunDirectoryError(
                    f"{self.path} is being written by {holder}; wait for it to finish or choose another --out"
                ) from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        self._lock_handle = handle

    def release(self) -> None:
        self._close_rows()
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def __enter__(self) -> RunDirectory:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # ------------------------------------------------------------------ contents
    @property
    def config(self) -> dict:
        return io.read_json(self.path / "config.json")

    def summary(self) -> dict | None:
        path = self.path / "summary.json"
        return io.read_json(path) if path.exists() else None

    def rows(self) -> list[dict]:
        path = self.path / "metrics.jsonl"
        return io.read_jsonl(path) if io.jsonl_exists(path) else []

    def keep_rows(self, n: int) -> list[dict]:
        """Truncate ``metrics.jsonl`` to its first ``n`` rows (those a checkpoint accounts for;
        later ones will be written again by the resumed run). A packed run is unpacked: rows
        are appended to the plain file only."""
        self._close_rows()
        rows = self.rows()[:n]
        io.write_text(self.path / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
        io.packed(self.path / "metrics.jsonl").unlink(missing_ok=True)
        return rows

    def append_row(self, row: dict, sync: bool = True) -> None:
        """Append one row and flush it to the operating system (a killed process keeps it);
        ``sync`` also forces it to the disk. The file stays open between rows: opening it for
        each of a Catch lifetime's short episodes cost ~10 % of the lifetime."""
        if self._rows_handle is None:
            self._rows_handle = open(self.path / "metrics.jsonl", "a", encoding="utf-8")
        io.write_row(self._rows_handle, row, sync=sync)

    def sync_rows(self) -> None:
        if self._rows_handle is not None:
            os.fsync(self._rows_handle.fileno())
        elif (self.path / "metrics.jsonl").exists():
            io.sync_file(self.path / "metrics.jsonl")

    def _close_rows(self) -> None:
        if self._rows_handle is not None:
            self._rows_handle.close()
            self._rows_handle = None

    def write_summary(self, summary: dict) -> None:
        io.write_json(self.path / "summary.json", summary)


def pack(path: str | Path) -> int | None:
    """gzip the rows of the ended run in ``path`` (``summary.json`` present) into
    ``metrics.jsonl.gz``; every reader of the project reads either form, and resuming unpacks.
    Returns the packed size, or None when there is nothing to pack (no plain rows, or a run not
    ended). A run being written is refused naming its writer."""
    path = Path(path)
    rows = path / "metrics.jsonl"
    if not rows.exists() or not (path / "summary.json").exists():
        return None
    with RunDirectory(path) as directory:
        directory._lock()
        return io.pack_jsonl(rows)


def changed_options(stored: dict, requested: dict, prefix: str = "") -> list[str]:
    """'training.lr: 0.001 -> 5' for every leaf of the partial ``requested`` configuration that
    differs from the resolved ``stored`` one (a name alone is the same as ``{"name": name}``)."""
    changes = []
    for key, value in requested.items():
        where = f"{prefix}{key}"
        have = stored.get(key) if isinstance(stored, dict) else None
        if isinstance(value, dict):
            if isinstance(have, str):
                have = {"name": have}
            changes += changed_options(have or {}, value, where + ".")
        elif isinstance(have, dict) and isinstance(value, str):
            if have.get("name") != value:
                changes.append(f"{where}: {have.get('name')!r} -> {value!r}")
        elif have != value and not (isinstance(have, list) and list(value or []) == have):
            changes.append(f"{where}: {have!r} -> {value!r}")
    return changes
