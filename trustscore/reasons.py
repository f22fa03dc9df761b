"""Reason codes (DESIGN 3): the features that lowered (or raised) a score most.

One rule, used by the card, ``score --reasons N`` and ``decide``:

- a feature's points are rounded to the hundredth (Python's ``round(p, 2)``,
  the number the card shows); a feature that moved nothing to the hundredth,
  or has no points, is never a reason;
- lowering reasons are the negative ones, most points lost first; raising
  reasons the positive ones, most points gained first;
- equal points are ordered by the reason code.

:func:`person_reasons` applies it to one person (with the sentences the card
shows); :func:`lowering_codes` to a whole points table at once, with numpy,
giving the same codes in the same order. This module imports numpy only
inside :func:`lowering_codes`, so the card starts without it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from trustscore.features.registry import render_sentence
from trustscore.features.spec import FeatureSpec

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

MAX_LOWERING: Final = 4
MAX_RAISING: Final = 3


@dataclass
class Reason:
    code: str
    feature: str
    dimension: str
    sentence: str
    value: float | str | None
    points: float


def person_reasons(
    specs: Sequence[FeatureSpec], points: dict[str, Any], values: dict[str, Any]
) -> tuple[list[Reason], list[Reason]]:
    """One person's (lowering, raising) reasons, at most MAX_LOWERING and MAX_RAISING.

    ``points`` and ``values`` are the person's rows of points.parquet and
    features.parquet, by feature name.
    """
    moved: list[tuple[float, str, FeatureSpec]] = []
    for spec in specs:
        p = points.get(spec.name)
        if p is None or (isinstance(p, float) and math.isnan(p)):
            continue
        p = round(float(p), 2)
        if p != 0:  # a feature that moved nothing (to the hundredth) is never a reason
            moved.append((p, spec.code, spec))
    lowering = sorted((m for m in moved if m[0] < 0), key=lambda m: (m[0], m[1]))
    raising = sorted((m for m in moved if m[0] > 0), key=lambda m: (-m[0], m[1]))

    def reason(p: float, spec: FeatureSpec) -> Reason:
        # only the reasons shown get their sentence: cheap for thousands of cards
        value = values.get(spec.name)
        shown: float | str | None
        if isinstance(value, float) and math.isnan(value):
            shown = None
        else:
            shown = value if value is None or isinstance(value, str) else float(value)
        return Reason(
            code=spec.code,
            feature=spec.name,
            dimension=spec.dimension.value,
            sentence=render_sentence(spec, value),
            value=shown,
            points=p,
        )

    return (
        [reason(p, spec) for p, _, spec in lowering[:MAX_LOWERING]],
        [reason(p, spec) for p, _, spec in raising[:MAX_RAISING]],
    )


def reason_columns(n: int) -> list[str]:
    """``reason_1`` .. ``reason_n``: the columns :func:`lowering_codes` adds."""
    return [f"reason_{i}" for i in range(1, n + 1)]


def lowering_codes(
    points: pl.DataFrame,
    specs: Sequence[FeatureSpec],
    n: int = MAX_LOWERING,
    *,
    vectorised: bool | None = None,
) -> pl.DataFrame:
    """Per person of ``points`` (points.parquet's shape: person_id and a column of
    points per feature), the codes of the ``n`` strongest lowering reasons as
    ``reason_1`` .. ``reason_n``, null where there are fewer; in the order of
    ``points``. The same codes, in the same order, as :func:`person_reasons`
    (for ``n`` <= MAX_LOWERING, as the card shows them).

    Computed a feature at a time over everyone, with numpy: a million persons
    in seconds. A few persons (``vectorised`` None: up to ``_FEW_ROWS``; False:
    always) are done one at a time in plain Python, which spares a one-person
    decision the import of numpy; both ways give the same codes (a test).
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    if vectorised is False or (vectorised is None and points.height <= _FEW_ROWS):
        return _codes_one_at_a_time(points, specs, n)
    import numpy as np

    # the features with points in the frame, in code order: the feature's index
    # then breaks ties between equal points exactly as the code does
    present = sorted((s for s in specs if s.name in points.columns), key=lambda s: s.code)
    width = len(present)
    height = points.height
    # best[i] holds each person's i-th strongest key so far (ascending; 0 = none);
    # a key is hundredths * width + the feature's index, negative for a lowering one
    best = np.zeros((n, height), dtype=np.int64)
    for j, spec in enumerate(present):
        x = points.get_column(spec.name).cast(pl.Float64).to_numpy()
        # what rounds to a negative hundredth is below -0.005 (or a hair above it)
        rows = np.flatnonzero(x < -0.00499)
        if rows.size == 0:
            continue
        cents = _hundredths(x[rows])
        key = np.where(cents < 0, cents * width + j, 0)
        for i in range(n):  # insert into the sorted n best, as in an insertion sort
            held = best[i, rows]
            better = key < held
            best[i, rows] = np.where(better, key, held)
            key = np.where(better, held, key)
    code = {j: s.code for j, s in enumerate(present)}
    columns = reason_columns(n)
    found = pl.DataFrame(
        {c: np.where(best[i] < 0, best[i] % max(width, 1), -1) for i, c in enumerate(columns)}
    )
    return found.select(
        points.get_column("person_id").cast(pl.String),
        *(pl.col(c).replace_strict(code, default=None, return_dtype=pl.String) for c in columns),
    )


