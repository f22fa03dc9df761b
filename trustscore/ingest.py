"""Read a data folder into typed Polars frames, checking every rule of the contract.

Each CSV is scanned twice, cheaply: once as raw lines (to find ragged rows and
bytes that are not UTF-8, which a CSV parser would silently paper over) and
once through Polars' CSV reader with every column as text, parsed to the
contract's types in the same lazy query. Nothing is inferred. Line numbers are
the file's own (header = line 1); a quoted field that spans lines is not
supported and shows up as a ragged row.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl

from trustscore.errors import DataError, DropReport, Problem
from trustscore.schema import FALSE_WORDS, TABLES, TRUE_WORDS, Column, Kind, Table
from trustscore.tables import Tables

MAX_SHOWN = 20  # problems kept per file; the rest are only counted
_ROW = "__row"  # 0-based data row index: line = row + 2
_OVERFLOW = "__overflow"  # catches the fields of a row longer than the header
STDIN = "-"


@dataclass
class TableReport:
    name: str
    file: str
    rows: int  # data rows read (blank lines not counted)
    kept: int  # rows handed on (fewer than rows only under --lenient)
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What validation found: tables, row counts, problems (capped per file), notes."""

    tables: list[TableReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # all problems per file
    notes: list[str] = field(default_factory=list)
    drops: DropReport = field(default_factory=DropReport)

    @property
    def total_problems(self) -> int:
        return sum(self.counts.values())

    def add(self, problem: Problem) -> None:
        n = self.counts.get(problem.file, 0)
        self.counts[problem.file] = n + 1
        if n < MAX_SHOWN:
            self.problems.append(problem)

    def error(self) -> DataError:
        n = self.total_problems
        files = ", ".join(f"{f}: {c}" for f, c in self.counts.items() if c)
        exc = DataError(
            f"{n} problem{'s' if n != 1 else ''} in the input data ({files})",
            hint="fix the rows named above, or pass --lenient to drop them and go on",
            problems=list(self.problems),
            counts=dict(self.counts),
        )
        exc.report = self
        return exc


# ---------------------------------------------------------------- raw lines


def _raw_line_problems(body: bytes, ncols: int, offset: int) -> pl.DataFrame:
    """Rows of a chunk of data lines whose field count differs from the header's,
    or that are not UTF-8, or blank. Columns: row (``offset`` + line in the
    chunk), fields, not_utf8, blank; offending rows only."""
    line = pl.col("line")
    quoted = line.str.replace_all(r'"(?:[^"]|"")*"', "")
    fields = (
        pl.when(line.str.contains('"', literal=True))
        .then(quoted.str.count_matches(",", literal=True))
        .otherwise(line.str.count_matches(",", literal=True))
        + 1
    )
    scan = pl.scan_csv(
        body,
        has_header=False,
        separator="\x1f",
        quote_char=None,
        schema={"line": pl.String},
        truncate_ragged_lines=True,
        encoding="utf8-lossy",
        row_index_name=_ROW,
        row_index_offset=offset,
        empty_string_is_null=False,
        raise_if_empty=False,
    )
    return (
        scan.select(
            pl.col(_ROW).cast(pl.Int64),
            fields.alias("fields"),
            line.str.contains("\ufffd", literal=True).alias("not_utf8"),
            (line.is_null() | (line.str.strip_chars() == "")).alias("blank"),
        )
        .filter(pl.col("blank") | pl.col("not_utf8") | (pl.col("fields") != ncols))
        .collect()
    )


CHUNK_BYTES = 1 << 27  # CSV text parsed at a time: bounds memory whatever the file's size


def _body_chunks(source: Path | bytes) -> Iterator[bytes]:
    """The data lines (the header dropped), in pieces that each end at a line end."""
    if isinstance(source, bytes):
        _, _, body = source.partition(b"\n")
        yield body
        return
    with source.open("rb") as fh:
        fh.readline()
        rest = b""
        given = False
        while block := fh.read(CHUNK_BYTES):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                given = True
                yield block[:cut]
        if rest or not given:
            yield rest  # the last line without its line end, or an empty body


# ---------------------------------------------------------------- parsing


def _bool(e: pl.Expr) -> pl.Expr:
    low = e.str.strip_chars().str.to_lowercase()
    return (
        pl.when(low.is_in(list(TRUE_WORDS)))
        .then(True)
        .when(low.is_in(list(FALSE_WORDS)))
        .then(False)
        .otherwise(None)
        .cast(pl.Boolean)
    )


def _timestamp(e: pl.Expr) -> pl.Expr:
    s = e.str.strip_chars()
    naive = s.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False, time_unit="us")
    # an offset or Z: convert to UTC, then drop the zone so every timestamp compares alike
    offset = (
        s.str.replace(r"[Zz]$", "+00:00")
        .str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
        .dt.convert_time_zone("UTC")
        .dt.replace_time_zone(None)
    )
    return pl.coalesce(naive, offset)


