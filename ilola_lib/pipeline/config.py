"""``params.yaml``: loading and validation before any compute.

Every key is checked against :data:`SCHEMA`; a bad value raises :class:`ConfigError` whose message
names the key (``t1.sampling.episodes must be an integer ≥ 1, got 0``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import yaml


class ConfigError(ValueError):
    """A ``params.yaml`` value is missing or invalid; the message names the key."""


def _int(minimum: int):
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum,
            f"an integer ≥ {minimum}")


def _positive():
    return (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0, "a number > 0")


def _non_negative():
    return (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0, "a number ≥ 0")


def _unit_open():
    return (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < 1,
            "a number in (0, 1)")


def _seeds():
    return (lambda v: isinstance(v, list) and len(v) >= 1 and len(set(v)) == len(v)
            and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in v),
            "a non-empty list of distinct non-negative integers")


SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "profile": (lambda v: v in ("paper", "smoke"), "'paper' or 'smoke'"),
    "t1.seeds": _seeds(),
    "t1.grid_size": _int(2),
    "t1.gamma": _unit_open(),
    "t1.num_phases": _int(4),
    "t1.held_out_every": _int(2),
    "t1.init_logit_std": _non_negative(),
    "t1.workers": _int(1),
    "t1.ma_spi.alpha": _positive(),
    "t1.sampling.episodes": _int(1),
    "t1.sampling.horizon": _int(1),
    "t1.sampling.smoothing": _positive(),
    "t1.matched.pg_learning_rate": _positive(),
    "t1.matched.lola_learning_rate": _positive(),
    "t1.matched.lola_eta": _positive(),
    "t1.inverse.logel_restarts": _int(0),
    "t1.inverse.cma_generations": _int(1),
    "t1.inverse.cma_popsize": _int(4),
    "t1.inverse.cma_sigma": _positive(),
    "t1.inverse.eta_init": _positive(),
    "t1.inverse.random_draws": _int(1),
    "t1.inverse.lbfgs_iterations": _int(1),
    "t2.seeds": _seeds(),
    "t2.local_ratio": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1,
                       "a number in [0, 1]"),
    "t2.eval_episodes": _int(20),
    "t2.ppo.num_envs": _int(1),
    "t2.ppo.num_steps": _int(1),
    "t2.ppo.num_updates": _int(1),
    "t2.ppo.learning_rate": _positive(),
    "t2.ppo.critic_learning_rate": _positive(),
    "t2.ppo.update_epochs": _int(1),
    "t2.ppo.num_minibatches": _int(1),
    "t2.ppo.ent_coef": _non_negative(),
    "t2.ppo.gamma": _unit_open(),
    "t2.ppo.hidden_size": _int(1),
    "t2.workers": _int(1),
    "t2.inverse.held_out_every": _int(2),
    "t2.inverse.states_per_pair": _int(2),
    "t2.inverse.fit_pair_stride": _int(1),
    "t2.inverse.logel_restarts": _int(0),
    "t2.inverse.cma_generations": _int(1),
    "t2.inverse.cma_popsize": _int(4),
    "t2.inverse.cma_sigma": _positive(),
    "t2.inverse.eta_init": _positive(),
    "t2.inverse.random_draws": _int(1),
    "t2.inverse.lbfgs_iterations": _int(1),
    "t2.inverse.ma_lfl.potential_degree": (lambda v: v in (1, 2), "1 (linear) or 2 (quadratic)"),
    "t2.inverse.ma_lfl.rollouts": _int(1),
    "t3.seeds": _seeds(),
    "t3.eval_episodes": _int(20),
    "t3.workers": _int(1),
    "t3.ppo.max_cycles": _int(10),
    "t3.ppo.episodes_per_update": _int(1),
    "t3.ppo.num_updates": _int(1),
    "t3.ppo.learning_rate": _positive(),
    "t3.ppo.critic_learning_rate": _positive(),
    "t3.ppo.update_epochs": _int(1),
    "t3.ppo.num_minibatches": _int(1),
    "t3.ppo.ent_coef": _non_negative(),
    "t3.ppo.gamma": _unit_open(),
    "t3.ppo.hidden_size": _int(1),
    "t3.ppo.init_log_std": (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and -5 <= v <= 2,
                            "a number in [-5, 2]"),
    "t3.inverse.held_out_every": _int(2),
    "t3.inverse.states_per_pair": _int(2),
    "t3.inverse.fit_pair_stride": _int(1),
    "t3.inverse.logel_restarts": _int(0),
    "t3.inverse.cma_generations": _int(1),
    "t3.inverse.cma_popsize": _int(4),
    "t3.inverse.cma_sigma": _positive(),
    "t3.inverse.eta_init": _positive(),
    "t3.inverse.random_draws": _int(1),
    "t3.inverse.lbfgs_iterations": _int(1),
    "t3.inverse.mc_samples": _int(2),
}


def _lookup(params: dict, dotted: str) -> Any:
    node: Any = params
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"params.yaml: missing key {dotted}")
        node = node[part]
    return node


def validate(params: dict, prefix: str = "") -> dict:
    """Check every schema key under ``prefix`` (all keys if empty); return ``params`` unchanged."""
    for key, (check, expected) in SCHEMA.items():
        if (prefix and not key.startswith(prefix) and key != "profile") or key.split(".")[0] not in params:
            continue
        value = _lookup(params, key)
        if not check(value):
            raise ConfigError(f"params.yaml: {key} must be {expected}, got {value!r}")
    if not {"t1", "t2", "t3"} & set(params):
        raise ConfigError("params.yaml: no task section (t1, t2, t3) found")
    t1 = params.get("t1", {})
    if (not prefix or prefix.startswith("t1")) and t1:
        num_phases, every = t1["num_phases"], t1["held_out_every"]
        if num_phases < every:
            raise ConfigError(f"params.yaml: t1.num_phases ({num_phases}) must be ≥ t1.held_out_every "
                              f"({every}) so that at least one update pair is held out")
    for task in ("t2", "t3"):
        section = params.get(task, {})
        if (not prefix or prefix.startswith(task)) and section:
            num_updates, every = section["ppo"]["num_updates"], section["inverse"]["held_out_every"]
            if num_updates < 2 * every:
                raise ConfigError(f"params.yaml: {task}.ppo.num_updates ({num_updates}) must be ≥ 2 × "
                                  f"{task}.inverse.held_out_every ({every}) so that pairs are both fitted and "
                                  "held out")
    return params


def load_params(path: str | Path = "params.yaml", prefix: str = "") -> dict:
    """Read and validate ``params.yaml``."""
    with open(path, encoding="utf-8") as handle:
        params = yaml.safe_load(handle)
    if not isinstance(params, dict):
        raise ConfigError(f"{path} must hold a mapping at top level")
    return validate(params, prefix)
