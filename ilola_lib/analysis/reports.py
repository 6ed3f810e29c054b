"""Per-seed metrics of a neural task (learn, invert, induce stages) merged, compared and tabulated.

Inputs are lists of per-seed dicts, one per stage, all listing the same seeds in the same order.
"""

from __future__ import annotations

import numpy as np

from ilola_lib.analysis.induced import noise_floor, resolved
from ilola_lib.analysis.statistics import above_zero, bootstrap_ci, fit_resolution, paired_kl_sign, summarize_evaluations
from ilola_lib.analysis.summary import LEARNER_MODELS, format_interval, format_number, format_threshold, markdown_rows
from ilola_lib.analysis.targets import IlolaTargets

# The central method first, then its ablation, Stage A, and the mismatch baseline.
METHOD_ORDER = ("ilola", "ilola_eta0", "ilogel", "ilola_gpomdp", "ilola_eta0_gpomdp", "ilogel_gpomdp", "ma_lfl")
METHOD_LABELS = {"ilola": "I-LOLA Stage B", "ilola_eta0": "I-LOLA Stage B with η = 0", "ilogel": "I-LOGEL Stage A",
                 "ilola_gpomdp": "I-LOLA Stage B, gradient-step model",
                 "ilola_eta0_gpomdp": "I-LOLA Stage B with η = 0, gradient-step model",
                 "ilogel_gpomdp": "I-LOGEL Stage A, gradient-step model",
                 "ma_lfl": "MA-LfL, the mismatch baseline"}
CENTRAL_METHOD = "ilola"


def common_seeds(*per_seed_lists: list[dict]) -> list[int]:
    """The common seed list of several per-seed metric lists; raises if they disagree."""
    seeds = [[m["seed"] for m in metrics] for metrics in per_seed_lists]
    if any(other != seeds[0] for other in seeds[1:]):
        raise ValueError(f"per-seed inputs list different seeds: {seeds}")
    return seeds[0]


def _ordered(names) -> list[str]:
    """``names`` with those of :data:`METHOD_ORDER` first, in that order, then the rest sorted."""
    return [m for m in METHOD_ORDER if m in names] + sorted(m for m in names if m not in METHOD_ORDER)


def per_seed_methods(inverse_metrics: list[dict], induced_metrics: list[dict]) -> list[dict]:
    """Per seed ``{"seed", "methods": {method: inverse metrics + "induced_normalized"}}``, methods in report
    order; a method without an induced return keeps only its inverse metrics."""
    common_seeds(inverse_metrics, induced_metrics)
    merged = []
    for inverse, induced in zip(inverse_metrics, induced_metrics):
        methods = {}
        for name in _ordered(inverse["methods"]):
            methods[name] = dict(inverse["methods"][name])
            if name in induced["methods"]:
                methods[name]["induced_normalized"] = induced["methods"][name]["induced_normalized"]
        merged.append({"seed": inverse["seed"], "methods": methods})
    return merged


def induced_normalisers(learner_metrics: list[dict], induced_metrics: list[dict], trivial: tuple[str, ...]) -> dict:
    """``{"return_true", "return_floor", "noise_floor"}`` over seeds: the induced-return normalisers of design §6
    and the training noise of the normalised return (:func:`~ilola_lib.analysis.induced.noise_floor`).

    ``R_true`` (per seed the mean of the true-reward trainings) gets the bootstrap CI over seeds. ``R_floor`` is, per seed,
    the best trivial policy of ``trivial`` (``learner_metrics[s]["return_<name>"]``); it is summarised like that
    policy's evaluation (:func:`~ilola_lib.analysis.statistics.summarize_evaluations`), so a floor evaluated
    once — the same in every seed — carries the normal CI of its evaluation episodes, not a zero-width one.
    """
    common_seeds(learner_metrics, induced_metrics)
    floors = []
    for learners, induced in zip(learner_metrics, induced_metrics):
        best = max(trivial, key=lambda name: learners[f"return_{name}"]["mean"])
        floor = learners[f"return_{best}"]
        if floor["mean"] != induced["return_floor"]:
            raise ValueError(f"seed {induced['seed']}: R_floor {induced['return_floor']} is not the best trivial "
                             f"return of the learners ({best}: {floor['mean']})")
        floors.append(floor)
    return {"return_true": bootstrap_ci([m["return_true"] for m in induced_metrics]),
            "return_floor": summarize_evaluations(floors), "noise_floor": noise_floor(induced_metrics)}


