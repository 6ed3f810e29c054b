import numpy as np
import pytest
import torch

from ilola_lib.tasks.t1.gridworld import make_gridworld
from ilola_lib.tasks.t1.tabular import DTYPE, GameTensors


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
