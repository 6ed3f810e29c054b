import numpy as np
import pytest
import torch
from torch.func import jacrev

from ilola_lib.tasks.t1.gradient import feature_jacobians, lola_step, lola_tensors, naive_gradient_step
from ilola_lib.tasks.t1.gridworld import GridWorldGame
from ilola_lib.tasks.t1.tabular import (
    DTYPE,
    GameTensors,
    discounted_occupancy,
    feature_expectations,
    ma_spi_step,
    policies_from_logits,
)


def one_state_game(payoffs: np.ndarray, gamma: float) -> GridWorldGame:
    """A repeated matrix game: one state, payoff features ``[N, A, A, q]``."""
    features = payoffs[:, None]
    return GridWorldGame(1, gamma, (0, 0), np.zeros((1, 5, 5), dtype=int), features,
                         np.ones((2, features.shape[-1])), np.ones(1))


def test_ma_spi_on_a_one_state_game_is_a_softmax_of_expected_payoffs():
    rng = np.random.default_rng(1)
    payoffs = rng.standard_normal((2, 5, 5, 1))
    game = one_state_game(payoffs, gamma=0.8)
    tensors = GameTensors(game)
    policies = torch.as_tensor(rng.dirichlet(np.ones(5), size=(2, 1)), dtype=DTYPE)
    alpha = 0.3
    updated = ma_spi_step(tensors, policies, torch.ones(2, 1, dtype=DTYPE), alpha).numpy()
    # Hand check: γ V_i is the same for every own action, so π_i' ∝ exp(E_{a_-i} r_i(a_i, a_-i) / α).
    p0, p1 = policies.numpy()[:, 0]
    expected_0 = np.exp(payoffs[0, :, :, 0] @ p1 / alpha)
    expected_1 = np.exp(p0 @ payoffs[1, :, :, 0] / alpha)
    np.testing.assert_allclose(updated[0, 0], expected_0 / expected_0.sum(), atol=1e-12)
    np.testing.assert_allclose(updated[1, 0], expected_1 / expected_1.sum(), atol=1e-12)


def test_occupancy_sums_to_the_horizon(small_tensors, random_logits):
    occupancy = discounted_occupancy(small_tensors, policies_from_logits(random_logits))
    assert float(occupancy.sum()) == pytest.approx(1.0 / (1.0 - small_tensors.gamma))


def test_policy_gradient_theorem_jacobian_matches_autograd(small_tensors, random_logits):
    jacobians = feature_jacobians(small_tensors, random_logits)
    for i in range(2):
        autograd = jacrev(lambda th: feature_expectations(small_tensors, policies_from_logits(th), i))(random_logits)
        for j in range(2):
            np.testing.assert_allclose(jacobians[i, j].numpy(), autograd[:, j].reshape(5, -1).T.numpy(), atol=1e-12)


def test_lola_tensor_contraction_equals_the_autograd_lola_step(small_tensors, random_logits):
    weights = torch.tensor([[1.0, -1.0, -0.1, 0.3, 0.0], [0.5, -1.0, -0.1, 0.0, 0.2]], dtype=DTYPE)
    jacobians = feature_jacobians(small_tensors, random_logits)
    tensors_t = lola_tensors(small_tensors, random_logits, jacobians)
    eta = 3.0
    correction = (lola_step(small_tensors, random_logits, weights, 1.0, eta)
                  - naive_gradient_step(small_tensors, random_logits, weights, 1.0)) / eta
    for i in range(2):
        j = 1 - i
        contracted = torch.einsum("dmn,m,n->d", tensors_t[i, j], weights[i], weights[j])
        np.testing.assert_allclose(contracted.numpy(), correction[i].reshape(-1).numpy(), atol=1e-12)
        assert float(contracted.abs().max()) > 1e-4  # the check is not vacuous


def test_lola_tensor_matches_finite_differences(small_tensors, random_logits):
    jacobians = feature_jacobians(small_tensors, random_logits)
    tensors_t = lola_tensors(small_tensors, random_logits, jacobians)
    i, j, m, n = 0, 1, 0, 1
    direction = jacobians[i, j, :, m].reshape(random_logits.shape[1:])

    def directional(theta):
        return float((feature_jacobians(small_tensors, theta)[j, j, :, n].reshape(direction.shape) * direction).sum())

    eps = 1e-6
    for flat in (3, 17, 42):
        bump = torch.zeros_like(random_logits)
        bump[i].view(-1)[flat] = eps
        numeric = (directional(random_logits + bump) - directional(random_logits - bump)) / (2 * eps)
        assert numeric == pytest.approx(float(tensors_t[i, j, flat, m, n]), abs=1e-7)
