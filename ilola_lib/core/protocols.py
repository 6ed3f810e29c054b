"""The interfaces the inverse methods program against (``typing.Protocol``; structural, nothing to inherit).

* :class:`TabularMarkovGame` — a two-agent game with exact tabular dynamics (T1's GridWorld is one).
* :class:`LearnerModel` — predicts the next parameters from a candidate reward (design §5).
* :class:`Divergence` — the policy-space loss between observed and predicted next policies (design §6).
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import torch


class TabularMarkovGame(Protocol):
    """A two-agent Markov game with ``S`` states, ``A`` actions per agent and ``q`` reward features."""

    gamma: float
    next_state: np.ndarray  # [S, A, A] int: the successor of (s, a_0, a_1)
    features: np.ndarray  # [N, S, A, A, q]

    @property
    def num_states(self) -> int: ...

    @property
    def num_actions(self) -> int: ...


class LearnerModel(Protocol):
    """``θ̂^{k+1}(ω, nuisance)`` for a batch of candidates, on a subset of update pairs."""

    def predict(self, omega: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor: ...

    def subset(self, pairs: Sequence[int]) -> "LearnerModel": ...


class Divergence(Protocol):
    """``[P, K, N]`` divergence of observed next policies from predicted parameters ``[P, K, N, d]``."""

    def __call__(self, predicted: torch.Tensor) -> torch.Tensor: ...

    def subset(self, pairs: Sequence[int]) -> "Divergence": ...
