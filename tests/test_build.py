"""build and score: exact points, monotone features, the same scores every time,
a model folder written whole or not at all."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import GERMAN_CREDIT
from trustscore.cli import app
from trustscore.config import Config
from trustscore.errors import DataError, UsageError
from trustscore.features.spec import DIMENSIONS
from trustscore.model import TrustModel, to_matrix
from trustscore.model_folder import DIMENSION_COLUMNS, SCORE_COLUMNS
from trustscore.pipeline import build, prepare

runner = CliRunner()


def test_folder_contents(model_dir: Path) -> None:
    names = sorted(p.name for p in model_dir.iterdir())
    assert names == sorted(
        [
            "config.json",
            "events.parquet",
            "features.parquet",
            "manifest.json",
            "metrics.json",
            "model.json",
            "model_meta.json",
            "points.parquet",
            "scores.parquet",
        ]
    )
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert set(manifest["versions"]) == {"trustscore", "xgboost", "polars"}
    assert [i["file"] for i in manifest["inputs"]] == [
        "consumers.csv",
        "merchants.csv",
        "transactions.csv",
        "logistics.csv",
    ]
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    metrics = json.loads((model_dir / "metrics.json").read_text())
    for part in ("development", "holdout"):
        for key in ("auc", "gini", "ks", "brier", "log_loss"):
            assert isinstance(metrics[part][key], float)
        assert abs(metrics[part]["gini"] - (2 * metrics[part]["auc"] - 1)) < 1e-12
    assert metrics["trees"] >= 1


def test_points_add_up_exactly(model_dir: Path) -> None:
    scores = pl.read_parquet(model_dir / "scores.parquet")
    total = scores.select(pl.sum_horizontal("base_points", *DIMENSION_COLUMNS)).to_series()
    # each part is rounded to 0.01, so six parts differ from the total by < 0.04
    assert (total - scores["model_score"]).abs().max() < 0.04  # type: ignore[operator]
    points = pl.read_parquet(model_dir / "points.parquet")
    meta = json.loads((model_dir / "model_meta.json").read_text())
    by_dim: dict[str, list[str]] = {d.value: [] for d in DIMENSIONS}
    for spec in meta["specs"]:
        by_dim[spec["dimension"]].append(spec["name"])
    for dim, names in by_dim.items():
        if names:
            feature_sum = points.select(pl.sum_horizontal(names)).to_series()
            # TreeSHAP per feature adds up to the dimension's leaf-value points
            assert (feature_sum - scores[dim]).abs().max() < 0.01 * len(names) + 0.01  # type: ignore[operator]


def test_one_dimension_changes_only_its_points(model_dir: Path, data_dir: Path) -> None:
    model = TrustModel.load(model_dir)
    prepared = prepare(data_dir, config=Config())
    X = to_matrix(prepared.features.frame, model.specs)
    bias, before = model.group_margins(X)
    changed = X.copy()
    identity = [j for j, s in enumerate(model.specs) if s.dimension.value == "identity"]
    rng = np.random.default_rng(0)
    changed[:, identity] = rng.permutation(changed[:, identity], axis=0)
    bias2, after = model.group_margins(changed)
    assert bias2 == bias
    k = DIMENSIONS.index(next(d for d in DIMENSIONS if d.value == "identity"))
    others = [i for i in range(len(DIMENSIONS)) if i != k]
    assert np.array_equal(before[:, others], after[:, others])
    assert not np.array_equal(before[:, k], after[:, k])


def test_monotone_features(model_dir: Path, data_dir: Path) -> None:
    model = TrustModel.load(model_dir)
    prepared = prepare(data_dir, config=Config())
    X = to_matrix(prepared.features.frame, model.specs)[:300]
    base = model.margin(X)
    checked = 0
    for j, spec in enumerate(model.specs):
        if spec.direction == 0:
            continue
        raised = X.copy()
        col = raised[:, j]
        step = np.nanstd(X[:, j]) or 1.0
        raised[:, j] = np.where(np.isnan(col), col, col + step)
        moved = model.margin(raised) - base
        # direction +1: more of it never lowers the risk (never raises the score)
        assert (spec.direction * moved >= -1e-6).all(), spec.name
        checked += 1
    assert checked >= 10


def test_same_inputs_same_bytes(data_dir: Path, model_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build(data_dir, again, config=Config())
    for name in ("scores.parquet", "points.parquet", "features.parquet", "model.json"):
        assert (again / name).read_bytes() == (model_dir / name).read_bytes(), name


def test_failed_build_leaves_old_model(
    data_dir: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trustscore.model_folder import FolderWriter

    target = tmp_path / "m"
    shutil.copytree(model_dir, target)
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def fail(self: FolderWriter, manifest: object) -> Path:
        raise RuntimeError("injected failure before the swap")

    with monkeypatch.context() as patch:
        patch.setattr(FolderWriter, "commit", fail)
        with pytest.raises(RuntimeError, match="injected"):
            build(data_dir, target, config=Config(), force=True)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    bad = tmp_path / "bad"
    shutil.copytree(data_dir, bad)
    with (bad / "transactions.csv").open("a") as fh:
        fh.write("TX,P0000001,M000001,not-a-time,5,completed,,,,,\n")
    result = runner.invoke(app, ["build", str(bad), "--out", str(target), "--force"])
    assert result.exit_code == 3
    assert "not-a-time" in result.stderr
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_existing_model_needs_force(data_dir: Path, model_dir: Path) -> None:
    result = runner.invoke(app, ["build", str(data_dir), "--out", str(model_dir)])
    assert result.exit_code == 2
    assert "--force" in result.stderr


def test_no_labels_or_one_class_refused(data_dir: Path, tmp_path: Path) -> None:
    consumers = pl.read_csv(data_dir / "consumers.csv", infer_schema=False)
    for label, words in ((None, "no person has a known outcome"), ("0", "same outcome")):
        folder = tmp_path / f"l{label}"
        folder.mkdir()
        consumers.with_columns(pl.lit(label, dtype=pl.String).alias("defaulted")).write_csv(
            folder / "consumers.csv"
        )
        result = runner.invoke(app, ["build", str(folder), "--out", str(tmp_path / "m")])
        assert result.exit_code == 3, result.stderr
        assert words in result.stderr
        assert not (tmp_path / "m").exists()


def test_score_matches_build(data_dir: Path, model_dir: Path) -> None:
    result = runner.invoke(app, ["score", str(data_dir), "--model", str(model_dir), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split(",") == SCORE_COLUMNS
    scored = pl.read_csv(result.stdout.encode(), schema_overrides={"person_id": pl.String})
    stored = pl.read_parquet(model_dir / "scores.parquet").select(SCORE_COLUMNS)
    assert scored.equals(stored.cast(dict(scored.schema)))  # type: ignore[arg-type]


def test_score_refuses_bad_model_folders(data_dir: Path, model_dir: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["score", str(data_dir), "--model", str(tmp_path / "none")])
    assert result.exit_code == 5
    assert "no model folder" in result.stderr
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.json").write_text("{not json")
    result = runner.invoke(app, ["score", str(data_dir), "--model", str(broken)])
    assert result.exit_code == 5, result.stderr
    assert "Traceback" not in result.stderr
    # data without logistics cannot give the shipment features the model uses
    partial = tmp_path / "partial"
    shutil.copytree(data_dir, partial)
    (partial / "logistics.csv").unlink()
    result = runner.invoke(app, ["score", str(partial), "--model", str(model_dir)])
    assert result.exit_code == 5
    assert "logistics" in result.stderr


def test_german_credit_consumers_only(tmp_path: Path) -> None:
    german = pl.read_csv(GERMAN_CREDIT, infer_schema=False)
    consumers = german.with_columns(
        pl.format("G{}", pl.int_range(1, pl.len() + 1)).alias("person_id"),
        pl.when(pl.col("creditability") == "bad")
        .then(pl.lit("1"))
        .otherwise(pl.lit("0"))
        .alias("defaulted"),
    ).drop("creditability")
    folder = tmp_path / "german"
    folder.mkdir()
    consumers.select("person_id", pl.exclude("person_id")).write_csv(folder / "consumers.csv")
    out = tmp_path / "gm"
    result = runner.invoke(
        app, ["build", str(folder), "--out", str(out), "--as-of", "2026-01-01", "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert 0.65 < summary["holdout"]["auc"] < 0.95
    assert "age_in_years" in result.stderr and "foreign_worker" in result.stderr
    meta = json.loads((out / "model_meta.json").read_text())
    names = {s["name"] for s in meta["specs"]}
    assert "duration_in_month" in names and "purpose" in names
    assert not names & {"age_in_years", "personal_status_and_sex", "foreign_worker"}


def test_consumers_only_without_labels_is_data_error(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "consumers.csv").write_text("person_id,monthly_income\nA,1\nB,2\n")
    with pytest.raises(UsageError, match="as-of date"):
        build(folder, tmp_path / "m", config=Config())  # no date to take the as-of from
    with pytest.raises(DataError, match="no person has a known outcome"):
        build(folder, tmp_path / "m", config=Config(), as_of=dt.date(2026, 1, 1))
