"""Read a data folder into typed Polars frames, checking every rule of the contract.

A CSV is read in pieces of about ``CHUNK_BYTES`` that each end at a record
boundary, so memory stays bounded whatever the file's size. Each piece is
scanned twice, cheaply: once as raw lines (to find ragged rows, blank lines and
bytes that are not UTF-8, which a CSV parser would silently paper over) and
once through Polars' CSV reader with every column as text, parsed to the
contract's types in the same lazy query. Nothing is inferred.

Quotes follow RFC 4180: a field that starts with ``"`` runs to the matching
``"`` and may hold commas, doubled quotes and line breaks. A piece with no
quote at all (the common case) or whose every line is a whole record goes to
Polars as it is. Otherwise the lines that are not (a field spanning lines, a
stray quote) are tokenized here and spliced back in canonical form, so that
Polars reads them right, and a record-to-line mapping keeps every line number
the file's own. Decisions, where the RFC is silent:

- a quote that does not start a field is text: ``TV 55" screen`` is read as
  written, as Python's csv module and spreadsheets read it; text after a
  closing quote is kept too (``"ab"c`` is ``abc``);
- a quote that opens a field and is never closed is a problem naming the line
  where it opened, and stops the command even with ``--lenient``, since
  everything after it would be one field;
- blank lines (empty or only whitespace) are skipped: not rows, not problems;
- line ends are ``\\n`` or ``\\r\\n``; a file with CR alone (classic Mac) is
  refused with a message that says so rather than guessed at.

Line numbers are the file's own: the header is line 1, and a record that spans
lines is known by its first. Each row of a table carries its line (``_ROW``),
so that every problem, whichever check finds it, names the right one.
``--lenient`` drops rows, never tables or columns: a broken header or a file
that is not CSV text stops every command.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import itertools
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import polars as pl

from trustscore.data_tables import DataTables
from trustscore.errors import DataError, DropReport, Problem
from trustscore.notes import Note
from trustscore.schema import (
    FALSE_WORDS,
    FIRST_DATE,
    LAST_DATE,
    TABLES,
    TRUE_WORDS,
    Column,
    Kind,
    Table,
    passthrough_number,
)
from trustscore.unlikely import DataWarning, link_column
from trustscore.unlikely import find as find_unlikely

MAX_SHOWN = 20  # problems kept per file; the rest are only counted
# Internal column names start with a NUL, which no header may hold (names with
# control characters are refused), so that no column of a file can clash with them.
_ROW = "\x00row"  # a row's line in its file (header = line 1): how every check names it
_IDX = "\x00idx"  # a record's index in a piece
_OVERFLOW = "\x00overflow"  # catches the fields of a row longer than the header
STDIN = "-"

CHUNK_BYTES = 1 << 27  # CSV text parsed at a time: bounds memory whatever the file's size
MAX_RECORD_BYTES = 1 << 27  # a record longer than this is taken for a quote never closed
_SNIFF_BYTES = 1 << 16  # what is looked at to tell CSV text from other files

_PROBLEM_SCHEMA = pl.Schema(
    {
        _ROW: pl.Int64(),
        "ord": pl.Int64(),  # within a line: the row's own problem first, then by column
        "column": pl.String(),
        "value": pl.String(),
        "expected": pl.String(),
        "rule": pl.String(),
    }
)


@dataclass
class TableReport:
    name: str
    file: str
    rows: int  # data rows read (blank lines not counted)
    kept: int  # rows handed on (fewer than rows only under --lenient)
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What validation found: tables, row counts, problems (capped per file),
    warnings (legal but unlikely rows, per rule: ``unlikely``), notes."""

    tables: list[TableReport] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # all problems per file
    notes: list[Note] = field(default_factory=list)
    drops: DropReport = field(default_factory=DropReport)
    # a problem no dropped row can mend (a header, a file that is not CSV text):
    # it stops the command even under --lenient
    fatal: bool = False
    # the rules that caught rows, in the order of unlikely.RULES; empty under
    # strict, where those rows are problems instead
    warnings: list[DataWarning] = field(default_factory=list)
    unlikely_problems: int = 0  # problems that are unlikely rows, under strict

    @property
    def total_problems(self) -> int:
        return sum(self.counts.values())

    @property
    def total_warnings(self) -> int:
        return sum(w.count for w in self.warnings)

    def warning_counts(self) -> dict[str, int]:
        """Warned rows per file, for every file that has any."""
        out: dict[str, int] = {}
        for w in self.warnings:
            out[w.file] = out.get(w.file, 0) + w.count
        return out

    def add(self, problem: Problem, *, fatal: bool = False) -> None:
        n = self.counts.get(problem.file, 0)
        self.counts[problem.file] = n + 1
        if n < MAX_SHOWN:
            self.problems.append(problem)
        self.fatal = self.fatal or fatal

    def extend(self, file: str, problems: pl.DataFrame) -> None:
        """Many problems of one file, as rows of ``_PROBLEM_SCHEMA``, in order."""
        n = self.counts.get(file, 0)
        room = max(MAX_SHOWN - n, 0)
        for line, _, column, value, expected, rule in problems.head(room).iter_rows():
            self.problems.append(Problem(file, line, column, value, expected, rule))
        self.counts[file] = n + problems.height

    def error(self) -> DataError:
        n = self.total_problems
        files = ", ".join(f"{f}: {c}" for f, c in self.counts.items() if c)
        hint = (
            "fix the files named above: --lenient drops bad rows, never a whole table or column"
            if self.fatal
            else "fix the rows named above, or pass --lenient to drop them and go on"
        )
        if self.unlikely_problems and not self.fatal:
            hint = strict_hint(self, hint)
        exc = DataError(
            f"{n} problem{'s' if n != 1 else ''} in the input data ({files})",
            hint=hint,
            problems=list(self.problems),
            counts=dict(self.counts),
        )
        exc.report = self
        return exc


def strict_hint(report: Report, hint: str) -> str:
    """The hint for problems of which some are unlikely rows (``strict``)."""
    if report.unlikely_problems == report.total_problems:  # --lenient would not help
        return "fix the rows named above, or leave out --strict to take them as warnings"
    return hint + " (without --strict, unlikely rows are only warnings)"


class _Fatal(Exception):
    """A file that cannot be read as a table at all; carries the one problem."""

    def __init__(self, problem: Problem):
        super().__init__(problem.describe())
        self.problem = problem


