"""The held-out protocol: the warm-up rule and Stage B's validation pairs."""

import pytest

from ilola_lib.core.protocol import analysed_pairs, held_out_pairs, validation_pairs


def test_validation_pairs_are_fit_pairs_never_fitted_nor_held_out():
    pairs, fit, held = analysed_pairs(40, 4, 3, warm_up_fraction=0.25)
    validation = validation_pairs(40, 4, 3, 0.25, 2)
    unfitted = [k for k in range(10, 40) if k % 4 != 3 and k not in pairs[fit]]
    assert list(validation) == unfitted[::2] and not set(validation) & set(pairs)
    assert len(validation_pairs(40, 4, 3, 0.25, None)) == 0
    with pytest.raises(ValueError, match="leaves none of the 30 fit pairs unfitted"):
        validation_pairs(40, 4, 1, 0.0, 1)


def test_warm_up_rule_leaves_early_pairs_out_of_fit_and_score():
    pairs, fit, held = analysed_pairs(20, 4, 1, warm_up_fraction=0.3)
    assert pairs.min() == 6 and set(pairs[held]) == {7, 11, 15, 19} and 6 in pairs[fit]
    everything, _, _ = analysed_pairs(20, 4, 1)
    assert everything.min() == 0
    with pytest.raises(ValueError, match="warm-up"):
        analysed_pairs(8, 4, 1, warm_up_fraction=0.9)


def test_held_out_pairs_follow_the_protocol_and_the_warm_up_rule():
    assert held_out_pairs(8, 4, 0.0).tolist() == [3, 7]
    assert held_out_pairs(8, 4, 0.3).tolist() == [3, 7]  # the cut is k < ceil(2.4) = 3
    assert held_out_pairs(8, 4, 0.5).tolist() == [7]
    pairs, _, held = analysed_pairs(40, 4, 3, warm_up_fraction=0.25)
    assert held_out_pairs(40, 4, 0.25).tolist() == pairs[held].tolist()
