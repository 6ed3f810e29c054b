"""I-LOGEL (Stage A), I-LOLA (Stage B) and its η = 0 ablation on one learning trace, with held-out KLs.

Shared by every task: the trace enters as update pairs ``k → k+1`` — parameters before and after,
``θ^k`` and ``θ^{k+1}`` ``[K, N, d]`` —, the tensors ``Ψ_ii`` ``[K, N, d, q]`` and ``T``
``[K, N, N, d, q, q]`` at ``θ^k`` (exact on T1, estimated from the batches on T2/T3) and a policy-space
divergence over the same pairs. ``fit_pairs`` and ``held_pairs`` index these ``K`` pairs.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from ilola_lib.inverse.evaluation import baseline_kls, recovered_kl
from ilola_lib.inverse.learner_models import GradientLearnerModel
from ilola_lib.inverse.policy_fit import fit_nuisance, fit_weights_and_nuisance
from ilola_lib.inverse.stage_a import fit_logel


def fit_gradient_methods(theta: torch.Tensor, next_theta: torch.Tensor, jacobians: torch.Tensor,
                         lola: torch.Tensor, divergence,
                         fit_pairs, held_pairs, true_weights: np.ndarray, recovery: Callable[[np.ndarray], dict],
                         rng: np.random.Generator, settings: dict, seed: int,
                         monte_carlo=None) -> dict[str, dict]:
    """Metrics of ``ilogel``, ``ilola`` and ``ilola_eta0``.

    Stage A fits ``Δθ`` on the fit pairs (design §5.2); its ``ω̂`` starts Stage B, which fits in policy
    space with CMA-ES (design §5.3); the η = 0 fit is also a start of the LOLA fit, which contains it.
    ``recovery(ω̂)`` scores recovered weights (cosine, EPIC, …). A ``monte_carlo`` divergence (T3) adds
    Monte-Carlo estimates of every held-out KL (:mod:`ilola_lib.inverse.evaluation`).
    """
    deltas = (next_theta - theta).numpy()
    naive = GradientLearnerModel(theta, jacobians, coupled=False)
    coupled = GradientLearnerModel(theta, jacobians, lola, coupled=True)
    draws, iterations = settings["random_draws"], settings["lbfgs_iterations"]

    stage_a = [fit_logel(deltas[fit_pairs, i], jacobians[fit_pairs, i].numpy(), rng, settings["logel_restarts"])
               for i in range(theta.shape[1])]
    omega_a = np.array([omega for omega, _, _ in stage_a])
    log_alpha_a = np.log([np.median(steps[steps > 0]) if (steps > 0).any() else 1.0 for _, steps, _ in stage_a])
    fit_a = fit_nuisance(naive.subset(fit_pairs), divergence.subset(fit_pairs), omega_a, log_alpha_a,
                         max_iterations=iterations)

    baselines = {False: baseline_kls(naive, divergence, fit_pairs, held_pairs, true_weights, fit_a.nuisance,
                                     theta, rng, draws, iterations, monte_carlo)}
    results = {"ilogel": {**baselines[False], **recovered_kl(naive, divergence, held_pairs, fit_a, monte_carlo),
                          **recovery(omega_a)}}
    fits = {}
    for key, model, nuisance_init, nested in (
        ("ilola_eta0", naive, fit_a.nuisance, None),
        ("ilola", coupled, np.append(fit_a.nuisance, np.log(settings["eta_init"])), "ilola_eta0"),
    ):
        fitted = fit_weights_and_nuisance(model.subset(fit_pairs), divergence.subset(fit_pairs), omega_a,
                                          nuisance_init, seed, settings["cma_generations"],
                                          settings["cma_popsize"], settings["cma_sigma"], iterations,
                                          nested=fits.get(nested), restarts=settings["cma_restarts"])
        fits[key] = fitted
        if model.coupled not in baselines:
            baselines[model.coupled] = baseline_kls(model, divergence, fit_pairs, held_pairs, true_weights,
                                                    fitted.nuisance, theta, rng, draws, iterations, monte_carlo)
        results[key] = {**baselines[model.coupled], **recovered_kl(model, divergence, held_pairs, fitted, monte_carlo),
                        **recovery(fitted.omega), "fit_loss": fitted.loss, "cma_fit_loss": fitted.cma_loss}
        if model.coupled:
            results[key]["eta"] = float(np.exp(fitted.nuisance[-1]))
    return results
