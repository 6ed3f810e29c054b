"""Reward features and the batched simple_spread checked against the real mpe2 environment."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ilola_lib.tasks.t2.lookahead import state_from_observations
from ilola_lib.tasks.t2.pettingzoo_env import make_simple_spread
from ilola_lib.tasks.t2.simple_spread import (
    FEATURE_NAMES,
    NUM_ACTIONS,
    BatchedSimpleSpread,
    observation_dim,
    true_weights,
    world_reward_features,
)

TOLERANCE = 1e-6
MAX_CYCLES = 25
AGENT_NAMES = ("agent_0", "agent_1", "agent_2")


def assert_close(actual: np.ndarray, expected: np.ndarray) -> None:
    """Elementwise ``|actual - expected| <= TOLERANCE``."""
    np.testing.assert_allclose(actual, expected, rtol=0, atol=TOLERANCE)


def as_agent_array(per_agent: dict) -> np.ndarray:
    """Stack a PettingZoo per-agent dict into an array ``[N, ...]`` in agent order."""
    return np.stack([np.asarray(per_agent[name], dtype=np.float64) for name in AGENT_NAMES])


def mpe_float64_observations(mpe_env) -> np.ndarray:
    """mpe2's observations ``[N, obs_dim]`` before its float32 cast."""
    raw_env = mpe_env.unwrapped
    world = raw_env.world
    return np.stack([raw_env.scenario.observation(agent, world) for agent in world.agents])


def step_mpe(mpe_env, actions: np.ndarray):
    """Step the mpe2 parallel env with integer ``actions`` ``[N]``."""
    return mpe_env.step({name: int(action) for name, action in zip(AGENT_NAMES, actions)})


@pytest.mark.parametrize("local_ratio", [0.5, 0.0, 1.0])
def test_true_weights_times_features_equal_mpe2_rewards(local_ratio):
    weights = true_weights(local_ratio)
    collision_steps = 0
    for seed in range(6):
        mpe_env = make_simple_spread(local_ratio=local_ratio, max_cycles=MAX_CYCLES)
        mpe_env.reset(seed=seed)
        action_rng = np.random.default_rng(1000 + seed)
        while mpe_env.agents:
            _, rewards, _, _, _ = step_mpe(mpe_env, action_rng.integers(0, NUM_ACTIONS, size=3))
            features = world_reward_features(mpe_env.unwrapped.world)
            assert features.shape == (3, len(FEATURE_NAMES))
            assert_close(features @ weights, as_agent_array(rewards))
            collision_steps += int(features[:, 1].any())
    assert collision_steps > 0, "no collision happened, so the collision feature went untested"


@pytest.mark.parametrize("local_ratio", [0.5, 0.0])
def test_batched_env_matches_mpe2_step_by_step(local_ratio):
    seeds = (3, 17, 42, 99)
    mpe_envs = [make_simple_spread(local_ratio=local_ratio, max_cycles=MAX_CYCLES) for _ in seeds]
    batched = BatchedSimpleSpread(len(seeds), local_ratio=local_ratio, max_cycles=MAX_CYCLES)
    batched.reset(seed=0)
    for env_index, (mpe_env, seed) in enumerate(zip(mpe_envs, seeds)):
        mpe_env.reset(seed=seed)
        batched.set_state_from_mpe(mpe_env, env_index)
    np.testing.assert_array_equal(
        batched.observe().numpy(), np.stack([mpe_float64_observations(env) for env in mpe_envs])
    )

    action_rng = np.random.default_rng(round(100 * local_ratio))
    for _ in range(MAX_CYCLES):
        actions = action_rng.integers(0, NUM_ACTIONS, size=(len(seeds), 3))
        result = batched.step(torch.from_numpy(actions))
        for env_index, mpe_env in enumerate(mpe_envs):
            observations, rewards, terminations, truncations, _ = step_mpe(
                mpe_env, actions[env_index]
            )
            final_obs = result.final_observations[env_index].numpy()
            assert_close(final_obs, mpe_float64_observations(mpe_env))
            assert_close(final_obs, as_agent_array(observations))
            assert_close(result.rewards[env_index].numpy(), as_agent_array(rewards))
            mpe_done = any(terminations.values()) or any(truncations.values())
            assert bool(result.dones[env_index]) == mpe_done

    assert result.dones.all()
    for env_index, mpe_env in enumerate(mpe_envs):
        next_observations, _ = mpe_env.reset()
        assert_close(result.observations[env_index].numpy(), as_agent_array(next_observations))


