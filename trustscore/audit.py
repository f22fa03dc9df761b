"""Fairness on the attributes the model was kept from (DESIGN 1 and 5, ``audit``).

Protected columns (gender, age, ...) are never features, but a score can
still treat their groups differently through the features that go with
them. Per attribute and group: how many persons, their mean score, how many
a cut-off (or a policy's product) approves, the adverse impact ratio (the
group's approval rate over the most favoured group's; below 0.8 fails the
four-fifths rule), and where outcomes are known the bad rate and the AUC
within the group (is the score as good at ranking its members?).

A numeric attribute with more than ``MAX_GROUPS`` values is split into
quintiles of its own values (``[lower, upper)``; the top one closed); a
missing value is a group of its own, ``(missing)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from trustscore.metrics import auc

DEFAULT_CUTOFF: Final = 600  # approve at this final score when no policy says otherwise
FOUR_FIFTHS: Final = 0.8
MAX_GROUPS: Final = 10
QUANTILES: Final = 5
MISSING: Final = "(missing)"
MIN_FOR_AUC: Final = 1  # at least one good and one bad in the group

AUDIT_SCHEMA: Final[dict[str, pl.DataType]] = {
    "attribute": pl.String(),
    "group": pl.String(),
    "persons": pl.Int64(),
    "mean_score": pl.Float64(),
    "approved": pl.Int64(),
    "approval_rate": pl.Float64(),
    "adverse_impact_ratio": pl.Float64(),  # against the named group approved most often
    "four_fifths": pl.String(),  # pass, fail; null when no group is approved
    "labelled": pl.Int64(),
    "bad_rate": pl.Float64(),
    "auc": pl.Float64(),  # within the group, where it has goods and bads
}


def groups_of(values: pl.Series) -> pl.Series:
    """Each person's group: the value as text, a quintile of a many-valued number,
    or the year of a date."""
    if values.dtype.is_temporal():
        return values.dt.year().cast(pl.String).fill_null(MISSING)
    if values.dtype.is_numeric() and values.drop_nulls().n_unique() > MAX_GROUPS:
        x = values.cast(pl.Float64).fill_nan(None)
        known = x.drop_nulls().to_numpy()
        edges = sorted(
            {
                float(q)
                for q in np.quantile(known, np.arange(1, QUANTILES) / QUANTILES, method="lower")
            }
        )
        bounds = [float(known.min()), *[e for e in edges if e > known.min()], float(known.max())]
        labels = []
        for i in range(len(bounds) - 1):
            closing = "]" if i == len(bounds) - 2 else ")"
            labels.append(f"[{bounds[i]:g}, {bounds[i + 1]:g}{closing}")
        cuts = np.asarray(bounds[1:-1], dtype=np.float64)
        idx = np.searchsorted(cuts, x.fill_null(np.nan).to_numpy(), side="right")
        named = np.asarray(labels, dtype=object)[np.minimum(idx, len(labels) - 1)]
        out = pl.Series(values.name, named.tolist(), dtype=pl.String)
        return pl.select(
            pl.when(x.is_null()).then(pl.lit(MISSING)).otherwise(out).alias(values.name)
        ).to_series()
    if values.dtype.is_float():
        filled = values.fill_nan(None).drop_nulls()
        if filled.len() and bool((filled == filled.round(0)).all()):
            values = values.fill_nan(None).cast(pl.Int64)  # 1.0 reads as the 1 it was
    text = values.cast(pl.String)
    return text.fill_null(MISSING)


def audit(
    attributes: dict[str, pl.Series],
    score: pl.Series,
    approved: pl.Series,
    y: npt.NDArray[np.float64] | None,
    p_bad: npt.NDArray[np.float64],
) -> pl.DataFrame:
    """The rows (``AUDIT_SCHEMA``) of every attribute's groups.

    ``attributes``: name -> values, aligned with ``score``, ``approved``
    (booleans), ``y`` (1 bad, 0 good, NaN unknown; None: no outcomes) and
    ``p_bad`` (the model's probability of bad, for the AUC)."""
    rows: list[dict[str, Any]] = []
    for name, values in attributes.items():
        group = groups_of(values)
        frame = pl.DataFrame(
            {
                "group": group,
                "score": score.cast(pl.Float64),
                "approved": approved.cast(pl.Boolean),
                "y": np.full(score.len(), np.nan) if y is None else y,
                "p": p_bad,
            }
        ).with_columns(pl.col("y").fill_nan(None))
        per = frame.group_by("group", maintain_order=True).agg(
            pl.len().alias("persons"),
            pl.col("score").mean().alias("mean_score"),
            pl.col("approved").sum().cast(pl.Int64).alias("approved"),
            pl.col("y").count().alias("labelled"),
            pl.col("y").mean().alias("bad_rate"),
        )
        per = per.with_columns((pl.col("approved") / pl.col("persons")).alias("approval_rate"))
        # the most favoured group is a named one: a handful of blanks is no reference
        named = per.filter(pl.col("group") != MISSING)
        best = named.get_column("approval_rate").max()  # none named: no reference
        top = float(best) if isinstance(best, int | float) else 0.0
        for r in _ordered(per).iter_rows(named=True):
            mine = frame.filter(pl.col("group") == r["group"])
            ratio = r["approval_rate"] / top if top > 0 else None
            rows.append(
                {
                    "attribute": name,
                    "group": r["group"],
                    "persons": r["persons"],
                    "mean_score": round(float(r["mean_score"]), 2),
                    "approved": r["approved"],
                    "approval_rate": round(float(r["approval_rate"]), 4),
                    "adverse_impact_ratio": None if ratio is None else round(ratio, 4),
                    "four_fifths": None if ratio is None else _verdict(ratio),
                    "labelled": r["labelled"],
                    "bad_rate": None if r["bad_rate"] is None else round(float(r["bad_rate"]), 4),
                    "auc": _group_auc(mine),
                }
            )
    return pl.DataFrame(rows, schema=AUDIT_SCHEMA)


def fairness(
    scores: pl.DataFrame,
    consumers: pl.DataFrame,
    names: Sequence[str],
    approved: pl.Series,
    y: npt.NDArray[np.float64],
) -> pl.DataFrame:
    """:func:`audit` of the consumers columns ``names`` for the persons of ``scores``
    (person_id, score, p_bad; ``approved`` and ``y`` aligned with it, ``y`` NaN where
    the outcome is unknown, and left out when no outcome is known at all)."""
    persons = scores.select("person_id")
    values = {
        n: persons.join(
            consumers.select("person_id", n), on="person_id", how="left", maintain_order="left"
        ).get_column(n)
        for n in names
    }
    return audit(
        values,
        scores.get_column("score"),
        approved,
        y if bool(np.isfinite(y).any()) else None,
        scores.get_column("p_bad").to_numpy(),
    )


def _verdict(ratio: float) -> str:
    # judged on the ratio as printed, so a row never reads 0.8000 and "fail"
    return "pass" if round(ratio, 4) >= FOUR_FIFTHS else "fail"


def _ordered(per: pl.DataFrame) -> pl.DataFrame:
    """Groups by name, ranges by their lower bound, (missing) last."""

    def key(group: str) -> tuple[int, float, str]:
        if group == MISSING:
            return (2, 0.0, group)
        if group.startswith("["):
            try:
                return (0, float(group[1:].split(",")[0]), group)
            except ValueError:
                pass
        return (1, 0.0, group)

    order = sorted(per.get_column("group").to_list(), key=key)
    rank = {g: i for i, g in enumerate(order)}
    return (
        per.with_columns(pl.col("group").replace_strict(rank, return_dtype=pl.Int64).alias("_rank"))
        .sort("_rank")
        .drop("_rank")
    )


def _group_auc(mine: pl.DataFrame) -> float | None:
    known = mine.filter(pl.col("y").is_not_null())
    y = known.get_column("y").to_numpy()
    bads = int(y.sum()) if y.size else 0
    if bads < MIN_FOR_AUC or y.size - bads < MIN_FOR_AUC:
        return None
    return round(auc(y, known.get_column("p").to_numpy()), 4)


def pick(
    consumers: pl.DataFrame, protected: Sequence[str], asked: Sequence[str] | None
) -> list[str]:
    """The attributes to audit: those asked for (each a consumers column), else the
    protected columns the features left out."""
    if not asked:
        return list(protected)
    return list(dict.fromkeys(asked))
