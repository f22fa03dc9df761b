"""Discrimination and calibration metrics, in plain numpy.

``y`` is the outcome, 1 = bad (defaulted), 0 = good; ``p`` a probability of bad
or any score that rises with risk (AUC, Gini and KS only need its order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from trustscore.bands import BAND_NAMES

FloatArray = npt.NDArray[np.float64]


def _labels_and_scores(y: npt.ArrayLike, p: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    ya = np.asarray(y, dtype=np.float64).ravel()
    pa = np.asarray(p, dtype=np.float64).ravel()
    if ya.shape != pa.shape:
        raise ValueError(f"y has {ya.size} values but p has {pa.size}")
    if not np.isin(ya, (0.0, 1.0)).all():
        raise ValueError("y must hold only 0 (good) and 1 (bad)")
    if np.isnan(pa).any():
        raise ValueError("p holds NaN")
    return ya, pa


def _both_classes(y: FloatArray, what: str) -> tuple[int, int]:
    n_bad = int(y.sum())
    n_good = y.size - n_bad
    if n_bad == 0 or n_good == 0:
        raise ValueError(f"{what} needs both goods and bads, got {n_good} goods and {n_bad} bads")
    return n_good, n_bad


def average_ranks(values: FloatArray) -> FloatArray:
    """Ranks 1..n, ties sharing the mean of the ranks they span."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    # a new run of equal values starts wherever the sorted value changes
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], values.size]  # exclusive
    mean_rank = (starts + 1 + ends) / 2.0  # mean of ranks starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def auc(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Area under the ROC curve: the chance a random bad outranks a random good,
    ties counting half (the Mann-Whitney U statistic over n_good * n_bad)."""
    ya, pa = _labels_and_scores(y, p)
    n_good, n_bad = _both_classes(ya, "AUC")
    rank_sum_bad = float(average_ranks(pa)[ya == 1].sum())
    u = rank_sum_bad - n_bad * (n_bad + 1) / 2.0
    return u / (n_good * n_bad)


def gini(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """The Gini coefficient (accuracy ratio): 2 * AUC - 1."""
    return 2.0 * auc(y, p) - 1.0


def ks(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Kolmogorov-Smirnov: the largest gap between the bads' and the goods' cumulative
    distributions of p, judged only between distinct values of p (a tie cannot be split)."""
    ya, pa = _labels_and_scores(y, p)
    n_good, n_bad = _both_classes(ya, "KS")
    order = np.argsort(pa, kind="mergesort")
    ps, ys = pa[order], ya[order]
    cum_bad = np.cumsum(ys)
    cum_good = np.cumsum(1.0 - ys)
    # the last position of each run of equal p: where a threshold can fall
    last = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True])
    gap = np.abs(cum_bad[last] / n_bad - cum_good[last] / n_good)
    return float(gap.max())


def brier(y: npt.ArrayLike, p: npt.ArrayLike) -> float:
    """Mean squared error of the probability of bad."""
    ya, pa = _labels_and_scores(y, p)
    if ya.size == 0:
        raise ValueError("Brier score of no rows")
    return float(np.mean((pa - ya) ** 2))


def log_loss(y: npt.ArrayLike, p: npt.ArrayLike, eps: float = 1e-15) -> float:
    """Mean negative log-likelihood, with p clipped to [eps, 1 - eps] so a confident
    miss costs a lot but not infinity."""
    ya, pa = _labels_and_scores(y, p)
    if ya.size == 0:
        raise ValueError("log loss of no rows")
    pc = np.clip(pa, eps, 1.0 - eps)
    return float(-np.mean(ya * np.log(pc) + (1.0 - ya) * np.log1p(-pc)))


class BandRow(TypedDict):
    band: str
    count: int
    bads: int
    bad_rate: float | None


def band_table(
    y: npt.ArrayLike, bands: Sequence[str], order: Sequence[str] = BAND_NAMES
) -> list[BandRow]:
    """Count, bads and bad rate per band, over labelled rows only.

    ``y`` is 1/0 with NaN for the unlabelled (outcome not yet known), who are left
    out. Rows come in ``order`` (every band, empty ones with bad_rate None), then
    any band not in ``order``, sorted.
    """
    ya = np.asarray(y, dtype=np.float64).ravel()
    ba = np.asarray(bands, dtype=object).ravel()
    if ya.shape != ba.shape:
        raise ValueError(f"y has {ya.size} values but bands has {ba.size}")
    labelled = ~np.isnan(ya)
    if not np.isin(ya[labelled], (0.0, 1.0)).all():
        raise ValueError("y must hold only 0 (good), 1 (bad) or NaN (unknown)")
    ya, ba = ya[labelled], ba[labelled]
    extra = sorted({str(b) for b in ba} - set(order))
    rows: list[BandRow] = []
    for name in [*order, *extra]:
        in_band = ba == name
        count = int(in_band.sum())
        bads = int(ya[in_band].sum())
        rows.append(
            BandRow(band=name, count=count, bads=bads, bad_rate=bads / count if count else None)
        )
    return rows
