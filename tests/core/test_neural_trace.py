"""Saving and loading PPO learning traces: exact round trip, clear errors on damaged files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ilola_lib.core.io import save_arrays
from ilola_lib.core.neural_trace import (
    METADATA_KEY,
    NeuralTrace,
    load_neural_trace,
    save_neural_trace,
)
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t2.ppo import PPOConfig, train_ppo

PAPER_T2 = load_params(Path(__file__).resolve().parents[2] / "params.yaml")["t2"]


@pytest.fixture(scope="module")
def trace() -> NeuralTrace:
    config = PPOConfig(**{**PAPER_T2["ppo"], "num_envs": 3, "num_steps": 25, "num_updates": 2, "update_epochs": 1,
                          "num_minibatches": 3, "hidden_size": 8, "normalizer_envs": 2, "normalizer_steps": 25},
                       local_ratio=PAPER_T2["local_ratio"], seed=1)
    return train_ppo(config).trace


@pytest.fixture
def saved(trace, tmp_path):
    path = tmp_path / "trace.npz"
    save_neural_trace(trace, path)
    return path


def test_round_trip_is_exact(trace, saved):
    loaded = load_neural_trace(saved)
    for name, array in trace.arrays().items():
        assert loaded.arrays()[name].dtype == array.dtype, name
        np.testing.assert_array_equal(loaded.arrays()[name], array, err_msg=name)
    assert loaded.metadata == trace.metadata
    assert loaded.metadata["config"]["seed"] == 1
    assert set(loaded.metadata["package_versions"]) >= {"torch", "numpy", "mpe2", "pettingzoo"}


def test_episode_returns_recompute_the_learning_curve(trace):
    true = np.tile(np.asarray(trace.metadata["true_weights"]), (trace.num_agents, 1))
    returns = trace.episode_returns(true)
    curve = trace.metadata["learning_curve"]["episode_return"]
    np.testing.assert_allclose(returns[:-1], curve, rtol=1e-5)
    np.testing.assert_allclose(returns[-1], trace.metadata["final_episode_return"], rtol=1e-5)


def test_truncated_file_raises(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot read trace file"):
        load_neural_trace(saved)


def test_corrupted_bytes_raise(saved):
    data = bytearray(saved.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = bytes(64)  # zero a block inside the compressed arrays
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="cannot read trace file"):
        load_neural_trace(saved)


def test_missing_array_raises(trace, tmp_path):
    path = tmp_path / "partial.npz"
    arrays = trace.arrays()
    del arrays["actions"]
    save_arrays(path, {**arrays, METADATA_KEY: np.array(json.dumps(trace.metadata))})
    with pytest.raises(ValueError, match="actions"):
        load_neural_trace(path)


def test_inconsistent_shapes_raise(trace):
    arrays = trace.arrays()
    arrays["actions"] = arrays["actions"][:, :-1]
    with pytest.raises(ValueError, match="actions"):
        NeuralTrace(**arrays, metadata=trace.metadata)


def test_unreadable_metadata_raises(trace, tmp_path):
    path = tmp_path / "bad_metadata.npz"
    save_arrays(path, {**trace.arrays(), METADATA_KEY: np.array("{not json")})
    with pytest.raises(ValueError, match="metadata"):
        load_neural_trace(path)
