"""The one place that imports rich: consoles, tables, progress, cards.

Output on a pipe never carries colour or box drawing: the CLI picks csv there,
and these consoles honour NO_COLOR and non-terminals.

Text is text (DESIGN 5): everything handed to rich here is a ``Text`` built by
``as_text``, never a markup string, so an id like ``[link=...]P4[/link]`` or
``[/oops]`` is shown as typed; and ``as_text`` runs ``safetext.safe_text``, so
control and bidi characters are shown as ``\\x1b``-style escapes instead of
acting on the terminal. The public printers take plain text: a caller never
needs to (and cannot) escape or style what it passes in. The consoles made
here also have markup and emoji codes switched off, a second line of defence
for any string that slips through.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import polars as pl
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from trustscore.safetext import safe_text


def stdout_console(width: int | None = None) -> Console:
    return Console(
        file=sys.stdout,
        no_color="NO_COLOR" in os.environ or None,
        highlight=False,
        markup=False,
        emoji=False,
        width=width,
    )


def stderr_console() -> Console:
    return Console(
        file=sys.stderr,
        stderr=True,
        no_color="NO_COLOR" in os.environ or None,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=True,
    )


def as_text(value: object, style: str = "") -> Text:
    """Any value as rich ``Text``: shown as written, never parsed as markup,
    unsafe characters made visible (``safetext.safe_text``). None is empty."""
    return Text(safe_text(value), style=style)


def _labelled(label: str, style: str, message: object) -> Text:
    line = Text(label, style=style)
    line.append_text(as_text(message))
    return line


def _add_row(table: Table, *cells: Text | str) -> None:
    # every row of every table goes through here: a str cell is text, not markup
    table.add_row(*(c if isinstance(c, Text) else as_text(c) for c in cells))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    return str(value)


def frame_table(frame: pl.DataFrame, title: str | None = None, max_rows: int = 200) -> Table:
    """A data frame as a rich table (the ``table`` format), numbers right-aligned.

    Headers, cells and the title are text: no markup, unsafe characters escaped.
    """
    table = Table(
        title=None if title is None else as_text(title),
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )
    for name, dtype in frame.schema.items():
        table.add_column(
            as_text(name), justify="right" if dtype.is_numeric() else "left", overflow="fold"
        )
    for row in frame.head(max_rows).iter_rows():
        _add_row(table, *(_cell(v) for v in row))
    if frame.height > max_rows:
        more = frame.height - max_rows
        table.caption = as_text(f"{more:,} more rows; use --format csv or --output FILE for all")
    return table


def print_frame(frame: pl.DataFrame, title: str | None = None) -> None:
    stdout_console().print(frame_table(frame, title))


def print_error(message: str, hint: str | None = None, console: Console | None = None) -> None:
    """``error: message`` and ``hint: hint`` on stderr. Both are plain text, never
    markup; they may quote the data (file names, columns, values, suggestions)."""
    err = console or stderr_console()
    err.print(_labelled("error: ", "bold red", message))
    if hint:
        err.print(_labelled("hint: ", "dim", hint))


def print_warning(message: str, console: Console | None = None) -> None:
    """``warning: message`` on stderr; the message is plain text, never markup."""
    (console or stderr_console()).print(_labelled("warning: ", "yellow", message))


def print_note(message: str, console: Console | None = None) -> None:
    """``note: message`` on stderr; the message is plain text, never markup."""
    (console or stderr_console()).print(_labelled("note: ", "cyan", message))


def print_traceback(console: Console | None = None) -> None:
    """The exception being handled, as ``traceback`` prints it (``--debug``), each
    line made safe: an exception's message may quote the data."""
    import traceback

    err = console or stderr_console()
    for line in traceback.format_exc().splitlines():
        err.print(as_text(line))


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    """A callback ``(task, done, total)`` that draws progress on stderr, or does nothing."""
    if not enabled:
        yield lambda task, done, total: None
        return
    progress = Progress(
        TextColumn("{task.description:<14}", markup=False),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}", markup=False),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=False,
    )
    tasks: dict[str, Any] = {}

    def update(task: str, done: int, total: int) -> None:
        if task not in tasks:
            tasks[task] = progress.add_task(safe_text(task), total=total)
        progress.update(tasks[task], completed=done, total=total)

    with progress:
        yield update


