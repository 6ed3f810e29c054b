"""The held-out KL protocol of design §6 for any learner model.

Update pairs are split into fit and held-out pairs; every KL is measured on held-out pairs only:

* KL(1a): learner model with the true ``ω*`` (nuisance fitted on the fit pairs);
* KL(1b): learner model with the recovered ``ω̂`` and its fitted nuisance;
* KL(0): no update (``π^{k+1}`` predicted by ``π^k``);
* KL(rand): random unit ``ω`` per agent (nuisance fitted), mean over draws.

KL(1a), KL(0) and KL(rand) depend only on the learner model, so methods sharing a model share them.
Given a ``monte_carlo`` divergence (T3's Gaussian policies), every KL also gets its Monte-Carlo estimate
``<key>_mc`` and standard error ``<key>_mc_se`` on the same predictions.
"""

from __future__ import annotations

import numpy as np
import torch

from ilola_lib.inverse.learner_models import NoUpdateModel
from ilola_lib.inverse.policy_fit import PolicyFit, fit_nuisance, held_out_kl


def random_unit_weights(rng: np.random.Generator, draws: int, num_agents: int, q: int) -> np.ndarray:
    """``[draws, N, q]`` with every ``ω_i`` uniform on the unit sphere."""
    weights = rng.standard_normal((draws, num_agents, q))
    return weights / np.linalg.norm(weights, axis=-1, keepdims=True)


def monte_carlo_kl(held_model, monte_carlo, fit: PolicyFit) -> tuple[float, float]:
    """Monte-Carlo KL of a fitted ``(ω, ν)`` on the held-out pairs and its standard error."""
    with torch.no_grad():
        omega, nuisance = (torch.as_tensor(np.asarray(x), dtype=torch.float64)[None] for x in (fit.omega, fit.nuisance))
        predicted = held_model.predict(omega, nuisance)
        mean, standard_error = monte_carlo.mean_and_standard_error(predicted)
        return float(mean[0]), float(standard_error[0])


def held_out_kls(key: str, held_model, held_divergence, fits: list[PolicyFit], monte_carlo) -> dict[str, float]:
    """``key`` (mean over ``fits`` of the held-out KL) and, with ``monte_carlo``, ``key_mc`` and ``key_mc_se``.

    The standard error of a mean over several fits is the mean of their standard errors (an upper bound:
    the fits share the Monte-Carlo samples)."""
    values = {key: float(np.mean([held_out_kl(held_model, held_divergence, f) for f in fits]))}
    if monte_carlo is not None:
        estimates = np.array([monte_carlo_kl(held_model, monte_carlo, f) for f in fits])
        values[f"{key}_mc"], values[f"{key}_mc_se"] = (float(v) for v in estimates.mean(0))
    return values


def baseline_kls(model, divergence, fit_pairs, held_pairs, true_omega: np.ndarray, nuisance_init: np.ndarray,
                 no_update_logits, rng: np.random.Generator, random_draws: int,
                 max_iterations: int = 200, monte_carlo=None) -> dict[str, float]:
    """KL(1a), KL(0) and KL(rand) on ``held_pairs`` for one learner model (nuisance fits: at most
    ``max_iterations`` L-BFGS iterations); ``monte_carlo`` (a divergence over the same pairs) adds the
    Monte-Carlo estimates."""
    fit_model, fit_divergence = model.subset(fit_pairs), divergence.subset(fit_pairs)
    held_model, held_divergence = model.subset(held_pairs), divergence.subset(held_pairs)
    truth = fit_nuisance(fit_model, fit_divergence, true_omega, nuisance_init, max_iterations=max_iterations)
    draws = random_unit_weights(rng, random_draws, *true_omega.shape)
    random_fits = fit_nuisance(fit_model, fit_divergence, draws, nuisance_init, max_iterations=max_iterations)
    no_update = PolicyFit(true_omega, np.zeros(0), np.nan)
    held_monte_carlo = None if monte_carlo is None else monte_carlo.subset(held_pairs)
    return {
        **held_out_kls("kl_1a", held_model, held_divergence, [truth], held_monte_carlo),
        **held_out_kls("kl_0", NoUpdateModel(no_update_logits[held_pairs]), held_divergence, [no_update],
                        held_monte_carlo),
        **held_out_kls("kl_rand", held_model, held_divergence, random_fits, held_monte_carlo),
    }


def recovered_kl(model, divergence, held_pairs, recovered: PolicyFit, monte_carlo=None) -> dict[str, float]:
    """KL(1b): the recovered ``(ω̂, ν̂)`` on ``held_pairs`` (and its Monte-Carlo estimate, see
    :func:`baseline_kls`)."""
    return held_out_kls("kl_1b", model.subset(held_pairs), divergence.subset(held_pairs), [recovered],
                         None if monte_carlo is None else monte_carlo.subset(held_pairs))
