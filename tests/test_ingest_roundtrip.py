"""Property: any valid frame written as CSV and read back through ingest gives
the same typed frame: text with commas, quotes and line breaks (which the
writer quotes, RFC 4180), values anywhere in the contract's ranges."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustscore.ingest import read_folder
from trustscore.schema import (
    CONSUMERS,
    FIRST_DATE,
    LAST_DATE,
    MAX_AMOUNT,
    MERCHANTS,
    TRANSACTIONS,
    Column,
    Kind,
    Table,
)

text = st.text(
    alphabet=st.characters(
        codec="utf-8",
        exclude_categories=("Cs", "Cc", "Zl", "Zp"),
        exclude_characters="\ufffd",
        include_characters='",\n\r',
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s.strip() != "")
dates = st.dates(FIRST_DATE, LAST_DATE)
stamps = st.datetimes(
    dt.datetime.combine(FIRST_DATE, dt.time()), dt.datetime.combine(LAST_DATE, dt.time.max)
).map(lambda d: d.replace(microsecond=0))


def _value(col: Column) -> st.SearchStrategy[Any]:
    if col.kind is Kind.STRING:
        base: st.SearchStrategy[Any] = text
    elif col.kind is Kind.DATE:
        base = dates
    elif col.kind is Kind.TIMESTAMP:
        base = stamps
    elif col.kind is Kind.BOOL:
        base = st.booleans()
    elif col.kind is Kind.FLOAT:
        low = col.min_value if col.min_value is not None else -MAX_AMOUNT
        high = col.max_value if col.max_value is not None else MAX_AMOUNT
        base = st.floats(low, high, exclude_min=col.min_exclusive, exclude_max=True)
    elif col.kind is Kind.LABEL:
        base = st.sampled_from([0, 1])
    else:
        base = st.sampled_from(col.values)
    return base if col.required else st.one_of(st.none(), base)


def _cell(value: Any, spelling: int) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return [("true", "false"), ("YES", "no"), ("1", "0")][spelling % 3][0 if value else 1]
    if isinstance(value, dt.datetime):
        return value.isoformat() + ("Z" if spelling % 2 else "")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _rows(table: Table, n_min: int = 1) -> st.SearchStrategy[list[dict[str, Any]]]:
    row = st.fixed_dictionaries({c.name: _value(c) for c in table.columns})
    key = table.key
    return st.lists(row, min_size=n_min, max_size=15, unique_by=lambda r: r[key])


def _write(path: Path, table: Table, rows: list[dict[str, Any]], spelling: int) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.names)
    for r in rows:
        writer.writerow([_cell(r[c], spelling) for c in table.names])
    path.write_text(buf.getvalue(), encoding="utf-8")


def _expected(table: Table, rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {c.name: [r[c.name] for r in rows] for c in table.columns}, schema=table.schema
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    consumers=_rows(CONSUMERS),
    merchants=_rows(MERCHANTS),
    txns=_rows(TRANSACTIONS, 0),
    spelling=st.integers(0, 5),
)
def test_valid_frames_round_trip(
    consumers: list[dict[str, Any]],
    merchants: list[dict[str, Any]],
    txns: list[dict[str, Any]],
    spelling: int,
) -> None:
    people = [r["person_id"] for r in consumers]
    shops = [r["merchant_id"] for r in merchants]
    for i, m in enumerate(merchants):  # keep the references valid
        if m["owner_id"] is not None:
            m["owner_id"] = people[i % len(people)]
    for i, t in enumerate(txns):
        t["buyer_id"] = people[i % len(people)]
        t["merchant_id"] = shops[i % len(shops)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder / "consumers.csv", CONSUMERS, consumers, spelling)
        _write(folder / "merchants.csv", MERCHANTS, merchants, spelling)
        _write(folder / "transactions.csv", TRANSACTIONS, txns, spelling)
        tables, report = read_folder(folder)
    assert report.total_problems == 0
    assert tables.consumers.equals(_expected(CONSUMERS, consumers))
    assert tables.merchants is not None and tables.merchants.equals(_expected(MERCHANTS, merchants))
    assert tables.transactions is not None
    assert tables.transactions.equals(_expected(TRANSACTIONS, txns))
