"""T2 inversion on tiny PPO traces: shared state samples, the network divergence and all four methods."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ilola_lib.inverse.trace_inversion import (
    gradient_model,
    network_divergence,
    phase_batch,
    sample_states,
    templates_of,
)
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t2.invert import invert_trace, ma_lfl_rows, tabular_view
from ilola_lib.tasks.t2.lookahead import state_from_observations
from ilola_lib.tasks.t2.ppo import PPOConfig, train_ppo
from ilola_lib.tasks.t2.simple_spread import BatchedSimpleSpread

PAPER_T2 = load_params(Path(__file__).resolve().parents[3] / "params.yaml")["t2"]

SETTINGS = {"lbfgs_iterations": 20, "held_out_every": 2, "states_per_pair": 8, "fit_pair_stride": 1, "logel_restarts": 1, "cma_generations": 3, "cma_popsize": 6, "cma_restarts": 0,
            "cma_sigma": 0.3, "eta_init": 1.0, "random_draws": 2, "replay_linearisations": 1, "warm_up_fraction": 0.0,
            "validation_stride": None, "ma_lfl": {"potential_degree": 1, "rollouts": 1}}


@pytest.fixture(scope="module")
def tiny_trace():
    config = PPOConfig(**{**PAPER_T2["ppo"], "num_envs": 4, "num_steps": 25, "num_updates": 4, "update_epochs": 1,
                          "num_minibatches": 1, "hidden_size": 8, "normalizer_envs": 4, "normalizer_steps": 25},
                       local_ratio=PAPER_T2["local_ratio"], seed=1)
    return train_ppo(config).trace


def test_sampled_states_are_the_recorded_states_of_the_next_batch(tiny_trace):
    sample = sample_states(tiny_trace, [0, 2], 8, np.random.default_rng(0))
    assert sample.joint_observations.shape == (2, 8, 3, 18) and sample.steps.shape == (2, 8)
    batch = torch.as_tensor(tiny_trace.observations[3], dtype=torch.float64).reshape(-1, 3, 18)
    assert all(any(torch.equal(state, row) for row in batch) for state in sample.joint_observations[1])
    # a recorded observation is a simulator state: it can be re-entered and observed again
    env = BatchedSimpleSpread(8)
    env.set_state(*state_from_observations(sample.joint_observations[0]), sample.steps[0])
    torch.testing.assert_close(env.observe(), sample.joint_observations[0], rtol=0, atol=1e-6)


def test_network_and_tabular_views_of_the_same_states_agree(tiny_trace):
    pairs = [0, 1]
    sample = sample_states(tiny_trace, pairs, 8, np.random.default_rng(0))
    templates = templates_of(tiny_trace)
    network = network_divergence(tiny_trace, templates, sample)
    tabular, no_update_logits = tabular_view(tiny_trace, templates, sample)
    model = gradient_model(tiny_trace, templates, pairs, 0.95, coupled=True)
    no_update = network(model.theta[None])  # θ^k as the prediction of θ^{k+1}
    torch.testing.assert_close(tabular(no_update_logits[None]), no_update, rtol=1e-4, atol=1e-7)
    omega = torch.as_tensor(tiny_trace.reward_weights, dtype=torch.float64)[None].repeat(2, 1, 1)
    nuisance = torch.tensor([[0.0, 0.0, 0.0, -2.0], [-30.0, -30.0, -30.0, -30.0]], dtype=torch.float64)
    losses = network(model.predict(omega, nuisance))  # [P, K, N]
    assert losses.shape == (2, 2, 3) and bool(torch.isfinite(losses).all())
    # a vanishing step predicts "no update", whose KL to the observed next policy is positive
    assert float(losses[1].min()) > 0.0


def test_phase_batch_and_lfl_rows_have_consistent_shapes(tiny_trace):
    observations, actions, features = phase_batch(tiny_trace, 0)
    assert observations.shape[:3] == (4, 25, 3) and actions.shape == (4, 25, 3) and features.shape[:3] == (3, 4, 25)
    sample = sample_states(tiny_trace, np.arange(4), 8, np.random.default_rng(0))
    rows = ma_lfl_rows(tiny_trace, templates_of(tiny_trace), sample, 0, degree=1)
    assert len(rows) == 3
    targets, mean_features, shaping = rows[0]
    assert targets.shape == (40,) and mean_features.shape == (40, 5) and shaping.shape == (40, 19)
    assert np.isfinite(targets).all() and np.isfinite(shaping).all()


def test_all_four_methods_run_end_to_end_on_a_tiny_ppo_trace(tiny_trace):
    result = invert_trace(tiny_trace, SETTINGS, seed=1)
    stages = {"ilogel", "ilola", "ilola_eta0"}
    assert set(result["methods"]) == stages | {f"{key}_gpomdp" for key in stages} | {"ma_lfl"}
    for metrics in result["methods"].values():
        assert all(math.isfinite(metrics[k]) for k in ("kl_1a", "kl_1b", "kl_0", "kl_rand", "cosine"))
        assert -1.0 <= metrics["cosine"] <= 1.0 and len(metrics["cosine_per_agent"]) == 3
    # every method is scored on the same held-out states, so they share the no-update floor
    floors = {round(m["kl_0"], 6) for m in result["methods"].values()}
    assert len(floors) == 1, floors
    assert set(result["seconds"]) == {"tensors", "gpomdp_methods", "shadow_critic", "replay_pass_1", "stage_a",
                                      "stage_b", "ma_lfl"}
    assert {"gpomdp", "surrogate", "surrogate_adam", "replay"} <= set(result["learner_models"])
