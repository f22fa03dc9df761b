"""Write records as csv / json / ndjson / parquet: one writer per format.

Every command that prints data goes through ``write``; the table format is
drawn by ``render`` (the only module that knows about terminals). A file given
with ``--output`` is written to a temporary name beside it and renamed into
place, so a failure never leaves half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import polars as pl

from trustscore.errors import UsageError


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    NDJSON = "ndjson"
    PARQUET = "parquet"


def resolve(fmt: Format | None, output: Path | None, is_terminal: bool) -> Format:
    """The format to use: as asked, else table on a terminal and csv on a pipe or file."""
    if fmt is None:
        if output is not None and output.suffix == ".parquet":
            return Format.PARQUET
        return Format.TABLE if is_terminal and output is None else Format.CSV
    if fmt is Format.PARQUET and output is None:
        raise UsageError("--format parquet needs --output FILE", hint="parquet is not for a pipe")
    return fmt


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that a spreadsheet would run as a formula with a quote.

    Only text columns: a negative number is data, not a formula.
    """
    text_cols = [n for n, t in frame.schema.items() if t in (pl.String, pl.Categorical)]
    if not text_cols:
        return frame
    pattern = "^[" + "".join("\\" + c if c in "-+" else c for c in "=+-@") + "\t\r]"
    return frame.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(pattern))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in text_cols
    )


def _jsonable(frame: pl.DataFrame) -> pl.DataFrame:
    # dates as ISO text, enums as plain text: what a JSON reader expects
    return frame.with_columns(
        pl.col(n).cast(pl.String)
        for n, t in frame.schema.items()
        if t in (pl.Date, pl.Datetime) or isinstance(t, pl.Enum | pl.Categorical)
    )


def write_frame(
    frame: pl.DataFrame,
    fmt: Format,
    stream: IO[bytes],
    *,
    safe_csv: bool = False,
) -> None:
    """Write ``frame`` in ``fmt`` to a binary stream."""
    if fmt is Format.CSV:
        out = escape_formulas(frame) if safe_csv else frame
        out.write_csv(stream)
    elif fmt is Format.JSON:
        stream.write(json.dumps(_jsonable(frame).to_dicts(), indent=2, default=str).encode())
        stream.write(b"\n")
    elif fmt is Format.NDJSON:
        _jsonable(frame).write_ndjson(stream)
    elif fmt is Format.PARQUET:
        frame.write_parquet(stream, compression="zstd", statistics=True)
    else:
        raise UsageError(f"format {fmt} is drawn by the renderer, not written")


def write_json(obj: Any, stream: IO[bytes]) -> None:
    stream.write(json.dumps(obj, indent=2, default=str, ensure_ascii=False).encode())
    stream.write(b"\n")


@contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A binary stream that becomes ``path`` only if the block completes."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"no folder {str(parent)!r} for the output file", hint="create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