def parse(col: Column, e: pl.Expr) -> pl.Expr:
    """The contract's parse of one text column: a typed value, or null if it is not one."""
    k = col.kind
    if k is Kind.STRING:
        return e
    if k is Kind.DATE:
        return e.str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
    if k is Kind.TIMESTAMP:
        return _timestamp(e)
    if k is Kind.BOOL:
        return _bool(e)
    if k is Kind.FLOAT:
        x = e.str.strip_chars().cast(pl.Float64, strict=False)
        return pl.when(x.is_finite()).then(x).otherwise(None)
    if k is Kind.LABEL:
        s = e.str.strip_chars()
        return pl.when(s == "1").then(1).when(s == "0").then(0).otherwise(None).cast(pl.Int8)
    if k is Kind.CHOICE:
        s = e.str.strip_chars().str.to_lowercase()
        return pl.when(s.is_in(list(col.values))).then(s).otherwise(None).cast(col.dtype)
    raise AssertionError(k)


_BOOL_WORDS = {
    spelling: word in TRUE_WORDS
    for word in (*TRUE_WORDS, *FALSE_WORDS)
    for spelling in {word, word.upper(), word.capitalize()}
}


def fast_parse(col: Column, e: pl.Expr) -> pl.Expr:
    """The parse of the contract's canonical spelling, without trimming or case folding.

    Null where it fails; such cells get :func:`parse` (the full rules) afterwards.
    """
    k = col.kind
    if k is Kind.DATE:
        return e.str.to_date("%Y-%m-%d", strict=False)
    if k is Kind.TIMESTAMP:
        return e.str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us")
    if k is Kind.BOOL:
        return e.replace_strict(_BOOL_WORDS, default=None, return_dtype=pl.Boolean)
    if k is Kind.CHOICE:
        return e.cast(col.dtype, strict=False)
    if k is Kind.FLOAT:
        x = e.cast(pl.Float64, strict=False)
        return pl.when(x.is_finite()).then(x).otherwise(None)
    return parse(col, e)


def _in_domain(col: Column, typed: pl.Expr) -> pl.Expr | None:
    if col.kind is Kind.FLOAT and col.min_value is not None:
        return typed > col.min_value if col.min_exclusive else typed >= col.min_value
    return None


# ---------------------------------------------------------------- one table


@dataclass
class _Read:
    table: Table
    frame: pl.DataFrame  # typed, with _ROW
    bad_rows: dict[int, str]  # row -> its first problem's rule (dropped under lenient)
    report: TableReport
    passthrough: list[str]


def _header(source: Path | bytes) -> list[str]:
    if isinstance(source, bytes):
        first = source.split(b"\n", 1)[0]
    else:
        with source.open("rb") as fh:
            first = fh.readline()
    text = first.decode("utf-8", errors="replace").lstrip("\ufeff").rstrip("\r\n")
    return next(csv.reader([text]), [])


