"""The poster's claims beside this artifact's measurements, each with a verdict computed from the summaries.

A verdict is one of :data:`VERDICTS`, decided by a stated rule on the summary (never typed by hand):

* *recovered explains as well as true* (the poster's "KL(1b) ≈ KL(1a)"): it carries information only if the
  learner model explains part of the held-out policy change with the true reward, EF(1a) > 0. Then the claim
  is reproduced when the recovered reward explains at least :data:`RECOVERED_SHARE` of it,
  EF(1b) ≥ RECOVERED_SHARE · EF(1a); the KLs themselves are larger than the poster's, because these learners
  learn, which is the caveat.
* *induced return ≈ random*: reproduced when the 95% CI of the normalised induced return contains 0 (the best
  trivial policy), not reproduced when it lies above 0 (the recovered reward trains better than that).
* *coupled learners*: needs I-LOLA's cosine on the exact tabular LOLA learners to reach :data:`MATCHED_COSINE`;
  it is reproduced when, on the neural LOLA-PPO learners of the ``t2_lola`` variant, the coupled fit also
  explains held-out updates better than its η = 0 ablation (paired by seed) and reaches that variant's cosine
  target, and reproduced only with caveat otherwise (or when the variant has no results).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ilola_lib.analysis.statistics import above_zero, fit_resolution, paired_kl_sign
from ilola_lib.analysis.summary import format_interval, markdown_rows, read_summaries
from ilola_lib.analysis.targets import load_targets
from ilola_lib.core.io import write_text

VERDICTS = ("reproduced", "reproduced only with caveat", "not reproduced")
RECOVERED_SHARE = 0.9
MATCHED_COSINE = 0.99


@dataclass(frozen=True)
class Claim:
    """One claim of the poster: where it is measured here and how its verdict is decided."""

    task: str
    chapter: str  # the book chapter (document name) with the measurement
    claim: str
    poster_value: str  # as printed on the poster; "—" where the poster gives no number
    judge: Callable[[dict[str, dict]], tuple[str, str, str]]  # summaries → (measurement, verdict, reason)


def _method(summaries: dict[str, dict], task: str, method: str) -> dict:
    return summaries[task]["methods"][method]


def recovered_as_true(task: str, method: str, kl_suffix: str = "") -> Callable:
    """Judge "the recovered reward explains the held-out updates as well as the true one" for ``method``."""

    def judge(summaries: dict[str, dict]) -> tuple[str, str, str]:
        metrics = _method(summaries, task, method)
        kls = ", ".join(f"KL({key}) {format_interval(metrics[f'kl_{key}{kl_suffix}'], digits=2)}" for key in ("1a", "1b", "0"))
        ef_1a, ef_1b = metrics["ef_1a"]["mean"], metrics["explained_fraction"]["mean"]
        measurement = f"EF(1a) {ef_1a:.2f}, EF(1b) {ef_1b:.2f}; {kls}"
        if ef_1a <= 0:
            return (measurement, "not reproduced",
                    "with the true reward the learner model predicts the held-out updates no better than no update "
                    "(EF(1a) ≤ 0), so KL(1b) beside KL(1a) carries no information")
        if ef_1b >= RECOVERED_SHARE * ef_1a:
            return (measurement, "reproduced only with caveat",
                    f"KL(1b) ≈ KL(1a): the recovered reward explains {ef_1b / ef_1a:.0%} as much of the held-out "
                    "change as the true one; the KLs are larger than the poster's because these learners learn, "
                    "so they are read against KL(0)")
        return (measurement, "not reproduced",
                f"the recovered reward explains only {ef_1b / ef_1a:.0%} of what the true reward does")

    return judge


def induced_near_random(task: str, method: str) -> Callable:
    """Judge "training on the recovered reward does about as well as random" for ``method``."""

    def judge(summaries: dict[str, dict]) -> tuple[str, str, str]:
        induced = _method(summaries, task, method)["induced_normalized"]
        measurement = f"normalised induced return {format_interval(induced)} (0: best trivial policy, 1: true reward)"
        above = above_zero(induced)
        if above is None:
            return measurement, "not reproduced", "a single seed gives no interval to judge by"
        if above:
            return (measurement, "not reproduced",
                    "the recovered reward trains learners clearly better than the best trivial policy")
        if induced["ci95"][1] >= 0:
            return measurement, "reproduced", "the recovered reward trains no better than the best trivial policy"
        return measurement, "not reproduced", "the recovered reward trains learners worse than the best trivial policy"

    return judge


def coupled_learners(summaries: dict[str, dict]) -> tuple[str, str, str]:
    """Judge "modelling the coupling recovers the rewards of coupled learners": on T1's exact LOLA learners I-LOLA's
    cosine must reach :data:`MATCHED_COSINE`; on the neural LOLA-PPO learners of ``t2_lola`` (when present) the
    coupled fit must explain held-out updates better than its η = 0 ablation (paired 95% CI of the KL(1b)
    difference below 0) and reach the variant's cosine target."""
    matched = _method(summaries, "t1", "ilola_matched_lola")
    measurement = (f"exact LOLA learners (T1): cosine {format_interval(matched['cosine'])}, "
                   f"fitted look-ahead η̂ {format_interval(matched['eta'])}")
    if matched["cosine"]["mean"] < MATCHED_COSINE:
        return measurement, "not reproduced", "I-LOLA does not recover the reward of exact LOLA learners"
    if "t2_lola" not in summaries:
        etas = ", ".join(f"{task.upper()} η̂ {_method(summaries, task, 'ilola')['eta']['mean']:.1g}"
                         for task in ("t2", "t3") if task in summaries)
        return (measurement, "reproduced only with caveat",
                "shown on exact tabular LOLA learners only; the neural learners here are independent PPO agents, "
                f"where the fitted look-ahead has nothing to explain ({etas})")
    neural = _method(summaries, "t2_lola", "ilola")
    gain = summaries["t2_lola"]["paired_kl_1b"]["ilola − ilola_eta0"]
    cosine_min = load_targets().t2_lola.coupled_cosine_min
    eta0 = _method(summaries, "t2_lola", "ilola_eta0")
    measurement += (f"; LOLA-PPO learners (T2 variant): cosine {format_interval(neural['cosine'])}, EF(1a) "
                    f"{neural['ef_1a']['mean']:.2f} (coupled replay with ω*; without the coupling "
                    f"{eta0['ef_1a']['mean']:.2f}), EF(1b) "
                    f"{neural['explained_fraction']['mean']:.2f} (η = 0 fit: {eta0['explained_fraction']['mean']:.2f}), "
                    f"KL(1b) of I-LOLA − its η = 0 fit {format_interval(gain)} (paired)")
    coupling_helps = paired_kl_sign(gain, fit_resolution(neural["kl_0"]["mean"])) == -1
    direction = neural["cosine"]["mean"] >= cosine_min
    if coupling_helps and direction:
        return (measurement, "reproduced",
                "on exact tabular LOLA learners, and on neural LOLA-PPO learners the coupled model explains "
                "held-out updates better than the η = 0 fit and recovers the reward's direction")
    missing = ([] if coupling_helps else ["the coupled fit does not explain held-out updates better than the "
                                          "η = 0 fit (the paired 95% CI does not lie below 0)"]) + (
        [] if direction else [f"the cosine is below {cosine_min:g}"])
    return (measurement, "reproduced only with caveat",
            "shown on exact tabular LOLA learners; on neural LOLA-PPO learners " + " and ".join(missing))


