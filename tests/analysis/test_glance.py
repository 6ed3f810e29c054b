"""The at-a-glance verdicts follow their stated rules; the README's headline results match the results files."""

from pathlib import Path

import pytest

from ilola_lib.analysis import glance
from ilola_lib.analysis.summary import read_summaries

ROOT = Path(__file__).resolve().parents[2]


def value(mean, low=None, high=None):
    return {"mean": mean, "ci95": None if low is None else [low, high]}


def summary(ef_1a, ef_1b, induced=(0.5, 0.2, 0.8), cosine=1.0, eta=70.0):
    kl_0 = 1e-2
    method = {"kl_1a": value(kl_0 * (1 - ef_1a), 0, 1), "kl_1b": value(kl_0 * (1 - ef_1b), 0, 1),
              "kl_0": value(kl_0, 0, 1), "ef_1a": value(ef_1a), "explained_fraction": value(ef_1b),
              "induced_normalized": value(*induced), "cosine": value(cosine, cosine, cosine), "eta": value(eta, eta, eta)}
    method |= {f"{key}_mc": method[key] for key in ("kl_1a", "kl_1b", "kl_0")}
    return {"methods": {"ilola": method, "ilola_eta0": method, "ilola_matched_lola": method}}


@pytest.mark.parametrize("ef_1a, ef_1b, verdict", [(0.6, 0.58, "reproduced only with caveat"),
                                                    (0.6, 0.3, "not reproduced"),
                                                    (-0.2, -0.2, "not reproduced")])
def test_recovered_as_true_needs_a_learner_model_that_explains_something(ef_1a, ef_1b, verdict):
    _, judged, reason = glance.recovered_as_true("t2", "ilola")({"t2": summary(ef_1a, ef_1b)})
    assert judged == verdict
    if ef_1a <= 0:
        assert "no better than no update" in reason


@pytest.mark.parametrize("induced, verdict", [((0.1, -0.1, 0.3), "reproduced"), ((0.8, 0.6, 1.0), "not reproduced"),
                                              ((0.1, None, None), "not reproduced")])
def test_induced_near_random_reads_the_interval(induced, verdict):
    assert glance.induced_near_random("t3", "ilola")({"t3": summary(0.5, 0.5, induced)})[1] == verdict


def test_coupling_is_reproduced_on_matched_learners_only_with_the_neural_caveat():
    summaries = {"t1": summary(0.5, 0.5, cosine=0.999), "t2": summary(0.5, 0.5, eta=1e-9)}
    assert glance.coupled_learners(summaries)[1] == "reproduced only with caveat"
    assert glance.coupled_learners({"t1": summary(0.5, 0.5, cosine=0.9)})[1] == "not reproduced"


@pytest.mark.parametrize("gain, cosine, verdict, reason", [
    ((-1e-3, -2e-3, -5e-4), 0.99, "reproduced", "better than the η = 0 fit"),
    ((-1e-3, -2e-3, 1e-4), 0.99, "reproduced only with caveat", "does not explain held-out updates better"),
    ((-1e-3, None, None), 0.99, "reproduced only with caveat", "does not explain held-out updates better"),
    ((-1e-3, -2e-3, -5e-4), 0.9, "reproduced only with caveat", "cosine is below 0.95"),
])
def test_coupling_on_neural_lola_learners_needs_a_paired_gain_over_eta_zero_and_the_direction(gain, cosine, verdict,
                                                                                             reason):
    lola = summary(0.5, 0.5, cosine=cosine) | {"paired_kl_1b": {"ilola − ilola_eta0": value(*gain)}}
    summaries = {"t1": summary(0.5, 0.5, cosine=0.999), "t2_lola": lola}
    _, judged, because = glance.coupled_learners(summaries)
    assert judged == verdict and reason in because


def test_the_table_has_one_row_per_claim_of_the_tasks_present():
    table = glance.glance_table({"t1": summary(0.5, 0.5), "t2": summary(0.5, 0.5)})
    rows = table.splitlines()[2:]
    assert len(rows) == sum(claim.task in ("t1", "t2") for claim in glance.CLAIMS)
    assert all("{doc}`" in row for row in rows)
    assert "{doc}" not in glance.glance_table({"t1": summary(0.5, 0.5)}, links=False)


def test_the_readme_headline_results_are_the_committed_results():
    summaries = read_summaries(ROOT / "results")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert glance.readme_with_headline(readme, summaries) == readme, \
        "README.md's headline results are stale: run python -m ilola_lib.analysis.glance"
