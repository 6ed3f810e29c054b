"""The LOLA-PPO learners' correction: exact against autograd and equal to the observer's tensors contracted with
the weights."""

from __future__ import annotations

import torch
from matrix_game import matrix_game

from ilola_lib.core.gradient_estimators import sampled_gradient_tensors
from ilola_lib.core.lola import lola_corrections


def test_corrections_equal_the_observers_lola_tensors_contracted_with_the_weights():
    # Σ_j Σ_mn ω_im ω_jn T_ij^{mn} (the observer's coupled model at ω) must be the learners' rule on r = ω·φ.
    game = matrix_game(3, q=2, seed=0, gamma=0.9, horizon=5)
    log_prob_fns, features = game.sample(episodes=40)
    omega = torch.randn(3, 2, dtype=torch.float64)
    _, cross = sampled_gradient_tensors(log_prob_fns, game.params, features, game.gamma, coupled=True)
    contracted = torch.einsum("ijdmn,im,jn->id", cross, omega, omega)
    rewards = torch.einsum("nehq,nq->neh", features, omega)
    corrections = lola_corrections(log_prob_fns, game.params, rewards, game.gamma)
    torch.testing.assert_close(corrections, contracted, rtol=1e-10, atol=1e-12)
    assert float(corrections.norm()) > 0


def test_corrections_match_the_exact_lola_term_by_autograd():
    # (∇_{θ_1} V_0)ᵀ ∇_{θ_0} ∇_{θ_1} V_1 with V_i = ψ_i exact in the repeated matrix game.
    game = matrix_game(2, q=1, seed=2)
    log_prob_fns, features = game.sample(episodes=60000)
    theta = game.params
    direction = torch.autograd.functional.jacobian(lambda th: game.psi(theta[0], th)[0, 0], theta[1])

    def directional(theta_0):
        theta_1 = theta[1].clone().requires_grad_(True)
        (grad_1,) = torch.autograd.grad(game.psi(theta_0, theta_1)[1, 0], theta_1, create_graph=True)
        return grad_1 @ direction

    exact = torch.autograd.functional.jacobian(directional, theta[0])
    estimate = lola_corrections(log_prob_fns, theta, features[..., 0], game.gamma)[0]
    error = float((estimate - exact).norm() / exact.norm())
    assert error < 0.15, error
    assert float((estimate + exact).norm() / exact.norm()) > 1.0  # the sign is really tested
