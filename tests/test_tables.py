"""Tables that fit (DESIGN 5): a table wider than the terminal shows the
columns that fit, from the left and the id always, says how many it left out,
and never wraps one value or header over lines.

Each table is drawn into a fixed-width console and read back as text: the
header and every row split on the three spaces between columns, so a value
broken over lines or run into its neighbour shows up as a wrong count of
cells or a cell that does not match its value."""

from __future__ import annotations

import io
import math
import random
import re
from pathlib import Path

import polars as pl
import pytest
from rich.cells import cell_len
from rich.console import Console

from trustscore import render
from trustscore.errors import UsageError
from trustscore.model_folder import DIMENSION_COLUMNS, SCORE_COLUMNS
from trustscore.safetext import safe_text

WIDTHS = [40, 80, 120, 200]
NULL = "—"
COLUMNS_FOOTER = re.compile(
    r"(?<![\d,])(\d[\d,]*) of (\d[\d,]*) columns shown; (\d[\d,]*) left out: "
)
ROWS_FOOTER = re.compile(r"(?<![\d,])(\d[\d,]*) of (\d[\d,]*) rows shown; (\d[\d,]*) left out ")
FOOTER_START = re.compile(r"^\d[\d,]* (of \d|rows$)")


def draw(frame: pl.DataFrame | render.FrameTable, width: int, **kwargs: object) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system=None)
    if isinstance(frame, render.FrameTable):
        console.print(frame)
    else:
        render.print_frame(frame, console=console, **kwargs)  # type: ignore[arg-type]
    return buf.getvalue()


def cells(line: str) -> list[str]:
    return re.split(r" {3,}", line.strip())


def number(text: str) -> int:
    return int(text.replace(",", ""))


class Drawn:
    """A drawn table read back: header, rows and footer lines (no title)."""

    def __init__(self, out: str) -> None:
        lines = out.splitlines()
        rule = next(i for i, line in enumerate(lines) if line.startswith("─"))
        self.lines = lines
        self.header = cells(lines[rule - 1])
        self.rule = lines[rule].rstrip()
        body = lines[rule + 1 :]
        end = next((i for i, line in enumerate(body) if FOOTER_START.match(line)), len(body))
        self.rows = [cells(line) for line in body[:end]]
        self.footer = " ".join(body[end:])

    def counts(self, pattern: re.Pattern[str]) -> tuple[int, int, int] | None:
        # the footer may wrap on a narrow terminal: read it as one line
        match = pattern.search(re.sub(r"\s+", " ", self.footer))
        if match is None:
            return None
        shown, total, left = (number(g) for g in match.groups())
        return shown, total, left


def natural_width(frame: pl.DataFrame, name: str) -> int:
    """How wide ``name``'s column is drawn on its own, on a very wide console."""
    return len(Drawn(draw(frame, 10_000, columns=[name])).rule)


def check(frame: pl.DataFrame, width: int, max_rows: int = 200) -> Drawn:
    """Every promise of the table format, for ``frame`` drawn ``width`` wide."""
    out = draw(frame, width, max_rows=max_rows)
    for line in out.splitlines():
        assert cell_len(line) <= width, line
    assert not re.search(r"(?<![\w.])-0(\.0+)?(?![\d.,])", out), "a -0 reached the table"
    drawn = Drawn(out)

    # headers whole, in order, the id first, and as many as fit
    shown = len(drawn.header)
    assert drawn.header == [safe_text(n) for n in frame.columns[:shown]]
    if shown < frame.width:
        assert drawn.counts(COLUMNS_FOOTER) == (shown, frame.width, frame.width - shown)
        next_width = natural_width(frame, frame.columns[shown])
        assert len(drawn.rule) + 3 + next_width > width, "a column that fits was left out"
    else:
        assert drawn.counts(COLUMNS_FOOTER) is None

    # every row whole: one cell per column shown, each the value it stands for
    rows = frame.head(max_rows)
    assert len(drawn.rows) == rows.height
    for row, values in zip(drawn.rows, rows.iter_rows(), strict=True):
        assert len(row) == shown, row
        for text, value, dtype in zip(row, values, frame.dtypes, strict=False):
            assert_shows(text, value, dtype)
    if frame.height > max_rows:
        left = frame.height - max_rows
        assert drawn.counts(ROWS_FOOTER) == (max_rows, frame.height, left)
    else:
        assert drawn.counts(ROWS_FOOTER) is None
    return drawn