# ---------------------------------------------------------------- what the file is

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "CSV text, not gzip-compressed data: decompress it first (gunzip)"),
    (b"PK\x03\x04", "CSV text, not a zip archive or .xlsx workbook: unzip it or export CSV"),
    (b"BZh", "CSV text, not bzip2-compressed data: decompress it first (bunzip2)"),
    (b"\xfd7zXZ\x00", "CSV text, not xz-compressed data: decompress it first (unxz)"),
    (b"\x28\xb5\x2f\xfd", "CSV text, not zstd-compressed data: decompress it first (unzstd)"),
    (b"PAR1", "CSV text, not a Parquet file: export it as CSV"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "CSV text, not an Excel .xls workbook: export CSV"),
    (b"%PDF-", "CSV text, not a PDF document"),
    (b"SQLite format 3\x00", "CSV text, not an SQLite database: export a table as CSV"),
    (b"\xff\xfe\x00\x00", "CSV text in UTF-8, not UTF-32: save it as UTF-8"),
    (b"\x00\x00\xfe\xff", "CSV text in UTF-8, not UTF-32: save it as UTF-8"),
    (b"\xff\xfe", "CSV text in UTF-8, not UTF-16: save it as UTF-8"),
    (b"\xfe\xff", "CSV text in UTF-8, not UTF-16: save it as UTF-8"),
)
_BZIP2 = re.compile(rb"BZh[1-9]1AY&SY")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_CONTROL_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _sniff(sample: bytes) -> str | None:
    """What a file's first bytes say it is, when that is not CSV text in UTF-8:
    the expectation a problem states, with what to do. None when it looks like text."""
    for magic, what in _MAGIC:
        if sample.startswith(magic) and (magic != b"BZh" or _BZIP2.match(sample)):
            return what
    if b"\x00" in sample:
        if not sample.strip(b"\x00"):
            return "CSV text, not NUL bytes only (a file never written out?)"
        even, odd = sample[0::2], sample[1::2]
        for zeros, other in ((odd, even), (even, odd)):  # UTF-16 without a BOM
            if zeros.count(0) > 0.3 * len(zeros) and other.count(0) < 0.05 * len(other):
                return "CSV text in UTF-8, not UTF-16: save it as UTF-8"
        return "CSV text, not binary data (it holds NUL bytes)"
    if len(_CONTROL.findall(sample)) > 0.05 * len(sample):
        return "CSV text, not binary data"
    text = sample.decode("utf-8", errors="replace")
    if text.count("\ufffd") > 0.1 * len(text):
        return "CSV text in UTF-8, not another encoding (Latin-1, Windows-125x?): save it as UTF-8"
    return None


def _shown(name: str) -> str:
    """A name from a file, safe to print: control characters spelled out."""
    return repr(name)[1:-1] if _CONTROL_TEXT.search(name) else name


# ---------------------------------------------------------------- records

# one field and no more: quoted (possessive, so a field never closed fails
# rather than backtracking into a shorter one), then any text up to the next
# comma; or unquoted, quotes inside it being text
_FIELD = re.compile(rb'"((?:[^"]|"")*+)"([^,\n]*)|([^,\n]*)')
# a line that is a whole record Polars reads as RFC 4180 has it: every field
# either free of quotes or quoted from its first character to its last
_WHOLE_LINE = r'^(?:"(?:[^"]|"")*"|[^",]*)(?:,(?:"(?:[^"]|"")*"|[^",]*))*\r?$'


@dataclass
class _Record:
    """A record as the tokenizer read it."""

    canonical: bytes  # the same fields, written the way Polars reads them back, on one line
    fields: int
    end: int  # offset just past its line end
    lines: int  # lines of the file it spans
    open_quote: int = -1  # offset of a quote opened in it and never closed, else -1


_TEXT_QUOTES = re.compile(rb'[^,]*"[^,]*')  # a field that holds a quote, start to end


def _quote(m: re.Match[bytes]) -> bytes:
    return b'"' + m.group().replace(b'"', b'""') + b'"'


def _record(data: bytes, start: int) -> _Record:
    """The record at offset ``start`` of ``data`` (the start of a line)."""
    n = len(data)
    stop = data.find(b"\n", start)
    stop = n if stop < 0 else stop
    line = data[start:stop].removesuffix(b"\r")
    if not line.startswith(b'"') and b',"' not in line:
        # no field starts with a quote, so every quote is text (the common
        # stray quote): quote the fields that hold one, leave the rest alone
        return _Record(_TEXT_QUOTES.sub(_quote, line), line.count(b",") + 1, min(stop + 1, n), 1)
    fields, end, open_quote = _fields(data, start)
    if open_quote >= 0:
        return _Record(b"", len(fields), n, 0, open_quote)
    lines = data.count(b"\n", start, end) + (data[end - 1] != 0x0A)
    return _Record(_canonical(fields), len(fields), end, lines)


def _fields(data: bytes, start: int) -> tuple[list[bytes | None], int, int]:
    """The fields of the record at ``start`` (None: empty and unquoted), the offset
    just past its line end, and that of a quote never closed in it (else -1)."""
    fields: list[bytes | None] = []
    pos, n = start, len(data)
    while True:
        m = _FIELD.match(data, pos)
        assert m is not None  # the unquoted branch matches anything, even nothing
        quoted, after, plain = m.group(1, 2, 3)
        end = m.end()
        last = end >= n or data[end] == 0x0A
        if quoted is not None:
            if last and after.endswith(b"\r"):
                after = after[:-1]
            if after and b"\n" in quoted:
                # text after a closing quote is kept ("ab"c reads abc) on one line; across
                # lines it is the mark of a quote never closed that ran on to the next
                # quote in the file, swallowing the records between: refuse it
                return fields, n, pos
            fields.append(quoted.replace(b'""', b'"') + after)
        elif plain.startswith(b'"'):
            return fields, n, pos
        else:
            if last and plain.endswith(b"\r"):
                plain = plain[:-1]
            fields.append(plain or None)
        if last:
            return fields, min(end + 1, n), -1
        pos = end + 1


def _canonical(fields: list[bytes | None]) -> bytes:
    """Fields as one line Polars reads back field for field (None: empty, read as null)."""
    return b",".join(b"" if f is None else b'"' + f.replace(b'"', b'""') + b'"' for f in fields)


@dataclass
class _Piece:
    """Whole records of a file, ready for Polars, and what the raw pass found in them."""

    body: bytes
    quoted: bool  # the body holds a quote
    line: int  # the file's line of the body's first line
    # record index -> line: line + index + shift, the shift growing after each
    # record that spans lines; None when every record is one line
    breaks: tuple[pl.Series, pl.Series] | None
    raw: pl.DataFrame  # offending records: _ROW, fields, not_utf8, blank


def _raw_lines(body: bytes, ncols: int, line: int, quoted: bool) -> pl.DataFrame:
    """Lines of a piece that are blank, not UTF-8, of another field count than the
    header, or (``quoted``) not a whole record by themselves. Columns: _ROW (the
    file's line), fields, not_utf8, blank, partial; offending lines only."""
    text = pl.col("line")
    if quoted:
        fields = text.str.replace_all(r'"(?:[^"]|"")*"', "").str.count_matches(",", literal=True)
        partial = ~text.str.contains(_WHOLE_LINE).fill_null(True)
    else:
        fields = text.str.count_matches(",", literal=True)
        partial = pl.lit(False)
    if b"\x1f" in body or _looks_compressed(body):  # split such lines here (see below)
        lines = body.decode("utf-8", errors="replace").split("\n")
        if lines[-1] == "":
            lines.pop()
        scan = pl.LazyFrame(
            {"line": [s.removesuffix("\r") for s in lines]}, schema={"line": pl.String}
        ).with_row_index(_ROW, offset=line)
    else:
        scan = pl.scan_csv(
            body,
            has_header=False,
            separator="\x1f",
            quote_char=None,
            schema={"line": pl.String},
            truncate_ragged_lines=True,
            encoding="utf8-lossy",
            row_index_name=_ROW,
            row_index_offset=line,
            empty_string_is_null=False,
            raise_if_empty=False,
        )
    blank = text.is_null() | ~text.str.contains(r"\S")
    return (
        scan.select(
            pl.col(_ROW).cast(pl.Int64),
            (fields + 1).alias("fields"),
            text.str.contains("\ufffd", literal=True).fill_null(False).alias("not_utf8"),
            blank.alias("blank"),
            partial.alias("partial"),
        )
        .filter(
            pl.col("blank")
            | pl.col("not_utf8")
            | pl.col("partial")
            | (pl.col("fields") != ncols).fill_null(False)
        )
        .collect()
    )


