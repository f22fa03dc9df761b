"""A build that learned nothing says so (issue 10): every warning rule fires where it
should, stays quiet where it should not, reaches stderr and the summary's JSON,
and --strict turns it into exit 3 with no model written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLE_DATA
from trustscore.build_checks import MIN_AUC, _learned_nothing
from trustscore.cli import app

runner = CliRunner()


def _build(folder: Path, out: Path, *extra: str) -> tuple[int, dict[str, object], str]:
    result = runner.invoke(app, ["build", str(folder), "-m", str(out), "--format", "json", *extra])
    summary = json.loads(result.stdout) if result.exit_code == 0 else {}
    return result.exit_code, summary, result.stderr


def _codes(summary: dict[str, object]) -> list[str]:
    warnings = summary["warnings"]
    assert isinstance(warnings, list)
    return [w["code"] for w in warnings]


@pytest.fixture(scope="module")
def nothing_to_learn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Everyone alike but the outcome: no feature can tell a bad from a good."""
    folder = tmp_path_factory.mktemp("alike")
    rows = ["person_id,signup_date,identity_verified,defaulted"]
    rows += [f"Q{i:03d},2024-05-01,true,{i % 2}" for i in range(200)]
    (folder / "consumers.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_a_model_that_learned_nothing_says_so(nothing_to_learn: Path, tmp_path: Path) -> None:
    code, summary, stderr = _build(nothing_to_learn, tmp_path / "m", "--as-of", "2025-01-01")
    assert code == 0, stderr
    assert _codes(summary) == ["model_learned_nothing", "few_distinct_scores"]
    assert "warning: the model learned nothing useful: holdout AUC 0.5000" in stderr
    assert "warning: only 1 distinct score among 200 persons" in stderr
    # the table summary ends with them too
    table = runner.invoke(
        app,
        [
            *("build", str(nothing_to_learn), "-m", str(tmp_path / "m"), "--force"),
            *("--as-of", "2025-01-01", "--format", "table"),
        ],
    )
    assert "warning: the model learned nothing useful" in table.stdout


def test_strict_refuses_to_write_a_useless_model(nothing_to_learn: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"
    # a good model is there first: a strict build that fails must leave it untouched
    assert (
        runner.invoke(app, ["build", str(SAMPLE_DATA), "-m", str(out), "-o", "/dev/null"]).exit_code
        == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, stderr = _build(nothing_to_learn, out, "--as-of", "2025-01-01", "--force", "--strict")
    assert code == 3
    assert stderr.startswith("error: build --strict: the model learned nothing useful")
    assert "(and 1 more warnings)" in stderr and "Traceback" not in stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["m"]  # no temporary folder left


@pytest.mark.parametrize(
    ("auc", "fires"),
    [(0.5, True), (MIN_AUC - 1e-9, True), (MIN_AUC, False), (0.8, False), (None, True)],
)
def test_auc_rule_threshold(auc: float | None, fires: bool) -> None:
    scores = pl.DataFrame({"score": np.arange(100)})
    got = _learned_nothing({"holdout": {"auc": auc}}, scores)
    assert [w.code for w in got] == (["model_learned_nothing"] if fires else [])


def test_distinct_scores_rule_threshold() -> None:
    ok = {"holdout": {"auc": 0.8}}
    four = _learned_nothing(ok, pl.DataFrame({"score": [600, 610, 620, 630] * 10}))
    five = _learned_nothing(ok, pl.DataFrame({"score": [600, 610, 620, 630, 640] * 10}))
    assert [w.code for w in four] == ["few_distinct_scores"] and four[0].count == 4
    assert five == []


@pytest.fixture(scope="module")
def thin_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_data where 70% of persons never bought anything, and 30 labelled
    persons signed up after the as-of date (2026-01-01)."""
    folder = tmp_path_factory.mktemp("thin")
    for f in SAMPLE_DATA.glob("*.csv"):
        shutil.copy(f, folder / f.name)
    c = pl.read_csv(folder / "consumers.csv", infer_schema=False)
    keep = set(c.get_column("person_id").to_list()[: int(c.height * 0.3)])
    t = pl.read_csv(folder / "transactions.csv", infer_schema=False)
    t = t.filter(pl.col("buyer_id").is_in(list(keep)))
    t.write_csv(folder / "transactions.csv")
    lg = pl.read_csv(folder / "logistics.csv", infer_schema=False)
    lg.filter(pl.col("txn_id").is_in(t.get_column("txn_id").implode())).write_csv(
        folder / "logistics.csv"
    )
    labelled = c.get_column("defaulted").is_not_null()
    late = labelled & (pl.int_range(0, c.height, eager=True) >= c.height - 200)
    late_ids = set(c.filter(late).get_column("person_id").to_list()[:30])
    c.with_columns(
        pl.when(pl.col("person_id").is_in(list(late_ids)))
        .then(pl.lit("2026-02-01"))
        .otherwise(pl.col("signup_date"))
        .alias("signup_date")
    ).write_csv(folder / "consumers.csv")
    return folder


@pytest.fixture(scope="module")
def thin_summary(thin_history: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    code, summary, stderr = _build(
        thin_history, tmp_path_factory.mktemp("thin_m") / "m", "--as-of", "2026-01-01"
    )
    assert code == 0, stderr
    summary["stderr"] = stderr
    return summary


def test_most_labelled_without_history(thin_summary: dict[str, object]) -> None:
    warnings = {w["code"]: w for w in thin_summary["warnings"]}  # type: ignore[attr-defined]
    w = warnings["labelled_without_history"]
    labelled = thin_summary["labelled"]
    assert isinstance(labelled, int) and 0.6 * labelled < w["count"] < 0.8 * labelled
    assert f"of {labelled:,} labelled persons" in w["text"]
    assert "no transactions before 2026-01-01" in w["text"]
    assert "warning: " + w["text"] in thin_summary["stderr"]  # type: ignore[operator]


def test_labelled_signed_up_after_as_of(thin_summary: dict[str, object]) -> None:
    warnings = {w["code"]: w for w in thin_summary["warnings"]}  # type: ignore[attr-defined]
    w = warnings["labelled_signup_after_as_of"]
    assert w["count"] == 30
    assert w["text"].startswith(
        "30 labelled persons signed up on or after the as-of date 2026-01-01"
    )


def test_sample_data_builds_without_warnings(model_dir: Path) -> None:
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["warnings"] == []


def test_warnings_in_the_csv_summary(nothing_to_learn: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            *("build", str(nothing_to_learn), "-m", str(tmp_path / "m")),
            *("--as-of", "2025-01-01", "--format", "csv"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    rows = list(
        pl.read_csv(result.stdout.encode()).filter(pl.col("section") == "warnings").iter_rows()
    )
    assert [r[1] for r in rows] == ["model_learned_nothing", "few_distinct_scores"]


def test_validate_warnings_reach_the_build_summary(tmp_path: Path) -> None:
    """A row that is legal but unlikely is counted in build's stderr and its JSON."""
    folder = tmp_path / "d"
    folder.mkdir()
    for f in SAMPLE_DATA.glob("*.csv"):
        shutil.copy(f, folder / f.name)
    lg = pl.read_csv(folder / "logistics.csv", infer_schema=False)
    first = lg.get_column("shipped_at")[0]
    lg.with_row_index().with_columns(
        pl.when(pl.col("index") < 7)
        .then(pl.lit("2019-01-01T00:00:00"))
        .otherwise(pl.col("delivered_at"))
        .alias("delivered_at")
    ).drop("index").write_csv(folder / "logistics.csv")
    assert first is not None
    code, summary, stderr = _build(folder, tmp_path / "m")
    assert code == 0, stderr
    data = {w["rule"]: w for w in summary["data_warnings"]}  # type: ignore[attr-defined]
    assert data["delivered_before_shipped"]["count"] == 7
    assert len(data["delivered_before_shipped"]["examples"]) == 5
    assert "delivered_before_shipped" in stderr
    strict, _, stderr = _build(folder, tmp_path / "m2", "--strict")
    assert strict == 3 and not (tmp_path / "m2").exists()
