"""Checkpoints that are data, not code: arrays in an ``.npz`` plus a JSON manifest.

A checkpoint records the *state* of live objects that a run rebuilds from its ``config.json``:
network weights and neuron state, a rule's traces and feedback matrices, an optimizer's moments,
an encoder's memory, an environment's game state, random generators and counters. Restoring
builds the objects afresh from the configuration, then writes the recorded state into them —
nothing in a checkpoint is executed, so a checkpoint cannot run code and survives refactors that
keep the state's shape (and fails with a one-line error naming the first mismatch when not).

What is recorded is found by walking the objects' attributes in sorted order:

* ``np.ndarray`` and numpy scalars → arrays (dtype kept exactly);
* ``None``, bool, int, float, str and lists/dicts of them → JSON values (floats round-trip exactly);
* ``np.random.Generator`` → its bit generator's state (JSON);
* dicts with string keys, lists and tuples → walked entry by entry;
* objects of this project (``locallearn.*``) → walked attribute by attribute, each object once
  (a network shared by a rule and an agent is recorded where it is first met);
* objects that define ``checkpoint_state()`` / ``restore_checkpoint_state(state)`` (e.g. an
  adapter around a foreign game) → what those return, walked the same way;
* callables, classes, modules, dtypes, frozen dataclasses (configuration records, rebuilt from the
  config), gymnasium spaces and :class:`locallearn.derived.Derived` caches → skipped;
* anything else → :class:`CheckpointError`: state the walk cannot see would make a resumed run
  silently differ from an uninterrupted one.

Files: ``checkpoint.npz`` (the arrays) and ``checkpoint.json`` (format, version, the npz's
SHA-256, the JSON values and the run's counters), each written atomically. A process can be killed
between any two writes, so a save goes in three steps: the arrays to ``checkpoint.pending.npz``,
then the manifest (naming the pending file's digest), then the pending file renamed over
``checkpoint.npz``. Killed before the manifest, the old pair is intact and the pending file is
ignored (its digest is not the manifest's); killed before the rename, the pending file is the one
the manifest describes and is loaded. Any other mismatch is damage and is reported.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import types
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from .. import io
from ..derived import Derived

FORMAT = "locallearn-checkpoint"
VERSION = 2
ARRAYS, MANIFEST, PENDING = "checkpoint.npz", "checkpoint.json", "checkpoint.pending.npz"
_LIST, _TUPLE, _GENERATOR = "__list__", "__tuple__", "__generator__"


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, of another version or does not fit the run."""


def _is_simple(value) -> bool:
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is float:
        return True
    if type(value) in (list, tuple):
        return all(_is_simple(v) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _is_simple(v) for k, v in value.items())
    return False


def _skipped(value) -> bool:
    if isinstance(
        value,
        types.ModuleType
        | type
        | types.FunctionType
        | types.BuiltinFunctionType
        | types.MethodType
        | functools.partial,
    ):
        return True
    if isinstance(value, np.dtype | Derived):  # rebuilt from the configuration / the owner
        return True
    if dataclasses.is_dataclass(value) and value.__dataclass_params__.frozen:
        return True
    module = type(value).__module__ or ""
    if module.startswith(("numba", "gymnasium.spaces", "locallearn.spaces")):
        return True
    return callable(value) and not hasattr(value, "__dict__")


def _ours(value) -> bool:
    return (type(value).__module__ or "").startswith("locallearn") and hasattr(value, "__dict__")


def _attributes(obj) -> dict:
    if _has_own_state(obj):
        return {"__state__": obj.checkpoint_state()}
    return vars(obj)


def _has_own_state(obj) -> bool:
    return callable(getattr(type(obj), "checkpoint_state", None))


