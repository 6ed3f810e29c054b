"""T2 inversion of a recorded PPO learning trace (design §5–§6): the gradient methods of
:mod:`ilola_lib.inverse.trace_inversion` and MA-LfL over observations, which needs simple_spread's simulator
for its one-step lookahead and soft Q-values.
"""

from __future__ import annotations

import functools
import time
from pathlib import Path

import numpy as np
import torch

from ilola_lib.core.metrics import categorical_kl
from ilola_lib.core.neural_trace import NeuralTrace
from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.core.policies import actor_logits, safe_observation_std
from ilola_lib.core.seeds import soft_q_generator, stream_rng
from ilola_lib.inverse import trace_inversion
from ilola_lib.inverse.evaluation import baseline_kls, recovered_kl
from ilola_lib.inverse.learner_models import SoftPolicyIterationModel
from ilola_lib.inverse.ma_lfl_observations import (
    fit_lfl_weights,
    lfl_regression_rows,
    other_agents_weights,
    potential_basis,
    soft_q_monte_carlo,
)
from ilola_lib.inverse.policy_fit import TabularDivergence, fit_nuisance
from ilola_lib.inverse.trace_inversion import (
    StateSample,
    TraceAnalysis,
    gradient_methods_on_trace,
    inverse_metrics,
    recovery_scores,
)
from ilola_lib.tasks.t2.learn import seed_trace_file
from ilola_lib.tasks.t2.lookahead import joint_actions, lookahead_all_joint_actions, simulator_at


def log_policies(templates: list, params: np.ndarray, observations: torch.Tensor) -> torch.Tensor:
    """``log π_j(·|o_j; θ_j)`` ``[..., N, A]`` for parameters ``[N, d]`` and joint observations ``[..., N, obs_dim]``."""
    with torch.no_grad():
        return torch.stack([
            torch.log_softmax(actor_logits(template, torch.as_tensor(params[j]), observations[..., j, :].float()),
                              -1).double()
            for j, template in enumerate(templates)], dim=-2)


def ma_lfl_rows(trace: NeuralTrace, templates: list, sample: StateSample, index: int, degree: int) -> list[tuple]:
    """Per agent, the MA-LfL regression rows ``(Y, φ̄, shaping)`` of pair ``sample.pairs[index]``."""
    k = int(sample.pairs[index])
    config = trace.metadata["config"]
    gamma = float(config["gamma"])
    states, steps = sample.joint_observations[index], sample.steps[index]
    features, next_observations, ends = lookahead_all_joint_actions(states, steps, config["local_ratio"],
                                                                    config["max_cycles"])
    now, after = trace.actor_params[k], trace.actor_params[k + 1]
    log_now, log_next = log_policies(templates, now, states), log_policies(templates, after, states)
    next_now, next_next = log_policies(templates, now, next_observations), log_policies(templates, after, next_observations)
    next_kl = categorical_kl(next_now, next_next)  # [M, J, N]
    joint = joint_actions(trace.num_agents)
    mean = torch.as_tensor(trace.obs_mean, dtype=torch.float64)
    std = safe_observation_std(torch.as_tensor(trace.obs_std, dtype=torch.float64))
    basis = potential_basis((states - mean) / std, degree)
    next_basis = potential_basis((next_observations - mean) / std, degree)
    rows = []
    for i in range(trace.num_agents):
        weights = other_agents_weights(log_now.exp(), joint, i)
        rows.append(tuple(part.numpy() for part in lfl_regression_rows(
            log_next[:, i], weights, features[:, :, i], next_kl[:, :, i], basis[:, i], next_basis[:, :, i],
            (~ends).double(), gamma)))
    return rows


def spi_model(trace: NeuralTrace, templates: list, sample: StateSample, rollouts: int,
              seed: int) -> SoftPolicyIterationModel:
    """The MA-SPI learner model on the sampled states: Monte-Carlo soft Q-values of each ``π^k``; the
    reward scale and the temperature are both nuisance parameters (PPO learners have neither)."""
    config = trace.metadata["config"]
    feature_q, entropy_q = [], []
    simulator = functools.partial(simulator_at, local_ratio=config["local_ratio"], max_cycles=config["max_cycles"])
    for index, k in enumerate(sample.pairs):
        generator = soft_q_generator(seed, k)
        params = torch.as_tensor(trace.actor_params[k])
        q_features, q_entropy = soft_q_monte_carlo(
            templates, params, sample.joint_observations[index], sample.steps[index], simulator,
            config["max_cycles"], float(config["gamma"]), rollouts, generator)
        feature_q.append(q_features.reshape(trace.num_agents, -1, q_features.shape[-1]))
        entropy_q.append(q_entropy.reshape(trace.num_agents, -1))
    return SoftPolicyIterationModel(torch.stack(feature_q), torch.stack(entropy_q), alpha=1.0, fit_entropy_scale=True)


