"""Probability <-> points, and the score bands (DESIGN section 3).

The model speaks in margins: the log-odds of *bad* that XGBoost's
``binary:logistic`` adds up before the sigmoid. The score speaks in points of
the odds of *good*, so ln(odds of good) = -margin and

    score = offset + factor * ln(odds of good) = offset - factor * margin.

Because that map is affine, any exact additive split of the margin
(base + one term per dimension) is an exact additive split of the score.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from trustscore.bands import BAND_NAMES, BANDS
from trustscore.params import Scale

FloatArray = npt.NDArray[np.float64]


def points(scale: Scale, bias: float, group_margins: npt.ArrayLike) -> tuple[float, FloatArray]:
    """Turn an exact margin split into an exact points split.

    ``bias + group_margins.sum(1)`` is the margin, so with
    ``base_points = offset - factor * bias`` and ``points = -factor * group_margins``,
    ``base_points + points.sum(1) == scale.score_from_margin(margin)`` up to float
    rounding. Positive points raise the score.
    """
    g = np.asarray(group_margins, dtype=np.float64)
    return scale.offset - scale.factor * float(bias), -scale.factor * g


# the lowest rounded score of every band but the first
_CUTS: Final = np.array([b.low for b in BANDS[1:]], dtype=np.float64)


def round_score(score: npt.ArrayLike) -> FloatArray:
    """Round half up, the way a score is printed (numpy's rint would round 599.5 to 600
    but 598.5 to 598; a printed score and its band must never disagree)."""
    return np.floor(np.asarray(score, dtype=np.float64) + 0.5)


def final_score(
    model_score: npt.ArrayLike, penalty: npt.ArrayLike, scale: Scale
) -> tuple[FloatArray, FloatArray]:
    """The one home of DESIGN 4's rule: final = clip(model score - penalty, low, high),
    rounded half up as it is printed. Returns (final, clipping), where clipping is
    what the scale's ends added (+) or took (-): final = model - penalty + clipping,
    to rounding."""
    raw = np.asarray(model_score, dtype=np.float64) - np.asarray(penalty, dtype=np.float64)
    clipped = np.clip(raw, scale.low, scale.high)
    return round_score(clipped), clipped - raw


def band_of(scores: npt.ArrayLike) -> list[str]:
    """The band of each score, judged on the rounded score. Scores outside 350..950
    fall in the end bands, so an unclipped model score has a band too."""
    s = round_score(scores)
    if np.isnan(s).any():
        raise ValueError("band_of: a score is NaN")
    idx = np.searchsorted(_CUTS, s, side="right")
    return [BAND_NAMES[i] for i in idx.tolist()]


def band_expr(score: pl.Expr | str) -> pl.Expr:
    """The same bands as :func:`band_of`, as a Polars expression (String; null stays null)."""
    s = pl.col(score) if isinstance(score, str) else score
    rounded = (s.cast(pl.Float64) + 0.5).floor()
    # the band's index is how many cuts the rounded score reaches
    index = pl.lit(0, dtype=pl.Int8)
    for cut in _CUTS.tolist():
        index = index + (rounded >= cut).cast(pl.Int8)
    return index.replace_strict(dict(enumerate(BAND_NAMES)), return_dtype=pl.String)
