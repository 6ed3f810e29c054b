import numpy as np
import torch
from matrix_game import matrix_game

from ilola_lib.core.gradient_estimators import gpomdp_jacobian, lola_tensor_estimate, sampled_gradient_tensors
from ilola_lib.tasks.t1.gradient import feature_jacobians, lola_tensors
from ilola_lib.tasks.t1.gridworld import make_gridworld
from ilola_lib.tasks.t1.sampling import sample_episodes
from ilola_lib.tasks.t1.tabular import DTYPE, GameTensors, policies_from_logits


def sampled_batch(game, logits, episodes, horizon, seed):
    states, actions = sample_episodes(game, policies_from_logits(logits).numpy(), episodes, horizon,
                                      np.random.default_rng(seed))
    features = torch.as_tensor(game.features[:, states, actions[..., 0], actions[..., 1]], dtype=DTYPE)
    states, actions = torch.as_tensor(states), torch.as_tensor(actions)

    def log_prob(agent):
        return lambda theta: torch.log_softmax(theta, -1)[states, actions[..., agent]]

    return features, log_prob


def relative_error(estimate, exact):
    return float((estimate - exact).norm() / exact.norm())


def test_gpomdp_and_lola_estimates_match_the_exact_tensors():
    # γ = 0.5 and H = 30 make the truncation bias ~1e-9, far below the sampling error tested here.
    game = make_gridworld(2, 0.5)
    tensors = GameTensors(game)
    logits = 0.5 * torch.randn(2, game.num_states, 5, dtype=DTYPE, generator=torch.Generator().manual_seed(3))
    jacobians = feature_jacobians(tensors, logits)
    exact_t = lola_tensors(tensors, logits, jacobians)
    features, log_prob = sampled_batch(game, logits, 40000, 30, seed=0)

    own = gpomdp_jacobian(log_prob(0), logits[0], features[0], game.gamma)
    cross = gpomdp_jacobian(log_prob(1), logits[1], features[0], game.gamma)
    assert relative_error(own, jacobians[0, 0]) < 0.05
    assert relative_error(cross, jacobians[0, 1]) < 0.2
    # a wrong pairing (the other agent's features) is clearly rejected by the same tolerance
    assert relative_error(gpomdp_jacobian(log_prob(0), logits[0], features[1], game.gamma), jacobians[0, 0]) > 0.5

    estimate_t = lola_tensor_estimate(log_prob(0), logits[0], log_prob(1), logits[1], features[1],
                                      jacobians[0, 1], game.gamma)
    assert relative_error(estimate_t, exact_t[0, 1]) < 0.2


def test_sampled_tensors_of_network_policies_match_autograd_on_a_repeated_matrix_game():
    game = matrix_game(2, q=2, seed=2)
    log_prob_fns, features = game.sample(episodes=60000)
    theta, q = game.params, 2
    exact_01 = torch.autograd.functional.jacobian(lambda th: game.psi(theta[0], th)[0], theta[1]).T  # Ψ_01 [d, q]
    exact_00 = torch.autograd.functional.jacobian(lambda th: game.psi(th, theta[1])[0], theta[0]).T
    exact_t = torch.zeros(theta.shape[1], q, q, dtype=torch.float64)  # T_01[:, m, n]
    for m in range(q):
        for n in range(q):
            def directional(theta_0, m=m, n=n):
                theta_1 = theta[1].clone().requires_grad_(True)
                (grad_1,) = torch.autograd.grad(game.psi(theta_0, theta_1)[1, n], theta_1, create_graph=True)
                return grad_1 @ exact_01[:, m]
            exact_t[:, m, n] = torch.autograd.functional.jacobian(directional, theta[0])
    own, cross = sampled_gradient_tensors(log_prob_fns, theta, features, game.gamma, coupled=True)
    assert relative_error(own[0], exact_00) < 0.05
    assert relative_error(cross[0, 1], exact_t) < 0.15
    assert relative_error(cross[0, 1], -exact_t) > 1.0  # the sign and pairing are really tested
