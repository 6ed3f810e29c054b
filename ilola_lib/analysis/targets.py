"""The artifact's target thresholds, read from the package data file ``targets.yaml`` (the one place they live).

:func:`load_targets` returns a read-only, typed tree of frozen dataclasses; every field is a float threshold.
The file must list exactly the fields below (a missing or unknown key is an error naming it), so a threshold
cannot be silently ignored or silently defaulted.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import typing

import yaml

TARGETS_FILE = "targets.yaml"


@dataclasses.dataclass(frozen=True)
class T1Targets:
    ma_lfl_exact_kl_1a_max: float
    ma_lfl_exact_kl_1b_max: float
    ma_lfl_exact_cosine_min: float
    ma_lfl_sampled_ratio_1b_1a_max: float
    matched_cosine_min: float


@dataclasses.dataclass(frozen=True)
class IlolaTargets:
    """An issue's bars for I-LOLA Stage B (means over seeds)."""

    ef_1a_min: float
    ef_1b_over_ef_1a_min: float
    cosine_min: float
    induced_normalized_min: float


@dataclasses.dataclass(frozen=True)
class T2Targets:
    improvement_over_random_min: float
    ilola: IlolaTargets


@dataclasses.dataclass(frozen=True)
class T2LolaTargets:
    improvement_over_random_min: float
    coupled_ef_1a_min: float
    coupled_cosine_min: float
    independent_eta_fraction_max: float


@dataclasses.dataclass(frozen=True)
class T3Targets:
    ilola: IlolaTargets
    mc_agreement_standard_errors_max: float


@dataclasses.dataclass(frozen=True)
class BenchmarkTargets:
    t1_pipeline_seconds_max: float
    t1_noop_repro_seconds_max: float
    t2_cma_speedup_min: float
    t2_pipeline_seconds_max: float
    t3_pipeline_seconds_max: float
    t2_ppo_seed_seconds_max: float
    replay_batched_speedup_min: float
    t2_invert_seconds_max: float
    t3_invert_seconds_max: float
    t2_lola_pipeline_seconds_max: float


@dataclasses.dataclass(frozen=True)
class Targets:
    t1: T1Targets
    t2: T2Targets
    t2_lola: T2LolaTargets
    t3: T3Targets
    benchmarks: BenchmarkTargets


def _build(cls, data, where: str):
    """``cls`` (a frozen dataclass) from the mapping ``data``; nested dataclasses recursively, leaves as floats."""
    if not isinstance(data, dict):
        raise ValueError(f"{TARGETS_FILE}: {where or 'the file'} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls)]
    prefix = f"{where}." if where else ""
    missing = [name for name in names if name not in data]
    unknown = sorted(set(data) - set(names))
    if missing or unknown:
        raise ValueError(f"{TARGETS_FILE}: missing keys {[prefix + n for n in missing]}, "
                         f"unknown keys {[prefix + str(n) for n in unknown]}")
    values = {}
    for name in names:
        value, kind = data[name], hints[name]
        if dataclasses.is_dataclass(kind):
            values[name] = _build(kind, value, prefix + name)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            values[name] = float(value)
        else:
            raise ValueError(f"{TARGETS_FILE}: {prefix + name} must be a number, got {value!r}")
    return cls(**values)


def parse_targets(text: str) -> Targets:
    """:class:`Targets` from the YAML ``text`` of a targets file (raises ``ValueError`` naming a bad key)."""
    return _build(Targets, yaml.safe_load(text), "")


@functools.cache
def load_targets() -> Targets:
    """The package's targets (``ilola_lib/analysis/targets.yaml``), read once."""
    text = importlib.resources.files(__package__).joinpath(TARGETS_FILE).read_text(encoding="utf-8")
    return parse_targets(text)


def leaf_paths(node=None, prefix: str = "") -> dict[str, float]:
    """Dotted path → threshold for every leaf of :func:`load_targets` (or of ``node``)."""
    node = load_targets() if node is None else node
    paths = {}
    for field in dataclasses.fields(node):
        value = getattr(node, field.name)
        path = f"{prefix}{field.name}"
        paths.update(leaf_paths(value, path + ".") if dataclasses.is_dataclass(value) else {path: value})
    return paths
