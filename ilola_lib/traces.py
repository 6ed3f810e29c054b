"""Learning traces (design §3) and, for the tabular T1 game, how the observer's data is produced.

A :class:`TabularTrace` holds, for phases ``k = 0..K``: the parameter snapshots ``θ^k`` (softmax
logits ``[K+1, N, S, A]``, "oracle parameters"), the policies the observer uses as *observed*
(exact, or estimated from sampled episodes) and the state weights ``w^k(s)`` over which every
policy-space quantity for phase ``k`` is averaged (the normalised discounted occupancy for exact
traces, the empirical state frequencies of ``D_k`` for sampled ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ilola_lib.envs.gridworld import GridWorldGame
from ilola_lib.io import load_arrays, save_arrays

TRACE_ARRAYS = ("logits", "policies", "state_weights")


@dataclass
class TabularTrace:
    """Observed learning trace of the T1 learners.

    Attributes:
        logits: ``θ^k`` as ``[K+1, N, S, A]``.
        policies: observed ``π^k`` as ``[K+1, N, S, A]`` (rows sum to 1).
        state_weights: ``w^k`` as ``[K+1, S]`` (each sums to 1).
        metadata: JSON-able description (learner, sampling, seed).
    """

    logits: np.ndarray
    policies: np.ndarray
    state_weights: np.ndarray
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        k1, n, s, a = self.logits.shape
        assert self.policies.shape == (k1, n, s, a), f"policies {self.policies.shape} != logits {self.logits.shape}"
        assert self.state_weights.shape == (k1, s), f"state_weights {self.state_weights.shape} != {(k1, s)}"
        assert np.allclose(self.policies.sum(-1), 1.0), "observed policies must be normalised"
        assert np.allclose(self.state_weights.sum(-1), 1.0), "state weights must sum to 1 per phase"

    @property
    def num_phases(self) -> int:
        """``K``: the number of updates (pairs ``k → k+1``)."""
        return self.logits.shape[0] - 1

    def save(self, path) -> None:
        save_arrays(path, {"logits": self.logits, "policies": self.policies,
                           "state_weights": self.state_weights})

    @classmethod
    def load(cls, path, metadata: dict | None = None) -> "TabularTrace":
        arrays = load_arrays(path, required=TRACE_ARRAYS)
        return cls(arrays["logits"], arrays["policies"], arrays["state_weights"], metadata or {})


def split_pairs(num_pairs: int, held_out_every: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Design §6: pair ``k → k+1`` is held out when ``k % held_out_every == held_out_every − 1``.

    Returns ``(fit_pairs, held_out_pairs)`` as index arrays.
    """
    pairs = np.arange(num_pairs)
    held = pairs % held_out_every == held_out_every - 1
    if not held.any() or held.all():
        raise ValueError(f"{num_pairs} update pairs leave no fit or no held-out pair "
                         f"(every {held_out_every}th is held out)")
    return pairs[~held], pairs[held]


def sample_episodes(game: GridWorldGame, policies: np.ndarray, num_episodes: int, horizon: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Roll out joint policies ``[N, S, A]`` from ``μ_0``.

    Returns:
        ``states [B, H]`` and ``actions [B, H, N]`` (int arrays).
    """
    num_agents = policies.shape[0]
    cumulative = np.cumsum(policies, axis=-1)
    states = np.empty((num_episodes, horizon), dtype=np.int64)
    actions = np.empty((num_episodes, horizon, num_agents), dtype=np.int64)
    state = rng.choice(game.num_states, size=num_episodes, p=game.initial_distribution)
    for t in range(horizon):
        states[:, t] = state
        draws = rng.random((num_episodes, num_agents))
        for i in range(num_agents):
            chosen = (draws[:, i, None] > cumulative[i, state]).sum(-1)
            actions[:, t, i] = np.minimum(chosen, game.num_actions - 1)
        state = game.next_state[state, actions[:, t, 0], actions[:, t, 1]]
    return states, actions


def estimate_policies(states: np.ndarray, actions: np.ndarray, num_states: int, num_actions: int,
                      smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """Count-based policy estimate with additive smoothing ``λ``.

    ``π̂_i(a|s) = (n_i(s, a) + λ) / (n(s) + A λ)``; unvisited states get the uniform policy.

    Returns:
        ``policies [N, S, A]`` and the empirical state frequencies ``[S]``.
    """
    num_agents = actions.shape[-1]
    flat_states = states.reshape(-1)
    state_counts = np.bincount(flat_states, minlength=num_states).astype(float)
    counts = np.stack([
        np.bincount(flat_states * num_actions + actions[..., i].reshape(-1),
                    minlength=num_states * num_actions).reshape(num_states, num_actions)
        for i in range(num_agents)
    ]).astype(float)
    policies = (counts + smoothing) / (state_counts[None, :, None] + num_actions * smoothing)
    return policies, state_counts / state_counts.sum()
