"""T2 inversion of a recorded PPO learning trace: per-phase tensors and Stage A/B fits (design §5.2–5.3).

Work in progress toward the T2 pipeline: the pieces here are tested on small traces; the invert,
induce and report DVC stages, MA-LfL over observations and induced-return training are not built yet.
"""

from __future__ import annotations

import numpy as np
import torch

from ilola_lib.inverse.gradient_methods import fit_gradient_methods
from ilola_lib.inverse.learner_models import GradientLearnerModel
from ilola_lib.inverse.network_policy_space import (CategoricalNetworkDivergence, episodes_from_rollout,
                                                    sampled_gradient_tensors)
from ilola_lib.learners.policies import actor_log_probs
from ilola_lib.metrics import cosine
from ilola_lib.neural_traces import NeuralTrace
from ilola_lib.traces import split_pairs


def phase_batch(trace: NeuralTrace, phase: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``D_k`` as episodes: observations ``[B, H, N, obs_dim]``, actions ``[B, H, N]``, features ``[N, B, H, q]``."""
    horizon = int(trace.metadata["config"]["max_cycles"])
    observations = episodes_from_rollout(torch.as_tensor(trace.observations[phase]), horizon)
    actions = episodes_from_rollout(torch.as_tensor(trace.actions[phase]), horizon)
    features = episodes_from_rollout(torch.as_tensor(trace.features[phase], dtype=torch.float64), horizon)
    return observations, actions, features.permute(2, 0, 1, 3)


def phase_tensors(trace: NeuralTrace, phase: int, gamma: float, coupled: bool):
    """GPOMDP ``Ψ_ii`` ``[N, d, q]`` and LOLA ``T`` ``[N, N, d, q, q]`` (or ``None``) at ``θ^k`` from ``D_k``."""
    observations, actions, features = phase_batch(trace, phase)
    templates = [trace.actor_template(i) for i in range(trace.num_agents)]
    log_prob_fns = [lambda theta, i=i: actor_log_probs(templates[i], theta, observations[:, :, i], actions[:, :, i])
                    for i in range(trace.num_agents)]
    params = torch.as_tensor(trace.actor_params[phase], dtype=torch.float64)
    return sampled_gradient_tensors(log_prob_fns, params, features, gamma, coupled)


def divergence_for_pairs(trace: NeuralTrace, pairs, observations_per_pair: int,
                         rng: np.random.Generator) -> CategoricalNetworkDivergence:
    """Policy-space divergence on ``observations_per_pair`` observations of each ``D_{k+1}`` (sampled once)."""
    chosen = []
    for k in pairs:
        flat = trace.observations[k + 1].reshape(-1, trace.num_agents, trace.observations.shape[-1])
        index = rng.choice(len(flat), size=min(observations_per_pair, len(flat)), replace=False)
        chosen.append(np.swapaxes(flat[index], 0, 1))  # [N, M, obs_dim]
    observations = torch.as_tensor(np.stack(chosen))
    templates = [trace.actor_template(i) for i in range(trace.num_agents)]
    next_params = torch.as_tensor(trace.actor_params[np.asarray(pairs) + 1], dtype=torch.float64)
    return CategoricalNetworkDivergence(templates, observations, next_params)


def gradient_model(trace: NeuralTrace, pairs, gamma: float, coupled: bool) -> GradientLearnerModel:
    """The naive or LOLA learner model on ``pairs`` with tensors estimated from each ``D_k``."""
    own, cross = zip(*(phase_tensors(trace, k, gamma, coupled) for k in pairs))
    theta = torch.as_tensor(trace.actor_params[np.asarray(pairs)], dtype=torch.float64)
    lola = torch.stack(cross) if coupled else None
    return GradientLearnerModel(theta, torch.stack(own), lola, coupled=coupled)


def snapshots(trace: NeuralTrace) -> torch.Tensor:
    """``θ^0 … θ^K`` as ``[K+1, N, d]`` float64."""
    return torch.as_tensor(trace.actor_params, dtype=torch.float64)


def invert_trace(trace: NeuralTrace, settings: dict, seed: int, observations_per_pair: int,
                 held_out_every: int = 4) -> dict[str, dict]:
    """``ilogel``, ``ilola`` and ``ilola_eta0`` on one PPO trace, with held-out KLs and cosines to the
    weights the learners were trained on (design §5.2–5.3, §6)."""
    rng = np.random.default_rng([seed, 2])
    fit_pairs, held_pairs = split_pairs(trace.num_phases, held_out_every)
    pairs = np.arange(trace.num_phases)
    model = gradient_model(trace, pairs, float(trace.metadata["config"]["gamma"]), coupled=True)
    divergence = divergence_for_pairs(trace, pairs, observations_per_pair, rng)
    truth = np.asarray(trace.reward_weights, dtype=np.float64)

    def recovery(omega: np.ndarray) -> dict:
        unit = omega / np.linalg.norm(omega, axis=-1, keepdims=True)
        return {"cosine": float(cosine(omega, truth).mean()), "weights": unit.tolist()}

    return fit_gradient_methods(snapshots(trace), model.jacobians, model.lola, divergence, fit_pairs, held_pairs,
                                truth, recovery, rng, settings, seed)
