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
