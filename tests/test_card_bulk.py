"""Cards in bulk through the real CLI: several ids or - (stdin), every format,
--output by suffix, unknown and hostile ids, and bulk cards equal single cards."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from typer.testing import CliRunner

from trustscore.card import CARD_JSON_SCHEMA, CSV_COLUMNS
from trustscore.cli import app
from trustscore.safetext import safe_text

runner = CliRunner()

# the csv's columns as the README documents them: a change to either is a choice
DOCUMENTED_CSV = [
    *("person_id", "score", "band", "model_score", "penalty", "p_bad", "base_points"),
    *("credit_history", "behaviour", "capacity", "identity", "connections"),
    *("lowering_1", "lowering_2", "lowering_3", "lowering_4"),
    *("raising_1", "raising_2", "raising_3", "penalty_points", "as_of"),
]

LINK = "[link=http://x]P1[/link]"
CLEAR = "\x1b[2J"


@pytest.fixture(scope="module")
def ids(model_dir: Path) -> list[str]:
    """Five persons of the model: two with counterfeit-trade penalties, three without."""
    scores = pl.read_parquet(model_dir / "scores.parquet")
    with_penalty = scores.filter(pl.col("penalty") > 0)["person_id"].head(2).to_list()
    without = scores.filter(pl.col("penalty") == 0)["person_id"].head(3).to_list()
    return [without[0], with_penalty[0], without[1], with_penalty[1], without[2]]


def card(model: Path, *args: str, input: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, ["card", *args, "--model", str(model)], input=input)
    return result.exit_code, result.stdout, result.stderr


def single_json(model: Path, pid: str) -> dict[str, object]:
    code, out, err = card(model, pid, "-f", "json")
    assert code == 0, err
    parsed: dict[str, object] = json.loads(out)
    return parsed


# ------------------------------------------------------------------ ids and formats


def test_ndjson_one_card_a_line_equal_to_the_single_card(model_dir: Path, ids: list[str]) -> None:
    code, out, err = card(model_dir, *ids, "-f", "ndjson")
    assert code == 0, err
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == len(ids)
    for pid, line in zip(ids, lines, strict=True):
        got = json.loads(line)
        jsonschema.validate(got, CARD_JSON_SCHEMA)
        assert got == single_json(model_dir, pid)


def test_json_is_one_array_of_the_single_cards(model_dir: Path, ids: list[str]) -> None:
    code, out, err = card(model_dir, *ids, "-f", "json")
    assert code == 0, err
    cards = json.loads(out)
    assert isinstance(cards, list)
    assert [c["person_id"] for c in cards] == ids
    assert cards == [single_json(model_dir, pid) for pid in ids]


def test_one_id_as_json_is_one_object_and_dash_is_always_an_array(
    model_dir: Path, ids: list[str]
) -> None:
    assert isinstance(single_json(model_dir, ids[0]), dict)
    code, out, err = card(model_dir, "-", "-f", "json", input=ids[0] + "\n")
    assert code == 0, err
    assert json.loads(out) == [single_json(model_dir, ids[0])]


def test_ids_on_stdin_blank_lines_skipped_order_and_repeats_kept(
    model_dir: Path, ids: list[str]
) -> None:
    text = f"{ids[0]}\n\n   \n{ids[1]}\r\n{ids[0]}\n{ids[2]}"  # CRLF, blanks, no final newline
    code, out, err = card(model_dir, "-", "-f", "ndjson", input=text)
    assert code == 0, err
    assert [json.loads(line)["person_id"] for line in out.splitlines()] == [
        ids[0],
        ids[1],
        ids[0],
        ids[2],
    ]


def test_ids_from_arguments_and_stdin_together(model_dir: Path, ids: list[str]) -> None:
    code, out, err = card(model_dir, ids[0], "-", ids[3], "-f", "csv", input=f"{ids[1]}\n")
    assert code == 0, err
    assert pl.read_csv(io.StringIO(out))["person_id"].to_list() == [ids[0], ids[1], ids[3]]


def test_csv_columns_exactly_as_documented(model_dir: Path, ids: list[str]) -> None:
    assert CSV_COLUMNS == DOCUMENTED_CSV
    code, out, err = card(model_dir, *ids, "-f", "csv")
    assert code == 0, err
    assert out.splitlines()[0].split(",") == DOCUMENTED_CSV
    rows = pl.read_csv(io.StringIO(out), schema_overrides={"person_id": pl.String})
    assert rows.height == len(ids)
    for row in rows.iter_rows(named=True):
        one = single_json(model_dir, row["person_id"])
        assert row["score"] == one["score"] and row["band"] == one["band"]
        assert row["model_score"] == one["model_score"] and row["penalty"] == one["penalty"]
        dims = {d["dimension"]: d["points"] for d in one["dimensions"]}  # type: ignore[attr-defined]
        assert all(row[name] == points for name, points in dims.items())
        lowering = [r["code"] for r in one["lowering"]]  # type: ignore[attr-defined]
        assert [row[f"lowering_{i}"] for i in range(1, 5)] == lowering + [None] * (
            4 - len(lowering)
        )
        raising = [r["code"] for r in one["raising"]]  # type: ignore[attr-defined]
        assert [row[f"raising_{i}"] for i in range(1, 4)] == raising + [None] * (3 - len(raising))
        lines = sum(p["points"] for p in one["penalties"])  # type: ignore[attr-defined]
        assert row["penalty_points"] == pytest.approx(lines, abs=0.02)
        assert row["penalty"] == pytest.approx(min(row["penalty_points"], 300.0), abs=0.02)
        assert row["as_of"] == one["as_of"]


def test_csv_and_score_agree(model_dir: Path, data_dir: Path, ids: list[str]) -> None:
    code, out, err = card(model_dir, *ids, "-f", "csv")
    assert code == 0, err
    cards = pl.read_csv(io.StringIO(out))
    result = runner.invoke(app, ["score", str(data_dir), "--model", str(model_dir), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    scored = pl.read_csv(io.StringIO(result.stdout))
    shared = [c for c in scored.columns if c in cards.columns]
    assert shared[:7] == CSV_COLUMNS[:7]
    expected = scored.filter(pl.col("person_id").is_in(ids)).select(shared)
    assert cards.select(shared).sort("person_id").equals(expected.sort("person_id"))


def test_table_is_the_single_cards_one_after_another(model_dir: Path, ids: list[str]) -> None:
    code, out, err = card(model_dir, *ids[:3], "--width", "100")
    assert code == 0, err
    singles = "".join(card(model_dir, pid, "--width", "100")[1] for pid in ids[:3])
    assert out == singles
    assert out.count("╭─ trustscore card") == 3


# ------------------------------------------------------------------ --output


@pytest.mark.parametrize("suffix", [".json", ".ndjson", ".jsonl", ".csv", ".parquet", ".txt"])
def test_output_suffix_picks_the_format(
    model_dir: Path, ids: list[str], tmp_path: Path, suffix: str
) -> None:
    target = tmp_path / f"cards{suffix}"
    code, out, err = card(model_dir, *ids, "-o", str(target))
    assert code == 0, err
    assert out == ""
    if suffix == ".json":
        got = [c["person_id"] for c in json.loads(target.read_text())]
    elif suffix in (".ndjson", ".jsonl"):
        got = [json.loads(line)["person_id"] for line in target.read_text().splitlines()]
    elif suffix == ".parquet":
        frame = pl.read_parquet(target)
        assert frame.columns == CSV_COLUMNS
        got = frame["person_id"].to_list()
    else:  # .csv, and a suffix that names no format: csv
        frame = pl.read_csv(target)
        assert frame.columns == CSV_COLUMNS
        got = frame["person_id"].to_list()
    assert got == ids
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary left


def test_format_wins_over_the_suffix(model_dir: Path, ids: list[str], tmp_path: Path) -> None:
    target = tmp_path / "cards.csv"
    code, _, err = card(model_dir, *ids[:2], "-f", "ndjson", "-o", str(target))
    assert code == 0, err
    assert [json.loads(line)["person_id"] for line in target.read_text().splitlines()] == ids[:2]


def test_one_id_to_a_json_file_is_the_single_card(
    model_dir: Path, ids: list[str], tmp_path: Path
) -> None:
    target = tmp_path / "card.json"
    code, _, err = card(model_dir, ids[1], "-o", str(target))
    assert code == 0, err
    assert json.loads(target.read_text()) == single_json(model_dir, ids[1])


@pytest.mark.parametrize(
    "args",
    [["-f", "parquet"], ["-f", "table", "-o", "cards.txt"], ["-d", "-", "-"]],
    ids=["parquet-to-a-pipe", "table-to-a-file", "stdin-twice"],
)
def test_usage_errors_exit_2(
    model_dir: Path, ids: list[str], tmp_path: Path, args: list[str]
) -> None:
    args = [str(tmp_path / a) if a.endswith(".txt") else a for a in args]
    code, out, err = card(model_dir, ids[0], *args, input="")
    assert code == 2, err
    assert out == ""
    assert err.startswith("error: ")


def test_a_broken_model_writes_nothing(model_dir: Path, ids: list[str], tmp_path: Path) -> None:
    target = tmp_path / "cards.ndjson"
    code, out, err = card(tmp_path / "no-model", *ids, "-o", str(target))
    assert code == 5, err
    assert not target.exists() and list(tmp_path.iterdir()) == []
    code, out, _ = card(tmp_path / "no-model", "-", "-f", "json", input="\n".join(ids))
    assert code == 5 and out == ""


# ------------------------------------------------------------------ unknown and hostile ids


def test_unknown_ids_reported_one_line_each_known_cards_written_exit_4(
    model_dir: Path, ids: list[str], tmp_path: Path
) -> None:
    asked = [ids[0], "NOPE-1", ids[1], "NOPE-2"]
    code, out, err = card(model_dir, *asked, "-f", "ndjson")
    assert code == 4
    assert [json.loads(line)["person_id"] for line in out.splitlines()] == [ids[0], ids[1]]
    assert err.splitlines() == [
        f"error: no person NOPE-1 in {model_dir}",
        f"error: no person NOPE-2 in {model_dir}",
    ]
    # to a file: the known cards are written, the exit code still says some were not
    for suffix in (".json", ".csv", ".parquet"):
        target = tmp_path / f"cards{suffix}"
        code, out, err = card(model_dir, *asked, "-o", str(target))
        assert code == 4 and out == ""
        assert len(err.splitlines()) == 2
        if suffix == ".json":
            got = [c["person_id"] for c in json.loads(target.read_text())]
        elif suffix == ".csv":
            got = pl.read_csv(target)["person_id"].to_list()
        else:
            got = pl.read_parquet(target)["person_id"].to_list()
        assert got == [ids[0], ids[1]]


def test_only_unknown_ids_give_empty_data_and_exit_4(model_dir: Path) -> None:
    code, out, err = card(model_dir, "-", "-f", "json", input="NOPE-1\nNOPE-2\n")
    assert code == 4 and json.loads(out) == [] and len(err.splitlines()) == 2
    code, out, _ = card(model_dir, "NOPE-1", "NOPE-2", "-f", "csv")
    assert code == 4 and out.splitlines() == [",".join(CSV_COLUMNS)]
    code, out, _ = card(model_dir, "-", "-f", "ndjson", input="\n\n")
    assert code == 0 and out == ""  # no ids at all: nothing to show, nothing unknown


def test_a_single_unknown_id_keeps_the_hint(model_dir: Path, ids: list[str]) -> None:
    code, out, err = card(model_dir, ids[0] + "x", "-f", "ndjson")
    assert code == 4 and out == ""
    assert "did you mean" in err and ids[0] in err


@pytest.mark.parametrize("how", ["arguments", "stdin"])
def test_hostile_unknown_ids_are_shown_as_text(model_dir: Path, ids: list[str], how: str) -> None:
    hostile = [LINK, CLEAR, "\u202eP6", "\x07bell"]
    if how == "stdin":
        code, out, err = card(model_dir, "-", ids[0], "-f", "ndjson", input="\n".join(hostile))
    else:
        code, out, err = card(model_dir, *hostile, ids[0], "-f", "ndjson")
    assert code == 4
    assert [json.loads(line)["person_id"] for line in out.splitlines()] == [ids[0]]
    lines = err.splitlines()
    assert lines == [f"error: no person {safe_text(h)} in {model_dir}" for h in hostile]
    assert "\x1b" not in err and "\x07" not in err and "\u202e" not in err
    assert LINK in err  # markup is shown as typed, not run


def test_hostile_ids_in_the_model(hostile_model: tuple[Path, list[str]]) -> None:
    model, persons = hostile_model
    code, out, err = card(model, "-", "-f", "ndjson", input="\n".join(persons) + "\n")
    assert code == 0, err
    got = [json.loads(line) for line in out.splitlines()]
    assert [c["person_id"] for c in got] == persons
    assert "\x1b" not in out  # JSON escapes the control character; it parses back the same
    result = runner.invoke(
        app,
        ["card", "-", "--model", str(model), "--width", "100"],
        input="\n".join(persons),
        env={"FORCE_COLOR": "1"},
    )
    assert result.exit_code == 0, result.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # rich's own colour codes
    assert "\x1b" not in text and "\x1b]8;" not in result.stdout
    for pid in persons:
        assert safe_text(pid) in text


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A small platform where two persons' ids are markup and an escape code."""
    from trustscore.sample import generate

    folder = tmp_path_factory.mktemp("hostile_bulk")
    generate(folder, persons=300, seed=3)
    rename = {"P0000001": LINK, "P0000002": CLEAR + "P2"}
    for name, columns in (
        ("consumers", ["person_id"]),
        ("merchants", ["owner_id"]),
        ("transactions", ["buyer_id"]),
    ):
        path = folder / f"{name}.csv"
        frame = pl.read_csv(path, infer_schema=False)
        frame.with_columns(pl.col(c).replace(rename) for c in columns).write_csv(path)
    out = folder / "model"
    result = runner.invoke(app, ["build", str(folder), "--out", str(out), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    return out, [LINK, "P0000003", CLEAR + "P2"]


# ------------------------------------------------------------------ --data


def test_bulk_with_a_data_folder(
    model_dir: Path, data_dir: Path, ids: list[str], tmp_path: Path
) -> None:
    new = tmp_path / "new"
    new.mkdir()
    for f in data_dir.iterdir():
        (new / f.name).write_bytes(f.read_bytes())
    with (new / "consumers.csv").open("a") as fh:
        fh.write("NEWCOMER,2025-11-01,true,false,2025-11-01,student,900.00,,female,24\n")
    asked = [ids[0], "NEWCOMER", "NOBODY", ids[1]]
    code, out, err = card(model_dir, *asked, "--data", str(new), "-f", "ndjson")
    assert code == 4
    got = [json.loads(line) for line in out.splitlines()]
    assert [c["person_id"] for c in got] == [ids[0], "NEWCOMER", ids[1]]
    assert [c["source"] for c in got] == ["model folder", "data folder", "model folder"]
    for c in got:
        jsonschema.validate(c, CARD_JSON_SCHEMA)
    assert err.splitlines() == [f"error: no person NOBODY in {model_dir} or {new}"]
    code, out, err = card(model_dir, "NEWCOMER", "--data", str(new), "-f", "json")
    assert code == 0, err
    alone = json.loads(out)
    assert alone == got[1]


def test_a_bom_on_stdin_is_not_part_of_the_first_id(model_dir: Path) -> None:
    from trustscore.cli import app as cli_app

    result = CliRunner().invoke(
        cli_app,
        ["card", "-", "--model", str(model_dir), "-f", "csv"],
        input="\ufeffP0000001\nP0000002\n".encode(),
    )
    assert result.exit_code == 0, result.stderr
    assert [line.split(",")[0] for line in result.stdout.splitlines()[1:]] == [
        "P0000001",
        "P0000002",
    ]


def test_a_card_on_a_terminal_narrower_than_a_card(model_dir: Path) -> None:
    # drawn at its least width and let wrap, never crushed into a column of letters
    from trustscore.cli import app as cli_app

    result = CliRunner().invoke(
        cli_app, ["card", "P0000001", "--model", str(model_dir)], env={"COLUMNS": "5"}
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "P0000001" in result.stdout
    assert max(len(line) for line in lines) == 40
    assert len(lines) < 60
