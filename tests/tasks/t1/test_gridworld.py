import numpy as np
import pytest

from ilola_lib.inverse.ma_lfl import identifiability_margin
from ilola_lib.tasks.t1.gridworld import (
    FEATURE_NAMES,
    TRUE_WEIGHTS,
    direct_reward,
    make_gridworld,
    transition_feature_parts,
)


@pytest.mark.parametrize("size", [2, 3])
def test_true_weights_reproduce_the_game_reward_everywhere(size):
    game = make_gridworld(size, 0.9)
    rewards = game.rewards()
    for agent in range(2):
        for state in range(game.num_states):
            for a0 in range(game.num_actions):
                for a1 in range(game.num_actions):
                    assert rewards[agent, state, a0, a1] == pytest.approx(
                        direct_reward(game, agent, state, a0, a1), abs=1e-12)


def test_transitions_are_deterministic_moves_inside_the_grid():
    game = make_gridworld(3, 0.9)
    assert game.next_state.min() >= 0 and game.next_state.max() < game.num_states
    # both agents in the top-left corner: "up" bumps, "right" moves one column
    corner = 0 * game.num_cells + 0
    assert game.next_state[corner, 1, 1] == corner
    assert game.next_state[corner, 4, 0] == 1 * game.num_cells + 0
    assert game.initial_distribution.sum() == pytest.approx(1.0)


def test_feature_parts_recompose_the_features():
    game = make_gridworld(3, 0.9)
    next_part, state_action = transition_feature_parts(game)
    recomposed = next_part[:, game.next_state] + state_action
    np.testing.assert_array_equal(recomposed, game.features)


def test_chosen_features_are_identifiable_and_a_constant_step_cost_is_not():
    game = make_gridworld(3, 0.9)
    uniform = np.full((2, game.num_states, game.num_actions), 1.0 / game.num_actions)
    for agent in range(2):
        assert identifiability_margin(game, uniform, agent) > 0.05
    constant = np.ones(game.features.shape[:-1] + (1,))
    shaped = type(game)(game.size, game.gamma, game.goals, game.next_state,
                        np.concatenate([game.features, constant], axis=-1),
                        np.concatenate([game.true_weights, np.zeros((2, 1))], axis=-1), game.initial_distribution)
    assert identifiability_margin(shaped, uniform, 0) < 1e-8
    assert len(FEATURE_NAMES) == len(TRUE_WEIGHTS)
