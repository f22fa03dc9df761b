"""Typed tables built from row dicts, as ingest would hand them to the features.

Dates and timestamps may be written as ISO text; a key left out of a row is
null; consumers' keys outside the contract become passthrough columns
(Float64 when every filled value is a number, else String), as ingest types them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl

from trustscore.data_tables import DataTables
from trustscore.schema import TABLES

Row = dict[str, Any]


def _value(value: Any, dtype: pl.DataType) -> Any:
    if isinstance(value, str) and dtype == pl.Date:
        return dt.date.fromisoformat(value)
    if isinstance(value, str) and isinstance(dtype, pl.Datetime):
        return dt.datetime.fromisoformat(value)
    return value


def frame(table: str, rows: Sequence[Row]) -> pl.DataFrame:
    """The rows as a frame with the contract's dtypes, plus any extra columns."""
    schema: dict[str, pl.DataType] = dict(TABLES[table].schema)
    extras = [k for r in rows for k in r if k not in schema]
    for name in dict.fromkeys(extras):
        filled = [r[name] for r in rows if r.get(name) is not None]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in filled)
        schema[name] = pl.Float64() if filled and numeric else pl.String()
    data = {
        name: pl.Series(name, [_value(r.get(name), dtype) for r in rows], dtype=dtype)
        for name, dtype in schema.items()
    }
    return pl.DataFrame(data)


def make_tables(
    consumers: Sequence[Row],
    merchants: Sequence[Row] | None = None,
    transactions: Sequence[Row] | None = None,
    logistics: Sequence[Row] | None = None,
) -> DataTables:
    cons = frame("consumers", consumers)
    known = set(TABLES["consumers"].names)
    return DataTables(
        consumers=cons,
        merchants=None if merchants is None else frame("merchants", merchants),
        transactions=None if transactions is None else frame("transactions", transactions),
        logistics=None if logistics is None else frame("logistics", logistics),
        passthrough=[c for c in cons.columns if c not in known],
    )
