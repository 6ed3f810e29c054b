"""MA-LfL over observations: exact expectations over the other agents, the profiled least squares and the
Monte-Carlo soft Q-values, checked against closed forms and the deterministic simulator."""

from __future__ import annotations

import functools
import math

import numpy as np
import torch

from ilola_lib.core.policies import CategoricalActor, flatten_params
from ilola_lib.inverse.ma_lfl_observations import (
    fit_lfl_weights,
    lfl_regression_rows,
    other_agents_weights,
    potential_basis,
    soft_q_monte_carlo,
)
from ilola_lib.tasks.t2.lookahead import joint_actions, lookahead_all_joint_actions, simulator_at
from ilola_lib.tasks.t2.simple_spread import BatchedSimpleSpread, observation_dim

MAX_CYCLES = 25
SIMULATOR = functools.partial(simulator_at, local_ratio=0.5, max_cycles=MAX_CYCLES)
GAMMA = 0.9


def states_at(step: int, num_states: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    env = BatchedSimpleSpread(num_states, max_cycles=MAX_CYCLES)
    observations = env.reset(seed=7)
    generator = torch.Generator().manual_seed(1)
    for _ in range(step):
        observations = env.step(torch.randint(0, 5, (num_states, 3), generator=generator)).observations
    return observations, env.steps.clone()


def actors_with_output_bias(bias: torch.Tensor) -> tuple[list[CategoricalActor], torch.Tensor]:
    """Actors whose logits are ``bias`` everywhere (last layer's weights zero)."""
    actors = []
    for _ in range(3):
        actor = CategoricalActor(torch.zeros(observation_dim()), torch.ones(observation_dim()), 5, hidden_size=8,
                                 generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            actor.body[-1].weight.zero_()
            actor.body[-1].bias.copy_(bias)
        actors.append(actor)
    return actors, torch.stack([flatten_params(actor) for actor in actors])


def test_other_agents_weights_are_the_product_of_the_others_policies():
    probabilities = torch.softmax(torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(0)), -1).double()
    joint = joint_actions(3, 5)
    weights = other_agents_weights(probabilities, joint, agent=1)
    assert weights.shape == (2, 5, 125)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5, dtype=torch.float64))
    index = 2 * 25 + 3 * 5 + 4  # joint action (2, 3, 4)
    assert weights[0, 3, index] == probabilities[0, 0, 2] * probabilities[0, 2, 4]
    assert weights[0, 2, index] == 0


def test_profiled_least_squares_recovers_weights_under_arbitrary_per_pair_shaping():
    rng = np.random.default_rng(0)
    omega = rng.standard_normal(4)
    rows = []
    for _ in range(5):
        features, shaping = rng.standard_normal((60, 4)), rng.standard_normal((60, 6))
        rows.append((features @ omega + shaping @ rng.standard_normal(6), features, shaping))
    np.testing.assert_allclose(fit_lfl_weights(rows), omega, atol=1e-10)


def test_regression_rows_follow_the_lfl_identity():
    generator = torch.Generator().manual_seed(3)
    m, a, j, q, b = 2, 5, 125, 3, 4
    probabilities = torch.softmax(torch.randn(m, 3, a, generator=generator), -1).double()
    weights = other_agents_weights(probabilities, joint_actions(), agent=0)
    log_next = torch.randn(m, a, generator=generator).double()
    features = torch.randn(m, j, q, generator=generator).double()
    next_kl = torch.rand(m, j, generator=generator).double()
    basis, next_basis = torch.randn(m, b, generator=generator).double(), torch.randn(m, j, b, generator=generator).double()
    continues = torch.tensor([1.0, 0.0], dtype=torch.float64)
    targets, mean_features, shaping = lfl_regression_rows(log_next, weights, features, next_kl, basis, next_basis,
                                                          continues, GAMMA)
    row = 0 * a + 3  # state 0, own action 3
    expected_target = log_next[0, 3] + GAMMA * (weights[0, 3] * next_kl[0]).sum()
    torch.testing.assert_close(targets[row], expected_target)
    torch.testing.assert_close(mean_features[row], weights[0, 3] @ features[0])
    torch.testing.assert_close(shaping[row], basis[0] - GAMMA * weights[0, 3] @ next_basis[0])
    torch.testing.assert_close(targets[a + 3], log_next[1, 3])  # the episode ends: no continuation
    torch.testing.assert_close(shaping[a + 3], basis[1])


def test_potential_basis_has_constant_linear_and_quadratic_terms():
    observations = torch.tensor([[2.0, 3.0]])
    torch.testing.assert_close(potential_basis(observations, 1), torch.tensor([[1.0, 2.0, 3.0]]))
    torch.testing.assert_close(potential_basis(observations, 2), torch.tensor([[1.0, 2.0, 3.0, 4.0, 6.0, 9.0]]))


def test_soft_q_entropy_part_of_uniform_policies_is_closed_form():
    actors, params = actors_with_output_bias(torch.zeros(5))
    for steps_left, expected in ((1, 0.0), (2, GAMMA * math.log(5)), (3, (GAMMA + GAMMA**2) * math.log(5))):
        observations, steps = states_at(MAX_CYCLES - steps_left)
        _, entropy_q = soft_q_monte_carlo(actors, params, observations, steps, SIMULATOR, MAX_CYCLES, GAMMA, 2,
                                          torch.Generator().manual_seed(0))
        torch.testing.assert_close(entropy_q, torch.full_like(entropy_q, expected), rtol=0, atol=1e-5)


def test_soft_q_feature_part_of_deterministic_policies_is_the_simulated_return():
    actors, params = actors_with_output_bias(torch.tensor([0.0, 0.0, 60.0, 0.0, 0.0]))  # always action 2
    observations, steps = states_at(MAX_CYCLES - 1)
    feature_q, _ = soft_q_monte_carlo(actors, params, observations, steps, SIMULATOR, MAX_CYCLES, GAMMA, 1,
                                      torch.Generator().manual_seed(0))
    features, _, ends = lookahead_all_joint_actions(observations, steps, 0.5, MAX_CYCLES)
    assert bool(ends.all())
    for agent in range(3):
        for action in range(5):
            joint = [2, 2, 2]
            joint[agent] = action
            index = joint[0] * 25 + joint[1] * 5 + joint[2]
            torch.testing.assert_close(feature_q[agent, :, action], features[:, index, agent])


def test_spi_model_with_a_free_temperature_reduces_to_the_fixed_one_at_scale_one():
    from ilola_lib.inverse.learner_models import SoftPolicyIterationModel
    generator = torch.Generator().manual_seed(0)
    feature_q = torch.randn(2, 3, 10, 5, generator=generator).double()
    entropy_q = torch.rand(2, 3, 10, generator=generator).double()
    omega = torch.randn(4, 3, 5, generator=generator).double()
    log_c = torch.randn(4, 3, generator=generator).double()
    fixed = SoftPolicyIterationModel(feature_q, entropy_q, alpha=0.5)
    free = SoftPolicyIterationModel(feature_q, entropy_q, alpha=0.5, fit_entropy_scale=True)
    assert free.nuisance_dim == 6 and free.subset([1]).fit_entropy_scale
    torch.testing.assert_close(free.predict(omega, torch.cat([log_c, torch.zeros(4, 3)], 1)), fixed.predict(omega, log_c))
    doubled = free.predict(omega, torch.cat([log_c, torch.full((4, 3), math.log(2.0))], 1))
    torch.testing.assert_close(doubled - fixed.predict(omega, log_c), entropy_q.expand_as(doubled) / 0.5)
