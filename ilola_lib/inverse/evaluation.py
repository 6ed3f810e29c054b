"""The held-out KL protocol of design §6 for any learner model.

Update pairs are split into fit and held-out pairs; every KL is measured on held-out pairs only:

* KL(1a): learner model with the true ``ω*`` (nuisance fitted on the fit pairs);
* KL(1b): learner model with the recovered ``ω̂`` and its fitted nuisance;
* KL(0): no update (``π^{k+1}`` predicted by ``π^k``);
* KL(rand): random unit ``ω`` per agent (nuisance fitted), mean over draws.

KL(1a), KL(0) and KL(rand) depend only on the learner model, so methods sharing a model share them.
"""

from __future__ import annotations

import numpy as np

from ilola_lib.inverse.learner_models import NoUpdateModel
from ilola_lib.inverse.policy_fit import PolicyFit, fit_nuisance, held_out_kl


def random_unit_weights(rng: np.random.Generator, draws: int, num_agents: int, q: int) -> np.ndarray:
    """``[draws, N, q]`` with every ``ω_i`` uniform on the unit sphere."""
    weights = rng.standard_normal((draws, num_agents, q))
    return weights / np.linalg.norm(weights, axis=-1, keepdims=True)


def baseline_kls(model, divergence, fit_pairs, held_pairs, true_omega: np.ndarray, nuisance_init: np.ndarray,
                 no_update_logits, rng: np.random.Generator, random_draws: int,
                 max_iterations: int = 200) -> dict[str, float]:
    """KL(1a), KL(0) and KL(rand) on ``held_pairs`` for one learner model (nuisance fits: at most
    ``max_iterations`` L-BFGS iterations)."""
    fit_model, fit_divergence = model.subset(fit_pairs), divergence.subset(fit_pairs)
    held_model, held_divergence = model.subset(held_pairs), divergence.subset(held_pairs)
    truth = fit_nuisance(fit_model, fit_divergence, true_omega, nuisance_init, max_iterations=max_iterations)
    draws = random_unit_weights(rng, random_draws, *true_omega.shape)
    random_fits = fit_nuisance(fit_model, fit_divergence, draws, nuisance_init, max_iterations=max_iterations)
    no_update = PolicyFit(true_omega, np.zeros(0), np.nan)
    return {
        "kl_1a": held_out_kl(held_model, held_divergence, truth),
        "kl_0": held_out_kl(NoUpdateModel(no_update_logits[held_pairs]), held_divergence, no_update),
        "kl_rand": float(np.mean([held_out_kl(held_model, held_divergence, f) for f in random_fits])),
    }


def recovered_kl(model, divergence, held_pairs, recovered: PolicyFit) -> dict[str, float]:
    """KL(1b): the recovered ``(ω̂, ν̂)`` on ``held_pairs``."""
    return {"kl_1b": held_out_kl(model.subset(held_pairs), divergence.subset(held_pairs), recovered)}