@contextmanager
def phases(enabled: bool) -> Iterator[tuple[Callable[[str], None], Callable[[int, int], None]]]:
    """Callbacks ``phase(name)`` and ``rounds(done, total)`` drawing progress on stderr.

    Each phase is a line that ticks off when the next starts; training shows
    its boosting rounds. Disabled (not a terminal): both do nothing.
    """
    if not enabled:
        yield (lambda name: None), (lambda done, total: None)
        return
    progress = Progress(
        SpinnerColumn(finished_text=Text("✓", style="green")),
        TextColumn("{task.description:<26}", markup=False),
        BarColumn(bar_width=30),
        TextColumn("{task.fields[counter]}", markup=False),
        TimeElapsedColumn(),
        console=stderr_console(),
    )
    current: list[Any] = []

    def phase(name: str) -> None:
        if current:
            task = current.pop()
            progress.update(task, total=1, completed=1)
        current.append(progress.add_task(safe_text(name), total=None, counter=""))

    def rounds(done: int, total: int) -> None:
        if current:
            progress.update(
                current[0], total=total, completed=done, counter=f"round {done:,}/{total:,}"
            )

    with progress:
        yield phase, rounds
        if current:
            progress.update(current.pop(), total=1, completed=1)


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def build_summary(metrics: dict[str, Any], out: str, console: Console | None = None) -> None:
    """The end of ``build``: holdout metrics beside development, and the score bands."""
    from trustscore.bands import BANDS

    console = console or stdout_console()
    head = Table(
        box=box.SIMPLE_HEAD, show_edge=False, title=Text("model quality"), title_justify="left"
    )
    head.add_column(Text("metric"))
    head.add_column(Text("development"), justify="right")
    head.add_column(Text("holdout"), justify="right")
    dev, hold = metrics["development"], metrics["holdout"]
    for key, label in (
        ("rows", "persons"),
        ("bad_rate", "bad rate"),
        ("auc", "AUC"),
        ("gini", "Gini"),
        ("ks", "KS"),
        ("brier", "Brier score"),
        ("log_loss", "log loss"),
    ):
        _add_row(head, label, _fmt(dev[key]), _fmt(hold[key]))
    bands = Table(box=box.SIMPLE_HEAD, show_edge=False, title=Text("scores"), title_justify="left")
    for name, justify in (
        ("band", "left"),
        ("range", "left"),
        ("persons", "right"),
        ("share", "right"),
        ("bad rate", "right"),
    ):
        bands.add_column(Text(name), justify=justify)  # type: ignore[arg-type]
    total = max(1, sum(b["persons"] for b in metrics["score_bands"]))
    ranges = {b.name: f"{b.low}-{b.high}" for b in BANDS}
    for b in metrics["score_bands"]:
        rate = b["bad_rate"]
        _add_row(
            bands,
            b["band"],
            ranges.get(b["band"], ""),
            f"{b['persons']:,}",
            f"{b['persons'] / total:.1%}",
            "-" if rate is None else f"{rate:.1%}",
        )
    console.print(
        as_text(
            f"model: {out}  (as of {metrics['as_of']}, {metrics['trees']} trees, "
            f"{metrics['features']} features, {metrics['additivity']} additivity)"
        )
    )
    console.print(head)
    console.print(bands)


# ------------------------------------------------------------------ the card

_DIGITS = {
    "0": (" _ ", "| |", "|_|"),
    "1": ("   ", "  |", "  |"),
    "2": (" _ ", " _|", "|_ "),
    "3": (" _ ", " _|", " _|"),
    "4": ("   ", "|_|", "  |"),
    "5": (" _ ", "|_ ", " _|"),
    "6": (" _ ", "|_ ", "|_|"),
    "7": (" _ ", "  |", "  |"),
    "8": (" _ ", "|_|", "|_|"),
    "9": (" _ ", "|_|", " _|"),
}

_BAND_STYLE = {
    "poor": "red",
    "fair": "yellow",
    "good": "green",
    "very good": "green",
    "excellent": "bold green",
}


def big_number(n: int) -> list[str]:
    """A number three lines tall, in the seven-segment style: the score, large."""
    rows = ["", "", ""]
    for ch in str(n):
        for i in range(3):
            rows[i] += _DIGITS[ch][i] + " "
    return [r.rstrip() for r in rows]


def _scale_bar(score: int, low: int, high: int, width: int) -> Text:
    width = max(10, width)
    pos = round((min(max(score, low), high) - low) / (high - low) * (width - 1))
    bar = Text()
    bar.append(f"{low} ", style="dim")
    bar.append("━" * pos, style="cyan")
    bar.append("●", style="bold")
    bar.append("─" * (width - 1 - pos), style="dim")
    bar.append(f" {high}", style="dim")
    return bar


def _signed(points: float) -> str:
    return f"{points:+.1f}"


