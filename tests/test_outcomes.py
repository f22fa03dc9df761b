"""Outcomes from the records (DESIGN 2): the derived label on a hand-made folder,
and build learning from the features as of the observation date."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLE_DATA
from trustscore.cli import app
from trustscore.ingest import read_folder
from trustscore.outcomes import from_records

runner = CliRunner()
AS_OF = dt.date(2026, 1, 1)  # window 365: T = 2025-01-01, bills due in [2025-01-01, 2025-12-02)

# person -> (expected outcome with window 365, its bills: method, status, due, repaid)
CASES: dict[str, tuple[float, list[tuple[str, str, str, str]]]] = {
    "on_time": (0, [("credit", "completed", "2025-03-01", "2025-03-01")]),
    "late_30": (1, [("credit", "completed", "2025-03-01", "2025-03-31")]),
    "late_29": (0, [("installment", "completed", "2025-03-01", "2025-03-30")]),
    "never": (1, [("credit", "completed", "2025-06-01", "")]),
    # repaid after as-of: unknown then, so unpaid 47 days after its due date
    "after_as_of": (1, [("credit", "completed", "2025-11-15", "2026-01-20")]),
    # due on T: in; due on T + window - 30 days: out (not yet 30 days behind)
    "due_on_t": (0, [("credit", "completed", "2025-01-01", "2025-01-05")]),
    "due_at_end": (math.nan, [("credit", "completed", "2025-12-02", "")]),
    "due_before_end": (1, [("credit", "completed", "2025-12-01", "")]),
    # before the window: not part of the outcome (it is part of T's features)
    "before_window": (math.nan, [("credit", "completed", "2024-12-31", "2025-03-01")]),
    # not bills: cancelled, refunded, or paid by card
    "cancelled": (math.nan, [("credit", "cancelled", "2025-03-01", "")]),
    "refunded": (math.nan, [("credit", "refunded", "2025-03-01", "")]),
    "card": (math.nan, [("card", "completed", "2025-03-01", "")]),
    # placed, not settled: no debt yet, so no bill to be late on
    "pending": (math.nan, [("credit", "pending", "2025-03-01", "")]),
    "one_of_two_late": (
        1,
        [
            ("credit", "completed", "2025-02-01", "2025-02-01"),
            ("credit", "completed", "2025-05-01", "2025-06-15"),
        ],
    ),
    "disputed_late": (1, [("installment", "disputed", "2025-04-01", "2025-07-01")]),
    "no_orders": (math.nan, []),
}


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "records"
    folder.mkdir()
    consumers = ["person_id,signup_date"] + [f"{p},2024-01-01" for p in CASES]
    txns = ["txn_id,buyer_id,merchant_id,ts,amount,status,payment_method,due_date,repaid_date"]
    for person, (_, bills) in CASES.items():
        for i, (method, status, due, repaid) in enumerate(bills):
            ts = dt.date.fromisoformat(due) - dt.timedelta(days=30)
            txns.append(
                f"{person}-{i},{person},S1,{ts}T12:00:00,50,{status},{method},{due},{repaid}"
            )
    # a purchase after as-of never counts, whatever its dates say
    txns.append("late-buy,no_orders,S1,2026-02-01T12:00:00,50,completed,credit,2025-06-01,")
    (folder / "consumers.csv").write_text("\n".join(consumers) + "\n")
    (folder / "transactions.csv").write_text("\n".join(txns) + "\n")
    return folder


def test_derived_outcome_per_rule(tmp_path: Path) -> None:
    tables, _ = read_folder(_folder(tmp_path))
    outcome = from_records(tables, AS_OF, 365)
    got = dict(zip(tables.consumers.get_column("person_id").to_list(), outcome.y, strict=True))
    for person, (expected, _) in CASES.items():
        if math.isnan(expected):
            assert math.isnan(got[person]), person
        else:
            assert got[person] == expected, person
    assert outcome.observation_date == dt.date(2025, 1, 1)
    assert outcome.due_until == dt.date(2025, 12, 2)
    bad = sum(1 for e, _ in CASES.values() if e == 1)
    good = sum(1 for e, _ in CASES.values() if e == 0)
    assert outcome.counts == {"good": good, "bad": bad, "unlabelled": len(CASES) - good - bad}


def test_a_longer_window_reaches_further_back(tmp_path: Path) -> None:
    tables, _ = read_folder(_folder(tmp_path))
    outcome = from_records(tables, AS_OF, 400)  # T = 2024-11-27
    got = dict(zip(tables.consumers.get_column("person_id").to_list(), outcome.y, strict=True))
    assert got["before_window"] == 1  # due 2024-12-31, repaid 60 days late
    # the window always ends 30 days before as-of, so a bill has had time to be 30 days late
    assert got["due_before_end"] == 1 and math.isnan(got["due_at_end"])
    assert outcome.due_until == dt.date(2025, 12, 2)


@pytest.fixture(scope="module")
def unlabelled_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sample_data without its defaulted column: the outcome must come from the records."""
    folder = tmp_path_factory.mktemp("nolabel")
    for f in SAMPLE_DATA.glob("*.csv"):
        shutil.copy(f, folder / f.name)
    c = pl.read_csv(folder / "consumers.csv", infer_schema=False)
    c.drop("defaulted").write_csv(folder / "consumers.csv")
    return folder


