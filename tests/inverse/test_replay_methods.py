"""Recovery on a matched synthetic PPO trace: the replay learner model explains the learners' updates and
I-LOLA on it recovers the known weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ilola_lib.core.metrics import explained_fraction
from ilola_lib.inverse.replay_methods import coupled_directions
from ilola_lib.inverse.trace_inversion import TraceAnalysis, gradient_methods_on_trace
from synthetic_ppo import synthetic_ppo_run

SETTINGS = {"held_out_every": 4, "fit_pair_stride": 1, "states_per_pair": 64, "warm_up_fraction": 0.0,
            "logel_restarts": 2, "cma_generations": 15, "cma_popsize": 8, "cma_restarts": 0, "cma_sigma": 0.3,
            "eta_init": 1.0, "random_draws": 3, "lbfgs_iterations": 30, "replay_linearisations": 1}


@pytest.fixture(scope="module")
def inverted():
    trace = synthetic_ppo_run(num_updates=8, num_envs=128)[0]
    with torch.random.fork_rng():
        analysis = TraceAnalysis.of(trace, SETTINGS, np.random.default_rng(0))
        return gradient_methods_on_trace(trace, analysis, SETTINGS, seed=0)


def test_replay_model_explains_most_of_the_update(inverted):
    _, ladder, _ = inverted
    assert ladder["replay"]["ef_1a"] > 0.6, ladder
    assert ladder["replay"]["ef_1a"] > ladder["gpomdp"]["ef_1a"], ladder


def test_ilola_recovers_the_weights_and_beats_no_update(inverted):
    methods, _, _ = inverted
    for key in ("ilola", "ilola_eta0"):
        assert methods[key]["cosine"] > 0.9, (key, methods[key]["cosine"])
        assert methods[key]["kl_1b"] < 0.5 * methods[key]["kl_0"]
        assert methods[key]["kl_1b"] < methods[key]["kl_rand"]
    assert set(methods) >= {"ilogel", "ilogel_gpomdp", "ilola_gpomdp", "ilola_eta0_gpomdp"}


def test_coupled_directions_contract_both_agents_weights():
    generator = torch.Generator().manual_seed(0)
    lola = torch.randn(2, 2, 2, 3, 4, 4, generator=generator, dtype=torch.float64)
    omega = torch.randn(2, 4, generator=generator, dtype=torch.float64)
    expected = torch.zeros(2, 2, 3, dtype=torch.float64)
    for k in range(2):
        for i in range(2):
            for j in range(2):
                expected[k, i] += torch.einsum("dmn,m,n->d", lola[k, i, j], omega[i], omega[j])
    assert torch.allclose(coupled_directions(lola, omega), expected)


def test_explained_fraction():
    assert explained_fraction(0.25, 1.0) == 0.75
    assert explained_fraction(2.0, 1.0) == -1.0


def test_warm_up_rule_leaves_early_pairs_out_of_fit_and_score():
    from ilola_lib.inverse.protocol import analysed_pairs

    pairs, fit, held = analysed_pairs(20, 4, 1, warm_up_fraction=0.3)
    assert pairs.min() == 6 and set(pairs[held]) == {7, 11, 15, 19} and 6 in pairs[fit]
    everything, _, _ = analysed_pairs(20, 4, 1)
    assert everything.min() == 0
    with pytest.raises(ValueError, match="warm-up"):
        analysed_pairs(8, 4, 1, warm_up_fraction=0.9)
