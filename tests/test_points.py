"""points: the table of a feature-additive model reproduces its model scores
exactly, in Python and as SQL run in SQLite; the float32 edges of XGBoost's
splits are kept; a dimension-additive model explains itself and shows the
importance table instead."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from trustscore.cli import app
from trustscore.model_folder import FEATURES_FILE, SCORES_FILE, ModelFolder
from trustscore.points_table import (
    POINTS_SCHEMA,
    _sql_threshold,
    points_table,
    score_with_table,
    to_sql,
)

runner = CliRunner()


@pytest.fixture(scope="module")
def scorecard(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture platform built as a points scorecard (feature additivity)."""
    where = tmp_path_factory.mktemp("scorecard")
    config = where / "config.toml"
    config.write_text('[model]\nadditivity = "feature"\n')
    out = where / "m"
    result = runner.invoke(
        app, ["build", str(data_dir), "--out", str(out), "--config", str(config), "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["additivity"] == "feature"
    return out


def test_the_table_adds_up_to_every_model_score(scorecard: Path) -> None:
    folder = ModelFolder.open(scorecard)
    table = points_table(folder.load_model())
    assert table.rows.schema == POINTS_SCHEMA
    assert set(table.rows["feature"]) == {s.name for s in folder.specs}
    # each feature: missing first, then its ranges in order (or its categories)
    for (_,), rows in table.rows.group_by(["feature"], maintain_order=True):
        assert rows["bin"][0] == "missing"
        lowers = rows["lower"].drop_nulls().to_list()
        assert lowers == sorted(lowers)
    features = folder.frame(FEATURES_FILE)
    scores = folder.frame(SCORES_FILE)
    got = score_with_table(table, features).to_numpy()
    want = scores["model_score"].to_numpy()
    assert np.abs(got - want).max() < 0.01


def test_the_sql_scores_in_sqlite(scorecard: Path, tmp_path: Path) -> None:
    folder = ModelFolder.open(scorecard)
    features = folder.frame(FEATURES_FILE)
    want = dict(folder.frame(SCORES_FILE).select("person_id", "model_score").rows())
    result = runner.invoke(app, ["points", "--model", str(scorecard), "-f", "sql"])
    assert result.exit_code == 0, result.stderr
    sql = result.stdout
    assert sql.count("+ CASE") == len(folder.specs)
    db = sqlite3.connect(":memory:")
    names = features.columns
    db.execute(
        "CREATE TABLE features (" + ", ".join('"' + n.replace('"', '""') + '"' for n in names) + ")"
    )
    db.executemany(f"INSERT INTO features VALUES ({', '.join('?' * len(names))})", features.rows())
    got = dict(db.execute(sql).fetchall())
    assert set(got) == set(want)
    worst = max(abs(got[p] - want[p]) for p in want)
    assert worst < 0.01


def test_sql_thresholds_follow_float32_rounding() -> None:
    """XGBoost sends v left when float32(v) < c; the SQL's double comparison must
    agree for values right at the edge, where float32 rounding decides."""
    rng = np.random.default_rng(5)
    for c in [0.1, 1.0, 3.5, 1e-3, 12345.678, -2.5, *rng.uniform(-100, 100, 200).tolist()]:
        c32 = float(np.float32(c))
        op, m = _sql_threshold(c32)
        below = float(np.nextafter(np.float32(c32), np.float32(-np.inf)))
        probes = [m, np.nextafter(m, -np.inf), np.nextafter(m, np.inf), c32, below, c]
        for v in probes:
            left_xgb = np.float32(v) < np.float32(c32)
            left_sql = v < m if op == "<" else v <= m
            assert left_xgb == left_sql, (c, v, op, m)


def test_hostile_names_and_levels_are_quoted() -> None:
    from trustscore.points_table import PointsTable

    rows = pl.DataFrame(
        [
            ('we"ird', "missing", 1.0, None, None, None, "X-1"),
            ('we"ird', "a'b", 2.0, None, None, "a'b; DROP TABLE x; --", "X-1"),
        ],
        schema=POINTS_SCHEMA,
        orient="row",
    )
    sql = to_sql(PointsTable(500.0, rows), 'my"table')
    assert '"we""ird"' in sql and "'a''b; DROP TABLE x; --'" in sql
    assert 'FROM "my""table";' in sql
    db = sqlite3.connect(":memory:")
    db.execute('CREATE TABLE "my""table" (person_id, "we""ird")')
    db.executemany(
        'INSERT INTO "my""table" VALUES (?, ?)',
        [("P1", "a'b; DROP TABLE x; --"), ("P2", None), ("P3", "other")],
    )
    assert sorted(db.execute(sql).fetchall()) == [("P1", 502.0), ("P2", 501.0), ("P3", 501.0)]


def test_points_csv_and_files(scorecard: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["points", "--model", str(scorecard)])
    assert result.exit_code == 0, result.stderr
    rows = pl.read_csv(io.StringIO(result.stdout), schema=POINTS_SCHEMA)
    assert rows.height > len(ModelFolder.open(scorecard).specs)
    assert "base" in result.stderr
    out = tmp_path / "score.sql"
    result = runner.invoke(app, ["points", "--model", str(scorecard), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert out.read_text().startswith("-- trustscore points table as SQL")


def test_a_dimension_model_explains_and_shows_importance(model_dir: Path) -> None:
    result = runner.invoke(app, ["points", "--model", str(model_dir), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert "feature" in result.stderr and "additivity" in result.stderr
    rows = pl.read_csv(io.StringIO(result.stdout))
    assert rows.columns == ["feature", "code", "dimension", "mean_abs_points"]
    values = rows["mean_abs_points"].to_list()
    assert values == sorted(values, reverse=True) and values[0] > 0
    result = runner.invoke(app, ["points", "--model", str(model_dir), "-f", "sql"])
    assert result.exit_code == 2
    assert "feature-additive" in result.stderr


@pytest.mark.parametrize("name", ["t\nDROP TABLE users; --", "", "x\x1b[2J", "a\rb"])
def test_a_table_name_cannot_break_out_of_the_sql(scorecard: Path, name: str) -> None:
    result = runner.invoke(app, ["points", "--model", str(scorecard), "-f", "sql", "--table", name])
    assert result.exit_code == 2
    assert "control characters" in result.stderr and result.stdout == ""


def test_the_sql_comments_quote_nothing_from_outside(scorecard: Path) -> None:
    result = runner.invoke(
        app, ["points", "--model", str(scorecard), "-f", "sql", "--table", "x; DROP TABLE y"]
    )
    assert result.exit_code == 0, result.stderr
    comments = [line for line in result.stdout.splitlines() if line.startswith("--")]
    assert comments and all("DROP" not in line for line in comments)
    assert result.stdout.rstrip().endswith('FROM "x; DROP TABLE y";')
