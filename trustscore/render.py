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

import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import polars as pl
from rich import box
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
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


# ------------------------------------------------------------------ tables

# The table format draws a frame at the width of the terminal (DESIGN 5): the
# columns that fit, kept from the left, each value whole on one line, and a
# footer that says what was left out and how to see it (as csvlook and
# sqlite-utils do). Squeezing every column in instead turns 46 features into a
# column of letters per value.

_GAP = 3  # between two columns of the SIMPLE_HEAD box: padding, divider, padding
_NULL = "—"  # a missing value, in every column alike
_ALL_ROWS = "all with --format csv or -o FILE"
_ALL_COLUMNS = "all with --format csv, some with --columns a,b"


def _decimals(values: list[Any]) -> int:
    """The decimals of a whole float column, so its points line up: none for
    whole numbers, else about four significant digits of its largest value
    that is not whole."""
    finite = [abs(v) for v in values if v is not None and math.isfinite(v)]
    fractional = [v for v in finite if not v.is_integer()]
    if not fractional:
        return 0

    # whole values (a count of 714 beside an AUC of 0.794) do not decide: the AUC
    # keeps its digits
    top = max(fractional)
    return 4 if top < 1 else max(0, 4 - len(str(int(top))))


def _number(value: Any, decimals: int | None) -> str:
    exact = decimals is None or not math.isfinite(value)  # ints, decimals, nan, inf
    text = str(value) if exact else f"{value:,.{decimals}f}"
    # a value that rounds to zero is 0, never -0 (Polars and NumPy make -0.0)
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


@dataclass
class _Column:
    """One column as it is shown: header and cells as text, and their widths."""

    header: Text
    cells: list[Text]
    numeric: bool
    lengths: list[int]  # of the cells, in terminal cells (CJK and emoji count 2)

    @classmethod
    def of(cls, name: str, values: pl.Series) -> _Column:
        numeric = values.dtype.is_numeric()
        items = values.to_list()
        decimals = _decimals(items) if values.dtype.is_float() else None

        def cell(value: Any) -> Text:
            if value is None:
                return Text(_NULL, style="dim")
            return Text(_number(value, decimals)) if numeric else as_text(value)

        cells = [cell(v) for v in items]
        return cls(as_text(name), cells, numeric, [c.cell_len for c in cells])

    @property
    def full(self) -> int:
        """The width that shows the header and every cell whole."""
        return max([self.header.cell_len, 1, *self.lengths])

    def width(self, screen: int) -> int:
        """The width this column asks for on a terminal ``screen`` cells wide:
        text values wider than the terminal itself can never be shown whole, so
        they do not widen the column and are cut with an ellipsis instead.
        Numbers always count."""
        shown = self.lengths if self.numeric else [n for n in self.lengths if n <= screen]
        return max([self.header.cell_len, 1, *shown])


