"""The one place T2 imports its third-party environment: ``mpe2``'s simple_spread.

PettingZoo 1.27 dropped ``pettingzoo.mpe`` (MPE lives in ``mpe2``) and its next API renames
environments again. A missing package fails loudly: there is no stand-in environment.
"""

from __future__ import annotations


def make_simple_spread(**kwargs):
    """``mpe2.simple_spread_v3.parallel_env(**kwargs)`` (N agents, discrete actions by default)."""
    from mpe2 import simple_spread_v3

    return simple_spread_v3.parallel_env(**kwargs)
