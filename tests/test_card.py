"""The card: what it shows agrees with score, its JSON follows the schema, it
never loads XGBoost for a stored person, unknown persons exit 4."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from typer.testing import CliRunner

from trustscore.card import CARD_JSON_SCHEMA, MAX_LOWERING, MAX_RAISING, load_card
from trustscore.cli import app
from trustscore.pipeline import DIMENSION_COLUMNS

runner = CliRunner()


@pytest.fixture(scope="module")
def scores(model_dir: Path) -> pl.DataFrame:
    return pl.read_parquet(model_dir / "scores.parquet")


def _person(scores: pl.DataFrame, condition: pl.Expr) -> str:
    return str(scores.filter(condition)["person_id"][0])


def test_card_agrees_with_score(model_dir: Path, data_dir: Path, scores: pl.DataFrame) -> None:
    result = runner.invoke(app, ["score", str(data_dir), "--model", str(model_dir), "-f", "csv"])
    scored = pl.read_csv(result.stdout.encode(), schema_overrides={"person_id": pl.String})
    for pid in scored["person_id"].head(25).to_list():
        card = load_card(model_dir, pid)
        row = scored.filter(pl.col("person_id") == pid).row(0, named=True)
        assert card.score == row["score"]
        assert card.band == row["band"]
        assert card.model_score == pytest.approx(row["model_score"], abs=0.005)
        assert card.penalty == pytest.approx(row["penalty"], abs=0.005)
        assert [d.points for d in card.dimensions] == [row[c] for c in DIMENSION_COLUMNS]
        total = card.base_points + sum(d.points for d in card.dimensions)
        assert total == pytest.approx(card.model_score, abs=0.04)


def test_reasons_are_ordered_and_never_zero(model_dir: Path, scores: pl.DataFrame) -> None:
    for pid in scores["person_id"].head(40).to_list():
        card = load_card(model_dir, pid)
        assert len(card.lowering) <= MAX_LOWERING and len(card.raising) <= MAX_RAISING
        assert all(r.points < 0 for r in card.lowering)
        assert all(r.points > 0 for r in card.raising)
        assert [r.points for r in card.lowering] == sorted(r.points for r in card.lowering)
        assert [r.points for r in card.raising] == sorted(
            (r.points for r in card.raising), reverse=True
        )
        for r in card.lowering + card.raising:
            assert "{" not in r.sentence, r.sentence


def test_penalties_on_the_card(model_dir: Path, scores: pl.DataFrame) -> None:
    pid = _person(scores, pl.col("penalty") > 0)
    card = load_card(model_dir, pid)
    assert card.penalties, pid
    assert (
        sum(p.points for p in card.penalties) == pytest.approx(min(card.penalty, 300), abs=0.05)
        or card.penalty == 300
    )
    text = runner.invoke(app, ["card", pid, "--model", str(model_dir), "--width", "100"]).stdout
    assert "Counterfeit-trade penalties" in text
    assert card.penalties[0].text in text


def test_json_follows_the_documented_schema(model_dir: Path, scores: pl.DataFrame) -> None:
    for condition in (pl.col("penalty") > 0, pl.col("penalty") == 0):
        pid = _person(scores, condition)
        result = runner.invoke(app, ["card", pid, "--model", str(model_dir), "-f", "json"])
        assert result.exit_code == 0, result.stderr
        jsonschema.validate(json.loads(result.stdout), CARD_JSON_SCHEMA)


def test_unknown_person_exit_4_with_close_ids(model_dir: Path, scores: pl.DataFrame) -> None:
    pid = str(scores["person_id"][5])
    typo = pid + "x"
    result = runner.invoke(app, ["card", typo, "--model", str(model_dir)])
    assert result.exit_code == 4
    assert f"no person {typo} in {model_dir}" in result.stderr
    assert "did you mean" in result.stderr and pid in result.stderr
    result = runner.invoke(app, ["card", "nobody-like-this", "--model", str(model_dir)])
    assert result.exit_code == 4
    assert "did you mean" not in result.stderr


def test_card_from_data_folder(model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    # a newcomer who is in the data folder but not in the model folder
    new = tmp_path / "new"
    new.mkdir()
    for f in data_dir.iterdir():
        (new / f.name).write_bytes(f.read_bytes())
    with (new / "consumers.csv").open("a") as fh:
        fh.write("NEWCOMER,2025-11-01,true,false,2025-11-01,student,900.00,\n")
    result = runner.invoke(
        app, ["card", "NEWCOMER", "--model", str(model_dir), "--data", str(new), "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr
    card = json.loads(result.stdout)
    jsonschema.validate(card, CARD_JSON_SCHEMA)
    assert card["source"] == "data folder"
    total = card["base_points"] + sum(d["points"] for d in card["dimensions"])
    assert total == pytest.approx(card["model_score"], abs=0.04)


def test_card_does_not_import_xgboost(model_dir: Path, scores: pl.DataFrame) -> None:
    pid = str(scores["person_id"][0])
    code = (
        "import sys, io\n"
        "from trustscore.card import load_card\n"
        "from trustscore import render\n"
        "from rich.console import Console\n"
        f"card = load_card({str(model_dir)!r}, {pid!r})\n"
        "render.print_card(card, Console(file=io.StringIO(), width=100))\n"
        "assert 'xgboost' not in sys.modules, 'the card imported xgboost'\n"
        "assert 'numpy' not in sys.modules, 'the card imported numpy'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
