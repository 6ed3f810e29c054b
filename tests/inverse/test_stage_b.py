import numpy as np
import torch
from torch.distributions import Categorical, kl_divergence

from ilola_lib.core.metrics import cosine
from ilola_lib.inverse.learner_models import GradientLearnerModel
from ilola_lib.inverse.policy_fit import TabularDivergence, fit_weights_and_nuisance
from ilola_lib.inverse.stage_a import fit_logel
from ilola_lib.tasks.t1.gradient import feature_jacobians, lola_tensors, run_gradient_learners
from ilola_lib.tasks.t1.gridworld import make_gridworld
from ilola_lib.tasks.t1.tabular import DTYPE, GameTensors, policies_from_logits, state_distribution


def test_divergence_equals_weighted_exact_categorical_kl(small_game, random_logits, rng):
    observed = torch.as_tensor(rng.dirichlet(np.ones(5), size=(3, 2, small_game.num_states)))
    weights = torch.as_tensor(rng.dirichlet(np.ones(small_game.num_states), size=3))
    predicted = torch.randn(4, 3, 2, small_game.num_states * 5, dtype=DTYPE)
    fast = TabularDivergence(observed, weights)(predicted)
    reference = torch.einsum("pkns,ks->pkn",
                             reference_kl(observed, predicted.reshape(4, 3, 2, small_game.num_states, 5)), weights)
    np.testing.assert_allclose(fast.numpy(), reference.numpy(), atol=1e-12)


def test_stage_b_recovers_exact_lola_learners():
    # 3x3 grid: on 2x2 every cell is a corner and the weights are poorly conditioned.
    small_game = make_gridworld(3, 0.9)
    small_tensors = GameTensors(small_game)
    random_logits = 0.5 * torch.randn(2, small_game.num_states, 5, dtype=DTYPE, generator=torch.Generator().manual_seed(0))
    weights = torch.as_tensor(small_game.true_weights, dtype=DTYPE)
    logits = run_gradient_learners(small_tensors, weights, 20.0, 6, random_logits, eta=20.0)
    own, cross = [], []
    for theta in logits[:-1]:
        jacobians = feature_jacobians(small_tensors, theta)
        own.append(torch.stack([jacobians[0, 0], jacobians[1, 1]]))
        cross.append(lola_tensors(small_tensors, theta, jacobians))
    model = GradientLearnerModel(logits[:-1].reshape(6, 2, -1), torch.stack(own), torch.stack(cross), coupled=True)
    policies = policies_from_logits(logits)
    divergence = TabularDivergence(policies[1:], torch.stack([state_distribution(small_tensors, p) for p in policies[1:]]))
    deltas = (logits[1:] - logits[:-1]).reshape(6, 2, -1).numpy()
    stage_a = [fit_logel(deltas[:, i], model.jacobians[:, i].numpy(), np.random.default_rng(0)) for i in range(2)]
    start = np.array([omega for omega, _, _ in stage_a])
    nuisance = np.log([np.median(steps) for _, steps, _ in stage_a] + [1.0])
    fit = fit_weights_and_nuisance(model, divergence, start, nuisance, seed=0, max_generations=100, popsize=16)
    assert cosine(fit.omega, small_game.true_weights).min() > 0.99
    assert fit.loss < 1e-8


def test_coupled_fit_is_never_worse_on_training_pairs_than_the_nested_eta0_fit():
    small_game = make_gridworld(2, 0.9)
    tensors = GameTensors(small_game)
    logits0 = 0.5 * torch.randn(2, small_game.num_states, 5, dtype=DTYPE, generator=torch.Generator().manual_seed(1))
    logits = run_gradient_learners(tensors, torch.as_tensor(small_game.true_weights, dtype=DTYPE), 20.0, 4, logits0)
    own, cross = [], []
    for theta in logits[:-1]:
        jacobians = feature_jacobians(tensors, theta)
        own.append(torch.stack([jacobians[0, 0], jacobians[1, 1]]))
        cross.append(lola_tensors(tensors, theta, jacobians))
    flat = logits[:-1].reshape(4, 2, -1)
    naive = GradientLearnerModel(flat, torch.stack(own), coupled=False)
    coupled = GradientLearnerModel(flat, torch.stack(own), torch.stack(cross), coupled=True)
    policies = policies_from_logits(logits)
    divergence = TabularDivergence(policies[1:], torch.stack([state_distribution(tensors, p) for p in policies[1:]]))
    bad_start = -np.asarray(small_game.true_weights)  # CMA-ES with one generation cannot leave this basin
    nested = fit_weights_and_nuisance(naive, divergence, np.asarray(small_game.true_weights), np.log([20.0, 20.0]),
                                      seed=0, max_generations=30, popsize=8)
    alone = fit_weights_and_nuisance(coupled, divergence, bad_start, np.zeros(3), seed=0, max_generations=1,
                                     popsize=4, polish_iterations=5)
    helped = fit_weights_and_nuisance(coupled, divergence, bad_start, np.zeros(3), seed=0, max_generations=1,
                                      popsize=4, polish_iterations=5, nested=nested)
    assert alone.loss > nested.loss  # the situation the nested start guards against
    assert helped.loss <= nested.loss + 1e-12


def reference_kl(probs, logits):
    """``KL(probs ‖ softmax(logits))`` from ``torch.distributions``: the independent reference."""
    return kl_divergence(Categorical(probs=probs), Categorical(logits=logits))
