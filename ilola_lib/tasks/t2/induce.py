"""T2 induced returns: fresh PPO learners trained on each method's recovered reward (design §6)."""

from __future__ import annotations

import numpy as np

from ilola_lib.analysis.induced import normalised_induced, seed_trainings
from ilola_lib.core.parallel import run_jobs, single_threaded_torch
from ilola_lib.core.ppo_training import train_on_reward as train_on_weights
from ilola_lib.core.seeds import EVALUATION_FIRST_EPISODE_SEED
from ilola_lib.tasks.t2.evaluation import evaluate_trained
from ilola_lib.tasks.t2.learn import ppo_config
from ilola_lib.tasks.t2.ppo import train_ppo

INDUCED_METHODS = ("ilola", "ilola_eta0", "ilogel", "ma_lfl")


def train_on_reward(config: dict, seed: int, weights: np.ndarray) -> dict:
    """Fresh PPO learners (the task's learners' budget, training seed ``seed``) trained on ``r̂_i = weights_i·φ_i``
    and evaluated on mpe2's true reward: mean per-agent return ± standard error, and the learning curve
    (true return of each ``D_k``)."""
    ppo = ppo_config(config, seed)
    with single_threaded_torch():
        return train_on_weights(ppo, weights, train_ppo, lambda run: evaluate_trained(
            run.actors, ppo, config["eval_episodes"], EVALUATION_FIRST_EPISODE_SEED).as_dict())


def induce_seed(config: dict, seed: int, inverse_metrics: dict, learner_metrics: dict, workers: int = 1) -> dict:
    """Induced returns of every method's recovered reward, normalised (design §6):
    ``(R_induced − R_floor)/(R_true − R_floor)``, ``R_floor = max(R_random, R_no-op)``, where ``R_true`` is the mean
    of the task's learners and ``config["true_reward_trainings"] − 1`` replications trained on the true reward
    with other training seeds (:mod:`ilola_lib.analysis.induced`); equal recovered rewards are trained once."""
    jobs, trained_as = seed_trainings(seed, inverse_metrics, INDUCED_METHODS, config["true_reward_trainings"])
    arguments = [(config, training_seed, weights) for _, training_seed, weights in jobs]
    results = run_jobs(train_on_reward, arguments, workers) if workers > 1 else [
        train_on_reward(*args) for args in arguments]
    return normalised_induced(learner_metrics["task"], seed, {label: r for (label, _, _), r in zip(jobs, results)}, learner_metrics,
                              ("random", "noop"), trained_as)
