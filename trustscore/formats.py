"""Write records as csv / json / ndjson / parquet: one writer per format.

Every command that prints data goes through ``write``; the table format is
drawn by ``render`` (the only module that knows about terminals). A file given
with ``--output`` is written to a temporary name beside it and renamed into
place, so a failure never leaves half a file.
"""

from __future__ import annotations

import difflib
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import polars as pl

from trustscore.errors import UsageError
from trustscore.safetext import json_safe

if TYPE_CHECKING:
    from polars.datatypes import DataTypeClass


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    NDJSON = "ndjson"
    PARQUET = "parquet"


SUFFIXES: dict[str, Format] = {
    ".csv": Format.CSV,
    ".json": Format.JSON,
    ".ndjson": Format.NDJSON,
    ".jsonl": Format.NDJSON,
    ".parquet": Format.PARQUET,
}


_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4")


def resolve(fmt: Format | None, output: Path | None, is_terminal: bool) -> Format:
    """The format to use: as asked; else the output file's suffix; else table on a
    terminal and csv on a pipe (or a file whose suffix names no format)."""
    if output is not None and output.suffix.lower() in _COMPRESSED:
        raise UsageError(
            f"--output {output}: trustscore does not compress its output",
            hint=f"pipe it instead: ... | gzip > {output}",
        )
    if fmt is None:
        if output is not None:
            return SUFFIXES.get(output.suffix.lower(), Format.CSV)
        return Format.TABLE if is_terminal else Format.CSV
    if fmt is Format.PARQUET and output is None:
        raise UsageError("--format parquet needs --output FILE", hint="parquet is not for a pipe")
    return fmt


# What a spreadsheet may run as a formula when a cell starts with it (OWASP "CSV
# injection": = + - @ tab CR), with the full-width forms some spreadsheets
# also accept. ``-5`` in a text column (an id) is escaped too; numbers never.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_FORMULA_PATTERN = (
    "^[" + "".join({"-": "\\-", "\t": "\\t", "\r": "\\r"}.get(c, c) for c in _FORMULA_START) + "]"
)


def _escape_expr(expr: pl.Expr, dtype: pl.DataType | DataTypeClass) -> pl.Expr | None:
    """``expr`` with formula-like text quoted, or None when ``dtype`` holds no text.

    Text is String, Categorical and Enum (both come out as String), and lists,
    arrays and structs of them, however nested.
    """
    kind = dtype if isinstance(dtype, type) else type(dtype)
    if issubclass(kind, pl.String | pl.Categorical | pl.Enum):
        text = expr.cast(pl.String)
        return pl.when(text.str.contains(_FORMULA_PATTERN)).then(pl.lit("'") + text).otherwise(text)
    if isinstance(dtype, pl.List | pl.Array):  # an instance: its inner type is known
        inner = _escape_expr(pl.element(), dtype.inner)
        if inner is None:
            return None
        if isinstance(dtype, pl.List):
            return expr.list.eval(inner)
        return expr.arr.to_list().list.eval(inner).list.to_array(dtype.size)
    if isinstance(dtype, pl.Struct):
        fields = [(f.name, _escape_expr(expr.struct.field(f.name), f.dtype)) for f in dtype.fields]
        if all(e is None for _, e in fields):
            return None
        return pl.struct(
            (expr.struct.field(name) if e is None else e).alias(name) for name, e in fields
        )
    return None