def _piece(
    body: bytes, line: int, header: list[str], file: str, *, final: bool
) -> tuple[_Piece | None, int]:
    """The records of ``body`` (whole lines of a file from ``line`` on), and how
    many of its bytes they use: a record still open at the end waits for more,
    unless ``final``, when its quote is a problem."""
    ncols = len(header)
    nul = body.find(b"\x00")
    if nul >= 0:  # past the first bytes the sniff looked at: binary data all the same
        raise _Fatal(
            Problem(
                file,
                line + body.count(b"\n", 0, nul),
                None,
                None,
                "CSV text, not binary data (it holds NUL bytes)",
                "not_csv",
            )
        )
    quoted = b'"' in body
    raw = _raw_lines(body, ncols, line, quoted)
    partial = raw.filter(pl.col("partial"))
    if partial.height == 0:
        return _Piece(body, quoted, line, None, raw.drop("partial")), len(body)

    import numpy as np  # only here: the card's import stays light

    ends = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == 0x0A)
    nlines = len(ends) + (0 if body.endswith(b"\n") else 1)
    covered = np.zeros(nlines + 1, dtype=bool)  # lines of the records read here
    singles: list[int] = []  # those of one line, marked at the end in one go
    not_utf8 = set((raw.filter(pl.col("not_utf8"))[_ROW] - line).to_list())
    view = memoryview(body)  # slices of it are not copies
    out: list[bytes | memoryview] = []
    odd: list[tuple[int, int, bool]] = []  # (line, fields, not_utf8) of the bad ones
    rows: list[int] = [0]
    shifts: list[int] = [0]
    pos = cur = rec = 0
    used = len(body)
    for k in (partial[_ROW] - line).to_list():
        if k < cur:
            continue  # inside a record read already
        start = 0 if k == 0 else int(ends[k - 1]) + 1
        got = _record(body, start)
        if got.open_quote >= 0:
            if not final:
                used = start  # the record goes on in the next piece
                break
            at = line + k + body.count(b"\n", start, got.open_quote)
            raise _Fatal(
                Problem(
                    file,
                    at,
                    _shown(header[got.fields]) if got.fields < ncols else None,
                    None,
                    'a closing quote: the field opened with " here is never closed '
                    '(close it, or write a quote inside a field as "")',
                    "unterminated_quote",
                )
            )
        out += (view[pos:start], got.canonical, b"\n")
        rec += k - cur + 1
        if got.lines > 1:
            rows.append(rec)
            shifts.append(shifts[-1] + got.lines - 1)
            covered[k : k + got.lines] = True
        else:
            singles.append(k)
        bad_text = bool(not_utf8) and any(j in not_utf8 for j in range(k, k + got.lines))
        if bad_text or got.fields != ncols:
            odd.append((line + k, got.fields, bad_text))
        pos, cur = got.end, k + got.lines
    covered[singles] = True
    if used < len(body):
        covered[body.count(b"\n", 0, used) :] = True  # the lines left for the next piece
    if pos == 0 and used == 0:
        return None, 0
    out.append(view[pos:used])
    keep = pl.Series(~covered[(raw[_ROW] - line).to_numpy()])
    raw = raw.filter(keep).drop("partial")
    own = pl.DataFrame(
        {
            _ROW: [r[0] for r in odd],
            "fields": [r[1] for r in odd],
            "not_utf8": [r[2] for r in odd],
            "blank": [False] * len(odd),
        },
        schema={_ROW: pl.Int64, "fields": pl.Int64, "not_utf8": pl.Boolean, "blank": pl.Boolean},
    )
    raw = pl.concat([raw, own.cast(raw.schema)]).sort(_ROW)
    idx = pl.get_index_type()
    breaks = (pl.Series(rows, dtype=idx), pl.Series(shifts, dtype=idx))
    return _Piece(b"".join(out), True, line, breaks, raw), used


def _pieces(fh: BinaryIO, line: int, header: list[str], file: str) -> Iterator[_Piece]:
    """The data records after the header, in pieces that each end at a record's end."""
    carry = b""  # the start of a record a piece could not finish
    while True:
        if len(carry) > MAX_RECORD_BYTES:  # no field is that long: its quote is never closed
            _piece(carry, line, header, file, final=True)  # raises, naming the quote
            raise _Fatal(Problem(file, line, None, None, "a record shorter than 128 MB", "ragged"))
        block = fh.read(CHUNK_BYTES)
        final = not block
        if carry:
            block = carry + block
        if not block:
            return
        cut = len(block) if final else block.rfind(b"\n") + 1
        if not cut:
            carry = block
            continue
        # only the piece's own text stays in memory while it is parsed
        tail = block[cut:]
        body = block if cut == len(block) else block[:cut]
        del block
        piece, used = _piece(body, line, header, file, final=final)
        carry = body[used:] + tail if used < len(body) else tail
        line += body.count(b"\n", 0, used)
        del body
        if piece is not None:
            yield piece
        if final:
            return


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
    # a space between date and time, as SQL exports write it, reads as the T
    s = e.str.strip_chars().str.replace(r"^(\d{4}-\d{2}-\d{2}) ", "${1}T")
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


_FIRST = dt.datetime.combine(FIRST_DATE, dt.time())
_AFTER_LAST = dt.datetime.combine(LAST_DATE + dt.timedelta(days=1), dt.time())


def _in_domain(col: Column, typed: pl.Expr) -> pl.Expr | None:
    """Whether a typed, non-null value is allowed (schema's bounds and ranges), if
    the column has bounds at all."""
    if col.kind is Kind.FLOAT:
        rules: list[pl.Expr] = []
        if col.min_value is not None:
            low = col.min_value
            rules.append(typed > low if col.min_exclusive else typed >= low)
        if col.max_value is not None:
            rules.append(typed < col.max_value)
        return pl.all_horizontal(rules) if rules else None
    if col.kind is Kind.DATE:
        return typed.is_between(FIRST_DATE, LAST_DATE)
    if col.kind is Kind.TIMESTAMP:
        return (typed >= _FIRST) & (typed < _AFTER_LAST)
    return None


# ---------------------------------------------------------------- one table


@dataclass
class _Read:
    table: Table
    frame: pl.DataFrame  # typed, with _ROW
    bad_rows: pl.DataFrame  # _ROW, rule: each row's first problem (dropped under lenient)
    report: TableReport
    passthrough: list[str]
    numeric: list[str] = field(default_factory=list)  # passthrough columns of numbers
    empty_file: bool = False


def _header(fh: BinaryIO, table: Table) -> tuple[list[str], int, int] | None:
    """The column names, the offset just past them and the file's line they stand
    on (blank lines before the header are skipped, as blank lines are anywhere);
    None for an empty file. Raises _Fatal for a file that is not CSV text or a
    header that is unusable."""
    file = table.filename
    sample = fh.read(_SNIFF_BYTES)
    fh.seek(0)
    if not sample.removeprefix(b"\xef\xbb\xbf").strip() and len(sample) < _SNIFF_BYTES:
        return None  # empty, a BOM alone, or blank lines alone
    what = _sniff(sample)
    if what is not None:
        raise _Fatal(Problem(file, None, None, None, what, "not_csv"))
    head = fh.readline(1 << 20)
    line, skipped = 1, 0
    while head.endswith(b"\n") and not head.removeprefix(b"\xef\xbb\xbf").strip():
        skipped += len(head)
        line += 1
        head = fh.readline(1 << 20)
    first = head.removeprefix(b"\xef\xbb\xbf").removesuffix(b"\n").removesuffix(b"\r")
    if b"\r" in first:
        raise _Fatal(
            Problem(
                file,
                None,
                None,
                None,
                "lines ending in \\n or \\r\\n, not in a CR alone (an old Mac file): "
                "save it with Unix or Windows line ends",
                "not_csv",
            )
        )

    def header_problem(expected: str, column: str | None = None) -> _Fatal:
        return _Fatal(Problem(file, line, column, None, expected, "header"))

    if not head.endswith(b"\n") and len(head) == 1 << 20:
        raise header_problem("a header row shorter than 1 MB")
    if not first.strip():
        raise header_problem("a header row naming the columns")
    fields, _, open_quote = _fields(first, 0)
    if open_quote >= 0:
        raise header_problem("a header row on one line, every quote in it closed")
    for sep, name in ((b"\t", "tabs"), (b";", "semicolons"), (b"|", "bars")):
        if len(fields) == 1 and first.count(sep) >= 1:
            # one column named 'person_id\tsignup_date...' is another separator's file
            raise header_problem(
                f"values separated by commas, not {name}: save the file as CSV with commas"
            )
    try:
        names = [(f or b"").decode("utf-8") for f in fields]
    except UnicodeDecodeError:
        raise header_problem("column names in UTF-8") from None
    return names, skipped + len(head), line


