"""One SIMD level for every computation, so that float results do not depend on which x86-64 CPU runs them.

torch's ATen kernels, OpenBLAS (numpy's and scipy's BLAS) and numpy's own loops each pick their code path at
run time from the CPU's instruction sets. An AVX-512 machine and an AVX2 machine then sum in different orders
and differ in the last bits, which learning and black-box fits amplify. Pinning all three to AVX2 (which
every x86-64 CPU since 2013 has) removes that: T2's inversion of seed 0 on an AVX-512 machine reproduced the
committed file, made on another machine, byte for byte with all three pinned, and differed in 141 numbers with
only torch's pinned and in 155 with none.

The variables are read when each library loads, so they are set in the environment of the process that
starts the computation (the notebook runner, for the kernel it launches and the workers that kernel spawns;
``make lab``, for JupyterLab's kernels: ``env $(python -m ilola_lib.core.cpu_dispatch) COMMAND``).
"""

from __future__ import annotations

import platform
from pathlib import Path

AVX2_PIN = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4,AVX512_ICL,AVX512_SPR",
}


def pinned_simd_environment(machine: str | None = None, cpuinfo: str | None = None) -> dict[str, str]:
    """:data:`AVX2_PIN` on an x86-64 CPU with AVX2 and FMA (Linux's ``/proc/cpuinfo`` flags), else ``{}``:
    other CPUs keep their native code paths and agree with other machines statistically, not bit for bit."""
    machine = platform.machine() if machine is None else machine
    if machine not in ("x86_64", "AMD64"):
        return {}
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        cpuinfo = path.read_text() if path.exists() else ""
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    return dict(AVX2_PIN) if {"avx2", "fma"} <= set(flags) else {}


if __name__ == "__main__":
    print(" ".join(f"{name}={value}" for name, value in pinned_simd_environment().items()))
