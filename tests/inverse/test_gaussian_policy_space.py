"""Gaussian policies in policy space (T3): closed-form and Monte-Carlo KL, and the GPOMDP ``Ψ`` estimate
against the exact derivative of a one-step Gaussian's feature expectation."""

import torch

from ilola_lib.core.policies import GaussianActor, flatten_params, gaussian_log_probs, gaussian_mean_log_std
from ilola_lib.core.gradient_estimators import gpomdp_jacobian
from ilola_lib.inverse.network_policy_space import GaussianNetworkDivergence, MonteCarloGaussianDivergence


def templates_and_params(agents=2, obs_dim=5, actions=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    templates = [GaussianActor(torch.zeros(obs_dim), torch.ones(obs_dim), actions, 8, generator, -0.3)
                 for _ in range(agents)]
    return templates, flatten_params(templates[0]).numel(), generator


def test_closed_form_divergence_matches_torch_distributions_and_monte_carlo_agrees():
    templates, dim, generator = templates_and_params()
    pairs, agents, states, population = 3, 2, 7, 4
    observations = torch.randn(pairs, agents, states, 5, generator=generator)
    next_params = 0.3 * torch.randn(pairs, agents, dim, generator=generator, dtype=torch.float64)
    predicted = next_params[None] + 0.2 * torch.randn(population, pairs, agents, dim, generator=generator,
                                                      dtype=torch.float64)
    closed = GaussianNetworkDivergence(templates, observations, next_params)(predicted)
    expected = torch.zeros(population, pairs, agents, dtype=torch.float64)
    for p in range(population):
        for k in range(pairs):
            for i in range(agents):
                mean_p, log_std_p = gaussian_mean_log_std(templates[i], next_params[k, i], observations[k, i])
                mean_q, log_std_q = gaussian_mean_log_std(templates[i], predicted[p, k, i], observations[k, i])
                kl = torch.distributions.kl_divergence(torch.distributions.Normal(mean_p, log_std_p.exp()),
                                                       torch.distributions.Normal(mean_q, log_std_q.exp()))
                expected[p, k, i] = kl.sum(-1).mean()
    torch.testing.assert_close(closed, expected)
    monte_carlo = MonteCarloGaussianDivergence(templates, observations, next_params, samples=256, generator=generator)
    estimate, error = monte_carlo.mean_and_standard_error(predicted)
    torch.testing.assert_close(estimate, monte_carlo(predicted).mean((1, 2)))
    assert torch.all((estimate - closed.mean((1, 2))).abs() < 4 * error), (estimate, closed.mean((1, 2)), error)
    assert torch.all(error > 0) and torch.all(error < 0.2 * closed.mean((1, 2)))
    held = MonteCarloGaussianDivergence(templates, observations, next_params, samples=256, generator=generator)
    torch.testing.assert_close(held.subset([2])(predicted[:, [2]]), held(predicted)[:, [2]])
    # a prediction that equals the observed parameters has zero divergence under both
    assert float(GaussianNetworkDivergence(templates, observations, next_params)(next_params[None]).abs().max()) < 1e-12
    assert float(monte_carlo(next_params[None]).abs().max()) < 1e-12


def test_overflowing_predictions_score_infinity_not_nan():
    templates, dim, generator = templates_and_params()
    observations = torch.randn(1, 2, 3, 5, generator=generator)
    next_params = torch.zeros(1, 2, dim, dtype=torch.float64)
    absurd = torch.full((1, 1, 2, dim), 1e300, dtype=torch.float64)
    absurd[..., 0] = -1e300
    values = GaussianNetworkDivergence(templates, observations, next_params)(absurd)
    assert not torch.isnan(values).any() and torch.isinf(values).all()


def test_gpomdp_jacobian_of_a_one_step_gaussian_matches_the_exact_derivative():
    """``ψ(θ) = E[(a, a²)]`` for one step with ``a ~ N(μ(o; θ), σ²)``: ``(μ, μ² + σ²)`` summed over the action
    dimensions, differentiated exactly by autograd; padding steps (masked log-probs, zero features) change
    nothing."""
    templates, dim, generator = templates_and_params(agents=1, actions=2, seed=3)
    actor = templates[0]
    params = flatten_params(actor).double()
    obs = torch.randn(5, generator=generator)
    episodes = 40_000
    mean, log_std = gaussian_mean_log_std(actor, params, obs)
    actions = (mean + log_std.exp() * torch.randn(episodes, 2, generator=generator, dtype=torch.float64)).detach()
    features = torch.stack([actions.sum(-1), actions.square().sum(-1)], -1)[:, None]  # [E, H=1, q=2]

    def exact(theta):
        m, s = gaussian_mean_log_std(actor, theta, obs)
        return torch.stack([m.sum(), (m.square() + (2 * s).exp()).sum()])

    reference = torch.autograd.functional.jacobian(exact, params).T  # [d, q]
    observations = obs.expand(episodes, 1, 5)
    estimate = gpomdp_jacobian(lambda theta: gaussian_log_probs(actor, theta, observations, actions[:, None]),
                               params, features, gamma=0.9)
    relative = float((estimate - reference).norm() / reference.norm())
    assert relative < 0.05, relative
    padded_features = torch.cat([features, torch.zeros(episodes, 3, 2, dtype=torch.float64)], 1)
    padded_observations = torch.cat([observations, torch.zeros(episodes, 3, 5)], 1)
    padded_actions = torch.cat([actions[:, None], torch.zeros(episodes, 3, 2, dtype=torch.float64)], 1)
    valid = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    padded = gpomdp_jacobian(lambda theta: gaussian_log_probs(actor, theta, padded_observations, padded_actions) * valid,
                             params, padded_features, gamma=0.9)
    torch.testing.assert_close(padded, estimate)