def _check_header(table: Table, header: list[str], report: Report, line: int | None = 1) -> bool:
    file = table.filename
    ok = True

    def bad(column: str | None, value: str | None, expected: str, rule: str = "header") -> None:
        nonlocal ok
        ok = False
        report.add(Problem(file, line, column, value, expected, rule), fatal=True)

    for i, name in enumerate(header, 1):
        if not name.strip():
            bad(None, None, f"a name for every column (column {i} of {len(header)} has none)")
        elif _CONTROL_TEXT.search(name):
            bad(None, name, f"a column name without control characters (column {i})")
    seen: set[str] = set()
    for name in header:
        if name in seen and name.strip():
            bad(_shown(name), name, "each column named once")
        seen.add(name)
    known = {c.name for c in table.columns}
    for name in header:
        near = _contract_name(name, known)
        if name not in known and near is not None and near not in header:
            # Monthly_Income or 'defaulted ' would become a passthrough feature (or be
            # ignored) and the contract's column silently absent: say so instead
            bad(
                _shown(name),
                name,
                f"the contract's column name {near!r}, spelled exactly so (rename the column)",
                "near_miss_column",
            )
    for c in table.columns:
        if c.required and c.name not in header and _near_in(c.name, header) is None:
            bad(c.name, None, f"a required column {c.name!r}", "missing_column")
    return ok


def _normal(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff")).lower()


def _contract_name(name: str, known: set[str]) -> str | None:
    """The contract's column that ``name`` spells otherwise (case, spaces, dashes)."""
    normal = _normal(name)
    return next((k for k in known if k == normal and k != name), None)


def _near_in(column: str, header: list[str]) -> str | None:
    return next((h for h in header if h != column and _normal(h) == column), None)


# the keys other tables refer to: (table, column)
_REFERENCED = {c.references for t in TABLES.values() for c in t.columns if c.references}


def _exprs(
    table: Table, header: list[str], extras: list[str], *, quoted: bool
) -> tuple[list[pl.Expr], int]:
    """The typed columns of a piece, then flags naming the cells that need a look:
    ``look`` the fast parse failed, ``empty`` a required text is empty,
    ``domain`` the fast parse is outside the contract's bounds. Returns the
    expressions and how many of them are values. ``quoted``: for a piece that
    holds quotes, where a text may be a quoted empty string."""
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
        if col.kind is Kind.STRING:
            empty = raw_e.is_null()
            if quoted:  # a quoted "" is as empty as nothing at all
                raw_e = pl.when(raw_e != "").then(raw_e)
                empty = raw_e.is_null()
            exprs.append(raw_e.alias(col.name))
            if col.required and (table.name, col.name) in _REFERENCED:
                # a key of spaces is no key: as empty as nothing. Checked where
                # others refer to it; a reference of spaces then dangles visibly
                blank = raw_e.str.contains(r"^\s+$").fill_null(False)
                flags.append((empty | blank).alias(f"\x00empty:{col.name}"))
            elif col.required:
                flags.append(empty.alias(f"\x00empty:{col.name}"))
            continue
        fast = fast_parse(col, raw_e)
        exprs.append(fast.alias(col.name))
        flags.append((raw_e.is_not_null() & fast.is_null()).alias(f"\x00look:{col.name}"))
        domain = _in_domain(col, fast)
        if domain is not None:
            flags.append((fast.is_not_null() & ~domain).alias(f"\x00domain:{col.name}"))
    exprs.extend(pl.col(x).str.strip_chars().alias(x) for x in extras)
    return exprs + flags, len(exprs)


_POLARS_DECOMPRESSES = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"x\x01", b"x^", b"x\x9c", b"x\xda")


def _looks_compressed(body: bytes) -> bool:
    """Polars decompresses bytes that start like gzip, zlib or zstd data; a piece of CSV
    can start so by chance (a first field ``x^...``), and must be read as text."""
    return body.startswith(_POLARS_DECOMPRESSES)


def _scan(piece: _Piece, header: list[str]) -> pl.LazyFrame:
    """A piece's records as text, each with its line."""
    schema = {h: pl.String() for h in header} | {_OVERFLOW: pl.String()}
    # a leading blank record keeps Polars from taking the bytes for compressed data;
    # it is sliced off below, and the row numbers start one earlier to match
    lead = 1 if _looks_compressed(piece.body) else 0
    lf = pl.scan_csv(
        b"\n" + piece.body if lead else piece.body,
        has_header=False,
        schema=schema,
        missing_columns="insert",
        extra_columns="ignore",  # a first row longer than the header is ragged, not an error
        truncate_ragged_lines=True,
        encoding="utf8-lossy",
        row_index_name=_ROW if piece.breaks is None else _IDX,
        row_index_offset=piece.line - lead if piece.breaks is None else 0,
        raise_if_empty=False,
    )
    if lead:
        lf = lf.slice(1)
        if piece.breaks is not None:
            lf = lf.with_columns(pl.col(_IDX) - 1)
    if piece.breaks is not None:
        rows, shifts = piece.breaks
        at = pl.lit(rows).search_sorted(pl.col(_IDX), side="right") - 1
        lf = lf.with_columns(
            (pl.col(_IDX) + piece.line + pl.lit(shifts).gather(at)).alias(_ROW)
        ).drop(_IDX)
    return lf.with_columns(pl.col(_ROW).cast(pl.Int64))


def _problem_rows(
    rows: pl.DataFrame,
    column: str | None,
    value: pl.Expr | None,
    expected: str | pl.Expr,
    rule: str,
    order: int = 0,
) -> pl.DataFrame:
    """One problem per row of ``rows`` (a frame with ``_ROW``), as ``_PROBLEM_SCHEMA``."""
    return rows.select(
        pl.col(_ROW),
        pl.lit(order).alias("ord"),
        pl.lit(column, dtype=pl.String).alias("column"),
        (pl.lit(None, dtype=pl.String) if value is None else value).alias("value"),
        (pl.lit(expected) if isinstance(expected, str) else expected).alias("expected"),
        pl.lit(rule).alias("rule"),
    ).cast(_PROBLEM_SCHEMA)


def _problems(rows: list[pl.DataFrame]) -> pl.DataFrame:
    """Problems in line order; on one line, the row's own first, then by column."""
    if not rows:
        return pl.DataFrame(schema=_PROBLEM_SCHEMA)
    return pl.concat(rows).sort(_ROW, "ord", maintain_order=True)


