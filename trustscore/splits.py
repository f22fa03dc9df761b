"""Development / holdout and early-stopping splits: stratified by label, the same
for the same labels and seed."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _stratified_take(
    idx: IntArray, labels: FloatArray, fraction: float, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Split ``idx`` into (rest, taken), ``fraction`` of each label taken at random."""
    taken: list[IntArray] = []
    for label in (0.0, 1.0):
        members = idx[labels == label]
        members = members[rng.permutation(members.size)]
        k = math.floor(fraction * members.size + 0.5)
        if members.size >= 2 and fraction > 0:
            # both sides keep at least one of each label when there are two to share
            k = min(max(k, 1), members.size - 1)
        taken.append(members[:k])
    take = np.sort(np.concatenate(taken)).astype(np.int64)
    rest = np.setdiff1d(idx, take).astype(np.int64)
    return rest, take


def check_labels(y: npt.ArrayLike) -> FloatArray:
    ya = np.asarray(y, dtype=np.float64).ravel()
    if not np.isin(ya, (0.0, 1.0)).all():
        raise ValueError("labels must be 0 (good) or 1 (bad); drop the unlabelled first")
    return ya


def split_dev_holdout(
    y: npt.ArrayLike, seed: int, holdout: float = 0.2
) -> tuple[IntArray, IntArray]:
    """(dev_idx, hold_idx): positions into ``y``, sorted, stratified by label,
    the same for the same labels and seed."""
    if not 0 <= holdout < 1:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    ya = check_labels(y)
    # a seed sequence per purpose, so the holdout and the early-stopping split are
    # independent draws even with the same seed
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    return _stratified_take(np.arange(ya.size, dtype=np.int64), ya, holdout, rng)


def split_es(
    dev_idx: npt.ArrayLike, y: npt.ArrayLike, seed: int, fraction: float
) -> tuple[IntArray, IntArray]:
    """(train_idx, es_idx): the development rows ``dev_idx`` (positions into ``y``) split
    for early stopping, stratified by label, sorted, deterministic."""
    if not 0 < fraction < 1:
        raise ValueError(f"early-stopping fraction must be in (0, 1), got {fraction}")
    ya = check_labels(y)
    idx = np.asarray(dev_idx, dtype=np.int64).ravel()
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    return _stratified_take(idx, ya[idx], fraction, rng)
