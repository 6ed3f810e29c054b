"""Learning traces of tabular learners (design §3).

A :class:`TabularTrace` holds, for phases ``k = 0..K``: the parameter snapshots ``θ^k`` (softmax
logits ``[K+1, N, S, A]``, "oracle parameters"), the policies the observer uses as *observed*
(exact, or estimated from sampled episodes) and the state weights ``w^k(s)`` over which every
policy-space quantity for phase ``k`` is averaged (the normalised discounted occupancy for exact
traces, the empirical state frequencies of ``D_k`` for sampled ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ilola_lib.core.io import load_arrays, save_arrays

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