def _typed_piece(
    table: Table,
    header: list[str],
    piece: _Piece,
    exprs: list[pl.Expr],
    nvalues: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The typed rows of a piece, and its problems (``_PROBLEM_SCHEMA``, in line order)."""
    ncols = len(header)
    raw = piece.raw
    blank = raw.filter(pl.col("blank"))[_ROW]
    lf = _scan(piece, header)
    if blank.len():
        lf = lf.filter(~pl.col(_ROW).is_in(blank.implode()))
    part = lf.select(exprs).collect()
    names = part.columns[nvalues:]
    bad = raw.filter(~pl.col("blank"))
    found = [
        _problem_rows(bad.filter(pl.col("not_utf8")), None, None, "text in UTF-8", "not_utf8"),
        _problem_rows(
            bad.filter(~pl.col("not_utf8")),
            None,
            None,
            pl.format(f"{ncols} fields as in the header, found {{}}", pl.col("fields")),
            "ragged",
        ),
    ]
    if names:
        hits = part.select(_ROW, *names).filter(pl.any_horizontal(names))
        part = part.drop(names)
        if bad.height:  # a row that is not a row: its cells are not looked at
            hits = hits.filter(~pl.col(_ROW).is_in(bad[_ROW].implode()))
        if hits.height:
            part = _look(table, header, piece, part, hits, found)
    return part, _problems(found)


def _look(
    table: Table,
    header: list[str],
    piece: _Piece,
    part: pl.DataFrame,
    hits: pl.DataFrame,
    found: list[pl.DataFrame],
) -> pl.DataFrame:
    """Give the flagged cells the full parse, patch what it reads, name the rest
    with their text (re-read from the piece: the rare path)."""
    texts = (
        _scan(piece, header)
        .filter(pl.col(_ROW).is_in(hits[_ROW].implode()))
        .select(_ROW, *header)
        .collect()
    )
    texts = hits.select(_ROW).join(texts, on=_ROW, how="left", maintain_order="left")
    order = {c.name: i for i, c in enumerate(table.columns, 1)}

    def cells(rows: pl.DataFrame, col: Column, rule: str) -> None:
        at = order[col.name]
        if rule == "empty":
            found.append(_problem_rows(rows, col.name, None, "a value (required)", rule, at))
        else:
            found.append(_problem_rows(rows, col.name, pl.col("raw"), col.expected(), rule, at))

    for name in hits.columns[1:]:
        rule, colname = name[1:].split(":", 1)
        col = table.column(colname)
        flagged = pl.concat([texts, hits.select(name)], how="horizontal").filter(pl.col(name))
        flagged = flagged.select(_ROW, pl.col(colname).alias("raw"))
        if rule == "empty":
            cells(flagged, col, "empty")
        elif rule == "domain":
            cells(flagged, col, "domain")
        else:
            parsed = flagged.with_columns(
                parse(col, pl.col("raw")).alias("v"),
                (pl.col("raw").str.strip_chars().fill_null("") == "").alias("blank"),
            )
            domain = _in_domain(col, pl.col("v"))
            ok = pl.col("v").is_not_null() & (True if domain is None else domain)
            failed = parsed.filter(~ok)
            cells(failed.filter(pl.col("v").is_not_null()), col, "domain")
            if col.required:  # empty means unknown, which a required column cannot be
                cells(failed.filter(pl.col("v").is_null() & pl.col("blank")), col, "empty")
            cells(failed.filter(pl.col("v").is_null() & ~pl.col("blank")), col, "type")
            good = parsed.filter(ok)
            if good.height:
                at = part[_ROW].search_sorted(good[_ROW])
                column = part.get_column(colname).clone()
                column.scatter(at, good["v"].cast(column.dtype))
                part = part.with_columns(column)
    return part


def _read_table(table: Table, source: Path | bytes, report: Report) -> _Read | None:
    try:
        if isinstance(source, Path) and source.suffix == ".parquet":
            return _read_parquet(dataclasses.replace(table, suffix="parquet"), source, report)
        with source.open("rb") if isinstance(source, Path) else io.BytesIO(source) as fh:
            return _read_csv(table, fh, report)
    except _Fatal as exc:
        report.add(exc.problem, fatal=True)
        return None


# ---------------------------------------------------------------- Parquet


def _native(col: Column, dtype: pl.DataType) -> pl.Expr | None:
    """The column's typed value straight from a Parquet type that already holds it
    (a date as a date, a number as a number), or None: then it is read as text,
    by the same rules as a CSV cell."""
    e = pl.col(col.name)
    k = col.kind
    if k is Kind.DATE and dtype == pl.Date:
        return e
    if k is Kind.DATE and isinstance(dtype, pl.Datetime):
        # pandas writes dates as midnight time stamps: a date, on the day's own clock;
        # any other time of day is no date
        wall = e if dtype.time_zone is None else e.dt.replace_time_zone(None)
        return pl.when(wall == wall.dt.truncate("1d")).then(wall.dt.date())
    if k is Kind.TIMESTAMP and isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:  # to UTC, then naive: every timestamp compares alike
            e = e.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return e.dt.cast_time_unit("us")
    if k is Kind.BOOL and dtype == pl.Boolean:
        return e
    if k is Kind.CHOICE and dtype == col.dtype:  # the contract's own Enum (convert writes it)
        return e
    if k is Kind.FLOAT and (dtype.is_numeric()):
        x = e.cast(pl.Float64)
        return pl.when(x.is_finite()).then(x).otherwise(None)
    if k is Kind.LABEL and (dtype == pl.Boolean or dtype.is_numeric()):
        # 1.0 and 0.0 too: pandas writes an outcome column with gaps as floats
        x = e.cast(pl.Float64)
        return pl.when(x.is_in([0.0, 1.0])).then(x).otherwise(None).cast(pl.Int8)
    return None


_BEYOND = "\x00beyond:"  # the text shown for a date or time stamp far outside any calendar
# dates and times inside these are converted as usual; the contract's range is well within
_SAFE_SPAN = (dt.datetime(1800, 1, 1), dt.datetime(2300, 1, 1))


def _beyond_calendar(
    raw: pl.DataFrame, schema: Mapping[str, pl.DataType]
) -> tuple[pl.DataFrame, set[str]]:
    """``raw`` with every date or time stamp outside ``_SAFE_SPAN`` emptied, and the
    names of the columns that held one.

    A Parquet file can hold any 64-bit number as a time stamp (an edited or
    damaged file, a sentinel like the largest integer): Polars panics when it
    turns one beyond its calendar into a date or text. Such cells are emptied
    before anything converts them, and a column ``_BEYOND + name`` says what
    they held ("the year 292278") for the error that names them.
    """
    found: set[str] = set()
    added: list[pl.Expr] = []
    for name, dtype in schema.items():
        if not isinstance(dtype, pl.Date | pl.Datetime) or name not in raw.columns:
            continue
        if isinstance(dtype, pl.Date):
            per_day, lo, hi = 1, *(_days(t) for t in _SAFE_SPAN)
        else:
            per_day = {"ns": 86_400_000_000_000, "us": 86_400_000_000, "ms": 86_400_000}[
                dtype.time_unit
            ]
            # in nanoseconds 2300 lies past the 64-bit range (which ends in 2262)
            lo, hi = (max(-(2**63), min(2**63 - 1, _days(t) * per_day)) for t in _SAFE_SPAN)
        number = pl.col(name).to_physical()
        outside = (number < lo) | (number >= hi)
        if not raw.select(outside.any()).item():
            continue
        found.add(name)
        year = (number.cast(pl.Float64) / per_day / 365.2425 + 1970).floor().cast(pl.Int64)
        added += [
            pl.when(outside).then(pl.format("the year {}", year)).alias(_BEYOND + name),
            pl.when(~outside).then(number).cast(dtype).alias(name),
        ]
    return (raw.with_columns(added) if added else raw), found


def _days(t: dt.datetime) -> int:
    return (t - dt.datetime(1970, 1, 1)).days


def _text(name: str, beyond: set[str]) -> pl.Expr:
    """A Parquet column's cells as text (what a CSV would hold), for reading and errors."""
    text = pl.col(name).cast(pl.String)
    return pl.coalesce(text, pl.col(_BEYOND + name)) if name in beyond else text


def _scalar(dtype: pl.DataType) -> bool:
    """A Parquet type a cell of the contract can come in."""
    return (
        dtype.is_numeric()
        or isinstance(dtype, pl.Datetime | pl.Categorical | pl.Enum)
        or dtype in (pl.String, pl.Boolean, pl.Date, pl.Null)
    )


def _parquet_schema(path: Path, file: str) -> dict[str, pl.DataType]:
    try:
        return pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _Fatal(
            Problem(file, None, None, None, f"a Parquet file ({str(exc)[:120]})", "not_parquet")
        ) from None


def _read_parquet(
    table: Table, path: Path, report: Report, rows: tuple[int, int] | None = None
) -> _Read | None:
    """A table from Parquet (DESIGN 1): the same columns, rules and messages as a
    CSV's, rows counted from 1 where a CSV counts lines. A column whose Parquet
    type already holds the contract's (a date, a timestamp, a boolean, a number)
    is taken as it is and checked against the contract's ranges; any other is
    read as its text, by the CSV rules.

    ``rows``: (first, count), only those rows (a piece of a table larger than
    memory, parts.py), numbered as in the whole file, without the check that
    keys are unique, which spans pieces (the caller's)."""
    file = table.filename
    schema = _parquet_schema(path, file)
    header = list(schema)
    if not _check_header(table, header, report, None):
        return None
    known = {c.name for c in table.columns}
    odd = [
        (name, dtype)
        for name, dtype in schema.items()
        if (name in known or table.passthrough) and not _scalar(dtype)
    ]
    for name, dtype in odd:  # a list, a struct, bytes: no cell of the contract
        report.add(
            Problem(
                file,
                None,
                _shown(name),
                None,
                f"one value per cell (text, a number, a date, a time stamp or a boolean), "
                f"not {dtype}",
                "column_type",
            ),
            fatal=True,
        )
    if odd:
        return None
    first = 0 if rows is None else rows[0]
    try:
        if rows is None:
            raw = pl.read_parquet(path)
        else:
            raw = pl.scan_parquet(path).slice(first, rows[1]).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _Fatal(
            Problem(file, None, None, None, f"a Parquet file ({str(exc)[:120]})", "not_parquet")
        ) from None
    raw = raw.with_row_index(_ROW, offset=first + 1).with_columns(pl.col(_ROW).cast(pl.Int64))
    raw, beyond = _beyond_calendar(raw, schema)
    extras = [h for h in header if h not in known]
    passthrough = list(extras) if table.passthrough else []

    values: list[pl.Expr] = [pl.col(_ROW)]
    parsed: list[Column] = []  # the columns whose typed value comes from their text
    for col in table.columns:
        if col.name not in header:
            values.append(pl.lit(None, dtype=col.dtype).alias(col.name))
            continue
        dtype = schema[col.name]
        text = _text(col.name, beyond)
        native = None if col.kind is Kind.STRING else _native(col, dtype)
        if col.kind is Kind.STRING:
            values.append(text.alias(col.name))
        elif native is None:
            values.append(parse(col, text).alias(col.name))
            parsed.append(col)
        else:
            values.append(native.alias(col.name))
    values.extend(  # as text, as a CSV gives them (NaN: unknown, as above)
        (pl.col(x).fill_nan(None).cast(pl.String) if schema[x].is_float() else _text(x, beyond))
        .str.strip_chars()
        .alias(x)
        for x in passthrough
    )
    frame = raw.select(values)

    # the checks, column by column, on the typed values beside the file's own
    order = {c.name: i for i, c in enumerate(table.columns, 1)}
    found: list[pl.DataFrame] = []

    def report_rows(col: Column, mask: pl.Series, rule: str) -> None:
        if not mask.any():
            return
        rows = raw.filter(mask)
        shown = None if rule == "empty" else _text(col.name, beyond)
        expected = "a value (required)" if rule == "empty" else col.expected()
        found.append(_problem_rows(rows, col.name, shown, expected, rule, order[col.name]))

    for col in table.columns:
        if col.name not in header:
            continue
        given, typed = raw.get_column(col.name), frame.get_column(col.name)
        if col.kind is Kind.STRING:
            if col.required:
                empty = typed.is_null() | (typed == "")
                if (table.name, col.name) in _REFERENCED:
                    empty = empty | typed.str.contains(r"^\s+$").fill_null(False)
                report_rows(col, empty.fill_null(True), "empty")
            continue
        blank = given.is_null()
        if col.name in beyond:  # a time no calendar holds is a value, and a wrong one
            blank = blank & raw.get_column(_BEYOND + col.name).is_null()
        if col in parsed and given.dtype == pl.String:  # spaces alone are empty, as in a CSV
            blank = blank | (given.str.strip_chars() == "").fill_null(False)
        if given.dtype.is_float():  # NaN is how pandas writes a missing number
            blank = blank | given.is_nan().fill_null(False)
        report_rows(col, ~blank & typed.is_null(), "type")
        if col.required:
            report_rows(col, blank, "empty")
        domain = _in_domain(col, pl.col(col.name))
        if domain is not None:
            inside = frame.select(domain.fill_null(True)).to_series()
            report_rows(col, ~inside, "domain")
    if rows is None:
        found.append(_duplicate_keys(table, frame, header))
    numeric = _passthrough_numbers(frame, passthrough)
    found += [_passthrough_range(frame, name) for name in numeric]
    problems = _problems([f for f in found if f.height])
    if problems.height:
        report.extend(file, problems)
    bad_rows = problems.select(_ROW, "rule").unique(_ROW, keep="first", maintain_order=True)
    return _finish(table, frame, bad_rows, report, extras, passthrough, numeric, frame.height == 0)


def _finish(
    table: Table,
    frame: pl.DataFrame,
    bad_rows: pl.DataFrame,
    report: Report,
    extras: list[str],
    passthrough: list[str],
    numeric: list[str],
    empty_file: bool = False,
) -> _Read:
    """A table read (from CSV or Parquet): its extra columns noted where they are
    ignored, its rows counted."""
    ignored = [] if table.passthrough else extras
    if ignored:
        shown = ", ".join(_shown(x) for x in ignored)
        report.notes.append(
            Note(
                "columns_ignored",
                f"{table.filename}: extra column(s) ignored: {shown}",
                table.name,
            )
        )
    rows = frame.height
    table_report = TableReport(table.name, table.filename, rows, rows, ignored)
    return _Read(table, frame, bad_rows, table_report, passthrough, numeric, empty_file=empty_file)


def _read_csv(
    table: Table,
    fh: BinaryIO,
    report: Report,
    each: Callable[[pl.DataFrame], None] | None = None,
) -> _Read | None:
    """A table from CSV. ``each``: hand each typed piece to it rather than keep
    it (a table larger than memory, parts.py); the ``_Read`` then holds only
    the rows' keys (``_ROW`` and the unique columns), checked over every piece."""
    file = table.filename
    head = _header(fh, table)
    if head is None:
        frame = pl.DataFrame(schema={_ROW: pl.Int64, **table.schema})
        bad = pl.DataFrame(schema={_ROW: pl.Int64, "rule": pl.String})
        return _Read(table, frame, bad, TableReport(table.name, file, 0, 0), [], empty_file=True)
    header, start, header_line = head
    if not _check_header(table, header, report, header_line):
        return None

    known = {c.name for c in table.columns}
    extras = [h for h in header if h not in known]
    passthrough = list(extras) if table.passthrough else []
    exprs = {quoted: _exprs(table, header, passthrough, quoted=quoted) for quoted in (False, True)}

    # the file in pieces: only one piece's text is ever in memory
    fh.seek(start)
    parts: list[pl.DataFrame] = []
    found: list[pl.DataFrame] = []
    keys = [_ROW, *(c.name for c in table.columns if c.unique and c.name in header)]
    for piece in _pieces(fh, header_line + 1, header, file):
        part, problems = _typed_piece(table, header, piece, *exprs[piece.quoted])
        if each is not None:
            each(part)
            part = part.select(keys)
        parts.append(part)
        if problems.height:
            report.extend(file, problems)
            found.append(problems.select(_ROW, "rule"))
    if parts:
        frame = pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]
    else:
        text = {_ROW: pl.Int64(), **{h: pl.String() for h in header}}
        values, nvalues = exprs[False]
        frame = pl.LazyFrame(schema=text).select(values[:nvalues]).collect()
        if each is not None:
            each(frame)
            frame = frame.select(keys)
    del parts

    checks = [_duplicate_keys(table, frame, header)]
    numeric = _passthrough_numbers(frame, passthrough)
    checks += [_passthrough_range(frame, name) for name in numeric]
    for problems in checks:
        if problems.height:
            report.extend(file, problems)
            found.append(problems.select(_ROW, "rule"))

    bad_rows = (
        pl.concat(found).unique(_ROW, keep="first", maintain_order=True)
        if found
        else pl.DataFrame(schema={_ROW: pl.Int64, "rule": pl.String})
    )
    return _finish(table, frame, bad_rows, report, extras, passthrough, numeric)