# points beyond this are not points of a score between 350 and 950 (and would
# overflow the keys below): never a reason
_LARGEST: Final = 1e9
_FEW_ROWS: Final = 100


def _codes_one_at_a_time(
    points: pl.DataFrame, specs: Sequence[FeatureSpec], n: int
) -> pl.DataFrame:
    """:func:`lowering_codes` a person at a time, in plain Python."""
    present = [s for s in specs if s.name in points.columns]
    columns = reason_columns(n)
    found: dict[str, list[str | None]] = {c: [] for c in columns}
    # a frame of no columns has no rows: a person without any feature's points
    # still gets a row (of no reasons)
    rows = points.select([s.name for s in present]).iter_rows() if present else None
    for _ in range(points.height):
        row = next(rows) if rows is not None else ()
        moved: list[tuple[float, str]] = []
        for spec, p in zip(present, row, strict=True):
            if p is None or not math.isfinite(p) or abs(p) >= _LARGEST:
                continue
            rounded = round(float(p), 2)
            if rounded < 0:
                moved.append((rounded, spec.code))
        moved.sort()
        codes = [code for _, code in moved[:n]]
        for i, c in enumerate(columns):
            found[c].append(codes[i] if i < len(codes) else None)
    return pl.DataFrame(
        {"person_id": points.get_column("person_id").cast(pl.String), **found},
        schema={"person_id": pl.String, **dict.fromkeys(columns, pl.String)},
    )


def _hundredths(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """``round(p, 2) * 100`` exactly as Python rounds (the exact binary value of
    ``p``, half to even on exact ties), as whole hundredths; 0 for a missing value
    (NaN), which like a zero is never a reason.

    ``p * 100`` in float64 may land on the wrong side of a half (1.115 is stored
    just below 1.115, yet 1.115 * 100 gives 111.50000000000001), so the product's
    rounding error is carried exactly (Dekker's two-product: 100 needs 7 bits)
    and the half is judged on the exact value."""
    import numpy as np

    finite = np.isfinite(values) & (np.abs(values) < _LARGEST)
    x = np.where(finite, values, 0.0)
    product = x * 100.0
    split = x * 134217729.0  # 2**27 + 1: x = high + low, each of at most 26 bits
    high = split - (split - x)
    low = x - high
    error = (high * 100.0 - product) + low * 100.0  # x * 100 == product + error, exactly
    floor = np.floor(product)
    above_half = (product - (floor + 0.5)) + error
    up = (above_half > 0) | ((above_half == 0) & (floor % 2 != 0))
    cents: npt.NDArray[np.int64] = (floor + up).astype(np.int64)
    return cents
