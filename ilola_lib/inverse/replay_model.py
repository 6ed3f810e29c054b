"""The PPO replay learner model on a recorded trace: every update ``k → k+1`` replayed from the observed ``θ^k``
on the shadow critic's advantages ``A(ω) = A^φ ω``, for a population of reward weights at once.

* :func:`replay_along_trace` — ``Δθ^k(ω)`` ``[P, K, N, d]`` for every update and candidate ``ω [P, N, q]``. Each
  candidate carries its own Adam moments from update to update (the learners' optimisers persist across
  updates; the observer rebuilds them by replaying every update with the candidate), starting from zero at
  ``θ^0``. The minibatch order is the observer's own (one generator, drawn once per trace).
* :func:`surrogate_jacobians` — ``Ψ̃^k = ∂/∂θ mean_b r_b(θ) A^φ_b`` at ``θ^k`` ``[K, N, d, q]``: the gradient of
  PPO's first-step surrogate per feature (ratio 1, no clipping, no normalisation), the linear model of Stage A.
* :func:`linearise` — ``Δθ^k(ω) ≈ Δθ^k(ω₀) + J^k (ω − ω₀)`` with ``J = ∂Δθ/∂ω`` ``[K, N, d, q]`` by forward
  differences, the LOGEL-form model Stage B fits and iterates; :func:`exact_point` the replay at one ``ω``
  in the same form, with no slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.func import jacrev

from ilola_lib.core.neural_trace import NeuralTrace
from ilola_lib.core.policies import flat_log_prob_and_entropy
from ilola_lib.inverse.ppo_replay import (
    ActorBatch,
    ActorUpdateSettings,
    AdamMoments,
    minibatch_orders,
    replay_actor_update,
)
from ilola_lib.inverse.shadow_critic import FeatureAdvantages


@dataclass
class ReplayTrace:
    """What the replay needs from a trace: each agent's actor template, ``θ^k`` ``[K+1, N, d]`` (float32), per
    update and agent the :class:`ActorBatch` of ``D_k`` and the observer's minibatch order, the shadow
    critic's ``A^φ`` and the learners' PPO settings."""

    templates: list
    theta: torch.Tensor
    batches: list[list[ActorBatch]]
    orders: list[list[list[torch.Tensor]]]
    advantages: FeatureAdvantages
    settings: ActorUpdateSettings

    @classmethod
    def of(cls, trace: NeuralTrace, templates: list, advantages: FeatureAdvantages,
           generator: torch.Generator) -> "ReplayTrace":
        settings = ActorUpdateSettings.from_config(trace.metadata["config"])
        theta = torch.as_tensor(trace.actor_params, dtype=torch.float32)
        batches, orders = [], []
        for k in range(trace.num_phases):
            valid = torch.as_tensor(trace.valid_steps(k))
            observations, actions = torch.as_tensor(trace.observations[k]), torch.as_tensor(trace.actions[k])
            batches.append([ActorBatch.at(templates[i], theta[k, i], observations[:, :, i][valid],
                                          actions[:, :, i][valid]) for i in range(trace.num_agents)])
            orders.append([minibatch_orders(int(valid.sum()), settings, generator) for _ in range(trace.num_agents)])
        return cls(templates, theta, batches, orders, advantages, settings)

    @property
    def num_updates(self) -> int:
        return self.theta.shape[0] - 1

    @property
    def num_agents(self) -> int:
        return self.theta.shape[1]


@dataclass
class ReplayedUpdates:
    """``steps`` ``Δθ^k(ω_p)`` ``[P, K, N, d]`` (float64) and the Adam preconditioner ``1/(sqrt(v̂) + eps)``
    after each update ``[P, K, N, d]`` (float32) of every candidate."""

    steps: torch.Tensor
    preconditioners: torch.Tensor


def replay_along_trace(replay: ReplayTrace, omega: torch.Tensor) -> ReplayedUpdates:
    """Every update replayed for each candidate ``ω [P, N, q]`` (see the module docstring)."""
    population = omega.shape[0]
    unit = (omega / omega.norm(dim=-1, keepdim=True)).to(torch.float32)
    steps = torch.zeros(population, replay.num_updates, replay.num_agents, replay.theta.shape[-1], dtype=torch.float64)
    preconditioners = torch.zeros_like(steps, dtype=torch.float32)
    for i in range(replay.num_agents):
        moments = AdamMoments.zeros(replay.theta.shape[-1]).expand(population)
        for k in range(replay.num_updates):
            advantages = replay.advantages.linear_in(k, i, unit[:, i])
            with torch.no_grad():
                after, moments = replay_actor_update(replay.templates[i], replay.theta[k, i], moments,
                                                     replay.batches[k][i], advantages, replay.orders[k][i],
                                                     replay.settings)
            steps[:, k, i] = (after - replay.theta[k, i]).to(torch.float64)
            preconditioners[:, k, i] = moments.preconditioner()
    return ReplayedUpdates(steps, preconditioners)


def finite_difference_candidates(omega: np.ndarray, step: float) -> np.ndarray:
    """``[1 + q, N, q]``: unit ``ω`` and ``ω + h e_n`` for each feature ``n`` (every agent perturbed at once: an
    agent's replay depends only on its own weights)."""
    unit = omega / np.linalg.norm(omega, axis=-1, keepdims=True)
    q = unit.shape[-1]
    return np.concatenate([unit[None], unit[None] + step * np.eye(q)[:, None, :]])


@dataclass
class Linearisation:
    """``Δθ(ω) ≈ offset + J ω`` around ``ω₀`` (unit): ``J`` ``[K, N, d, q]``, ``offset = Δθ(ω₀) − J ω₀``
    ``[K, N, d]``, the replayed ``Δθ(ω₀)`` and the Adam preconditioner of the ``ω₀`` replay ``[K, N, d]``."""

    omega: np.ndarray
    jacobians: torch.Tensor
    offset: torch.Tensor
    steps: torch.Tensor
    preconditioners: torch.Tensor


def linearise(replayed: ReplayedUpdates, candidates: np.ndarray, first: int = 0) -> Linearisation:
    """The forward-difference linearisation from a replay whose candidates ``first .. first + q`` are
    ``candidates``, the output of :func:`finite_difference_candidates`."""
    q = candidates.shape[-1]
    base = replayed.steps[first]
    perturbed = replayed.steps[first + 1: first + 1 + q]  # [q, K, N, d]
    unit = torch.as_tensor(candidates[0], dtype=torch.float64)
    # The replay sees unit weights, so each perturbed candidate moves by its normalised displacement.
    directions = torch.as_tensor(candidates[1:], dtype=torch.float64)
    directions = directions / directions.norm(dim=-1, keepdim=True) - unit  # [q, N, q]
    jacobians = _least_squares(directions, (perturbed - base).permute(1, 2, 3, 0), unit)
    offset = base - torch.einsum("kidq,iq->kid", jacobians, unit)
    return Linearisation(candidates[0], jacobians, offset, base, replayed.preconditioners[first])


def exact_point(replayed: ReplayedUpdates, index: int, omega: np.ndarray) -> Linearisation:
    """The replay of candidate ``index`` (weights ``omega``) as a :class:`Linearisation` with a zero Jacobian: exact
    at ``omega``, no slope — a learner model of one fixed ``ω`` to which Stage B's coupling can be added."""
    steps = replayed.steps[index]
    no_slope = torch.zeros((), dtype=steps.dtype).expand(*steps.shape, omega.shape[-1])
    return Linearisation(omega, no_slope, steps, steps, replayed.preconditioners[index])


def _least_squares(directions: torch.Tensor, differences: torch.Tensor, unit: torch.Tensor) -> torch.Tensor:
    """``J_i = argmin ‖J_i D_iᵀ − ΔΔθ_i‖`` per agent on the tangent space of the unit sphere at ``ω₀``: ``directions
    [q', N, q]``, ``differences [K, N, d, q']``, ``unit [N, q]`` → ``[K, N, d, q]`` with ``J_i ω₀ = 0`` (the replay
    depends on ``ω`` only through its direction, and radial displacements are second order)."""
    tangent = directions - (directions * unit).sum(-1, keepdim=True) * unit
    pinv = torch.linalg.pinv(tangent.permute(1, 0, 2), rtol=1e-8)  # [N, q, q']
    return torch.einsum("kidr,iqr->kidq", differences, pinv)


def surrogate_jacobians(replay: ReplayTrace, updates) -> torch.Tensor:
    """``Ψ̃^k`` ``[len(updates), N, d, q]`` (float64): ``∂/∂θ mean_b exp(log π(a_b|o_b; θ) − log π(a_b|o_b; θ^k)) A^φ_b``
    at ``θ^k``."""
    result = []
    for k in updates:
        per_agent = []
        for i in range(replay.num_agents):
            batch, feature_advantages = replay.batches[k][i], replay.advantages.advantages[k][i]

            def surrogate(theta, template=replay.templates[i], batch=batch, feature_advantages=feature_advantages):
                log_probs, _ = flat_log_prob_and_entropy(template, theta, batch.observations, batch.actions)
                return (log_probs - batch.old_log_probs).exp() @ feature_advantages / feature_advantages.shape[0]

            per_agent.append(jacrev(surrogate)(replay.theta[k, i]).T.to(torch.float64))
        result.append(torch.stack(per_agent))
    return torch.stack(result)
