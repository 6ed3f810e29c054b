import numpy as np
import torch

import math

from ilola_lib.experiments.t2_inverse import divergence_for_pairs, gradient_model, invert_trace, phase_batch
from ilola_lib.learners.ppo import PPOConfig, train_ppo


def test_t2_inverse_pieces_run_on_a_tiny_ppo_trace():
    config = PPOConfig(num_envs=4, num_steps=25, num_updates=3, update_epochs=1, num_minibatches=1,
                       hidden_size=8, normalizer_envs=4, normalizer_steps=25, seed=0)
    trace = train_ppo(config).trace
    observations, actions, features = phase_batch(trace, 0)
    assert observations.shape[:3] == (4, 25, 3) and actions.shape == (4, 25, 3) and features.shape[:3] == (3, 4, 25)
    pairs = [0, 1]
    model = gradient_model(trace, pairs, config.gamma, coupled=True)
    divergence = divergence_for_pairs(trace, pairs, 16, np.random.default_rng(0))
    omega = torch.as_tensor(trace.reward_weights, dtype=torch.float64)[None].repeat(2, 1, 1)
    nuisance = torch.tensor([[0.0, 0.0, 0.0, -2.0], [-30.0, -30.0, -30.0, -30.0]], dtype=torch.float64)
    losses = divergence(model.predict(omega, nuisance))  # [P, K, N]
    assert losses.shape == (2, 2, 3) and bool(torch.isfinite(losses).all())
    # a vanishing step predicts "no update", whose KL to the observed next policy is positive
    assert float(losses[1].min()) > 0.0


def test_stage_a_and_b_run_end_to_end_on_a_tiny_ppo_trace():
    config = PPOConfig(num_envs=4, num_steps=25, num_updates=5, update_epochs=1, num_minibatches=1,
                       hidden_size=8, normalizer_envs=4, normalizer_steps=25, seed=1)
    trace = train_ppo(config).trace
    settings = {"logel_restarts": 1, "cma_generations": 3, "cma_popsize": 6, "cma_sigma": 0.3, "eta_init": 1.0,
                "random_draws": 2}
    methods = invert_trace(trace, settings, seed=1, observations_per_pair=16)
    assert set(methods) == {"ilogel", "ilola", "ilola_eta0"}
    for metrics in methods.values():
        assert {"kl_1a", "kl_1b", "kl_0", "kl_rand", "cosine"} <= set(metrics)
        assert all(math.isfinite(metrics[k]) for k in ("kl_1a", "kl_1b", "kl_0", "kl_rand", "cosine"))
        assert -1.0 <= metrics["cosine"] <= 1.0
