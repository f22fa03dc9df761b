"""The price of explainability, measured: holdout AUC of the constrained model
(dimension additivity, the default; and feature additivity, a boosted points
scorecard) against an unconstrained XGBoost on the same features and split,
and, on German credit, against a logistic regression on one-hot attributes.

    uv run python benchmarks/bench_quality.py [--data sample_data] [--german PATH]

Prints a markdown table. Not a test: quality figures live here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from trustscore import metrics
from trustscore.config import Config
from trustscore.model import TrustModel, to_matrix
from trustscore.params import ModelParams, Scale
from trustscore.pipeline import prepare
from trustscore.splits import split_dev_holdout, split_es

ROOT = Path(__file__).resolve().parent.parent


def german_folder(path: Path, out: Path) -> Path:
    german = pl.read_csv(path, infer_schema=False)
    consumers = german.with_columns(
        pl.format("G{}", pl.int_range(1, pl.len() + 1)).alias("person_id"),
        pl.when(pl.col("creditability") == "bad")
        .then(pl.lit("1"))
        .otherwise(pl.lit("0"))
        .alias("defaulted"),
    ).drop("creditability")
    out.mkdir(parents=True, exist_ok=True)
    consumers.select("person_id", pl.exclude("person_id")).write_csv(out / "consumers.csv")
    return out


def _logistic(X: np.ndarray[Any, Any], y: np.ndarray[Any, Any], l2: float = 1.0) -> Any:
    """Plain L2-regularised logistic regression by Newton's method (no sklearn)."""
    Xb = np.hstack([np.ones((X.shape[0], 1)), X])
    w = np.zeros(Xb.shape[1])
    reg = np.full(Xb.shape[1], l2)
    reg[0] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(Xb @ w)))
        grad = Xb.T @ (p - y) + reg * w
        hess = (Xb * (p * (1 - p))[:, None]).T @ Xb + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break

    def predict(Z: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        return np.asarray(1.0 / (1.0 + np.exp(-(np.hstack([np.ones((Z.shape[0], 1)), Z]) @ w))))

    return predict


def _design(frame: pl.DataFrame, specs: list[Any]) -> np.ndarray[Any, Any]:
    """One-hot for categories, standardised numbers with a missing flag."""
    cols: list[np.ndarray[Any, Any]] = []
    for s in specs:
        c = frame.get_column(s.name)
        if s.is_categorical:
            v = c.cast(pl.String).to_list()
            for level in s.categories[1:]:
                cols.append(np.array([1.0 if x == level else 0.0 for x in v]))
        else:
            x = c.cast(pl.Float64).to_numpy()
            miss = np.isnan(x)
            mu, sd = np.nanmean(x) if (~miss).any() else 0.0, np.nanstd(x) or 1.0
            cols.append(np.where(miss, 0.0, (x - mu) / sd))
            if miss.any():
                cols.append(miss.astype(float))
    return np.column_stack(cols)


def evaluate(data: Path, as_of: dt.date | None, seed: int = 0) -> dict[str, float]:
    cfg = Config()
    prepared = prepare(data, config=cfg, as_of=as_of)
    frame, specs = prepared.features.frame, prepared.features.specs
    y_all = (
        frame.select("person_id")
        .join(prepared.tables.consumers.select("person_id", "defaulted"), on="person_id")
        .get_column("defaulted")
        .cast(pl.Float64)
        .to_numpy()
    )
    lab = np.flatnonzero(~np.isnan(y_all))
    y = y_all[lab]
    X = to_matrix(frame, specs)[lab]
    dev, hold = split_dev_holdout(y, seed, cfg.build.holdout)
    out: dict[str, float] = {}
    for name, params in (
        ("dimension additivity (default)", ModelParams()),
        ("feature additivity (points scorecard)", ModelParams(additivity="feature")),
    ):
        train, es = split_es(dev, y, seed, params.es_fraction)
        model = TrustModel(specs, params, Scale(), seed).fit(X[train], y[train], X[es], y[es])
        out[name] = metrics.auc(y[hold], model.p_bad(X[hold]))
    import xgboost as xgb

    train, es = split_es(dev, y, seed, 0.2)
    types = ["c" if s.is_categorical else "q" for s in specs]
    dtrain = xgb.DMatrix(X[train], y[train], feature_types=types, enable_categorical=True)
    des = xgb.DMatrix(X[es], y[es], feature_types=types, enable_categorical=True)
    booster = xgb.train(
        {
            "objective": "binary:logistic",
            "tree_method": "hist",
            "max_depth": 3,
            "eta": 0.1,
            "subsample": 0.8,
            "min_child_weight": 5.0,
            "seed": seed,
            "eval_metric": "logloss",
        },
        dtrain,
        num_boost_round=600,
        evals=[(des, "es")],
        early_stopping_rounds=30,
        verbose_eval=False,
    )
    dhold = xgb.DMatrix(X[hold], feature_types=types, enable_categorical=True)
    p = booster.predict(dhold, iteration_range=(0, booster.best_iteration + 1))
    out["unconstrained XGBoost (same depth)"] = metrics.auc(y[hold], p)
    D = _design(frame, specs)[lab]
    predict = _logistic(D[dev], y[dev])
    out["logistic regression (one-hot / standardised)"] = metrics.auc(y[hold], predict(D[hold]))
    out["holdout persons"] = float(hold.size)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=ROOT / "sample_data")
    ap.add_argument("--german", type=Path, default=ROOT / "tests" / "data" / "german_credit.csv")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    results = {"sample_data": evaluate(args.data, None, args.seed)}
    with tempfile.TemporaryDirectory() as tmp:
        folder = german_folder(args.german, Path(tmp) / "german")
        results["German credit"] = evaluate(folder, dt.date(2026, 1, 1), args.seed)
    names = list(next(iter(results.values())))
    print("| holdout AUC | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for n in names:
        cells = [
            f"{r[n]:.0f}" if n == "holdout persons" else f"{r[n]:.4f}" for r in results.values()
        ]
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
