"""How well a recovered reward agrees with the true one where the learners were: the Pearson correlation of the
per-step rewards on the held-out batches.

For agent ``i`` with true weights ``ω*_i`` and recovered ``ω̂_i``,

    ρ_i = corr_{b ∈ D_held} (ω*_i · φ_i(b), ω̂_i · φ_i(b)),

over the real steps ``b`` of every held-out batch ``D_k`` (``k`` a held-out pair after the warm-up rule): the
cosine of ``ω̂_i`` and ``ω*_i`` in the inner product of the features' covariance ``Σ_i`` on those steps,
``ω̂ᵀ Σ ω* / (‖ω̂‖_Σ ‖ω*‖_Σ)``. The plain weight cosine treats the features as orthonormal; when two features
move together on the learners' data (a walker that falls also ends the episode), weights that trade one for the
other point elsewhere yet rank the learners' steps alike. ``ρ`` measures that agreement: 1 for a positive
multiple of the true reward, about 0 for a random direction. It is invariant to the reward's scale (not
identified) and, like the cosine, not to potential shaping (the recovered rewards have none). The EPIC distance of T1 is ``sqrt((1 − ρ)/2)`` with
shaping removed first and a uniform coverage distribution instead of the learners' data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ilola_lib.analysis.reports import quoted_means
from ilola_lib.analysis.statistics import bootstrap_ci
from ilola_lib.core.metrics import pearson_correlation
from ilola_lib.core.neural_trace import NeuralTrace, load_neural_trace
from ilola_lib.core.protocol import held_out_pairs


def held_out_features(trace: NeuralTrace, held: np.ndarray) -> np.ndarray:
    """``φ`` on the real steps of the batches ``D_k`` of the pairs ``held``, ``[N, B, q]`` (float64)."""
    features = trace.features[held][trace.valid_mask()[held]]  # [B, N, q]
    return np.moveaxis(features.astype(np.float64), 1, 0)


def reward_correlations(features: np.ndarray, true_weights: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``ρ_i`` per agent ``[N]`` for features ``[N, B, q]`` and weights ``[N, q]`` (module docstring)."""
    correlations = []
    for agent, (phi, truth, estimate) in enumerate(zip(features, true_weights, weights)):
        true_reward, reward = phi @ truth, phi @ estimate
        if np.ptp(true_reward) == 0 or np.ptp(reward) == 0:
            raise ValueError(f"agent {agent}'s true or recovered reward is constant on the held-out batches: "
                             "no correlation")
        correlations.append(pearson_correlation(true_reward, reward, np.ones(len(phi))))
    return np.array(correlations)


def feature_correlation_matrix(features: np.ndarray) -> np.ndarray:
    """The features' Pearson correlations ``[q, q]`` on the held-out steps, averaged over agents (``nan`` where a
    feature is constant for an agent)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.mean([np.corrcoef(phi, rowvar=False) for phi in features], axis=0)


def with_reward_correlations(metrics: dict, features: np.ndarray) -> dict:
    """One seed's inverse metrics with ``reward_correlation`` (mean over agents) and
    ``reward_correlation_per_agent`` added to every method that recovered weights."""
    truth = np.asarray(metrics["true_weights"], dtype=np.float64)
    methods = {}
    for key, method in metrics["methods"].items():
        if "weights" in method:
            per_agent = reward_correlations(features, truth, np.asarray(method["weights"], dtype=np.float64))
            method = {**method, "reward_correlation": float(per_agent.mean()),
                      "reward_correlation_per_agent": per_agent.tolist()}
        methods[key] = method
    return {**metrics, "methods": methods}


def most_correlated_features(matrices: list[np.ndarray], feature_names: list[str]) -> dict:
    """The pair of distinct features whose correlation (mean over seeds of ``matrices``, each ``[q, q]``) is
    largest in size: ``{"features": [a, b], "correlation": mean and 95% CI over seeds}``."""
    mean = np.mean(matrices, axis=0)
    off_diagonal = np.where(np.eye(len(mean), dtype=bool) | np.isnan(mean), -np.inf, np.abs(mean))
    first, second = np.unravel_index(np.argmax(off_diagonal), mean.shape)
    assert np.isfinite(off_diagonal[first, second]), "no two features vary on the held-out batches"
    return {"features": [feature_names[first], feature_names[second]],
            "correlation": bootstrap_ci([float(matrix[first, second]) for matrix in matrices])}


def held_out_reward_agreement(inverse_metrics: list[dict], trace_paths: list[str | Path],
                              settings: dict) -> tuple[list[dict], dict]:
    """Every seed's inverse metrics with their reward correlations (:func:`with_reward_correlations`) on the
    held-out batches of its trace (``trace_paths`` in the same seed order; ``settings`` the task's
    ``inverse`` section), and the most correlated pair of features there (:func:`most_correlated_features`)."""
    with_correlations, matrices = [], []
    for metrics, path in zip(inverse_metrics, trace_paths, strict=True):
        trace = load_neural_trace(path)
        assert trace.metadata["seed"] == metrics["seed"], (
            f"{path} is seed {trace.metadata['seed']}, not {metrics['seed']}")
        held = held_out_pairs(trace.num_phases, settings["held_out_every"], settings["warm_up_fraction"])
        recorded = metrics.get("pairs", {}).get("held_out")
        assert recorded is None or recorded == held.tolist(), (
            f"seed {metrics['seed']}: held-out pairs {recorded} recorded, {held.tolist()} from the protocol")
        features = held_out_features(trace, held)
        with_correlations.append(with_reward_correlations(metrics, features))
        matrices.append(feature_correlation_matrix(features))
    return with_correlations, most_correlated_features(matrices, list(inverse_metrics[0]["feature_names"]))


SUMMARY_KEY = "held_out_feature_correlation"


def reading_numbers(prefix: str, summary: dict, methods: tuple[str, ...] = ("ilola", "ilogel", "ilola_gpomdp")
                    ) -> dict[str, float]:
    """The numbers a chapter's prose quotes: ``<prefix>_reward_correlation_<method>`` (mean over seeds) and
    ``<prefix>_feature_correlation``, the correlation of the most correlated pair of features (``summary`` holds
    :func:`held_out_reward_agreement`'s pair under :data:`SUMMARY_KEY`)."""
    quotes = {f"{prefix}_reward_correlation_{method}": ("methods", method, "reward_correlation") for method in methods}
    return quoted_means(summary, {**quotes, f"{prefix}_feature_correlation": (SUMMARY_KEY, "correlation")})


def correlated_features_markdown(summary: dict) -> str:
    """The most correlated pair of features, as Markdown code names: "`a` and `b`"."""
    first, second = summary[SUMMARY_KEY]["features"]
    return f"`{first}` and `{second}`"
