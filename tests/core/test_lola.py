"""The LOLA-PPO learners' correction: exact against autograd and equal to the observer's tensors contracted with
the weights."""

from __future__ import annotations

import torch

from ilola_lib.core.gradient_estimators import sampled_gradient_tensors
from ilola_lib.core.lola import lola_corrections
from ilola_lib.core.policies import CategoricalActor, actor_log_probs, actor_logits, flatten_params


def tiny_actor(seed: int, obs_dim: int = 4, actions: int = 3) -> CategoricalActor:
    generator = torch.Generator().manual_seed(seed)
    return CategoricalActor(torch.zeros(obs_dim), torch.ones(obs_dim), actions, hidden_size=6, generator=generator)


def sampled_matrix_game(num_agents: int, episodes: int, horizon: int, q: int, seed: int):
    """Network policies on one fixed observation playing a repeated ``num_agents``-player matrix game:
    templates, ``θ [N, d]`` (float64), log-prob functions on the sampled episodes, features ``[N, E, H, q]``
    and the payoff table ``φ_i(a_0..a_{N−1}) [N, 3, …, 3, q]``."""
    torch.manual_seed(seed)
    templates = [tiny_actor(seed + i) for i in range(num_agents)]
    params = torch.stack([flatten_params(t) for t in templates]).double()
    observation = torch.randn(4, dtype=torch.float64)
    payoffs = torch.randn(num_agents, *[3] * num_agents, q, dtype=torch.float64)
    with torch.no_grad():
        probs = [torch.softmax(actor_logits(t, params[i], observation), -1) for i, t in enumerate(templates)]
    actions = torch.stack([torch.multinomial(p, episodes * horizon, replacement=True).reshape(episodes, horizon)
                           for p in probs])  # [N, E, H]
    features = payoffs[(slice(None), *actions)]  # [N, E, H, q]
    obs = observation.expand(episodes, horizon, 4)
    log_prob_fns = [lambda th, i=i: actor_log_probs(templates[i], th, obs, actions[i]) for i in range(num_agents)]
    return templates, params, observation, log_prob_fns, features, payoffs


def test_corrections_equal_the_observers_lola_tensors_contracted_with_the_weights():
    # Σ_j Σ_mn ω_im ω_jn T_ij^{mn} (the observer's coupled model at ω) must be the learners' rule on r = ω·φ.
    _, params, _, log_prob_fns, features, _ = sampled_matrix_game(3, episodes=40, horizon=5, q=2, seed=0)
    omega = torch.randn(3, 2, dtype=torch.float64)
    _, cross = sampled_gradient_tensors(log_prob_fns, params, features, 0.9, coupled=True)
    contracted = torch.einsum("ijdmn,im,jn->id", cross, omega, omega)
    rewards = torch.einsum("nehq,nq->neh", features, omega)
    corrections = lola_corrections(log_prob_fns, params, rewards, 0.9)
    torch.testing.assert_close(corrections, contracted, rtol=1e-10, atol=1e-12)
    assert float(corrections.norm()) > 0


def test_corrections_match_the_exact_lola_term_by_autograd():
    # Two agents, H-step repeated matrix game: V_i(θ) = (Σ_t γ^t) E_π[φ_i] exactly, so
    # (∇_{θ_1} V_0)ᵀ ∇_{θ_0} ∇_{θ_1} V_1 has a closed form by autograd.
    gamma, horizon = 0.7, 3
    templates, params, observation, log_prob_fns, features, payoffs = sampled_matrix_game(
        2, episodes=60000, horizon=horizon, q=1, seed=2)
    discount_sum = sum(gamma**t for t in range(horizon))

    def value(theta_0, theta_1, agent):
        p0 = torch.softmax(actor_logits(templates[0], theta_0, observation), -1)
        p1 = torch.softmax(actor_logits(templates[1], theta_1, observation), -1)
        return discount_sum * torch.einsum("a,b,ab->", p0, p1, payoffs[agent, ..., 0])

    direction = torch.autograd.functional.jacobian(lambda th: value(params[0], th, 0), params[1])  # ∇_{θ_1} V_0

    def directional(theta_0):
        theta_1 = params[1].clone().requires_grad_(True)
        (grad_1,) = torch.autograd.grad(value(theta_0, theta_1, 1), theta_1, create_graph=True)
        return grad_1 @ direction

    exact = torch.autograd.functional.jacobian(directional, params[0])
    estimate = lola_corrections(log_prob_fns, params, features[..., 0], gamma)[0]
    error = float((estimate - exact).norm() / exact.norm())
    assert error < 0.15, error
    assert float((estimate + exact).norm() / exact.norm()) > 1.0  # the sign is really tested
