"""The exception types, each carrying the exit code DESIGN section 5 gives it.

The CLI turns any of these into one line on stderr, ``error: <what> (<where>)``,
plus a hint, and exits with ``exit_code``. Nothing here prints.

Messages, hints and suggestions hold text from the data (ids, file and column
names, values) as it was: they are plain text, never markup, and whoever shows
them (``render.print_error``) makes them safe (``safetext.safe_text``). A
value quoted in a problem is ``repr``-ed, the same notation for unsafe
characters, with quotes that show where it begins and ends.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_INVALID_DATA = 3
EXIT_UNKNOWN_PERSON = 4
EXIT_BAD_MODEL = 5
EXIT_DRIFT = 6
EXIT_RESOURCE = 7


class TrustscoreError(Exception):
    """Base class: a failure the user can act on, with its exit code."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.where})" if self.where else self.message


class UsageError(TrustscoreError):
    """The command line asks for something that cannot be done (exit 2)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Problem:
    """One defect in the input: where it is, what was found, what was expected."""

    file: str
    line: int | None  # as the file counts it: header = line 1 (a Parquet file: its row,
    # from 1); None = the whole file
    column: str | None
    value: str | None
    expected: str
    rule: str  # a short stable name, used to count drops under --lenient

    def where(self) -> str:
        parts = [self.file]
        if self.line is not None:  # a Parquet file has rows (1 = the first), not lines
            parts.append(f"{'row' if self.file.endswith('.parquet') else 'line'} {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def describe(self) -> str:
        value = "" if self.value is None else f"{_show(self.value)}: "
        return f"{value}{self.expected} ({self.where()})"

    def as_record(self) -> dict[str, str | int | None]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "value": self.value,
            "expected": self.expected,
            "rule": self.rule,
        }


def _show(value: str, limit: int = 40) -> str:
    text = value if len(value) <= limit else value[: limit - 1] + "…"
    return repr(text)


class DataError(TrustscoreError):
    """The input data break the contract (exit 3). Carries every problem found."""

    exit_code = EXIT_INVALID_DATA

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        hint: str | None = None,
        problems: list[Problem] | None = None,
        counts: dict[str, int] | None = None,
    ):
        super().__init__(message, where=where, hint=hint)
        self.problems: list[Problem] = problems or []
        # total problems per file, including those not kept in ``problems``
        self.counts: dict[str, int] = counts or {}
        # the validation report behind the error (ingest.Report), when there is one
        self.report: object | None = None


class UnknownPersonError(TrustscoreError):
    """No such person in the model folder or data (exit 4)."""

    exit_code = EXIT_UNKNOWN_PERSON

    def __init__(
        self,
        message: str,
        *,
        suggestions: list[str] | None = None,
        where: str | None = None,
        hint: str | None = None,
    ):
        super().__init__(message, where=where, hint=hint)
        self.suggestions = suggestions or []


class ModelError(TrustscoreError):
    """The model folder is missing, corrupt or made for another schema (exit 5)."""

    exit_code = EXIT_BAD_MODEL


class ResourceError(TrustscoreError):
    """The system refused: disk full, read-only or forbidden place, a file where a
    folder should be (exit 7). Nothing the data or the command did wrong."""

    exit_code = EXIT_RESOURCE

    @classmethod
    def from_os(cls, exc: OSError, path: object = None) -> ResourceError:
        where = exc.filename if exc.filename is not None else path
        # some writers raise a bare OSError with no errno (Polars on a full device)
        cause = exc.strerror or str(exc) or "the write failed (is the disk full?)"
        hints = {
            errno.ENOSPC: "free some space and run it again",
            errno.EDQUOT: "free some space and run it again",
            errno.EROFS: "write somewhere else (this file system is read-only)",
            errno.EACCES: "write somewhere you may write, or ask for the permission",
            errno.EPERM: "write somewhere you may write, or ask for the permission",
        }
        return cls(
            f"cannot use {where}: {cause}" if where is not None else cause,
            hint=hints.get(exc.errno or 0),
        )


@dataclass
class DropReport:
    """What ``--lenient`` dropped: rows per (file, rule)."""

    dropped: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, file: str, rule: str, n: int) -> None:
        if n:
            self.dropped[(file, rule)] = self.dropped.get((file, rule), 0) + n
