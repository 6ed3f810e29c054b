import numpy as np
import torch

from ilola_lib.inverse.ma_lfl import fit_ma_lfl, lfl_targets, marginal_features, shaping_matrix
from ilola_lib.core.protocol import split_pairs
from ilola_lib.tasks.t1.tabular import DTYPE, policies_from_logits, run_ma_spi, soft_q_parts, state_distribution


def test_lfl_identity_holds_exactly_on_soft_policy_iteration(small_game, small_tensors, random_logits):
    alpha = 0.4
    weights = torch.as_tensor(small_game.true_weights, dtype=DTYPE)
    policies = policies_from_logits(random_logits)
    for i in range(2):
        feature_q, entropy_q = soft_q_parts(small_tensors, policies, i, alpha)
        soft_q = (feature_q @ weights[i] + entropy_q).numpy()
        log_partition = alpha * np.log(np.exp(soft_q / alpha).sum(-1))  # g_i = α log Z_i
        next_policies = np.stack([np.exp((soft_q - log_partition[:, None]) / alpha)] * 2)
        mixed = policies.numpy().copy()
        mixed[i] = next_policies[i]
        target = lfl_targets(small_game, policies.numpy(), mixed, i, alpha)
        features = marginal_features(small_game, policies.numpy(), i)
        shaping = shaping_matrix(small_game, policies.numpy(), i) @ (-log_partition)  # g = −α log Z
        np.testing.assert_allclose(target.reshape(-1), (features @ small_game.true_weights[i]).reshape(-1) + shaping,
                                   atol=1e-10)


def test_ma_lfl_recovers_the_reward_from_exact_ma_spi_policies(small_game, small_tensors, random_logits):
    alpha = 0.5
    weights = torch.as_tensor(small_game.true_weights, dtype=DTYPE)
    history = run_ma_spi(small_tensors, weights, alpha, 8, random_logits)
    state_weights = torch.stack([state_distribution(small_tensors, p) for p in history]).numpy()
    fit_pairs, _ = split_pairs(8)
    recovered, _ = fit_ma_lfl(small_game, history.numpy(), state_weights, fit_pairs, alpha)
    np.testing.assert_allclose(recovered, small_game.true_weights, atol=1e-7)
