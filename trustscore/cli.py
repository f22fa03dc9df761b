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
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import polars as pl
import typer

from trustscore import __version__
from trustscore.errors import DataError, TrustscoreError, UsageError
from trustscore.formats import Format, atomic_output, resolve, write_frame

app = typer.Typer(
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
        help="table, csv, json, ndjson, or parquet (with --output). "
        "Default: table on a terminal, csv on a pipe.",
        case_sensitive=False,
        show_default=False,
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write to FILE (atomically) instead of stdout."),
]
SafeCsvOpt = Annotated[
    bool,
    typer.Option(
        "--safe-csv",
        help="Prefix text cells and headers that start with = + - @, tab or CR "
        "(or full-width = + - @) with ' (spreadsheet-safe).",
    ),
]
LenientOpt = Annotated[
    bool,
    typer.Option("--lenient", help="Drop rows that break the contract, count them, go on."),
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
            from trustscore import render

            if _state["debug"]:
                _traceback()
            render.print_error(
                f"unexpected {type(exc).__name__}: {exc}",
                None if _state["debug"] else "run again with --debug for the traceback",
            )
            raise typer.Exit(1) from None

    return wrapper


def emit(
    frame: pl.DataFrame,
    fmt: Format | None,
    output: Path | None,
    *,
    safe_csv: bool = False,
    title: str | None = None,
) -> None:
    """Send a data frame to stdout or ``output`` in the chosen format."""
    chosen = resolve(fmt, output, sys.stdout.isatty())
    if output is not None:
        if chosen is Format.TABLE:
            raise UsageError("--format table is for the terminal; pick csv, json or parquet")
        with atomic_output(output) as fh:
            write_frame(frame, chosen, fh, safe_csv=safe_csv)
        return
    if chosen is Format.TABLE:
        from trustscore import render

        render.print_frame(frame, title)
        return
    write_frame(frame, chosen, sys.stdout.buffer, safe_csv=safe_csv)
    sys.stdout.buffer.flush()


def check_output(output: Path | None) -> None:
    """Refuse an --output the command could not write, before the long work starts."""
    if output is None:
        return
    from trustscore.errors import ResourceError

    parent = output.parent if str(output.parent) else Path(".")
    if output.is_dir():
        raise UsageError(f"--output {output} is a folder", hint="give a file name")
    if not parent.is_dir():
        raise UsageError(f"no folder {str(parent)!r} for the output file", hint="create it first")
    if not os.access(parent, os.W_OK):
        raise ResourceError(
            f"cannot write to {parent}: not writable (read-only or no permission)",
            hint="write the output somewhere else",
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
    persons: Annotated[int, typer.Option("--persons", "-n", min=1, help="Persons.")] = 5000,
    seed: Annotated[int, typer.Option("--seed", min=0, help="Random seed.")] = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite CSVs already in OUT_DIR.")
    ] = False,
    fmt: FormatOpt = None,
) -> None:
    """Write a synthetic platform (four CSVs in the contract) to OUT_DIR.

    The same --persons and --seed give the same bytes.
    """
    from trustscore import render
    from trustscore.sample import generate
    from trustscore.schema import TABLES

    existing = [t.filename for t in TABLES.values() if (out_dir / t.filename).exists()]
    if existing and not force:
        raise UsageError(
            f"{out_dir} already holds {', '.join(existing)}",
            hint="pass --force to overwrite them, or pick another folder",
        )
    with render.progress_bar(_stderr_is_terminal()) as progress:
        rows = generate(out_dir, persons=persons, seed=seed, progress=progress)
    frame = pl.DataFrame(
        {
            "table": list(rows),
            "file": [str(out_dir / f"{name}.csv") for name in rows],
            "rows": list(rows.values()),
        }
    )
    emit(frame, fmt, None, title=f"sample data in {out_dir}")


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
    fmt: FormatOpt = None,
    output: OutputOpt = None,
) -> None:
    """Check a data folder against the contract: tables, row counts, every problem.

    Exit 0 when clean, 3 when not. Problems go to stderr, one line each.
    """
    from trustscore import render
    from trustscore.ingest import Report, read_folder

    check_output(output)
    failure: DataError | None = None
    try:
        _, report = read_folder(data_dir)
    except DataError as exc:
        if not isinstance(exc.report, Report):
            raise
        failure, report = exc, exc.report
    for note in report.notes:
        render.print_note(note)
    frame = pl.DataFrame(
        {
            "table": [t.name for t in report.tables],
            "file": [t.file for t in report.tables],
            "rows": [t.rows for t in report.tables],
            "problems": [report.counts.get(t.file, 0) for t in report.tables],
        },
        schema={"table": pl.String, "file": pl.String, "rows": pl.Int64, "problems": pl.Int64},
    )
    if failure is None or output is None:  # a file is written only for valid data
        emit(frame, fmt, output, title=f"{data_dir}: {'invalid' if failure else 'valid'}")
    if failure is not None:
        _report(failure)
        raise typer.Exit(failure.exit_code)


