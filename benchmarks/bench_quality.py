"""The price of explainability, measured: holdout AUC of trustscore's model against
the best glass-box and linear models and an unconstrained XGBoost, on the same
features and the same development / holdout split (``trustscore.splits``).

    uv run --group bench python benchmarks/bench_quality.py [--seeds 5] [--data50k DIR]

Models, all fitted on the development rows only and scored on the holdout:

- trustscore default (dimension additivity) and feature additivity (a boosted
  points scorecard): ``TrustModel`` exactly as ``trustscore build`` trains it;
- Explainable Boosting Machine (interpret-core): its defaults (pairwise
  interactions); with only the pairs inside one dimension, the interactions
  trustscore's exact dimension points allow; and with ``interactions=0`` (a
  pure additive model, as trustscore's feature additivity);
- L2 logistic regression, C by 5-fold cross-validation on the development rows,
  on standardised numbers with missing flags, and on quantile bins (a classic
  scorecard); categories one-hot in both;
- unconstrained XGBoost, depth and learning rate chosen on the same
  early-stopping rows trustscore stops on.

Data sets: sample_data, German credit (1,000 persons) and a ``trustscore sample
--persons 50000 --seed 7`` folder (made in a temporary folder unless --data50k
names one). Each row is the mean and the spread (standard deviation) of the
holdout AUC over split seeds 0..N-1; the last rows give trustscore's default
minus the best anchor, paired by seed, which is far less noisy than either.

interpret-core and scikit-learn are in the ``bench`` dependency group, never in
the runtime (DESIGN 7). ``uv run --group bench`` installs them into the project's
environment; ``uv sync --frozen`` afterwards takes them out again (or point
UV_PROJECT_ENVIRONMENT at a separate one). The EBMs with pairs take most of the
time: minutes a seed on 2 cores at 50k persons. Not a test: quality figures
live here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from trustscore import metrics
from trustscore.config import Config
from trustscore.features.spec import FeatureSpec
from trustscore.model import TrustModel, to_matrix
from trustscore.params import ModelParams, Scale
from trustscore.pipeline import prepare
from trustscore.splits import split_dev_holdout, split_es

ROOT = Path(__file__).resolve().parent.parent
Array = npt.NDArray[Any]


@dataclass(frozen=True)
class Data:
    """The labelled persons of one folder: features as trustscore computes them."""

    name: str
    frame: pl.DataFrame  # feature columns in spec order, labelled rows only
    specs: tuple[FeatureSpec, ...]
    X: npt.NDArray[np.float32]  # to_matrix(frame): what the trees see
    y: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Split:
    """Development (train + early-stopping) and holdout rows, as ``trustscore build``
    draws them for a seed."""

    seed: int
    dev: Array
    hold: Array
    train: Array
    es: Array


Fit = Callable[[Data, Split], Array]  # -> P(bad) on the holdout rows


def load(name: str, folder: Path, as_of: dt.date | None) -> Data:
    cfg = Config()
    prepared = prepare(folder, config=cfg, as_of=as_of)
    frame, specs = prepared.features.frame, tuple(prepared.features.specs)
    # the defaulted column; all three data sets have one
    y_all = (
        frame.select("person_id")
        .join(
            prepared.tables.consumers.select("person_id", "defaulted"),
            on="person_id",
            how="left",
            maintain_order="left",
        )
        .get_column("defaulted")
        .cast(pl.Float64)
        .fill_null(np.nan)
        .to_numpy()
    )
    lab = np.flatnonzero(~np.isnan(y_all))
    frame = frame[lab].select([s.name for s in specs])
    return Data(name, frame, specs, to_matrix(frame, specs), y_all[lab])


def split(data: Data, seed: int) -> Split:
    """The build's own split: ``[build] holdout`` and ``[model] es_fraction`` defaults."""
    dev, hold = split_dev_holdout(data.y, seed, Config().build.holdout)
    train, es = split_es(dev, data.y, seed, ModelParams().es_fraction)
    return Split(seed, dev, hold, train, es)


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


