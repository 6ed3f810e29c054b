"""The params.yaml schema (ilola_lib.pipeline.config): both profiles validate, every bad value is refused with
its dotted key before any compute, and the PPO keys reproduce the dataclass defaults."""

import copy
import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ilola_lib.pipeline import notebook_runner
from ilola_lib.pipeline.config import T2PPO, T3PPO, ConfigError, T2LolaPPO, load_params, validate_params
from ilola_lib.tasks.t2.ppo import LolaPPOConfig, PPOConfig
from ilola_lib.tasks.t3.ppo import MultiWalkerPPOConfig

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "params.yaml"
SMOKE = ROOT / "profiles" / "smoke.yaml"
# Dataclass fields that are not params.yaml keys: the run's seed, a task constant, weights set by the
# induced-return code, and t2's local_ratio (a key of t2, not of t2.ppo).
NOT_PPO_KEYS = {"seed", "num_agents", "reward_weights", "local_ratio"}


@pytest.fixture(scope="module")
def paper():
    return yaml.safe_load(PAPER.read_text(encoding="utf-8"))


def with_value(params: dict, key: str, value) -> dict:
    """A deep copy of ``params`` with the dotted ``key`` set to ``value``."""
    params = copy.deepcopy(params)
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        node = node[part]
    node[leaf] = value
    return params


def refused(params: dict) -> str:
    with pytest.raises(ConfigError) as error:
        validate_params(params)
    return str(error.value)


def write_variant(tmp_path: Path, pattern: str, replacement: str) -> Path:
    """params.yaml with the one line matching ``pattern`` (a regex, multiline) replaced."""
    text, count = re.subn(pattern, replacement, PAPER.read_text(encoding="utf-8"), count=1, flags=re.M)
    assert count == 1, pattern
    path = tmp_path / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# The profiles
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, profile", [(PAPER, "paper"), (SMOKE, "smoke")])
def test_both_profiles_validate_to_plain_dicts_equal_to_the_file(path, profile):
    params = load_params(path)
    assert params["profile"] == profile
    assert params == yaml.safe_load(path.read_text(encoding="utf-8"))
    assert type(params["t2"]["ppo"]) is dict and type(params["t2"]["ppo"]["num_envs"]) is int


def test_numbers_are_converted_to_the_declared_type(paper):
    params = validate_params(with_value(paper, "t1.matched.lola_eta", 50))
    assert type(params["t1"]["matched"]["lola_eta"]) is float and params["t1"]["matched"]["lola_eta"] == 50.0


@pytest.mark.parametrize("schema, config", [(T2PPO, PPOConfig), (T2LolaPPO, LolaPPOConfig),
                                            (T3PPO, MultiWalkerPPOConfig)])
def test_every_ppo_field_the_code_reads_is_a_params_key(schema, config):
    assert set(schema.model_fields) == {field.name for field in dataclasses.fields(config)} - NOT_PPO_KEYS


@pytest.mark.parametrize("path", [PAPER, SMOKE])
def test_every_ppo_field_comes_from_params(path):
    """The PPO dataclasses have no defaults: a validated section builds them, and a missing key cannot."""
    params = load_params(path)
    t2 = PPOConfig.from_params(params["t2"]["ppo"], 0, local_ratio=params["t2"]["local_ratio"])
    t3 = MultiWalkerPPOConfig.from_params(params["t3"]["ppo"], 0)
    assert t2.to_dict().items() >= params["t2"]["ppo"].items() and t3.to_dict().items() >= params["t3"]["ppo"].items()
    incomplete = {key: value for key, value in params["t2"]["ppo"].items() if key != "clip_coef"}
    with pytest.raises(TypeError, match="clip_coef"):
        PPOConfig.from_params(incomplete, 0, local_ratio=0.5)


# --------------------------------------------------------------------------------------------
# Unknown keys, wrong types, out-of-range values: every section names the dotted key
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("section, key", [
    ("t1", "grid_sise"), ("t1.sampling", "horizons"), ("t2", "local_ration"), ("t2.ppo", "num_env"),
    ("t2.inverse", "cma_generatoins"), ("t2.inverse.ma_lfl", "rollout"), ("t3", "eval_episode"),
    ("t3.ppo", "init_logstd"), ("t3.inverse", "mc_sample"),
])
def test_an_unknown_key_is_named(paper, section, key):
    # t3_mc merges t3's mappings in (a YAML anchor), so a bad key under t3 is named under both
    message = refused(with_value(paper, f"{section}.{key}", 1))
    assert f"params.yaml: {section}.{key}: unknown key" in message.splitlines()