def _duplicate_keys(table: Table, frame: pl.DataFrame, header: list[str]) -> pl.DataFrame:
    """Unique columns: the second and later occurrences of a value are the problem."""
    found: list[pl.DataFrame] = []
    for col in table.columns:
        if not col.unique or col.name not in header:
            continue
        keys = frame.get_column(col.name).drop_nulls()
        if _strictly_increasing(keys) or keys.n_unique() == keys.len():
            continue  # the common case: exported ids are usually in order
        dup = (
            frame.select(_ROW, pl.col(col.name).alias("value"))
            .filter(pl.col("value").is_not_null() & pl.col("value").is_duplicated())
            .sort(_ROW)
            .with_columns(pl.col(_ROW).first().over("value").alias("first"))
            .filter(pl.col(_ROW) != pl.col("first"))
        )
        where = "row" if table.suffix == "parquet" else "line"
        expected = pl.format(f"a unique {col.name} (already on {where} {{}})", pl.col("first"))
        found.append(_problem_rows(dup, col.name, pl.col("value"), expected, "duplicate_key"))
    return _problems(found)


def _passthrough_range(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """The cells of a passthrough column of numbers outside the contract's range."""
    col = passthrough_number(name)
    allowed = _in_domain(col, pl.col(name).cast(pl.Float64, strict=False))
    assert allowed is not None
    out = frame.filter(pl.col(name).is_not_null() & (pl.col(name) != "") & ~allowed)
    expected = col.expected() + " (the column holds numbers)"
    return _problem_rows(out, _shown(name), pl.col(name), expected, "domain")


def _passthrough_numbers(frame: pl.DataFrame, names: list[str]) -> list[str]:
    """The passthrough columns of numbers: every filled cell is one (DESIGN 1)."""
    out: list[str] = []
    for name in names:
        s = frame[name]
        filled = s.filter(s.is_not_null() & (s != ""))
        if filled.len() and filled.cast(pl.Float64, strict=False).null_count() == 0:
            out.append(name)
    return out


def _passthrough_types(names: list[str], numeric: list[str]) -> list[pl.Expr]:
    """Numbers when every filled cell is a number, else text (DESIGN 1)."""
    return [
        pl.col(name).cast(pl.Float64, strict=False).alias(name)
        if name in numeric
        else pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name)).alias(name)
        for name in names
    ]


