"""A repeated matrix game of network policies on one fixed observation, where every value is exact: with
``H`` steps, ``ψ_i(θ) = (Σ_t γ^t) Σ_a Π_j π_j(a_j) φ_i(a)`` is differentiable by autograd, and sampled
episodes give the score-function estimators something to estimate."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ilola_lib.core.policies import CategoricalActor, actor_log_probs, actor_logits, flatten_params


def tiny_actor(seed: int, obs_dim: int = 4, actions: int = 3) -> CategoricalActor:
    generator = torch.Generator().manual_seed(seed)
    return CategoricalActor(torch.zeros(obs_dim), torch.ones(obs_dim), actions, hidden_size=6, generator=generator)


@dataclass
class MatrixGame:
    """Templates, ``θ [N, d]`` (float64), the observation, payoffs ``φ_i(a_0..a_{N−1}) [N, 3, …, 3, q]`` and
    ``gamma``, ``horizon``."""

    templates: list
    params: torch.Tensor
    observation: torch.Tensor
    payoffs: torch.Tensor
    gamma: float
    horizon: int

    def psi(self, *thetas: torch.Tensor) -> torch.Tensor:
        """Exact ``ψ [N, q]`` at one parameter vector per agent."""
        probs = [torch.softmax(actor_logits(t, theta, self.observation), -1) for t, theta in zip(self.templates, thetas)]
        joint = probs[0]
        for p in probs[1:]:
            joint = joint[..., None] * p
        discount_sum = sum(self.gamma**t for t in range(self.horizon))
        return discount_sum * torch.einsum("...,n...q->nq", joint, self.payoffs)

    def sample(self, episodes: int):
        """Per agent ``θ_i → log π_i [E, H]`` on sampled episodes, and their features ``[N, E, H, q]``."""
        with torch.no_grad():
            probs = [torch.softmax(actor_logits(t, self.params[i], self.observation), -1)
                     for i, t in enumerate(self.templates)]
        actions = torch.stack([torch.multinomial(p, episodes * self.horizon, replacement=True)
                               .reshape(episodes, self.horizon) for p in probs])  # [N, E, H]
        features = self.payoffs[(slice(None), *actions)]
        obs = self.observation.expand(episodes, self.horizon, 4)
        log_prob_fns = [lambda th, i=i: actor_log_probs(self.templates[i], th, obs, actions[i])
                        for i in range(len(self.templates))]
        return log_prob_fns, features


def matrix_game(num_agents: int, q: int, seed: int, gamma: float = 0.7, horizon: int = 3) -> MatrixGame:
    torch.manual_seed(seed)
    templates = [tiny_actor(seed + i) for i in range(num_agents)]
    params = torch.stack([flatten_params(t) for t in templates]).double()
    observation = torch.randn(4, dtype=torch.float64)
    payoffs = torch.randn(num_agents, *[3] * num_agents, q, dtype=torch.float64)
    return MatrixGame(templates, params, observation, payoffs, gamma, horizon)
