"""Text from the data is text (DESIGN 5, STYLE habit 10): ids, shop ids,
categories, passthrough values and headers are shown as typed, never run as
rich markup, and their control and bidi characters are made visible, in
tables, cards, notes, hints and errors; --safe-csv quotes every text column."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from tests.conftest import FolderMaker
from trustscore import render
from trustscore.card import load_card
from trustscore.cli import app
from trustscore.formats import Format, escape_formulas, write_frame, write_json
from trustscore.safetext import is_unsafe, json_safe, safe_text

runner = CliRunner()
# FORCE_COLOR makes rich treat CliRunner's stdout as a terminal: markup that got
# through would come out as a real hyperlink or colour, not just vanish
TERMINAL = {"FORCE_COLOR": "1", "COLUMNS": "200"}
WIDE = {"COLUMNS": "4000"}

LINK = "[link=http://evil.example]P4[/link]"
OOPS = "[/oops]"
BOLD = "[bold red]x"
CLEAR = "\x1b[2JP5"
BELL = "\x07bell"
RLO = "\u202eP6"
OSC8 = "\x1b]8;;http://evil.example\x07M9\x1b]8;;\x07"
HOSTILE_IDS = [LINK, OOPS, BOLD, CLEAR, BELL, RLO]
NICK = "[bold]nick[/oops]"  # a passthrough column's header: markup, which the contract allows
# a header with control characters: the contract may refuse it (exit 3), but
# whether refused or passed on, it is shown escaped
CONTROL_HEADER = "[bold]nick\x1b[31m\u202e"
SHOP = "[link=http://evil.example]M1[/link]\x1b[2J"
CATEGORY = "[link=http://evil.example]home[/link]"


def shown(text: str) -> str:
    """How ``text`` must appear on a terminal."""
    return safe_text(text)


def assert_inert(out: str) -> None:
    """Nothing in ``out`` acts on a terminal but the colour codes rich writes."""
    assert "\x1b]8;" not in out, "a hyperlink (OSC 8) reached the terminal"
    for bad in ("\x07", "\u202e", "\x9b", "\x7f"):
        assert bad not in out, f"{bad!r} reached the terminal raw"
    # any ESC left must start a colour code (SGR: ESC [ digits ; m), and data
    # never holds those here: the hostile ESCs are clear-screen and OSC
    assert "\x1b" not in plain(out), "a raw ESC reached the terminal"


def plain(out: str) -> str:
    """``out`` without rich's colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", out)


def flat(out: str) -> str:
    """``out`` without colour codes, whitespace and panel sides: text that
    wrapped over lines reads as one piece again."""
    return "".join(plain(out).replace("│", "").split())


def console(width: int = 100) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, force_terminal=True, color_system="truecolor"), buf


# ------------------------------------------------------------------ the one function


def test_safe_text_convention() -> None:
    assert safe_text("P0000001") == "P0000001"
    assert safe_text(None) == ""
    assert safe_text(3.5) == "3.5"
    assert safe_text("\x1b[2J") == "\\x1b[2J"
    assert safe_text("a\x07b\x7fc\x9bd\x00") == "a\\x07b\\x7fc\\x9bd\\x00"
    assert safe_text("line\nbreak\ttab\rcr") == "line\\nbreak\\ttab\\rcr"
    bidi = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    assert safe_text(bidi) == "".join(f"\\u{ord(c):04x}" for c in bidi)
    assert safe_text("\u2028\ufeff\u200b\U000e0041\udcff") == (
        "\\u2028\\ufeff\\u200b\\U000e0041\\udcff"
    )
    # text people write is left as it is: markup characters, CJK, emoji and joiners
    for fine in ("[bold]x[/bold]", "芝麻信用 分", "café", "👩\u200d💻", "a\u00a0b", "C:\\data"):
        assert safe_text(fine) == fine
    every = "".join(chr(c) for c in range(0x110000))
    assert not any(is_unsafe(ch) for ch in safe_text(every))