# ---------------------------------------------------------------- the folder


def _source(folder: Path | str, table: Table, stdin: BinaryIO | None) -> Path | bytes | None:
    if str(folder) == STDIN:
        if table.name != "consumers":
            return None
        data = (stdin or sys.stdin.buffer).read()
        return data
    csv = Path(folder) / table.filename
    parquet = csv.with_suffix(".parquet")
    if os.path.lexists(csv) and os.path.lexists(parquet):
        raise DataError(
            f"both {csv.name} and {parquet.name}: which one is the table?",
            where=str(folder),
            hint="keep one of them in the data folder",
        )
    path = parquet if os.path.lexists(parquet) else csv
    if not os.path.lexists(path):
        return None
    if path.is_file():
        return path
    # there is something by that name, and it is not a file to read: never take it
    # for a table that is absent, and never block on a pipe or read a device forever
    what = (
        "a folder"
        if path.is_dir()
        else "a link to nothing"
        if not path.exists()
        else "not a regular file (a device, a pipe or a socket)"
    )
    raise DataError(
        f"{path.name} is {what}",
        where=str(folder),
        hint=f"put the table's file there, or remove {path.name} to leave it out",
    )


def read_folder(
    folder: Path | str,
    *,
    lenient: bool = False,
    strict: bool = False,
    stdin: BinaryIO | None = None,
) -> tuple[DataTables, Report]:
    """Read and check a data folder. ``-`` reads consumers.csv from stdin.

    Raises DataError (exit 3) naming every problem (up to MAX_SHOWN per file),
    unless ``lenient``, which drops the offending rows and counts them in the
    report instead. A missing or empty consumers.csv is always an error, and so
    is a file that cannot be read as a table (not CSV text, a broken header,
    a quote never closed): ``lenient`` drops rows, never tables or columns.

    Rows that are legal but unlikely (``unlikely.RULES``) are ``report.warnings``,
    one per rule with its count and first examples; they are checked even when
    there are problems, and are on the report the DataError carries. ``strict``
    makes them problems instead, which stop the command even when ``lenient``.
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
        got = _read_table(table, source, report)
        if got is None:
            continue
        if got.empty_file and not table.required:
            report.notes.append(
                Note(
                    "table_empty",
                    f"{got.table.filename} is empty: read as a table with no rows",
                    table.name,
                )
            )
        reads[table.name] = got
        report.tables.append(got.report)

    consumers = reads.get("consumers")
    if consumers is not None and consumers.report.rows == 0 and not report.fatal:
        raise DataError(
            f"{consumers.table.filename} "
            + ("is empty" if consumers.empty_file else "has no rows"),
            where=str(folder),
            hint="one row per person is needed, under a header row naming the columns",
        )
    # rows with a problem go first, so that references to them dangle visibly;
    # the references are checked even when other problems were found, so that
    # one run reports everything
    for got in reads.values():
        _drop(got, got.bad_rows, report)
    _check_references(reads, report, lenient)
    _check_unlikely(reads, report, strict=strict)
    stop = report.fatal or report.unlikely_problems or (not lenient and report.total_problems)
    if stop or consumers is None:
        raise report.error()
    emptied = [g for g in reads.values() if g.report.rows > 0 and g.frame.height == 0]
    if emptied:
        # --lenient drops rows, never a whole table: a table with nothing left is the
        # data's problem to fix, not a table to go on without
        names = ", ".join(g.table.filename for g in emptied)
        exc = report.error()
        exc.message = f"--lenient would drop every row of {names}: {exc.message}"
        exc.hint = "fix the rows named above: a table cannot be dropped whole"
        raise exc
    if "logistics" in reads and "transactions" not in reads:
        report.notes.append(
            Note(
                "table_ignored",
                f"{reads['logistics'].table.filename} ignored: there is no transactions "
                "table to link it to",
                "logistics",
            )
        )
        del reads["logistics"]

    if consumers.passthrough:
        consumers.frame = consumers.frame.with_columns(
            _passthrough_types(consumers.passthrough, consumers.numeric)
        )

    def frame(name: str) -> pl.DataFrame | None:
        got = reads.get(name)
        return None if got is None else _handed_on(got.frame)

    shipped = reads.get("logistics")
    link = link_column("txn_id")
    tables = DataTables(
        consumers=_handed_on(consumers.frame),
        merchants=frame("merchants"),
        transactions=frame("transactions"),
        logistics=frame("logistics"),
        passthrough=consumers.passthrough,
        folder=None if str(folder) == STDIN else Path(folder),
        order_rows=(
            shipped.frame.get_column(link)
            if shipped is not None and link in shipped.frame.columns
            else None
        ),
    )
    for name in tables.missing():
        report.notes.append(
            Note("table_missing", f"no {name} data: {_ABSENT[name]} features absent", name)
        )
    return tables, report


_ABSENT = {
    "merchants": "shop",
    "transactions": "repayment, shopping and connection",
    "logistics": "shipment",
}


def _handed_on(frame: pl.DataFrame) -> pl.DataFrame:
    """A table without the internal columns (each named with a leading NUL)."""
    return frame.select(c for c in frame.columns if not c.startswith("\x00"))


def _drop(got: _Read, rows: pl.DataFrame, report: Report) -> None:
    """Drop rows (``_ROW``, rule) from a table, counting them per rule."""
    if rows.height == 0:
        return
    present = rows.join(got.frame.select(_ROW), on=_ROW, how="semi")
    for rule, n in present.group_by("rule").len().sort("rule").iter_rows():
        report.drops.add(got.table.filename, rule, n)
    got.frame = got.frame.join(rows.select(_ROW), on=_ROW, how="anti", maintain_order="left")
    got.report.kept = got.frame.height


def _check_unlikely(reads: dict[str, _Read], report: Report, *, strict: bool) -> None:
    """Rows that are legal but unlikely, in the rows handed on: warnings, or under
    ``strict`` problems. Those stop the command even under --lenient, which drops
    what breaks the contract: an unlikely row is the analyst's to judge, and
    dropping a person for a late signup would take all their orders with them."""
    tables = {name: got.frame for name, got in reads.items()}
    if "transactions" not in tables:
        tables.pop("logistics", None)  # ignored without the orders it ships
    found = find_unlikely(tables, _ROW, {n: got.table.filename for n, got in reads.items()})
    if not strict:
        report.warnings = [f.warning(_ROW) for f in found]
        return
    for f in found:
        _add_counted(report, f.problems(_ROW, MAX_SHOWN), f.count)
        report.unlikely_problems += f.count


def _add_counted(report: Report, problems: list[Problem], total: int) -> None:
    """``total`` problems of one file, of which ``problems`` are the first."""
    for p in problems:
        report.add(p)
    if problems and total > len(problems):
        report.counts[problems[0].file] += total - len(problems)


def _strictly_increasing(s: pl.Series) -> bool:
    """Sorted and unique, checked in one vectorised pass (no hashing)."""
    return s.len() < 2 or bool((s.slice(1) > s.slice(0, s.len() - 1)).all())


def _dangling(
    frame: pl.DataFrame, column: str, keys: pl.Series
) -> tuple[pl.DataFrame, pl.Series | None]:
    """Rows (``_ROW``, value) whose non-null ``column`` is not among ``keys`` (which
    are unique); and, when ``column`` has no nulls, each row's position in
    ``keys`` (null where it dangles), so that later lookups need no search."""
    values = frame.select(pl.col(_ROW), pl.col(column)).filter(pl.col(column).is_not_null())
    whole = values.height == frame.height
    if keys.len() * 2 >= values.height and keys.len() and _strictly_increasing(keys):
        # binary search into sorted keys beats building a hash table of millions, when
        # there are about as many keys as values (shipments' txn_id); against fewer
        # keys (20M orders' buyer_id against 1M persons) the hash join is 4-7x faster:
        # it runs on every core, the search on one (benchmarks/README.md)
        at = keys.search_sorted(values.get_column(column), side="left")
        at = at.clip(0, keys.len() - 1)
        hit = keys.gather(at) == values.get_column(column)
        positions = pl.select(pl.when(pl.lit(hit)).then(pl.lit(at))).to_series() if whole else None
        return values.filter(~hit), positions
    # (lazy: Polars runs an eager join on one thread)
    if not whole:
        anti = values.lazy().join(keys.alias(column).to_frame().lazy(), on=column, how="anti")
        return anti.sort(_ROW).collect(), None
    # one join finds both; the row index survives the hash join (anti would lose it)
    index = keys.alias(column).to_frame().with_row_index("at")
    found = values.lazy().join(index.lazy(), on=column, how="left", maintain_order="left")
    at = found.select("at").collect().to_series()
    return values.filter(at.is_null()), at


def _aligned(column: pl.Series, like: pl.Series) -> pl.Series:
    """``column`` in pieces as long as ``like``'s (views, not copies).

    A CSV's columns come in one piece per block read; a column of one piece
    beside them makes Polars copy the whole frame into single pieces at the
    next select (1-3.5 s for 20M orders).
    """
    lengths = like.chunk_lengths()
    if column.chunk_lengths() == lengths:
        return column
    whole = column.rechunk()  # one piece (a number a row: cheap), then cut as ``like``
    starts = [0, *itertools.accumulate(lengths)][:-1]
    parts = [whole.slice(at, n) for at, n in zip(starts, lengths, strict=True)]
    return pl.concat(parts, rechunk=False)


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
            dangling, positions = _dangling(
                got.frame, col.name, target.frame.get_column(target_col)
            )
            if positions is not None:  # kept in step with the rows, whatever is dropped
                positions = _aligned(positions, got.frame.get_column(_ROW))
                got.frame = got.frame.with_columns(positions.alias(link_column(col.name)))
            expected = f"a {target_col} of {target.table.filename}"
            report.extend(
                got.table.filename,
                _problem_rows(dangling, col.name, pl.col(col.name), expected, "dangling_reference"),
            )
            if lenient and (name, col.name) == ("merchants", "owner_id") and dangling.height:
                # a shop whose owner is no person of consumers.csv still exists (a
                # marketplace's sellers are often their own accounts): kept, ownerless
                gone = got.frame.get_column(_ROW).is_in(dangling.get_column(_ROW).implode())
                got.frame = got.frame.with_columns(
                    pl.when(gone).then(None).otherwise(pl.col(col.name)).alias(col.name)
                )
                report.notes.append(
                    Note(
                        "owner_cleared",
                        f"{dangling.height:,} shop(s) of {got.table.filename} kept without an "
                        "owner: their owner_id names no person of consumers.csv",
                        name,
                    )
                )
            elif lenient:
                before = got.frame.height
                got.frame = got.frame.join(
                    dangling.select(_ROW), on=_ROW, how="anti", maintain_order="left"
                )
                report.drops.add(
                    got.table.filename, "dangling_reference", before - got.frame.height
                )
                got.report.kept = got.frame.height
