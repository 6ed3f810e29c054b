"""The recovered reward's agreement with the true one on the held-out batches."""

from __future__ import annotations

import numpy as np
import pytest

from ilola_lib.analysis.reward_agreement import (
    feature_correlation_matrix,
    held_out_features,
    held_out_reward_agreement,
    correlated_features_markdown,
    most_correlated_features,
    reading_numbers,
    reward_correlations,
    with_reward_correlations,
)
from ilola_lib.core.neural_trace import save_neural_trace

STEPS, ENVS, AGENTS, Q = 2, 3, 2, 3


def test_held_out_features_are_the_real_steps_of_the_held_out_batches(make_tiny_trace):
    trace = make_tiny_trace()
    features = held_out_features(trace, np.array([3, 7]))
    assert features.shape == (AGENTS, 2 * (STEPS * ENVS - 1), Q)
    batches = np.round(features[..., 0] / 10.0)
    assert sorted(set(batches.ravel().tolist())) == [3.0, 7.0]
    assert (np.abs(features).sum(-1) > 0).all(), "a padding step was kept"


def test_reward_correlation_is_one_for_a_positive_multiple_and_pearson_otherwise():
    rng = np.random.default_rng(1)
    features = rng.standard_normal((2, 50, Q))
    truth = rng.standard_normal((2, Q))
    np.testing.assert_allclose(reward_correlations(features, truth, 3.0 * truth), 1.0, atol=1e-12)
    np.testing.assert_allclose(reward_correlations(features, truth, -truth), -1.0, atol=1e-12)
    other = rng.standard_normal((2, Q))
    expected = [np.corrcoef(phi @ t, phi @ o)[0, 1] for phi, t, o in zip(features, truth, other)]
    np.testing.assert_allclose(reward_correlations(features, truth, other), expected, rtol=1e-12)


def test_reward_correlation_refuses_a_constant_reward():
    features = np.zeros((1, 10, Q))
    features[0, :, 0] = np.arange(10)
    with pytest.raises(ValueError, match="agent 0"):
        reward_correlations(features, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))


def test_methods_with_weights_get_their_correlation(make_tiny_trace):
    trace = make_tiny_trace()
    features = held_out_features(trace, np.array([3, 7]))
    truth = trace.reward_weights
    metrics = {"seed": 0, "true_weights": truth.tolist(),
               "methods": {"exact": {"weights": (2.0 * truth).tolist()}, "no_weights": {"kl_0": 1.0}}}
    scored = with_reward_correlations(metrics, features)
    assert scored["methods"]["exact"]["reward_correlation"] == pytest.approx(1.0, abs=1e-12)
    assert len(scored["methods"]["exact"]["reward_correlation_per_agent"]) == AGENTS
    assert scored["methods"]["no_weights"] == {"kl_0": 1.0}
    assert "reward_correlation" not in metrics["methods"]["exact"], "the input must not be modified"


def test_most_correlated_features_names_the_pair_that_moves_together():
    rng = np.random.default_rng(2)
    features = rng.standard_normal((2, 200, Q))
    features[..., 2] = -3.0 * features[..., 0] + 0.1 * rng.standard_normal((2, 200))
    matrices = [feature_correlation_matrix(features), feature_correlation_matrix(features[:, ::-1])]
    found = most_correlated_features(matrices, ["a", "b", "c"])
    assert found["features"] == ["a", "c"]
    assert found["correlation"]["mean"] < -0.99


def test_agreement_over_seeds_reads_each_trace_and_checks_its_seed(tmp_path, make_tiny_trace):
    paths = []
    for seed in (0, 1):
        paths.append(tmp_path / f"seed_{seed}.npz")
        save_neural_trace(make_tiny_trace(seed), paths[-1])
    truths = {seed: make_tiny_trace(seed).reward_weights.tolist() for seed in (0, 1)}
    metrics = [{"seed": seed, "feature_names": ["a", "b", "c"], "true_weights": truths[seed],
                "methods": {"exact": {"weights": truths[seed]}}} for seed in (0, 1)]
    settings = {"held_out_every": 4, "warm_up_fraction": 0.0}
    scored, pair = held_out_reward_agreement(metrics, paths, settings)
    assert [m["methods"]["exact"]["reward_correlation"] for m in scored] == pytest.approx([1.0, 1.0], abs=1e-12)
    assert set(pair["features"]) <= {"a", "b", "c"}
    with pytest.raises(AssertionError, match="seed"):
        held_out_reward_agreement(metrics[::-1], paths, settings)
    recorded = [{**metrics[0], "pairs": {"held_out": [7]}}, metrics[1]]
    with pytest.raises(AssertionError, match="held-out pairs"):
        held_out_reward_agreement(recorded, paths, settings)


def test_reading_numbers_quote_the_summary():
    summary = {"methods": {"ilola": {"reward_correlation": {"mean": 0.9}},
                           "ilogel": {"reward_correlation": {"mean": 0.8}}},
               "held_out_feature_correlation": {"features": ["a", "c"], "correlation": {"mean": -0.7}}}
    assert reading_numbers("t9", summary, ("ilola", "ilogel")) == {
        "t9_reward_correlation_ilola": 0.9, "t9_reward_correlation_ilogel": 0.8, "t9_feature_correlation": -0.7}
    assert correlated_features_markdown(summary) == "`a` and `c`"


def test_reward_correlation_is_the_cosine_in_the_feature_covariance():
    rng = np.random.default_rng(3)
    features = rng.standard_normal((1, 400, Q)) @ rng.standard_normal((Q, Q))
    truth, estimate = rng.standard_normal((1, Q)), rng.standard_normal((1, Q))
    covariance = np.cov(features[0], rowvar=False)
    expected = estimate[0] @ covariance @ truth[0] / np.sqrt(
        (estimate[0] @ covariance @ estimate[0]) * (truth[0] @ covariance @ truth[0]))
    assert reward_correlations(features, truth, estimate)[0] == pytest.approx(expected, rel=1e-10)
