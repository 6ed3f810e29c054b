"""``python -m ilola_lib.verify [--against REV] [--tasks t1 t2 t3] [--alpha 0.05] [--all]``

After a regeneration, compares every headline metric of the per-seed results in the working tree with
the values committed at ``REV`` (default ``HEAD``) under the rules of :mod:`ilola_lib.verify.compare`,
prints one table (metric, committed, regenerated, tolerance, agree) and exits with status 1 if any
metric disagrees, 2 if the sources cannot be compared (a missing task or a different profile).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ilola_lib.analysis.summary import markdown_rows
from ilola_lib.verify.compare import FAMILY_ALPHA, Comparison, compare
from ilola_lib.verify.headline import PER_SEED_FOLDERS, headline_metrics, summary_profile


def _row(c: Comparison) -> list[str]:
    tolerance = "—" if c.tolerance is None else (f"±{c.tolerance:.3g} per seed" if c.rule == "exact"
                                                 else f"±{c.tolerance:.3g} (Welch p = {c.p_value:.2g})")
    verdict = {True: "yes", False: "**no**", None: "not tested"}[c.agree]
    return [c.task, f"`{c.metric}`", c.rule, f"{c.committed_mean:.6g}", f"{c.regenerated_mean:.6g}", tolerance,
            verdict + (f" ({c.reason})" if c.reason and c.agree is not True else "")]


def verify_table(comparisons: list[Comparison], show_all: bool) -> str:
    """Markdown: every metric (``show_all``) or only those that do not agree, one row each."""
    shown = [c for c in comparisons if show_all or c.agree is not True]
    return markdown_rows(("task", "metric", "rule", "committed mean", "regenerated mean", "tolerance", "agree"),
                         (_row(c) for c in shown))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git revision holding the committed results")
    parser.add_argument("--tasks", nargs="+", default=list(PER_SEED_FOLDERS))
    parser.add_argument("--alpha", type=float, default=FAMILY_ALPHA, help="family-wise level of the Welch tests")
    parser.add_argument("--all", action="store_true", help="list every metric, not only the disagreements")
    parser.add_argument("--root", default=".", help="repository root")
    args = parser.parse_args(argv)
    root = Path(args.root)
    committed, regenerated = {}, {}
    for task in args.tasks:
        profiles = summary_profile(task, args.against, root), summary_profile(task, None, root)
        if None in profiles or profiles[0] != profiles[1]:
            print(f"cannot compare {task}: committed profile {profiles[0]!r}, regenerated {profiles[1]!r}",
                  file=sys.stderr)
            return 2
        committed.update(headline_metrics(task, args.against, root))
        regenerated.update(headline_metrics(task, None, root))
    comparisons = compare(committed, regenerated, args.alpha)
    disagree = [c for c in comparisons if c.agree is False]
    counts = {rule: sum(c.rule == rule for c in comparisons) for rule in ("exact", "statistical")}
    print(f"{len(comparisons)} headline metrics ({counts['exact']} exact, {counts['statistical']} statistical, "
          f"Holm α = {args.alpha:g}) against {args.against}: {len(disagree)} disagree\n")
    print(verify_table(comparisons, args.all or not disagree))
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
