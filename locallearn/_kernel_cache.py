"""Where numba caches the compiled kernels: a directory named by a hash of every kernel source.

numba invalidates a cached function when *its own* file changes, not when a function it calls
from another file does: rules/_kernels.py compiles the engine's sweeps of locallearn/kernels.py
into its own functions, so after an edit of the engine alone numba would go on loading the rule
kernels with the old sweeps in them — silently, with the old numbers. Keying the cache directory
by all kernel sources together makes any edit of any of them compile everything afresh (once).

Imported first by ``locallearn/__init__``, it configures numba on import, before any kernel is
defined. A ``NUMBA_CACHE_DIR`` the user
set is the base; the keyed directory goes inside it. Keyed directories unused for a week are
removed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import time
from pathlib import Path

# every module that defines cached numba functions, as (package, file)
KERNEL_SOURCES = (
    ("locallearn", "kernels.py"),
    ("locallearn", "encoders.py"),
    ("locallearn", "eventprop_compiled.py"),
    ("locallearn.rules", "_kernels.py"),
)
_PREFIX = "locallearn-kernels-"
_UNUSED_DAYS = 7


def _package_dir(package: str) -> Path:
    # the spec, not an import: importing locallearn.rules would define its kernels first
    spec = importlib.util.find_spec(package)
    return Path(next(iter(spec.submodule_search_locations)))


def source_digest() -> str:
    """SHA-256 (first 16 hex digits) of the kernel sources, in KERNEL_SOURCES order."""
    digest = hashlib.sha256()
    for package, name in KERNEL_SOURCES:
        digest.update((_package_dir(package) / name).read_bytes())
    return digest.hexdigest()[:16]


def configure() -> Path:
    """Point numba's cache at the keyed directory (environment and, if numba is loaded, its
    config); return it."""
    base = os.environ.get("NUMBA_CACHE_DIR")
    if base and Path(base).name.startswith(_PREFIX):
        base = str(Path(base).parent)  # already keyed (a worker inherits its parent's setting)
    root = Path(base) if base else _package_dir("locallearn") / "__pycache__"
    keyed = root / f"{_PREFIX}{source_digest()}"
    os.environ["NUMBA_CACHE_DIR"] = str(keyed)
    import sys

    if "numba" in sys.modules:  # numba read its configuration at import: update it as well
        sys.modules["numba"].config.CACHE_DIR = str(keyed)
    _remove_unused(root, keyed)
    return keyed


def _remove_unused(root: Path, keep: Path) -> None:
    if not root.is_dir():
        return
    cutoff = time.time() - _UNUSED_DAYS * 86400
    for folder in root.glob(f"{_PREFIX}*"):
        try:
            if folder != keep and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            pass  # another process removed it first


configure()