@pytest.fixture(scope="module")
def records_build(unlabelled_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rb") / "model"
    result = runner.invoke(
        app, ["build", str(unlabelled_sample), "-m", str(out), "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    (out.parent / "summary.json").write_text(result.stdout)
    return out


def test_build_without_defaulted_learns_from_the_records(records_build: Path) -> None:
    summary = json.loads((records_build.parent / "summary.json").read_text())
    o = summary["outcome"]
    assert o["source"] == "records"
    assert o["observation_date"] == "2025-01-01" and o["window_days"] == 365
    assert o["bills_due_before"] == "2025-12-02"
    assert o["good"] + o["bad"] == summary["labelled"]
    assert o["good"] + o["bad"] + o["unlabelled"] == summary["persons"]
    assert 1500 < summary["labelled"] < 2500  # sample_data: about 2,000 persons with bills due
    assert 0.05 < o["bad"] / summary["labelled"] < 0.2
    assert summary["holdout"]["auc"] > 0.75  # the records' outcome is learnable
    assert summary["warnings"] == []
    manifest = json.loads((records_build / "manifest.json").read_text())
    assert manifest["outcome"] == o
    card = runner.invoke(app, ["card", "P0000001", "-m", str(records_build), "--format", "json"])
    assert card.exit_code == 0, card.stderr
    notes = json.loads(card.stdout)["notes"]
    assert any("outcome derived from repayment records" in n for n in notes)


def test_records_model_is_the_model_of_the_features_as_of_t(
    records_build: Path, unlabelled_sample: Path, tmp_path: Path
) -> None:
    """Learning from the records = learning, as of T, the outcome the records give:
    the same trees, byte for byte."""
    scores = pl.read_parquet(records_build / "scores.parquet").select("person_id", "defaulted")
    folder = tmp_path / "as_of_t"
    folder.mkdir()
    for f in unlabelled_sample.glob("*.csv"):
        shutil.copy(f, folder / f.name)
    c = pl.read_csv(folder / "consumers.csv", infer_schema=False)
    c.join(
        scores.with_columns(pl.col("defaulted").cast(pl.String)), on="person_id", how="left"
    ).write_csv(folder / "consumers.csv")
    out = tmp_path / "m"
    result = runner.invoke(
        app, ["build", str(folder), "-m", str(out), "--as-of", "2025-01-01", "-o", "/dev/null"]
    )
    assert result.exit_code == 0, result.stderr
    assert (out / "model.json").read_bytes() == (records_build / "model.json").read_bytes()
    # ...while the scores are everyone's as of the as-of date, not of T
    then = pl.read_parquet(out / "scores.parquet").get_column("score").to_numpy()
    now = pl.read_parquet(records_build / "scores.parquet").get_column("score").to_numpy()
    assert not np.array_equal(then, now)


def test_label_records_overrides_the_column(tmp_path: Path) -> None:
    out = tmp_path / "m"
    result = runner.invoke(
        app,
        ["build", str(SAMPLE_DATA), "-m", str(out), "--label", "records", "--label-window", "300"],
    )
    assert result.exit_code == 0, result.stderr
    outcome = json.loads((out / "manifest.json").read_text())["outcome"]
    assert outcome["source"] == "records" and outcome["window_days"] == 300
    assert outcome["observation_date"] == "2025-03-07"


def test_label_column_without_the_column_is_refused(
    unlabelled_sample: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        app, ["build", str(unlabelled_sample), "-m", str(tmp_path / "m"), "--label", "column"]
    )
    assert result.exit_code == 3
    assert "no person has a known outcome" in result.stderr
    assert "--label records" in result.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--label", "maybe"], "--label must be one of auto, column, records"),
        (["--label-window", "30"], "--label-window"),
        (["--label-window", "x"], "--label-window"),
        (["--label", "records", "--as-of", "1900-06-01"], "observation date 1899-06-01"),
    ],
)
def test_bad_label_options_are_usage_errors(
    args: list[str], words: str, unlabelled_sample: Path, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["build", str(unlabelled_sample), "-m", str(tmp_path / "m"), *args])
    assert result.exit_code == 2, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('[build]\nlabel = "record"\n', "[build] label must be one of"),
        ("[build]\nlabel_window_days = 10\n", "label_window_days = 10 is out of range"),
        ("[build]\nlabel_window_days = 365.5\n", "must be a whole number"),
    ],
)
def test_bad_label_config_is_a_usage_error(toml: str, words: str, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(toml)
    result = runner.invoke(
        app, ["build", str(SAMPLE_DATA), "-m", str(tmp_path / "m"), "--config", str(cfg)]
    )
    assert result.exit_code == 2, result.stderr
    assert words in result.stderr


def test_config_label_records(unlabelled_sample: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[build]\nlabel = "records"\nlabel_window_days = 200\n')
    out = tmp_path / "m"
    result = runner.invoke(
        app, ["build", str(unlabelled_sample), "-m", str(out), "--config", str(cfg)]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads((out / "manifest.json").read_text())["outcome"]["window_days"] == 200


def test_no_bills_in_the_window_is_a_data_error(unlabelled_sample: Path, tmp_path: Path) -> None:
    """As of 2024-03-01 with a 365-day window, no bill fell due in the window."""
    result = runner.invoke(
        app,
        ["build", str(unlabelled_sample), "-m", str(tmp_path / "m"), "--as-of", "2024-03-01"],
    )
    assert result.exit_code == 3, result.stderr
    assert "no person has a known outcome" in result.stderr
    assert "no credit or instalment bill fell due from 2023-03-02 to 2024-01-31" in result.stderr