def escape_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text that a spreadsheet would run as a formula with a quote (``--safe-csv``).

    Every text-like column (``_escape_expr``) and the header names, which are
    text cells of the file too. Number columns never: a negative number is
    data, not a formula.
    """
    exprs = []
    for name, dtype in frame.schema.items():
        expr = _escape_expr(pl.col(name), dtype)
        if expr is not None:
            exprs.append(expr.alias(name))
    out = frame.with_columns(exprs) if exprs else frame
    taken = set(out.columns)
    renamed: dict[str, str] = {}
    for name in out.columns:
        if name.startswith(_FORMULA_START):
            safe = "'" + name
            while safe in taken:  # a header that is already the quoted form of another
                safe = "'" + safe
            taken.add(safe)
            renamed[name] = safe
    return out.rename(renamed) if renamed else out


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


def write_frames(
    frames: Iterable[pl.DataFrame], fmt: Format, stream: IO[bytes], *, safe_csv: bool = False
) -> None:
    """Frames of one schema written as one frame would be: csv as they come (one
    header, so millions of rows stream), the other formats at the end. The caller
    passes at least one frame (an empty one for no rows) so the columns are known."""
    if fmt is not Format.CSV:
        write_frame(pl.concat(list(frames)), fmt, stream, safe_csv=safe_csv)
        return
    first = True
    for frame in frames:
        (escape_formulas(frame) if safe_csv else frame).write_csv(stream, include_header=first)
        first = False


def _json_safe_lines(text: str) -> str:
    # most lines hold nothing unsafe (printable means none): skip the slow pass for them
    return "\n".join(line if line.isprintable() else json_safe(line) for line in text.split("\n"))


def write_json(obj: Any, stream: IO[bytes]) -> None:
    """``obj`` as indented JSON, non-ASCII text as itself except the characters
    ``safetext`` deems unsafe (controls, bidi, separators), which are escaped:
    a card printed to a terminal cannot act on it, and parses back the same."""
    text = json.dumps(obj, indent=2, default=str, ensure_ascii=False)
    stream.write(_json_safe_lines(text).encode())
    stream.write(b"\n")


def write_json_records(
    records: Iterable[dict[str, Any]], stream: IO[bytes], *, lines: bool
) -> None:
    """Records written as they come, escaped as ``write_json`` escapes: one compact
    JSON a line (``lines``: ndjson), or one indented array, the very text
    ``write_json`` gives for the whole list."""
    if lines:
        for record in records:
            text = json.dumps(record, default=str, ensure_ascii=False, separators=(",", ":"))
            stream.write((_json_safe_lines(text) + "\n").encode())
        return
    first = True
    for record in records:
        text = json.dumps(record, indent=2, default=str, ensure_ascii=False)
        body = "\n".join("  " + line for line in _json_safe_lines(text).split("\n"))
        stream.write((("[\n" if first else ",\n") + body).encode())
        first = False
    stream.write(b"[]\n" if first else b"\n]\n")


@contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """A binary stream that becomes ``path`` only if the block completes.

    A regular file (or none yet) is written to a temporary name beside it and
    renamed into place, keeping the mode an existing file had. A symlink is
    followed: its target is written, the link stays. Something that is not a
    regular file (``/dev/null``, ``/dev/full``, a pipe) is written in place: it
    cannot be half written, and it must never be replaced by a file.
    """
    path = Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)
    if path.exists() and not path.is_file():
        if path.is_dir():
            raise UsageError(f"--output {path} is a folder", hint="give a file name")
        try:
            with path.open("wb") as fh:
                yield fh
        except OSError as exc:  # a full device: the error names the file asked for
            raise _naming(exc, path) from None
        return
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"no folder {str(parent)!r} for the output file", hint="create it first")
    if path.exists():
        mode = path.stat().st_mode & 0o7777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:  # named as the file asked for, not the temporary beside it
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        os.fchmod(fd, mode)  # mkstemp makes it private; an output file is an ordinary one
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _naming(exc, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` naming ``path`` when it names no file or only our temporary one (Polars
    raises a bare OSError on a full disk)."""
    if isinstance(exc, BrokenPipeError) or (exc.filename and ".tmp" not in str(exc.filename)):
        return exc
    return OSError(exc.errno, exc.strerror or str(exc), str(path))


def append_lines(path: Path, data: bytes) -> None:
    """Append ``data`` (whole lines) to the file at ``path``, creating it: never
    rewrites what is there (``decide --log``).

    The lines land whole or not at all: under an exclusive lock (two deciders
    appending at once never interleave), written in one go, flushed to disk;
    if the write fails (a full disk), the file is cut back to the length it
    had, so a log never ends in half a line.
    """
    import fcntl

    if not data:
        return
    if path.is_dir():
        raise UsageError(f"--log {path} is a folder", hint="give a file name")
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        regular = stat.S_ISREG(os.fstat(fd).st_mode)
        before = os.lseek(fd, 0, os.SEEK_END) if regular else 0
        if before and os.pread(fd, 1, before - 1) != b"\n":
            data = b"\n" + data  # what is there ends mid-line: ours start on a line of their own
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if regular:
                os.fsync(fd)
        except OSError as exc:
            if regular:
                os.ftruncate(fd, before)
            raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        os.close(fd)  # closing releases the lock


def select_columns(frame: pl.DataFrame, columns: list[str] | None) -> pl.DataFrame:
    """The columns asked for (``--columns``), in the order given; all when None.

    A name the frame does not have is a usage error that names it and the
    closest names it does have.
    """
    if columns is None:
        return frame
    have = set(frame.columns)
    chosen: list[str] = []
    for name in columns:
        if name not in have and name.strip() in have:
            name = name.strip()  # "a, b" on the command line
        if name not in have:
            close = difflib.get_close_matches(name, frame.columns, n=3)
            listing = ", ".join(frame.columns[:8]) + (", ..." if frame.width > 8 else "")
            raise UsageError(
                f"no column {name!r} to show (--columns)",
                hint=f"did you mean {', '.join(close)}?"
                if close
                else f"the {frame.width} columns are {listing}",
            )
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise UsageError("--columns names no column", hint="give names separated by commas")
    return frame.select(chosen)