class FrameTable:
    """A data frame as a table that fits the console it is drawn on (the
    ``table`` format, DESIGN 5).

    Columns are kept from the left while they fit, the first (the id) always;
    the rest, and the rows past ``max_rows``, are counted in a footer that says
    how to see them all. No value or header is wrapped or folded over lines:
    numbers are right-aligned and never cut, each float column with one number
    of decimals, and only a text value wider than the terminal itself (a very
    long id or category) is cut, with an ellipsis. A missing value is a dim
    ``—``. Headers, cells, title and footer are text: no markup, unsafe
    characters escaped.
    """

    def __init__(self, frame: pl.DataFrame, title: str | None = None, max_rows: int = 200):
        shown = frame.head(max(0, max_rows))
        self.title = title
        self.names = frame.columns
        self.rows = frame.height
        self.shown_rows = shown.height
        self._shown = shown
        self._columns: dict[int, _Column] = {}  # drawn as needed: most of a wide frame is not

    def _column(self, index: int) -> _Column:
        if index not in self._columns:
            name = self.names[index]
            self._columns[index] = _Column.of(name, self._shown.get_column(name))
        return self._columns[index]

    def _widths(self, screen: int) -> list[int]:
        """The widths of the columns shown on ``screen`` cells: a prefix of the
        columns, never empty when there are columns."""
        widths: list[int] = []
        used = -_GAP
        for index in range(len(self.names)):
            width = self._column(index).width(screen)
            if widths and used + _GAP + width > screen:
                break
            widths.append(min(width, screen))
            used += _GAP + widths[-1]
        # room to spare goes to columns with values cut short, from the left
        spare = screen - used
        for i in range(len(widths)):
            grow = max(0, min(spare, self._column(i).full - widths[i]))
            widths[i] += grow
            spare -= grow
        return widths

    def _footer(self, shown_columns: int, screen: int) -> list[Text]:
        lines: list[str] = []
        if self.rows == 0:
            lines.append("0 rows")
        elif self.shown_rows < self.rows:
            left = self.rows - self.shown_rows
            lines.append(
                f"{self.shown_rows:,} of {self.rows:,} rows shown; {left:,} left out — {_ALL_ROWS}"
            )
        total = len(self.names)
        if shown_columns < total:
            out = [safe_text(n) for n in self.names[shown_columns:]]

            def line(named: int) -> str:
                rest = len(out) - named
                listing = ", ".join(out[:named]) + (f" and {rest:,} more" if rest else "")
                return (
                    f"{shown_columns:,} of {total:,} columns shown; "
                    f"{len(out):,} left out: {listing} — {_ALL_COLUMNS}"
                )

            # name the first ones left out, as many as keep the line on one line
            named = 1
            while named < len(out) and cell_len(line(named + 1)) <= screen:
                named += 1
            lines.append(line(named))
        return [Text(line, style="dim") for line in lines]

    def fit(self, screen: int) -> tuple[Table, list[Text]]:
        """The table for a terminal ``screen`` cells wide, and its footer lines."""
        screen = max(1, screen)
        widths = self._widths(screen)
        table = Table(
            title=None if self.title is None else as_text(self.title),
            box=box.SIMPLE_HEAD,
            show_edge=False,
            pad_edge=False,
        )
        kept = [self._column(i) for i in range(len(widths))]
        for column, width in zip(kept, widths, strict=True):
            table.add_column(
                column.header,
                justify="right" if column.numeric else "left",
                width=width,
                no_wrap=True,
                overflow="ellipsis",  # reached only by text wider than the terminal
            )
        for row in zip(*(column.cells for column in kept), strict=True):
            table.add_row(*row)
        return table, self._footer(len(kept), screen)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        table, footer = self.fit(options.max_width)
        if table.columns:
            yield table
        elif self.title is not None:
            yield as_text(self.title)
        yield from footer


def frame_table(
    frame: pl.DataFrame,
    title: str | None = None,
    max_rows: int = 200,
    *,
    columns: list[str] | None = None,
) -> FrameTable:
    """A data frame as a table that fits any console it is printed on (see
    ``FrameTable``); ``columns`` picks and orders the columns first."""
    from trustscore.formats import select_columns

    return FrameTable(select_columns(frame, columns), title, max_rows)


def print_frame(
    frame: pl.DataFrame,
    title: str | None = None,
    *,
    columns: list[str] | None = None,
    max_rows: int = 200,
    console: Console | None = None,
) -> None:
    """The ``table`` format: ``frame`` on stdout (or ``console``) at its width."""
    (console or stdout_console()).print(frame_table(frame, title, max_rows, columns=columns))


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
    many = "shops" if metrics.get("entity") == "merchant" else "persons"
    for key, label in (
        ("rows", many),
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
        (many, "right"),
        ("share", "right"),
        ("in holdout", "right"),
        ("holdout bad rate", "right"),
    ):
        bands.add_column(Text(name), justify=justify)  # type: ignore[arg-type]
    total = max(1, sum(b["persons"] for b in metrics["score_bands"]))
    ranges = {b.name: f"{b.low}-{b.high}" for b in BANDS}
    for b in metrics["score_bands"]:
        rate = b["holdout_bad_rate"]
        _add_row(
            bands,
            b["band"],
            ranges.get(b["band"], ""),
            f"{b['persons']:,}",
            f"{b['persons'] / total:.1%}",
            f"{b['holdout']:,}",
            "-" if rate is None else f"{rate:.1%}",
        )
    console.print(
        as_text(
            f"model: {out}  (as of {metrics['as_of']}, {metrics['trees']} trees, "
            f"{metrics['features']} features, {metrics['additivity']} additivity)"
        )
    )
    outcome = metrics.get("outcome", {})
    if outcome.get("source") == "records":
        console.print(
            as_text(
                f"outcome: derived from repayment records, bills due {outcome['bills_due_from']} "
                f"to {outcome['bills_due_before']} (exclusive), 30+ days late = bad; "
                f"learned from features as of {outcome['observation_date']}"
            )
        )
    if outcome:
        console.print(
            as_text(
                f"labelled: {outcome['good']:,} good, {outcome['bad']:,} bad, "
                f"{outcome['unlabelled']:,} unlabelled (scored, not learned from)"
            )
        )
    console.print(head)
    console.print(bands)
    for w in metrics.get("warnings", []):
        console.print(as_text(f"warning: {w['text']}"))


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