def tabular_view(trace: NeuralTrace, templates: list, sample: StateSample) -> tuple[TabularDivergence, torch.Tensor]:
    """The observed ``π^{k+1}`` on the sampled states as a divergence over "states" ``m`` (uniform weights),
    and ``log π^k`` there ``[P, N, M·A]`` (the no-update prediction)."""
    log_next = torch.stack([log_policies(templates, trace.actor_params[k + 1], sample.joint_observations[i])
                            for i, k in enumerate(sample.pairs)]).transpose(1, 2)  # [P, N, M, A]
    log_now = torch.stack([log_policies(templates, trace.actor_params[k], sample.joint_observations[i])
                           for i, k in enumerate(sample.pairs)]).transpose(1, 2)
    num_states = log_next.shape[2]
    weights = torch.full((len(sample.pairs), num_states), 1.0 / num_states, dtype=torch.float64)
    return TabularDivergence(log_next.exp(), weights), log_now.flatten(2)


def ma_lfl_on_trace(trace: NeuralTrace, templates: list, sample: StateSample, fit, held, settings: dict, seed: int,
                    rng: np.random.Generator, recovery) -> dict:
    """MA-LfL weights from the fit pairs and their held-out KLs under the MA-SPI learner model.

    ``fit`` and ``held`` index the pairs of ``sample``.
    """
    rows = [ma_lfl_rows(trace, templates, sample, index, settings["potential_degree"]) for index in fit]
    omega = np.array([fit_lfl_weights([pair_rows[i] for pair_rows in rows]) for i in range(trace.num_agents)])
    model = spi_model(trace, templates, sample, settings["rollouts"], seed)
    divergence, no_update = tabular_view(trace, templates, sample)
    truth = np.asarray(trace.reward_weights, dtype=np.float64)
    scale_init = np.concatenate([np.log(np.linalg.norm(omega, axis=-1)), np.zeros(trace.num_agents)])
    iterations = settings["lbfgs_iterations"]
    recovered = fit_nuisance(model.subset(fit), divergence.subset(fit), omega, scale_init, max_iterations=iterations)
    metrics = baseline_kls(model, divergence, fit, held, truth, recovered.nuisance, no_update, rng,
                           settings["random_draws"], iterations)
    return {**metrics, **recovered_kl(model, divergence, held, recovered), **recovery(omega)}


def invert_trace(trace: NeuralTrace, settings: dict, seed: int) -> dict:
    """``ilogel``, ``ilola``, ``ilola_eta0`` and ``ma_lfl`` on one PPO trace, and the seconds each part took."""
    analysis = TraceAnalysis.of(trace, settings, stream_rng(seed, "t2_trace_analysis"))
    methods, ladder, seconds = gradient_methods_on_trace(trace, analysis, settings, seed)
    start = time.perf_counter()
    methods["ma_lfl"] = ma_lfl_on_trace(trace, analysis.templates, analysis.sample, analysis.fit, analysis.held,
                                        {**settings["ma_lfl"], "random_draws": settings["random_draws"],
                                         "lbfgs_iterations": settings["lbfgs_iterations"]}, seed, analysis.rng,
                                        recovery_scores(analysis.truth))
    seconds["ma_lfl"] = time.perf_counter() - start
    return {"methods": methods, "learner_models": ladder, "seconds": seconds}


def invert_seed(config: dict, seed: int, trace: NeuralTrace) -> tuple[dict, dict]:
    """One seed's inverse metrics (deterministic, JSON-ready) and the seconds each part took."""
    with single_threaded_torch():
        result = invert_trace(trace, config["inverse"], seed)
    return (inverse_metrics(trace.metadata["task"], seed, trace, result["methods"], learner_models=result["learner_models"]),
            result["seconds"])


def invert_seeds(config: dict, trace_dir: str | Path, metrics_dir: str | Path) -> list[dict]:
    """Every seed's trace ``trace_dir/seed_<s>/trace.npz`` inverted on ``config["workers"]`` processes, metrics
    written to ``metrics_dir/seed_<s>.json`` (:func:`ilola_lib.inverse.trace_inversion.invert_seeds`); the
    seconds each part took, per seed."""
    trace_paths = {seed: seed_trace_file(trace_dir, seed) for seed in config["seeds"]}
    return trace_inversion.invert_seeds(invert_seed, config, trace_paths, metrics_dir)
