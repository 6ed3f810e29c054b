"""The one place that imports third-party PettingZoo environments.

PettingZoo 1.27 dropped ``pettingzoo.mpe`` (MPE lives in ``mpe2``) and its next API renames
environments again, so every other module asks for environments here. A missing package fails
loudly: there is no stand-in environment.
"""

from __future__ import annotations


def make_simple_spread(**kwargs):
    """``mpe2.simple_spread_v3.parallel_env(**kwargs)`` (N agents, discrete actions by default)."""
    from mpe2 import simple_spread_v3

    return simple_spread_v3.parallel_env(**kwargs)


def make_multiwalker(**kwargs):
    """``pettingzoo.sisl.multiwalker_v9.parallel_env(**kwargs)`` on the real Box2D physics."""
    try:
        import Box2D  # noqa: F401
    except ImportError as err:  # pragma: no cover - exercised only on a broken install
        raise ImportError(
            "MultiWalker needs Box2D (install 'pettingzoo[sisl]'); no stand-in environment is used"
        ) from err
    from pettingzoo.sisl import multiwalker_v9

    return multiwalker_v9.parallel_env(**kwargs)
