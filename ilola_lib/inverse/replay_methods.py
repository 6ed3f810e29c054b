"""I-LOGEL, I-LOLA and its η = 0 ablation on the PPO replay learner model, with held-out KLs (design §5.4).

The observer trains its shadow critic along the trace (:mod:`ilola_lib.inverse.shadow_critic`) and replays the
learners' PPO updates on ``A(ω) = A^φ ω`` (:mod:`ilola_lib.inverse.replay_model`). Per method:

* ``ilogel`` — Stage A: LOGEL (design §5.2) on the first-step surrogate Jacobians ``Ψ̃`` preconditioned by the
  replay's Adam scale, ``Δθ^k ≈ α^k P^k ⊙ Ψ̃^k ω``; its learner model is that linear model.
* ``ilola_eta0`` — Stage B on the replay: ``θ̂^{k+1} = θ^k + c_i Δθ_i^k(ω)``, ``Δθ(ω)`` linearised around the current
  estimate (CMA-ES + L-BFGS on the linearisation), re-linearised at the new estimate ``replay_linearisations``
  times; the last linearisation point is the estimate, where the model is the exact replay.
* ``ilola`` — the same plus the LOLA coupling ``η c_i P^k ⊙ Σ_j Σ_mn ω_im ω_jn T_ij^{mn}`` (the GPOMDP ``T`` of
  design §5.3, preconditioned like the replay's own steps); the η = 0 fit is nested in it.

Every KL is held out; KL(1a) and KL(rand) replay the update with ``ω*`` and with random ``ω`` (each candidate
carrying its own Adam moments), their step scale ``c`` fitted on the fit pairs. For learners that are coupled
(LOLA-PPO), I-LOLA's KL(1a) and KL(rand) add its coupling at the same ``ω``, with ``η`` fitted beside ``c`` (the
ladder's ``replay_coupled``). ``learner_models`` reports KL(1a) and EF(1a) = 1 − KL(1a)/KL(0) of each learner
model, the ladder of what each ingredient explains.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ilola_lib.core.metrics import FIT_RELATIVE_TOLERANCE, explained_fraction
from ilola_lib.core.neural_trace import NeuralTrace
from ilola_lib.core.seeds import stream_torch_generator
from ilola_lib.inverse.evaluation import held_out_kls, random_unit_weights
from ilola_lib.inverse.learner_models import GradientLearnerModel, NoUpdateModel, ReplayStepModel
from ilola_lib.inverse.policy_fit import PolicyFit, fit_nuisance, fit_weights_and_nuisance, held_out_kl
from ilola_lib.inverse.replay_model import (
    ReplayTrace,
    exact_point,
    finite_difference_candidates,
    linearise,
    replay_along_trace,
    surrogate_jacobians,
)
from ilola_lib.inverse.shadow_critic import CriticSettings, FeatureAdvantages, shadow_feature_advantages
from ilola_lib.inverse.stage_a import fit_logel

FINITE_DIFFERENCE_STEP = 0.05  # on unit weights; small against the curvature of the replay in ω


def coupled_directions(lola: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """``Σ_j Σ_mn ω_im ω_jn T_ij^{mn}`` ``[K, N, d]`` for unit ``ω [N, q]`` and ``T [K, N, N, d, q, q]``."""
    return torch.einsum("kijdmn,im,jn->kid", lola, omega, omega)


def learners_coupled(trace: NeuralTrace) -> bool:
    """Whether the learners added a LOLA correction to their updates (``lola_eta > 0`` in their config): ground
    truth like ``ω*``, used to score, never to fit."""
    return float(trace.metadata["config"].get("lola_eta", 0.0)) > 0.0


def fit_at(model, divergence, fit_pairs, omega: np.ndarray, iterations: int,
           start: np.ndarray | None = None) -> PolicyFit:
    """``model``'s nuisance (step scales, and η if coupled) fitted on the fit pairs at fixed ``ω`` ``[N, q]``,
    started at ``start`` (zeros if not given)."""
    start = np.zeros(model.nuisance_dim) if start is None else start
    return fit_nuisance(model.subset(fit_pairs), divergence.subset(fit_pairs), omega, start, max_iterations=iterations)


class HeldOutScorer:
    """Held-out KLs of fitted models (and their Monte-Carlo estimates, given a ``monte_carlo`` divergence)."""

    def __init__(self, divergence, held_pairs, monte_carlo=None):
        self.divergence, self.held = divergence.subset(held_pairs), held_pairs
        self.monte_carlo = None if monte_carlo is None else monte_carlo.subset(held_pairs)

    def __call__(self, key: str, model, fits: list[PolicyFit]) -> dict[str, float]:
        return held_out_kls(key, model.subset(self.held), self.divergence, fits, self.monte_carlo)


def _linear_model(theta, linearisation, lola, coupled: bool, pairs) -> GradientLearnerModel:
    """The linearised replay (plus the preconditioned coupling) on the analysed ``pairs``."""
    preconditioned = None
    if coupled:
        preconditioned = lola * linearisation.preconditioners[pairs].to(lola.dtype)[:, :, None, :, None, None]
    return GradientLearnerModel(theta, linearisation.jacobians[pairs], preconditioned, coupled,
                                linearisation.offset[pairs])


def observer_replay(trace: NeuralTrace, templates: list, seed: int) -> tuple[FeatureAdvantages, ReplayTrace]:
    """The observer's shadow critic trained along the trace and the replay it feeds, each from the seed's own
    stream (``shadow_critic``, ``replay_minibatches``): what every replay of this trace shares."""
    shadow = shadow_feature_advantages(trace, CriticSettings.from_config(trace.metadata["config"]),
                                       stream_torch_generator(seed, "shadow_critic"))
    return shadow, ReplayTrace.of(trace, templates, shadow, stream_torch_generator(seed, "replay_minibatches"))


def fit_replay_methods(trace: NeuralTrace, analysis, divergence, lola: torch.Tensor, settings: dict, seed: int,
                       recovery, monte_carlo=None, validation: ValidationSet | None = None) -> tuple[dict, dict, dict]:
    """Metrics of ``ilogel``, ``ilola_eta0`` and ``ilola`` on the replay model, the learner-model ladder and the
    seconds each part took. ``lola`` is ``T`` ``[P, N, N, d, q, q]`` on ``analysis.pairs``; a ``monte_carlo``
    divergence over the same pairs adds Monte-Carlo estimates of every KL; a ``validation`` set makes Stage B
    select its estimate on it (:func:`_stage_b`; metrics ``stage_b_selection``)."""
    seconds, start = {}, time.perf_counter()
    shadow, replay = observer_replay(trace, analysis.templates, seed)
    seconds["shadow_critic"] = time.perf_counter() - start

    pairs, fit, held, truth = analysis.pairs, analysis.fit, analysis.held, analysis.truth
    iterations, num_agents = settings["lbfgs_iterations"], trace.num_agents
    score = HeldOutScorer(divergence, held, monte_carlo)
    theta = torch.as_tensor(trace.actor_params[pairs], dtype=torch.float64)
    deltas = (torch.as_tensor(trace.actor_params[pairs + 1], dtype=torch.float64) - theta).numpy()
    no_update = score("kl_0", NoUpdateModel(theta), [PolicyFit(truth, np.zeros(0), np.nan)])

    start = time.perf_counter()
    surrogate = surrogate_jacobians(replay, pairs)
    omega_surrogate = _stage_a(deltas, surrogate, fit, analysis.rng, settings)
    draws = random_unit_weights(analysis.rng, settings["random_draws"], *truth.shape)
    candidates = finite_difference_candidates(omega_surrogate, FINITE_DIFFERENCE_STEP)
    replayed = replay_along_trace(replay, torch.as_tensor(np.concatenate([candidates, truth[None], draws])))
    seconds["replay_pass_1"] = time.perf_counter() - start

    start = time.perf_counter()
    linearisation = linearise(replayed, candidates)
    preconditioned = surrogate * linearisation.preconditioners[pairs].to(torch.float64)[..., None]
    replay_steps = replayed.steps[:, pairs]
    truth_replay = ReplayStepModel(theta, replay_steps[len(candidates)])
    random_replays = [ReplayStepModel(theta, replay_steps[len(candidates) + 1 + r]) for r in range(len(draws))]
    replay_baselines = {
        **no_update,
        **score("kl_1a", truth_replay, [fit_at(truth_replay, divergence, fit, truth, iterations)]),
        **_mean_of([score("kl_rand", m, [fit_at(m, divergence, fit, w, iterations)])
                    for m, w in zip(random_replays, draws)]),
    }
    ladder = {"replay": {"kl_1a": replay_baselines["kl_1a"]}}
    coupled_baselines = {}
    if learners_coupled(trace):
        coupled_baselines = _coupled_replay_baselines(score, replayed, theta, lola, divergence, pairs, fit, truth,
                                                      draws, len(candidates), iterations)
        ladder["replay_coupled"] = {"kl_1a": coupled_baselines["kl_1a"]}
    for name, jacobians in (("surrogate", surrogate), ("surrogate_adam", preconditioned)):
        model = GradientLearnerModel(theta, jacobians)
        ladder[name] = {"kl_1a": score("kl_1a", model, [fit_at(model, divergence, fit, truth, iterations)])["kl_1a"]}

    omega_a = _stage_a(deltas, preconditioned, fit, analysis.rng, settings)
    naive_a = GradientLearnerModel(theta, preconditioned)
    random_fits = fit_nuisance(naive_a.subset(fit), divergence.subset(fit), draws, np.zeros(num_agents),
                               max_iterations=iterations)
    results = {"ilogel": {
        **no_update,
        **score("kl_1a", naive_a, [fit_at(naive_a, divergence, fit, truth, iterations)]),
        **score("kl_rand", naive_a, random_fits),
        **score("kl_1b", naive_a, [fit_at(naive_a, divergence, fit, omega_a, iterations)]),
        **recovery(omega_a)}}
    seconds["stage_a"] = time.perf_counter() - start

    start = time.perf_counter()
    fits, models, selections = _stage_b(replay, theta, lola, linearisation, omega_a, divergence, pairs, fit, settings,
                                        seed, validation)
    seconds["stage_b"] = time.perf_counter() - start
    for key in STAGE_B_KEYS:
        results[key] = {**replay_baselines, **score("kl_1b", models[key], [fits[key]]), **recovery(fits[key].omega),
                        "fit_loss": fits[key].loss, "step_scale": np.exp(fits[key].nuisance[:num_agents]).tolist()}
    for key, selection in selections.items():
        results[key]["stage_b_selection"] = selection
    results["ilola"].update(coupled_baselines)
    results["ilola"]["eta"] = float(np.exp(fits["ilola"].nuisance[-1]))
    kl_0 = no_update["kl_0"]
    for entry in ladder.values():
        entry["ef_1a"] = explained_fraction(entry["kl_1a"], kl_0)
    ladder["shadow_critic_explained_variance"] = float(np.mean(shadow.explained_variance))
    return results, ladder, seconds


STAGE_B_KEYS = ("ilola_eta0", "ilola")


@dataclass
class ValidationSet:
    """Stage B's validation pairs (update indices ``[V]``, see :func:`ilola_lib.core.protocol.validation_pairs`):
    ``θ^k`` on them ``[V, N, d]``, the divergence on their sampled states and the LOLA ``T`` ``[V, N, N, d, q, q]``."""

    pairs: np.ndarray
    theta: torch.Tensor
    divergence: object
    lola: torch.Tensor


def select_on_validation(validation_kls: dict[str, float]) -> str:
    """The candidate with the lowest validation KL (the first listed on a tie)."""
    return min(validation_kls, key=validation_kls.__getitem__)


def _stage_b(replay, theta, lola, linearisation, omega_a, divergence, pairs, fit, settings, seed,
             validation: ValidationSet | None = None):
    """Stage B on the linearised replay, re-linearised at each new estimate; the last round fits the nuisance
    only, at the last linearisation point (where the linearisation is the exact replay). Returns the fits and
    the models they were fitted on, by key, and the selections (empty without ``validation``).

    With a ``validation`` set (early stopping, the Stage A fallback), Stage A's ``ω`` is replayed exactly beside
    the first re-linearisation; every exact point — Stage A's and each round's linearisation point — gets its
    nuisance fitted on the fit pairs (from neutral step scales; ``ilola`` from the ``η = 0`` fit at that point
    with Stage B's ``η``), and each key keeps the one with the lowest KL on the validation pairs."""
    iterations, num_agents = settings["lbfgs_iterations"], theta.shape[1]
    log_eta = float(np.log(_comparable_eta(linearisation, lola, pairs, fit)))
    linearisations = dict.fromkeys(STAGE_B_KEYS, linearisation)
    starts = {"ilola_eta0": np.zeros(num_agents), "ilola": np.append(np.zeros(num_agents), log_eta)}
    omegas = dict.fromkeys(STAGE_B_KEYS, omega_a)
    fits, models, points, stage_a_point = {}, {}, {key: [] for key in STAGE_B_KEYS}, None
    rounds = settings["replay_linearisations"]
    for round_ in range(rounds + 1):
        for key in STAGE_B_KEYS:
            coupled = key == "ilola"
            model = _linear_model(theta, linearisations[key], lola, coupled, pairs)
            fit_model, fit_divergence = model.subset(fit), divergence.subset(fit)
            if round_ == rounds:
                fits[key] = fit_nuisance(fit_model, fit_divergence, linearisations[key].omega, starts[key],
                                         max_iterations=iterations)
            else:
                fits[key] = fit_weights_and_nuisance(fit_model, fit_divergence, omegas[key], starts[key], seed,
                                                     settings["cma_generations"], settings["cma_popsize"],
                                                     settings["cma_sigma"], iterations,
                                                     nested=fits.get("ilola_eta0") if coupled else None,
                                                     restarts=settings["cma_restarts"])
            models[key], omegas[key], starts[key] = model, fits[key].omega, fits[key].nuisance
        if round_ < rounds:
            population = [finite_difference_candidates(omegas[key], FINITE_DIFFERENCE_STEP) for key in STAGE_B_KEYS]
            with_stage_a = validation is not None and round_ == 0
            replayed = replay_along_trace(replay, torch.as_tensor(np.concatenate(
                population + ([omega_a[None]] if with_stage_a else []))))
            linearisations = {key: linearise(replayed, population[index], first=index * len(population[0]))
                              for index, key in enumerate(STAGE_B_KEYS)}
            if with_stage_a:
                stage_a_point = exact_point(replayed, len(STAGE_B_KEYS) * len(population[0]), omega_a)
            for key in STAGE_B_KEYS:
                points[key].append(linearisations[key])
    if validation is None:
        return fits, models, {}
    assert stage_a_point is not None, "the validation selection needs replay_linearisations ≥ 1"
    uncoupled_fits = {}

    def fit_at_point(point, coupled: bool) -> PolicyFit:
        # Stage B's own nuisance is no start at another ω (a step scale it drove to ~0 stays there), so each point
        # is fitted from neutral step scales, and I-LOLA from the η = 0 fit there (nested, as in Stage B).
        if id(point) not in uncoupled_fits:
            uncoupled_fits[id(point)] = fit_at(_linear_model(theta, point, lola, False, pairs), divergence, fit,
                                               point.omega, iterations)
        uncoupled = uncoupled_fits[id(point)]
        if not coupled:
            return uncoupled
        nested = fit_at(_linear_model(theta, point, lola, True, pairs), divergence, fit, point.omega, iterations,
                        np.append(uncoupled.nuisance, starts["ilola"][-1]))
        assert nested.loss <= uncoupled.loss * (1 + FIT_RELATIVE_TOLERANCE) + 1e-12, (
            f"I-LOLA's fit ({nested.loss}) must not be worse than its η = 0 start ({uncoupled.loss})")
        return nested

    selections = {}
    for key in STAGE_B_KEYS:
        coupled = key == "ilola"
        named = {"stage_a": stage_a_point, **{f"stage_b_round_{r + 1}": p for r, p in enumerate(points[key])}}
        candidates, validation_kls = {}, {}
        for name, point in named.items():
            fitted = fits[key] if point is linearisations[key] else fit_at_point(point, coupled)
            on_validation = _linear_model(validation.theta, point, validation.lola, coupled, validation.pairs)
            candidates[name], validation_kls[name] = fitted, held_out_kl(on_validation, validation.divergence, fitted)
        chosen = select_on_validation(validation_kls)
        fits[key] = candidates[chosen]
        if named[chosen] is not linearisations[key]:
            models[key] = _linear_model(theta, named[chosen], lola, coupled, pairs)
        selections[key] = {"validation_kl": validation_kls, "fit_loss": {n: c.loss for n, c in candidates.items()},
                           "selected": chosen}
    return fits, models, selections


def _coupled_replay_baselines(score, replayed, theta, lola, divergence, pairs, fit, truth, draws, first: int,
                              iterations: int) -> dict[str, float]:
    """KL(1a) and KL(rand) of I-LOLA's own learner model, the replay plus the coupling, for learners that are
    coupled: the exact replay of candidate ``first`` (``ω*``) and of each random draw after it, with the coupling at
    the same ``ω``; step scales and ``η`` fitted on the fit pairs (the learners' η is in their own units)."""
    def scored(key: str, index: int, omega: np.ndarray) -> dict[str, float]:
        point = exact_point(replayed, index, omega)
        model = _linear_model(theta, point, lola, True, pairs)
        start = np.append(np.zeros(theta.shape[1]), np.log(_comparable_eta(point, lola, pairs, fit)))
        return score(key, model, [fit_at(model, divergence, fit, omega, iterations, start)])

    # One draw at a time: each coupled model holds its own preconditioned copy of T.
    draws_scored = [scored("kl_rand", first + 1 + r, w) for r, w in enumerate(draws)]
    return {**scored("kl_1a", first, truth), **_mean_of(draws_scored)}


def _mean_of(values: list[dict[str, float]]) -> dict[str, float]:
    """Each entry averaged over the dicts of ``values`` (the KLs of the random draws)."""
    return {name: float(np.mean([v[name] for v in values])) for name in values[0]}


def _stage_a(deltas: np.ndarray, jacobians: torch.Tensor, fit, rng, settings) -> np.ndarray:
    """LOGEL per agent on the fit pairs: ``ω̂ [N, q]``."""
    return np.array([fit_logel(deltas[fit, i], jacobians[fit, i].numpy(), rng, settings["logel_restarts"])[0]
                     for i in range(deltas.shape[1])])


def _comparable_eta(linearisation, lola, pairs, fit) -> float:
    """``η`` at which the coupling and the replayed step have the same median size on the fit pairs."""
    omega = torch.as_tensor(linearisation.omega / np.linalg.norm(linearisation.omega, axis=-1, keepdims=True))
    coupling = coupled_directions(lola[fit], omega) * linearisation.preconditioners[pairs][fit].to(torch.float64)
    ratio = linearisation.steps[pairs][fit].norm(dim=-1) / coupling.norm(dim=-1).clamp_min(1e-300)
    return float(ratio.median())
