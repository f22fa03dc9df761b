"""The command line: parse options, call the core, map errors to exit codes.

Data goes to stdout; progress, warnings and errors to stderr. Every error is a
``TrustscoreError`` carrying its exit code (DESIGN 5), shown as one line plus a
hint; a traceback only with ``--debug``.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn, ParamSpec, TypeVar

import polars as pl
import typer
from typer.core import TyperArgument, TyperGroup

from trustscore import __version__
from trustscore.errors import DataError, TrustscoreError, UsageError
from trustscore.formats import Format, atomic_output, resolve, select_columns, write_frame
from trustscore.notes import Note


class _Group(TyperGroup):
    """The app's group: Click's own usage errors in the house style, one line.

    Click prints ``Usage: ...`` then ``Error: No such option``; every other
    error of ours is ``error: <what>`` plus a hint, so a script (and a person)
    reads one style.
    """

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        _plain_arguments(self)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.TyperException as exc:
            ctx = getattr(exc, "ctx", None)
            if type(exc).__name__ == "NoArgsIsHelpError":
                sys.stderr.write(exc.format_message() + "\n")
            else:
                from trustscore import render

                command = ctx.command_path if ctx is not None else "trustscore"
                render.print_error(exc.format_message(), f"see {command} --help")
            if not standalone_mode:
                raise
            sys.exit(getattr(exc, "exit_code", 2))
        except typer.Abort:
            if not standalone_mode:
                raise
            sys.exit(1)
        if standalone_mode:
            sys.exit(rv if isinstance(rv, int) else 0)
        return rv


class _PlainArgument(TyperArgument):
    """An argument shown as its name alone, as Unix usage lines do: ``DATA_DIR``,
    ``[ID]...``, not typer's ``{DATA_DIR}`` and ``DATA_DIR <str>``."""

    def _usage_display_name(self) -> str:
        name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
        return name + ("..." if self.nargs != 1 else "")

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


def _plain_arguments(group: TyperGroup) -> None:
    for command in group.commands.values():
        for param in command.params:
            if type(param) is TyperArgument:
                param.__class__ = _PlainArgument


app = typer.Typer(
    cls=_Group,
    name="trustscore",
    help="Build an explainable Sesame-style trust score (350-950) from a platform's own records.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain usage errors: one line a script can read
    context_settings={"help_option_names": ["-h", "--help"]},
)

_state: dict[str, bool] = {"debug": False}

P = ParamSpec("P")
R = TypeVar("R")