def sample_folder(out: Path, persons: int, seed: int) -> Path:
    cmd = ["trustscore", "sample", str(out), "--persons", str(persons), "--seed", str(seed)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


# ---------------------------------------------------------------------------- models


def trustscore_fit(params: ModelParams) -> Fit:
    def fit(d: Data, s: Split) -> Array:
        model = TrustModel(d.specs, params, Scale(), seed=s.seed)
        model.fit(d.X[s.train], d.y[s.train], d.X[s.es], d.y[s.es])
        return model.p_bad(d.X[s.hold])

    return fit


def xgboost_fit(d: Data, s: Split) -> Array:
    """Unconstrained XGBoost, modestly tuned: depth x learning rate chosen by log loss
    on the early-stopping rows, each stopped early on them."""
    import xgboost as xgb

    def dmatrix(rows: Array, label: bool = True) -> Any:
        types = ["c" if sp.is_categorical else "q" for sp in d.specs]
        y = d.y[rows] if label else None
        return xgb.DMatrix(d.X[rows], y, feature_types=types, enable_categorical=True)

    dtrain, des = dmatrix(s.train), dmatrix(s.es)
    best: tuple[float, Any] | None = None
    for depth in (3, 4, 6):
        for eta in (0.1, 0.03):
            history: dict[str, Any] = {}
            booster = xgb.train(
                {
                    "objective": "binary:logistic",
                    "eval_metric": "logloss",
                    "tree_method": "hist",
                    "max_depth": depth,
                    "eta": eta,
                    "subsample": 0.8,
                    "min_child_weight": 5.0,
                    "seed": s.seed,
                    "nthread": 1,  # 36 small fits: threads cost more than they give
                },
                dtrain,
                num_boost_round=3000,
                evals=[(des, "es")],
                evals_result=history,
                early_stopping_rounds=int(3 / eta),
                verbose_eval=False,
            )
            loss = history["es"]["logloss"][booster.best_iteration]
            if best is None or loss < best[0]:
                best = (loss, booster[: booster.best_iteration + 1])
    assert best is not None
    return np.asarray(best[1].predict(dmatrix(s.hold, label=False)))


def _pandas(d: Data) -> Any:
    """The feature frame for interpret: categories as text (missing as its own level)."""
    import pandas as pd

    columns: dict[str, Any] = {}
    for j, sp in enumerate(d.specs):
        if sp.is_categorical:
            values = d.frame.get_column(sp.name).cast(pl.String).fill_null("(missing)")
            columns[sp.name] = pd.Series(values.to_list(), dtype=object)
        else:
            columns[sp.name] = d.X[:, j].astype(np.float64)
    return pd.DataFrame(columns)


def ebm_fit(within_dimension: bool = False, **options: Any) -> Fit:
    """An EBM; ``within_dimension`` excludes the pairs that span two dimensions, the
    interactions trustscore's dimension constraint rules out."""

    def fit(d: Data, s: Split) -> Array:
        from interpret.glassbox import ExplainableBoostingClassifier

        X = _pandas(d)
        types = ["nominal" if sp.is_categorical else "continuous" for sp in d.specs]
        kwargs = dict(options)
        if within_dimension:
            kwargs["exclude"] = [
                [a.name, b.name]
                for i, a in enumerate(d.specs)
                for b in d.specs[i + 1 :]
                if a.dimension != b.dimension
            ]
        ebm = ExplainableBoostingClassifier(
            feature_types=types, random_state=s.seed, n_jobs=-1, **kwargs
        )
        ebm.fit(X.iloc[s.dev], d.y[s.dev])
        return np.asarray(ebm.predict_proba(X.iloc[s.hold])[:, 1])

    return fit


def _design(d: Data, dev: Array, binned: bool) -> Array:
    """One-hot categories; numbers standardised with a missing flag, or one-hot in
    up to ten quantile bins of the development rows plus a missing bin."""
    cols: list[Array] = []
    for j, sp in enumerate(d.specs):
        x = d.X[:, j].astype(np.float64)
        miss = np.isnan(x)
        if sp.is_categorical:
            codes = np.where(miss, -1, x)
            levels = np.unique(codes[dev])
        elif binned:
            known = x[dev][~miss[dev]]
            qs = np.quantile(known, np.linspace(0.1, 0.9, 9)) if known.size else []
            edges = np.unique(qs)
            codes = np.where(miss, -1, np.searchsorted(edges, x, side="right"))
            levels = np.unique(codes[dev])
        else:
            known = x[dev][~miss[dev]]
            mu = known.mean() if known.size else 0.0
            sd = known.std() if known.size and known.std() > 0 else 1.0
            cols.append(np.where(miss, 0.0, (x - mu) / sd))
            if miss[dev].any():
                cols.append(miss.astype(np.float64))
            continue
        # the most common level is the reference, so the design is not collinear
        counts = [(codes[dev] == v).sum() for v in levels]
        ref = levels[int(np.argmax(counts))]
        cols.extend((codes == v).astype(np.float64) for v in levels if v != ref)
    return np.column_stack(cols)


def logistic_fit(binned: bool) -> Fit:
    def fit(d: Data, s: Split) -> Array:
        from sklearn.linear_model import LogisticRegressionCV
        from sklearn.model_selection import StratifiedKFold

        D = _design(d, s.dev, binned)
        lr = LogisticRegressionCV(
            Cs=np.logspace(-3, 2, 11).tolist(),
            cv=StratifiedKFold(5, shuffle=True, random_state=s.seed),
            scoring="neg_log_loss",
            max_iter=5000,
        )
        lr.fit(D[s.dev], d.y[s.dev])
        return np.asarray(lr.predict_proba(D[s.hold])[:, 1])

    return fit


TRUSTSCORE = "trustscore default (dimension additivity)"
MODELS: dict[str, Fit] = {
    TRUSTSCORE: trustscore_fit(ModelParams()),
    "trustscore feature additivity (points scorecard)": trustscore_fit(
        ModelParams(additivity="feature")
    ),
    "EBM (interpret defaults, pairwise interactions)": ebm_fit(),
    "EBM, pairs within a dimension only": ebm_fit(within_dimension=True),
    "EBM, interactions=0 (additive)": ebm_fit(interactions=0),
    "logistic regression, standardised + missing flags": logistic_fit(binned=False),
    "logistic regression, quantile bins (scorecard)": logistic_fit(binned=True),
    "XGBoost unconstrained (depth 3/4/6, eta 0.1/0.03)": xgboost_fit,
}
ANCHORS = [n for n in MODELS if not n.startswith("trustscore")]


# ---------------------------------------------------------------------------- running


@dataclass
class Result:
    auc: dict[str, list[float]]
    holdout: int
    development: int
    features: int
    seconds: dict[str, float]


def evaluate(data: Data, seeds: Sequence[int], models: Sequence[str]) -> Result:
    auc: dict[str, list[float]] = {m: [] for m in models}
    seconds = dict.fromkeys(models, 0.0)
    for seed in seeds:
        s = split(data, seed)
        for m in models:
            t = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = MODELS[m](data, s)
            seconds[m] += time.perf_counter() - t
            auc[m].append(metrics.auc(data.y[s.hold], p))
            print(f"  {data.name} seed {seed} {m}: {auc[m][-1]:.4f}", file=sys.stderr)
    return Result(auc, s.hold.size, s.dev.size, len(data.specs), seconds)


def table(results: dict[str, Result], models: Sequence[str]) -> str:
    def cell(values: Sequence[float]) -> str:
        return f"{np.mean(values):.4f} ± {np.std(values):.4f}"

    lines = [
        "| holdout AUC, mean ± sd over seeds | " + " | ".join(results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for m in models:
        lines.append(f"| {m} | " + " | ".join(cell(r.auc[m]) for r in results.values()) + " |")
    anchors = [m for m in ANCHORS if m in models]
    if TRUSTSCORE in models and anchors:
        best = {n: max(anchors, key=lambda m: np.mean(r.auc[m])) for n, r in results.items()}
        lines.append("| best anchor | " + " | ".join(best.values()) + " |")
        gaps = [np.subtract(r.auc[TRUSTSCORE], r.auc[best[n]]).tolist() for n, r in results.items()]
        lines.append(
            "| trustscore default − best anchor, paired | "
            + " | ".join(f"{np.mean(g):+.4f} ± {np.std(g):.4f}" for g in gaps)
            + " |"
        )
    for label, value in (
        ("holdout persons", lambda r: r.holdout),
        ("development persons", lambda r: r.development),
        ("features", lambda r: r.features),
        ("seeds", lambda r: len(next(iter(r.auc.values())))),
    ):
        lines.append(f"| {label} | " + " | ".join(str(value(r)) for r in results.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=ROOT / "sample_data")
    ap.add_argument("--german", type=Path, default=ROOT / "tests" / "data" / "german_credit.csv")
    ap.add_argument("--data50k", type=Path, help="a `trustscore sample --persons 50000` folder")
    ap.add_argument("--seeds", type=int, default=5, help="split seeds 0..N-1 (default 5)")
    ap.add_argument("--sets", default="sample,german,50k", help="comma-separated data sets")
    ap.add_argument("--models", help="comma-separated substrings of model names (default all)")
    args = ap.parse_args()
    models = [
        m
        for m in MODELS
        if not args.models or any(k.strip().lower() in m.lower() for k in args.models.split(","))
    ]
    wanted = args.sets.split(",")
    seeds = range(args.seeds)
    results: dict[str, Result] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if "sample" in wanted:
            data = load("sample_data", args.data, None)
            results["sample_data"] = evaluate(data, seeds, models)
        if "german" in wanted:
            folder = german_folder(args.german, Path(tmp) / "german")
            data = load("German credit", folder, dt.date(2026, 1, 1))
            results["German credit"] = evaluate(data, seeds, models)
        if "50k" in wanted:
            folder = args.data50k or sample_folder(Path(tmp) / "s50k", 50_000, 7)
            data = load("sample 50k", folder, None)
            results["sample 50k (seed 7)"] = evaluate(data, seeds, models)
    print(table(results, models))
    for name, r in results.items():
        spent = ", ".join(f"{m.split(' (')[0]} {t:.0f}s" for m, t in r.seconds.items())
        print(f"\n{name}, fitting time over all seeds: {spent}", file=sys.stderr)


if __name__ == "__main__":
    main()
