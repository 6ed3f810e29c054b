"""Independent PPO on simple_spread: GAE, flat-parameter policy evaluation, training behaviour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ilola_lib.core.policies import (
    CategoricalActor,
    Critic,
    actor_log_probs,
    actor_logits,
    flatten_params,
    load_flat_params_,
    num_params,
)
from ilola_lib.core.ppo import compute_gae
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t2.evaluation import evaluate_against_baselines
from ilola_lib.tasks.t2.ppo import PPOConfig, train_ppo
from ilola_lib.tasks.t2.simple_spread import NUM_ACTIONS, observation_dim, true_weights

PAPER_T2 = load_params(Path(__file__).resolve().parents[3] / "params.yaml")["t2"]

OBS_DIM = observation_dim()


def tiny_config(**overrides) -> PPOConfig:
    """A budget that trains in well under a second."""
    settings = dict(PAPER_T2["ppo"], num_envs=4, num_steps=25, num_updates=3, update_epochs=2, num_minibatches=2,
                    hidden_size=16, normalizer_envs=4, normalizer_steps=25, local_ratio=PAPER_T2["local_ratio"],
                    seed=3)
    settings.update(overrides)
    return PPOConfig(**settings)


@pytest.fixture(scope="module")
def tiny_run():
    return train_ppo(tiny_config())


def make_actor(seed: int = 0, hidden_size: int = 16) -> CategoricalActor:
    generator = torch.Generator().manual_seed(seed)
    obs_mean = torch.randn(OBS_DIM, generator=generator)
    obs_std = torch.rand(OBS_DIM, generator=generator) + 0.5
    return CategoricalActor(obs_mean, obs_std, NUM_ACTIONS, hidden_size, generator)


# ---------------------------------------------------------------------------- GAE


def test_gae_matches_hand_computation_with_truncation_bootstrap():
    # One env, one agent, three steps; the episode is truncated after step 1, where the
    # bootstrap value V(final_obs) = 10 must be used and the λ-recursion must stop.
    rewards = torch.tensor([1.0, 2.0, 3.0]).reshape(3, 1, 1)
    values = torch.tensor([0.5, 0.6, 0.7]).reshape(3, 1, 1)
    next_values = torch.tensor([0.6, 10.0, 0.8]).reshape(3, 1, 1)
    episode_ends = torch.tensor([False, True, False]).reshape(3, 1)
    gamma, lam = 0.9, 0.8
    advantages, returns = compute_gae(rewards, values, next_values, episode_ends, gamma, lam)
    delta_2 = 3.0 + 0.9 * 0.8 - 0.7  # 3.02, last step: no later advantage
    delta_1 = 2.0 + 0.9 * 10.0 - 0.6  # 10.4, truncated: bootstrap from V(final obs), stop recursion
    delta_0 = 1.0 + 0.9 * 0.6 - 0.5  # 1.04
    expected = torch.tensor([delta_0 + gamma * lam * delta_1, delta_1, delta_2])
    torch.testing.assert_close(advantages.reshape(-1), expected)
    torch.testing.assert_close(returns.reshape(-1), expected + values.reshape(-1))


def test_gae_broadcasts_episode_ends_over_agents():
    generator = torch.Generator().manual_seed(0)
    rewards, values, next_values = torch.randn(3, 5, 4, 3, generator=generator).unbind(0)
    ends = torch.rand(5, 4, generator=generator) < 0.3
    joint, _ = compute_gae(rewards, values, next_values, ends, 0.95, 0.9)
    for agent in range(3):
        single, _ = compute_gae(rewards[..., agent], values[..., agent], next_values[..., agent], ends, 0.95, 0.9)
        torch.testing.assert_close(joint[..., agent], single)


# ---------------------------------------------------------------------------- policies


def test_flat_params_reproduce_the_module():
    actor = make_actor()
    obs = torch.randn(7, OBS_DIM)
    flat = flatten_params(actor)
    assert flat.shape == (num_params(actor),)
    torch.testing.assert_close(actor_logits(actor, flat, obs), actor(obs))
    other = CategoricalActor(actor.obs_mean, actor.obs_std, NUM_ACTIONS, 16, torch.Generator().manual_seed(7))
    assert not torch.equal(flatten_params(other), flat)
    load_flat_params_(other, flat)
    torch.testing.assert_close(other(obs), actor(obs))


def test_population_log_probs_equal_a_loop_over_parameter_vectors():
    actor = make_actor()
    generator = torch.Generator().manual_seed(1)
    population = flatten_params(actor) + 0.3 * torch.randn(5, num_params(actor), generator=generator)
    obs = torch.randn(4, 6, OBS_DIM, generator=generator)
    actions = torch.randint(0, NUM_ACTIONS, (4, 6), generator=generator)
    batched = actor_log_probs(actor, population, obs, actions)
    looped = torch.stack([actor_log_probs(actor, params, obs, actions) for params in population])
    assert batched.shape == (5, 4, 6)
    torch.testing.assert_close(batched, looped)
    assert torch.all(batched <= 0)


def test_log_probs_are_differentiable_in_float64_flat_params():
    actor = make_actor()
    flat = flatten_params(actor).double().requires_grad_(True)
    obs = torch.randn(3, OBS_DIM)  # float32 observations, float64 parameters
    log_probs = actor_log_probs(actor, flat, obs, torch.tensor([0, 1, 4]))
    assert log_probs.dtype == torch.float64
    (grad,) = torch.autograd.grad(log_probs.sum(), flat)
    assert grad.shape == flat.shape and torch.any(grad != 0)


def test_normalisation_is_a_buffer_not_a_parameter():
    actor = make_actor()
    names = {name for name, _ in actor.named_parameters()}
    assert not any("obs_" in name for name in names)
    assert {"obs_mean", "obs_std"} <= {name for name, _ in actor.named_buffers()}
    critic = Critic(torch.zeros(OBS_DIM), torch.ones(OBS_DIM), 16, value_offset=-20.0, value_scale=10.0)
    assert critic(torch.zeros(2, OBS_DIM)).shape == (2,)


# ---------------------------------------------------------------------------- training


def test_training_is_deterministic_for_a_seed(tiny_run):
    again = train_ppo(tiny_config())
    for name, array in tiny_run.trace.arrays().items():
        np.testing.assert_array_equal(again.trace.arrays()[name], array, err_msg=name)
    assert again.trace.metadata == tiny_run.trace.metadata
    different = train_ppo(tiny_config(seed=4))
    assert not np.array_equal(different.trace.actor_params, tiny_run.trace.actor_params)


def test_every_update_changes_every_actor(tiny_run):
    params = tiny_run.trace.actor_params
    assert params.shape[0] == tiny_config().num_updates + 1
    changed = np.any(params[1:] != params[:-1], axis=-1)  # [K, N]
    assert changed.all()


def test_trace_shapes_and_final_snapshot_match_the_trained_actors(tiny_run):
    config, trace = tiny_config(), tiny_run.trace
    phases = config.num_updates + 1
    assert trace.observations.shape == (phases, config.num_steps, config.num_envs, 3, OBS_DIM)
    assert trace.observations.dtype == np.float32
    assert trace.dones.sum(axis=(1, 2)).tolist() == [config.num_envs] * phases  # one episode per env
    for agent, actor in enumerate(tiny_run.actors):
        np.testing.assert_array_equal(trace.actor_params[-1, agent], flatten_params(actor).numpy())
        template = trace.actor_template(agent)
        obs = torch.from_numpy(trace.observations[-1, :, :, agent])
        final = torch.from_numpy(trace.actor_params[-1, agent])
        torch.testing.assert_close(actor_logits(template, final, obs), actor(obs))


def test_training_rewards_use_the_configured_weights():
    weights = np.array([[1.0, 0.0, -0.3, 0.0, 0.0], [0.2, -1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0]])
    run = train_ppo(tiny_config(num_updates=1, reward_weights=weights.tolist()))
    expected = np.einsum("ktenq,nq->kten", run.trace.features.astype(np.float64), weights)
    np.testing.assert_allclose(run.trace.rewards, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(run.trace.reward_weights, weights)


def test_default_weights_are_the_true_weights():
    config = tiny_config(local_ratio=0.3)
    np.testing.assert_array_equal(np.asarray(config.reward_weights), np.tile(true_weights(0.3), (3, 1)))


def test_history_has_the_practitioner_diagnostics(tiny_run):
    assert len(tiny_run.history) == tiny_config().num_updates
    for entry in tiny_run.history:
        for key in ("approx_kl", "clip_fraction", "explained_variance", "steps_per_second", "episode_return",
                    "policy_kl", "entropy", "value_loss"):
            assert np.isfinite(entry[key]), key


def test_reward_weights_of_the_wrong_shape_are_refused():
    # params.yaml values are checked by the schema (tests/pipeline/test_config.py); the reward weights come
    # from the induced-return code, so the dataclass guards their shape itself.
    with pytest.raises(AssertionError, match="reward_weights"):
        tiny_config(reward_weights=[[1.0, 0.0]] * 3)
    with pytest.raises(AssertionError, match="reward_weights"):
        tiny_config(reward_weights=[[float("nan")] * len(true_weights(0.5))] * 3)


def test_evaluation_on_mpe2_reports_all_policies(tiny_run):
    results = evaluate_against_baselines(tiny_run.actors, tiny_config(), num_episodes=2, first_episode_seed=5)
    assert set(results) == {"trained", "random", "noop"}
    for result in results.values():
        assert result.episode_returns.shape == (2,)
        assert np.isfinite(result.mean) and np.isfinite(result.standard_error)
    again = evaluate_against_baselines(tiny_run.actors, tiny_config(), num_episodes=2, first_episode_seed=5)
    assert again["trained"].mean == results["trained"].mean
