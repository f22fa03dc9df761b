"""What exact points cost: dimension points from leaf values vs per-feature TreeSHAP.

    uv run python benchmarks/bench_points.py [--rows 200000] [--features 40]
        [--trees 300] [--depth 3] [--threads 2] [--repeats 3]

Trains a dimension-constrained model on synthetic data (a fixed number of trees, no
early stopping), then times, on ``--rows`` rows, the median of ``--repeats`` runs of:
the margin alone, ``pred_leaf`` alone, ``TrustModel.group_margins`` (pred_leaf plus
the leaf-value sums: the five dimensions' exact points) and
``TrustModel.feature_contribs`` (``pred_contribs``: exact TreeSHAP per feature).
Prints a markdown table to stdout.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import xgboost as xgb

from trustscore.features.spec import DIMENSIONS, FeatureSpec
from trustscore.model import TrustModel
from trustscore.params import ModelParams, Scale


def make_data(
    rows: int, features: int, seed: int
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    weights = rng.normal(0, 0.4, features)
    logit = -2.5 + X @ weights + 0.3 * np.sin(2 * X[:, 0]) * X[:, 1]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    X[rng.random(X.shape) < 0.05] = np.nan
    return X, y


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--features", type=int, default=40)
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--depth", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--train-rows", type=int, default=50_000)
    args = ap.parse_args()

    specs = [
        FeatureSpec(f"x{j:02d}", DIMENSIONS[j % len(DIMENSIONS)], 0, "", "")
        for j in range(args.features)
    ]
    params = ModelParams(
        max_depth=args.depth,
        n_estimators=args.trees,
        early_stopping_rounds=0,  # exactly --trees trees
        nthread=args.threads,
    )
    X_train, y_train = make_data(args.train_rows, args.features, seed=1)
    X, _ = make_data(args.rows, args.features, seed=2)
    cut = args.train_rows * 4 // 5
    start = time.perf_counter()
    model = TrustModel(specs, params, Scale(), seed=0).fit(
        X_train[:cut], y_train[:cut], X_train[cut:], y_train[cut:]
    )
    fit_s = time.perf_counter() - start

    booster = model.booster_
    margin = model.margin(X)
    bias, G = model.group_margins(X)
    _, C = model.feature_contribs(X)
    err_sum = float(np.abs(bias + G.sum(axis=1) - margin).max())
    per_dim = np.zeros_like(G)
    for j, g in enumerate(model.feature_group):
        per_dim[:, g] += C[:, j]
    err_shap = float(np.abs(per_dim - G).max())

    def leaves() -> object:
        return booster.predict(xgb.DMatrix(X, missing=np.nan), pred_leaf=True)

    timings = [
        ("margin (`output_margin`)", median_time(lambda: model.margin(X), args.repeats)),
        ("`pred_leaf` alone", median_time(leaves, args.repeats)),
        (
            "dimension points: `group_margins` (pred_leaf + leaf values)",
            median_time(lambda: model.group_margins(X), args.repeats),
        ),
        (
            "feature points: plain `pred_contribs` (TreeSHAP)",
            median_time(
                lambda: booster.predict(xgb.DMatrix(X, missing=np.nan), pred_contribs=True),
                args.repeats,
            ),
        ),
        (
            "feature points: `feature_contribs` (decision patterns, same values)",
            median_time(lambda: model.feature_contribs(X), args.repeats),
        ),
    ]
    raw = np.asarray(booster.predict(xgb.DMatrix(X, missing=np.nan), pred_contribs=True))
    err_pattern = float(np.abs(raw[:, :-1] - C).max())

    print(
        f"{args.rows:,} rows x {args.features} features, {model.n_trees} trees of depth "
        f"{args.depth}, nthread {args.threads}; xgboost {xgb.__version__}, numpy "
        f"{np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"median of {args.repeats} runs (fit on {args.train_rows:,} rows: {fit_s:.1f} s)"
    )
    print()
    print("| what | seconds | rows/s |")
    print("|---|---:|---:|")
    for name, seconds in timings:
        print(f"| {name} | {seconds:.3f} | {args.rows / seconds:,.0f} |")
    print()
    print(f"pred_contribs / group_margins: {timings[3][1] / timings[2][1]:.1f}x")
    print(f"pred_contribs / decision patterns: {timings[3][1] / timings[4][1]:.1f}x")
    print(f"max |decision patterns - pred_contribs| = {err_pattern:.2e}")
    print(f"max |bias + sum(G) - margin| = {err_sum:.2e}")
    print(f"max |TreeSHAP summed per dimension - G| = {err_shap:.2e}")


if __name__ == "__main__":
    main()
