"""Subnormal floats flushed to zero for a run (opt-in: ``network.flush_subnormals = true``).

Eligibility traces and membrane potentials of silent neurons decay geometrically; in float32 they
pass below 1.2e-38 after a few thousand quiet steps and become *subnormal* numbers, on which an x86
core computes through a microcode assist tens of times slower than on normal ones. A lifetime whose
traces sit there (the Pong agents: many silent input channels) runs up to ~1.7x slower for values
that are zero to every figure it reports. Setting the SSE control register's flush-to-zero (FTZ:
subnormal results become 0) and denormals-are-zero (DAZ: subnormal operands read as 0) bits removes
that cost. It changes the arithmetic — only where a value is below the smallest normal float — so it
is a recorded option of the run (off by default: committed runs regenerate bit for bit), and
everything of that run (training, checkpoints, frozen evaluation) runs with it.

The bits are a property of the calling thread: numba's worker threads (parallel sweeps of large
layers) keep IEEE subnormals. x86-64 only (the register is read and written through LLVM's
``ldmxcsr``/``stmxcsr`` intrinsics, compiled once by llvmlite, which numba already needs).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import platform

from .config import ConfigError

FTZ_DAZ = 0x8040  # MXCSR bit 15 (flush to zero) and bit 6 (denormals are zero)

_IR = r"""
declare void @llvm.x86.sse.ldmxcsr(i8*)
declare void @llvm.x86.sse.stmxcsr(i8*)
define i32 @read_mxcsr() {
  %slot = alloca i32
  %bytes = bitcast i32* %slot to i8*
  call void @llvm.x86.sse.stmxcsr(i8* %bytes)
  %value = load i32, i32* %slot
  ret i32 %value
}
define void @write_mxcsr(i32 %value) {
  %slot = alloca i32
  store i32 %value, i32* %slot
  %bytes = bitcast i32* %slot to i8*
  call void @llvm.x86.sse.ldmxcsr(i8* %bytes)
  ret void
}
"""


def supported() -> bool:
    """Whether this machine's CPU has the register (x86-64)."""
    return platform.machine().lower() in ("x86_64", "amd64")


@functools.cache
def _register():
    """(read, write) of the calling thread's MXCSR, compiled once; the engine stays referenced."""
    if not supported():
        raise ConfigError(
            f"network.flush_subnormals needs an x86-64 CPU (it sets the SSE FTZ/DAZ bits); "
            f"this machine is {platform.machine()}"
        )
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    module = llvm.parse_assembly(_IR)
    module.verify()
    machine = llvm.Target.from_default_triple().create_target_machine()
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    read = ctypes.CFUNCTYPE(ctypes.c_uint32)(engine.get_function_address("read_mxcsr"))
    write = ctypes.CFUNCTYPE(None, ctypes.c_uint32)(engine.get_function_address("write_mxcsr"))
    return engine, read, write


def flushing() -> bool:
    """Whether the calling thread flushes subnormals (both bits set)."""
    if not supported():
        return False
    _, read, _ = _register()
    return read() & FTZ_DAZ == FTZ_DAZ


@contextlib.contextmanager
def flush_subnormals(enabled: bool = True):
    """Within the block, the calling thread flushes subnormals to zero (``enabled``; otherwise
    nothing changes); the register's previous value is restored on leaving."""
    if not enabled:
        yield
        return
    _, read, write = _register()
    before = read()
    write(before | FTZ_DAZ)
    try:
        yield
    finally:
        write(before)


def run_flushes(config: dict) -> bool:
    """A resolved run configuration's choice (absent: off, as every run before the option)."""
    value = config.get("network", {}).get("flush_subnormals", False)
    if not isinstance(value, bool):
        raise ConfigError(f"network.flush_subnormals must be true or false, got {value!r}")
    return value