def assert_shows(text: str, value: object, dtype: pl.DataType) -> None:
    if value is None:
        assert text == NULL
    elif dtype.is_float():
        assert isinstance(value, float)
        decimals = len(text.partition(".")[2])
        assert math.isclose(float(text.replace(",", "")), value, abs_tol=0.5 * 10**-decimals)
    elif dtype.is_integer():
        assert text == str(value)
    else:
        assert text == safe_text(value)


# ------------------------------------------------------------------ the frames


@pytest.fixture(scope="module")
def features(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    from trustscore.config import Config
    from trustscore.pipeline import prepare
    from trustscore.sample import generate

    folder: Path = tmp_path_factory.mktemp("tables")
    generate(folder, persons=300, seed=7)
    frame = prepare(folder, config=Config()).features.frame
    assert frame.width > 30 and frame.columns[0] == "person_id"
    return frame


def score_like(rows: int = 60, seed: int = 3) -> pl.DataFrame:
    """The columns of ``score``, with values of every awkward kind: negative
    zeros and values that round to zero, nulls, wide numbers, wide ids."""
    rng = random.Random(seed)
    ids = [f"P{i:07d}" for i in range(rows)]
    ids[1] = "芝麻信用-P0000001"  # two cells per character
    ids[2] = "[bold]P2[/bold]\x1b[2J"  # text, not markup or a terminal command
    frame = pl.DataFrame(
        {
            "person_id": ids,
            "score": [rng.randint(350, 950) for _ in ids],
            "band": [rng.choice(["poor", "fair", "good", "very good", "excellent"]) for _ in ids],
            "model_score": [rng.uniform(350, 950) for _ in ids],
            "penalty": [rng.choice([0.0, -0.0, 12.5, -1e-9]) for _ in ids],
            "p_bad": [rng.choice([rng.random(), -0.0, None, 1e-7]) for _ in ids],
            "base_points": [612.345678] * rows,
            **{
                d: [rng.choice([rng.uniform(-40, 40), -0.0, -0.0004, None, 1234.5]) for _ in ids]
                for d in DIMENSION_COLUMNS
            },
        }
    )
    assert frame.columns == SCORE_COLUMNS
    return frame


# ------------------------------------------------------------------ fitting


@pytest.mark.parametrize("width", WIDTHS)
def test_features_fit(features: pl.DataFrame, width: int) -> None:
    drawn = check(features, width)
    assert len(drawn.header) < features.width  # 46 columns never fit in 200
    if width >= 80:
        assert len(drawn.header) >= 2
    assert drawn.rows[0][0] == features["person_id"][0]


@pytest.mark.parametrize("width", WIDTHS)
def test_scores_fit(width: int) -> None:
    frame = score_like()
    drawn = check(frame, width)
    if width >= 200:
        assert len(drawn.header) == frame.width  # every column, whole


@pytest.mark.parametrize("width", WIDTHS)
def test_rows_past_the_cap_are_counted(features: pl.DataFrame, width: int) -> None:
    drawn = check(features, width, max_rows=25)
    assert drawn.counts(ROWS_FOOTER) == (25, 300, 275)
    assert "--format csv" in drawn.footer and "-o FILE" in drawn.footer


def test_fewer_rows_than_the_cap_say_nothing_of_rows() -> None:
    out = draw(score_like(rows=5), 200)
    assert "rows" not in out and "left out" not in out


def test_numbers_line_up_and_zero_has_no_sign() -> None:
    frame = pl.DataFrame(
        {
            "person_id": ["a", "b", "c", "d", "e"],
            "points": [-0.0, -1e-12, -0.04, 12.25, None],
            "count": [3.0, -0.0, 0.0, 1200.0, 5.0],
            "rate": [0.5, -0.00001, 0.12346, 1e-9, 0.0],
        }
    )
    drawn = check(frame, 80)
    assert [r[1] for r in drawn.rows] == ["0.00", "0.00", "-0.04", "12.25", NULL]
    assert [r[2] for r in drawn.rows] == ["3", "0", "0", "1,200", "5"]
    assert [r[3] for r in drawn.rows] == ["0.5000", "0.0000", "0.1235", "0.0000", "0.0000"]
    # right-aligned: every number of the last column ends where its header ends
    lines = draw(frame, 80).splitlines()
    assert {len(line.rstrip()) for line in [lines[0], *lines[2:7]]} == {len(lines[1])}


def test_a_table_is_drawn_anew_at_each_width() -> None:
    table = render.frame_table(score_like(), "scores")
    narrow, wide = Drawn(draw(table, 40)), Drawn(draw(table, 200))
    assert len(narrow.header) < len(wide.header) == len(SCORE_COLUMNS)
    assert draw(table, 40).splitlines()[0].strip() == "scores"


# ------------------------------------------------------------------ --columns


@pytest.mark.parametrize("width", WIDTHS)
def test_columns_picks_exactly_those(features: pl.DataFrame, width: int) -> None:
    chosen = ["spend_90d", "person_id", "employment", "on_time_share_365d"]
    drawn = check(features.select(chosen), width)
    picked = Drawn(draw(features, width, columns=chosen))
    assert picked.header == drawn.header == chosen[: len(drawn.header)]
    assert picked.rows == drawn.rows
    if width >= 80:
        assert picked.header == chosen


def test_columns_unknown_name_is_a_usage_error(features: pl.DataFrame) -> None:
    with pytest.raises(UsageError) as caught:
        draw(features, 80, columns=["person_id", "spend_9d"])
    assert "'spend_9d'" in caught.value.message
    assert caught.value.hint is not None
    assert "spend_90d" in caught.value.hint and "spend_30d" in caught.value.hint
    assert caught.value.exit_code == 2

    with pytest.raises(UsageError) as caught:
        draw(features, 80, columns=["zzzzzz"])
    assert caught.value.hint is not None and "person_id" in caught.value.hint

    with pytest.raises(UsageError):
        draw(features, 80, columns=[])


def test_columns_spaces_and_repeats(features: pl.DataFrame) -> None:
    drawn = Drawn(draw(features, 200, columns=["person_id", " employment"]))
    assert drawn.header == ["person_id", "employment"]
    drawn = Drawn(draw(features, 200, columns=["employment", "employment", "person_id"]))
    assert drawn.header == ["employment", "person_id"]


# ------------------------------------------------------------------ the edges


def test_an_id_wider_than_the_terminal_is_cut_with_an_ellipsis() -> None:
    frame = pl.DataFrame({"person_id": ["P" * 500]})
    out = draw(frame, 40)
    lines = out.splitlines()
    assert all(cell_len(line) <= 40 for line in lines)
    assert lines[0].strip() == "person_id"
    assert lines[2] == "P" * 39 + "…"
    assert len(lines) == 3


def test_one_long_text_value_does_not_push_the_other_columns_out() -> None:
    frame = pl.DataFrame(
        {
            "person_id": ["P1", "Q" * 300, "P3"],
            "category": ["home", "C" * 300, "fashion"],
            "score": [600, 610, 620],
        }
    )
    for width in WIDTHS:
        lines = draw(frame, width).splitlines()
        assert all(cell_len(line) <= width for line in lines)
        assert cells(lines[0]) == ["person_id", "category", "score"]
        assert cells(lines[2]) == ["P1", "home", "600"]
        long_row = cells(lines[3])
        assert long_row[0].endswith("…") and long_row[1].endswith("…") and long_row[2] == "610"
        assert set(long_row[0][:-1]) == {"Q"} and set(long_row[1][:-1]) == {"C"}


def test_a_wide_number_is_never_cut() -> None:
    frame = pl.DataFrame({"person_id": ["P1"], "big": [123456789012345678], "x": ["y" * 30]})
    for width in (20, 40, 80):
        out = draw(frame, width)
        assert all(cell_len(line) <= width for line in out.splitlines())
        drawn = Drawn(out)
        if "big" in drawn.header:
            assert drawn.rows[0][1] == "123456789012345678"
        else:
            assert "123" not in out
            assert drawn.counts(COLUMNS_FOOTER) == (1, 3, 2)


def test_an_empty_frame_prints_its_header_and_says_0_rows() -> None:
    frame = pl.DataFrame(schema={"person_id": pl.String, "score": pl.Int64, "p_bad": pl.Float64})
    out = draw(frame, 80)
    lines = out.splitlines()
    assert cells(lines[0]) == ["person_id", "score", "p_bad"]
    assert lines[1].startswith("─")
    assert lines[2:] == ["0 rows"]
    assert draw(pl.DataFrame(), 80).splitlines() == ["0 rows"]


def test_headers_from_the_data_are_text() -> None:
    header = "[bold]nick\x1b[31m"
    frame = pl.DataFrame({"person_id": ["P1"], header: ["x"], "tail": [1]})
    out = draw(frame, 200)
    assert safe_text(header) in out and "\x1b" not in out
    out = draw(frame, len("person_id") + 3 + len(safe_text(header)))
    assert safe_text(header) in out
    assert "2 of 3 columns shown; 1 left out: tail" in " ".join(out.split())
