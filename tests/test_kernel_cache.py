"""numba's kernel cache is keyed by every kernel source together, so that an edit of the engine's
kernels also recompiles the rule kernels that compiled them in (numba alone would not)."""

import os
import subprocess
import sys
from pathlib import Path

import numba

from locallearn import _kernel_cache


def test_numba_caches_in_the_directory_keyed_by_the_kernel_sources():
    keyed = Path(numba.config.CACHE_DIR)
    assert keyed.name == f"locallearn-kernels-{_kernel_cache.source_digest()}"
    assert os.environ["NUMBA_CACHE_DIR"] == str(keyed)


def test_an_edit_of_any_kernel_source_changes_the_key(tmp_path, monkeypatch):
    copies = {}
    for package, name in _kernel_cache.KERNEL_SOURCES:
        folder = tmp_path / package.replace(".", "_")
        folder.mkdir(exist_ok=True)
        (folder / name).write_bytes((_kernel_cache._package_dir(package) / name).read_bytes())
        copies[package] = folder
    monkeypatch.setattr(_kernel_cache, "_package_dir", lambda package: copies[package])
    before = _kernel_cache.source_digest()
    for package, name in _kernel_cache.KERNEL_SOURCES:
        path = copies[package] / name
        text = path.read_bytes()
        path.write_bytes(text + b"\n# an edit\n")
        assert _kernel_cache.source_digest() != before, name
        path.write_bytes(text)
    assert _kernel_cache.source_digest() == before


def test_a_user_cache_directory_is_the_base_and_a_child_process_does_not_nest(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    child = "import locallearn, numba; print(numba.config.CACHE_DIR)"
    script = (
        f"{child}; import subprocess, sys; "
        f"print(subprocess.run([sys.executable, '-c', {child!r}], capture_output=True, text=True).stdout)"
    )
    lines = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env, cwd=tmp_path
    ).stdout.split()
    assert Path(lines[0]).parent == tmp_path and Path(lines[0]).name.startswith("locallearn-kernels-")
    assert lines[1] == lines[0]
