"""The held-out KL protocol of design §6 for any learner model.

Update pairs are split into fit and held-out pairs; every KL is measured on held-out pairs only:

* KL(1a): learner model with the true ``ω*`` (nuisance fitted on the fit pairs);
* KL(1b): learner model with the recovered ``ω̂`` and its fitted nuisance;
* KL(0): no update (``π^{k+1}`` predicted by ``π^k``);
* KL(rand): random unit ``ω`` per agent (nuisance fitted), mean over draws.
"""

from __future__ import annotations

import numpy as np

from ilola_lib.inverse.learner_models import NoUpdateModel
from ilola_lib.inverse.policy_fit import PolicyFit, fit_nuisance, held_out_kl


def kl_report(model, divergence, fit_pairs, held_pairs, true_omega: np.ndarray, recovered: PolicyFit,
              no_update_logits, rng: np.random.Generator, random_draws: int) -> dict[str, float]:
    """KL(1a), KL(1b), KL(0) and KL(rand) on ``held_pairs`` (see module docstring)."""
    fit_model, fit_divergence = model.subset(fit_pairs), divergence.subset(fit_pairs)
    held_model, held_divergence = model.subset(held_pairs), divergence.subset(held_pairs)

    def nuisance_fitted_kl(omega: np.ndarray) -> float:
        fitted = fit_nuisance(fit_model, fit_divergence, omega, recovered.nuisance)
        return held_out_kl(held_model, held_divergence, fitted)

    num_agents, q = true_omega.shape
    random_kls = []
    for _ in range(random_draws):
        draw = rng.standard_normal((num_agents, q))
        random_kls.append(nuisance_fitted_kl(draw / np.linalg.norm(draw, axis=-1, keepdims=True)))
    no_update = PolicyFit(true_omega, np.zeros(0), np.nan)
    return {
        "kl_1a": nuisance_fitted_kl(true_omega),
        "kl_1b": held_out_kl(held_model, held_divergence, recovered),
        "kl_0": held_out_kl(NoUpdateModel(no_update_logits[held_pairs]), held_divergence, no_update),
        "kl_rand": float(np.mean(random_kls)),
    }