class CardView:
    """A score card that draws itself at the console's width (reads well at 60-100+).

    Every string of the card (the person's id, reason sentences quoting their
    values, shop ids, notes, the model path) is drawn as text, whatever the
    console's markup setting.
    """

    def __init__(self, card: Any) -> None:
        self.card = card

    def __rich_console__(self, console: Console, options: Any) -> Iterator[Any]:
        from rich.panel import Panel

        c = self.card
        width = min(options.max_width, 100)
        inner = width - 4
        narrow = inner < 76
        parts: list[Any] = []

        parts.append(as_text(c.person_id, style="bold"))
        style = _BAND_STYLE.get(c.band, "")
        for i, line in enumerate(big_number(c.score)):
            t = Text("  " + line, style="bold " + style)
            if i == 1:
                t.append_text(as_text(f"   {c.band}", style=style))
                t.append(f" ({c.band_range[0]}-{c.band_range[1]})", style="dim")
            parts.append(t)
        parts.append(_scale_bar(c.score, c.scale_range[0], c.scale_range[1], inner - 10))
        sums = Text("model score ")
        sums.append(f"{c.model_score:.1f}")
        sums.append(f" - penalty {c.penalty:.1f}")
        if c.clipping:
            sums.append(f" {_signed(c.clipping)} clipped to the scale")
        sums.append(" = ")
        sums.append(str(c.score), style="bold")
        parts.append(sums)
        parts.append(Text(""))

        # dimensions: base + five signed bars = model score
        bar_w = 6 if narrow else 14
        top = max([abs(d.points) for d in c.dimensions] + [1e-9])
        dims = Table.grid(padding=(0, 1), expand=True)
        dims.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        dims.add_column(justify="right", width=bar_w, no_wrap=True)
        dims.add_column(width=1)
        dims.add_column(justify="left", width=bar_w, no_wrap=True)
        dims.add_column(justify="right", width=7, no_wrap=True)
        _add_row(dims, Text("Dimensions", style="bold"), "", "", "", Text("points", style="dim"))
        _add_row(dims, "average person (base)", "", "", "", f"{c.base_points:.1f}")
        for d in c.dimensions:
            n = round(abs(d.points) / top * bar_w)
            neg = Text("█" * n, style="red") if d.points < 0 else Text("")
            pos = Text("█" * n, style="green") if d.points > 0 else Text("")
            _add_row(dims, d.title, neg, "│", pos, _signed(d.points))
        _add_row(dims, Text("model score", style="bold"), "", "", "", f"{c.model_score:.1f}")
        parts.append(dims)

        def reasons(title: str, items: list[Any]) -> None:
            parts.append(Text(""))
            parts.append(Text(title, style="bold"))
            if not items:
                parts.append(Text("  none", style="dim"))
                return
            grid = Table.grid(padding=(0, 1), expand=True)
            if not narrow:
                grid.add_column(no_wrap=True, style="dim")
            grid.add_column(ratio=1)
            grid.add_column(justify="right", width=7, no_wrap=True)
            for r in items:
                cells = [r.sentence, _signed(r.points)]
                _add_row(grid, *([r.code, *cells] if not narrow else cells))
            parts.append(grid)

        reasons("What lowers the score most", c.lowering)
        reasons("What raises it most", c.raising)

        parts.append(Text(""))
        parts.append(Text("Counterfeit-trade penalties", style="bold"))
        if not c.penalties:
            parts.append(Text("  none: no counterfeit-trade events before the as-of date"))
        else:
            grid = Table.grid(padding=(0, 1), expand=True)
            grid.add_column(ratio=1)
            grid.add_column(justify="right", no_wrap=True)
            grid.add_column(justify="right", width=7, no_wrap=True)
            for p in c.penalties:
                what = as_text(p.text)
                shop = f", shop {p.merchant_id})" if p.merchant_id else ")"
                what.append_text(as_text(f" (latest {p.latest}{shop}", style="dim"))
                _add_row(grid, what, f"{p.count}x", f"{-p.points:+.1f}")
            parts.append(grid)

        parts.append(Text(""))
        foot = as_text(f"as of {c.as_of} · model {c.model}", style="dim")
        if c.source != "model folder":
            foot.append_text(as_text(f" · computed from the {c.source}", style="dim"))
        parts.append(foot)
        for note in c.notes:
            parts.append(as_text(f"note: {note}", style="dim"))

        from rich.console import Group

        yield Panel(
            Group(*parts),
            title=Text("trustscore card"),
            title_align="left",
            width=width,
            box=box.ROUNDED,
        )


def print_card(card: Any, console: Console | None = None) -> None:
    (console or stdout_console()).print(CardView(card))
