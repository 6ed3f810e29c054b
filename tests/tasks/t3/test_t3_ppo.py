"""Independent Gaussian PPO on MultiWalker: the Gaussian actor, episode rollouts, the trace, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ilola_lib.core.neural_trace import load_neural_trace, save_neural_trace
from ilola_lib.core.policies import (
    GaussianActor,
    flatten_params,
    gaussian_log_probs,
    gaussian_mean_log_std,
    load_flat_params_,
)
from ilola_lib.core.ppo import agent_batches, compute_gae
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t3.multiwalker import ACTION_DIM, OBSERVATION_DIM, MultiWalkerFeatureEnv, true_weights
from ilola_lib.tasks.t3.ppo import MultiWalkerPPOConfig, collect_episodes, episode_seeds, train_multiwalker_ppo

PAPER_T3 = load_params(Path(__file__).resolve().parents[3] / "params.yaml")["t3"]

pytestmark = pytest.mark.filterwarnings("ignore:The old environment creation API:DeprecationWarning")


def tiny_config(**overrides) -> MultiWalkerPPOConfig:
    settings = dict(PAPER_T3["ppo"], max_cycles=30, episodes_per_update=3, num_updates=2, update_epochs=2,
                    num_minibatches=2, hidden_size=8, normalizer_episodes=2, seed=5)
    settings.update(overrides)
    return MultiWalkerPPOConfig(**settings)


def make_actor(seed: int = 0) -> GaussianActor:
    generator = torch.Generator().manual_seed(seed)
    return GaussianActor(torch.randn(5, generator=generator), torch.rand(5, generator=generator) + 0.5, 3, 8,
                         generator, init_log_std=-0.4)


def test_gaussian_actor_flat_evaluation_matches_the_module():
    actor = make_actor()
    with torch.no_grad():
        actor.log_std.copy_(torch.tensor([-0.4, 0.1, 0.3]))
    flat = flatten_params(actor)
    assert torch.equal(flat[:3], actor.log_std.detach()), "log_std is the first block of the flat parameters"
    obs, actions = torch.randn(7, 5), torch.randn(7, 3)
    log_probs, entropy = actor.log_prob_and_entropy(obs, actions)
    torch.testing.assert_close(gaussian_log_probs(actor, flat, obs, actions), log_probs)
    reference = torch.distributions.Normal(actor(obs), actor.log_std.exp()).log_prob(actions).sum(-1)
    torch.testing.assert_close(log_probs, reference)
    closed_entropy = (0.5 * np.log(2 * np.pi * np.e) + actor.log_std).sum()
    torch.testing.assert_close(entropy, closed_entropy.expand(7))
    population = flat + 0.1 * torch.randn(4, flat.numel())
    batched = gaussian_log_probs(actor, population, obs, actions)
    looped = torch.stack([gaussian_log_probs(actor, p, obs, actions) for p in population])
    torch.testing.assert_close(batched, looped)
    mean, log_std = gaussian_mean_log_std(actor, population, obs)
    assert mean.shape == (4, 7, 3) and log_std.shape == (4, 1, 3)


def test_policy_kl_diagnostic_is_the_closed_form_gaussian_kl():
    actor = make_actor(1)
    before = flatten_params(actor)
    load_flat_params_(actor, before + 0.05 * torch.randn(before.numel(), generator=torch.Generator().manual_seed(2)))
    obs = torch.randn(11, 5)
    mean_before, log_std_before = gaussian_mean_log_std(actor, before, obs)
    expected = torch.distributions.kl_divergence(
        torch.distributions.Normal(mean_before, log_std_before.exp()),
        torch.distributions.Normal(actor(obs), actor.log_std.exp())).sum(-1).mean()
    assert actor.mean_kl_from(before, obs) == pytest.approx(float(expected), rel=1e-6)


@pytest.fixture(scope="module")
def episode_rollout():
    config = tiny_config(max_cycles=120)  # long enough for random-looking walkers to fall
    envs = [MultiWalkerFeatureEnv(**config.env_kwargs) for _ in range(4)]
    actors = [make_actor(i) for i in range(3)]
    for actor in actors:  # real observation size, zero-mean noise policy
        actor.__init__(torch.zeros(OBSERVATION_DIM), torch.ones(OBSERVATION_DIM), ACTION_DIM, 8,
                       torch.Generator().manual_seed(0), init_log_std=0.5)
    weights = torch.tensor(np.tile(true_weights(config.env_kwargs), (3, 1)))
    rollout = collect_episodes(envs, actors, episode_seeds(0, 0, 4), weights, torch.Generator().manual_seed(0))
    return config, actors, rollout


def test_episode_rollouts_are_complete_padded_episodes(episode_rollout):
    config, _, rollout = episode_rollout
    valid, dones = rollout.valid, rollout.dones
    assert valid.shape == dones.shape == (config.max_cycles, 4)
    assert not valid.all(), "no episode ended early: padding is untested"
    assert torch.all(dones.sum(0) == 1), "one episode per env"
    last = dones.int().argmax(0)
    steps = torch.arange(config.max_cycles)[:, None]
    assert torch.equal(valid, steps <= last[None]), "valid up to and including the episode's last step"
    assert torch.all(rollout.features[~valid] == 0) and torch.all(rollout.observations[~valid] == 0)
    torch.testing.assert_close(rollout.rewards[valid], rollout.env_rewards[valid], atol=1e-6, rtol=0)
    assert not torch.any(rollout.terminated & ~dones)
    truncated = dones & ~rollout.terminated
    assert torch.all(last[truncated.any(0)] == config.max_cycles - 1), "only max_cycles ends are truncations"
    assert rollout.terminated.any(), "no episode ended in a fall: the terminal case is untested"


def test_agent_batches_drop_padding_and_bootstrap_zero_at_falls(episode_rollout):
    config, actors, rollout = episode_rollout

    class ConstantCritic(torch.nn.Module):
        def forward(self, obs):
            return torch.full(obs.shape[:-1], 2.0)

    class Learner:
        def __init__(self, actor):
            self.actor, self.critic = actor, ConstantCritic()

    batches, _ = agent_batches([Learner(a) for a in actors], rollout, config)
    assert all(len(b.advantages) == int(rollout.valid.sum()) for b in batches)
    values = torch.full(rollout.dones.shape, 2.0)
    next_values = values.masked_fill(rollout.terminated, 0.0)
    advantages, _ = compute_gae(rollout.rewards[:, :, 0].float(), values, next_values, rollout.dones, config.gamma,
                                config.gae_lambda)
    torch.testing.assert_close(batches[0].advantages, advantages[rollout.valid])


def test_training_is_deterministic_and_the_trace_round_trips(tmp_path):
    observed = []

    def observe(phase, learners, rollout):  # a white-box observer reading the learners' state before each update
        observed.append(phase)
        agent_batches(learners, rollout, tiny_config())
        [learner.actor_optimizer.state_dict() for learner in learners]

    first, second = train_multiwalker_ppo(tiny_config()), train_multiwalker_ppo(tiny_config(), observe=observe)
    assert observed == [0, 1], "the observer sees every update k < K once, in order"
    for name, array in first.trace.arrays().items():
        np.testing.assert_array_equal(array, second.trace.arrays()[name], err_msg=name)
    assert first.trace.actor_params.shape[0] == 3 and not np.array_equal(*first.trace.actor_params[[0, 2]])
    path = save_neural_trace(first.trace, tmp_path / "trace.npz")
    loaded = load_neural_trace(path)
    np.testing.assert_array_equal(loaded.valid, first.trace.valid)
    template = loaded.actor_template(1)
    assert isinstance(template, GaussianActor)
    np.testing.assert_array_equal(flatten_params(template).numpy(), loaded.actor_params[0, 1])


def test_reward_weights_of_the_wrong_shape_are_refused():
    # params.yaml values (episodes_per_update, …) are checked by the schema (tests/pipeline/test_config.py)
    with pytest.raises(AssertionError, match="reward_weights"):
        tiny_config(reward_weights=((1.0, 2.0),) * 3)