_MINUS = "\u2212"  # the operator in "model score - penalty", apart from a negative sign


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
    """A dimension's points, signed, one decimal; what rounds to zero is "0.0",
    whichever side of zero it lies (never "-0.0")."""
    text = f"{points:+,.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def _moved(points: float) -> str:
    """A reason's or a penalty's points, signed: one decimal, or two where one
    would read zero, so what moved the score never reads as nothing."""
    text = _signed(points)
    if text != "0.0" or points == 0:
        return text
    text = f"{points:+.2f}"
    return text if text not in ("+0.00", "-0.00") else f"{text[0]}<0.01"


def _amount(value: float) -> str:
    """Points without sign, whole where they are whole: 300, 1,590, 149.5."""
    return f"{value:,.1f}".removesuffix(".0")


def _sums(c: Any) -> Text:
    """model score - penalty = score, saying so when the scale's ends moved it."""
    line = Text(f"model score {c.model_score:.1f} {_MINUS} penalty {c.penalty:.1f} = ")
    if c.clipping:
        end = "raised to the scale's floor" if c.clipping > 0 else "lowered to the scale's ceiling"
        line.append(f"{c.model_score - c.penalty:.1f}, {end} ")
    line.append(str(c.score), style="bold")
    return line


CARD_MIN_WIDTH = 40


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
        # narrower than CARD_MIN_WIDTH a card is no card: drawn at that width, let wrap
        width = min(max(options.max_width, CARD_MIN_WIDTH), 100)
        options = options.update_width(width)
        inner = width - 4
        narrow = inner < 76
        parts: list[Any] = []

        head = as_text(c.person_id, style="bold")
        if c.entity.noun != "person":
            head.append(f"  {c.entity.noun}", style="dim")
        parts.append(head)
        style = _BAND_STYLE.get(c.band, "")
        for i, line in enumerate(big_number(c.score)):
            t = Text("  " + line, style="bold " + style)
            if i == 1:
                t.append_text(as_text(f"   {c.band}", style=style))
                t.append(f" ({c.band_range[0]}-{c.band_range[1]})", style="dim")
            parts.append(t)
        parts.append(_scale_bar(c.score, c.scale_range[0], c.scale_range[1], inner - 10))
        parts.append(_sums(c))
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
        _add_row(dims, f"average {c.entity.noun} (base)", "", "", "", f"{c.base_points:.1f}")
        for d in c.dimensions:
            shown = _signed(d.points)
            n = 0 if shown == "0.0" else round(abs(d.points) / top * bar_w)
            neg = Text("█" * n, style="red") if d.points < 0 else Text("")
            pos = Text("█" * n, style="green") if d.points > 0 else Text("")
            _add_row(dims, d.title, neg, "│", pos, shown)
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
            grid.add_column(justify="right", min_width=7, no_wrap=True)
            for r in items:
                cells = [r.sentence, _moved(r.points)]
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
            grid.add_column(justify="right", min_width=7, no_wrap=True)
            for p in c.penalties:
                what = as_text(p.text)
                # a shop's own card: no need to name it
                own = c.entity.noun == "shop" and p.merchant_id == c.person_id
                shop = f", shop {p.merchant_id})" if p.merchant_id and not own else ")"
                what.append_text(as_text(f" (latest {p.latest}{shop}", style="dim"))
                _add_row(grid, what, f"{p.count:,}x", _moved(-p.points))
            total = getattr(c, "penalty_points", 0.0) or sum(p.points for p in c.penalties)
            if round(total, 2) > c.penalty:  # the lines add up to more than was taken off
                capped = f"capped at {_amount(c.penalty)}: total of the events {_amount(total)}"
                _add_row(grid, Text(capped, style="bold"), "", _moved(-c.penalty))
            parts.append(grid)

        parts.append(Text(""))
        foot = as_text(f"as of {c.as_of} · model {c.model}", style="dim")
        if c.source != "model folder":
            foot.append_text(as_text(f" · computed from the {c.source}", style="dim"))
        parts.append(foot)
        for note in c.notes:
            parts.append(as_text(f"note: {note}", style="dim"))

        from rich.console import Group

        panel = Panel(
            Group(*parts),
            title=Text("trustscore card"),
            title_align="left",
            width=width,
            box=box.ROUNDED,
        )
        # rendered at the card's own width even on a terminal narrower than it
        yield from console.render(panel, options)