def target_checks(summary: dict, targets: IlolaTargets, method: str = CENTRAL_METHOD,
                  below: tuple[tuple[str, str], ...] = (("kl_0", "KL(0)"), ("kl_rand", "KL(rand)"))) -> list[dict]:
    """An I-LOLA ``targets`` check list for ``method``: ``{"target", "measured", "threshold", "met"}`` each.

    EF(1a) = 1 − KL(1a)/KL(0) (the learner model with ``ω*``) is compared with ``targets.ef_1a_min`` and EF(1b) (the
    recovered reward) with ``targets.ef_1b_over_ef_1a_min`` × EF(1a), both as means over seeds. "KL(1b) below" each
    baseline in ``below`` is judged **paired by seed**: the lower end of the 95% t-interval of the per-seed
    difference ``baseline − KL(1b)`` must be above 0. A value that cannot be measured (a metric that does not
    apply, no interval with fewer than 2 seeds) is ``None`` and the target is not met.
    """
    metrics = summary["methods"][method]

    def mean(key: str) -> float | None:
        return metrics[key]["mean"] if key in metrics else None

    ef_1a, ef_1b = mean("ef_1a"), mean("explained_fraction")
    ratio = None if ef_1a is None or ef_1b is None or ef_1a <= 0 else ef_1b / ef_1a
    checks = [(f"learner model with ω*: mean EF(1a) ≥ {format_threshold(targets.ef_1a_min)}", ef_1a,
               targets.ef_1a_min, ef_1a is not None and ef_1a >= targets.ef_1a_min),
              (f"mean EF(1b) ≥ {format_threshold(targets.ef_1b_over_ef_1a_min)} × mean EF(1a): EF(1b)/EF(1a)", ratio,
               targets.ef_1b_over_ef_1a_min, ratio is not None and ratio >= targets.ef_1b_over_ef_1a_min)]
    for key, name in below:
        difference = metrics.get(f"{key}_minus_kl_1b", {"ci95": None})
        low = None if difference["ci95"] is None else difference["ci95"][0]
        checks.append((f"KL(1b) below {name}, paired by seed: lower 95% CI of {name} − KL(1b)", low, 0.0,
                       bool(above_zero(difference))))
    cosine, cosine_min = mean("cosine"), targets.cosine_min
    checks.append((f"mean cosine(ω̂, ω*) ≥ {format_threshold(cosine_min)}", cosine, cosine_min,
                   cosine is not None and cosine >= cosine_min))
    induced, induced_min = mean("induced_normalized"), targets.induced_normalized_min
    checks.append((f"normalised induced return ≥ {format_threshold(induced_min)}", induced, induced_min,
                   induced is not None and induced >= induced_min))
    listed = [{"target": f"`{method}`: {text}", "measured": _float_or_none(value),
               "threshold": _float_or_none(threshold), "met": bool(met)} for text, value, threshold, met in checks]
    floor = summary.get("induced", {}).get("noise_floor")
    if induced is not None and floor is not None:
        listed[-1]["within_noise_floor"] = not resolved(induced - induced_min, floor["mean_resolution"])
    return listed


def _float_or_none(value) -> float | None:
    return None if value is None else float(value)


def checks_markdown(checks: list[dict]) -> str:
    """A Markdown table of :func:`target_checks`, a missed target marked **missed** ("—" and **not measured**
    where the value could not be measured); a verdict closer to its threshold than the noise floor's resolution
    says so."""
    def verdict(check: dict) -> str:
        if check["met"]:
            return "hit" + (" (within the noise floor)" if check.get("within_noise_floor") else "")
        if check["measured"] is None:
            return "**not measured**"
        return "**missed**" + (" (within the noise floor)" if check.get("within_noise_floor") else "")

    return markdown_rows(("target", "measured", "threshold", "met"), (
        [c["target"], format_number(c["measured"]), format_number(c["threshold"]), verdict(c)] for c in checks))


