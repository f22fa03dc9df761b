"""Drift (DESIGN 5, ``monitor``): a new population against the model's own.

The model's population is everyone the build scored (the model folder's
scores and features, as of its as-of date); the new one is a data folder
scored with the same model, as of its own as-of date. Per quantity, the
population stability index

    PSI = sum over bins of (new share - reference share) * ln(new / reference)

over the bins of the reference: the score by band; each dimension's points
and each feature (the characteristic stability index, CSI) by the
reference's deciles (fewer bins when values repeat), with a bin of its own
for missing values; a categorical feature by category, with one bin for
categories the reference never saw. A share of zero counts as 0.0001 (the
usual guard: an empty bin would make the logarithm infinite). The verdict:
below 0.10 stable, 0.10 to 0.25 watch, 0.25 and over act.

When the new data carry outcomes (consumers' ``defaulted``), the model's AUC
and bad rate on them stand beside the build's holdout figures, overall and by
band.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from trustscore.bands import BANDS
from trustscore.features.spec import FeatureSpec

if TYPE_CHECKING:
    from trustscore.model_folder import ModelFolder

STABLE: Final = 0.10
ACT: Final = 0.25
GUARD: Final = 1e-4  # the share an empty bin counts as
DECILES: Final = 10
MISSING: Final = "missing"
UNSEEN: Final = "unseen"

MONITOR_SCHEMA: Final[dict[str, pl.DataType]] = {
    "kind": pl.String(),  # score, dimension, feature, outcome
    "name": pl.String(),
    "psi": pl.Float64(),  # null for outcome rows
    "verdict": pl.String(),  # stable, watch, act; null for outcome rows
    "bins": pl.Int64(),
    "reference": pl.Float64(),  # outcome rows: the build's holdout figure
    "current": pl.Float64(),  # outcome rows: the figure on the new data
    "top_bin": pl.String(),  # the bin that moved most (its share, reference -> new)
}


def verdict(psi: float) -> str:
    if psi < STABLE:
        return "stable"
    return "watch" if psi < ACT else "act"


def psi(
    reference: Sequence[int] | npt.NDArray[Any], current: Sequence[int] | npt.NDArray[Any]
) -> float:
    """PSI of two histograms over the same bins (counts), each share at least GUARD."""
    e = np.asarray(reference, dtype=np.float64)
    a = np.asarray(current, dtype=np.float64)
    if e.shape != a.shape or e.size == 0:
        raise ValueError("two histograms over the same bins are needed")
    if e.sum() <= 0 or a.sum() <= 0:
        raise ValueError("a histogram with no one in it has no shares")
    e = np.maximum(e / e.sum(), GUARD)
    a = np.maximum(a / a.sum(), GUARD)
    return float(np.sum((a - e) * np.log(a / e)))


@dataclass(frozen=True)
class Binned:
    """The reference's and the new population's counts over the same bins."""

    labels: list[str]
    reference: npt.NDArray[np.int64]
    current: npt.NDArray[np.int64]

    @property
    def psi(self) -> float:
        return psi(self.reference, self.current)

    def top_bin(self) -> str:
        e = self.reference / max(self.reference.sum(), 1)
        a = self.current / max(self.current.sum(), 1)
        i = int(np.argmax(np.abs(a - e)))
        return f"{self.labels[i]}: {e[i]:.1%} -> {a[i]:.1%}"


def _number(x: float) -> str:
    return f"{x:,.4g}"


def bin_numbers(reference: pl.Series, current: pl.Series, n: int = DECILES) -> Binned:
    """Numbers by the reference's quantiles (n bins at most; ties merge them), with
    a bin for missing values (null or NaN). Intervals are (lower, upper]."""
    ref = reference.cast(pl.Float64).fill_nan(None)
    cur = current.cast(pl.Float64).fill_nan(None)
    known = ref.drop_nulls()
    edges: list[float] = []
    if known.len():
        values = known.to_numpy()
        # edges on values the reference holds ("lower"), so no bin is empty by
        # construction and the labels quote real values
        qs = np.quantile(values, np.arange(1, n) / n, method="lower")
        edges = sorted({float(q) for q in qs if float(q) < float(values.max())})
    labels = _interval_labels(edges)

    def counts(s: pl.Series) -> npt.NDArray[np.int64]:
        x = s.drop_nulls().to_numpy()
        idx = np.searchsorted(np.asarray(edges, dtype=np.float64), x, side="left")
        out = np.bincount(idx, minlength=len(edges) + 1).astype(np.int64)
        return np.append(out, s.null_count())

    return Binned([*labels, MISSING], counts(ref), counts(cur))


def _interval_labels(edges: list[float]) -> list[str]:
    if not edges:
        return ["all"]
    bounds = [-math.inf, *edges, math.inf]
    out = []
    for lo, hi in itertools.pairwise(bounds):
        if lo == -math.inf:
            out.append(f"<= {_number(hi)}")
        elif hi == math.inf:
            out.append(f"> {_number(lo)}")
        else:
            out.append(f"({_number(lo)}, {_number(hi)}]")
    return out


def bin_categories(reference: pl.Series, current: pl.Series) -> Binned:
    """Categories of the reference (in its order of frequency), a bin for those it
    never saw, and one for missing values."""
    ref = reference.cast(pl.String).alias("value")
    cur = current.cast(pl.String).alias("value")

    def tally(s: pl.Series) -> dict[str, int]:
        return {str(k): int(v) for k, v in s.drop_nulls().value_counts(name="n").iter_rows()}

    seen = tally(ref)
    labels = sorted(seen, key=lambda k: (-seen[k], k))  # most frequent first, then by name

    def counts(s: pl.Series) -> npt.NDArray[np.int64]:
        found = tally(s)
        known = [found.get(label, 0) for label in labels]
        unseen = sum(v for k, v in found.items() if k not in seen)
        return np.asarray([*known, unseen, s.null_count()], dtype=np.int64)

    return Binned([*labels, UNSEEN, MISSING], counts(ref), counts(cur))


def bin_bands(reference: pl.Series, current: pl.Series) -> Binned:
    labels = [b.name for b in BANDS]

    def counts(s: pl.Series) -> npt.NDArray[np.int64]:
        vc = {str(k): int(v) for k, v in s.cast(pl.String).value_counts(name="n").iter_rows()}
        return np.asarray([vc.get(label, 0) for label in labels], dtype=np.int64)

    return Binned(labels, counts(reference), counts(current))


def _row(kind: str, name: str, binned: Binned) -> dict[str, Any]:
    value = binned.psi
    return {
        "kind": kind,
        "name": name,
        "psi": round(value, 6),
        "verdict": verdict(value),
        "bins": len(binned.labels),
        "reference": None,
        "current": None,
        "top_bin": binned.top_bin(),
    }


def drift(
    reference_scores: pl.DataFrame,
    current_scores: pl.DataFrame,
    reference_features: pl.DataFrame,
    current_features: pl.DataFrame,
    specs: Sequence[FeatureSpec],
    dimensions: Sequence[str],
) -> pl.DataFrame:
    """The PSI rows (``MONITOR_SCHEMA``): the score by band, each dimension's
    points, each feature of ``specs``."""
    from concurrent.futures import ThreadPoolExecutor

    def band() -> dict[str, Any]:
        return _row("score", "band", bin_bands(reference_scores["band"], current_scores["band"]))

    def dimension(d: str) -> dict[str, Any]:
        return _row("dimension", d, bin_numbers(reference_scores[d], current_scores[d]))

    def feature(spec: FeatureSpec) -> dict[str, Any]:
        ref, cur = reference_features[spec.name], current_features[spec.name]
        numeric = ref.dtype.is_numeric() and not spec.is_categorical
        return _row(
            "feature", spec.name, bin_numbers(ref, cur) if numeric else bin_categories(ref, cur)
        )

    held = [
        s
        for s in specs
        if s.name in reference_features.columns and s.name in current_features.columns
    ]
    # each quantity on its own: sorting and binning a million values release the GIL,
    # so the cores share the work (a third of monitor's own time at 1M persons)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        jobs = [pool.submit(band)]
        jobs += [pool.submit(dimension, d) for d in dimensions]
        jobs += [pool.submit(feature, s) for s in held]
        rows = [job.result() for job in jobs]
    return pl.DataFrame(rows, schema=MONITOR_SCHEMA)


def outcome_rows(
    metrics: dict[str, Any],
    y: npt.NDArray[np.float64],
    p_bad: npt.NDArray[np.float64],
    bands: pl.Series,
) -> pl.DataFrame:
    """The build's holdout AUC and bad rates (overall, by band) beside those of the
    new persons with a known outcome (``y``: 1 bad, 0 good, NaN unknown)."""
    from trustscore.metrics import auc

    known = ~np.isnan(y)
    rows: list[dict[str, Any]] = []

    def add(name: str, reference: float | None, current: float | None) -> None:
        rows.append(
            {
                "kind": "outcome",
                "name": name,
                "psi": None,
                "verdict": None,
                "bins": None,
                "reference": reference,
                "current": current,
                "top_bin": None,
            }
        )

    holdout = metrics.get("holdout", {})
    yk, pk = y[known], p_bad[known]
    both = yk.size > 0 and 0 < yk.sum() < yk.size
    add("labelled", float(holdout.get("rows", 0)), float(yk.size))
    add("auc", holdout.get("auc"), auc(yk, pk) if both else None)
    add("bad_rate", holdout.get("bad_rate"), float(yk.mean()) if yk.size else None)
    by_band = {b.get("band"): b.get("holdout_bad_rate") for b in metrics.get("score_bands", [])}
    band_array = np.asarray(bands.cast(pl.String).to_list(), dtype=object)[known]
    for b in BANDS:
        mine = yk[band_array == b.name]
        add(f"bad_rate.{b.name}", by_band.get(b.name), float(mine.mean()) if mine.size else None)
    return pl.DataFrame(rows, schema=MONITOR_SCHEMA)


def alarms(frame: pl.DataFrame, alarm: float) -> pl.DataFrame:
    """The PSI rows at or past ``alarm``, largest first."""
    return frame.filter(pl.col("psi") >= alarm).sort("psi", descending=True, maintain_order=True)


def monitor(
    folder: ModelFolder,
    current_scores: pl.DataFrame,
    current_features: pl.DataFrame,
    y: npt.NDArray[np.float64] | None,
) -> pl.DataFrame:
    """Every row of the report: PSI of the score, dimensions and features of the
    new population (scored with ``folder``'s model) against the folder's own; and
    with outcomes (``y`` aligned with ``current_scores``, NaN unknown), the
    outcome rows."""
    from trustscore.model_folder import DIMENSION_COLUMNS, FEATURES_FILE, METRICS_FILE, SCORES_FILE

    specs = folder.specs
    reference_scores = folder.frame(SCORES_FILE).select("band", *DIMENSION_COLUMNS)
    reference_features = folder.frame(FEATURES_FILE)
    frame = drift(
        reference_scores,
        current_scores,
        reference_features,
        current_features,
        specs,
        DIMENSION_COLUMNS,
    )
    if y is not None and bool(np.any(~np.isnan(y))):
        p_bad = current_scores.get_column("p_bad").cast(pl.Float64).to_numpy()
        outcomes = outcome_rows(folder.json(METRICS_FILE), y, p_bad, current_scores["band"])
        frame = pl.concat([frame, outcomes])
    return frame
