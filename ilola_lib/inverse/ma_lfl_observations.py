"""MA-LfL over observations (design §5.1) for learners whose states the observer can simulate (T2).

For update pair ``k → k+1``, agent ``i`` and ``M`` states ``s`` (joint observations sampled from ``D_{k+1}``),
with the temperature fixed to ``α = 1`` (it only scales ``ω̂``) and ``d(s) = 1`` if the step ends the episode:

    Y_i(s, a_i) = log π_i^{k+1}(a_i|o_i) + γ E_{a_-i ~ π_-i^k}[(1 − d) KL(π_i^k(·|o_i') ‖ π_i^{k+1}(·|o_i'))]
    Y_i(s, a_i) ≈ ω_i · φ̄_i(s, a_i) + v_i^k · (ψ(o_i) − γ E_{a_-i ~ π_-i^k}[(1 − d) ψ(o_i')])

The shaping potential ``g_i^k(o) = v_i^k · ψ(o)`` is learned per pair on a polynomial basis ``ψ`` of the
normalised observation and evaluated at both ``o`` and the next observation ``o'``; ``v`` is profiled out by
least squares pair by pair, and ``ω_i`` is the least-squares fit of what remains. The expectation over the
other agents' actions is exact: the simulator is stepped under all ``A^N`` joint actions
(:func:`ilola_lib.tasks.t2.simple_spread.lookahead_all_joint_actions`).

For the held-out KL the MA-SPI model predicts ``π_i^{k+1} ∝ exp(c_i ω̂_i·Q^φ_i + Q^H_i)`` with soft
Q-values of ``π^k`` estimated by Monte-Carlo rollouts in the simulator (:func:`soft_q_monte_carlo`).
"""

from __future__ import annotations

import itertools
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ilola_lib.core.policies import actor_logits


def potential_basis(observations: torch.Tensor, degree: int) -> torch.Tensor:
    """``ψ(o)``: 1, the entries of ``o`` and (``degree`` 2) their pairwise products ``[..., b]``."""
    if degree not in (1, 2):
        raise ValueError(f"potential degree must be 1 or 2, got {degree}")
    columns = [torch.ones_like(observations[..., :1]), observations]
    if degree == 2:
        pairs = torch.tensor(list(itertools.combinations_with_replacement(range(observations.shape[-1]), 2)))
        columns.append(observations[..., pairs[:, 0]] * observations[..., pairs[:, 1]])
    return torch.cat(columns, dim=-1)


def other_agents_weights(probabilities: torch.Tensor, joint: torch.Tensor, agent: int) -> torch.Tensor:
    """``w[m, a, J] = 1[J_i = a] Π_{j≠i} π_j(J_j|o_j)`` for ``probabilities [M, N, A]``, ``joint [J, N]``."""
    num_agents, num_actions = probabilities.shape[1:]
    others = torch.ones(probabilities.shape[0], len(joint), dtype=probabilities.dtype)
    for j in range(num_agents):
        if j != agent:
            others = others * probabilities[:, j, joint[:, j]]
    own = torch.nn.functional.one_hot(joint[:, agent], num_actions).T.to(probabilities.dtype)  # [A, J]
    return own[None] * others[:, None, :]


