"""A Parquet copy of a folder ``trustscore sample`` made, streamed table by table with
Polars' ``scan_csv(...).sink_parquet`` in the contract's types, without trustscore's
checks: for folders too large for ``trustscore convert`` to hold a table of in memory
(5M persons, issue 14). The sample's data are valid by construction; anyone else's
data go through ``convert``.

    uv run python benchmarks/csv_to_parquet.py CSV_DIR PARQUET_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

from trustscore.schema import TABLES


def _typed(name: str, dtype: pl.DataType | None) -> pl.Expr:
    col = pl.col(name)
    if dtype is None or dtype == pl.String:
        return col
    if isinstance(dtype, pl.Datetime):
        return col.str.to_datetime("%Y-%m-%dT%H:%M:%S", time_unit="us")
    if dtype == pl.Date:
        return col.str.to_date("%Y-%m-%d")
    if dtype == pl.Boolean:
        return col.str.to_lowercase() == "true"
    return col.cast(dtype)


def main() -> None:
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(parents=True, exist_ok=True)
    for table in TABLES.values():
        path = src / table.filename
        if not path.exists():
            continue
        schema = dict(table.schema)
        header = pl.read_csv(path, n_rows=0).columns
        text = {c: pl.String for c in header}
        typed = [_typed(c, schema.get(c)) for c in header]
        scan = pl.scan_csv(path, schema=text).select(typed)
        scan.sink_parquet(dst / f"{table.name}.parquet")
        print(table.name, flush=True)


if __name__ == "__main__":
    main()
