"""Would a validation split of the fit pairs keep Stage B from falling below Stage A on T3?

For each seed: the committed weights of Stage A (``ilogel``), Stage B (``ilola``, ``ilola_eta0``) and the true
weights are each replayed along the trace (the PPO replay learner model), their step scales fitted on the
committed fit pairs, and scored by KL on (a) the held-out pairs and (b) the *unused* fit pairs — those the
``fit_pair_stride`` budget skipped, which no fit has seen and which a validation rule would use. If Stage A
scores lower on (b) than Stage B, selection on a validation split would return Stage A's direction; if not,
the data prefer Stage B's direction and only a prior (regularisation toward Stage A) could move it.

Usage: ``python benchmarks/diag_stage_b_validation.py [seed ...]`` (default: every T3 seed; ≈ 5 min per seed
on 2 cores). Prints one row per seed and weights.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from ilola_lib.core.io import read_json
from ilola_lib.core.metrics import cosine, explained_fraction
from ilola_lib.core.neural_trace import load_neural_trace
from ilola_lib.inverse.learner_models import NoUpdateModel, ReplayStepModel
from ilola_lib.inverse.policy_fit import PolicyFit
from ilola_lib.inverse.replay_methods import HeldOutScorer, fit_at, observer_replay
from ilola_lib.inverse.replay_model import replay_along_trace
from ilola_lib.inverse.trace_inversion import network_divergence
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t3.invert import trace_analysis

METHODS = ("ilogel", "ilola_eta0", "ilola")


def diagnose(config: dict, seed: int) -> list[dict]:
    settings = {**config["inverse"], "fit_pair_stride": 1}
    committed = read_json(f"results/t3/inverse/seed_{seed}.json")
    trace = load_neural_trace(f"data/t3/traces/seed_{seed}.npz")
    analysis = trace_analysis(trace, settings, seed)
    used = np.isin(analysis.pairs[analysis.fit], committed["pairs"]["fit"])
    fit, validation = analysis.fit[used], analysis.fit[~used]
    assert np.array_equal(analysis.pairs[analysis.held], committed["pairs"]["held_out"]), "held-out pairs differ"
    divergence = network_divergence(trace, analysis.templates, analysis.sample)
    _, replay = observer_replay(trace, analysis.templates, seed)
    weights = {"true": analysis.truth, **{m: np.array(committed["methods"][m]["weights"]) for m in METHODS}}
    replayed = replay_along_trace(replay, torch.as_tensor(np.stack(list(weights.values()))))
    theta = torch.as_tensor(trace.actor_params[analysis.pairs], dtype=torch.float64)
    splits = {"held": HeldOutScorer(divergence, analysis.held), "validation": HeldOutScorer(divergence, validation)}
    kl_0 = {split: score("kl_0", NoUpdateModel(theta), [PolicyFit(analysis.truth, np.zeros(0), np.nan)])["kl_0"]
            for split, score in splits.items()}
    rows = []
    for index, (name, omega) in enumerate(weights.items()):
        model = ReplayStepModel(theta, replayed.steps[index][analysis.pairs])
        fitted = fit_at(model, divergence, fit, omega, config["inverse"]["lbfgs_iterations"])
        row = {"seed": seed, "weights": name, "cosine": float(cosine(omega, analysis.truth).mean())}
        for split, score in splits.items():
            kl = score("kl", model, [fitted])["kl"]
            row[f"kl_{split}"], row[f"ef_{split}"] = kl, explained_fraction(kl, kl_0[split])
        rows.append(row)
    return rows


def main(seeds: list[int]) -> None:
    config = load_params("params.yaml")["t3"]
    torch.set_num_threads(1)  # as the invert stage (single_threaded_torch): threads oversubscribe 2 cores
    print("| seed | weights | cosine to ω* | KL held-out | EF held-out | KL unused fit pairs | EF unused fit pairs |")
    print("|---|---|---|---|---|---|---|")
    for seed in seeds or config["seeds"]:
        for r in diagnose(config, seed):
            print(f"| {r['seed']} | {r['weights']} | {r['cosine']:.3f} | {r['kl_held']:.5f} | {r['ef_held']:.3f} | "
                  f"{r['kl_validation']:.5f} | {r['ef_validation']:.3f} |", flush=True)


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]])