def test_an_unknown_top_level_section_is_named(paper):
    assert refused({**paper, "t4": {}}) == "params.yaml: t4: unknown key"


@pytest.mark.parametrize("key, value, expected", [
    ("profile", "full", "'paper' or 'smoke'"),
    ("t1.grid_size", "5", "an integer in [2, 6]"),
    ("t1.sampling.episodes", 20.0, "an integer in [1, 1000000]"),
    ("t1.seeds", 0, "a list of 1 to 100 distinct integers in [0, 4294967295]"),
    ("t2.ppo.num_envs", True, "an integer in [1, 4096]"),
    ("t2.ppo.normalize_advantages", "yes", "true or false"),
    ("t2.ppo.normalize_advantages", 1, "true or false"),
    ("t2.inverse.ma_lfl.potential_degree", True, "1 (linear) or 2 (quadratic)"),
    ("t2.inverse.ma_lfl", "linear", "a mapping"),
    ("t3.ppo.learning_rate", "fast", "a finite number > 0"),
    ("t3.ppo.learning_rate", "1e-3x", "a finite number > 0"),
    ("t3.ppo.learning_rate", "0.5", "a finite number > 0"),  # only scientific-notation strings are numbers
    ("t3.inverse.mc_samples", 16.5, "an integer in [2, 100000]"),
])
def test_a_wrong_type_names_its_key(paper, key, value, expected):
    message = refused(with_value(paper, key, value))
    assert f"params.yaml: {key} must be {expected}, got {value!r}" in message.splitlines()


@pytest.mark.parametrize("key, value", [
    ("t1.sampling.episodes", 0), ("t1.gamma", 1.0), ("t1.gamma", 0.0), ("t1.grid_size", 7), ("t1.seeds", [0, 0]),
    ("t1.seeds", []), ("t1.ma_spi.alpha", -1), ("t1.inverse.cma_popsize", 3), ("t1.workers", 0),
    ("t2.local_ratio", 1.5), ("t2.eval_episodes", 19), ("t2.ppo.gamma", 1.0), ("t2.ppo.gae_lambda", 1.01),
    ("t2.ppo.clip_coef", 0.0), ("t2.ppo.ent_coef", -0.01), ("t2.ppo.max_grad_norm", 0),
    ("t2.inverse.states_per_pair", 1), ("t2.inverse.ma_lfl.potential_degree", 3), ("t2.inverse.ma_lfl.rollouts", 0),
    ("t3.ppo.init_log_std", 9.0), ("t3.ppo.max_cycles", 9), ("t3.ppo.normalizer_episodes", 0),
    ("t3.inverse.mc_samples", 1), ("t3.inverse.held_out_every", 1), ("t3.inverse.warm_up_fraction", 0.95),
    ("t2.inverse.replay_linearisations", 11), ("t2_lola.ppo.lola_eta", 0.0), ("t2_lola.ppo.lola_eta", -1e-4),
])
def test_an_out_of_range_value_names_its_key(paper, key, value):
    message = refused(with_value(paper, key, value))
    assert message.startswith(f"params.yaml: {key} must be ") and message.endswith(f"got {value!r}")


@pytest.mark.parametrize("key", ["t1.inverse.cma_sigma", "t2.ppo.clip_coef", "t2.inverse.ma_lfl.rollouts",
                                 "t2_lola.ppo.lola_eta", "t2_lola", "t3.ppo.normalizer_episodes", "t3"])
def test_a_missing_key_is_named(paper, key):
    params = copy.deepcopy(paper)
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        node = node[part]
    del node[leaf]
    assert refused(params) == f"params.yaml: {key}: missing key"


def test_every_problem_gets_its_own_line(paper):
    params = with_value(with_value(paper, "t1.gamma", 2.0), "t3.ppo.hidden_sise", 8)
    assert refused(params).splitlines() == ["params.yaml: t1.gamma must be a number in (0, 1), got 2.0",
                                            "params.yaml: t3.ppo.hidden_sise: unknown key"]


# --------------------------------------------------------------------------------------------
# The holes of the old validator, written as YAML
# --------------------------------------------------------------------------------------------


