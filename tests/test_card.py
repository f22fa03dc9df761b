"""The card: what it shows agrees with score, its JSON follows the schema, it
never loads XGBoost for a stored person, unknown persons exit 4; its wording
reads true (no -0.0, no 0% for 0.4%, "1 order", the cap and the scale's ends
said in words)."""

from __future__ import annotations

import dataclasses
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from trustscore.card import CARD_JSON_SCHEMA, MAX_LOWERING, MAX_RAISING, Card, load_card
from trustscore.cli import app
from trustscore.features import FeatureSpec, registry, render_sentence
from trustscore.features.registry import SINGULAR, WHEN_ZERO
from trustscore.model_folder import DIMENSION_COLUMNS
from trustscore.render import CardView

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
        fh.write("NEWCOMER,2025-11-01,true,false,2025-11-01,student,900.00,,female,24\n")
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


# ------------------------------------------------------------------ the card's wording


def _draw(card: Card, width: int = 100) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, color_system=None).print(CardView(card))
    return buf.getvalue()


def _rows(text: str) -> list[str]:
    return [" ".join(line.strip("│ ").split()) for line in text.splitlines()]


def test_points_that_round_to_zero_never_read_minus_zero(
    model_dir: Path, scores: pl.DataFrame
) -> None:
    card = load_card(model_dir, str(scores["person_id"][0]))
    values = [-0.03, 0.0, -0.0, 0.04, -0.05]
    dims = [dataclasses.replace(d, points=v) for d, v in zip(card.dimensions, values, strict=True)]
    lowering = [dataclasses.replace(r, points=-0.04) for r in card.lowering[:1]]
    text = _draw(dataclasses.replace(card, dimensions=dims, lowering=lowering))
    rows = _rows(text)
    assert "-0.0" not in text.replace("-0.04", "").replace("-0.05", "")
    for d, v in zip(card.dimensions, values, strict=True):
        row = next(r for r in rows if r.startswith(d.title))
        if round(v, 1) == 0:
            assert row.endswith(" 0.0") and "█" not in row, row  # no bar for what shows as 0
        else:
            assert row.endswith(f"{v:+.1f}"), row
    # a reason moved the score: its points never read as zero
    assert any(r.endswith("-0.04") for r in rows if lowering and lowering[0].code in r)


def test_the_sum_line_says_where_the_scale_moved_the_score(
    model_dir: Path, scores: pl.DataFrame
) -> None:
    card = load_card(model_dir, str(scores["person_id"][0]))
    floor = dataclasses.replace(
        card, model_score=263.1, penalty=249.9, clipping=336.8, score=350, band="poor"
    )
    assert "model score 263.1 − penalty 249.9 = 13.2, raised to the scale's floor 350" in _draw(
        floor
    )
    ceiling = dataclasses.replace(
        card, model_score=1010.54, penalty=0.0, clipping=-60.54, score=950, band="excellent"
    )
    text = _draw(ceiling)
    assert "model score 1010.5 − penalty 0.0 = 1010.5, lowered to the scale's ceiling 950" in text
    plain = dataclasses.replace(card, model_score=594.04, penalty=149.53, clipping=0.0, score=445)
    assert "model score 594.0 − penalty 149.5 = 445" in _rows(_draw(plain))


def test_penalties_past_the_cap_say_so(model_dir: Path, scores: pl.DataFrame) -> None:
    pid = _person(scores, pl.col("penalty") > 0)
    card = load_card(model_dir, pid)
    line = dataclasses.replace(card.penalties[0], points=1590.0, count=40)
    capped = dataclasses.replace(card, penalties=[line], penalty=300.0, penalty_points=1590.0)
    rows = _rows(_draw(capped))
    assert "capped at 300: total of the events 1,590 -300.0" in rows
    assert any(r.endswith("40x -1,590.0") for r in rows)
    # under the cap: no such line
    assert not any(r.startswith("capped at") for r in _rows(_draw(card)))


COUNTS = [s for s in registry() if "{value:,.0f}" in s.sentence and s.unit != "money"]


@pytest.mark.parametrize("spec", COUNTS, ids=lambda s: s.name)
def test_counts_agree_with_their_noun(spec: FeatureSpec) -> None:
    one, many = render_sentence(spec, 1.0), render_sentence(spec, 7.0)
    plural = "|".join(SINGULAR)
    assert not re.search(rf"\b1 ((?!of\b)\w+ ){{0,2}}({plural})\b", one), one
    # "1 order", "7 orders"; but "1 of the last 12 months", "7 of the last 12 months"
    a_part = many.split("7", 1)[1].split()[:1] == ["of"]
    assert (many.replace("7", "1", 1) == one) == a_part, (one, many)
    zero = render_sentence(spec, 0.0)
    assert zero == WHEN_ZERO.get(spec.name, many.replace("7", "0", 1)), zero


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.0, "0%"),
        (0.0004, "<0.1%"),
        (0.004, "0.4%"),
        (0.054, "5.4%"),
        (0.0996, "10%"),
        (0.5, "50%"),
        (0.996, "99.6%"),
        (0.99999, ">99.9%"),
        (1.0, "100%"),
        (2.5, "250%"),
    ],
)
def test_percentages_never_round_to_a_lie(value: float, shown: str) -> None:
    spec = next(s for s in registry() if s.name == "shop_chargeback_rate_365d")
    assert render_sentence(spec, value).startswith(shown + " of other buyers' orders")


def test_small_amounts_never_read_zero() -> None:
    by_name = {s.name: s for s in registry()}
    assert (
        render_sentence(by_name["overdue_amount"], 0.004) == "<0.01 past due and unpaid on credit"
    )
    assert render_sentence(by_name["overdue_amount"], 0.0) == "0.00 past due and unpaid on credit"
    mean = by_name["days_late_mean_365d"]
    assert render_sentence(mean, 0.03).endswith(": <0.1 days")
    assert render_sentence(by_name["days_since_late"], 0.0) == WHEN_ZERO["days_since_late"]