def _paired_comparison(differences: dict, first: str, second: str, resolution: float) -> str:
    """One sentence: which of two methods has the lower KL(1b), judged on the paired per-seed difference — first
    against the fits' ``resolution`` (a mean difference within it: indistinguishable), then on its 95% CI."""
    difference = differences.get(f"{first} − {second}")
    sign = None if difference is None else paired_kl_sign(difference, resolution)
    if sign is None:
        return (f"`{first}` and `{second}` cannot be compared on the held-out updates: the paired difference of "
                "KL(1b) has no 95% CI (fewer than 2 seeds).")
    if not resolved(difference["mean"], resolution):
        return (f"`{first}` and `{second}` are indistinguishable on the held-out updates: the mean per-seed "
                f"difference of KL(1b), {format_number(difference['mean'])}, is within the fits' resolution "
                f"({format_number(resolution)}).")
    if sign:
        better, worse = (first, second) if sign < 0 else (second, first)
        return (f"`{better}` ({METHOD_LABELS.get(better, better)}) explains the held-out updates better than "
                f"`{worse}`: the 95% CI of the per-seed difference of KL(1b) excludes 0.")
    return (f"`{first}` and `{second}` are indistinguishable on the held-out updates: the 95% CI of the "
            "per-seed difference of KL(1b) contains 0.")


def stage_comparison(summary: dict, central: str = CENTRAL_METHOD,
                     others: tuple[str, ...] = ("ilogel", "ilola_eta0")) -> str:
    """Markdown: KL(1b) with its 95% CI for ``central`` and ``others`` (those present), the paired per-seed
    differences ``KL(1b)_central − KL(1b)_other`` with their t-intervals, and per other method a sentence
    saying which explains held-out updates better — a mean difference within the fits' resolution
    (:func:`~ilola_lib.analysis.statistics.fit_resolution` of ``central``'s mean KL(0)) is indistinguishable,
    otherwise the paired interval decides by whether it excludes 0."""
    methods, differences = summary["methods"], summary.get("paired_kl_1b", {})
    shown = [m for m in (central, *others) if m in methods]
    table = markdown_rows(("method", "KL(1b) [95% CI]", f"KL(1b) of `{central}` − this method, paired by seed [95% CI]"), (
        [f"`{m}` ({METHOD_LABELS.get(m, m)})", format_interval(methods[m]["kl_1b"]),
         format_interval(differences[f"{central} − {m}"]) if f"{central} − {m}" in differences else "—"]
        for m in shown))
    resolution = fit_resolution(methods[central]["kl_0"]["mean"]) if central in methods else 0.0
    sentences = [_paired_comparison(differences, central, other, resolution) for other in shown[1:]]
    return table + "\n" + "\n".join(f"- {s}" for s in sentences) + "\n"


def induced_comparison(summary: dict, central: str = CENTRAL_METHOD) -> str:
    """Markdown: each method's mean normalised induced return [95% CI], its paired difference from ``central``'s
    [95% t-interval] and a verdict, and the noise floor. A difference is called one only when it passes both
    tests: it exceeds the floor's resolution (:func:`~ilola_lib.analysis.induced.noise_floor`; below it:
    **indistinguishable**) and its 95% interval excludes no difference (else: **no clear difference**). The same
    two tests compare a method's mean with the true reward's 1."""
    methods, floor = summary["methods"], summary["induced"]["noise_floor"]
    differences = summary.get("paired_induced", {})
    shown = [m for m in _ordered(methods) if "induced_normalized" in methods[m]]

    def verdict(method: str) -> str:
        versus_truth = _verdict(methods[method]["induced_normalized"], 1.0, floor["mean_resolution"],
                                "the true reward", "its 95% CI", "above the true reward", "below the true reward")
        if method == central or f"{central} − {method}" not in differences:
            return versus_truth
        return versus_truth + "; " + _verdict(differences[f"{central} − {method}"], 0.0,
                                              floor["difference_resolution"], f"`{central}`", "the paired 95% CI",
                                              f"`{central}` higher", f"`{central}` lower")

    table = markdown_rows(("method", "normalised induced return [95% CI]",
                           f"`{central}` − this method, paired by seed [95% CI]", "verdict (noise floor, then CI)"), (
        [f"`{m}`", format_interval(methods[m]["induced_normalized"]),
         format_interval(differences[f"{central} − {m}"]) if f"{central} − {m}" in differences else "—", verdict(m)]
        for m in shown))
    normalisers = (f"R_true (per seed the mean of {floor['trainings_per_seed']} trainings on the true reward) "
                   f"{format_interval(summary['induced']['return_true'])}, R_floor "
                   f"{format_interval(summary['induced']['return_floor'])} (mean [95% CI]).")
    return table + f"\n{normalisers} " + (
        f"Noise floor: one training on the true reward varies by σ = {format_number(floor['training_sd'])} "
        f"(normalised scale; {floor['trainings_per_seed']} trainings per seed, pooled over seeds). Differences of "
        f"two means below {format_number(floor['difference_resolution'])} (2σ·√(2/seeds)) and distances of a mean "
        f"from 1 below {format_number(floor['mean_resolution'])} (2σ/√seeds) are indistinguishable.\n")