def test_a_misspelt_key_next_to_the_real_one_is_caught(tmp_path):
    path = write_variant(tmp_path, r"^(    cma_generations: 60\n)", r"\1    cma_generatoins: 50\n")
    with pytest.raises(ConfigError) as error:
        load_params(path)
    assert str(error.value) == f"{path}: t2.inverse.cma_generatoins: unknown key"


def test_a_repeated_key_is_caught(tmp_path):
    path = write_variant(tmp_path, r"^(    num_updates: 200 .*\n)", r"\1    num_updates: 300\n")
    with pytest.raises(ConfigError, match="duplicate key 'num_updates'"):
        load_params(path)


@pytest.mark.parametrize("literal", [".inf", "-.inf", ".nan", ".NaN"])
def test_infinite_and_nan_floats_are_refused(tmp_path, literal):
    path = write_variant(tmp_path, r"^    cma_sigma: 0.3$", f"    cma_sigma: {literal}")  # t1.inverse
    with pytest.raises(ConfigError, match=r"t1\.inverse\.cma_sigma must be a finite number > 0, got (-?inf|nan)$"):
        load_params(path)


def test_scientific_notation_is_read_as_the_float_it_spells(tmp_path):
    assert yaml.safe_load("x: 1e-3") == {"x": "1e-3"}, "YAML 1.1 reads 1e-3 as a string"
    path = write_variant(tmp_path, r"^    learning_rate: 0\.001$", "    learning_rate: 1e-3")  # t2.ppo
    params = load_params(path)
    assert params["t2"]["ppo"]["learning_rate"] == 0.001 and type(params["t2"]["ppo"]["learning_rate"]) is float
    assert params == load_params(PAPER)


@pytest.mark.parametrize("task", ["t2", "t3"])
def test_an_absurd_number_of_updates_is_refused_before_compute(paper, task):
    message = refused(with_value(paper, f"{task}.ppo.num_updates", 1_000_000_000_000))
    assert message == f"params.yaml: {task}.ppo.num_updates must be an integer in [1, 100000], got 1000000000000"


@pytest.mark.parametrize("seed", [2**32, 2**64, -1])
def test_seeds_must_fit_numpy_and_torch(paper, seed):
    message = refused(with_value(paper, "t2.seeds", [0, seed]))
    assert message == (f"params.yaml: t2.seeds must be a list of 1 to 100 distinct integers in [0, 4294967295], "
                       f"got [0, {seed}]")
    assert validate_params(with_value(paper, "t2.seeds", [0, 2**32 - 1]))["t2"]["seeds"] == [0, 2**32 - 1]


def test_a_seed_of_two_to_the_64_in_yaml_is_refused(tmp_path):
    path = write_variant(tmp_path, r"^(t3: &t3\n  seeds: )\[0, 1, 2, 3, 4\]", rf"\1[0, {2**64}]")
    with pytest.raises(ConfigError, match=r"t3\.seeds must be"):
        load_params(path)


def test_t3_mc_is_t3_with_monte_carlo_advantages():
    params = load_params(PAPER)
    variant, t3 = params["t3_mc"], params["t3"]
    assert variant["ppo"]["gae_lambda"] == 1.0 and t3["ppo"]["gae_lambda"] != 1.0
    assert {**variant, "ppo": {**variant["ppo"], "gae_lambda": t3["ppo"]["gae_lambda"]}} == t3


def test_t3_mc_refuses_bootstrapped_advantages(tmp_path):
    path = write_variant(tmp_path, r"^(    gae_lambda: )1\.0(  .*# the walkers' critic)", r"\g<1>0.95\2")
    with pytest.raises(ConfigError,
                       match=r"t3_mc\.ppo\.gae_lambda must be 1\.0 \(Monte-Carlo advantages\), got 0\.95"):
        load_params(path)


def test_a_key_overriding_a_merged_one_is_not_a_repeat_but_a_repeated_key_still_is(tmp_path):
    assert load_params(PAPER)["t3_mc"]["ppo"]["gae_lambda"] == 1.0
    path = write_variant(tmp_path, r"^(t3_mc:.*\n  <<: \*t3\n)", r"\1  workers: 1\n  workers: 2\n")
    with pytest.raises(ConfigError, match="duplicate key 'workers'"):
        load_params(path)


