"""T2 inversion of a recorded PPO learning trace (design §5–§6): I-LOGEL, I-LOLA, its η = 0 ablation and
MA-LfL over observations, each with held-out KLs and cosines to the weights the learners were trained on.

All methods are scored on the same states: ``M`` joint observations sampled once per pair from ``D_{k+1}``.
The trace-level helpers (state samples, batches, tensors, divergences) also serve T3's Gaussian traces
(:mod:`ilola_lib.experiments.t3_inverse`), whose batches are padded episodes with a ``valid`` mask.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ilola_lib.envs.simple_spread import joint_actions, lookahead_all_joint_actions
from ilola_lib.inverse.evaluation import baseline_kls, recovered_kl
from ilola_lib.inverse.gradient_methods import fit_gradient_methods
from ilola_lib.inverse.learner_models import GradientLearnerModel, SoftPolicyIterationModel
from ilola_lib.inverse.ma_lfl_observations import (fit_lfl_weights, lfl_regression_rows, other_agents_weights,
                                                   potential_basis, soft_q_monte_carlo)
from ilola_lib.inverse.network_policy_space import (CategoricalNetworkDivergence, GaussianNetworkDivergence,
                                                    MonteCarloGaussianDivergence, episodes_from_rollout,
                                                    sampled_gradient_tensors)
from ilola_lib.inverse.policy_fit import TabularDivergence, fit_nuisance
from ilola_lib.learners.policies import actor_log_probs, actor_logits, gaussian_log_probs, safe_observation_std
from ilola_lib.metrics import cosine
from ilola_lib.neural_traces import NeuralTrace
from ilola_lib.parallel import single_threaded_torch
from ilola_lib.summary import markdown_rows
from ilola_lib.traces import split_pairs


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
    if trace.valid is not None:  # T3: env e played one padded episode [H, E]
        def episodes(values):
            return torch.as_tensor(values[phase]).transpose(0, 1)
    else:
        def episodes(values):
            return episodes_from_rollout(torch.as_tensor(values[phase]), int(trace.metadata["config"]["max_cycles"]))
    features = episodes(trace.features).to(torch.float64)
    return episodes(trace.observations), episodes(trace.actions), features.permute(2, 0, 1, 3)


def log_prob_functions(trace: NeuralTrace, templates: list, phase: int) -> list:
    """Per agent, ``θ_i [d] → log π_i(a|o; θ_i) [B, H]`` on ``D_k``'s episodes (0 on padding steps)."""
    observations, actions, _ = phase_batch(trace, phase)
    if trace.policy != "gaussian":
        return [lambda theta, i=i: actor_log_probs(templates[i], theta, observations[:, :, i], actions[:, :, i])
                for i in range(trace.num_agents)]
    valid = torch.as_tensor(trace.valid_steps(phase)).T
    return [lambda theta, i=i: gaussian_log_probs(templates[i], theta, observations[:, :, i], actions[:, :, i])
            * valid for i in range(trace.num_agents)]


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
    if trace.policy == "gaussian":
        return GaussianNetworkDivergence(templates, observations, next_params)
    return CategoricalNetworkDivergence(templates, observations, next_params)