def _verdict(estimate: dict, reference: float, resolution: float, against: str, interval: str, higher: str,
             lower: str) -> str:
    """``estimate`` (``mean``, ``ci95``) against ``reference``: indistinguishable from ``against`` when the
    difference is within the noise floor's ``resolution``, no clear difference when the interval contains
    ``reference``, else ``higher``/``lower``."""
    difference = estimate["mean"] - reference
    if not resolved(difference, resolution):
        return f"indistinguishable from {against} (within the noise floor)"
    ci95 = estimate.get("ci95")
    if ci95 is not None and ci95[0] <= reference <= ci95[1]:
        return f"no clear difference from {against} ({interval} includes {reference:g})"
    return higher if difference > 0 else lower


def induced_learning_curves(learner_metrics: list[dict], induced_metrics: list[dict]) -> dict[str, np.ndarray]:
    """Label → ``[seeds, K+1]`` mean per-agent true return of each batch: the learners trained on the true
    reward, then those trained on each method's recovered reward ``r̂ = ω̂·φ``."""
    common_seeds(learner_metrics, induced_metrics)
    curves = {"true reward": np.array([m["learning_curve"] for m in learner_metrics])}
    curves.update({f"r̂ of {name}": values for name, values in _per_method(induced_metrics, "learning_curve").items()})
    return curves


def _per_method(per_seed: list[dict], key: str) -> dict[str, np.ndarray]:
    """Method → ``[seeds, …]`` array of ``per_seed[s]["methods"][method][key]``, methods in report order."""
    return {name: np.array([m["methods"][name][key] for m in per_seed]) for name in _ordered(per_seed[0]["methods"])}


def true_weights(inverse_metrics: list[dict]) -> np.ndarray:
    """``[N, q]`` true ``ω*`` (the same in every seed; raises otherwise)."""
    weights = np.array([m["true_weights"] for m in inverse_metrics])
    if not np.allclose(weights, weights[0]):
        raise ValueError("true weights differ between seeds")
    return weights[0]


def recovered_weights(inverse_metrics: list[dict]) -> dict[str, np.ndarray]:
    """Method → ``[seeds, N, q]`` recovered ``ω̂``, methods in report order."""
    return _per_method(inverse_metrics, "weights")


def per_agent_cosines(inverse_metrics: list[dict]) -> dict[str, np.ndarray]:
    """Method → ``[seeds, N]`` cosine between each agent's ``ω̂_i`` and ``ω*_i``, methods in report order."""
    return _per_method(inverse_metrics, "cosine_per_agent")


def cosine_table(inverse_metrics: list[dict]) -> str:
    """Markdown: one row per seed, one column per method holding the per-agent cosines ``c_0, c_1, …``."""
    cosines = per_agent_cosines(inverse_metrics)
    return markdown_rows(("seed", *(f"`{name}`" for name in cosines)), (
        [str(metrics["seed"]), *(", ".join(f"{c:.2f}" for c in values[index]) for values in cosines.values())]
        for index, metrics in enumerate(inverse_metrics)))


def _selections(inverse_metrics: list[dict]):
    """``(seed, method, stage_b_selection)`` of every method that selected on validation pairs, in report order."""
    for metrics in inverse_metrics:
        for name in _ordered(metrics["methods"]):
            if "stage_b_selection" in metrics["methods"][name]:
                yield metrics["seed"], name, metrics["methods"][name]["stage_b_selection"]


