"""A validated Parquet copy of a data folder (DESIGN 9): the step a platform runs
once, so that every later command reads typed columns instead of parsing text.

Each table present is read and checked as every command reads it (the same
rules and messages; ``lenient`` drops bad rows as it does everywhere), then
written as ``NAME.parquet``: its rows sorted by the table's key, every column
in its contract type. Text columns that repeat (the ids that refer to persons,
shops and orders) are dictionary-encoded by Polars' writer, which does so for
a text column wherever it pays (plain above 75% distinct values, as a unique
key is). A folder that already holds a table (as CSV or Parquet) is refused
unless ``force``, which replaces Parquet files only: a folder never ends up
with a table twice. Files are written under temporary names and renamed into
place only when all are complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from trustscore.errors import UsageError
from trustscore.ingest import Report, read_folder
from trustscore.schema import TABLES


def _in_order(keys: pl.Series) -> bool:
    """Already sorted (exports usually are): no sorted copy is made."""
    return keys.len() < 2 or bool((keys.slice(1) >= keys.slice(0, keys.len() - 1)).all())


def _check_target(out_dir: Path, force: bool) -> None:
    from trustscore.model_folder import is_model_folder

    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir} is a file, not a folder", hint="give a folder for the copy")
    if out_dir.is_dir() and is_model_folder(out_dir):
        raise UsageError(
            f"{out_dir} is a model folder", hint="write the Parquet copy to a folder of its own"
        )
    csvs = [t.filename for t in TABLES.values() if (out_dir / t.filename).exists()]
    if csvs:
        raise UsageError(
            f"{out_dir} holds {', '.join(csvs)}: a table would be there twice",
            hint="write the Parquet copy to another folder",
        )
    parquets = [f"{n}.parquet" for n in TABLES if (out_dir / f"{n}.parquet").exists()]
    if parquets and not force:
        raise UsageError(
            f"{out_dir} already holds {', '.join(parquets)}",
            hint="pass --force to replace them, or pick another folder",
        )


def convert(
    data_dir: Path | str, out_dir: Path, *, lenient: bool = False, force: bool = False
) -> tuple[dict[str, int], Report]:
    """Write the validated Parquet copy of ``data_dir`` into ``out_dir``; rows per
    table written, and the reading's report (drops under ``lenient``, notes)."""
    out_dir = Path(out_dir)
    if str(data_dir) != "-" and Path(data_dir).resolve() == out_dir.resolve():
        raise UsageError(
            "convert writes the copy to another folder than the data's",
            hint="give OUT_DIR a folder of its own",
        )
    _check_target(out_dir, force)
    tables, report = read_folder(data_dir, lenient=lenient)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    temp: dict[str, Path] = {}
    try:
        for name, table in TABLES.items():
            frame: pl.DataFrame | None = getattr(tables, name)
            if frame is None:
                continue
            setattr(tables, name, None)  # one table at a time in memory past this point
            if table.key is not None and not _in_order(frame.get_column(table.key)):
                frame = frame.sort(table.key, maintain_order=True)
            temp[name] = out_dir / f".{name}.parquet.partial"
            frame.write_parquet(temp[name], statistics=True)
            written[name] = frame.height
            del frame
        for name, path in temp.items():
            os.replace(path, out_dir / f"{name}.parquet")
    finally:
        for path in temp.values():
            path.unlink(missing_ok=True)
    return written, report