# ------------------------------------------------------------------ shared options

AsOfOpt = Annotated[
    datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Count only events before this date (default: the day after the latest "
        "transaction in the folder).",
        show_default=False,
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML config (see the README).")
]
ModelOpt = Annotated[Path, typer.Option("--model", "-m", help="The model folder made by build.")]
DEFAULT_MODEL = Path("trustscore-model")


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
    data_dir: Annotated[
        str, typer.Argument(help="The data folder (or - for consumers.csv).", metavar="DATA_DIR")
    ],
    as_of: AsOfOpt = None,
    config: ConfigOpt = None,
    lenient: LenientOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    safe_csv: SafeCsvOpt = False,
) -> None:
    """Compute the per-person feature table: one row per consumer, person_id first.

    Only events strictly before the as-of date count. Counts are 0 for persons
    with no activity; rates, averages and recencies are left empty.
    """
    from trustscore import config as config_mod
    from trustscore import render
    from trustscore.pipeline import prepare

    check_output(output)
    cfg = config_mod.load(config)
    prepared = prepare(data_dir, config=cfg, as_of=_date(as_of), lenient=lenient)
    _notes(prepared.report, prepared.features.notes)
    _warn_protected(prepared.features.protected)
    render.print_note(f"as of {prepared.as_of.isoformat()}")
    emit(prepared.features.frame, fmt, output, safe_csv=safe_csv, title="features")


def _notes(report: Any, features: list[str]) -> None:
    """Rows dropped under --lenient, then notes: the features' own notes, and
    ingest's except where the features say the same of a table in more detail."""
    from trustscore import render

    for (file, rule), n in sorted(report.drops.dropped.items()):
        render.print_warning(f"dropped {n:,} row(s) of {file}: {rule.replace('_', ' ')}")
    said = {note.split(":")[0] for note in features}
    for note in [*(n for n in report.notes if n.split(":")[0] not in said), *features]:
        render.print_note(note)


# ------------------------------------------------------------------ build


@app.command()
@handle_errors
def build(
    data_dir: Annotated[
        str, typer.Argument(help="The data folder to learn from.", metavar="DATA_DIR")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write the model folder.")
    ] = DEFAULT_MODEL,
    as_of: AsOfOpt = None,
    config: ConfigOpt = None,
    seed: Annotated[
        int | None,
        typer.Option("--seed", min=0, max=2**32 - 1, help="Random seed (default: the config's)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing model.")] = False,
    lenient: LenientOpt = False,
    fmt: FormatOpt = None,
) -> None:
    """Learn a trust score from DATA_DIR and write the model folder (default ./trustscore-model).

    validate -> features -> train on the labelled persons -> evaluate on a
    holdout -> score everyone -> write the folder whole (or not at all).
    """
    from trustscore import config as config_mod
    from trustscore import render
    from trustscore.pipeline import build as run_build

    cfg = config_mod.load(config)
    with render.phases(_stderr_is_terminal()) as (phase, rounds):
        result = run_build(
            data_dir,
            out,
            config=cfg,
            as_of=_date(as_of),
            seed=seed,
            force=force,
            lenient=lenient,
            phase=phase,
            rounds=rounds,
        )
    _notes(result.report, [n for n in result.notes if n not in result.report.notes])
    _warn_protected(result.protected)
    chosen = resolve(fmt, None, sys.stdout.isatty())
    if chosen is Format.TABLE:
        render.build_summary(result.metrics, str(out))
    elif chosen is Format.JSON:
        from trustscore.formats import write_json

        write_json({"model": str(out), **result.metrics}, sys.stdout.buffer)
    else:
        emit(_metrics_frame(result.metrics), chosen, None)


