"""T3 induced returns: fresh Gaussian-PPO walkers trained on each method's recovered reward (design §6),
with the budget and seed of the task's learners, evaluated on MultiWalker's own reward."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ilola_lib.analysis.induced import normalised_induced, seed_trainings
from ilola_lib.core.io import read_json, write_json
from ilola_lib.core.parallel import run_jobs
from ilola_lib.core.ppo_training import train_on_reward as train_on_weights
from ilola_lib.tasks.t3.learn import evaluate_policy, ppo_config
from ilola_lib.tasks.t3.ppo import train_multiwalker_ppo

INDUCED_METHODS = ("ilola", "ilola_eta0", "ilogel")


def train_on_reward(config: dict, seed: int, weights: np.ndarray) -> dict:
    """Walkers (the task's learners' budget, training seed ``seed``) trained on ``r̂_i = weights_i · φ_i`` and
    evaluated on the env's reward: the evaluation return (mean, standard error, package distance, episode length)
    and the true-return learning curve."""
    ppo = ppo_config(config, seed)
    return train_on_weights(ppo, weights, train_multiwalker_ppo,
                            lambda run: evaluate_policy(run, ppo, config["eval_episodes"]))


def induce_seeds(config: dict, inverse_dir: str | Path, learners_dir: str | Path, out_dir: str | Path) -> list[dict]:
    """Induced returns of every method and seed, normalised per seed as on T2 (the true reward trained
    ``config["true_reward_trainings"]`` times, equal recovered rewards once; all trainings spread over
    ``config["workers"]`` processes); one JSON per seed in ``out_dir``."""
    seeds = config["seeds"]
    inverse = {s: read_json(Path(inverse_dir) / f"seed_{s}.json") for s in seeds}
    learners = {s: read_json(Path(learners_dir) / f"seed_{s}.json") for s in seeds}
    plans = {s: seed_trainings(s, inverse[s], INDUCED_METHODS, config["true_reward_trainings"]) for s in seeds}
    jobs = [(s, label, training_seed, weights) for s in seeds for label, training_seed, weights in plans[s][0]]
    results = run_jobs(train_on_reward, [(config, training_seed, weights) for _, _, training_seed, weights in jobs],
                       config["workers"])
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    per_seed = []
    for seed in seeds:
        metrics = normalised_induced("t3", seed, {label: r for (s, label, _, _), r in zip(jobs, results) if s == seed},
                                     learners[seed], ("random", "stand_still"), plans[seed][1])
        write_json(Path(out_dir) / f"seed_{seed}.json", metrics)
        per_seed.append(metrics)
    return per_seed
