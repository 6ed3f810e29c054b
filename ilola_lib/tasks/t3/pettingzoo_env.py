"""The one place T3 imports its third-party environment: PettingZoo's SISL MultiWalker on real Box2D.

A missing Box2D fails loudly: there is no stand-in environment.
"""

from __future__ import annotations


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
