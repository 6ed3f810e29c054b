"""MultiWalker reward features: ``ω*·φ_i`` equals the real Box2D env's reward at every step."""

import numpy as np
import pytest

from ilola_lib.tasks.t3.multiwalker import (
    ACTION_DIM,
    FEATURE_NAMES,
    N_FEATURES,
    N_REWARD_FEATURES,
    OBSERVATION_DIM,
    MultiWalkerFeatureEnv,
    run_fixed_policy,
    true_weights,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:The old environment creation API:DeprecationWarning"
)

TOLERANCE = 1e-6
FALL_FEATURE = FEATURE_NAMES.index("fallen")


def _rollout(env_kwargs, seed):
    """Random-action episode; per step: (live agents, rewards, features, package dropped)."""
    env = MultiWalkerFeatureEnv(**env_kwargs)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    steps = []
    while env.agents:
        live_agents = env.agents
        actions = {
            agent: rng.uniform(-1.0, 1.0, ACTION_DIM).astype(np.float32) for agent in live_agents
        }
        step = env.step(actions)
        steps.append((live_agents, step.rewards, step.features, env.package_dropped))
    env.close()
    return steps


def _assert_features_explain_rewards(env_kwargs, steps):
    weights = true_weights(env_kwargs)
    for t, (live_agents, rewards, features, _) in enumerate(steps):
        assert set(rewards) == set(features) == set(live_agents), t
        for agent, reward in rewards.items():
            assert weights @ features[agent] == pytest.approx(reward, abs=TOLERANCE), (t, agent)


def _any_fall(steps):
    return any(f[FALL_FEATURE] > 0 for _, _, features, _ in steps for f in features.values())


@pytest.mark.parametrize("shared_reward", [True, False])
def test_features_reproduce_reward_with_default_settings(shared_reward):
    env_kwargs = dict(max_cycles=75, shared_reward=shared_reward)
    rollouts = [_rollout(env_kwargs, seed) for seed in range(4)]
    for steps in rollouts:
        _assert_features_explain_rewards(env_kwargs, steps)
    assert any(_any_fall(steps) for steps in rollouts), "no walker fell: the fall step is untested"
    assert any(len(steps) == 75 for steps in rollouts), "no episode reached max_cycles"


# With terminate_on_fall=False these seeds make walkers fall and then the package drop (step 104,
# resp. 77), covering the sticky penalty of fallen walkers and the package-drop penalty.
@pytest.mark.parametrize(("remove_on_fall", "seed"), [(True, 1), (False, 2)])
@pytest.mark.parametrize("shared_reward", [True, False])
def test_features_reproduce_reward_through_falls_and_package_drop(
    shared_reward, remove_on_fall, seed
):
    env_kwargs = dict(
        max_cycles=110,
        shared_reward=shared_reward,
        terminate_on_fall=False,
        remove_on_fall=remove_on_fall,
    )
    steps = _rollout(env_kwargs, seed)
    _assert_features_explain_rewards(env_kwargs, steps)
    assert _any_fall(steps)
    assert steps[-1][3], "the package did not drop: the drop step is untested"


def test_features_reproduce_reward_with_other_walker_count_and_weights():
    env_kwargs = dict(
        n_walkers=4, max_cycles=75, forward_reward=2.5, fall_reward=-3.0, terminate_reward=-50.0
    )
    for seed in range(2):
        _assert_features_explain_rewards(env_kwargs, _rollout(env_kwargs, seed))


def test_same_seed_gives_same_rewards_and_features():
    env_kwargs = dict(max_cycles=75)
    first, second = _rollout(env_kwargs, seed=5), _rollout(env_kwargs, seed=5)
    assert len(first) == len(second)
    for (_, rewards_a, features_a, _), (_, rewards_b, features_b, _) in zip(first, second):
        assert rewards_a == rewards_b
        for agent in features_a:
            np.testing.assert_array_equal(features_a[agent], features_b[agent])
    other = _rollout(env_kwargs, seed=6)
    assert [s[1] for s in other] != [s[1] for s in first]


def test_reset_with_seed_on_same_env_repeats_episode():
    env = MultiWalkerFeatureEnv(max_cycles=30)
    zero_actions = {agent: np.zeros(ACTION_DIM, np.float32) for agent in env.possible_agents}

    def episode_rewards():
        env.reset(seed=11)
        return [env.step(zero_actions).rewards for _ in range(30)]

    assert episode_rewards() == episode_rewards()
    env.close()


def test_shapes_and_true_weights():
    env = MultiWalkerFeatureEnv(max_cycles=10)
    observations, _ = env.reset(seed=0)
    assert env.observation_dim == OBSERVATION_DIM == 31
    assert env.action_dim == ACTION_DIM == 4
    assert env.n_features == N_FEATURES == len(FEATURE_NAMES) == 7
    assert all(obs.shape == (OBSERVATION_DIM,) for obs in observations.values())
    step = env.step({agent: np.full(ACTION_DIM, 0.3, np.float32) for agent in env.agents})
    for feature in step.features.values():
        assert feature.shape == (N_FEATURES,) and feature.dtype == np.float64
    # shared_reward (default) makes the reward features common to all walkers; distractors stay own.
    reward_parts = np.stack([f[:N_REWARD_FEATURES] for f in step.features.values()])
    np.testing.assert_array_equal(reward_parts, reward_parts[[0] * len(reward_parts)])
    np.testing.assert_array_equal(env.true_weights, [1.0, -5.0, -10.0, -100.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(true_weights(), env.true_weights)
    np.testing.assert_array_equal(
        true_weights(dict(forward_reward=2.0, fall_reward=-1.0, terminate_reward=-7.0)),
        [2.0, -5.0, -1.0, -7.0, 0.0, 0.0, 0.0],
    )
    env.close()


def test_step_after_episode_end_raises():
    env = MultiWalkerFeatureEnv(max_cycles=2)
    env.reset(seed=0)
    zero_actions = {agent: np.zeros(ACTION_DIM, np.float32) for agent in env.possible_agents}
    env.step(zero_actions)
    env.step(zero_actions)
    assert not env.agents
    with pytest.raises(RuntimeError):
        env.step(zero_actions)
    env.close()


@pytest.mark.parametrize("policy", ["random", "zero"])
def test_run_fixed_policy_is_reproducible(policy):
    env_kwargs = dict(max_cycles=20)
    first = run_fixed_policy(policy, n_episodes=2, env_kwargs=env_kwargs, seed=3)
    second = run_fixed_policy(policy, n_episodes=2, env_kwargs=env_kwargs, seed=3)
    assert first.mean_walker_return == second.mean_walker_return
    assert first.mean_package_distance == second.mean_package_distance
    assert first.n_episodes == 2 and 0 < first.env_steps <= 40
    assert np.isfinite(first.mean_walker_return) and first.env_steps_per_second > 0