def print_card(card: Any, console: Console | None = None) -> None:
    # never cropped: on a terminal narrower than the card, the terminal wraps it
    (console or stdout_console()).print(CardView(card), crop=False)


def print_cards(cards: Iterable[Any], console: Console | None = None) -> None:
    """Cards one after another (``card`` with several ids), each drawn as it comes."""
    console = console or stdout_console()
    for card in cards:
        console.print(CardView(card), crop=False)


# ------------------------------------------------------------------ decisions

_DECISION_STYLE = {"approve": "bold green", "refer": "bold yellow", "decline": "bold red"}


@dataclass
class DecisionPanel:
    """One person's decisions, as ``decide ID`` draws them.

    ``rows``: the person's rows of decide.decide (one per product);
    ``rules``: per product, rule code -> the rule's sentence;
    ``reasons``: the card's lowering reasons (code, sentence, points), of which
    a decline or a refer shows those its row names.
    """

    person_id: str
    score: int
    band: str
    as_of: str
    rows: list[dict[str, Any]]
    rules: dict[str, dict[str, str]]
    reasons: list[Any]
    policy: str
    policy_sha256: str
    model_sha256: str
    kinds: dict[str, str]


def _decision_grid(narrow: bool, code_width: int) -> Table:
    """Rows of a decision: indent, code (one width for the failed rules and the
    reasons, so their sentences line up; none when narrow), sentence, points."""
    t = Table.grid(padding=(0, 1), expand=True)
    t.add_column(width=1)
    if not narrow:
        t.add_column(no_wrap=True, style="dim", min_width=code_width)
    t.add_column(ratio=1)
    t.add_column(justify="right", min_width=7, no_wrap=True)
    return t


class DecisionView:
    def __init__(self, panel: DecisionPanel) -> None:
        self.panel = panel

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.console import Group
        from rich.panel import Panel

        p = self.panel
        width = min(max(options.max_width, CARD_MIN_WIDTH), 100)
        options = options.update_width(width)
        narrow = width - 4 < 76
        parts: list[Any] = [as_text(p.person_id, style="bold")]
        style = _BAND_STYLE.get(p.band, "")
        head = Text("score ")
        head.append(f"{p.score}", style="bold " + style)
        head.append_text(as_text(f" {p.band}", style=style))
        head.append(f" · as of {p.as_of}", style="dim")
        parts.append(head)
        reasons = {r.code: r for r in p.reasons}
        for row in p.rows:
            product = str(row["product"])
            decision = str(row["decision"])
            parts.append(Text(""))
            line = as_text(product, style="bold")
            line.append("  ")
            line.append(decision.upper(), style=_DECISION_STYLE.get(decision, ""))
            if row.get("limit") is not None:
                offered = "limit" if decision == "approve" else "limit if approved"
                line.append(f"  {offered} {row['limit']:,}")
            if row.get("deposit_waived") is not None:
                line.append_text(as_text(f"  deposit waived: {row['deposit_waived']}"))
            parts.append(line)
            failed = [c for c in str(row.get("failed_rules") or "").split(";") if c]
            named = [row.get(f"reason_{i}") for i in range(1, 5)]
            why = [reasons[str(c)] for c in named if c is not None and str(c) in reasons]

            code_width = max([len(c) for c in failed] + [len(r.code) for r in why] + [1])
            # codes over 40% of the width (a passthrough column's long name) would
            # squeeze the words: then the words alone, as on a narrow terminal (the
            # codes are in the rows, --format csv)
            narrow = narrow or code_width > 0.4 * (width - 4)

            if failed:
                parts.append(Text("  Rules failed", style="dim"))
                rules = _decision_grid(narrow, code_width)
                for code in failed:
                    sentence = as_text(p.rules.get(product, {}).get(code, code))
                    cells: list[Text | str] = ["", code, sentence, ""]
                    _add_row(rules, *(cells if not narrow else ["", sentence, ""]))
                parts.append(rules)
            elif decision == "approve":
                parts.append(Text("  every rule passed", style="dim"))
            if decision == "refer" and not failed:
                parts.append(
                    Text("  the score is in the refer zone: sent to a person", style="dim")
                )
            if decision != "approve" and why:
                parts.append(Text("  What lowers the score most", style="dim"))
                lowering = _decision_grid(narrow, code_width)
                for r in why:
                    said: list[Text | str] = [as_text(r.sentence), _moved(r.points)]
                    _add_row(lowering, *(["", r.code, *said] if not narrow else ["", *said]))
                parts.append(lowering)
        parts.append(Text(""))
        parts.append(
            as_text(
                f"policy {p.policy} ({p.policy_sha256[:12]}) · model {p.model_sha256[:12]}",
                style="dim",
            )
        )
        panel = Panel(
            Group(*parts),
            title=Text("trustscore decision"),
            title_align="left",
            width=width,
            box=box.ROUNDED,
        )
        yield from console.render(panel, options)


