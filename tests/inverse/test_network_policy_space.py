import torch
from torch.distributions import Categorical, kl_divergence

from ilola_lib.core.neural_trace import episodes_from_rollout
from ilola_lib.core.policies import CategoricalActor, actor_logits, flatten_params
from ilola_lib.inverse.network_policy_space import CategoricalNetworkDivergence


def tiny_actor(seed: int, obs_dim: int = 4, actions: int = 3) -> CategoricalActor:
    generator = torch.Generator().manual_seed(seed)
    return CategoricalActor(torch.zeros(obs_dim), torch.ones(obs_dim), actions, hidden_size=6, generator=generator)


def test_network_divergence_matches_a_loop_of_exact_categorical_kls_and_is_zero_at_the_observed_policy():
    templates = [tiny_actor(0), tiny_actor(1)]
    d = flatten_params(templates[0]).numel()
    observations = torch.randn(3, 2, 7, 4, dtype=torch.float64)
    next_params = torch.randn(3, 2, d, dtype=torch.float64)
    divergence = CategoricalNetworkDivergence(templates, observations, next_params)
    predicted = torch.randn(5, 3, 2, d, dtype=torch.float64)
    fast = divergence(predicted)
    for p in range(5):
        for k in range(3):
            for i in range(2):
                observed = torch.softmax(actor_logits(templates[i], next_params[k, i], observations[k, i]), -1)
                reference = reference_kl(observed, actor_logits(templates[i], predicted[p, k, i], observations[k, i]))
                assert abs(float(fast[p, k, i]) - float(reference.mean())) < 1e-12
    assert float(divergence(next_params[None]).abs().max()) < 1e-14
    assert float(divergence.subset([2])(predicted[:, [2]]).sub(fast[:, [2]]).abs().max()) < 1e-14


def test_episodes_from_rollout_keeps_each_env_episode_contiguous():
    rollout = torch.arange(4 * 3).reshape(4, 3)  # [T=4, E=3], value = 3·t + e
    episodes = episodes_from_rollout(rollout, horizon=2)
    assert episodes.tolist() == [[0, 3], [1, 4], [2, 5], [6, 9], [7, 10], [8, 11]]


def reference_kl(probs, logits):
    """``KL(probs ‖ softmax(logits))`` from ``torch.distributions``: the independent reference."""
    return kl_divergence(Categorical(probs=probs), Categorical(logits=logits))
