"""The PPO replay against the learners' own update, the batched population against one-by-one replays, and
the shadow critic's advantages against GAE on the weighted reward."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from ilola_lib.core.policies import CategoricalActor, Critic, GaussianActor, flatten_params
from ilola_lib.core.ppo import ADAM_EPS, AgentBatch, AgentLearner, compute_gae, update_agent
from ilola_lib.inverse.ppo_replay import (
    ActorBatch,
    ActorUpdateSettings,
    AdamMoments,
    adam_step,
    clip_by_norm,
    minibatch_orders,
    replay_actor_update,
)
from ilola_lib.inverse.replay_model import ReplayTrace, finite_difference_candidates, linearise, replay_along_trace
from ilola_lib.inverse.shadow_critic import CriticSettings, shadow_feature_advantages
from synthetic_ppo import TRUE_WEIGHTS, config, synthetic_ppo_run


@pytest.fixture(scope="module")
def run():
    return synthetic_ppo_run(num_updates=6, num_envs=64)


def test_clip_by_norm_is_torch_clip_grad_norm():
    for scale in (1e-3, 10.0):
        gradient = torch.randn(50, generator=torch.Generator().manual_seed(0)) * scale
        parameter = torch.nn.Parameter(torch.zeros(50))
        parameter.grad = gradient.clone()
        torch.nn.utils.clip_grad_norm_([parameter], 0.5)
        assert torch.allclose(clip_by_norm(gradient, 0.5), parameter.grad, rtol=1e-6, atol=0)


def test_adam_step_is_torch_adam():
    generator = torch.Generator().manual_seed(1)
    parameter = torch.nn.Parameter(torch.randn(20, generator=generator, dtype=torch.float64))
    optimizer = torch.optim.Adam([parameter], lr=0.01, eps=ADAM_EPS)
    theta, m, v = parameter.detach().clone(), torch.zeros(20, dtype=torch.float64), torch.zeros(20, dtype=torch.float64)
    for step in range(1, 6):
        gradient = torch.randn(20, generator=generator, dtype=torch.float64)
        parameter.grad = gradient.clone()
        optimizer.step()
        theta, m, v = adam_step(theta, gradient, m, v, step, 0.01)
        assert torch.allclose(theta, parameter.detach(), rtol=0, atol=1e-13)


@pytest.mark.parametrize("policy", ["categorical", "gaussian"])
def test_replay_with_learner_state_reproduces_ppo_update_exactly(policy):
    """Two PPO updates (the learners' own :func:`update_agent`) against the replay with the learner's
    advantages, minibatch order and carried Adam state."""
    generator = torch.Generator().manual_seed(2)
    if policy == "gaussian":
        actor = GaussianActor(torch.zeros(5), torch.ones(5), 2, 16, generator, init_log_std=-0.5)
    else:
        actor = CategoricalActor(torch.zeros(5), torch.ones(5), 3, 16, generator)
    critic = Critic(torch.zeros(5), torch.ones(5), 16, generator)
    hyper = dataclasses.replace(config(2), ent_coef=0.01)
    learner = AgentLearner(actor, critic,
                           torch.optim.Adam(actor.parameters(), lr=hyper.learning_rate, eps=ADAM_EPS, fused=True),
                           torch.optim.Adam(critic.parameters(), lr=hyper.critic_learning_rate, eps=ADAM_EPS, fused=True))
    settings = ActorUpdateSettings.from_config(hyper.to_dict())
    moments = AdamMoments.zeros(flatten_params(actor).numel())
    order_generator = torch.Generator().manual_seed(3)
    for _ in range(2):
        observations = torch.randn(48, 5, generator=generator)
        actions = (torch.randn(48, 2, generator=generator) if policy == "gaussian"
                   else torch.randint(0, 3, (48,), generator=generator))
        advantages, returns = torch.randn(48, generator=generator), torch.randn(48, generator=generator)
        before = flatten_params(actor)
        batch = ActorBatch.at(actor, before, observations, actions)
        state = order_generator.get_state()
        update_agent(learner, AgentBatch(observations, actions, batch.old_log_probs, advantages, returns), hyper,
                     order_generator)
        replay_generator = torch.Generator()
        replay_generator.set_state(state)
        orders = minibatch_orders(48, settings, replay_generator)
        after, moments = replay_actor_update(actor, before, moments, batch, advantages[None], orders, settings)
        moments = moments.select(0)
        step = flatten_params(actor) - before
        assert step.abs().max() > 1e-3
        assert torch.allclose(after[0], flatten_params(actor), rtol=0, atol=1e-6), \
            f"replay differs by {(after[0] - flatten_params(actor)).abs().max():.2e} on a step of {step.abs().max():.2e}"


def test_population_replay_equals_one_by_one(run):
    trace = run[0]
    template = trace.actor_template(0)
    settings = ActorUpdateSettings.from_config(trace.metadata["config"])
    theta = torch.as_tensor(trace.actor_params[1, 0])
    batch = ActorBatch.at(template, theta, torch.as_tensor(trace.observations[1, :, :, 0]).flatten(0, 1),
                          torch.as_tensor(trace.actions[1, :, :, 0]).flatten())
    orders = minibatch_orders(batch.actions.shape[0], settings, torch.Generator().manual_seed(0))
    advantages = torch.randn(4, batch.actions.shape[0], generator=torch.Generator().manual_seed(1))
    moments = AdamMoments(3, torch.rand(theta.numel()) * 1e-3, torch.rand(theta.numel()) * 1e-4)
    together, together_moments = replay_actor_update(template, theta, moments, batch, advantages, orders, settings)
    for p in range(4):
        alone, alone_moments = replay_actor_update(template, theta, moments, batch, advantages[p:p + 1], orders,
                                                   settings)
        assert torch.allclose(together[p], alone[0], rtol=0, atol=1e-6)
        assert torch.allclose(together_moments.exp_avg_sq[p], alone_moments.exp_avg_sq[0], rtol=1e-5, atol=1e-12)


def test_gae_is_linear_in_rewards_and_values():
    """The identity behind the shadow critic: per-feature GAE contracted with ω is GAE of ω·φ with critic ω·V^φ."""
    generator = torch.Generator().manual_seed(4)
    features, values, next_values = (torch.randn(6, 3, 4, generator=generator, dtype=torch.float64) for _ in range(3))
    ends = torch.zeros(6, 3, dtype=torch.bool)
    ends[2, 0] = ends[5] = True
    omega = torch.randn(4, generator=generator, dtype=torch.float64)
    per_feature, _ = compute_gae(features, values, next_values, ends, 0.9, 0.8)
    weighted, _ = compute_gae(features @ omega, values @ omega, next_values @ omega, ends, 0.9, 0.8)
    assert torch.allclose(per_feature @ omega, weighted, rtol=0, atol=1e-12)


def test_shadow_advantages_are_linear_in_omega(run):
    trace = run[0]
    shadow = shadow_feature_advantages(trace, CriticSettings.from_config(trace.metadata["config"]),
                                       torch.Generator().manual_seed(0))
    omega_1, omega_2 = torch.randn(2, 1, 3, generator=torch.Generator().manual_seed(5))
    for k in (0, trace.num_phases - 1):
        total = shadow.linear_in(k, 1, omega_1 + omega_2)
        assert torch.allclose(total, shadow.linear_in(k, 1, omega_1) + shadow.linear_in(k, 1, omega_2), atol=1e-5)
    assert shadow.explained_variance[-1].mean() > shadow.explained_variance[0].mean()


def test_shadow_critic_needs_final_observations(run):
    trace = dataclasses.replace(run[0], final_observations=None)
    with pytest.raises(ValueError, match="final_observations"):
        shadow_feature_advantages(trace, CriticSettings.from_config(trace.metadata["config"]), torch.Generator())


def test_linearisation_is_exact_at_its_point_and_first_order_nearby(run):
    trace = run[0]
    shadow = shadow_feature_advantages(trace, CriticSettings.from_config(trace.metadata["config"]),
                                       torch.Generator().manual_seed(0))
    templates = [trace.actor_template(i) for i in range(trace.num_agents)]
    replay = ReplayTrace.of(trace, templates, shadow, torch.Generator().manual_seed(1))
    candidates = finite_difference_candidates(TRUE_WEIGHTS, 0.02)
    nearby = TRUE_WEIGHTS + 0.03 * np.array([[1.0, 0.5, -1.0], [-0.5, 1.0, 0.5]])
    replayed = replay_along_trace(replay, torch.as_tensor(np.concatenate([candidates, nearby[None]])))
    linear = linearise(replayed, candidates)
    unit = torch.as_tensor(TRUE_WEIGHTS / np.linalg.norm(TRUE_WEIGHTS, axis=-1, keepdims=True))
    at_point = linear.offset + torch.einsum("kidq,iq->kid", linear.jacobians, unit)
    assert torch.allclose(at_point, replayed.steps[0], rtol=0, atol=1e-12)
    near_unit = torch.as_tensor(nearby / np.linalg.norm(nearby, axis=-1, keepdims=True))
    predicted = linear.offset + torch.einsum("kidq,iq->kid", linear.jacobians, near_unit)
    change = (replayed.steps[-1] - replayed.steps[0]).norm()
    assert (predicted - replayed.steps[-1]).norm() < 0.3 * change