def lfl_regression_rows(log_next: torch.Tensor, weights: torch.Tensor, features: torch.Tensor,
                        next_kl: torch.Tensor, basis: torch.Tensor, next_basis: torch.Tensor,
                        continues: torch.Tensor, gamma: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One agent's rows of one pair: targets ``Y [M·A]``, features ``φ̄ [M·A, q]``, shaping ``[M·A, b]``.

    Args:
        log_next: ``log π_i^{k+1}(a|o_i)`` ``[M, A]``.
        weights: :func:`other_agents_weights` ``[M, A, J]``.
        features: ``φ_i`` of each joint action ``[M, J, q]``.
        next_kl: ``KL(π_i^k(·|o_i') ‖ π_i^{k+1}(·|o_i'))`` ``[M, J]``.
        basis, next_basis: ``ψ(o_i)`` ``[M, b]`` and ``ψ(o_i')`` ``[M, J, b]``.
        continues: ``1 − d`` ``[M]``.
    """
    discount = gamma * continues[:, None]
    targets = log_next + discount * torch.einsum("maj,mj->ma", weights, next_kl)
    mean_features = torch.einsum("maj,mjq->maq", weights, features)
    shaping = basis[:, None, :] - discount[..., None] * torch.einsum("maj,mjb->mab", weights, next_basis)
    return targets.reshape(-1), mean_features.reshape(-1, features.shape[-1]), shaping.reshape(-1, basis.shape[-1])


def fit_lfl_weights(rows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """``ω̂ = argmin_ω Σ_k min_{v_k} ‖Y_k − Φ_k ω − S_k v_k‖²`` over per-pair ``(Y_k, Φ_k, S_k)``."""
    projected_targets, projected_features = [], []
    for targets, features, shaping in rows:
        columns = np.column_stack([targets, features])
        potentials, *_ = np.linalg.lstsq(shaping, columns, rcond=None)
        residual = columns - shaping @ potentials
        projected_targets.append(residual[:, 0])
        projected_features.append(residual[:, 1:])
    omega, *_ = np.linalg.lstsq(np.concatenate(projected_features), np.concatenate(projected_targets), rcond=None)
    return omega


def soft_q_monte_carlo(templates: Sequence[nn.Module], params: torch.Tensor, joint_observations: torch.Tensor,
                       steps: torch.Tensor, simulator: Callable, max_cycles: int, gamma: float, rollouts: int,
                       generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Soft Q-values of the joint policy ``π(θ)`` split into their feature and entropy parts.

    For every state ``m``, agent ``i`` and own first action ``a`` (the others sample theirs, then everyone
    follows ``π``), ``rollouts`` episodes to the end of the episode — with common random numbers across
    the first actions — estimate

        Q^φ_i(s, a) = E[Σ_τ γ^τ φ_i(s_τ, a_τ)],   Q^H_i(s, a) = E[Σ_{τ≥1} γ^τ H(π_i(·|o_{i,τ}))],

    so that the soft Q-value under reward ``ω·φ`` at temperature 1 is ``ω·Q^φ + Q^H``.

    Args:
        templates: the agents' actor modules; ``params [N, d]`` their flat parameters.
        joint_observations: ``[M, N, obs_dim]``; ``steps [M]`` each state's step within its episode.
        simulator: ``(joint_observations, steps, state_index [E]) → env``, a batched copy of the task's
            environment with env ``e`` set to state ``state_index[e]`` (``step(actions [E, N])`` returns
            ``features``, ``dones`` and ``observations``); ``max_cycles`` is its episode length.

    Returns:
        ``Q^φ [N, M, A, q]`` and ``Q^H [N, M, A]`` (float64).
    """
    num_states, num_agents = joint_observations.shape[:2]
    num_actions = templates[0](joint_observations[:1, 0].float()).shape[-1]
    # Env index order: (state m, agent i, first action a, rollout r).
    grid = torch.cartesian_prod(torch.arange(num_states), torch.arange(num_agents), torch.arange(num_actions),
                                torch.arange(rollouts))
    state_index, agent_index, first_action = grid[:, 0], grid[:, 1], grid[:, 2]
    num_envs = len(grid)
    env = simulator(joint_observations, steps, state_index)
    observations = joint_observations[state_index].to(torch.float64)
    rows = torch.arange(num_envs)
    feature_return = torch.zeros(num_envs, env.features().shape[-1], dtype=torch.float64)
    entropy_return = torch.zeros(num_envs, dtype=torch.float64)
    weight = torch.ones(num_envs, dtype=torch.float64)  # γ^τ while the episode lasts, then 0
    for horizon_step in range(max_cycles - int(torch.as_tensor(steps).min())):
        with torch.no_grad():
            logits = torch.stack([actor_logits(templates[j], params[j], observations[:, j].float())
                                  for j in range(num_agents)], dim=1).double()  # [E, N, A]
        log_policy = torch.log_softmax(logits, dim=-1)
        if horizon_step > 0:
            own = log_policy[rows, agent_index]
            entropy_return += weight * -(own.exp() * own).sum(-1)
        # Common random numbers: the rollouts of one (state, agent, r) share their draws across the first
        # action, so Q-value differences between actions are not drowned in sampling noise.
        uniforms = torch.rand(num_states, num_agents, 1, rollouts, num_agents, generator=generator,
                              dtype=torch.float64).expand(-1, -1, num_actions, -1, -1).reshape(num_envs, num_agents)
        cumulative = log_policy.exp().cumsum(-1)
        actions = (cumulative < uniforms[..., None]).sum(-1).clamp_max(num_actions - 1)
        if horizon_step == 0:
            actions[rows, agent_index] = first_action
        step = env.step(actions)
        feature_return += weight[:, None] * step.features[rows, agent_index]
        weight = torch.where(step.dones, 0.0, weight * gamma)
        observations = step.observations
    shape = (num_states, num_agents, num_actions, rollouts)
    feature_q = feature_return.reshape(*shape, -1).mean(3).transpose(0, 1)
    entropy_q = entropy_return.reshape(shape).mean(3).transpose(0, 1)
    return feature_q, entropy_q
