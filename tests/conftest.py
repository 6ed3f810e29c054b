import numpy as np
import pytest
import torch

from ilola_lib.tasks.t1.gridworld import make_gridworld
from ilola_lib.tasks.t1.tabular import DTYPE, GameTensors

# The longest test first: with `pytest -n 2` (make test) it runs beside all the others instead of after them.
LONGEST_FIRST = "tests/test_end_to_end.py::test_dvc_repro_and_book_build_on_the_smoke_profile"


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.nodeid != LONGEST_FIRST)


@pytest.fixture(scope="session")
def small_game():
    """The T1 game on a 2x2 grid (16 joint states): exact computations are instant."""
    return make_gridworld(2, 0.9)


@pytest.fixture(scope="session")
def small_tensors(small_game):
    return GameTensors(small_game)


@pytest.fixture
def random_logits(small_game):
    generator = torch.Generator().manual_seed(0)
    return 0.7 * torch.randn(2, small_game.num_states, small_game.num_actions, dtype=DTYPE, generator=generator)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def tiny_neural_trace(seed: int = 0, num_agents: int = 2, num_features: int = 3, phases: int = 9,
                      steps: int = 2, envs: int = 3):
    """A categorical :class:`~ilola_lib.core.neural_trace.NeuralTrace` with random reward features (feature 0 also
    carries ``10·k``, the batch index) and one padding step per batch; its policies are placeholders."""
    from ilola_lib.core.neural_trace import NeuralTrace

    generator = np.random.default_rng(seed)
    features = generator.standard_normal((phases, steps, envs, num_agents, num_features))
    features[..., 0] += np.arange(phases)[:, None, None, None] * 10.0
    valid = np.ones((phases, steps, envs), dtype=bool)
    valid[:, -1, 0] = False
    features[:, -1, 0] = 0.0
    return NeuralTrace(
        actor_params=np.zeros((phases, num_agents, 4), dtype=np.float32),
        observations=np.zeros((phases, steps, envs, num_agents, 1), dtype=np.float32),
        actions=np.zeros((phases, steps, envs, num_agents), dtype=np.int64),
        features=features, rewards=np.zeros((phases, steps, envs, num_agents)),
        dones=np.zeros((phases, steps, envs), dtype=bool),
        obs_mean=np.zeros((num_agents, 1), dtype=np.float32), obs_std=np.ones((num_agents, 1), dtype=np.float32),
        reward_weights=generator.standard_normal((num_agents, num_features)),
        metadata={"policy": "categorical", "hidden_size": 2, "num_actions": 2, "seed": seed}, valid=valid)


@pytest.fixture
def make_tiny_trace():
    """:func:`tiny_neural_trace` as a fixture (test modules cannot import one another)."""
    return tiny_neural_trace
