"""T1 end to end for one seed: learners → observer's traces → MA-LfL, I-LOGEL, I-LOLA → metrics.

Learners (design §4), all from the same random initial logits ``θ^0 ~ N(0, σ²)``:
MA-SPI (the task's learners), and, as matched-model sanity checks, exact naive policy-gradient
and exact first-order LOLA learners. The observer sees MA-SPI either through sampled episodes
(policies estimated from counts; method key ``ma_lfl``) or exactly (``*_exact`` and the gradient-based
methods, which also get the oracle parameters ``θ^k = centred log π^k``).
"""

from __future__ import annotations

import numpy as np
import torch

from ilola_lib.analysis.statistics import bootstrap_ci
from ilola_lib.analysis.summary import (
    KL_KEYS,
    aggregate_methods,
    format_number,
    format_threshold,
    markdown_rows,
    paired_method_differences,
)
from ilola_lib.analysis.targets import load_targets
from ilola_lib.core.metrics import cosine
from ilola_lib.core.parallel import run_jobs, single_threaded_torch
from ilola_lib.core.seeds import stream_rng
from ilola_lib.core.tabular_trace import TabularTrace
from ilola_lib.inverse.evaluation import baseline_kls, recovered_kl
from ilola_lib.inverse.gradient_methods import fit_gradient_methods
from ilola_lib.inverse.learner_models import SoftPolicyIterationModel
from ilola_lib.inverse.ma_lfl import fit_ma_lfl
from ilola_lib.inverse.policy_fit import TabularDivergence, fit_nuisance
from ilola_lib.core.protocol import split_pairs
from ilola_lib.tasks.t1.gradient import feature_jacobians, lola_tensors, run_gradient_learners
from ilola_lib.tasks.t1.gridworld import GridWorldGame, make_gridworld
from ilola_lib.tasks.t1.reward_distance import epic_distance
from ilola_lib.tasks.t1.sampling import estimate_policies, sample_episodes
from ilola_lib.tasks.t1.tabular import (
    DTYPE,
    GameTensors,
    feature_expectations,
    logits_from_policies,
    policies_from_logits,
    run_ma_spi,
    soft_q_parts,
    state_distribution,
)


def exact_trace(tensors: GameTensors, logits: torch.Tensor, learner: str) -> TabularTrace:
    """Oracle trace: exact policies, weights = normalised discounted occupancy of each ``π^k``."""
    policies = policies_from_logits(logits)
    weights = torch.stack([state_distribution(tensors, p) for p in policies])
    return TabularTrace(logits.numpy(), policies.numpy(), weights.numpy(), {"learner": learner, "observer": "exact"})


def sampled_trace(game: GridWorldGame, logits: torch.Tensor, episodes: int, horizon: int, smoothing: float,
                  rng: np.random.Generator, learner: str) -> TabularTrace:
    """Observer's trace from ``episodes`` sampled episodes per phase (count estimates, empirical weights)."""
    estimates, weights = [], []
    for policies in policies_from_logits(logits).numpy():
        states, actions = sample_episodes(game, policies, episodes, horizon, rng)
        estimate, frequency = estimate_policies(states, actions, game.num_states, game.num_actions, smoothing)
        estimates.append(estimate)
        weights.append(frequency)
    metadata = {"learner": learner, "observer": "sampled", "episodes": episodes, "horizon": horizon}
    return TabularTrace(logits.numpy(), np.array(estimates), np.array(weights), metadata)


def _divergence(trace: TabularTrace) -> TabularDivergence:
    return TabularDivergence(torch.as_tensor(trace.policies[1:]), torch.as_tensor(trace.state_weights[1:]))


