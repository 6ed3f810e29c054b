import numpy as np
import pytest
import torch
from torch.distributions import Categorical, kl_divergence

from ilola_lib.analysis.statistics import bootstrap_ci
from ilola_lib.core.io import MissingFileError, load_arrays, read_seed_files, save_arrays, write_json
from ilola_lib.core.metrics import categorical_kl, kl_diagonal_gaussian
from ilola_lib.core.tabular_trace import TabularTrace
from ilola_lib.core.protocol import split_pairs


def test_split_pairs_holds_out_every_fourth():
    fit, held = split_pairs(12)
    assert held.tolist() == [3, 7, 11] and len(fit) == 9


def test_npz_roundtrip_and_truncated_file_error(tmp_path):
    path = tmp_path / "trace.npz"
    save_arrays(path, {"a": np.arange(5.0)})
    np.testing.assert_array_equal(load_arrays(path, required=("a",))["a"], np.arange(5.0))
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(ValueError, match="cannot read trace file"):
        load_arrays(path)
    with pytest.raises(TypeError):
        save_arrays(tmp_path / "bad.npz", {"b": np.array([object()])})


def test_tabular_trace_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    policies = rng.dirichlet(np.ones(5), size=(3, 2, 4))
    weights = rng.dirichlet(np.ones(4), size=3)
    trace = TabularTrace(np.log(policies), policies, weights)
    trace.save(tmp_path / "trace.npz")
    loaded = TabularTrace.load(tmp_path / "trace.npz")
    for name in ("logits", "policies", "state_weights"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(trace, name))
    assert loaded.num_phases == 2


def test_json_is_byte_identical_for_equal_data(tmp_path):
    write_json(tmp_path / "a.json", {"b": np.float64(1.5), "a": [1, 2]})
    write_json(tmp_path / "b.json", {"a": [1, 2], "b": 1.5})
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_read_seed_files_in_seed_order_and_names_a_missing_one(tmp_path):
    for seed in (0, 3):
        write_json(tmp_path / f"seed_{seed}.json", {"seed": seed})
    assert read_seed_files(tmp_path, [3, 0]) == [{"seed": 3}, {"seed": 0}]
    with pytest.raises(MissingFileError, match="seed_1.json"):
        read_seed_files(tmp_path, [0, 1])


def test_kl_helpers_are_non_negative_zero_iff_equal_and_match_closed_forms():
    p = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    logits = torch.log(torch.tensor([0.5, 0.25, 0.25], dtype=torch.float64))
    expected = float((p * (p.log() - logits)).sum())
    assert float(categorical_kl(p.log(), logits)) == pytest.approx(expected, abs=1e-14)
    assert float(categorical_kl(p.log(), logits)) == pytest.approx(
        float(kl_divergence(Categorical(probs=p), Categorical(logits=logits))), abs=1e-14)
    assert float(categorical_kl(p.log().numpy(), logits.numpy(), p.numpy())) == pytest.approx(expected, abs=1e-14)
    assert float(categorical_kl(p.log(), p.log())) == pytest.approx(0.0, abs=1e-15)
    assert float(categorical_kl(p.log(), logits)) > 0
    mu_p, sd_p, mu_q, sd_q = (torch.tensor([x], dtype=torch.float64) for x in (0.3, 0.5, -0.2, 1.5))
    closed = float(torch.log(sd_q / sd_p) + (sd_p**2 + (mu_p - mu_q) ** 2) / (2 * sd_q**2) - 0.5)
    assert float(kl_diagonal_gaussian(mu_p, sd_p, mu_q, sd_q)) == pytest.approx(closed, abs=1e-14)
    assert float(kl_diagonal_gaussian(mu_p, sd_p, mu_p, sd_p)) == 0.0


def test_bootstrap_ci_handles_equal_and_single_values():
    assert bootstrap_ci([2.0, 2.0, 2.0]) == {"mean": 2.0, "ci95": [2.0, 2.0]}
    assert bootstrap_ci([2.0]) == {"mean": 2.0, "ci95": None}, "one seed: no interval, not a zero-width one"
    summary = bootstrap_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    assert summary["ci95"][0] < summary["mean"] < summary["ci95"][1]
