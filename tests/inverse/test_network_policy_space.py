import torch
from torch.distributions import Categorical, kl_divergence

from ilola_lib.core.neural_trace import episodes_from_rollout
from ilola_lib.core.policies import CategoricalActor, actor_log_probs, actor_logits, flatten_params
from ilola_lib.core.gradient_estimators import sampled_gradient_tensors
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


def test_sampled_tensors_of_network_policies_match_autograd_on_a_repeated_matrix_game():
    # Two network policies on a fixed observation play a repeated matrix game for H steps:
    # ψ_i(θ) = (Σ_t γ^t) Σ_a π_0(a_0) π_1(a_1) φ_i(a_0, a_1) is exact and differentiable.
    torch.manual_seed(0)
    gamma, horizon, episodes, q = 0.7, 3, 60000, 2
    templates = [tiny_actor(2), tiny_actor(3)]
    params = torch.stack([flatten_params(t) for t in templates]).double()
    observation = torch.randn(4, dtype=torch.float64)
    payoffs = torch.randn(2, 3, 3, q, dtype=torch.float64)  # φ_i(a_0, a_1) ∈ R^q
    discount_sum = sum(gamma**t for t in range(horizon))

    def psi(theta_0, theta_1, agent):
        p0 = torch.softmax(actor_logits(templates[0], theta_0, observation), -1)
        p1 = torch.softmax(actor_logits(templates[1], theta_1, observation), -1)
        return discount_sum * torch.einsum("a,b,abq->q", p0, p1, payoffs[agent])

    exact_01 = torch.autograd.functional.jacobian(lambda th: psi(params[0], th, 0), params[1]).T  # Ψ_01 [d, q]
    exact_00 = torch.autograd.functional.jacobian(lambda th: psi(th, params[1], 0), params[0]).T
    exact_t = torch.zeros(params.shape[1], q, q, dtype=torch.float64)  # T_01[:, m, n]
    for m in range(q):
        for n in range(q):
            def directional(theta_0, m=m, n=n):
                theta_1 = params[1].clone().requires_grad_(True)
                (grad_1,) = torch.autograd.grad(psi(theta_0, theta_1, 1)[n], theta_1, create_graph=True)
                return grad_1 @ exact_01[:, m]
            exact_t[:, m, n] = torch.autograd.functional.jacobian(directional, params[0])

    with torch.no_grad():
        probs = [torch.softmax(actor_logits(t, params[i], observation), -1) for i, t in enumerate(templates)]
    actions = torch.stack([torch.multinomial(p, episodes * horizon, replacement=True).reshape(episodes, horizon)
                           for p in probs])  # [N, E, H]
    features = payoffs[:, actions[0], actions[1]]  # [N, E, H, q]
    obs = observation.expand(episodes, horizon, 4)
    log_prob_fns = [lambda th, i=i: actor_log_probs(templates[i], th, obs, actions[i]) for i in range(2)]
    own, cross = sampled_gradient_tensors(log_prob_fns, params, features, gamma, coupled=True)

    def relative(estimate, exact):
        return float((estimate - exact).norm() / exact.norm())

    assert relative(own[0], exact_00) < 0.05
    assert relative(cross[0, 1], exact_t) < 0.15
    assert relative(cross[0, 1], -exact_t) > 1.0  # the sign and pairing are really tested


def reference_kl(probs, logits):
    """``KL(probs ‖ softmax(logits))`` from ``torch.distributions``: the independent reference."""
    return kl_divergence(Categorical(probs=probs), Categorical(logits=logits))