def stage_b_selections(inverse_metrics: list[dict]) -> dict[str, dict[str, int]]:
    """Method → how many seeds chose each candidate of Stage B's selection on validation pairs
    (``stage_b_selection``; candidates ``stage_a``, ``stage_b_round_1``, …, every one listed, in order); empty
    when no seed selected."""
    counts: dict[str, dict[str, int]] = {}
    for _, name, selection in _selections(inverse_metrics):
        counts.setdefault(name, dict.fromkeys(selection["validation_kl"], 0))[selection["selected"]] += 1
    return counts


def stage_b_selection_sentence(selections: dict[str, dict[str, int]]) -> str:
    """Markdown: what Stage B's selection on validation pairs kept (``selections`` from
    :func:`stage_b_selections`), e.g. "`ilola` kept `stage_a` in 3 and `stage_b_round_1` in 2 of 5 seeds"."""
    if not selections:
        return "Stage B ran without a selection on validation pairs"
    return "; ".join(f"`{method}` kept {' and '.join(f'`{c}` in {n}' for c, n in counts.items() if n)} of "
                     f"{sum(counts.values())} seeds" for method, counts in selections.items())


def stage_b_selection_table(inverse_metrics: list[dict]) -> str:
    """Markdown: per seed and selecting method, the validation KL of each candidate, the chosen one in bold."""
    rows, candidates = [], []
    for seed, name, selection in _selections(inverse_metrics):
        kls = selection["validation_kl"]
        candidates = candidates or list(kls)
        assert list(kls) == candidates, f"seed {seed} `{name}`: candidates {list(kls)} ≠ {candidates}"
        rows.append([str(seed), f"`{name}`", *(f"**{kls[c]:.5f}**" if c == selection["selected"] else f"{kls[c]:.5f}"
                                               for c in candidates), selection["selected"]])
    if not rows:
        return stage_b_selection_sentence({}) + "."
    return markdown_rows(("seed", "method", *(f"KL on validation, `{c}`" for c in candidates), "kept"), rows)


def methods_table(metrics: dict, columns: tuple[str, ...] = ("kl_1a", "kl_1b", "kl_0", "kl_rand", "cosine")) -> str:
    """Markdown: held-out KLs and cosines (or other ``columns``) of each method of one seed."""
    return markdown_rows(("method", *columns), ([f"`{name}`", *(f"{m[c]:.4g}" for c in columns)]
                                                for name, m in metrics["methods"].items()))


def learner_model_table(ladder: dict, methods: dict | None = None) -> str:
    """Markdown: held-out KL(1a) and EF(1a) of each learner model of one seed (or, for a summary's ladder, their
    means with 95% CIs), and the cosine of the method fitted on it (from ``methods``, one seed's methods)."""
    rows = []
    for name, (label, method) in LEARNER_MODELS.items():
        if name not in ladder:
            continue
        entry = dict(ladder[name])
        if methods is not None and method in methods:
            entry["cosine"] = methods[method]["cosine"]
        cells = [format_interval(entry[key]) if isinstance(entry.get(key), dict) else format_number(entry.get(key))
                 for key in ("kl_1a", "ef_1a", "cosine")]
        rows.append([f"`{name}`", label, *cells])
    return markdown_rows(("learner model", "", "KL(1a)", "EF(1a)", "cosine"), rows)


def weights_table(metrics: dict) -> str:
    """Markdown: true and recovered unit weights per agent and feature."""
    rows = []
    for agent, truth in enumerate(np.asarray(metrics["true_weights"])):
        weights = {"true ω*": truth / np.linalg.norm(truth)} | {
            f"`{name}`": np.asarray(m["weights"][agent]) for name, m in metrics["methods"].items()}
        rows += [[str(agent), label, *(f"{w:+.3f}" for w in row)] for label, row in weights.items()]
    return markdown_rows(("agent", "weights", *metrics["feature_names"]), rows)


def quoted_means(summary: dict, quotes: dict[str, tuple[str, ...]]) -> dict[str, float]:
    """The means a chapter's prose quotes (for myst-nb ``glue``): ``name → summary[k1][k2]…["mean"]`` for
    ``quotes[name] = (k1, k2, …)``, e.g. ``("methods", "ilola", "cosine")``; a missing key raises ``KeyError``
    naming the quote and its path."""
    values = {}
    for name, path in quotes.items():
        node = summary
        try:
            for key in path:
                node = node[key]
            values[name] = node["mean"]
        except (KeyError, TypeError):
            raise KeyError(f"{name}: the summary has no mean at {'/'.join(path)}") from None
    return values
