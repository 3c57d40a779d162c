"""Files a reader can trust: every write goes to a temporary file that is then renamed."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

# read once: os.umask can only be read by setting it
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def _atomic(path: Path, write) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp's 0600 would make results private to one user
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def json_default(value):
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def write_json(path, data: Any) -> None:
    text = json.dumps(data, indent=2, default=json_default, sort_keys=False) + "\n"
    _atomic(Path(path), lambda h: h.write(text.encode()))


def write_bytes(path, data: bytes) -> None:
    _atomic(Path(path), lambda h: h.write(data))


def write_text(path, text: str) -> None:
    _atomic(Path(path), lambda h: h.write(text.encode()))


def read_json(path) -> Any:
    return json.loads(Path(path).read_text())


def write_npz(path, arrays: dict[str, np.ndarray]) -> None:
    _atomic(Path(path), lambda h: np.savez(h, **arrays))


def append_jsonl(path, row: dict, sync: bool = True) -> None:
    """Append one complete line (a single write of the whole row) and flush it to the operating
    system, which keeps it if the process dies; ``sync`` also forces it to the disk (against a
    machine crash), at a few ms a call — callers writing many short rows sync now and then
    (``sync_file``) instead."""
    with open(path, "a", encoding="utf-8") as handle:
        write_row(handle, row, sync)


def write_row(handle, row: dict, sync: bool = True) -> None:
    """:func:`append_jsonl` into an open text file (appending)."""
    handle.write(json.dumps(row, default=json_default) + "\n")
    handle.flush()
    if sync:
        os.fsync(handle.fileno())


def sync_file(path) -> None:
    """Force what was written to ``path`` to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


PACKED = ".gz"


def packed(path) -> Path:
    """Where ``path`` lives once packed (gzip)."""
    return Path(str(path) + PACKED)


def jsonl_exists(path) -> bool:
    return Path(path).exists() or packed(path).exists()


def read_jsonl(path) -> list[dict]:
    """The rows of a JSON-lines file, plain or packed (``path`` + ``.gz``); when both exist (a
    pack or unpack killed between its two steps) they hold the same rows and the plain one is
    read."""
    path = Path(path)
    if path.exists() or not packed(path).exists():
        text = path.read_text()
    else:
        text = gzip.decompress(packed(path).read_bytes()).decode()
    rows = []
    for line in text.splitlines():
        if line.strip():
            rows.append(json.loads(line))
    return rows


def pack_jsonl(path) -> int:
    """Replace the plain file ``path`` by ``path.gz`` (no timestamp or name inside, so equal rows
    give equal bytes); returns the packed size. The packed file is complete before the plain one
    is removed."""
    path = Path(path)
    data = gzip.compress(path.read_bytes(), compresslevel=9, mtime=0)
    write_bytes(packed(path), data)
    path.unlink()
    return len(data)


def save_figure(figure, path) -> None:
    """Save a matplotlib figure atomically as PNG."""
    _atomic(Path(path), lambda h: figure.savefig(h, format="png", dpi=110, bbox_inches="tight"))
