"""monitor: PSI by hand (with the guard for empty bins), the bins of numbers and
categories, the verdicts' edges; through the CLI, the model's own population is
stable (exit 0) and a shifted one raises the alarm (exit 6, naming what moved)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from trustscore.cli import app
from trustscore.monitor import (
    GUARD,
    MONITOR_SCHEMA,
    bin_bands,
    bin_categories,
    bin_numbers,
    psi,
    verdict,
)
from trustscore.sample import generate

runner = CliRunner()


def test_psi_by_hand() -> None:
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    want = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert psi([50, 50], [25, 75]) == pytest.approx(want, abs=1e-12)
    assert psi([3, 3, 4], [30, 30, 40]) == pytest.approx(0.0, abs=1e-12)  # shares, not counts
    assert psi([1, 2], [2, 1]) == pytest.approx(psi([2, 1], [1, 2]))  # symmetric


def test_an_empty_bin_counts_as_the_guard() -> None:
    # the reference has nobody in the second bin: its share counts as GUARD, not 0
    want = (0.5 - 1.0) * math.log(0.5 / 1.0) + (0.5 - GUARD) * math.log(0.5 / GUARD)
    assert psi([100, 0], [50, 50]) == pytest.approx(want, rel=1e-9)
    assert math.isfinite(psi([0, 10], [10, 0]))
    with pytest.raises(ValueError):
        psi([0, 0], [1, 1])
    with pytest.raises(ValueError):
        psi([1, 2], [1, 2, 3])


@pytest.mark.parametrize(
    "value, word",
    [(0.0, "stable"), (0.0999, "stable"), (0.10, "watch"), (0.2499, "watch"), (0.25, "act")],
)
def test_verdicts_at_their_edges(value: float, word: str) -> None:
    assert verdict(value) == word


def test_numbers_by_the_references_deciles() -> None:
    reference = pl.Series("x", [float(i) for i in range(1, 11)] + [None, float("nan")])
    current = pl.Series("x", [1.0, 1.0, 5.5, 10.0, 99.0, None])
    binned = bin_numbers(reference, current)
    # deciles of 1..10 at 1, 2, ..., 9 (values it holds): ten bins of one value each
    assert len(binned.labels) == 11 and binned.labels[-1] == "missing"
    assert binned.labels[:2] == ["<= 1", "(1, 2]"] and binned.labels[-2] == "> 9"
    assert binned.reference.tolist() == [1] * 10 + [2]  # NaN counts as missing
    assert binned.current.tolist() == [2, 0, 0, 0, 0, 1, 0, 0, 0, 2, 1]
    # ties merge bins: a count that is mostly zero has few
    zeros = pl.Series("n", [0.0] * 80 + [1.0] * 15 + [5.0] * 5)
    tied = bin_numbers(zeros, zeros)
    assert tied.labels == ["<= 0", "(0, 1]", "> 1", "missing"]
    assert tied.psi == pytest.approx(0.0)
    # a constant has one bin; every new value falls in it or in missing
    const = bin_numbers(pl.Series([3.0, 3.0]), pl.Series([7.0, None]))
    assert const.labels == ["all", "missing"] and const.current.tolist() == [1, 1]


def test_categories_with_unseen_and_missing() -> None:
    reference = pl.Series("c", ["a", "a", "b", None])
    current = pl.Series("c", ["b", "z", "z", None, None])
    binned = bin_categories(reference, current)
    assert binned.labels == ["a", "b", "unseen", "missing"]
    assert binned.reference.tolist() == [2, 1, 0, 1]
    assert binned.current.tolist() == [0, 1, 2, 2]
    assert binned.top_bin() == "a: 50.0% -> 0.0%"


def test_bands_in_scale_order() -> None:
    binned = bin_bands(pl.Series(["poor", "good", "good"]), pl.Series(["excellent"]))
    assert binned.labels == ["poor", "fair", "good", "very good", "excellent"]
    assert binned.reference.tolist() == [1, 0, 2, 0, 0]
    assert binned.current.tolist() == [0, 0, 0, 0, 1]


# ------------------------------------------------------------------ the command


def _monitor(model: Path, data: Path, *args: str) -> tuple[int, pl.DataFrame, str]:
    result = runner.invoke(app, ["monitor", str(data), "--model", str(model), "-f", "csv", *args])
    frame = (
        pl.read_csv(io.StringIO(result.stdout), schema=MONITOR_SCHEMA)
        if result.stdout
        else pl.DataFrame(schema=MONITOR_SCHEMA)
    )
    return result.exit_code, frame, result.stderr


def test_the_models_own_population_is_stable(model_dir: Path, data_dir: Path) -> None:
    code, frame, err = _monitor(model_dir, data_dir)
    assert code == 0, err
    drift = frame.filter(pl.col("kind") != "outcome")
    assert set(drift["kind"]) == {"score", "dimension", "feature"}
    assert drift.height > 40
    assert (drift["psi"] < 0.01).all()
    assert set(drift["verdict"]) == {"stable"}
    # the outcomes of the same persons: the model's AUC on everyone labelled
    auc = frame.filter((pl.col("kind") == "outcome") & (pl.col("name") == "auc"))
    assert auc.height == 1 and 0.6 < auc["current"][0] < 1.0
    assert auc["reference"][0] is not None


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture platform's persons and seed, its population moved by one
    standard deviation of reliability (conftest's data_dir: 1,500 persons, seed 7)."""
    folder = tmp_path_factory.mktemp("shifted")
    generate(folder, persons=1500, seed=7, drift=1.0)
    return folder


def test_a_shifted_population_raises_the_alarm(
    model_dir: Path, data_dir: Path, shifted: Path
) -> None:
    code, frame, err = _monitor(model_dir, shifted)
    assert code == 6, err
    band = frame.filter(pl.col("kind") == "score").row(0, named=True)
    assert band["psi"] >= 0.25 and band["verdict"] == "act"
    past = frame.filter(pl.col("psi") >= 0.25).sort("psi", descending=True)
    assert "drift at or past 0.25" in err
    for kind, name in past.select("kind", "name").head(5).rows():
        assert f"{kind} {name}" in err
    # the riskier population defaults more
    rate = frame.filter(pl.col("name") == "bad_rate").row(0, named=True)
    assert rate["current"] > rate["reference"]
    # the same check with a looser alarm passes, and writes the same table
    code, loose, _ = _monitor(model_dir, shifted, "--alarm", "5")
    assert code == 0 and loose.equals(frame)


def test_drift_zero_is_no_drift(tmp_path: Path) -> None:
    generate(tmp_path / "a", persons=300, seed=3)
    generate(tmp_path / "b", persons=300, seed=3, drift=0.0)
    for name in ("consumers.csv", "merchants.csv", "transactions.csv", "logistics.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    with pytest.raises(ValueError):
        generate(tmp_path / "c", persons=10, drift=-1.0)


def test_monitor_bad_input_exits_as_documented(model_dir: Path, tmp_path: Path) -> None:
    code, _, err = _monitor(model_dir, tmp_path / "nowhere")
    assert code in (2, 3) and "nowhere" in err
    code, _, err = _monitor(tmp_path / "no-model", tmp_path)
    assert code == 5
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "consumers.csv").write_text("person_id,monthly_income\nP1,lots\n")
    code, _, err = _monitor(model_dir, bad)
    assert code == 3 and "lots" in err
