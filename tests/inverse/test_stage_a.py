import numpy as np
import torch

from ilola_lib.core.metrics import cosine
from ilola_lib.inverse.stage_a import fit_logel
from ilola_lib.tasks.t1.gradient import feature_jacobians, run_gradient_learners
from ilola_lib.tasks.t1.tabular import DTYPE


def test_logel_recovers_direction_and_step_sizes_of_synthetic_gradient_steps(rng):
    jacobians = rng.standard_normal((6, 40, 5))
    truth = np.array([1.0, -0.5, 0.2, 0.0, 0.0])
    truth /= np.linalg.norm(truth)
    steps = rng.uniform(0.5, 2.0, size=6)
    deltas = steps[:, None] * np.einsum("kdq,q->kd", jacobians, truth)
    omega, fitted_steps, objective = fit_logel(deltas, jacobians, rng)
    np.testing.assert_allclose(omega, truth, atol=1e-8)
    np.testing.assert_allclose(fitted_steps, steps, rtol=1e-8)
    assert objective < 1e-16


def test_stage_a_recovers_exact_policy_gradient_learners(small_game, small_tensors, random_logits, rng):
    weights = torch.as_tensor(small_game.true_weights, dtype=DTYPE)
    logits = run_gradient_learners(small_tensors, weights, 20.0, 4, random_logits)
    jacobians = torch.stack([feature_jacobians(small_tensors, theta) for theta in logits[:-1]])
    deltas = (logits[1:] - logits[:-1]).reshape(4, 2, -1).numpy()
    for i in range(2):
        omega, _, _ = fit_logel(deltas[:, i], jacobians[:, i, i].numpy(), rng)
        assert cosine(omega, small_game.true_weights[i])[0] > 0.9999
