"""The points table of a feature-additive model (``additivity = "feature"``).

Each tree of such a model splits on one feature only, so a feature's points
are a step function of its own value: constant between the split thresholds
of its trees, and one value when it is missing. The table lists, per feature,
each value range (or category) and missing with its points; the base plus
one row's points per feature is the model score, exactly (DESIGN 3).

The steps are found from the thresholds in the booster's JSON; each step's
points are then computed by the model itself (``group_margins`` on one value
per step), so the table cannot disagree with the trees, categorical splits
included.

``to_sql`` writes the same table as one SQL ``CASE`` expression per feature
plus the base, so a database can score without Python. XGBoost compares a
value as float32 with a float32 threshold; a database compares doubles. Each
threshold is therefore written as the double at which float32 rounding
changes side (the midpoint below the threshold, with ``<`` or ``<=`` as the
tie goes), so the SQL sends every double to the step the trees send it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import polars as pl

from trustscore.errors import UsageError

if TYPE_CHECKING:
    from trustscore.model import TrustModel

POINTS_SCHEMA: Final[dict[str, pl.DataType]] = {
    "feature": pl.String(),
    "bin": pl.String(),  # "missing", a range "[lower, upper)", or a category
    "points": pl.Float64(),
    "lower": pl.Float64(),  # the range holds lower <= value < upper (as float32)
    "upper": pl.Float64(),
    "category": pl.String(),
    "code": pl.String(),  # the feature's reason code
}
DIGITS: Final = 6


@dataclass(frozen=True)
class PointsTable:
    base: float  # the points of the average person: model score = base + each feature's
    rows: pl.DataFrame  # POINTS_SCHEMA, features in the model's order, missing first


def _thresholds(booster_json: bytes, n_features: int) -> list[list[float]]:
    """Per feature, the sorted distinct float32 thresholds of its numeric splits."""
    trees = json.loads(booster_json)["learner"]["gradient_booster"]["model"]["trees"]
    cuts: list[set[float]] = [set() for _ in range(n_features)]
    for tree in trees:
        left = tree["left_children"]
        types = tree.get("split_type", [0] * len(left))
        for node, child in enumerate(left):
            if child != -1 and types[node] == 0:
                value = float(np.float32(tree["split_conditions"][node]))
                cuts[int(tree["split_indices"][node])].add(value)
    return [sorted(c) for c in cuts]


def _below(value: float) -> float:
    """The float32 just below ``value``."""
    return float(np.nextafter(np.float32(value), np.float32(-np.inf)))


def points_table(model: TrustModel) -> PointsTable:
    """The model's points table; UsageError for a dimension-additive model."""
    if model.params.additivity != "feature":
        raise UsageError(
            "exact per-feature points tables need feature additivity",
            hint='build with additivity = "feature" in the config',
        )
    specs = list(model.specs)
    _, booster_json = model.to_bytes()
    cuts = _thresholds(booster_json, len(specs))
    # one value per step of every feature, all the others missing
    probes: list[tuple[int, str, float | None, float | None, str | None, float]] = []
    for j, spec in enumerate(specs):
        probes.append((j, "missing", None, None, None, math.nan))
        if spec.is_categorical:
            for i, level in enumerate(spec.categories):
                probes.append((j, level, None, None, level, float(i)))
            continue
        edges = cuts[j]
        if not edges:
            probes.append((j, "any value", None, None, None, 0.0))
            continue
        probes.append((j, f"< {edges[0]:.9g}", None, edges[0], None, _below(edges[0])))
        for lo, hi in zip(edges, [*edges[1:], None], strict=True):
            label = f">= {lo:.9g}" if hi is None else f"[{lo:.9g}, {hi:.9g})"
            probes.append((j, label, lo, hi, None, lo))
    X = np.full((len(probes), len(specs)), np.nan, dtype=np.float32)
    for r, probe in enumerate(probes):
        X[r, probe[0]] = probe[5]
    bias, margins = model.group_margins(X)
    factor = model.scale.factor
    rows = [
        (
            specs[j].name,
            label,
            round(-factor * float(margins[r, j]), DIGITS) + 0.0,
            lo,
            hi,
            level,
            specs[j].code,
        )
        for r, (j, label, lo, hi, level, _) in enumerate(probes)
    ]
    base = model.scale.offset - factor * float(bias)
    return PointsTable(round(base, DIGITS), pl.DataFrame(rows, schema=POINTS_SCHEMA, orient="row"))


