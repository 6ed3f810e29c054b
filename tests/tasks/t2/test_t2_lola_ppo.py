"""LOLA-PPO learners on simple_spread: η = 0 is independent PPO bit for bit, η > 0 changes the learning."""

from __future__ import annotations

import dataclasses

import numpy as np
from test_t2_ppo import tiny_config

from ilola_lib.tasks.t2.ppo import LolaPPOConfig, train_ppo


def lola_config(eta: float) -> LolaPPOConfig:
    return LolaPPOConfig(**{field.name: getattr(tiny_config(), field.name)
                            for field in dataclasses.fields(tiny_config())}, lola_eta=eta)


def test_lola_ppo_with_eta_zero_is_independent_ppo_bit_for_bit_and_eta_changes_the_learning():
    independent, zero, coupled = (train_ppo(tiny_config()), train_ppo(lola_config(0.0)),
                                  train_ppo(lola_config(1e-2)))
    np.testing.assert_array_equal(zero.trace.actor_params, independent.trace.actor_params)
    np.testing.assert_array_equal(zero.trace.actions, independent.trace.actions)
    assert zero.trace.metadata["learner"] == "lola_ppo" and independent.trace.metadata["learner"] == "independent_ppo"
    assert coupled.trace.metadata["config"]["lola_eta"] == 1e-2
    assert not np.array_equal(coupled.trace.actor_params[1], independent.trace.actor_params[1])
    ratios = [entry["lola_norm_ratio"] for entry in coupled.history]
    assert all(np.isfinite(ratios)) and min(ratios) > 0
    assert "lola_norm_ratio" not in independent.history[0]
