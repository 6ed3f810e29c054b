"""The SIMD pin: AVX2 code paths on x86-64 CPUs that have AVX2, native ones elsewhere."""

from __future__ import annotations

from ilola_lib.core.cpu_dispatch import AVX2_PIN, pinned_simd_environment

AVX512_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512bw\n"
OLD_CPU = "processor\t: 0\nflags\t\t: fpu sse2 sse4_2 avx\n"


def test_x86_64_with_avx2_is_pinned_to_avx2():
    assert pinned_simd_environment("x86_64", AVX512_CPU) == AVX2_PIN


def test_cpus_without_avx2_and_other_architectures_keep_their_native_code_paths():
    assert pinned_simd_environment("x86_64", OLD_CPU) == {}, "Haswell kernels would crash without AVX2"
    assert pinned_simd_environment("x86_64", "") == {}
    assert pinned_simd_environment("aarch64", AVX512_CPU) == {}