def _read_table(
    table: Table,
    source: Path | bytes,
    report: Report,
    *,
    passthrough_allowed: bool,
) -> _Read | None:
    file = table.filename
    header = _header(source)
    if not [h for h in header if h.strip()]:
        report.add(Problem(file, 1, None, None, "a header row naming the columns", "header"))
        return None
    seen: set[str] = set()
    for name in header:
        if name in seen:
            report.add(Problem(file, 1, name, name, "each column named once", "header"))
        seen.add(name)
    missing = [c.name for c in table.columns if c.required and c.name not in header]
    for name in missing:
        report.add(Problem(file, 1, name, None, f"a required column {name!r}", "missing_column"))
    if missing or len(seen) != len(header):
        return None

    ncols = len(header)
    known = {c.name: c for c in table.columns}
    extras = [h for h in header if h not in known]
    text_schema = {h: pl.String() for h in header}
    text_schema[_OVERFLOW] = pl.String()
    # Every cell is parsed the fast way (the contract's canonical spelling, as
    # exported data nearly always are); only the cells that fail it get a
    # second look with the full, forgiving parse, and only those that fail
    # that too are problems.
    exprs: list[pl.Expr] = [pl.col(_ROW)]
    flags: list[pl.Expr] = []
    for col in table.columns:
        if col.name not in header:
            exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
            continue
        raw_e = pl.col(col.name)
        fast = fast_parse(col, raw_e)
        exprs.append(fast.alias(col.name))
        if col.kind is not Kind.STRING:
            flags.append((raw_e.is_not_null() & fast.is_null()).alias(f"__look:{col.name}"))
        elif col.required:
            flags.append(raw_e.is_null().alias(f"__empty:{col.name}"))
    passthrough: list[str] = []
    if extras and passthrough_allowed:
        passthrough = list(extras)
        exprs.extend(pl.col(x).str.strip_chars().alias(x) for x in extras)

    # the file in pieces: only one piece's text is ever in memory
    raws: list[pl.DataFrame] = []
    parts: list[pl.DataFrame] = []
    offset = 0
    for body in _body_chunks(source):
        raws.append(_raw_line_problems(body, ncols, offset))
        part = (
            pl.scan_csv(
                body,
                has_header=False,
                schema=text_schema,
                missing_columns="insert",
                truncate_ragged_lines=True,
                encoding="utf8-lossy",
                row_index_name=_ROW,
                row_index_offset=offset,
                raise_if_empty=False,
            )
            .select(*exprs, *flags)
            .collect()
        )
        offset += part.height
        parts.append(part)
    frame = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
    del parts
    raw = pl.concat(raws) if raws else pl.DataFrame()

    blank = set(raw.filter(pl.col("blank"))[_ROW].to_list()) if raw.height else set()
    bad_rows: dict[int, str] = {}
    for row, fields, not_utf8, is_blank in raw.iter_rows():
        if is_blank:
            continue
        line = row + 2
        if not_utf8:
            report.add(Problem(file, line, None, None, "text in UTF-8", "not_utf8"))
        else:
            expected = f"{ncols} fields as in the header, found {fields}"
            report.add(Problem(file, line, None, None, expected, "ragged"))
        bad_rows.setdefault(row, "not_utf8" if not_utf8 else "ragged")

    cells: list[tuple[int, str, str]] = []  # (row, column, rule) of each bad cell
    flag_names = [n for n in frame.columns if n.startswith("__") and ":" in n]
    if flag_names:
        hits = frame.select(pl.col(_ROW), *flag_names).filter(pl.any_horizontal(flag_names))
        frame = frame.drop(flag_names)
        if hits.height:
            frame = _second_look(table, source, frame, hits, cells)
    for col in table.columns:
        domain = _in_domain(col, pl.col(col.name))
        if domain is not None and col.name in header:
            out = frame.filter(pl.col(col.name).is_not_null() & ~domain).get_column(_ROW)
            cells.extend((int(r), col.name, "domain") for r in out)
    if cells:
        _report_cells(table, source, cells, report, bad_rows)
    if blank:
        frame = frame.filter(~pl.col(_ROW).is_in(list(blank)))
    rows = frame.height

    # unique keys: the second and later occurrences are the problem
    for col in table.columns:
        if col.unique and col.name in header:
            keys = frame.get_column(col.name).drop_nulls()
            if _strictly_increasing(keys) or keys.n_unique() == keys.len():
                continue  # the common case: exported ids are usually in order
            dup = (
                frame.select(pl.col(_ROW), pl.col(col.name))
                .filter(pl.col(col.name).is_not_null())
                .filter(pl.col(col.name).is_duplicated())
                .sort(_ROW)
            )
            if dup.height:
                first: dict[str, int] = {}
                for row, value in dup.iter_rows():
                    if value in first:
                        report.add(
                            Problem(
                                file,
                                row + 2,
                                col.name,
                                value,
                                f"a unique {col.name} (already on line {first[value]})",
                                "duplicate_key",
                            )
                        )
                        bad_rows.setdefault(row, "duplicate_key")
                    else:
                        first[value] = row + 2

    ignored = [] if passthrough_allowed else extras
    if ignored:
        report.notes.append(f"{file}: extra column(s) ignored: {', '.join(ignored)}")
    return _Read(
        table, frame, bad_rows, TableReport(table.name, file, rows, rows, ignored), passthrough
    )