CLAIMS = (
    Claim("t1", "t1_summary", "I-LOLA's recovered reward explains the learners' updates as well as the true reward",
          "KL(1a) ≈ KL(1b) ≈ 9e-6", recovered_as_true("t1", "ilola")),
    Claim("t1", "t1_summary", "Modelling the learners' coupling (LOLA) recovers the rewards of coupled learners", "—",
          coupled_learners),
    Claim("t2", "t2_mpe", "I-LOLA's recovered reward explains the PPO learners' updates as well as the true reward",
          "KL(1a) ≈ 1.03e-6, KL(1b) ≈ 1.09e-6", recovered_as_true("t2", "ilola")),
    Claim("t3", "t3_multiwalker", "I-LOLA recovers the walkers' rewards (Monte-Carlo KL of the next policy)",
          "KL(1b) ≈ 5e-4 (Monte Carlo)", recovered_as_true("t3", "ilola", kl_suffix="_mc")),
    Claim("t3", "t3_multiwalker", "Walkers trained on I-LOLA's recovered reward do about as well as random ones",
          "≈ random", induced_near_random("t3", "ilola")),
)


def verdict_rules() -> str:
    """The verdict rules in words for the reader, with the thresholds this module uses."""
    return "\n".join((
        "- *KL(1b) ≈ KL(1a)* means something only if the learner model explains part of the held-out policy "
        "change with the true reward, $\\mathrm{EF(1a)} = 1 - \\mathrm{KL(1a)}/\\mathrm{KL(0)} > 0$; the claim then "
        f"holds when the recovered reward explains at least {RECOVERED_SHARE:g} of that, "
        f"$\\mathrm{{EF(1b)}} \\ge {RECOVERED_SHARE:g}\\,\\mathrm{{EF(1a)}}$.",
        "- *Induced return ≈ random* holds when the 95% CI of the normalised induced return contains 0, the return "
        "of the best trivial policy.",
        "- The coupling claim is judged on exact LOLA learners, where I-LOLA must recover the reward direction "
        f"(cosine at least {MATCHED_COSINE:g}), and on neural LOLA-PPO learners, where the coupled fit must "
        "explain held-out updates better than its $\\eta = 0$ ablation (the 95% CI of the per-seed difference of "
        f"KL(1b) below 0) with cosine at least {load_targets().t2_lola.coupled_cosine_min:g}.",
    ))