def _metrics_frame(metrics: dict[str, Any]) -> pl.DataFrame:
    """The build summary as tidy rows: section, name, value."""
    rows: list[tuple[str, str, float | int | str | None]] = []
    for key in ("as_of", "trees", "features", "persons", "labelled"):
        rows.append(("model", key, metrics[key]))
    for part in ("development", "holdout"):
        m = metrics[part]
        for key in ("rows", "bad_rate", "auc", "gini", "ks", "brier", "log_loss"):
            rows.append((part, key, m[key]))
    for b in metrics["score_bands"]:
        rows.append(("bands", f"{b['band']}.persons", b["persons"]))
        rows.append(("bands", f"{b['band']}.bad_rate", b["bad_rate"]))
    return pl.DataFrame(
        {
            "section": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "value": [None if r[2] is None else str(r[2]) for r in rows],
        }
    )


# ------------------------------------------------------------------ score


@app.command()
@handle_errors
def score(
    data_dir: Annotated[
        str, typer.Argument(help="The data folder to score (or -).", metavar="DATA_DIR")
    ],
    model: ModelOpt = DEFAULT_MODEL,
    as_of: AsOfOpt = None,
    lenient: LenientOpt = False,
    fmt: FormatOpt = None,
    output: OutputOpt = None,
    safe_csv: SafeCsvOpt = False,
) -> None:
    """Score everyone in DATA_DIR with a saved model.

    Columns: person_id, score, band, model_score, penalty, p_bad, base_points,
    then the points of each dimension (base_points + the five = model_score).
    """
    from trustscore import render
    from trustscore.pipeline import SCORE_COLUMNS
    from trustscore.pipeline import score as run_score

    check_output(output)
    with render.phases(_stderr_is_terminal()) as (phase, _):
        scored, prepared = run_score(
            data_dir, model, as_of=_date(as_of), lenient=lenient, phase=phase
        )
    _notes(prepared.report, prepared.features.notes)
    emit(scored.scores.select(SCORE_COLUMNS), fmt, output, safe_csv=safe_csv, title="scores")


class CardFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@app.command()
@handle_errors
def card(
    person_id: Annotated[
        str, typer.Argument(help="The person whose card to show.", metavar="PERSON_ID")
    ],
    model: ModelOpt = DEFAULT_MODEL,
    data: Annotated[
        str | None,
        typer.Option("--data", "-d", help="A data folder holding a person not in the model."),
    ] = None,
    fmt: Annotated[
        CardFormat, typer.Option("--format", "-f", help="table or json.", case_sensitive=False)
    ] = CardFormat.TABLE,
    width: Annotated[
        int | None, typer.Option("--width", min=40, help="Draw the card this wide.")
    ] = None,
) -> None:
    """Show a person's score card: score, band, five dimensions, reasons, penalties.

    The dimensions add up to the model score; counterfeit-trade penalties are
    their own lines. Exit 4 if the person is in neither the model folder nor --data.
    """
    from trustscore.card import load_card

    result = load_card(model, person_id, data)
    if fmt is CardFormat.JSON:
        from trustscore.formats import write_json

        write_json(result.as_dict(), sys.stdout.buffer)
        return
    from trustscore import render

    render.print_card(result, render.stdout_console(width))


def main() -> None:
    """The console script: quiet under ``| head``, documented exit codes."""
    if hasattr(signal, "SIGPIPE"):
        # a closed pipe ends us quietly, as a Unix filter should
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    if os.environ.get("NO_COLOR") == "":
        os.environ.pop("NO_COLOR")
    app(prog_name="trustscore")
