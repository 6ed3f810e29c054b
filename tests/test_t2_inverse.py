import numpy as np
import torch

from ilola_lib.experiments.t2_inverse import divergence_for_pairs, gradient_model, phase_batch
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