class _Recorder:
    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.values: dict[str, Any] = {}
        self.seen: set[int] = set()

    def walk(self, value, path: str) -> None:
        if isinstance(value, np.ndarray):
            if id(value) in self.seen:
                return
            self.seen.add(id(value))
            self.arrays[path] = value
        elif isinstance(value, np.generic):
            self.arrays[path] = np.asarray(value)
        elif _is_simple(value):
            self.values[path] = value
        elif isinstance(value, np.random.Generator):
            self.values[path] = {_GENERATOR: value.bit_generator.state}
        elif type(value) is dict:
            if not all(type(k) is str for k in value):
                raise CheckpointError(f"cannot record {path}: a dict with non-string keys")
            self.values[path] = {"__dict__": sorted(value)}
            for key in sorted(value):
                self.walk(value[key], f"{path}/{key}")
        elif type(value) in (list, tuple):
            self.values[path] = {_TUPLE if type(value) is tuple else _LIST: len(value)}
            for index, item in enumerate(value):
                self.walk(item, f"{path}/{index}")
        elif _skipped(value):
            return
        elif _ours(value) or _has_own_state(value):
            if id(value) in self.seen:
                return
            self.seen.add(id(value))
            self.values[path] = {"__object__": type(value).__name__}
            for name, item in sorted(_attributes(value).items()):
                self.walk(item, f"{path}/{name}")
        else:
            raise CheckpointError(
                f"cannot record {path} (a {type(value).__module__}."
                f"{type(value).__name__}); this run cannot be checkpointed"
            )


def capture(objects: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(arrays, JSON values) recording the state of ``objects`` (name -> live object)."""
    recorder = _Recorder()
    for name in sorted(objects):
        recorder.walk(objects[name], name)
    return recorder.arrays, recorder.values


class _Restorer:
    def __init__(self, arrays: dict, values: dict):
        self.arrays, self.values = arrays, values
        self.used: set[str] = set()
        self.seen: set[int] = set()

    def _leaf(self, path: str):
        """The recorded leaf at ``path`` as a Python/numpy value."""
        if path in self.arrays:
            self.used.add(path)
            return self.arrays[path]
        if path not in self.values:
            raise CheckpointError(
                f"the checkpoint has no entry {path!r} (written by another version or configuration)"
            )
        self.used.add(path)
        value = self.values[path]
        if isinstance(value, dict) and _GENERATOR in value:
            rng = np.random.default_rng()
            rng.bit_generator.state = value[_GENERATOR]
            return rng
        if isinstance(value, dict) and (_LIST in value or _TUPLE in value):
            items = [self._leaf(f"{path}/{i}") for i in range(value.get(_LIST, value.get(_TUPLE)))]
            return items if _LIST in value else tuple(items)
        if isinstance(value, dict) and "__dict__" in value:
            return {k: self._leaf(f"{path}/{k}") for k in value["__dict__"]}
        if isinstance(value, dict) and "__object__" in value:
            raise CheckpointError(
                f"the checkpoint holds an object at {path!r} that this configuration does not create"
            )
        return value

    def restored(self, current, path: str):
        """The value to put where ``current`` is: ``current`` updated in place when it can be,
        else a new value built from the record."""
        if isinstance(current, np.ndarray):
            if id(current) in self.seen:
                return current
            self.seen.add(id(current))
            saved = self._leaf(path)
            if (
                isinstance(saved, np.ndarray)
                and saved.shape == current.shape
                and saved.dtype == current.dtype
            ):
                current[...] = saved
                return current
            return np.array(saved) if isinstance(saved, np.ndarray) else saved
        if isinstance(current, np.random.Generator):
            saved = self._leaf(path)
            if isinstance(saved, np.random.Generator):
                current.bit_generator.state = saved.bit_generator.state
                return current
            return saved
        if type(current) is dict and all(type(k) is str for k in current) and not _is_simple(current):
            record = self.values.get(path)
            if not (isinstance(record, dict) and "__dict__" in record):
                return self._leaf(path)
            self.used.add(path)
            for key in record["__dict__"]:
                current[key] = self.restored(current.get(key), f"{path}/{key}")
            for key in [k for k in current if k not in record["__dict__"]]:
                del current[key]
            return current
        if type(current) in (list, tuple) and not _is_simple(current):
            record = self.values.get(path, {})
            length = record.get(_LIST, record.get(_TUPLE)) if isinstance(record, dict) else None
            if length != len(current):  # a list that grew or shrank: rebuilt from the record
                return self._leaf(path)
            self.used.add(path)
            items = [self.restored(item, f"{path}/{i}") for i, item in enumerate(current)]
            if type(current) is list:
                current[:] = items
                return current
            return tuple(items)
        if (
            current is not None
            and not _is_simple(current)
            and not isinstance(current, np.generic | list | tuple | dict)
            and not _skipped(current)
        ):
            if not (_ours(current) or _has_own_state(current)):
                raise CheckpointError(f"cannot restore {path} (a {type(current).__name__})")
            if id(current) in self.seen:
                return current
            self.seen.add(id(current))
            if path not in self.values:
                raise CheckpointError(
                    f"the checkpoint has no entry {path!r} (written by another version or configuration)"
                )
            self.used.add(path)
            if _has_own_state(current):
                state = self.restored(dict(current.checkpoint_state()), f"{path}/__state__")
                current.restore_checkpoint_state(state)
                return current
            names = {
                p[len(path) + 1 :].split("/", 1)[0]
                for p in (*self.arrays, *self.values)
                if p.startswith(path + "/")
            }
            for name in sorted(set(vars(current)) | names):
                item = getattr(current, name, None)
                if _skipped(item) and name not in names:
                    continue
                new = self.restored(item, f"{path}/{name}")
                if new is not item:
                    setattr(current, name, new)
            return current
        if _skipped(current):
            return current
        saved = self._leaf(path)
        if type(current) is dict and type(saved) is dict:  # kept in place: others may hold it
            current.clear()
            current.update(saved)
            return current
        if isinstance(saved, np.ndarray) and saved.ndim == 0 and isinstance(current, np.generic):
            return saved[()]
        if (
            isinstance(saved, np.ndarray)
            and saved.ndim == 0
            and path in self.arrays
            and not isinstance(current, np.ndarray)
        ):
            return saved[()]
        return saved


def restore(objects: dict[str, Any], arrays: dict, values: dict) -> None:
    """Write the recorded state into ``objects`` (built afresh from the same configuration)."""
    restorer = _Restorer(arrays, values)
    for name in sorted(objects):
        if restorer.restored(objects[name], name) is not objects[name]:
            raise CheckpointError(f"{name!r} cannot be restored in place")
    unused = sorted((set(arrays) | set(values)) - restorer.used)
    if unused:
        raise CheckpointError(
            f"the checkpoint holds {unused[0]!r}, which this configuration does not create (another version?)"
        )


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save(directory: str | Path, objects: dict[str, Any], counters: dict) -> None:
    """Record ``objects`` and the run's ``counters`` in ``directory``."""
    directory = Path(directory)
    arrays, values = capture(objects)
    io.write_npz(directory / PENDING, {k: np.asarray(v) for k, v in arrays.items()})
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "sha256": _digest(directory / PENDING),
        "arrays": len(arrays),
        "counters": counters,
        "values": values,
    }
    text = json.dumps(manifest, allow_nan=True, default=io.json_default)
    io.write_text(directory / MANIFEST, text + "\n")
    os.replace(directory / PENDING, directory / ARRAYS)


