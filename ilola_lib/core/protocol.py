"""The held-out protocol (design §6): which update pairs are fitted and which are held out."""

from __future__ import annotations

import numpy as np


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



def first_analysed_pair(num_pairs: int, warm_up_fraction: float) -> int:
    """The warm-up rule: pairs ``k < warm_up_fraction · K`` are left out of every fit and every score."""
    return int(np.ceil(warm_up_fraction * num_pairs))


def held_out_pairs(num_pairs: int, held_out_every: int, warm_up_fraction: float = 0.0) -> np.ndarray:
    """The held-out pairs every method is scored on: those of :func:`split_pairs` after the warm-up rule's cut."""
    _, held = split_pairs(num_pairs, held_out_every)
    return held[held >= first_analysed_pair(num_pairs, warm_up_fraction)]


def analysed_pairs(num_pairs: int, held_out_every: int, fit_pair_stride: int,
                   warm_up_fraction: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs analysed — every held-out pair and every ``fit_pair_stride``-th fit pair after the warm-up
    (:func:`first_analysed_pair`), in order — and the positions of the fit and held-out ones among them."""
    fit_pairs, _ = split_pairs(num_pairs, held_out_every)
    first = first_analysed_pair(num_pairs, warm_up_fraction)
    fit_pairs = fit_pairs[fit_pairs >= first]
    held_pairs = held_out_pairs(num_pairs, held_out_every, warm_up_fraction)
    if not len(fit_pairs) or not len(held_pairs):
        raise ValueError(f"the warm-up rule (pairs k < {first} left out) leaves no fit or no held-out pair")
    pairs = np.sort(np.concatenate([fit_pairs[::fit_pair_stride], held_pairs]))
    return pairs, np.flatnonzero(~np.isin(pairs, held_pairs)), np.flatnonzero(np.isin(pairs, held_pairs))


def validation_pairs(num_pairs: int, held_out_every: int, fit_pair_stride: int, warm_up_fraction: float,
                     validation_stride: int | None) -> np.ndarray:
    """Stage B's validation pairs: every ``validation_stride``-th of the fit pairs after the warm-up that the
    ``fit_pair_stride`` budget leaves unfitted — never fitted and never scored as held out. Empty when
    ``validation_stride`` is ``None``; ``ValueError`` when it is set and no such pair exists."""
    if validation_stride is None:
        return np.zeros(0, dtype=int)
    fit_pairs, _ = split_pairs(num_pairs, held_out_every)
    fit_pairs = fit_pairs[fit_pairs >= first_analysed_pair(num_pairs, warm_up_fraction)]
    unfitted = np.setdiff1d(fit_pairs, fit_pairs[::fit_pair_stride])
    if not len(unfitted):
        raise ValueError(f"fit_pair_stride {fit_pair_stride} leaves none of the {len(fit_pairs)} fit pairs unfitted "
                         "for validation")
    return unfitted[::validation_stride]