def score_with_table(table: PointsTable, frame: pl.DataFrame) -> pl.Series:
    """The model score of each row of a feature frame, from the table alone (the
    Python twin of the SQL, for tests)."""
    total = np.full(frame.height, table.base)
    for (feature,), rows in table.rows.group_by(["feature"], maintain_order=True):
        column = frame.get_column(str(feature))
        missing = float(rows.filter(pl.col("bin") == "missing")["points"][0])
        cats = rows.filter(pl.col("category").is_not_null())
        if cats.height:
            mapping = dict(zip(cats["category"], cats["points"], strict=True))
            values = column.cast(pl.String).replace_strict(
                mapping, default=missing, return_dtype=pl.Float64
            )
            total += values.fill_null(missing).to_numpy()
            continue
        steps = rows.filter(pl.col("bin") != "missing")
        edges = np.asarray(steps["lower"].drop_nulls().to_list(), dtype=np.float32)
        x = column.cast(pl.Float64).to_numpy().astype(np.float32)
        idx = np.searchsorted(edges, x, side="right")
        pts = steps["points"].to_numpy()[np.minimum(idx, len(steps) - 1)]
        total += np.where(np.isnan(x), missing, pts)
    return pl.Series("model_score", total)


# ------------------------------------------------------------------ SQL


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _number(x: float) -> str:
    return repr(float(x))


def _sql_threshold(c: float) -> tuple[str, float]:
    """The double comparison equal to XGBoost's ``float32(v) < c``: ``v < m`` or
    ``v <= m``, m the midpoint between c and the float32 below it."""
    below = _below(c)
    m = (below + c) / 2  # exact in double: two float32 and a halving
    # at v == m, float32 rounds half to even: to c (so not < c) when c's last bit is 0
    c_even = int(np.float32(c).view(np.uint32)) % 2 == 0
    return ("<" if c_even else "<="), m


def to_sql(table: PointsTable, source: str = "features") -> str:
    """One SELECT: person_id and the model score of every row of ``source`` (a table
    with the columns of ``trustscore features``), as base + a CASE per feature."""
    if not source or any(ord(ch) < 32 or ord(ch) == 127 for ch in source):
        raise UsageError(
            f"--table {source!r}: a table name is not empty and has no control characters",
            hint="name the table of trustscore features, e.g. --table features",
        )
    lines = [
        "-- trustscore points table as SQL: model score = base + one CASE per feature.",
        "-- Run against a table of trustscore features (the FROM at the end).",
        "SELECT",
        "  person_id,",
        f"  {_number(table.base)}",
    ]
    for (feature,), rows in table.rows.group_by(["feature"], maintain_order=True):
        col = _ident(str(feature))
        missing = float(rows.filter(pl.col("bin") == "missing")["points"][0])
        case = [f"    WHEN {col} IS NULL THEN {_number(missing)}"]
        cats = rows.filter(pl.col("category").is_not_null())
        steps = rows.filter(pl.col("bin") != "missing")
        if cats.height:
            for level, pts in cats.select("category", "points").rows():
                case.append(f"    WHEN {col} = {_text(str(level))} THEN {_number(pts)}")
            case.append(f"    ELSE {_number(missing)}")  # a level the model never saw
        else:
            values = steps.select("upper", "points").rows()
            for upper, pts in values[:-1]:
                op, m = _sql_threshold(float(upper))
                case.append(f"    WHEN {col} {op} {_number(m)} THEN {_number(pts)}")
            case.append(f"    ELSE {_number(values[-1][1])}")
        lines.append("  + CASE")
        lines.extend(case)
        lines.append("  END")
    lines[-1] += " AS model_score"
    lines.append(f"FROM {_ident(source)};")
    return "\n".join(lines) + "\n"


def importance(points: pl.DataFrame, specs: Any) -> pl.DataFrame:
    """Mean |points| per feature over everyone (points.parquet), strongest first,
    with each feature's dimension: what a dimension-additive model can show."""
    rows = []
    for spec in specs:
        if spec.name in points.columns:
            value = points.get_column(spec.name).cast(pl.Float64).abs().mean()
            mean = float(value) if isinstance(value, int | float) else 0.0
            rows.append((spec.name, spec.code, spec.dimension.value, round(mean, 4)))
    frame = pl.DataFrame(
        rows,
        schema={
            "feature": pl.String,
            "code": pl.String,
            "dimension": pl.String,
            "mean_abs_points": pl.Float64,
        },
        orient="row",
    )
    return frame.sort("mean_abs_points", descending=True, maintain_order=True)
