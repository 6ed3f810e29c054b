"""The first-order LOLA correction of LOLA-PPO learners (Foerster et al. 2018, eq. 4; design §5.3).

A LOLA-PPO agent ``i`` takes PPO's actor step with the correction

    η Σ_{j≠i} (∇_{θ_j} V_i)ᵀ ∇_{θ_i} ∇_{θ_j} V_j        (an ascent direction on ``V_i``)

added to every minibatch gradient, where ``V_i`` is agent ``i``'s discounted training return. Both factors are
estimated from the batch ``D_k`` with the score-function identities the observer uses for its LOLA tensors
(:func:`ilola_lib.core.gradient_estimators.sampled_gradient_tensors`) applied to the rewards ``r_i = w_i · φ_i``
as a single feature: with ``q = 1`` the observer's ``Σ_mn ω_im ω_jn T_ij^{mn}`` *is* this correction, so the
coupled learner model of I-LOLA is the learners' own rule.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from ilola_lib.core.gradient_estimators import sampled_gradient_tensors
from ilola_lib.core.neural_trace import episodes_from_rollout
from ilola_lib.core.policies import actor_log_probs, flatten_params


def lola_corrections(log_prob_fns: Sequence[Callable[[torch.Tensor], torch.Tensor]], params: torch.Tensor,
                     rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """``Σ_{j≠i} (∇_{θ_j} V_i)ᵀ ∇_{θ_i} ∇_{θ_j} V_j`` for every agent ``i``, ``[N, d]``.

    Args:
        log_prob_fns: per agent, ``θ_i [d] → log π_i(a|o; θ_i) [E, H]`` on the batch's episodes.
        params: ``θ`` as ``[N, d]``.
        rewards: ``r_i`` as ``[N, E, H]``.
    """
    _, cross = sampled_gradient_tensors(log_prob_fns, params, rewards[..., None], gamma, coupled=True)
    return cross[..., 0, 0].sum(dim=1)  # T_ii = 0


def rollout_lola_corrections(actors: Sequence[torch.nn.Module], observations: torch.Tensor, actions: torch.Tensor,
                             rewards: torch.Tensor, gamma: float, horizon: int) -> torch.Tensor:
    """:func:`lola_corrections` at the actors' current parameters from an episode-aligned rollout.

    Args:
        observations: ``[T, E, N, obs_dim]`` float32; ``actions [T, E, N]``; ``rewards [T, E, N]`` (the training
            rewards); ``T`` a multiple of the episode length ``horizon`` with all envs starting episodes together.
    """
    episode_observations = episodes_from_rollout(observations, horizon)  # [B, H, N, obs_dim]
    episode_actions = episodes_from_rollout(actions, horizon)
    episode_rewards = episodes_from_rollout(rewards, horizon).to(torch.float32).permute(2, 0, 1)  # [N, B, H]
    params = torch.stack([flatten_params(actor) for actor in actors])
    log_prob_fns = [lambda theta, i=i: actor_log_probs(actor, theta, episode_observations[:, :, i],
                                                        episode_actions[:, :, i])
                    for i, actor in enumerate(actors)]
    return lola_corrections(log_prob_fns, params, episode_rewards, gamma).detach()