FormatOpt = Annotated[
    Format | None,
    typer.Option(
        "--format",
        "-f",
        metavar="FORMAT",
        help="table, csv, json, ndjson or parquet. Default: from the --output suffix, "
        "else table on a terminal and csv on a pipe.",
        case_sensitive=False,
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write to FILE (atomically) instead of stdout (- is stdout); its suffix (.csv, "
        ".json, .ndjson, .jsonl, .parquet) picks the format.",
    ),
]
SafeCsvOpt = Annotated[
    bool,
    typer.Option(
        "--safe-csv",
        help="Prefix text cells and headers that start with = + - @, tab or CR "
        "(or full-width = + - @) with ' (spreadsheet-safe).",
    ),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option(
        "--columns",
        metavar="A,B,...",
        help="Only these columns, in this order (names separated by commas).",
    ),
]
LenientOpt = Annotated[
    bool,
    typer.Option("--lenient", help="Drop the rows that break the contract, count them, and go on."),
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Treat warnings as problems (exit 3)."),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trustscore {__version__}")
        raise typer.Exit(0)


@app.callback()
def _main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Build an explainable Sesame-style trust score (350-950) from a platform's own records."""
    _state["debug"] = debug


def _report(exc: TrustscoreError) -> None:
    from trustscore import render
    from trustscore.errors import UnknownPersonError

    if isinstance(exc, UnknownPersonError) and exc.suggestions:
        exc.hint = "did you mean " + ", ".join(exc.suggestions) + "?"

    if isinstance(exc, DataError) and exc.problems:
        for problem in exc.problems:
            render.print_error(problem.describe())
        shown: dict[str, int] = {}
        for problem in exc.problems:
            shown[problem.file] = shown.get(problem.file, 0) + 1
        for file, total in exc.counts.items():
            if total > shown.get(file, 0):
                render.print_error(f"and {total - shown.get(file, 0):,} more in {file}")
    render.print_error(str(exc), exc.hint)


def _traceback() -> None:
    from trustscore import render

    render.print_traceback()  # escaped: an exception's message may quote the data


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn exceptions into one line on stderr and the documented exit code."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except TrustscoreError as exc:
            if _state["debug"]:
                _traceback()
            _report(exc)
            raise typer.Exit(exc.exit_code) from None
        except (typer.Exit, typer.Abort):
            raise
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        except BrokenPipeError:
            raise typer.Exit(0) from None  # a reader that stopped early (| head) is no error
        except OSError as exc:
            # the system refused (disk full, read-only, permission, a file for a folder)
            from trustscore.errors import ResourceError

            if _state["debug"]:
                _traceback()
            resource = ResourceError.from_os(exc)
            _report(resource)
            raise typer.Exit(resource.exit_code) from None
        except Exception as exc:
            _unexpected(exc)
        except BaseException as exc:
            # a panic in Polars' or XGBoost's native code reaches Python as a
            # BaseException (pyo3's PanicException): a bug, and one line like any
            if type(exc).__name__ != "PanicException":
                raise
            _unexpected(exc)

    return wrapper


def _unexpected(exc: BaseException) -> NoReturn:
    """An error nothing foresaw (a bug): one line, exit 1, the traceback with --debug."""
    from trustscore import render

    if _state["debug"]:
        _traceback()
    first = str(exc).strip().splitlines()[:1]
    render.print_error(
        f"unexpected {type(exc).__name__}: {first[0] if first else ''}".rstrip(": "),
        None if _state["debug"] else "run again with --debug for the traceback",
    )
    raise typer.Exit(1) from None


class Output:
    """Where and how a command's data go: checked before any work is done.

    Every command that prints data takes the same options (--format, --output,
    --safe-csv, --columns) and sends its frames through :meth:`emit`.
    """

    def __init__(
        self,
        fmt: Format | None,
        output: Path | None,
        *,
        safe_csv: bool = False,
        columns: str | None = None,
    ) -> None:
        if output is not None and str(output) == "-":
            output = None  # -o - is standard output, as everywhere in Unix, never a file "-"
        check_output(output)
        self.format = resolve(fmt, output, sys.stdout.isatty())
        if output is not None and self.format is Format.TABLE:
            raise UsageError(
                "--format table is for the terminal", hint="pick csv, json, ndjson or parquet"
            )
        self.output = output
        self.safe_csv = safe_csv
        self.columns = _column_list(columns)
        self.entity: Any = None  # trustscore.entity.Entity: its key names the id column

    def emit(
        self,
        frame: pl.DataFrame,
        title: str | None = None,
        *,
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        """Send a data frame to stdout or the output file in the chosen format.

        ``before_commit`` runs once a file is written and before it takes its
        name: if it fails, the file is not written (decide's log and output land
        together or not at all)."""
        if self.entity is not None:
            frame = self.entity.public(frame)
        if self.columns is not None:
            frame = select_columns(frame, self.columns)
        if self.output is not None:
            with atomic_output(self.output) as fh:
                write_frame(frame, self.format, fh, safe_csv=self.safe_csv)
                fh.flush()
                if before_commit is not None:
                    before_commit()
            return
        if before_commit is not None:
            before_commit()
        if self.format is Format.TABLE:
            from trustscore import render

            render.print_frame(frame, title)
            return
        try:
            write_frame(frame, self.format, sys.stdout.buffer, safe_csv=self.safe_csv)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # stdout on a full disk: say where the write went
            if exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror or str(exc), "standard output") from None


def _column_list(columns: str | None) -> list[str] | None:
    return None if columns is None else columns.split(",")


def emit(
    frame: pl.DataFrame,
    fmt: Format | None,
    output: Path | None,
    *,
    safe_csv: bool = False,
    title: str | None = None,
) -> None:
    """Send a data frame to stdout or ``output`` in the chosen format."""
    Output(fmt, output, safe_csv=safe_csv).emit(frame, title)


def check_output(output: Path | None) -> None:
    """Refuse an --output the command could not write, before the long work starts."""
    if output is None:
        return
    from trustscore.errors import ResourceError

    output = Path(os.path.realpath(output))  # links followed: what is written is checked
    if output.exists() and not output.is_file() and not output.is_dir():
        return  # /dev/null, /dev/full, a pipe: written in place, never replaced
    parent = output.parent if str(output.parent) else Path(".")
    if output.is_dir():
        raise UsageError(f"--output {output} is a folder", hint="give a file name")
    if not parent.is_dir():
        raise UsageError(f"no folder {str(parent)!r} for the output file", hint="create it first")
    _refuse_overwriting_ours(output, parent)
    if not os.access(parent, os.W_OK):
        raise ResourceError(
            f"cannot write to {parent}: not writable (read-only or no permission)",
            hint="write the output somewhere else",
        )


def _refuse_overwriting_ours(output: Path, parent: Path, option: str = "--output") -> None:
    """--output never replaces a file of a model folder (its seal would break) nor a
    table of a data folder (the input of this very command, most likely)."""
    from trustscore.model_folder import is_model_folder
    from trustscore.schema import TABLES

    if is_model_folder(parent):
        raise UsageError(
            f"{option} {output} is inside a model folder",
            hint="write it elsewhere: a model folder holds only what build wrote",
        )
    tables = {f"{t.name}.{suffix}" for t in TABLES.values() for suffix in ("csv", "parquet")}
    data_folder = (parent / "consumers.csv").is_file() or (parent / "consumers.parquet").is_file()
    if output.name in tables and data_folder:
        raise UsageError(
            f"{option} {output} would replace a table of the data folder {parent}",
            hint="write it elsewhere: trustscore never overwrites its input",
        )


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


# ------------------------------------------------------------------ sample


@app.command()
@handle_errors
def sample(
    out_dir: Annotated[
        Path, typer.Argument(help="Folder to write the four CSVs into.", metavar="OUT_DIR")
    ],
    persons: Annotated[
        int,
        typer.Option(
            "--persons", "-n", min=1, max=100_000_000, metavar="N", help="Persons (1 or more)."
        ),
    ] = 5000,
    seed: Annotated[
        int,
        typer.Option("--seed", min=0, max=2**32 - 1, metavar="N", help="Random seed (0 or more)."),
    ] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite the four CSVs if OUT_DIR holds them.")
    ] = False,
    drift: Annotated[
        float,
        typer.Option(
            "--drift",
            min=0.0,
            max=3.0,
            metavar="X",
            help="A shifted population, for monitor: reliability X standard deviations "
            "lower, means X/2 lower, opportunism X/2 higher (0: none).",
        ),
    ] = 0.0,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Write a synthetic platform: four CSVs in the contract.

    The same --persons, --seed and --drift give the same bytes. Prints the
    files and their row counts.

    \b
    Example:
      trustscore sample demo --persons 2000 --seed 7
      trustscore sample shifted --persons 2000 --seed 8 --drift 1
    """
    from trustscore import render
    from trustscore.sample import generate
    from trustscore.schema import TABLES

    out = Output(fmt, output)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir} is a file, not a folder", hint="give a folder for the CSVs")
    existing = [t.filename for t in TABLES.values() if (out_dir / t.filename).exists()]
    if existing and not force:
        raise UsageError(
            f"{out_dir} already holds {', '.join(existing)}",
            hint="pass --force to overwrite them, or pick another folder",
        )
    with render.progress_bar(_stderr_is_terminal()) as progress:
        rows = generate(out_dir, persons=persons, seed=seed, drift=drift, progress=progress)
    frame = pl.DataFrame(
        {
            "table": list(rows),
            "file": [str(out_dir / f"{name}.csv") for name in rows],
            "rows": list(rows.values()),
        }
    )
    out.emit(frame, title=f"sample data in {out_dir}")


# ------------------------------------------------------------------ convert


@app.command()
@handle_errors
def convert(
    data_dir: DataDirArg,
    out_dir: Annotated[
        Path, typer.Argument(help="Folder to write the Parquet tables into.", metavar="OUT_DIR")
    ],
    lenient: LenientOpt = False,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the Parquet tables OUT_DIR holds.")
    ] = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Write a validated Parquet copy of a data folder.

    Every table is checked as every command checks it, then written as
    NAME.parquet: rows sorted by the table's key, ids dictionary-encoded,
    columns in their contract types. Any command then takes OUT_DIR instead
    of DATA_DIR and reads typed columns rather than parsing text.

    \b
    Example:
      trustscore convert sample_data sample_parquet
      trustscore build sample_parquet
    """
    from trustscore.convert import convert as run_convert

    out = Output(fmt, output)
    written, report = run_convert(data_dir, out_dir, lenient=lenient, force=force)
    _notes(report, [])
    files = [out_dir / f"{name}.parquet" for name in written]
    frame = pl.DataFrame(
        {
            "table": list(written),
            "file": [str(f) for f in files],
            "rows": list(written.values()),
            "mb": [round(f.stat().st_size / 1e6, 3) for f in files],
        }
    )
    out.emit(frame, title=f"Parquet copy in {out_dir}")


# ------------------------------------------------------------------ validate


@app.command()
@handle_errors
def validate(
    data_dir: Annotated[
        str,
        typer.Argument(
            help="The data folder (or - for consumers.csv on stdin).", metavar="DATA_DIR"
        ),
    ],
    strict: StrictOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Check a data folder against the contract.

    Prints each table's rows, problems and warnings; every problem goes to
    stderr, one line naming file, line, column and value. Warnings are rows
    that are legal but unlikely (a parcel delivered before it was shipped),
    listed per rule with up to 5 examples; they never stop a command, unless
    --strict makes them problems. Exit 0 when clean, 3 when not.

    \b
    Example:
      trustscore validate sample_data
      trustscore validate --strict sample_data
      trustscore validate - < consumers.csv
    """
    from trustscore import render
    from trustscore.ingest import Report, read_folder, strict_hint

    out = Output(fmt, output)
    failure: DataError | None = None
    try:
        _, report = read_folder(data_dir, strict=strict)
    except DataError as exc:
        if not isinstance(exc.report, Report):
            raise
        failure, report = exc, exc.report
        if not report.fatal:
            # validate itself drops nothing: the commands that read data do, when asked
            failure.hint = (
                "fix the rows named above, or pass --lenient to features, build or score "
                "to drop them and go on"
            )
            if report.unlikely_problems:
                failure.hint = strict_hint(report, failure.hint)
    for note in report.notes:
        render.print_note(note.text)
    for warning in report.warnings:  # each rule: its count, then its first examples
        render.print_warning(warning.describe())
        for example in warning.examples:
            render.print_warning("  " + example.describe())
        if warning.count > len(warning.examples):
            render.print_warning(f"  and {warning.count - len(warning.examples):,} more")
    warned = report.warning_counts()
    frame = pl.DataFrame(
        {
            "table": [t.name for t in report.tables],
            "file": [t.file for t in report.tables],
            "rows": [t.rows for t in report.tables],
            "problems": [report.counts.get(t.file, 0) for t in report.tables],
            "warnings": [warned.get(t.file, 0) for t in report.tables],
        },
        schema={
            "table": pl.String,
            "file": pl.String,
            "rows": pl.Int64,
            "problems": pl.Int64,
            "warnings": pl.Int64,
        },
    )
    verdict = "invalid" if failure else "valid"
    if failure is None and report.warnings:
        n = report.total_warnings
        verdict += f", {n:,} warning{'s' if n != 1 else ''}"
    if failure is None or output is None:  # a file is written only for valid data
        out.emit(frame, title=f"{data_dir}: {verdict}")
    if failure is not None:
        _report(failure)
        raise typer.Exit(failure.exit_code)


# ------------------------------------------------------------------ shared options

AsOfOpt = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        metavar="YYYY-MM-DD",
        help="Count only events before this date (default: the day after the latest "
        "transaction in the folder).",
        show_default=False,
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="FILE", help="TOML config (see the README)."),
]
MODEL_ENV = "TRUSTSCORE_MODEL"
ModelOpt = Annotated[
    Path,
    typer.Option(
        "--model",
        "-m",
        metavar="DIR",
        envvar=MODEL_ENV,
        help=f"The model folder made by build (default: ${MODEL_ENV}, else ./trustscore-model).",
        show_default=False,
    ),
]
DEFAULT_MODEL = Path("trustscore-model")


class EntityChoice(StrEnum):
    PERSON = "person"
    MERCHANT = "merchant"


EntityOpt = Annotated[
    EntityChoice | None,
    typer.Option(
        "--entity",
        metavar="person|merchant",
        help="Score persons (consumers.csv) or shops (merchants.csv). Default: persons; "
        "with a model, the model's.",
        case_sensitive=False,
        show_default=False,
    ),
]
OwnerModelOpt = Annotated[
    Path | None,
    typer.Option(
        "--owner-model",
        metavar="DIR",
        help="Shops: a person model folder whose scores become the owner's score feature "
        "(default: the one the shop model was built with).",
        show_default=False,
    ),
]


ClusterOpt = Annotated[
    str | None,
    typer.Option(
        "--cluster",
        metavar="ADDRESS|local",
        help="Compute the persons' features (and, for build, train) on a Dask cluster: a "
        "scheduler's address, or local for one on this machine. Needs trustscore[cluster].",
        show_default=False,
    ),
]


PartsOpt = Annotated[
    int | None,
    typer.Option(
        "--parts",
        min=1,
        metavar="N",
        help="For data larger than memory: read transactions and logistics (Parquet) a "
        "piece at a time and compute the persons' features in N partitions, waiting on "
        "disk (--spool DIR, default the temporary folder). The same features.",
        show_default=False,
    ),
]


SpoolOpt = Annotated[
    Path | None,
    typer.Option(
        "--spool",
        metavar="DIR",
        help="With --cluster: a folder every worker can read (shared storage). The "
        "partitions reach the workers through it, much faster than through Dask. With "
        "--parts: where the partitions wait (room for a copy of the orders and shipments).",
        show_default=False,
    ),
]


@contextmanager
def _cluster(
    address: str | None, entity: Any = None, spool: Path | None = None, parts: int | None = None
) -> Iterator[Any]:
    """The Dask cluster asked for with --cluster, open for the command (None: none)."""
    if address is None:
        if spool is not None and parts is None:
            raise UsageError(
                "--spool is where a cluster's workers read their partitions, or where "
                "--parts keeps them",
                hint="use it with --cluster ADDRESS or --parts N",
            )
        yield None
        return
    if parts is not None:  # before a local cluster takes seconds to start
        from trustscore.pipeline import check_parts

        check_parts(entity, cluster=address)
    from trustscore import render
    from trustscore.cluster import Cluster
    from trustscore.entity import Entity
    from trustscore.pipeline import check_cluster

    check_cluster(entity or Entity.PERSON)  # before a local cluster takes seconds to start

    with Cluster(address, spool=spool) as cluster:
        render.print_note(f"on the Dask cluster {address}: {cluster.workers} worker(s)")
        yield cluster


def _entity(choice: EntityChoice | None) -> Any:
    """The --entity asked for as trustscore.entity.Entity (None: not asked)."""
    from trustscore.entity import Entity

    return None if choice is None else Entity(choice.value)


DataDirArg = Annotated[
    str,
    typer.Argument(
        help="The data folder of CSVs (or - for consumers.csv on stdin).",
        metavar="DATA_DIR",
        show_default=False,
    ),
]


def _date(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def _warn_protected(protected: list[str]) -> None:
    from trustscore import render

    if protected:
        render.print_warning(
            "protected attribute(s) left out of the features: " + ", ".join(protected)
        )


# ------------------------------------------------------------------ features


@app.command()
@handle_errors
def features(
    data_dir: DataDirArg,
    as_of: AsOfOpt = None,
    config: ConfigOpt = None,
    lenient: LenientOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    safe_csv: SafeCsvOpt = False,
    columns: ColumnsOpt = None,
    entity: EntityOpt = None,
    owner_model: OwnerModelOpt = None,
    cluster: ClusterOpt = None,
    spool: SpoolOpt = None,
    parts: PartsOpt = None,
) -> None:
    """Compute the per-person feature table.

    One row per consumer, person_id first (with --entity merchant, one row per
    shop of merchants.csv, merchant_id first). Only events strictly before the
    as-of date count. Counts are 0 for persons with no activity; rates,
    averages and recencies are left empty.

    \b
    Example:
      trustscore features sample_data --as-of 2026-01-01 -o features.parquet
      trustscore features sample_data --columns person_id,spend_365d
      trustscore features sample_data --entity merchant -o shops.csv
    """
    from trustscore import config as config_mod
    from trustscore import render
    from trustscore.entity import Entity
    from trustscore.pipeline import prepare

    out = Output(fmt, output, safe_csv=safe_csv, columns=columns)
    chosen = _entity(entity) or Entity.PERSON
    out.entity = chosen
    cfg = config_mod.load(config)
    with _cluster(cluster, chosen, spool, parts) as engine:
        prepared = prepare(
            data_dir,
            config=cfg,
            as_of=_date(as_of),
            lenient=lenient,
            entity=chosen,
            owner_model=owner_model,
            cluster=engine,
            parts=parts,
            spool=spool if parts is not None else None,
        )
    _notes(prepared.report, prepared.features.notes)
    _warn_protected(prepared.features.protected)
    render.print_note(f"as of {prepared.as_of.isoformat()}")
    out.emit(prepared.features.frame, title="features")


def _notes(report: Any, notes: list[Note]) -> None:
    """Rows dropped under --lenient, then the notes: ingest's, less those that the
    features say in more detail (see trustscore.notes)."""
    from trustscore import render
    from trustscore.notes import merge

    for (file, rule), n in sorted(report.drops.dropped.items()):
        render.print_warning(f"dropped {n:,} row(s) of {file}: {rule.replace('_', ' ')}")
    for note in merge(report.notes, notes):
        render.print_note(note.text)


# ------------------------------------------------------------------ build


@app.command()
@handle_errors
def build(
    data_dir: DataDirArg,
    model: Annotated[
        Path,
        typer.Option(
            "--model",
            "-m",
            "--out",
            metavar="DIR",
            envvar=MODEL_ENV,
            help=f"Where to write the model folder (default: ${MODEL_ENV}, else "
            "./trustscore-model). --out is the same option.",
            show_default=False,
        ),
    ] = DEFAULT_MODEL,
    as_of: AsOfOpt = None,
    config: ConfigOpt = None,
    seed: Annotated[
        int | None,
        typer.Option(
            "--seed", min=0, max=2**32 - 1, metavar="N", help="Random seed (default: the config's)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the model folder there (only a model).")
    ] = False,
    label: Annotated[
        str | None,
        typer.Option(
            "--label",
            metavar="auto|column|records",
            help="The outcome to learn: consumers.csv's defaulted column, or derived from the "
            "repayment records (default: the config's, auto = the column when present).",
            show_default=False,
        ),
    ] = None,
    label_window: Annotated[
        int | None,
        typer.Option(
            "--label-window",
            metavar="DAYS",
            min=60,
            max=3650,
            help="Derived outcomes: the performance window before the as-of date "
            "(default: the config's, 365).",
            show_default=False,
        ),
    ] = None,
    lenient: LenientOpt = False,
    strict: StrictOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    entity: EntityOpt = None,
    owner_model: OwnerModelOpt = None,
    cluster: ClusterOpt = None,
    spool: SpoolOpt = None,
    parts: PartsOpt = None,
) -> None:
    """Learn a trust score and write the model folder.

    validate -> features -> train on the labelled persons -> evaluate on a
    holdout -> score everyone -> write the folder whole (or not at all).
    Prints the build summary; --format json gives all of it.

    \b
    Example:
      trustscore build sample_data
      trustscore build sample_data --model models/2026-01 --as-of 2026-01-01
      trustscore build sample_data --entity merchant --model shop-model
    """
    from trustscore import config as config_mod
    from trustscore import render
    from trustscore.entity import Entity
    from trustscore.pipeline import build as run_build

    out = Output(fmt, output)
    cfg = config_mod.load(config)
    cfg = config_mod.with_label(cfg, label, label_window)
    chosen = _entity(entity) or Entity.PERSON
    if cluster is not None:  # the place is refused before a cluster takes seconds to start
        from trustscore.model_folder import check_target

        check_target(Path(model), force=force)
    with (
        _cluster(cluster, chosen, spool, parts) as engine,
        render.phases(_stderr_is_terminal()) as (phase, rounds),
    ):
        result = run_build(
            data_dir,
            model,
            config=cfg,
            as_of=_date(as_of),
            seed=seed,
            force=force,
            lenient=lenient,
            strict=strict,
            phase=phase,
            rounds=rounds,
            entity=chosen,
            owner_model=owner_model,
            cluster=engine,
            parts=parts,
            spool=spool if parts is not None else None,
        )
    _notes(result.report, result.notes)
    _warn_protected(result.protected)
    for data_warning in result.report.warnings:  # one line a rule; validate shows examples
        render.print_warning(data_warning.describe() + "; see trustscore validate")
    for warning in result.warnings:
        render.print_warning(warning.text)
    if out.format is Format.TABLE:
        render.build_summary(result.metrics, str(result.out))
    elif out.format is Format.JSON:
        from trustscore.formats import write_json

        summary = {"model": str(result.out), **result.metrics}
        if out.output is None:
            write_json(summary, sys.stdout.buffer)
        else:
            with atomic_output(out.output) as fh:
                write_json(summary, fh)
    else:
        out.emit(_metrics_frame(result.metrics))


def _metrics_frame(metrics: dict[str, Any]) -> pl.DataFrame:
    """The build summary as tidy rows: section, name, value (a number) or text."""
    rows: list[tuple[str, str, float | int | str | None]] = []
    for key in ("as_of", "trees", "features", "persons", "labelled"):
        name = "shops" if key == "persons" and metrics.get("entity") == "merchant" else key
        rows.append(("model", name, metrics[key]))
    for key, value in metrics["outcome"].items():
        rows.append(("outcome", key, value))
    for part in ("development", "holdout"):
        m = metrics[part]
        for key in ("rows", "bad_rate", "auc", "gini", "ks", "brier", "log_loss"):
            rows.append((part, key, m[key]))
    for b in metrics["score_bands"]:
        rows.append(("bands", f"{b['band']}.persons", b["persons"]))
        rows.append(("bands", f"{b['band']}.holdout_bad_rate", b["holdout_bad_rate"]))
    for w in metrics["warnings"]:
        rows.append(("warnings", w["code"], w["text"]))
    return pl.DataFrame(
        {
            "section": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "value": [r[2] if isinstance(r[2], int | float) else None for r in rows],
            "text": [r[2] if isinstance(r[2], str) else None for r in rows],
        },
        schema={"section": pl.String, "name": pl.String, "value": pl.Float64, "text": pl.String},
    )


# ------------------------------------------------------------------ score


@app.command()
@handle_errors
def score(
    data_dir: DataDirArg,
    model: ModelOpt = DEFAULT_MODEL,
    as_of: AsOfOpt = None,
    lenient: LenientOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    safe_csv: SafeCsvOpt = False,
    columns: ColumnsOpt = None,
    reasons: Annotated[
        int | None,
        typer.Option(
            "--reasons",
            min=1,
            metavar="N",
            help="Add the N strongest lowering reason codes per person (reason_1..reason_N, "
            "the card's), for adverse-action letters in bulk.",
            show_default=False,
        ),
    ] = None,
    entity: EntityOpt = None,
    owner_model: OwnerModelOpt = None,
    cluster: ClusterOpt = None,
    spool: SpoolOpt = None,
    parts: PartsOpt = None,
) -> None:
    """Score everyone in DATA_DIR with a saved model.

    Columns: person_id, score, band, model_score, penalty, p_bad, base_points,
    then the points of each dimension (base_points + the five = model_score);
    with --reasons N, then reason_1..reason_N.

    \b
    Example:
      trustscore score sample_data -o scores.csv
      trustscore score sample_data -f ndjson | head -3
      trustscore score sample_data --reasons 2 --columns person_id,score,reason_1,reason_2
      trustscore score sample_data --model shop-model   # a shop model: merchant_id first
    """
    from trustscore import render
    from trustscore.model_folder import SCORE_COLUMNS, ModelFolder
    from trustscore.pipeline import score_with

    out = Output(fmt, output, safe_csv=safe_csv, columns=columns)
    with render.phases(_stderr_is_terminal()) as (phase, _):
        phase("loading the model")
        folder = ModelFolder.open(model)
        out.entity = folder.check_entity(_entity(entity))
        if reasons is not None and reasons > len(folder.specs):
            raise UsageError(
                f"--reasons {reasons}: the model has {len(folder.specs)} features",
                hint=f"ask for at most {len(folder.specs)}",
            )
        with _cluster(cluster, out.entity, spool, parts) as engine:
            scored, prepared = score_with(
                folder,
                data_dir,
                as_of=_date(as_of),
                lenient=lenient,
                feature_points=reasons is not None,
                phase=phase,
                owner_model=owner_model,
                cluster=engine,
                parts=parts,
                spool=spool if parts is not None else None,
            )
        frame = scored.scores.select(SCORE_COLUMNS)
        if reasons is not None:
            from trustscore.reasons import lowering_codes

            # the per-feature points (exact TreeSHAP, as stored by build), a feature
            # at a time over everyone: the same codes, in the same order, as the card
            codes = lowering_codes(scored.points, folder.specs, reasons)
            frame = pl.concat([frame, codes.drop("person_id")], how="horizontal")
    _notes(prepared.report, prepared.features.notes)
    out.emit(frame, title="scores")


class CardFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    NDJSON = "ndjson"
    CSV = "csv"
    PARQUET = "parquet"


@app.command()
@handle_errors
def card(
    person_ids: Annotated[
        list[str],
        typer.Argument(
            help="The persons whose cards to show; - reads ids from stdin, one a line "
            "(blank lines skipped).",
            metavar="PERSON_ID",
            show_default=False,
        ),
    ],
    model: ModelOpt = DEFAULT_MODEL,
    data: Annotated[
        str | None,
        typer.Option(
            "--data", "-d", metavar="DIR", help="A data folder holding persons not in the model."
        ),
    ] = None,
    fmt: Annotated[
        CardFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="table (the drawn cards), json, ndjson, csv (one flat row a card), or "
            "parquet (with --output). Default: from the --output suffix, else table.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    output: OutputOpt = None,
    safe_csv: SafeCsvOpt = False,
    width: Annotated[
        int | None,
        typer.Option(
            "--width", min=40, metavar="COLUMNS", help="Draw the card this wide (40 or more)."
        ),
    ] = None,
    entity: EntityOpt = None,
) -> None:
    """Show score cards: one id, several, or - for ids on stdin.

    A card: score, band, five dimensions that add up to the model score,
    reasons, and counterfeit-trade penalties as lines of their own. One id:
    its card (json: one object); exit 4 if it is in neither the model folder
    nor --data. Several ids or -: a card for every id found, in order (json:
    an array); each id not found is one error line on stderr, and the exit
    code is 4 once every card found is written.

    \b
    Example:
      trustscore card P0000408
      trustscore card P0000408 P0000613 -f ndjson
      cut -d, -f1 ids.csv | trustscore card - -o cards.csv
      trustscore card M000065 --model shop-model
    """

    from trustscore import render
    from trustscore.card import Card, flat_frame, load_card, load_cards
    from trustscore.errors import EXIT_UNKNOWN_PERSON
    from trustscore.formats import write_frames, write_json, write_json_records
    from trustscore.model_folder import ModelFolder

    check_output(output)
    chosen = (
        Format.TABLE
        if fmt is None and output is None
        else resolve(None if fmt is None else Format(fmt.value), output, False)
    )
    if output is not None and chosen is Format.TABLE:
        raise UsageError("--format table is for the terminal", hint="pick csv, json or ndjson")
    if data == "-" and "-" in person_ids:
        raise UsageError("stdin can hold the ids or the data, not both", hint="pass --data DIR")
    single = len(person_ids) == 1 and person_ids[0] != "-"
    unknown = 0
    folder = ModelFolder.open(model)
    kind = folder.check_entity(_entity(entity))

    def ids() -> Iterator[str]:
        # each argument, and for - the lines of stdin as they come: line ends
        # dropped, blank lines skipped, any other text an id kept as it is
        for arg in person_ids:
            if arg != "-":
                yield arg
                continue
            raw = getattr(sys.stdin, "buffer", None)
            lines = (
                (b.decode("utf-8", errors="replace") for b in raw) if raw is not None else sys.stdin
            )
            for n, line in enumerate(lines):
                pid = line.removesuffix("\n").removesuffix("\r")
                if n == 0:
                    pid = pid.removeprefix("\ufeff")  # a file saved with a BOM
                if pid.strip():
                    yield pid

    def cards() -> Iterator[Card]:
        nonlocal unknown
        if single:
            yield load_card(folder, person_ids[0], data)  # exit 4 with the closest ids
            return
        where = f"{model} or {data}" if data is not None else str(model)
        err = render.stderr_console()
        for pid, found in load_cards(folder, ids(), data):
            if found is None:
                unknown += 1
                render.print_error(f"no {kind.noun} {pid} in {where}", console=err)
            else:
                yield found

    def batches() -> Iterator[Any]:
        chunk: list[Card] = []
        for c in cards():
            chunk.append(c)
            if len(chunk) == 5000:
                yield flat_frame(chunk, kind)
                chunk = []
        yield flat_frame(chunk, kind)  # at least one frame: the columns of an empty file

    def write(stream: Any) -> None:
        if chosen is Format.JSON and single:
            write_json(next(cards()).as_dict(), stream)
        elif chosen in (Format.JSON, Format.NDJSON):
            lines = chosen is Format.NDJSON
            write_json_records((c.as_dict() for c in cards()), stream, lines=lines)
        else:
            write_frames(batches(), chosen, stream, safe_csv=safe_csv)

    if output is not None:
        with atomic_output(output) as fh:
            write(fh)
    elif chosen is Format.TABLE:
        render.print_cards(cards(), render.stdout_console(width))
    else:
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    if unknown:
        raise typer.Exit(EXIT_UNKNOWN_PERSON)


# ------------------------------------------------------------------ decide


def _decide_targets(targets: list[str]) -> tuple[str | None, list[str]]:
    """(data folder or -, person ids) from decide's arguments: none is everyone in
    the model folder; - or a folder is a data folder to score; anything else ids."""
    if not targets:
        return None, []
    data = [t for t in targets if t == "-" or _is_folder(t)]
    if not data:
        return None, targets
    if len(targets) > 1:
        raise UsageError(
            f"decide takes one data folder or person ids, not both: {data[0]!r} is a "
            + ("data folder" if data[0] != "-" else "data folder on stdin"),
            hint="decide DATA_DIR, or decide ID [ID...] for persons in the model folder",
        )
    return data[0], []


def _short(person_id: str, limit: int = 80) -> str:
    """An id as an error line quotes it: a pasted megabyte is not an id to repeat."""
    if len(person_id) <= limit:
        return person_id
    return f"{person_id[:limit]}… ({len(person_id):,} characters)"


def _is_folder(text: str) -> bool:
    """Whether ``text`` names a folder; an id too long (or odd) to be a path is not."""
    if not text:
        return False
    try:
        return Path(text).is_dir()
    except (OSError, ValueError):
        return False


def _check_log(log: Path | None, output: Path | None) -> None:
    """Refuse a --log that could not be appended to, before any work."""
    if log is None:
        return
    import stat

    from trustscore.errors import ResourceError

    real = Path(os.path.realpath(log))
    if real.is_dir():
        raise UsageError(f"--log {log} is a folder", hint="give a file name")
    if output is not None and str(output) != "-" and Path(os.path.realpath(output)) == real:
        raise UsageError(
            f"--log and --output are the same file {log}",
            hint="the output would replace the log: give them different names",
        )
    if real.exists() and not (real.is_file() or stat.S_ISCHR(real.stat().st_mode)):
        raise UsageError(
            f"--log {log} is neither a file nor a device",
            hint="a log is a file that grows (a pipe would block with no reader)",
        )
    parent = real.parent
    if not parent.is_dir():
        raise UsageError(f"no folder {str(parent)!r} for the log", hint="create it first")
    _refuse_overwriting_ours(real, parent, "--log")
    if not os.access(real if real.exists() else parent, os.W_OK):
        raise ResourceError(
            f"cannot write to the log {log}: not writable (read-only or no permission)",
            hint="log somewhere else",
        )


@app.command()
@handle_errors
def decide(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="A data folder to score and decide (- for consumers.csv on stdin), or the "
            "ids of persons in the model folder; none: everyone in the model folder.",
            metavar="DATA_DIR|-|PERSON_ID",
            show_default=False,
        ),
    ] = None,
    model: ModelOpt = DEFAULT_MODEL,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            "-p",
            metavar="FILE",
            help="The decision policy, TOML (default: the built-in policy; see the README).",
        ),
    ] = None,
    products: Annotated[
        list[str] | None,
        typer.Option(
            "--product",
            "-P",
            metavar="NAME",
            help="Only this product (repeat for several; default: every product of the policy).",
        ),
    ] = None,
    log: Annotated[
        Path | None,
        typer.Option(
            "--log",
            metavar="FILE",
            help="Also append every decision to FILE as JSON lines, with the time it was made "
            "(never rewrites the file).",
        ),
    ] = None,
    explain_policy: Annotated[
        bool,
        typer.Option("--explain-policy", help="List every product's rules and stop (no model)."),
    ] = False,
    show_strategy: Annotated[
        bool,
        typer.Option(
            "--strategy",
            help="On the model's holdout persons: approval rate, bad rates and exposure at "
            "each cut-off, per product.",
        ),
    ] = False,
    as_of: AsOfOpt = None,
    lenient: LenientOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    safe_csv: SafeCsvOpt = False,
    columns: ColumnsOpt = None,
    entity: EntityOpt = None,
    owner_model: OwnerModelOpt = None,
) -> None:
    """Approve, decline or refer by a policy: loans, rentals.

    Per person and product: the decision, the loan limit or the deposit
    waived, the rules that failed and, for a decline or a refer, the person's
    strongest lowering reason codes (reason_1..reason_4). Every row carries
    the as-of date and the model's and the policy's SHA-256, so a decision can
    be replayed. Ids: a panel each with the reasons in words (rows with
    --format); a single id not in the model folder is exit 4 with the closest.

    \b
    Example:
      trustscore decide -o decisions.csv
      trustscore decide P0000408
      trustscore decide new_data --product micro_loan --log decisions.ndjson
      trustscore decide --strategy --product micro_loan
      trustscore decide --explain-policy --policy my_policy.toml
      trustscore decide M000065 --model shop-model --product micro_loan
    """
    from trustscore import policy as policy_mod

    if explain_policy and show_strategy:
        raise UsageError("--explain-policy and --strategy are two tables", hint="ask for one")
    data_dir, person_ids = _decide_targets(targets or [])
    if (explain_policy or show_strategy) and targets:
        flag = "--explain-policy" if explain_policy else "--strategy"
        raise UsageError(
            f"{flag} takes no data folder or person ids",
            hint="the strategy reads the model's holdout; the policy needs nothing else",
        )
    if (explain_policy or show_strategy) and log is not None:
        raise UsageError("--log records decisions", hint="drop --log, or drop the table option")
    if data_dir is None and (as_of is not None or lenient):
        raise UsageError(
            "--as-of and --lenient are for a data folder",
            hint="the model folder's persons are decided as of its own date",
        )
    out = Output(fmt, output, safe_csv=safe_csv, columns=columns)
    _check_log(log, output)
    rules = policy_mod.load(policy)
    chosen = rules.select(products)  # an unknown product fails before any work
    if explain_policy:
        listed = policy_mod.explain(rules).filter(pl.col("product").is_in([p.name for p in chosen]))
        title = f"policy: {rules.source} (sha256 {rules.sha256})"
        if out.format is Format.TABLE and out.output is None and out.columns is None:
            from trustscore import render

            render.print_policy(listed, title)
        else:
            out.emit(listed, title=title)
        return

    from trustscore import decide as decide_mod
    from trustscore import render
    from trustscore.model_folder import ModelFolder

    names = [p.name for p in chosen]
    if show_strategy:
        folder = ModelFolder.open(model)
        out.entity = folder.check_entity(_entity(entity))
        _warn_absent(folder, rules, names)
        frames = [decide_mod.strategy(folder, rules, name) for name in names]
        out.emit(pl.concat(frames), title="strategy (holdout)")
        return

    if data_dir is not None:
        with render.phases(_stderr_is_terminal()) as (phase, _):
            folder, scored, prepared = _open_and_score(
                model,
                data_dir,
                as_of=as_of,
                lenient=lenient,
                feature_points=True,
                phase=phase,
                entity=entity,
                owner_model=owner_model,
            )
            phase("deciding")
            records = decide_mod.Records.of_scored(folder, scored, prepared, data_dir)
            decisions = decide_mod.decide(records, rules, names)
        _notes(prepared.report, prepared.features.notes)
    else:
        folder = ModelFolder.open(model)
        folder.check_entity(_entity(entity))
        if owner_model is not None:
            raise UsageError(
                "--owner-model is for a data folder to score",
                hint="the model folder's shops are decided as stored",
            )
        decisions = decide_mod.decide(folder, rules, names, person_ids or None)
        if person_ids:  # in the order asked, as card does (each id once)
            asked = pl.DataFrame(
                {"person_id": list(dict.fromkeys(person_ids))}, schema={"person_id": pl.String}
            ).with_row_index("_asked")
            decisions = (
                decisions.join(asked, on="person_id", how="left", maintain_order="left")
                .sort("_asked", maintain_order=True)
                .drop("_asked")
            )
    _warn_absent(folder, rules, names)
    kind = out.entity = folder.entity
    found = set(decisions.get_column("person_id").unique().to_list()) if person_ids else set()
    missing = [pid for pid in dict.fromkeys(person_ids) if pid not in found]
    if person_ids and len(missing) == len(dict.fromkeys(person_ids)) and len(missing) == 1:
        from trustscore.card import suggestions
        from trustscore.errors import UnknownPersonError

        raise UnknownPersonError(
            f"no {kind.noun} {_short(missing[0])} in {model}",
            suggestions=suggestions(folder, missing[0]),
        )
    for pid in missing:
        render.print_error(f"no {kind.noun} {_short(pid)} in {model}")

    def record() -> None:
        if log is not None:
            _append_log(log, kind.public(decisions))

    # ids: the panels by default, even on a pipe (as card draws its cards); rows
    # when a format, a file or columns are asked for. The log is written before
    # anything is shown (nothing is shown unrecorded) and, with --output, before
    # the file takes its name: a failed write of either leaves both as they were.
    if person_ids and fmt in (None, Format.TABLE) and out.output is None and columns is None:
        record()
        render.print_decisions(_panels(folder, decisions, chosen, rules))
    else:
        out.emit(decisions, title="decisions", before_commit=record)
    if missing:
        from trustscore.errors import EXIT_UNKNOWN_PERSON

        raise typer.Exit(EXIT_UNKNOWN_PERSON)


def _warn_absent(folder: Any, rules: Any, names: list[str]) -> None:
    from trustscore import render
    from trustscore.decide import absent_features

    for name in absent_features(folder, rules, names):
        render.print_warning(
            f"the model folder holds no {name}: every person fails the rules that need it"
        )


def _append_log(log: Path, decisions: pl.DataFrame) -> None:
    """Every decision as a JSON line with the moment it was made, appended whole."""
    import io
    from datetime import UTC

    from trustscore.formats import append_lines

    stamp = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    buffer = io.BytesIO()
    write_frame(
        decisions.select(pl.lit(stamp).alias("decided_at"), pl.all()),
        Format.NDJSON,
        buffer,
    )
    append_lines(log, buffer.getvalue())


def _panels(folder: Any, decisions: pl.DataFrame, chosen: list[Any], rules: Any) -> Any:
    """The panels of ``decide ID``: each person's rows with their reasons in words."""
    from trustscore.decide import reasons_in_words
    from trustscore.render import DecisionPanel

    said = reasons_in_words(folder, decisions)
    shop = folder.entity.noun == "shop"
    sentences = {p.name: {r.code: r.sentence for r in p.rules(shop)} for p in chosen}
    per_person: dict[str, list[dict[str, Any]]] = {}
    for row in decisions.to_dicts():  # rows come grouped by person, in the order asked
        per_person.setdefault(row["person_id"], []).append(row)
    for pid, mine in per_person.items():
        first = mine[0]
        yield DecisionPanel(
            person_id=pid,
            score=int(first["score"]),
            band=str(first["band"]),
            as_of=str(first["as_of"]),
            rows=mine,
            rules=sentences,
            reasons=list(said.get(pid, {}).values()),
            policy=rules.source,
            policy_sha256=str(first["policy_sha256"]),
            model_sha256=str(first["model_sha256"]),
            kinds={p.name: p.kind for p in chosen},
        )


# ------------------------------------------------------------------ report


class ReportFormat(StrEnum):
    HTML = "html"
    TABLE = "table"
    JSON = "json"


@app.command()
@handle_errors
def report(
    model: ModelOpt = DEFAULT_MODEL,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write the HTML report to FILE (atomically; - is stdout).",
        ),
    ] = None,
    fmt: Annotated[
        ReportFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="html (one self-contained file), table (the same tables in the terminal) or "
            "json (every number). Default: html with --output or on a pipe, else table.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            "-p",
            metavar="FILE",
            help="Add the strategy chart of this policy's products (see decide --strategy).",
        ),
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(
            "--data",
            "-d",
            metavar="DIR",
            help="Add the drift (monitor) and fairness (audit) of this data folder.",
        ),
    ] = None,
    lenient: LenientOpt = False,
) -> None:
    """Curves, calibration and importance: one offline HTML file.

    Holdout ROC and KS with AUC, Gini and KS and their bootstrap intervals;
    calibration by decile and band; persons by band, goods and bads; each
    dimension's and feature's importance; points against value for the ten
    strongest features; the model's facts. With --policy the strategy chart,
    with --data its drift and fairness tables. The HTML needs no network.

    \b
    Example:
      trustscore report -o report.html
      trustscore report --policy policy.toml --data new_month -o report.html
      trustscore report --format table
    """
    from trustscore import render
    from trustscore.model_folder import ModelFolder
    from trustscore.report import build_report, to_html

    if output is not None and str(output) == "-":
        output = None
    check_output(output)
    chosen = fmt or (
        ReportFormat.HTML if output is not None or not sys.stdout.isatty() else ReportFormat.TABLE
    )
    if chosen is ReportFormat.TABLE and output is not None:
        raise UsageError("--format table is for the terminal", hint="pick html or json")
    rules = None
    if policy is not None:  # a bad policy fails before the model is read
        from trustscore import policy as policy_mod

        rules = policy_mod.load(policy)
    folder = ModelFolder.open(model)
    strategy = drift = fairness = None
    if rules is not None:
        from trustscore import decide as decide_mod

        if (folder.outcome or {}).get("source") == "records":
            render.print_note(
                "no strategy chart: the outcomes were derived from records the stored scores "
                "already see (see decide --strategy)"
            )
        else:
            strategy = pl.concat([decide_mod.strategy(folder, rules, p) for p in rules.products])
    if data is not None:
        drift, fairness = _report_data(folder, data, lenient)
    result = build_report(folder, strategy=strategy, drift=drift, fairness=fairness)
    for note in result.notes:
        render.print_note(note)
    if chosen is ReportFormat.TABLE:
        render.print_report(result)
        return
    if chosen is ReportFormat.JSON:
        from trustscore.formats import write_json
        from trustscore.report import to_dict

        payload = to_dict(result)
        if output is None:
            write_json(payload, sys.stdout.buffer)
        else:
            with atomic_output(output) as fh:
                write_json(payload, fh)
        return
    text = to_html(result).encode("utf-8")
    if output is None:
        sys.stdout.buffer.write(text)
        sys.stdout.buffer.flush()
    else:
        with atomic_output(output) as fh:
            fh.write(text)
        render.print_note(f"wrote {output} ({len(text) / 1024:,.0f} KiB, opens offline)")