def glance_table(summaries: dict[str, dict], links: bool = True) -> str:
    """The "at a glance" Markdown table, one row per claim whose task has a summary: task, claim, poster value,
    measurement, verdict and its reason (``links``: task cells link to their chapter with MyST ``{doc}``)."""
    rows = []
    for claim in CLAIMS:
        if claim.task not in summaries:
            continue
        measurement, verdict, reason = claim.judge(summaries)
        assert verdict in VERDICTS, f"unknown verdict {verdict!r}"
        task = f"{{doc}}`{claim.task.upper()} <{claim.chapter}>`" if links else claim.task.upper()
        rows.append([task, claim.claim, claim.poster_value, measurement, f"**{verdict}**: {reason}"])
    header = ("task", "the poster's claim", "poster", "this artifact (mean [95% CI] over seeds)", "verdict")
    return markdown_rows(header, rows)


README_START, README_END = "<!-- headline-results:start -->", "<!-- headline-results:end -->"


def readme_with_headline(readme: str, summaries: dict[str, dict]) -> str:
    """``readme`` with the text between the headline-results markers replaced by the glance table (no links)."""
    start, end = readme.index(README_START) + len(README_START), readme.index(README_END)
    return f"{readme[:start]}\n{glance_table(summaries, links=False)}\n{readme[end:]}"


def main(argv: list[str] | None = None) -> None:
    """``python -m ilola_lib.analysis.glance [--readme README.md] [--results results]``: write the README's
    headline results from the task summaries."""
    parser = argparse.ArgumentParser(description="Write the README's headline results from results/t*/summary.json.")
    parser.add_argument("--readme", default="README.md")
    parser.add_argument("--results", default="results")
    args = parser.parse_args(argv)
    summaries = read_summaries(args.results)
    readme = Path(args.readme).read_text(encoding="utf-8")
    write_text(Path(args.readme), readme_with_headline(readme, summaries))


if __name__ == "__main__":
    main()