def test_json_is_escaped_and_parses_back() -> None:
    obj = {"person_id": CLEAR + RLO + "\x7f\x9b\u2028\U000e0041", "name": "芝麻"}
    buf = io.BytesIO()
    write_json(obj, buf)
    text = buf.getvalue().decode()
    assert json.loads(text) == obj
    assert "芝麻" in text  # readable non-ASCII stays as it is
    for raw in ("\x1b", "\u202e", "\x7f", "\x9b", "\u2028", "\U000e0041"):
        assert raw not in text
    assert json_safe('"\udcff"') == '"\\udcff"'
    frame = pl.DataFrame({"id": [CLEAR, RLO]})
    buf = io.BytesIO()
    write_frame(frame, Format.JSON, buf)
    assert "\x1b" not in buf.getvalue().decode() and "\u202e" not in buf.getvalue().decode()
    assert [r["id"] for r in json.loads(buf.getvalue())] == [CLEAR, RLO]


# ------------------------------------------------------------------ render, directly


def test_frame_table_shows_markup_and_controls_as_text() -> None:
    frame = pl.DataFrame(
        {
            "person_id": [*HOSTILE_IDS, OSC8],
            CONTROL_HEADER: [CATEGORY, OOPS, "\x1b[2Jb", "=1+2", BOLD, BELL, RLO],
            "score": [600, 610, 620, 630, 640, 650, 660],
        }
    )
    con, buf = console(width=200)
    con.print(render.frame_table(frame, title=f"{OOPS} {CLEAR}"))
    out = buf.getvalue()
    assert_inert(out)
    for text in [*HOSTILE_IDS, OSC8, CONTROL_HEADER, CATEGORY, "\x1b[2Jb", OOPS + " " + CLEAR]:
        assert shown(text) in out, text


def test_messages_are_plain_text() -> None:
    con, buf = console()
    render.print_error(f"no person {LINK} in m", f"did you mean {CLEAR}, {OOPS}?", console=con)
    render.print_warning(f"column {CONTROL_HEADER} left out {BOLD}", console=con)
    render.print_note(f"{RLO}: {BELL} {OSC8} :warning:", console=con)
    out = buf.getvalue()
    assert_inert(out)
    assert f"no person {LINK} in m" in out
    assert f"did you mean {shown(CLEAR)}, {OOPS}?" in out
    assert f"column {shown(CONTROL_HEADER)} left out {BOLD}" in out
    assert f"{shown(RLO)}: {shown(BELL)} {shown(OSC8)} :warning:" in out  # no emoji codes


def test_traceback_is_text() -> None:
    con, buf = console()
    try:
        raise ValueError(f"no person {CLEAR} {LINK}")
    except ValueError:
        render.print_traceback(console=con)
    out = buf.getvalue()
    assert_inert(out)
    assert f"ValueError: no person {shown(CLEAR)} {LINK}" in out
    assert "Traceback (most recent call last):" in out


def test_the_consoles_never_parse_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    # a plain string printed on render's own consoles is text too
    buf = io.StringIO()
    monkeypatch.setattr("sys.stderr", buf)
    render.stderr_console().print(f"{OOPS} {LINK}")
    assert buf.getvalue() == f"{OOPS} {LINK}\n"


def test_build_summary_is_text() -> None:
    metrics = {
        "as_of": "2026-01-01",
        "trees": 3,
        "features": 2,
        "additivity": "dimension",
        "development": dict.fromkeys(
            ("rows", "bad_rate", "auc", "gini", "ks", "brier", "log_loss"), 1
        ),
        "holdout": dict.fromkeys(("rows", "bad_rate", "auc", "gini", "ks", "brier", "log_loss"), 1),
        "score_bands": [{"band": "good", "persons": 3, "holdout": 0, "holdout_bad_rate": None}],
    }
    con, buf = console()
    render.build_summary(metrics, f"models/{OOPS}{CLEAR}", console=con)
    out = buf.getvalue()
    assert_inert(out)
    assert f"model: models/{OOPS}{shown(CLEAR)}" in out


