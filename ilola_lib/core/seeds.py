"""Named random streams: every random draw of the artifact comes from a seed and a stream name.

A stream's key is ``[seed, STREAMS[name] + index]`` for ``numpy.random.default_rng`` / ``SeedSequence``;
``index`` numbers independent jobs of one stream (T1's analyses of a seed are jobs 1–5 of
``"t1_analysis"``). The integers are part of the results: changing one changes every number drawn from it.
The PPO learners' own streams come from :func:`learner_seeds`.
"""

from __future__ import annotations

import numpy as np
import torch

STREAMS = {
    "t1_observer_sampling": 0,   # episodes the T1 observer samples from the MA-SPI learners
    "t1_analysis": 0,            # + job index ≥ 1: one stream per independent T1 analysis
    "t2_trace_analysis": 2,      # states sampled per pair, random ω draws of KL(rand)
    "t3_trace_analysis": 3,
    "monte_carlo_kl": 4,         # actions drawn by the Monte-Carlo KL
    "shadow_critic": 5,          # the observer's shadow critic: initialisation and minibatch order
    "replay_minibatches": 6,     # the observer's minibatch order of the PPO replay
    "true_reward_replications": 7,  # + replication index ≥ 1: training seeds of the induced return's noise floor
    "t3_warm_up_states": 8,      # states sampled on the held-out pairs before T3's warm-up cut
}
LEARNER_STREAMS = ("normalizer", "env", "init", "actions", "minibatches")
EVALUATION_FIRST_EPISODE_SEED = 1_000_000  # evaluation episodes use seeds from here on, apart from training
SOFT_Q_PAIR_STRIDE = 100_003  # the soft-Q rollouts of pair k use seed · stride + k


def stream_key(seed: int, name: str, index: int = 0) -> list[int]:
    """``[seed, STREAMS[name] + index]``."""
    return [int(seed), STREAMS[name] + index]


def stream_rng(seed: int, name: str, index: int = 0) -> np.random.Generator:
    """``numpy.random.default_rng(stream_key(seed, name, index))``."""
    return np.random.default_rng(stream_key(seed, name, index))


def stream_torch_generator(seed: int, name: str) -> torch.Generator:
    """A torch generator seeded with the first 32-bit word of the stream's ``SeedSequence``."""
    state = np.random.SeedSequence(stream_key(seed, name)).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def replication_training_seed(seed: int, replication: int) -> int:
    """The PPO training seed of replication ``r ≥ 1`` of seed ``seed``'s learners (replication 0 is ``seed``):
    the first 32-bit word of stream ``"true_reward_replications"``'s ``SeedSequence``, index ``r``."""
    if replication < 1:
        raise ValueError(f"replication {replication}: replication 0 is the learners' own run with seed {seed}")
    return int(np.random.SeedSequence(stream_key(seed, "true_reward_replications", replication)).generate_state(1)[0])


def soft_q_generator(seed: int, pair: int) -> torch.Generator:
    """The torch generator of pair ``k``'s Monte-Carlo soft-Q rollouts."""
    return torch.Generator().manual_seed(int(seed) * SOFT_Q_PAIR_STRIDE + int(pair))


def learner_seeds(seed: int) -> dict[str, int]:
    """Independent sub-seeds (``numpy.random.SeedSequence(seed)``) of a PPO run's streams, by name."""
    states = np.random.SeedSequence(seed).generate_state(len(LEARNER_STREAMS), dtype=np.uint32)
    return {name: int(state) for name, state in zip(LEARNER_STREAMS, states)}


def episode_seeds(seed: int, phase: int, count: int) -> list[int]:
    """Reset seeds of the ``count`` episodes of one phase (distinct across phases and runs)."""
    states = np.random.SeedSequence([seed, phase]).generate_state(count, dtype=np.uint32)
    return [int(s) for s in states]
