"""audit: the fairness figures by hand on two groups, quintiles of a numeric
attribute, the four-fifths edge; through the CLI, the sample's protected
attributes (left out of the model) and German credit's."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from trustscore.audit import AUDIT_SCHEMA, MISSING, audit, groups_of
from trustscore.cli import app

runner = CliRunner()


def test_two_groups_by_hand() -> None:
    # group a: 4 persons, 3 approved; group b: 4 persons, 1 approved; one blank
    values = pl.Series("g", ["a", "a", "a", "a", "b", "b", "b", "b", None])
    score = pl.Series([700, 650, 610, 500, 620, 560, 540, 520, 900])
    approved = score >= 600
    y = np.array([0, 0, 1, 1, 0, 1, 1, np.nan, 0], dtype=np.float64)
    p_bad = np.array([0.1, 0.2, 0.3, 0.9, 0.2, 0.5, 0.6, 0.7, 0.1])
    rows = {r["group"]: r for r in audit({"g": values}, score, approved, y, p_bad).to_dicts()}
    a, b, blank = rows["a"], rows["b"], rows[MISSING]
    assert (a["persons"], a["approved"], a["approval_rate"]) == (4, 3, 0.75)
    assert (b["persons"], b["approved"], b["approval_rate"]) == (4, 1, 0.25)
    assert a["mean_score"] == 615.0 and b["mean_score"] == 560.0
    # the reference is the named group approved most often, not the lone blank
    assert a["adverse_impact_ratio"] == 1.0 and a["four_fifths"] == "pass"
    assert b["adverse_impact_ratio"] == pytest.approx(1 / 3, abs=1e-4)
    assert b["four_fifths"] == "fail"
    assert blank["adverse_impact_ratio"] == pytest.approx(1 / 0.75, abs=1e-4)
    # outcomes: a has 2 bad of 4, ranked perfectly; b has 2 bad of 3 labelled
    assert (a["labelled"], a["bad_rate"], a["auc"]) == (4, 0.5, 1.0)
    assert (b["labelled"], b["bad_rate"]) == (3, round(2 / 3, 4))
    assert b["auc"] == 1.0
    assert blank["auc"] is None  # one person: no goods and bads to rank


def test_four_fifths_at_its_edge() -> None:
    values = pl.Series("g", ["a"] * 5 + ["b"] * 5)
    approved = pl.Series([True] * 5 + [True] * 4 + [False])  # 1.0 against 0.8
    score = pl.Series([700] * 10)
    frame = audit({"g": values}, score, approved, None, np.zeros(10))
    b = frame.filter(pl.col("group") == "b").row(0, named=True)
    assert b["adverse_impact_ratio"] == 0.8 and b["four_fifths"] == "pass"
    assert frame["labelled"].to_list() == [0, 0] and frame["auc"].null_count() == 2
    nobody = audit({"g": values}, score, pl.Series([False] * 10), None, np.zeros(10))
    assert nobody["adverse_impact_ratio"].null_count() == 2
    assert nobody["four_fifths"].null_count() == 2
    assert nobody.schema == AUDIT_SCHEMA


def test_numbers_in_quintiles_and_few_values_as_they_are() -> None:
    ages = pl.Series("age", [float(a) for a in range(20, 70)] + [None])
    groups = groups_of(ages)
    assert groups.null_count() == 0
    labels = groups.unique(maintain_order=True).to_list()
    assert labels[-1] == MISSING and len(labels) == 6
    assert labels[0] == "[20, 29)" and labels[-2] == "[59, 69]"
    counts = groups.value_counts().filter(pl.col("age") != MISSING)["count"].to_list()
    assert sum(counts) == 50 and all(9 <= c <= 11 for c in counts)
    few = groups_of(pl.Series("n", [1, 2, 2, None]))
    assert few.to_list() == ["1", "2", "2", MISSING]
    # a passthrough number is read as a float: whole values read as they were written
    floats = groups_of(pl.Series("n", [0.0, 1.0, float("nan"), None]))
    assert floats.to_list() == ["0", "1", MISSING, MISSING]
    halves = groups_of(pl.Series("n", [0.5, 1.0]))
    assert halves.to_list() == ["0.5", "1.0"]


def _audit(model: Path, data: Path, *args: str) -> tuple[int, pl.DataFrame, str]:
    result = runner.invoke(app, ["audit", str(data), "--model", str(model), "-f", "csv", *args])
    frame = (
        pl.read_csv(io.StringIO(result.stdout), schema=AUDIT_SCHEMA)
        if result.exit_code == 0
        else pl.DataFrame(schema=AUDIT_SCHEMA)
    )
    return result.exit_code, frame, result.stderr


def test_the_samples_protected_attributes(model_dir: Path, data_dir: Path) -> None:
    code, frame, err = _audit(model_dir, data_dir)
    assert code == 0, err
    assert set(frame["attribute"]) == {"gender", "age"}
    assert frame.group_by("attribute").agg(pl.col("persons").sum())[
        "persons"
    ].unique().to_list() == [1500]
    gender = frame.filter(pl.col("attribute") == "gender")
    assert set(gender["group"]) >= {"female", "male"}
    # gender causes nothing in the story: its groups fare alike
    named = gender.filter(pl.col("group") != MISSING)
    assert (named["adverse_impact_ratio"] > 0.8).all()
    # each fail is named on stderr
    for group in frame.filter(pl.col("four_fifths") == "fail")["group"]:
        assert f"= {group}: adverse impact ratio" in err
    assert "approved at a final score of 600 or more" in err


def test_by_a_policy_and_named_attributes(model_dir: Path, data_dir: Path) -> None:
    code, frame, err = _audit(
        model_dir, data_dir, "--attribute", "employment", "--product", "micro_loan"
    )
    assert code == 0, err
    assert set(frame["attribute"]) == {"employment"}
    assert "employment is a feature of the model" in err
    assert "as micro_loan decides" in err
    code, _, err = _audit(model_dir, data_dir, "--attribute", "gendr")
    assert code == 2 and "did you mean 'gender'" in err
    code, _, err = _audit(model_dir, data_dir, "--product", "nope")
    assert code == 2 and "no product 'nope'" in err
    code, _, err = _audit(model_dir, data_dir, "--policy", "x.toml")
    assert code == 2 and "--product" in err


def test_no_protected_column_is_a_usage_error(tmp_path: Path, data_dir: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    consumers = pl.read_csv(data_dir / "consumers.csv", infer_schema=False)
    consumers.drop("gender", "age").write_csv(folder / "consumers.csv")
    for name in ("merchants.csv", "transactions.csv", "logistics.csv"):
        (folder / name).write_bytes((data_dir / name).read_bytes())
    model = tmp_path / "m"
    result = runner.invoke(app, ["build", str(folder), "--out", str(model)])
    assert result.exit_code == 0, result.stderr
    code, _, err = _audit(model, folder)
    assert code == 2 and "no protected column" in err and "--attribute" in err


def test_blanks_are_never_the_reference_and_dates_group_by_year() -> None:
    blank = pl.Series("g", [None, None, None], dtype=pl.String)
    frame = audit(
        {"g": blank}, pl.Series([700, 500, 650]), pl.Series([True, False, True]), None, np.zeros(3)
    )
    row = frame.row(0, named=True)
    assert row["group"] == MISSING and row["approval_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert row["adverse_impact_ratio"] is None and row["four_fifths"] is None
    import datetime as dt

    dates = pl.Series("d", [dt.date(2020, 5, 1), dt.date(2020, 1, 9), dt.date(2024, 2, 2), None])
    assert groups_of(dates).to_list() == ["2020", "2020", "2024", MISSING]


def test_attributes_and_approvals_that_do_not_fit(model_dir: Path, data_dir: Path) -> None:
    code, _, err = _audit(model_dir, data_dir, "--attribute", "person_id")
    assert code == 2 and "not an attribute" in err
    code, _, err = _audit(model_dir, data_dir, "--product", "micro_loan", "--cutoff", "600")
    assert code == 2 and "two ways to approve" in err
    code, frame, err = _audit(model_dir, data_dir, "--attribute", "signup_date")
    assert code == 0, err
    assert frame["group"].to_list() == sorted(frame["group"].to_list())  # years, in order
    assert frame.height <= 8
