"""T2 learners: independent PPO (or, in the ``t2_lola`` variant, LOLA-PPO) on simple_spread, trained and evaluated
per seed (design §4)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ilola_lib.analysis.statistics import bootstrap_ci, summarize_evaluations
from ilola_lib.analysis.summary import markdown_rows
from ilola_lib.analysis.targets import load_targets
from ilola_lib.core.neural_trace import NeuralTrace
from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.core.seeds import EVALUATION_FIRST_EPISODE_SEED
from ilola_lib.tasks.t2.evaluation import evaluate_against_baselines
from ilola_lib.tasks.t2.ppo import LolaPPOConfig, PPOConfig, train_ppo

RETURN_KEYS = ("return_trained", "return_random", "return_noop")


def seed_trace_file(trace_dir: str | Path, seed: int) -> Path:
    """Seed ``seed``'s learning trace in ``trace_dir`` (one folder per seed)."""
    return Path(trace_dir) / f"seed_{seed}" / "trace.npz"


def ppo_config(config: dict, seed: int) -> PPOConfig:
    """The learners' configuration of a ``params.yaml`` section for one seed: ``t2`` (independent PPO) or ``t2_lola``
    (LOLA-PPO, the section whose ``ppo`` has ``lola_eta``)."""
    config_class = LolaPPOConfig if "lola_eta" in config["ppo"] else PPOConfig
    return config_class.from_params(config["ppo"], seed, local_ratio=config["local_ratio"])


def improvement_target(task: str) -> float:
    """The bar every seed's ``improvement_over_random`` must reach: T2's, or the LOLA-PPO variant's."""
    return getattr(load_targets(), task).improvement_over_random_min


def learn_seed(config: dict, seed: int) -> tuple[NeuralTrace, dict]:
    """Train the PPO learners of one seed; return the trace and the seed's learner metrics.

    Metrics: mean per-agent mpe2 return (± standard error over ``eval_episodes`` episodes) of the trained
    actors, of uniform-random and of no-op actions on the same episode seeds, the improvement
    ``(R_trained − R_random)/|R_random|``, the learning curve (mean per-agent return of each ``D_k``) and, for
    LOLA-PPO learners, ``lola_norm_ratio`` per update (‖η · LOLA correction‖ / ‖PPO loss gradient‖, mean over
    agents and minibatches).
    """
    ppo = ppo_config(config, seed)
    with single_threaded_torch():
        run = train_ppo(ppo)
        evaluations = evaluate_against_baselines(run.actors, ppo, config["eval_episodes"],
                                                 EVALUATION_FIRST_EPISODE_SEED)
    returns = {f"return_{name}": evaluations[name].as_dict() for name in ("trained", "random", "noop")}
    random = evaluations["random"].mean
    return run.trace, {
        "task": ppo.task,
        "seed": seed,
        **returns,
        "improvement_over_random": (evaluations["trained"].mean - random) / abs(random),
        "learning_curve": run.learning_curve,
        "approx_kl": [entry["approx_kl"] for entry in run.history],
        **({"lola_norm_ratio": [entry["lola_norm_ratio"] for entry in run.history]}
           if isinstance(ppo, LolaPPOConfig) else {}),
        "num_updates": ppo.num_updates,
    }


def summarize_learners(seed_metrics: list[dict], profile: str) -> dict:
    """Returns over seeds, and the per-seed target check ``improvement_over_random`` ≥ the task's target.

    Each return is summarised by :func:`~ilola_lib.analysis.statistics.summarize_evaluations`: the mean with the
    95% bootstrap CI over seeds, except a baseline that is the same in every seed (no-op actions are deterministic
    and evaluated on the same episode seeds), which carries the normal CI of its evaluation episodes
    (``"ci_source": "evaluation episodes"``). Uniform-random actions are sampled per seed, so they vary.
    """
    target = improvement_target(seed_metrics[0]["task"])
    learners = {key: summarize_evaluations([m[key] for m in seed_metrics]) for key in RETURN_KEYS}
    improvements = [m["improvement_over_random"] for m in seed_metrics]
    return {"task": seed_metrics[0]["task"], "profile": profile, "seeds": [m["seed"] for m in seed_metrics],
            "learners": learners,
            "improvement_over_random": bootstrap_ci(improvements),
            "target_improvement": target,
            "target_met_every_seed": bool(min(improvements) >= target)}


def learning_curves(seed_metrics: list[dict]) -> np.ndarray:
    """``[seeds, K+1]`` mean per-agent return of each ``D_k``."""
    return np.array([m["learning_curve"] for m in seed_metrics])


def learner_baselines(summary: dict) -> dict[str, float]:
    """Label → mean over seeds of the uniform-random and no-op returns (the learning-curve figure's lines)."""
    return {"uniform random": summary["learners"]["return_random"]["mean"],
            "no-op": summary["learners"]["return_noop"]["mean"]}


def learner_table(seed_metrics: list[dict]) -> str:
    """Markdown: per seed, each policy's return ± standard error over evaluation episodes, the improvement over
    random and whether it reaches the task's target."""
    target = improvement_target(seed_metrics[0]["task"])
    return markdown_rows(
        ("seed", "trained", "uniform random", "no-op", "improvement over random", f"≥ {target:.0%}?"),
        ([str(m["seed"]), *(f"{m[k]['mean']:.2f} ± {m[k]['standard_error']:.2f}" for k in RETURN_KEYS),
          f"{m['improvement_over_random']:.3f}", "yes" if m["improvement_over_random"] >= target else "**no**"]
         for m in seed_metrics))
