"""Operations on two-agent tabular Markov games (:class:`~ilola_lib.core.protocols.TabularMarkovGame`)."""

from __future__ import annotations

import torch


def marginalise_other(values: torch.Tensor, policies: torch.Tensor, agent: int) -> torch.Tensor:
    """``E_{a_-i~π_-i}[values(s, a_0, a_1, …)]`` as ``[S, A_i, …]`` for ``values [S, A, A, …]``."""
    if agent == 0:
        return torch.einsum("sab...,sb->sa...", values, policies[1])
    return torch.einsum("sab...,sa->sb...", values, policies[0])
