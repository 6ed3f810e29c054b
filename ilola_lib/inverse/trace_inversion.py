"""Inversion of a recorded neural learning trace (design §5.2–5.4, §6): I-LOGEL, I-LOLA and its η = 0
ablation on the observer's data, on two learner models (the PPO replay and the GPOMDP gradient step), scored on
held-out pairs.

Every method is scored on the same states: ``M`` joint observations sampled once per pair from ``D_{k+1}``.
The policy family of the trace (categorical or diagonal Gaussian) selects the log-probabilities and the
closed-form divergence; padded episode batches enter through the trace's ``valid`` mask.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ilola_lib.core.gradient_estimators import sampled_gradient_tensors
from ilola_lib.core.io import write_json
from ilola_lib.core.metrics import cosine, explained_fraction
from ilola_lib.core.neural_trace import NeuralTrace, load_neural_trace
from ilola_lib.core.parallel import run_jobs
from ilola_lib.core.policies import actor_log_probs, gaussian_log_probs
from ilola_lib.core.seeds import stream_torch_generator
from ilola_lib.inverse.gradient_methods import fit_gradient_methods
from ilola_lib.inverse.learner_models import GradientLearnerModel
from ilola_lib.inverse.network_policy_space import (
    CategoricalNetworkDivergence,
    GaussianNetworkDivergence,
    MonteCarloGaussianDivergence,
)
from ilola_lib.core.protocol import analysed_pairs, validation_pairs
from ilola_lib.inverse.replay_methods import ValidationSet, fit_replay_methods

LOG_PROBS = {"categorical": actor_log_probs, "gaussian": gaussian_log_probs}
DIVERGENCES = {"categorical": CategoricalNetworkDivergence, "gaussian": GaussianNetworkDivergence}


@dataclass(frozen=True)
class StateSample:
    """``M`` states per pair drawn from ``D_{k+1}``: joint observations ``[P, M, N, obs_dim]`` (float64) and
    each state's step within its episode ``[P, M]``."""

    pairs: np.ndarray
    joint_observations: torch.Tensor
    steps: torch.Tensor


def sample_states(trace: NeuralTrace, pairs, states_per_pair: int, rng: np.random.Generator) -> StateSample:
    """Draw ``states_per_pair`` (step, env) cells of each ``D_{k+1}`` without replacement (valid cells only,
    for padded T3 batches)."""
    pairs = np.asarray(pairs)
    num_envs = trace.observations.shape[2]
    horizon = int(trace.metadata["config"]["max_cycles"])
    candidates = [np.flatnonzero(trace.valid_steps(k + 1).reshape(-1)) for k in pairs]
    size = min(states_per_pair, min(len(c) for c in candidates))
    cells = np.stack([rng.choice(c, size=size, replace=False) for c in candidates])
    steps, envs = np.divmod(cells, num_envs)
    observations = trace.observations[pairs[:, None] + 1, steps, envs]
    return StateSample(pairs, torch.as_tensor(observations, dtype=torch.float64),
                       torch.as_tensor(steps % horizon))