def _flat_logits(array: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(array.reshape(*array.shape[:2], -1), dtype=DTYPE)


def recovery_scores(game: GridWorldGame, omega: np.ndarray) -> dict:
    """Mean cosine and EPIC distance to ``ω*`` over agents, and the per-agent unit weights."""
    unit = omega / np.linalg.norm(omega, axis=-1, keepdims=True)
    epic = [epic_distance(game, agent, omega[agent], game.true_weights[agent]) for agent in range(len(omega))]
    return {"cosine": float(cosine(omega, game.true_weights).mean()), "epic": float(np.mean(epic)),
            "weights": unit.tolist()}


def evaluate_ma_lfl(game: GridWorldGame, tensors: GameTensors, trace: TabularTrace, alpha: float,
                    fit_pairs, held_pairs, rng, random_draws: int) -> dict:
    """MA-LfL (design §5.1) and its held-out KLs under the MA-SPI learner model."""
    omega, potentials = fit_ma_lfl(game, trace.policies, trace.state_weights, fit_pairs, alpha)
    parts = [[soft_q_parts(tensors, torch.as_tensor(p), i, alpha) for i in range(2)] for p in trace.policies[:-1]]
    feature_q = torch.stack([torch.stack([f.reshape(-1, f.shape[-1]) for f, _ in row]) for row in parts])
    entropy_q = torch.stack([torch.stack([h.reshape(-1) for _, h in row]) for row in parts])
    model = SoftPolicyIterationModel(feature_q, entropy_q, alpha)
    divergence = _divergence(trace)
    scale_init = np.log(np.linalg.norm(omega, axis=-1))
    recovered = fit_nuisance(model.subset(fit_pairs), divergence.subset(fit_pairs), omega, scale_init)
    no_update = _flat_logits(np.log(trace.policies[:-1]))
    metrics = baseline_kls(model, divergence, fit_pairs, held_pairs, game.true_weights, recovered.nuisance,
                           no_update, rng, random_draws)
    metrics.update(recovered_kl(model, divergence, held_pairs, recovered))
    metrics.update(recovery_scores(game, omega))
    metrics["potential_last_fit_pair"] = potentials[:, -1].tolist()
    return metrics


def gradient_tensors(tensors: GameTensors, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact ``Ψ_ii^k [K, N, d, q]`` and ``T_ij^k [K, N, N, d, q, q]`` at ``θ^0 … θ^{K−1}``."""
    own, cross = [], []
    for theta in logits[:-1]:
        jacobians = feature_jacobians(tensors, theta)
        own.append(torch.stack([jacobians[i, i] for i in range(theta.shape[0])]))
        cross.append(lola_tensors(tensors, theta, jacobians))
    return torch.stack(own), torch.stack(cross)


def evaluate_gradient_methods(game: GridWorldGame, trace: TabularTrace, jacobians: torch.Tensor,
                              lola: torch.Tensor, fit_pairs, held_pairs, rng, settings: dict,
                              seed: int) -> dict[str, dict]:
    """I-LOGEL Stage A, I-LOLA Stage B and its η = 0 ablation on one exact T1 trace."""
    logits = _flat_logits(trace.logits)
    return fit_gradient_methods(logits[:-1], logits[1:], jacobians, lola, _divergence(trace), fit_pairs,
                                held_pairs, game.true_weights, lambda omega: recovery_scores(game, omega),
                                rng, settings, seed)


def true_returns(tensors: GameTensors, logits: torch.Tensor, weights: torch.Tensor) -> list[list[float]]:
    """Each agent's expected discounted true return ``ω_i*·ψ_i`` at every phase: ``[K+1][N]``."""
    return [[float(weights[i] @ feature_expectations(tensors, policies_from_logits(theta), i))
             for i in range(theta.shape[0])] for theta in logits]


def _game(config: dict) -> tuple[GridWorldGame, GameTensors]:
    game = make_gridworld(config["grid_size"], config["gamma"])
    return game, GameTensors(game)


def _analysis_task(config: dict, seed: int, task: int, kind: str, arrays: dict) -> dict[str, dict]:
    """One independent analysis of a seed (a process-pool job): MA-LfL on one trace, or Stage A/B on
    one learner. Single-threaded with its own random stream, so results do not depend on scheduling."""
    with single_threaded_torch():
        return _analyse(config, seed, task, kind, arrays)


def _analyse(config: dict, seed: int, task: int, kind: str, arrays: dict) -> dict[str, dict]:
    rng = stream_rng(seed, "t1_analysis", task)
    game, tensors = _game(config)
    fit_pairs, held_pairs = split_pairs(config["num_phases"], config["held_out_every"])
    trace = TabularTrace(arrays["logits"], arrays["policies"], arrays["state_weights"])
    settings = config["inverse"]
    if kind == "ma_lfl":
        return {arrays["key"]: evaluate_ma_lfl(game, tensors, trace, config["ma_spi"]["alpha"], fit_pairs,
                                               held_pairs, rng, settings["random_draws"])}
    jacobians, lola = gradient_tensors(tensors, torch.as_tensor(trace.logits))
    found = evaluate_gradient_methods(game, trace, jacobians, lola, fit_pairs, held_pairs, rng, settings, seed)
    suffix = arrays["suffix"]
    return {key + suffix: value for key, value in found.items() if not (suffix and key == "ilola_eta0")}


# The five independent analyses of a seed, most expensive first; job j ≥ 1 draws from stream ("t1_analysis", j).
ANALYSES = ("matched_lola", "matched_pg", "ma_spi", "ma_lfl", "ma_lfl_exact")


def run_seed(config: dict, seed: int, workers: int = 1, analyses: tuple[str, ...] = ANALYSES) -> dict:
    """T1 methods for one seed; returns the seed's metrics (JSON-able).

    The learners run here; the independent ``analyses`` (by default all five of :data:`ANALYSES`: Stage A/B
    on the LOLA, naive-gradient and MA-SPI learners, MA-LfL on sampled and exact traces) run on ``workers``
    processes. Metrics do not depend on ``workers`` nor on which other analyses run. Torch runs
    single-threaded: on these small tensors threads cost more than they give, and a fixed thread count keeps
    floating-point results identical.
    """
    with single_threaded_torch():
        return _run_seed(config, seed, workers, analyses)


def _run_seed(config: dict, seed: int, workers: int, analyses: tuple[str, ...] = ANALYSES) -> dict:
    game, tensors = _game(config)
    weights = torch.as_tensor(game.true_weights, dtype=DTYPE)
    num_phases, alpha = config["num_phases"], config["ma_spi"]["alpha"]
    fit_pairs, held_pairs = split_pairs(num_phases, config["held_out_every"])
    generator = torch.Generator().manual_seed(seed)
    initial = config["init_logit_std"] * torch.randn(2, game.num_states, game.num_actions, dtype=DTYPE,
                                                     generator=generator)
    matched = config["matched"]
    learners = {
        "ma_spi": logits_from_policies(run_ma_spi(tensors, weights, alpha, num_phases, initial)),
        "pg": run_gradient_learners(tensors, weights, matched["pg_learning_rate"], num_phases, initial),
        "lola": run_gradient_learners(tensors, weights, matched["lola_learning_rate"], num_phases, initial,
                                      eta=matched["lola_eta"]),
    }
    sampling = config["sampling"]
    spi_sampled = sampled_trace(game, learners["ma_spi"], sampling["episodes"], sampling["horizon"],
                                sampling["smoothing"], stream_rng(seed, "t1_observer_sampling"), "ma_spi")
    traces = {name: exact_trace(tensors, logits, name) for name, logits in learners.items()}

    def arrays(trace: TabularTrace, **extra) -> dict:
        return {"logits": trace.logits, "policies": trace.policies, "state_weights": trace.state_weights, **extra}

    jobs = dict(zip(ANALYSES, (
        ("gradient", arrays(traces["lola"], suffix="_matched_lola")),
        ("gradient", arrays(traces["pg"], suffix="_matched_pg")),
        ("gradient", arrays(traces["ma_spi"], suffix="")),
        ("ma_lfl", arrays(spi_sampled, key="ma_lfl")),
        ("ma_lfl", arrays(traces["ma_spi"], key="ma_lfl_exact")),
    )))
    learner_returns = {name: {"true_return": true_returns(tensors, logits, weights)}
                       for name, logits in learners.items()}
    results = run_jobs(_analysis_task, [(config, seed, task, *jobs[name]) for task, name in enumerate(ANALYSES, start=1)
                                        if name in analyses], workers)
    methods = {key: value for found in results for key, value in found.items()}
    return {
        "task": "t1",
        "seed": seed,
        "fit_pairs": fit_pairs.tolist(),
        "held_out_pairs": held_pairs.tolist(),
        "methods": {key: methods[key] for key in sorted(methods)},
        "learners": learner_returns,
    }


def summarize(seed_metrics: list[dict], profile: str) -> dict:
    """``results/t1/summary.json`` (design §9): metrics as mean and 95% bootstrap CI over seeds (no interval,
    ``"ci95": None``, with a single seed)."""
    learners = {}
    for name in seed_metrics[0]["learners"]:
        initial = [np.mean(m["learners"][name]["true_return"][0]) for m in seed_metrics]
        final = [np.mean(m["learners"][name]["true_return"][-1]) for m in seed_metrics]
        learners[name] = {"return_initial": bootstrap_ci(initial), "return_final": bootstrap_ci(final)}
    return {"task": "t1", "profile": profile, "seeds": [m["seed"] for m in seed_metrics],
            "learners": learners, "methods": aggregate_methods(seed_metrics),
            "paired_kl_1b": paired_method_differences(seed_metrics)}


def reward_panels(seed_metric: dict, config: dict, methods=("ma_lfl_exact", "ma_lfl"), agent: int = 0) -> dict:
    """``[n, n]`` maps over agent ``agent``'s cell with the other agent fixed on the grid's centre cell:
    the true reward and each method's recovered reward (``ω̂`` rescaled to ``‖ω*‖``) when both agents
    stay, and the last method's recovered shaping potential (last fit pair, mean removed)."""
    game = make_gridworld(config["grid_size"], config["gamma"])
    n = game.size
    row, col = _centre_cell(n)
    other_cell = row * n + col
    own_cells = np.arange(game.num_cells)
    states = own_cells * game.num_cells + other_cell if agent == 0 else other_cell * game.num_cells + own_cells
    truth = game.true_weights[agent]
    stay = game.features[agent, states, 0, 0]
    panels = {"true reward ω*·φ (both stay)": (stay @ truth).reshape(n, n)}
    for method in methods:
        recovered = np.array(seed_metric["methods"][method]["weights"][agent]) * np.linalg.norm(truth)
        panels[f"recovered ω̂·φ ({method})"] = (stay @ recovered).reshape(n, n)
    potential = np.array(seed_metric["methods"][methods[-1]]["potential_last_fit_pair"][agent])[states]
    panels[f"recovered potential g ({methods[-1]})"] = (potential - potential.mean()).reshape(n, n)
    return panels


def _centre_cell(size: int) -> tuple[int, int]:
    """``(row, col)`` of the cell where :func:`reward_panels` fixes the other agent: ``(n // 2, n // 2)``."""
    return size // 2, size // 2


def reward_panel_marks(config: dict, agent: int = 0) -> dict[str, tuple[int, int]]:
    """Cells to mark on :func:`reward_panels` maps of agent ``agent`` (legend label → ``(row, col)``, the
    ``marks`` of :func:`ilola_lib.analysis.plotting.grid_heatmaps`): its goal, the other agent's goal and the
    other agent's fixed position (the centre cell)."""
    game = make_gridworld(config["grid_size"], config["gamma"])
    other = 1 - agent
    cell = lambda index: tuple(int(v) for v in divmod(index, game.size))  # noqa: E731
    return {f"agent {agent}'s goal": cell(game.goals[agent]), f"agent {other}'s goal": cell(game.goals[other]),
            f"agent {other} (fixed position)": _centre_cell(game.size)}


def learner_return_curves(seed_metric: dict) -> dict[str, list[float]]:
    """Learner → mean over agents of the expected discounted true return ``ω_i*·ψ_i(π^k)`` at every phase."""
    return {name: [sum(r) / len(r) for r in learner["true_return"]]
            for name, learner in seed_metric["learners"].items()}


def seed_methods_table(seed_metric: dict) -> str:
    """Markdown: one seed's held-out KLs, cosine and EPIC distance per method."""
    return markdown_rows(("method", *KL_KEYS, "cosine", "EPIC"), (
        [f"`{key}`", *(f"{m[k]:.3g}" for k in KL_KEYS), f"{m['cosine']:.4f}", f"{m['epic']:.4f}"]
        for key, m in seed_metric["methods"].items()))


def target_checks(summary: dict) -> list[dict]:
    """The T1 issue's targets (thresholds from :mod:`ilola_lib.analysis.targets`), each with the measured mean
    over seeds and whether it is met."""
    targets = load_targets().t1
    m = summary["methods"]
    mean = lambda key, name: m[key][name]["mean"]  # noqa: E731

    def at_most(text: str, value: float | None, threshold: float) -> tuple:
        return f"{text} ≤ {format_threshold(threshold)}", value, value is not None and value <= threshold

    def at_least(text: str, value: float | None, threshold: float) -> tuple:
        return f"{text} ≥ {format_threshold(threshold)}", value, value is not None and value >= threshold

    kl_max = max(mean("ma_lfl", "kl_1a"), mean("ma_lfl", "kl_1b"))
    ratio = m["ma_lfl"].get("kl_ratio_1b_1a", {"mean": None})["mean"]
    checks = [
        at_most("MA-LfL exact: KL(1a)", mean("ma_lfl_exact", "kl_1a"), targets.ma_lfl_exact_kl_1a_max),
        at_most("MA-LfL exact: KL(1b)", mean("ma_lfl_exact", "kl_1b"), targets.ma_lfl_exact_kl_1b_max),
        at_least("MA-LfL exact: cosine", mean("ma_lfl_exact", "cosine"), targets.ma_lfl_exact_cosine_min),
        at_most("MA-LfL sampled: KL(1b)/KL(1a)", ratio, targets.ma_lfl_sampled_ratio_1b_1a_max),
        ("MA-LfL sampled: KL(1a), KL(1b) < KL(0)", kl_max, kl_max < mean("ma_lfl", "kl_0")),
        ("MA-LfL sampled: KL(1a), KL(1b) < KL(rand)", kl_max, kl_max < mean("ma_lfl", "kl_rand")),
        at_least("Stage A on naive PG learners: cosine", mean("ilogel_matched_pg", "cosine"),
                 targets.matched_cosine_min),
        at_least("Stage B on LOLA learners: cosine", mean("ilola_matched_lola", "cosine"), targets.matched_cosine_min),
        ("LOLA learners: Stage B KL(1b) < Stage A KL(1b)", mean("ilola_matched_lola", "kl_1b"),
         mean("ilola_matched_lola", "kl_1b") < mean("ilogel_matched_lola", "kl_1b")),
    ]
    return [{"target": name, "measured": None if value is None else float(value), "met": bool(met)}
            for name, value, met in checks]


def target_table(checks: list[dict]) -> str:
    """Markdown: :func:`target_checks` with the measured value ("—" where it does not apply) and whether it is
    met (a miss in bold)."""
    return markdown_rows(("target", "measured", "met"), (
        [c["target"], format_number(c["measured"]), "yes" if c["met"] else "**no**"] for c in checks))