def gradient_model(trace: NeuralTrace, templates: list, pairs, gamma: float, coupled: bool) -> GradientLearnerModel:
    """The naive or LOLA learner model on ``pairs`` with tensors estimated from each ``D_k``."""
    own, cross = zip(*(phase_tensors(trace, templates, k, gamma, coupled) for k in pairs))
    theta = torch.as_tensor(trace.actor_params[np.asarray(pairs)], dtype=torch.float64)
    lola = torch.stack(cross) if coupled else None
    return GradientLearnerModel(theta, torch.stack(own), lola, coupled=coupled)


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
    next_kl = (next_now.exp() * (next_now - next_next)).sum(-1)  # [M, J, N]
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
    for index, k in enumerate(sample.pairs):
        generator = torch.Generator().manual_seed(int(seed) * 100_003 + int(k))
        params = torch.as_tensor(trace.actor_params[k])
        q_features, q_entropy = soft_q_monte_carlo(
            templates, params, sample.joint_observations[index], sample.steps[index], config["local_ratio"],
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


def analysed_pairs(num_pairs: int, held_out_every: int, fit_pair_stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs analysed — every held-out pair and every ``fit_pair_stride``-th fit pair, in order — and the
    positions of the fit and held-out ones among them."""
    fit_pairs, held_pairs = split_pairs(num_pairs, held_out_every)
    pairs = np.sort(np.concatenate([fit_pairs[::fit_pair_stride], held_pairs]))
    return pairs, np.flatnonzero(~np.isin(pairs, held_pairs)), np.flatnonzero(np.isin(pairs, held_pairs))


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
    sampled states, the actor templates and the random stream."""

    pairs: np.ndarray
    fit: np.ndarray
    held: np.ndarray
    sample: StateSample
    templates: list
    truth: np.ndarray
    rng: np.random.Generator

    @classmethod
    def of(cls, trace: NeuralTrace, settings: dict, rng: np.random.Generator) -> "TraceAnalysis":
        pairs, fit, held = analysed_pairs(trace.num_phases, settings["held_out_every"], settings["fit_pair_stride"])
        sample = sample_states(trace, pairs, settings["states_per_pair"], rng)
        return cls(pairs, fit, held, sample, templates_of(trace), np.asarray(trace.reward_weights, dtype=np.float64),
                   rng)


def gradient_methods_on_trace(trace: NeuralTrace, analysis: TraceAnalysis, settings: dict, seed: int,
                              monte_carlo_samples: int = 0) -> tuple[dict, dict]:
    """``ilogel``, ``ilola`` and ``ilola_eta0`` (design §5.2–5.3) with held-out KLs (and, if
    ``monte_carlo_samples``, their Monte-Carlo estimates), and the seconds the tensors and the fits took."""
    seconds, start = {}, time.perf_counter()
    model = gradient_model(trace, analysis.templates, analysis.pairs, float(trace.metadata["config"]["gamma"]),
                           coupled=True)
    seconds["tensors"] = time.perf_counter() - start
    start = time.perf_counter()
    next_theta = torch.as_tensor(trace.actor_params[analysis.pairs + 1], dtype=torch.float64)
    divergence = network_divergence(trace, analysis.templates, analysis.sample)
    monte_carlo = None
    if monte_carlo_samples:
        generator = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, 4]).generate_state(1)[0]))
        monte_carlo = MonteCarloGaussianDivergence(analysis.templates, divergence.observations,
                                                   divergence.next_params, monte_carlo_samples, generator)
    methods = fit_gradient_methods(model.theta, next_theta, model.jacobians, model.lola, divergence, analysis.fit,
                                   analysis.held, analysis.truth, recovery_scores(analysis.truth), analysis.rng,
                                   settings, seed, monte_carlo)
    seconds["ilogel_ilola"] = time.perf_counter() - start
    return methods, seconds


def invert_trace(trace: NeuralTrace, settings: dict, seed: int) -> dict:
    """``ilogel``, ``ilola``, ``ilola_eta0`` and ``ma_lfl`` on one PPO trace, and the seconds each part took."""
    analysis = TraceAnalysis.of(trace, settings, np.random.default_rng([seed, 2]))
    methods, seconds = gradient_methods_on_trace(trace, analysis, settings, seed)
    start = time.perf_counter()
    methods["ma_lfl"] = ma_lfl_on_trace(trace, analysis.templates, analysis.sample, analysis.fit, analysis.held,
                                        {**settings["ma_lfl"], "random_draws": settings["random_draws"],
                                         "lbfgs_iterations": settings["lbfgs_iterations"]}, seed, analysis.rng,
                                        recovery_scores(analysis.truth))
    seconds["ma_lfl"] = time.perf_counter() - start
    return {"methods": methods, "seconds": seconds}


def invert_seed(config: dict, seed: int, trace: NeuralTrace) -> tuple[dict, dict]:
    """One seed's inverse metrics (deterministic, JSON-ready) and the seconds each part took."""
    with single_threaded_torch():
        result = invert_trace(trace, config["inverse"], seed)
    metrics = {"task": "t2", "seed": seed, "feature_names": list(trace.metadata["feature_names"]),
               "true_weights": np.asarray(trace.reward_weights).tolist(), "methods": result["methods"]}
    return metrics, result["seconds"]


def methods_table(metrics: dict, columns: tuple[str, ...] = ("kl_1a", "kl_1b", "kl_0", "kl_rand", "cosine")) -> str:
    """Markdown: held-out KLs and cosines (or other ``columns``) of each method of one seed."""
    return markdown_rows(("method", *columns), ([f"`{name}`", *(f"{m[c]:.4g}" for c in columns)]
                                                for name, m in metrics["methods"].items()))


def weights_table(metrics: dict) -> str:
    """Markdown: true and recovered unit weights per agent and feature."""
    rows = []
    for agent, truth in enumerate(np.asarray(metrics["true_weights"])):
        weights = {"true ω*": truth / np.linalg.norm(truth)} | {
            f"`{name}`": np.asarray(m["weights"][agent]) for name, m in metrics["methods"].items()}
        rows += [[str(agent), label, *(f"{w:+.3f}" for w in row)] for label, row in weights.items()]
    return markdown_rows(("agent", "weights", *metrics["feature_names"]), rows)