def phase_batch(trace: NeuralTrace, phase: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``D_k`` as episodes: observations ``[B, H, N, obs_dim]``, actions ``[B, H, N(, A)]``, features
    ``[N, B, H, q]`` (zero on padding steps)."""
    features = trace.episodes(trace.features, phase).to(torch.float64)
    return trace.episodes(trace.observations, phase), trace.episodes(trace.actions, phase), features.permute(2, 0, 1, 3)


def log_prob_functions(trace: NeuralTrace, templates: list, phase: int) -> list:
    """Per agent, ``θ_i [d] → log π_i(a|o; θ_i) [B, H]`` on ``D_k``'s episodes (0 on padding steps)."""
    observations, actions, _ = phase_batch(trace, phase)
    log_probs = LOG_PROBS[trace.policy]
    valid = trace.episodes(trace.valid_mask(), phase)
    return [lambda theta, i=i: log_probs(templates[i], theta, observations[:, :, i], actions[:, :, i]) * valid
            for i in range(trace.num_agents)]


def phase_tensors(trace: NeuralTrace, templates: list, phase: int, gamma: float, coupled: bool):
    """GPOMDP ``Ψ_ii`` ``[N, d, q]`` and LOLA ``T`` ``[N, N, d, q, q]`` (or ``None``) at ``θ^k`` from ``D_k``."""
    _, _, features = phase_batch(trace, phase)
    log_prob_fns = log_prob_functions(trace, templates, phase)
    params = torch.as_tensor(trace.actor_params[phase], dtype=torch.float64)
    return sampled_gradient_tensors(log_prob_fns, params, features, gamma, coupled)


def templates_of(trace: NeuralTrace) -> list:
    """Each agent's actor module (architecture and frozen normalisation), built once per analysis."""
    return [trace.actor_template(i) for i in range(trace.num_agents)]


def network_divergence(trace: NeuralTrace, templates: list, sample: StateSample):
    """KL between observed and predicted network policies on the sampled states of each pair (closed form)."""
    observations = sample.joint_observations.float().transpose(1, 2)  # [P, N, M, obs_dim]
    next_params = torch.as_tensor(trace.actor_params[sample.pairs + 1], dtype=torch.float64)
    return DIVERGENCES[trace.policy](templates, observations, next_params)


def gradient_model(trace: NeuralTrace, templates: list, pairs, gamma: float, coupled: bool) -> GradientLearnerModel:
    """The naive or LOLA learner model on ``pairs`` with tensors estimated from each ``D_k``."""
    own, cross = zip(*(phase_tensors(trace, templates, k, gamma, coupled) for k in pairs))
    theta = torch.as_tensor(trace.actor_params[np.asarray(pairs)], dtype=torch.float64)
    lola = torch.stack(cross) if coupled else None
    return GradientLearnerModel(theta, torch.stack(own), lola, coupled=coupled)


def recovery_scores(truth: np.ndarray):
    """``ω̂ → {cosine, cosine_per_agent, weights}`` against the true weights ``truth [N, q]``."""
    def recovery(omega: np.ndarray) -> dict:
        unit = omega / np.linalg.norm(omega, axis=-1, keepdims=True)
        per_agent = cosine(omega, truth)
        return {"cosine": float(per_agent.mean()), "cosine_per_agent": per_agent.tolist(), "weights": unit.tolist()}

    return recovery


@dataclass
class TraceAnalysis:
    """What every method on one trace shares: the analysed pairs (and which are fit / held out), the
    sampled states, the actor templates and the random stream; and Stage B's validation pairs (update indices,
    empty without ``validation_stride``) with their own sampled states, drawn from a child stream so that the
    analysed pairs' states and every later draw are the same with and without them."""

    pairs: np.ndarray
    fit: np.ndarray
    held: np.ndarray
    sample: StateSample
    templates: list
    truth: np.ndarray
    rng: np.random.Generator
    validation: np.ndarray
    validation_sample: StateSample | None

    @classmethod
    def of(cls, trace: NeuralTrace, settings: dict, rng: np.random.Generator) -> "TraceAnalysis":
        pairs, fit, held = analysed_pairs(trace.num_phases, settings["held_out_every"], settings["fit_pair_stride"],
                                          settings["warm_up_fraction"])
        sample = sample_states(trace, pairs, settings["states_per_pair"], rng)
        validation = validation_pairs(trace.num_phases, settings["held_out_every"], settings["fit_pair_stride"],
                                      settings["warm_up_fraction"], settings["validation_stride"])
        validation_sample = (sample_states(trace, validation, settings["states_per_pair"], rng.spawn(1)[0])
                             if len(validation) else None)
        return cls(pairs, fit, held, sample, templates_of(trace), np.asarray(trace.reward_weights, dtype=np.float64),
                   rng, validation, validation_sample)


GPOMDP_SUFFIX = "_gpomdp"


def gradient_methods_on_trace(trace: NeuralTrace, analysis: TraceAnalysis, settings: dict, seed: int,
                              monte_carlo_samples: int = 0) -> tuple[dict, dict, dict]:
    """``ilogel``, ``ilola`` and ``ilola_eta0`` on the PPO replay learner model
    (:mod:`ilola_lib.inverse.replay_methods`) and the same three on the GPOMDP gradient-step model of design
    §5.2–5.3 (keys with ``_gpomdp``), with held-out KLs (and, if ``monte_carlo_samples``, their Monte-Carlo
    estimates); the learner-model ladder (KL(1a) and EF(1a) per learner model) and the seconds each part took."""
    seconds, start = {}, time.perf_counter()
    gamma = float(trace.metadata["config"]["gamma"])
    model = gradient_model(trace, analysis.templates, analysis.pairs, gamma, coupled=True)
    seconds["tensors"] = time.perf_counter() - start
    start = time.perf_counter()
    next_theta = torch.as_tensor(trace.actor_params[analysis.pairs + 1], dtype=torch.float64)
    divergence = network_divergence(trace, analysis.templates, analysis.sample)
    monte_carlo = None
    if monte_carlo_samples:
        generator = stream_torch_generator(seed, "monte_carlo_kl")
        monte_carlo = MonteCarloGaussianDivergence(analysis.templates, divergence.observations,
                                                   divergence.next_params, monte_carlo_samples, generator)
    recovery = recovery_scores(analysis.truth)
    gpomdp = fit_gradient_methods(model.theta, next_theta, model.jacobians, model.lola, divergence, analysis.fit,
                                  analysis.held, analysis.truth, recovery, analysis.rng, settings, seed, monte_carlo)
    seconds["gpomdp_methods"] = time.perf_counter() - start
    start = time.perf_counter()
    validation = None
    if len(analysis.validation):
        validation = ValidationSet(analysis.validation,
                                   torch.as_tensor(trace.actor_params[analysis.validation], dtype=torch.float64),
                                   network_divergence(trace, analysis.templates, analysis.validation_sample),
                                   gradient_model(trace, analysis.templates, analysis.validation, gamma,
                                                  coupled=True).lola)
        seconds["validation_tensors"] = time.perf_counter() - start
    methods, ladder, replay_seconds = fit_replay_methods(trace, analysis, divergence, model.lola, settings, seed,
                                                         recovery, monte_carlo, validation)
    ladder["gpomdp"] = {"kl_1a": gpomdp["ilogel"]["kl_1a"],
                        "ef_1a": explained_fraction(gpomdp["ilogel"]["kl_1a"], gpomdp["ilogel"]["kl_0"])}
    methods.update({f"{key}{GPOMDP_SUFFIX}": value for key, value in gpomdp.items()})
    return methods, ladder, {**seconds, **replay_seconds}


def inverse_metrics(task: str, seed: int, trace: NeuralTrace, methods: dict, **extra) -> dict:
    """One seed's inverse metrics file: the task, seed, feature names, the weights the learners were
    trained on, anything in ``extra`` and each method's metrics."""
    return {"task": task, "seed": seed, "feature_names": list(trace.metadata["feature_names"]),
            "true_weights": np.asarray(trace.reward_weights).tolist(), **extra, "methods": methods}


def invert_and_write(invert_seed: Callable, config: dict, seed: int, trace_path: str, metrics_path: str) -> dict:
    """``invert_seed(config, seed, trace)`` on the trace at ``trace_path``, its metrics written to
    ``metrics_path``; returns the seconds each part took."""
    metrics, seconds = invert_seed(config, seed, load_neural_trace(trace_path))
    write_json(metrics_path, metrics)
    return seconds


def invert_seeds(invert_seed: Callable, config: dict, trace_paths: dict[int, str | Path],
                 metrics_dir: str | Path) -> list[dict]:
    """Every seed of ``trace_paths`` (seed → trace file) inverted by ``invert_seed`` on ``config["workers"]``
    processes, seed ``s``'s metrics written to ``metrics_dir/seed_<s>.json``; the seconds each part took, per
    seed in the order of ``trace_paths``. Each seed's metrics are the same whatever the worker count."""
    Path(metrics_dir).mkdir(parents=True, exist_ok=True)
    arguments = [(invert_seed, config, seed, str(path), str(Path(metrics_dir) / f"seed_{seed}.json"))
                 for seed, path in trace_paths.items()]
    return run_jobs(invert_and_write, arguments, config["workers"])