def print_decisions(panels: Iterable[DecisionPanel], console: Console | None = None) -> None:
    """``decide ID``: a panel per person, each drawn as it comes."""
    console = console or stdout_console()
    for panel in panels:
        console.print(DecisionView(panel), crop=False)


def print_policy(frame: pl.DataFrame, title: str, console: Console | None = None) -> None:
    """``decide --explain-policy`` on a terminal: each product, then its rules
    (code, sentence, where the policy sets it), sentences wrapped to fit."""
    console = console or stdout_console()
    console.print(as_text(title, style="bold"))
    for (product, kind), rules in frame.group_by(["product", "kind"], maintain_order=True):
        console.print()
        head = as_text(str(product), style="bold")
        head.append_text(as_text(f" ({kind})", style="dim"))
        console.print(head)
        grid = Table.grid(padding=(0, 2))
        grid.add_column(width=1)
        grid.add_column(no_wrap=True)
        grid.add_column(ratio=1)
        for row in rules.iter_rows(named=True):
            sentence = as_text(row["sentence"])
            sentence.append("\n")
            sentence.append_text(as_text(str(row["key"]), style="dim"))
            _add_row(grid, "", as_text(row["code"]), sentence)
        console.print(grid)


def print_report(report: Any, console: Console | None = None) -> None:
    """``report --format table``: the report's tables, importance with bars."""
    console = console or stdout_console()
    metrics = Table(
        title=Text("holdout performance (bootstrap 95%)"), box=box.SIMPLE_HEAD, title_justify="left"
    )
    for name in ("measure", "value", "low", "high"):
        metrics.add_column(name, justify="left" if name == "measure" else "right")

    def shown(value: Any, whole: bool) -> str:
        if value is None:
            return _NULL
        return f"{value:,.0f}" if whole else f"{value:.4f}"

    for name, value, low, high in report.metrics.iter_rows():
        whole = name == "holdout persons"
        metrics.add_row(as_text(name), shown(value, whole), shown(low, whole), shown(high, whole))
    console.print(metrics)
    if report.calibration_bands is not None:
        print_frame(report.calibration_bands, "calibration by band", console=console)
    print_frame(report.distribution, "persons by band", console=console)
    for title, frame, name in (
        ("importance of the dimensions (mean |points|)", report.dimensions, "dimension"),
        ("the ten strongest features (mean |points|)", report.features.head(10), "feature"),
    ):
        values = frame.get_column("mean_abs_points").to_list()
        top = max([*values, 1e-9])
        table = Table(title=as_text(title), box=box.SIMPLE_HEAD, title_justify="left")
        table.add_column(name)
        table.add_column("points", justify="right")
        table.add_column("", no_wrap=True)
        for label, value in zip(frame.get_column(name).to_list(), values, strict=True):
            bar = Text("█" * max(1, round(value / top * 24)), style="cyan")
            table.add_row(as_text(label), f"{value:.1f}", bar)
        console.print(table)
    for extra, title in (
        (report.strategy, "strategy (holdout)"),
        (report.drift, "drift against the model's population"),
        (report.fairness, "fairness by group"),
    ):
        if extra is not None:
            print_frame(extra, title, console=console)