def _report_data(folder: Any, data: str, lenient: bool) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The drift of a data folder against the model, and its fairness when it holds
    protected columns (approved at the audit's default cut-off)."""
    from trustscore.audit import DEFAULT_CUTOFF, fairness
    from trustscore.monitor import monitor as run_monitor
    from trustscore.pipeline import score_with

    scored, prepared = score_with(folder, data, lenient=lenient)
    scores = scored.scores
    y = _outcomes(prepared, scores)
    drift = run_monitor(folder, scores, prepared.features.frame, y)
    protected = prepared.features.protected
    if not protected:
        return drift, None
    approved = scores.get_column("score") >= DEFAULT_CUTOFF
    return drift, fairness(scores, prepared.tables.consumers, protected, approved, y)


def _open_and_score(
    model: Path,
    data_dir: str,
    *,
    as_of: datetime | None,
    lenient: bool,
    feature_points: bool = False,
    phase: Callable[[str], None],
    entity: EntityChoice | None = None,
    owner_model: Path | None = None,
    persons_only: str | None = None,
) -> tuple[Any, Any, Any]:
    """(folder, scored, prepared): the verified model folder, and DATA_DIR scored
    with it, as decide, audit and monitor start. ``persons_only``: the command's
    name when it judges persons alone (a shop model is refused, exit 2)."""
    from trustscore.model_folder import ModelFolder
    from trustscore.pipeline import score_with

    phase("loading the model")
    folder = ModelFolder.open(model)
    if persons_only is not None and folder.entity.noun != "person":
        raise UsageError(
            f"{persons_only} judges persons, and {model} scores shops",
            hint="give a person model folder",
        )
    scored, prepared = score_with(
        folder,
        data_dir,
        as_of=_date(as_of),
        lenient=lenient,
        feature_points=feature_points,
        phase=phase,
        entity=_entity(entity),
        owner_model=owner_model,
    )
    return folder, scored, prepared


def _outcomes(prepared: Any, scores: pl.DataFrame) -> Any:
    """Consumers' defaulted for each scored person, NaN where unknown."""
    from trustscore.outcomes import from_column

    return from_column(prepared.tables, scores.get_column("person_id"), prepared.entity.table).y


# ------------------------------------------------------------------ points


class PointsFormat(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    NDJSON = "ndjson"
    PARQUET = "parquet"
    SQL = "sql"


@app.command()
@handle_errors
def points(
    model: ModelOpt = DEFAULT_MODEL,
    fmt: Annotated[
        PointsFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="table, csv, json, ndjson, parquet (with --output) or sql (one CASE per "
            "feature plus the base). Default: from the --output suffix (.sql too), else "
            "table on a terminal and csv on a pipe.",
            case_sensitive=False,
            show_default=False,
        ),
    ] = None,
    output: OutputOpt = None,
    safe_csv: SafeCsvOpt = False,
    table_name: Annotated[
        str,
        typer.Option("--table", metavar="NAME", help="sql: the table of features to score."),
    ] = "features",
) -> None:
    """The points table: per feature and value range, the points.

    For a model built with additivity = "feature", every feature's points are a
    step function of its own value: one row per range (lower <= value <
    upper), category, and missing; the base plus one row per feature is the
    model score, exactly. --format sql writes it as one SELECT, so a database
    scores without Python. A dimension-additive model has no exact per-feature
    table: it says so and prints each feature's importance (mean |points|).

    \b
    Example:
      trustscore points --model scorecard -o points.csv
      trustscore points --model scorecard -f sql > score.sql
    """
    from trustscore import render
    from trustscore.model_folder import POINTS_FILE, ModelFolder
    from trustscore.points_table import importance, points_table, to_sql

    sql = fmt is PointsFormat.SQL or (
        fmt is None and output is not None and output.suffix.lower() == ".sql"
    )
    if sql:
        check_output(output if output is None or str(output) != "-" else None)
    chosen = None if fmt is None or sql else Format(fmt.value)
    out = None if sql else Output(chosen, output, safe_csv=safe_csv)
    folder = ModelFolder.open(model)
    trained = folder.load_model()
    if trained.params.additivity != "feature":
        render.print_note(
            "this model adds up by dimension: exact per-feature points tables need "
            'additivity = "feature" (build with it in the config); each feature\'s '
            "importance (mean |points| over everyone) instead"
        )
        if sql:
            raise UsageError(
                "--format sql needs a feature-additive model",
                hint='build with additivity = "feature" in the config',
            )
        assert out is not None
        out.emit(importance(folder.frame(POINTS_FILE), folder.specs), title="importance")
        return
    table = points_table(trained)
    if sql:
        text = to_sql(table, table_name).encode("utf-8")
        if output is not None and str(output) != "-":
            with atomic_output(output) as fh:
                fh.write(text)
        else:
            sys.stdout.buffer.write(text)
            sys.stdout.buffer.flush()
        return
    render.print_note(f"base {table.base:.2f} points; model score = base + one row per feature")
    assert out is not None
    out.emit(table.rows, title="points table")


# ------------------------------------------------------------------ audit


@app.command()
@handle_errors
def audit(
    data_dir: DataDirArg,
    model: ModelOpt = DEFAULT_MODEL,
    attributes: Annotated[
        list[str] | None,
        typer.Option(
            "--attribute",
            "-a",
            metavar="COLUMN",
            help="A column of consumers.csv to audit (repeat for several; default: the "
            "protected columns the model was kept from).",
        ),
    ] = None,
    cutoff: Annotated[
        int | None,
        typer.Option(
            "--cutoff",
            min=350,
            max=950,
            metavar="SCORE",
            help="Approve a final score of at least this (default 600; not with --product).",
            show_default=False,
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option("--policy", "-p", metavar="FILE", help="The policy for --product."),
    ] = None,
    product: Annotated[
        str | None,
        typer.Option(
            "--product",
            "-P",
            metavar="NAME",
            help="Approve as this product of the policy decides (every rule, not the cut-off).",
        ),
    ] = None,
    as_of: AsOfOpt = None,
    lenient: LenientOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    safe_csv: SafeCsvOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """Fairness on the protected attributes the model was kept from.

    DATA_DIR is scored with the model; per attribute and group: persons, mean
    score, approvals at --cutoff (or by a policy's --product), the adverse
    impact ratio against the group approved most often (below 0.8 fails the
    four-fifths rule, and a warning names it), and with outcomes the bad
    rate and the AUC within the group.

    \b
    Example:
      trustscore audit sample_data
      trustscore audit sample_data --attribute gender --product micro_loan
    """
    import difflib

    from trustscore import render
    from trustscore.audit import DEFAULT_CUTOFF, fairness, pick

    out = Output(fmt, output, safe_csv=safe_csv, columns=columns)
    if policy is not None and product is None:
        raise UsageError("--policy is for --product", hint="name the product to approve by")
    if cutoff is not None and product is not None:
        raise UsageError("--cutoff and --product are two ways to approve", hint="give one of them")
    cut = DEFAULT_CUTOFF if cutoff is None else cutoff
    rules = None
    if product is not None:
        from trustscore import policy as policy_mod

        rules = policy_mod.load(policy)
        rules.select([product])  # an unknown product fails before any work
    with render.phases(_stderr_is_terminal()) as (phase, _):
        folder, scored, prepared = _open_and_score(
            model,
            data_dir,
            as_of=as_of,
            lenient=lenient,
            feature_points=rules is not None,
            phase=phase,
            persons_only="audit (protected attributes are persons')",
        )
        consumers = prepared.tables.consumers
        names = pick(consumers, prepared.features.protected, attributes)
        if not names:
            raise UsageError(
                f"{data_dir}: consumers.csv has no protected column to audit",
                hint="name a column with --attribute",
            )
        if "person_id" in names:
            raise UsageError(
                "person_id is each person's id, not an attribute with groups",
                hint="name a column such as gender or age",
            )
        for name in names:
            if name not in consumers.columns:
                close = difflib.get_close_matches(name, consumers.columns, n=1)
                raise UsageError(
                    f"consumers.csv has no column {name!r}",
                    hint=(f"did you mean {close[0]!r}? " if close else "")
                    + "columns: "
                    + ", ".join(c for c in consumers.columns if c != "person_id"),
                )
        phase("auditing")
        scores = scored.scores
        if rules is not None and product is not None:
            from trustscore import decide as decide_mod

            records = decide_mod.Records.of_scored(folder, scored, prepared, data_dir)
            decided = decide_mod.decide(records, rules, [product])
            approved = decided.get_column("decision") == decide_mod.APPROVE
            how = f"approved as {product} decides ({rules.source})"
        else:
            approved = scores.get_column("score") >= cut
            how = f"approved at a final score of {cut} or more"
        frame = fairness(scores, consumers, names, approved, _outcomes(prepared, scores))
    _notes(prepared.report, prepared.features.notes)
    features = {s.name for s in folder.specs}
    for name in names:
        if name in features:
            render.print_warning(f"{name} is a feature of the model, not an attribute left out")
    render.print_note(f"{scores.height:,} persons as of {prepared.as_of.isoformat()}, {how}")
    for attribute, group, ratio in (
        frame.filter(pl.col("four_fifths") == "fail")
        .select("attribute", "group", "adverse_impact_ratio")
        .rows()
    ):
        render.print_warning(
            f"{attribute} = {group}: adverse impact ratio {ratio:.2f}, below the four-fifths rule"
        )
    out.emit(frame, title="fairness by group")


# ------------------------------------------------------------------ monitor


@app.command()
@handle_errors
def monitor(
    data_dir: DataDirArg,
    model: ModelOpt = DEFAULT_MODEL,
    alarm: Annotated[
        float,
        typer.Option(
            "--alarm",
            min=0.0,
            metavar="PSI",
            help="Exit 6 when any PSI reaches this (0.10 is watch, 0.25 act).",
        ),
    ] = 0.25,
    as_of: AsOfOpt = None,
    lenient: LenientOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    safe_csv: SafeCsvOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """Population drift against the model (PSI); exit 6 on alarm.

    DATA_DIR is scored with the model as of its own date; its score (by band),
    each dimension's points and each feature are compared with the model
    folder's persons: the population stability index of each, with its
    verdict (below 0.10 stable, to 0.25 watch, from 0.25 act). With outcomes
    in DATA_DIR, the AUC and bad rates stand beside the build's. Exit 6 once
    the table is written if any PSI reaches --alarm, naming what drifted.

    \b
    Example:
      trustscore monitor new_month --alarm 0.25 || alert "the population moved"
      trustscore monitor new_month --columns kind,name,psi,verdict
    """
    from trustscore import render
    from trustscore.errors import EXIT_DRIFT
    from trustscore.monitor import alarms
    from trustscore.monitor import monitor as run_monitor

    out = Output(fmt, output, safe_csv=safe_csv, columns=columns)
    with render.phases(_stderr_is_terminal()) as (phase, _):
        folder, scored, prepared = _open_and_score(
            model, data_dir, as_of=as_of, lenient=lenient, phase=phase
        )
        phase("comparing")
        persons = scored.scores.get_column("person_id")
        y = _outcomes(prepared, scored.scores)
        frame = run_monitor(folder, scored.scores, prepared.features.frame, y)
    _notes(prepared.report, prepared.features.notes)
    render.print_note(
        f"{persons.len():,} {prepared.entity.noun}s as of {prepared.as_of.isoformat()} "
        f"against the model's as of {folder.as_of.isoformat()}"
    )
    out.emit(frame, title="drift against the model's population")
    past = alarms(frame, alarm)
    if past.height:
        named = [f"{k} {n} ({p:.2f})" for k, n, p in past.select("kind", "name", "psi").rows()]
        more = f" and {len(named) - 5} more" if len(named) > 5 else ""
        render.print_error(f"drift at or past {alarm:g}: " + ", ".join(named[:5]) + more)
        raise typer.Exit(EXIT_DRIFT)


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main() -> None:
    """The console script: quiet under ``| head``, documented exit codes."""
    if hasattr(signal, "SIGPIPE"):
        # a closed pipe ends us quietly, as a Unix filter should
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # `kill` (SIGTERM) unwinds like an interrupt, so what a command made for itself
    # goes with it: a half-written model folder, a cluster's workers and the
    # partitions spooled for them (gigabytes, in a temporary folder)
    signal.signal(signal.SIGTERM, _terminated)
    if os.environ.get("NO_COLOR") == "":
        os.environ.pop("NO_COLOR")
    app(prog_name="trustscore")