def exists(directory: str | Path) -> bool:
    return (Path(directory) / MANIFEST).exists()


def load(directory: str | Path, objects: dict[str, Any]) -> dict:
    """Restore ``objects`` from the checkpoint in ``directory``; returns its counters. Every
    problem is a :class:`CheckpointError` whose message names the file and what is wrong."""
    directory = Path(directory)
    manifest_path, arrays_path = directory / MANIFEST, directory / ARRAYS
    try:
        manifest = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"{manifest_path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{manifest_path} is damaged (not JSON: {error})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{manifest_path} is not a locallearn checkpoint manifest")
    if manifest.get("version") != VERSION:
        raise CheckpointError(
            f"{manifest_path} has checkpoint version {manifest.get('version')}; "
            f"this locallearn reads version {VERSION}"
        )
    pending = directory / PENDING
    if pending.exists() and _digest(pending) == manifest.get("sha256"):
        arrays_path = pending  # the save was killed between its manifest and its rename
    elif not arrays_path.exists():
        raise CheckpointError(f"{arrays_path} is missing")
    elif _digest(arrays_path) != manifest.get("sha256"):
        raise CheckpointError(f"{arrays_path} does not match its manifest (truncated or replaced)")
    try:
        with np.load(arrays_path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:
        raise CheckpointError(f"{arrays_path} is damaged ({error})") from None
    values = manifest.get("values", {})
    restore(objects, arrays, values)
    return manifest.get("counters", {})