# --------------------------------------------------------------------------------------------
# Cross-field checks
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("changes, message", [
    ({"t1.held_out_every": 13}, "t1.num_phases (12) must be ≥ t1.held_out_every (13)"),
    ({"t2.ppo.num_updates": 7}, "t2.ppo.num_updates (7) must be ≥ 2 × t2.inverse.held_out_every (4)"),
    ({"t3.ppo.num_updates": 5}, "t3.ppo.num_updates (5) must be ≥ 2 × t3.inverse.held_out_every (4)"),
    ({"t3.inverse.warm_up_fraction": 0.89, "t3.ppo.num_updates": 10},
     "t3.inverse.warm_up_fraction (0.89) leaves no fit or no held-out pair of 10 updates"),
    ({"t3.inverse.validation_stride": 1, "t3.inverse.fit_pair_stride": 1},
     "t3.inverse.validation_stride (1): t3.inverse.fit_pair_stride 1 leaves none of the 52 fit pairs unfitted for "
     "validation"),
    ({"t2.inverse.validation_stride": 2, "t2.inverse.replay_linearisations": 0},
     "t2.inverse.validation_stride needs t2.inverse.replay_linearisations ≥ 1 (got 0)"),
    ({"t2.ppo.num_steps": 30}, "t2.ppo.num_steps (30) must be a multiple of t2.ppo.max_cycles (25)"),
    ({"t2.ppo.max_cycles": 20}, "t2.ppo.num_steps (25) must be a multiple of t2.ppo.max_cycles (20)"),
    ({"t2.ppo.num_minibatches": 7}, "t2.ppo.num_minibatches (7) must divide t2.ppo.num_envs × t2.ppo.num_steps (1600)"),
    ({"t2_lola.ppo.num_steps": 30},
     "t2_lola.ppo.num_steps (30) must be a multiple of t2_lola.ppo.max_cycles (25)"),
    ({"t2.ppo.num_envs": 4096, "t2.ppo.num_steps": 1000},
     "t2.ppo.num_envs × t2.ppo.num_steps (4096000) must be ≤ 1000000 env-steps"),
    ({"t3.ppo.episodes_per_update": 1024, "t3.ppo.max_cycles": 10_000},
     "t3.ppo.episodes_per_update × t3.ppo.max_cycles (10240000) must be ≤ 1000000 env-steps"),
])
def test_a_cross_field_violation_names_both_keys(paper, changes, message):
    params = paper
    for key, value in changes.items():
        params = with_value(params, key, value)
    assert refused(params).startswith(f"params.yaml: {message}")


def test_the_smallest_consistent_budgets_pass(paper):
    params = with_value(with_value(paper, "t2.ppo.num_updates", 8), "t1.num_phases", 4)
    validate_params(params)


# --------------------------------------------------------------------------------------------
# Every pipeline stage validates the whole file before it runs its notebook
# --------------------------------------------------------------------------------------------


def test_the_notebook_runner_stops_on_a_bad_file_before_running_the_notebook(tmp_path):
    """A typo in t3 stops even a t1 stage: the notebook path does not exist, so the run can only fail with the
    key in its message if validation comes first."""
    path = write_variant(tmp_path, r"^    mc_samples: 16", "    mc_sampels: 16")
    output = tmp_path / "out" / "seed_0.ipynb"
    result = subprocess.run(
        [sys.executable, "-m", "ilola_lib.pipeline.notebook_runner", str(tmp_path / "missing_t1.ipynb"), str(output),
         "--params", str(path), "-p", "seed", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode != 0
    assert "t3.inverse.mc_sampels: unknown key" in result.stderr
    assert "missing_t1" not in result.stderr and not output.parent.exists()


def test_the_notebook_runner_reads_params_yaml_of_the_working_directory_by_default(tmp_path, monkeypatch):
    write_variant(tmp_path, r"^  grid_size: 4 ", "  grid_size: 40 ")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        notebook_runner.main(["missing.ipynb", "out.ipynb"])
    assert "t1.grid_size must be an integer in [2, 6], got 40" in str(exit_info.value.code)
    assert not (tmp_path / "out.ipynb").exists()


def test_the_command_line_check_exits_non_zero_naming_the_key(tmp_path, capsys):
    from ilola_lib.pipeline.config import main

    bad = tmp_path / "params.yaml"
    bad.write_text(PAPER.read_text().replace("cma_generations: 100", "cma_generatoins: 100"))
    assert main([str(PAPER)]) == 0
    assert main([str(bad)]) == 1
    assert "t1.inverse.cma_generatoins: unknown key" in capsys.readouterr().err