def test_progress_descriptions_are_text(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setattr("sys.stderr", buf)
    monkeypatch.setenv("FORCE_COLOR", "1")
    with render.phases(True) as (phase, rounds):
        phase(OOPS)
        phase(CLEAR)
        rounds(1, 2)
    with render.progress_bar(True) as update:
        update(LINK, 1, 2)
    out = buf.getvalue()
    assert OOPS in out and shown(CLEAR) in out and "P4[/link]" in out
    assert "\x1b]8;" not in out and "\x1b[2J" not in out


# ------------------------------------------------------------------ a hostile platform


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A small synthetic platform whose ids, shop ids, categories, a header and
    passthrough values are hostile, and a model built from it."""
    from trustscore.sample import generate

    folder = tmp_path_factory.mktemp("hostile")
    generate(folder, persons=300, seed=11)
    read = {
        n: pl.read_csv(folder / f"{n}.csv", infer_schema=False)
        for n in ("consumers", "merchants", "transactions")
    }
    txns, shops = read["transactions"], read["merchants"]
    # the shop that sold the most counterfeits and has an owner: its owner's
    # card has a penalty line naming it
    sold = (
        txns.filter(pl.col("counterfeit") == "true")
        .join(shops.filter(pl.col("owner_id").is_not_null()), on="merchant_id")
        .group_by("merchant_id", "owner_id")
        .len()
        .sort("len", "merchant_id", descending=[True, False])
    )
    shop, owner, _ = sold.row(0)
    defaulted = read["consumers"].filter(pl.col("defaulted") == "1")["person_id"].to_list()
    others = [p for p in defaulted if p != owner][: len(HOSTILE_IDS) - 1]
    persons = dict(zip([owner, *others], HOSTILE_IDS, strict=True))
    shops_map = {shop: SHOP}
    category = txns["category"].drop_nulls().mode().sort()[0]

    def swap(col: str, mapping: dict[str, str]) -> pl.Expr:
        return pl.col(col).replace(mapping)

    consumers = read["consumers"].with_columns(
        swap("person_id", persons),
        # a strong passthrough feature, so its hostile values become reasons (not
        # a perfect one: a tiny leaf of defaulters alone is below min_child_weight)
        pl.when((pl.col("defaulted") == "1") | (pl.int_range(pl.len()) % 3 == 0))
        .then(pl.lit(OOPS + "\x1b[2J"))
        .otherwise(pl.lit(CATEGORY))
        .alias(NICK),
        pl.int_range(pl.len())
        .mod(4)
        .replace_strict([0, 1, 2, 3], ["=1+2", "-5", "gold", "@x"])
        .alias("club"),
    )
    # the hostile persons first, so they are among the rows a table shows
    consumers = consumers.sort(pl.col("person_id").is_in(HOSTILE_IDS), descending=True)
    merchants = shops.with_columns(
        swap("merchant_id", shops_map),
        swap("owner_id", persons),
        swap("category", {category: CATEGORY}),
    )
    transactions = txns.with_columns(
        swap("buyer_id", persons),
        swap("merchant_id", shops_map),
        swap("category", {category: CATEGORY}),
    )
    for name, frame in (
        ("consumers", consumers),
        ("merchants", merchants),
        ("transactions", transactions),
    ):
        frame.write_csv(folder / f"{name}.csv")
    model = tmp_path_factory.mktemp("hostile_model") / "m"
    result = runner.invoke(app, ["build", str(folder), "--out", str(model), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    return {"data": folder, "model": model, "owner": persons[owner], "shop": SHOP}


def test_hostile_data_validates(hostile: dict[str, object]) -> None:
    result = runner.invoke(app, ["validate", str(hostile["data"]), "-f", "table"], env=TERMINAL)
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout + result.stderr)


def test_score_table(hostile: dict[str, object]) -> None:
    data, model = str(hostile["data"]), str(hostile["model"])
    result = runner.invoke(app, ["score", data, "--model", model, "-f", "table"], env=TERMINAL)
    assert result.exit_code == 0, result.stderr
    out = result.stdout + result.stderr
    assert_inert(out)
    # a long id may fold over lines in a narrow column: look for its pieces
    for pid in HOSTILE_IDS:
        assert flat(shown(pid)) in flat(result.stdout), pid


def test_score_csv_is_data(hostile: dict[str, object]) -> None:
    data, model = str(hostile["data"]), str(hostile["model"])
    result = runner.invoke(app, ["score", data, "--model", model, "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    ids = pl.read_csv(result.stdout.encode(), infer_schema=False)["person_id"].to_list()
    assert set(HOSTILE_IDS) <= set(ids)  # the bytes as they were: CSV is data


def test_features_table_and_safe_csv(hostile: dict[str, object]) -> None:
    data = str(hostile["data"])
    # wide enough that no header folds (about 60 columns)
    result = runner.invoke(app, ["features", data, "-f", "table"], env=TERMINAL | WIDE)
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout + result.stderr)
    assert flat(shown(NICK)) in flat(result.stdout)

    result = runner.invoke(app, ["features", data, "-f", "csv", "--safe-csv"])
    assert result.exit_code == 0, result.stderr
    frame = pl.read_csv(result.stdout.encode(), infer_schema=False)
    # passthrough text columns are Enums in the feature table: escaped too
    assert set(frame["club"].to_list()) == {"'=1+2", "'-5", "gold", "'@x"}
    assert "'-5" not in frame["person_id"].to_list()
    numeric = pl.read_csv(result.stdout.encode())
    assert numeric["monthly_income"].dtype.is_numeric()


@pytest.mark.parametrize("pid", HOSTILE_IDS)
def test_card_shows_the_id_as_typed(hostile: dict[str, object], pid: str) -> None:
    model = str(hostile["model"])
    result = runner.invoke(app, ["card", pid, "--model", model, "--width", "100"], env=TERMINAL)
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout + result.stderr)
    assert shown(pid) in result.stdout


def test_card_penalty_lines_and_reasons(hostile: dict[str, object]) -> None:
    model, owner = Path(str(hostile["model"])), str(hostile["owner"])
    card = load_card(model, owner)
    assert any(p.merchant_id == SHOP for p in card.penalties)
    result = runner.invoke(
        app, ["card", owner, "--model", str(model), "--width", "100"], env=TERMINAL
    )
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stdout)
    assert flat(shown(SHOP) + ")") in flat(result.stdout)
    # the passthrough feature quotes its hostile header and value on some card
    for pid in HOSTILE_IDS:
        card = load_card(model, pid)
        sentences = [r.sentence for r in card.lowering + card.raising]
        hit = [s for s in sentences if s.startswith(NICK)]
        if hit:
            result = runner.invoke(
                app, ["card", pid, "--model", str(model), "--width", "100"], env=TERMINAL
            )
            assert flat(shown(hit[0])) in flat(result.stdout)
            assert_inert(result.stdout)
            break
    else:
        pytest.fail("no hostile person's card quotes the passthrough column")


def test_card_json_is_escaped(hostile: dict[str, object]) -> None:
    model, owner = str(hostile["model"]), str(hostile["owner"])
    for pid in (owner, CLEAR, RLO):
        result = runner.invoke(app, ["card", pid, "--model", model, "-f", "json"])
        assert result.exit_code == 0, result.stderr
        assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
        card = json.loads(result.stdout)
        assert card["person_id"] == pid


def test_card_did_you_mean_with_hostile_ids(hostile: dict[str, object]) -> None:
    model = str(hostile["model"])
    for typo, real in ((CLEAR + "x", CLEAR), (LINK + "x", LINK), (RLO + "x", RLO)):
        result = runner.invoke(app, ["card", typo, "--model", model], env=TERMINAL)
        assert result.exit_code == 4, result.stderr
        assert_inert(result.stdout + result.stderr)
        assert f"no person {shown(typo)} in {model}" in result.stderr
        assert "did you mean" in result.stderr and shown(real) in result.stderr
    result = runner.invoke(app, ["card", OOPS + "x", "--model", model])
    assert result.exit_code == 4
    assert OOPS in result.stderr


def test_card_from_data_folder_unknown(hostile: dict[str, object]) -> None:
    model, data = str(hostile["model"]), str(hostile["data"])
    result = runner.invoke(
        app, ["card", CLEAR + "y", "--model", model, "--data", data], env=TERMINAL
    )
    assert result.exit_code == 4, result.stderr
    assert_inert(result.stderr)
    assert shown(CLEAR + "y") in result.stderr


# ------------------------------------------------------------------ invalid data


def test_validate_error_lines_are_text(make_folder: FolderMaker) -> None:
    consumers = (
        f"person_id,signup_date,{NICK}\n"
        f"{LINK},2024-01-01,a\n"
        f"{LINK},{CLEAR},b\n"
        f'"{OOPS}",[bold]2024{RLO},{BELL}\n'
    )
    folder = make_folder(consumers=consumers, merchants=None, transactions=None, logistics=None)
    result = runner.invoke(app, ["validate", str(folder), "-f", "table"], env=TERMINAL)
    assert result.exit_code == 3, result.stderr
    err = result.stderr
    assert_inert(result.stdout + err)
    assert err.count("error: ") >= 3
    assert LINK in err  # the duplicate id, as typed
    assert shown(CLEAR) in err and shown(RLO) in err


@pytest.mark.parametrize("header", [NICK, CONTROL_HEADER])
def test_hostile_duplicate_header_is_text(make_folder: FolderMaker, header: str) -> None:
    consumers = f"person_id,{header},{header}\nP1,a,b\n"
    folder = make_folder(consumers=consumers, merchants=None, transactions=None, logistics=None)
    result = runner.invoke(app, ["validate", str(folder)], env=TERMINAL)
    assert result.exit_code == 3, result.stderr
    assert_inert(result.stderr)
    assert shown(header) in result.stderr


def test_control_characters_in_a_header(make_folder: FolderMaker) -> None:
    from tests.conftest import MERCHANTS

    merchants = MERCHANTS.replace("verified\n", f"verified,{CONTROL_HEADER}\n")
    merchants = merchants.replace("true\n", "true,1\n").replace("false\n", "false,2\n")
    folder = make_folder(merchants=merchants)
    for command in ("validate", "features"):
        result = runner.invoke(app, [command, str(folder), "-f", "csv"], env=TERMINAL)
        assert result.exit_code in (0, 3), result.stderr  # passed on with a note, or refused
        assert_inert(result.stderr)
        assert shown(CONTROL_HEADER) in result.stderr


def test_hostile_header_in_notes(make_folder: FolderMaker) -> None:
    from tests.conftest import MERCHANTS

    merchants = MERCHANTS.replace("verified\n", f"verified,{NICK}\n")
    merchants = merchants.replace("true\n", "true,1\n").replace("false\n", "false,2\n")
    folder = make_folder(merchants=merchants)
    result = runner.invoke(app, ["features", str(folder), "-f", "csv"], env=TERMINAL)
    assert result.exit_code == 0, result.stderr
    assert_inert(result.stderr)
    assert shown(NICK) in result.stderr


def test_missing_data_folder_name_is_text(tmp_path: Path) -> None:
    folder = tmp_path / f"{OOPS}{CLEAR}"
    result = runner.invoke(app, ["validate", str(folder)], env=TERMINAL)
    assert result.exit_code in (2, 3), result.stderr
    assert_inert(result.stderr)
    assert OOPS in result.stderr


# ------------------------------------------------------------------ --safe-csv


def test_escape_formulas_covers_every_text_column() -> None:
    values = ["=1+2", "-5", "+1", "@a", "\tx", "\rx", "ok", None, "a=b", "\uff1d1"]
    levels = [v for v in values if v is not None]
    frame = pl.DataFrame(
        {
            "s": values,
            "n": [-5, -1, 0, 1, 2, 3, 4, 5, 6, 7],
            "x": [-5.5] * 10,
            "l": [["=a", "b"]] * 10,
            "st": [{"t": "-1", "k": -1}] * 10,
            "=h": ["x"] * 10,
        }
    ).with_columns(
        e=pl.col("s").cast(pl.Enum(levels)),
        c=pl.col("s").cast(pl.Categorical),
    )
    out = escape_formulas(frame)
    expected = ["'=1+2", "'-5", "'+1", "'@a", "'\tx", "'\rx", "ok", None, "a=b", "'\uff1d1"]
    assert out["s"].to_list() == expected
    assert out["e"].to_list() == expected and out["c"].to_list() == expected
    assert out["n"].to_list() == frame["n"].to_list()
    assert out["x"].to_list() == [-5.5] * 10
    assert out["l"][0].to_list() == ["'=a", "b"]
    assert out["st"][0] == {"t": "'-1", "k": -1}
    assert "'=h" in out.columns and "=h" not in out.columns
    buf = io.BytesIO()
    write_frame(frame.drop("l", "st"), Format.CSV, buf, safe_csv=True)
    assert b"'=1+2" in buf.getvalue() and b"\n=" not in buf.getvalue()
    assert buf.getvalue().startswith(b"s,n,x,'=h,e,c\n")