def _passthrough_types(frame: pl.DataFrame, names: list[str]) -> list[pl.Expr]:
    """Numbers when every filled cell is a number, else text (DESIGN 1)."""
    out: list[pl.Expr] = []
    for name in names:
        s = frame[name]
        filled = s.filter(s.is_not_null() & (s != ""))
        nums = filled.cast(pl.Float64, strict=False)
        if filled.len() and nums.null_count() == 0:
            out.append(pl.col(name).cast(pl.Float64, strict=False).alias(name))
        else:
            out.append(pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name)).alias(name))
    return out


def _raw_rows(source: Path | bytes, rows: list[int]) -> dict[int, dict[str, str | None]]:
    """The raw text of a few data rows, by row index (the rare path: problems)."""
    header = _header(source)
    raw = (
        pl.scan_csv(
            source,
            has_header=False,
            skip_rows=1,
            schema=dict.fromkeys(header, pl.String()) | {_OVERFLOW: pl.String()},
            missing_columns="insert",
            truncate_ragged_lines=True,
            encoding="utf8-lossy",
            row_index_name=_ROW,
        )
        .filter(pl.col(_ROW).is_in(rows))
        .collect()
    )
    return {r[_ROW]: r for r in raw.iter_rows(named=True)}


def _second_look(
    table: Table,
    source: Path | bytes,
    frame: pl.DataFrame,
    hits: pl.DataFrame,
    cells: list[tuple[int, str, str]],
) -> pl.DataFrame:
    """Parse the cells the fast way missed with the full parse; patch what it reads."""
    raw = _raw_rows(source, hits[_ROW].to_list())
    for name in hits.columns[1:]:
        rule, colname = name[2:].split(":", 1)
        rows = hits.filter(pl.col(name))[_ROW].to_list()
        if not rows:
            continue
        if rule == "empty":
            cells.extend((r, colname, "empty") for r in rows)
            continue
        col = table.column(colname)
        texts = [raw.get(r, {}).get(colname) for r in rows]
        parsed = pl.DataFrame({"raw": texts}, schema={"raw": pl.String}).select(
            parse(col, pl.col("raw")).alias("v"),
            pl.col("raw").str.strip_chars().fill_null("").alias("s"),
        )
        ok = parsed["v"].is_not_null().to_list()
        blank = (parsed["s"] == "").to_list()
        for r, good, empty in zip(rows, ok, blank, strict=True):
            if not good:
                cells.append((r, colname, "empty" if empty and col.required else "type"))
        keep = [i for i, good in enumerate(ok) if good]
        if keep:
            column = frame.get_column(colname).clone()
            column.scatter([rows[i] for i in keep], parsed["v"].gather(keep))
            frame = frame.with_columns(column)
    return frame


def _report_cells(
    table: Table,
    source: Path | bytes,
    cells: list[tuple[int, str, str]],
    report: Report,
    bad_rows: dict[int, str],
) -> None:
    """Name each bad cell with its raw text, re-reading only the offending rows."""
    file = table.filename
    cells = sorted(cells)
    raw = _raw_rows(source, sorted({r for r, _, _ in cells}))
    for row, colname, rule in cells:
        bad_rows.setdefault(row, rule)
        col = table.column(colname)
        value = raw.get(row, {}).get(colname)
        if rule == "empty" or (value is not None and not value.strip() and col.required):
            report.add(Problem(file, row + 2, colname, None, "a value (required)", "empty"))
        else:
            report.add(Problem(file, row + 2, colname, value, col.expected(), rule))


# ---------------------------------------------------------------- the folder


def _source(folder: Path | str, table: Table, stdin: BinaryIO | None) -> Path | bytes | None:
    if str(folder) == STDIN:
        if table.name != "consumers":
            return None
        data = (stdin or sys.stdin.buffer).read()
        return data
    path = Path(folder) / table.filename
    return path if path.is_file() else None


