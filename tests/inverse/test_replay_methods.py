"""Recovery on a matched synthetic PPO trace: the replay learner model explains the learners' updates and
I-LOLA on it recovers the known weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ilola_lib.core.metrics import FIT_RELATIVE_TOLERANCE, explained_fraction
from ilola_lib.inverse.replay_methods import coupled_directions
from ilola_lib.inverse.trace_inversion import TraceAnalysis, gradient_methods_on_trace
from synthetic_ppo import synthetic_ppo_run

SETTINGS = {"held_out_every": 4, "fit_pair_stride": 1, "states_per_pair": 64, "warm_up_fraction": 0.0,
            "logel_restarts": 2, "cma_generations": 15, "cma_popsize": 8, "cma_restarts": 0, "cma_sigma": 0.3,
            "eta_init": 1.0, "random_draws": 3, "lbfgs_iterations": 30, "replay_linearisations": 1,
            "validation_stride": None}


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


def test_independent_learners_score_ilola_on_the_uncoupled_replay(inverted):
    methods, ladder, _ = inverted
    assert "replay_coupled" not in ladder
    assert methods["ilola"]["kl_1a"] == methods["ilola_eta0"]["kl_1a"] == ladder["replay"]["kl_1a"]


@pytest.fixture(scope="module")
def coupled_inverted():
    trace = synthetic_ppo_run(num_updates=8, num_envs=128, lola_eta=LOLA_ETA)[0]
    with torch.random.fork_rng():
        analysis = TraceAnalysis.of(trace, SETTINGS, np.random.default_rng(0))
        return gradient_methods_on_trace(trace, analysis, SETTINGS, seed=0)


LOLA_ETA = 10.0  # the correction about as large as the PPO gradient: the coupling is a sizeable part of each update


def test_coupled_learners_are_explained_better_by_the_coupled_replay(coupled_inverted):
    methods, ladder, _ = coupled_inverted
    assert methods["ilola"]["kl_1a"] == ladder["replay_coupled"]["kl_1a"]
    assert methods["ilola_eta0"]["kl_1a"] == ladder["replay"]["kl_1a"]
    assert ladder["replay_coupled"]["kl_1a"] < 0.9 * ladder["replay"]["kl_1a"], ladder


def test_exact_point_is_the_replay_itself():
    from ilola_lib.inverse.learner_models import ReplayStepModel
    from ilola_lib.inverse.replay_methods import _linear_model
    from ilola_lib.inverse.replay_model import ReplayedUpdates, exact_point

    generator = torch.Generator().manual_seed(0)
    steps = torch.randn(3, 5, 2, 4, generator=generator, dtype=torch.float64)  # [P, K, N, d]
    replayed = ReplayedUpdates(steps, torch.rand(3, 5, 2, 4, generator=generator))
    theta, pairs = torch.randn(5, 2, 4, generator=generator, dtype=torch.float64), np.array([0, 2, 3])
    omega = np.array([[1.0, 0.0], [0.6, 0.8]])
    model = _linear_model(theta[pairs], exact_point(replayed, 1, omega), None, False, pairs)
    nuisance = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    expected = ReplayStepModel(theta[pairs], steps[1, pairs]).predict(torch.as_tensor(omega)[None], nuisance)
    assert torch.allclose(model.predict(torch.as_tensor(omega)[None], nuisance), expected, rtol=0, atol=1e-14)


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


def invert_synthetic(**settings):
    trace = synthetic_ppo_run(num_updates=8, num_envs=64)[0]
    settings = {**SETTINGS, **settings}
    with torch.random.fork_rng():
        return gradient_methods_on_trace(trace, TraceAnalysis.of(trace, settings, np.random.default_rng(0)), settings,
                                         seed=0)[0]


def test_validation_selection_changes_nothing_but_the_choice():
    without = invert_synthetic(fit_pair_stride=2)
    selected = invert_synthetic(fit_pair_stride=2, validation_stride=1)
    assert selected["ilogel"] == without["ilogel"], "validation pairs must not perturb the analysed pairs' draws"
    selections = {key: selected[key].pop("stage_b_selection") for key in ("ilola_eta0", "ilola")}
    # at Stage A's ω, I-LOLA's nuisance fit starts from the η = 0 fit there, so it fits the fit pairs at least as well
    # (up to the optimiser's tolerance, as the selection asserts)
    assert selections["ilola"]["fit_loss"]["stage_a"] <= selections["ilola_eta0"]["fit_loss"]["stage_a"] * (1 + FIT_RELATIVE_TOLERANCE)
    for key, selection in selections.items():
        assert set(selection["validation_kl"]) == set(selection["fit_loss"]) == {"stage_a", "stage_b_round_1"}
        if selection["selected"] == "stage_b_round_1":
            assert selected[key] == without[key]
        else:
            assert selected[key]["weights"] == selected["ilogel"]["weights"]
            assert selection["validation_kl"]["stage_a"] < selection["validation_kl"]["stage_b_round_1"]


def test_selection_keeps_the_lowest_validation_kl_and_the_first_on_a_tie():
    from ilola_lib.inverse.replay_methods import select_on_validation

    assert select_on_validation({"stage_a": 0.2, "stage_b_round_1": 0.1}) == "stage_b_round_1"
    assert select_on_validation({"stage_a": 0.1, "stage_b_round_1": 0.1}) == "stage_a"