def test_seeded_reset_matches_mpe2_seeded_reset():
    batched = BatchedSimpleSpread(3)
    observations = batched.reset(seed=7).numpy()
    for env_index in range(3):
        mpe_env = make_simple_spread()
        mpe_env.reset(seed=7 + env_index)
        np.testing.assert_array_equal(observations[env_index], mpe_float64_observations(mpe_env))


def test_shapes_and_dtypes():
    num_envs, num_features = 5, len(FEATURE_NAMES)
    batched = BatchedSimpleSpread(num_envs)
    observations = batched.reset(seed=1)
    assert observations.shape == (num_envs, 3, observation_dim()) == (num_envs, 3, 18)
    assert observations.dtype == torch.float64
    result = batched.step(torch.zeros(num_envs, 3, dtype=torch.int64))
    assert result.observations.shape == result.final_observations.shape == (num_envs, 3, 18)
    assert result.rewards.shape == (num_envs, 3) and result.rewards.dtype == torch.float64
    assert result.features.shape == (num_envs, 3, num_features)
    assert result.features.dtype == torch.float64
    assert result.dones.shape == (num_envs,) and result.dones.dtype == torch.bool
    assert true_weights(0.5).shape == (num_features,)
    assert_close(result.features.numpy() @ true_weights(0.5), result.rewards.numpy())


def test_same_seed_gives_identical_trajectories_across_resets():
    def rollout(seed: int) -> list[torch.Tensor]:
        batched = BatchedSimpleSpread(4)
        outputs = [batched.reset(seed=seed)]
        action_rng = torch.Generator().manual_seed(5)
        for _ in range(2 * MAX_CYCLES + 3):
            actions = torch.randint(0, NUM_ACTIONS, (4, 3), generator=action_rng)
            outputs.extend(batched.step(actions))
        return outputs

    first, second, other_seed = rollout(11), rollout(11), rollout(12)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert not torch.equal(first[0], other_seed[0])


def test_state_read_off_observations_restarts_the_same_trajectory():
    source = BatchedSimpleSpread(6)
    observations = source.reset(seed=3)
    action_rng = torch.Generator().manual_seed(0)
    for _ in range(7):
        observations = source.step(torch.randint(0, NUM_ACTIONS, (6, 3), generator=action_rng)).observations
    copy = BatchedSimpleSpread(6)
    copy.set_state(*state_from_observations(observations), source.steps)
    torch.testing.assert_close(copy.observe(), observations, rtol=0, atol=1e-12)
    actions = torch.randint(0, NUM_ACTIONS, (6, 3), generator=action_rng)
    expected, actual = source.step(actions), copy.step(actions)
    torch.testing.assert_close(actual.features, expected.features, rtol=0, atol=1e-12)
    torch.testing.assert_close(actual.final_observations, expected.final_observations, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="shapes"):
        copy.set_state(source.agent_pos[:2], source.agent_vel, source.landmark_pos, source.steps)


def test_dones_arrive_every_max_cycles_steps():
    batched = BatchedSimpleSpread(2, max_cycles=4)
    batched.reset(seed=0)
    no_op = torch.zeros(2, 3, dtype=torch.int64)
    dones = [bool(batched.step(no_op).dones.all()) for _ in range(12)]
    assert dones == [False, False, False, True] * 3


def test_invalid_actions_and_incompatible_mpe_env_are_rejected():
    batched = BatchedSimpleSpread(1, local_ratio=0.5)
    batched.reset(seed=0)
    with pytest.raises(ValueError):
        batched.step(torch.full((1, 3), NUM_ACTIONS, dtype=torch.int64))
    with pytest.raises(ValueError):
        batched.step(torch.full((1, 3), -1, dtype=torch.int64))
    mpe_env = make_simple_spread(local_ratio=0.2)
    mpe_env.reset(seed=0)
    with pytest.raises(ValueError, match="local_ratio"):
        batched.set_state_from_mpe(mpe_env, 0)