def read_folder(
    folder: Path | str,
    *,
    lenient: bool = False,
    stdin: BinaryIO | None = None,
) -> tuple[Tables, Report]:
    """Read and check a data folder. ``-`` reads consumers.csv from stdin.

    Raises DataError (exit 3) naming every problem (up to MAX_SHOWN per file),
    unless ``lenient``, which drops the offending rows and counts them in the
    report instead. A missing or empty consumers.csv is always an error.
    """
    report = Report()
    if str(folder) != STDIN and not Path(folder).is_dir():
        raise DataError(f"no data folder {str(folder)!r}", hint="give the folder of the CSVs")
    reads: dict[str, _Read] = {}
    for table in TABLES.values():
        source = _source(folder, table, stdin)
        if source is None:
            if table.required:
                raise DataError(
                    f"{table.filename} is missing",
                    where=str(folder),
                    hint="consumers.csv (one row per person) is the one table a folder needs",
                )
            continue
        got = _read_table(table, source, report, passthrough_allowed=table.passthrough)
        if got is None:
            continue
        reads[table.name] = got
        report.tables.append(got.report)

    consumers = reads.get("consumers")
    if consumers is not None and consumers.report.rows == 0:
        raise DataError(
            "consumers.csv has no rows", where=str(folder), hint="one row per person is needed"
        )
    # rows with a problem go first, so that references to them dangle visibly;
    # the references are checked even when other problems were found, so that
    # one run reports everything
    for got in reads.values():
        _drop(got, got.bad_rows, report)
    _check_references(reads, report, lenient)
    if not lenient and report.total_problems:
        raise report.error()
    if "logistics" in reads and "transactions" not in reads:
        report.notes.append("logistics.csv ignored: there is no transactions.csv to link it to")
        del reads["logistics"]

    if consumers is not None and consumers.passthrough:
        consumers.frame = consumers.frame.with_columns(
            _passthrough_types(consumers.frame, consumers.passthrough)
        )

    def frame(name: str) -> pl.DataFrame | None:
        got = reads.get(name)
        return None if got is None else got.frame.drop(_ROW)

    cons = frame("consumers")
    if cons is None:  # its header was unusable; the problem is in the report
        raise report.error()
    tables = Tables(
        consumers=cons,
        merchants=frame("merchants"),
        transactions=frame("transactions"),
        logistics=frame("logistics"),
        passthrough=consumers.passthrough if consumers else [],
        folder=None if str(folder) == STDIN else Path(folder),
    )
    for name in tables.missing():
        report.notes.append(f"no {name} data: {_ABSENT[name]} features absent")
    return tables, report


_ABSENT = {
    "merchants": "shop",
    "transactions": "repayment, shopping and connection",
    "logistics": "shipment",
}


def _drop(got: _Read, rows: dict[int, str], report: Report) -> None:
    if not rows:
        return
    present = set(got.frame[_ROW].to_list()) if len(rows) > 1000 else None
    for rule in sorted(set(rows.values())):
        n = sum(1 for r, why in rows.items() if why == rule and (present is None or r in present))
        report.drops.add(got.table.filename, rule, n)
    got.frame = got.frame.filter(~pl.col(_ROW).is_in(list(rows)))
    got.report.kept = got.frame.height


def _strictly_increasing(s: pl.Series) -> bool:
    """Sorted and unique, checked in one vectorised pass (no hashing)."""
    return s.len() < 2 or bool((s.slice(1) > s.slice(0, s.len() - 1)).all())


def _dangling(frame: pl.DataFrame, column: str, keys: pl.Series) -> pl.DataFrame:
    """Rows (``_ROW``, value) whose non-null ``column`` is not among ``keys``."""
    values = frame.select(pl.col(_ROW), pl.col(column)).filter(pl.col(column).is_not_null())
    if _strictly_increasing(keys) and keys.len():
        # binary search into sorted keys beats building a hash table of millions
        at = keys.search_sorted(values.get_column(column), side="left")
        hit = keys.gather(at.clip(0, keys.len() - 1)) == values.get_column(column)
        return values.filter(~hit)
    return values.join(keys.alias(column).to_frame(), on=column, how="anti").sort(_ROW)


def _check_references(reads: dict[str, _Read], report: Report, lenient: bool) -> None:
    # order matters: dropping a transaction can leave its shipments dangling
    for name in ("merchants", "transactions", "logistics"):
        got = reads.get(name)
        if got is None:
            continue
        for col in got.table.columns:
            if col.references is None:
                continue
            target_table, target_col = col.references
            target = reads.get(target_table)
            if target is None:
                continue
            dangling = _dangling(got.frame, col.name, target.frame.get_column(target_col))
            for row, value in dangling.iter_rows():
                report.add(
                    Problem(
                        got.table.filename,
                        row + 2,
                        col.name,
                        value,
                        f"a {target_col} of {target.table.filename}",
                        "dangling_reference",
                    )
                )
            if lenient:
                before = got.frame.height
                got.frame = got.frame.join(
                    dangling.select(_ROW), on=_ROW, how="anti", maintain_order="left"
                )
                report.drops.add(
                    got.table.filename, "dangling_reference", before - got.frame.height
                )
                got.report.kept = got.frame.height
