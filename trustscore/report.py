"""The model report (DESIGN 5, ``report``): one self-contained HTML file.

What an analyst signs a model off by: the model's facts (as-of, the data's
fingerprints, features, trees, config); on the holdout, the ROC and KS curves
with AUC, Gini and KS and a bootstrap interval for each; calibration
(predicted against observed bad rate by decile and by band); the score
distribution by band, goods and bads side by side; each dimension's and
feature's importance (mean |points| over everyone) and, for the ten
strongest features, points against the feature's value; with a policy, the
strategy table of ``decide --strategy`` as a chart; with a data folder, its
drift (``monitor``) and fairness (``audit``) tables.

Everything is computed here as frames and numbers (:class:`Report`); the
HTML (:func:`to_html`) is those numbers drawn as inline SVG (``svg``), with
no script needed to draw and none fetched: it opens offline. One small
inline script only checks the page after it is laid out (every chart drew
its marks, no error was raised) and writes the result into the page, for
the browser test.

The curves come from the stored scores of the holdout persons; when the
outcome was derived from the records, the model was judged on scores as of
T, which the folder does not keep, so the curves are left out and the
figures of metrics.json stand alone.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from trustscore.bands import BANDS
from trustscore.metrics import auc, ks
from trustscore.model_folder import (
    DIMENSION_COLUMNS,
    FEATURES_FILE,
    METRICS_FILE,
    POINTS_FILE,
    SCORES_FILE,
    ModelFolder,
)
from trustscore.svg import Series, bar_chart, line_chart, scatter

BOOTSTRAP: Final = 200
TOP_FEATURES: Final = 10
SCATTER_POINTS: Final = 1500
FloatArray = npt.NDArray[np.float64]


@dataclass
class Report:
    facts: dict[str, Any]
    metrics: pl.DataFrame  # name, value, low, high (bootstrap 95%), from
    roc: pl.DataFrame | None  # fpr, tpr
    ks_curve: pl.DataFrame | None  # score, bads_below, goods_below
    calibration_deciles: pl.DataFrame | None  # decile, persons, predicted, observed
    calibration_bands: pl.DataFrame | None  # band, persons, predicted, observed
    distribution: pl.DataFrame  # band, goods, bads, unlabelled
    dimensions: pl.DataFrame  # dimension, mean_abs_points
    features: pl.DataFrame  # feature, code, dimension, mean_abs_points
    shapes: dict[str, pl.DataFrame]  # feature -> value, points (a sample of persons)
    strategy: pl.DataFrame | None = None
    drift: pl.DataFrame | None = None
    fairness: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


def _holdout(scores: pl.DataFrame) -> tuple[FloatArray, FloatArray, pl.DataFrame]:
    part = scores.filter((pl.col("split") == "holdout") & pl.col("defaulted").is_not_null())
    y = part.get_column("defaulted").cast(pl.Float64).to_numpy()
    p = part.get_column("p_bad").cast(pl.Float64).to_numpy()
    return y, p, part


def _roc(y: FloatArray, p: FloatArray, points: int = 200) -> pl.DataFrame:
    order = np.argsort(-p, kind="mergesort")
    ys, ps = y[order], p[order]
    last = np.flatnonzero(np.r_[ps[1:] != ps[:-1], True])  # between distinct values
    tpr = np.r_[0.0, np.cumsum(ys)[last] / max(ys.sum(), 1)]
    fpr = np.r_[0.0, np.cumsum(1 - ys)[last] / max((1 - ys).sum(), 1)]
    keep = np.unique(np.linspace(0, len(tpr) - 1, min(points, len(tpr))).astype(int))
    return pl.DataFrame({"fpr": fpr[keep], "tpr": tpr[keep]})


def _ks_curve(y: FloatArray, score: FloatArray) -> pl.DataFrame:
    grid = np.arange(BANDS[0].low, BANDS[-1].high + 1, 5, dtype=np.float64)
    bad, good = np.sort(score[y == 1]), np.sort(score[y == 0])
    return pl.DataFrame(
        {
            "score": grid,
            "bads_below": np.searchsorted(bad, grid, side="right") / max(bad.size, 1),
            "goods_below": np.searchsorted(good, grid, side="right") / max(good.size, 1),
        }
    )


def _bootstrap(y: FloatArray, p: FloatArray, rng: np.random.Generator) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"auc": [], "gini": [], "ks": []}
    n = y.size
    for _ in range(BOOTSTRAP):
        idx = rng.integers(0, n, n)
        yb, pb = y[idx], p[idx]
        if 0 < yb.sum() < n:
            a = auc(yb, pb)
            out["auc"].append(a)
            out["gini"].append(2 * a - 1)
            out["ks"].append(ks(yb, pb))
    return out


def _floats(column: pl.Series) -> list[float]:
    """A column as floats for a chart, NaN for a missing value (not drawn)."""
    values: list[float] = column.cast(pl.Float64).fill_null(float("nan")).to_list()
    return values


def _mean_abs(column: pl.Series) -> float:
    value = column.cast(pl.Float64).abs().mean()
    return float(value) if isinstance(value, int | float) else 0.0


def _largest(*columns: pl.Series) -> float:
    tops = [c.cast(pl.Float64).max() for c in columns]
    return max([float(t) for t in tops if isinstance(t, int | float)] + [0.01])


def _calibration(groups: pl.Series, y: FloatArray, p: FloatArray, name: str) -> pl.DataFrame:
    frame = pl.DataFrame({name: groups, "y": y, "p": p})
    return (
        frame.group_by(name, maintain_order=True)
        .agg(
            pl.len().alias("persons"),
            pl.col("p").mean().alias("predicted"),
            pl.col("y").mean().alias("observed"),
        )
        .sort(name)
    )


def build_report(
    folder: ModelFolder,
    *,
    strategy: pl.DataFrame | None = None,
    drift: pl.DataFrame | None = None,
    fairness: pl.DataFrame | None = None,
) -> Report:
    """Every number of the report, from the verified model folder."""
    metrics = folder.json(METRICS_FILE)
    manifest = folder.manifest
    scores = folder.frame(SCORES_FILE)
    outcome = folder.outcome or {"source": "column"}
    facts = {
        "model": str(folder.path),
        "scores": "shops (merchants.csv)" if folder.entity.noun == "shop" else "persons",
        "as of": folder.as_of.isoformat(),
        "outcome": outcome,
        "additivity": metrics.get("additivity"),
        "trees": metrics.get("trees"),
        "features": len(folder.specs),
        "persons": metrics.get("persons"),
        "labelled": metrics.get("labelled"),
        "inputs": manifest.get("inputs", []),
        "versions": manifest.get("versions", {}),
        "model sha256": manifest.get("manifest_sha256"),
        "config": folder.config.as_dict(),
    }
    notes: list[str] = []
    holdout = metrics.get("holdout", {})
    rows: list[tuple[str, Any, float | None, float | None]] = [
        ("holdout persons", float(holdout.get("rows", 0)), None, None),
        ("holdout bad rate", holdout.get("bad_rate"), None, None),
    ]
    roc = ks_curve = deciles = by_band = None
    y, p, part = _holdout(scores)
    judged_now = outcome.get("source") != "records"
    if judged_now and y.size and 0 < y.sum() < y.size:
        boot = _bootstrap(y, p, np.random.default_rng(0))
        for name in ("auc", "gini", "ks"):
            lo, hi = (
                (float(np.quantile(boot[name], 0.025)), float(np.quantile(boot[name], 0.975)))
                if boot[name]
                else (None, None)
            )
            rows.append((name, holdout.get(name), lo, hi))
        roc = _roc(y, p)
        ks_curve = _ks_curve(y, part.get_column("score").cast(pl.Float64).to_numpy())
        decile = pl.Series(
            np.minimum((np.argsort(np.argsort(p, kind="mergesort")) * 10) // y.size, 9) + 1
        )
        deciles = _calibration(decile, y, p, "decile")
        by_band = _calibration(part.get_column("band"), y, p, "band")
        order = {b.name: i for i, b in enumerate(BANDS)}
        by_band = by_band.sort(pl.col("band").replace_strict(order, return_dtype=pl.Int64))
    else:
        for name in ("auc", "gini", "ks"):
            rows.append((name, holdout.get(name), None, None))
        notes.append(
            "the outcome was derived from the records: the model was judged on scores as of "
            "the observation date, which the folder does not keep, so the curves are left out"
        )
    for name in ("brier", "log_loss"):
        rows.append((name, holdout.get(name), None, None))
    table = pl.DataFrame(
        rows,
        schema={"name": pl.String, "value": pl.Float64, "low": pl.Float64, "high": pl.Float64},
        orient="row",
    )
    # persons by band and kind, in one pass over the scores
    kind = (
        pl.when(pl.col("defaulted").is_null())
        .then(pl.lit("unlabelled"))
        .when(pl.col("defaulted") == 1)
        .then(pl.lit("bads"))
        .otherwise(pl.lit("goods"))
    )
    counted = {
        (band, k): n for band, k, n in scores.group_by("band", kind.alias("kind")).len().iter_rows()
    }
    distribution = pl.DataFrame(
        {
            "band": [b.name for b in BANDS],
            **{
                k: [counted.get((b.name, k), 0) for b in BANDS]
                for k in ("goods", "bads", "unlabelled")
            },
        },
        schema={"band": pl.String, "goods": pl.Int64, "bads": pl.Int64, "unlabelled": pl.Int64},
    )
    dimensions = pl.DataFrame(
        {
            "dimension": DIMENSION_COLUMNS,
            "mean_abs_points": [
                round(_mean_abs(scores.get_column(d)), 3) for d in DIMENSION_COLUMNS
            ],
        }
    )
    from trustscore.points_table import importance

    points = folder.frame(POINTS_FILE)
    features = importance(points, folder.specs)
    values = folder.frame(FEATURES_FILE)
    sample = np.linspace(0, points.height - 1, min(SCATTER_POINTS, points.height)).astype(int)
    shapes: dict[str, pl.DataFrame] = {}
    by_name = {s.name: s for s in folder.specs}
    for name in features.get_column("feature").head(TOP_FEATURES):
        spec = by_name[name]
        if spec.is_categorical or name not in values.columns:
            continue
        shapes[name] = pl.DataFrame(
            {
                "value": values.get_column(name).cast(pl.Float64).gather(sample),
                "points": points.get_column(name).cast(pl.Float64).gather(sample),
            }
        )
    return Report(
        facts,
        table,
        roc,
        ks_curve,
        deciles,
        by_band,
        distribution,
        dimensions,
        features,
        shapes,
        strategy,
        drift,
        fairness,
        notes,
    )


def to_dict(report: Report) -> dict[str, Any]:
    """Every number of the report, for ``--format json``."""

    def rows(frame: pl.DataFrame | None) -> list[dict[str, Any]] | None:
        return None if frame is None else frame.to_dicts()

    return {
        "facts": report.facts,
        "metrics": rows(report.metrics),
        "roc": rows(report.roc),
        "ks_curve": rows(report.ks_curve),
        "calibration_deciles": rows(report.calibration_deciles),
        "calibration_bands": rows(report.calibration_bands),
        "distribution": rows(report.distribution),
        "dimensions": rows(report.dimensions),
        "features": rows(report.features),
        "strategy": rows(report.strategy),
        "drift": rows(report.drift),
        "fairness": rows(report.fairness),
        "notes": report.notes,
    }


# ------------------------------------------------------------------ HTML

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;
max-width:1180px;color:#1f2328;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid
#d0d7de;padding-bottom:4px}.muted{color:#57606a}.grid{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;border:1px solid #d0d7de;border-radius:6px;padding:8px}figcaption{font-weight:600;
margin-bottom:4px}table{border-collapse:collapse;font-size:13px}td,th{border-bottom:1px solid
#eaeef2;padding:3px 10px;text-align:right}th{text-align:left;background:#f6f8fa}
td:first-child,th:first-child{text-align:left}svg text{font-size:11px;fill:#1f2328}
svg text.axis{fill:#57606a}pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px}
.fail{color:#d1242f;font-weight:600}
"""

_CHECK = """
window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });
window.addEventListener("load", function () {
  var out = {charts: [], errors: window.__errors};
  document.querySelectorAll("svg.chart").forEach(function (svg) {
    var drawn = 0;
    svg.querySelectorAll(".mark").forEach(function (m) {
      var b = m.getBBox();
      if (b.width > 0 || b.height > 0) { drawn += 1; }
    });
    out.charts.push({id: svg.id, marks: drawn});
  });
  document.getElementById("selfcheck").textContent = JSON.stringify(out);
});
"""


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    return _esc(value)


def _table(frame: pl.DataFrame, fail_column: str | None = None) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in frame.columns)
    body = []
    for row in frame.iter_rows(named=True):
        cells = []
        for c, v in row.items():
            cls = ' class="fail"' if c == fail_column and v in ("fail", "act") else ""
            cells.append(f"<td{cls}>{_cell(v)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{_esc(caption)}</figcaption>{svg}</figure>"


def to_html(report: Report) -> str:
    f = report.facts
    parts: list[str] = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>trustscore report: {_esc(f['model'])}</title>",
        f"<style>{_STYLE}</style><script>{_CHECK}</script></head><body>",
        "<h1>trustscore model report</h1>",
        f'<p class="muted">{_esc(f["model"])} · as of {_esc(f["as of"])} · '
        f"{_esc(f['trees'])} trees · {_esc(f['features'])} features · "
        f"{_esc(f['additivity'])} additivity · model sha256 "
        f"{_esc(str(f['model sha256'])[:16])}…</p>",
    ]
    for note in report.notes:
        parts.append(f'<p class="muted">note: {_esc(note)}</p>')

    parts.append("<h2>Holdout performance</h2>")
    parts.append(
        '<p class="muted">AUC, Gini and KS as the build measured them (metrics.json), '
        f"with a {BOOTSTRAP}-resample bootstrap 95% interval on the holdout persons.</p>"
    )
    parts.append(_table(report.metrics))
    charts: list[str] = []
    if report.roc is not None:
        auc_value = report.metrics.filter(pl.col("name") == "auc")["value"][0]
        charts.append(
            _figure(
                f"ROC (AUC {auc_value:.3f})",
                line_chart(
                    "roc",
                    "ROC curve",
                    [Series("model", _floats(report.roc["fpr"]), _floats(report.roc["tpr"]))],
                    "false positive rate (goods declined)",
                    "true positive rate (bads caught)",
                    x_range=(0.0, 1.0),
                    y_range=(0.0, 1.0),
                    diagonal=True,
                ),
            )
        )
    if report.ks_curve is not None:
        k = report.ks_curve
        charts.append(
            _figure(
                "KS: share at or below each score",
                line_chart(
                    "ks",
                    "KS curve",
                    [
                        Series("bads", _floats(k["score"]), _floats(k["bads_below"])),
                        Series("goods", _floats(k["score"]), _floats(k["goods_below"])),
                    ],
                    "final score",
                    "cumulative share",
                    y_range=(0.0, 1.0),
                ),
            )
        )
    if report.calibration_deciles is not None:
        d = report.calibration_deciles
        charts.append(
            _figure(
                "Calibration by decile of predicted bad rate",
                line_chart(
                    "calibration",
                    "Calibration",
                    [
                        Series("observed", _floats(d["predicted"]), _floats(d["observed"])),
                    ],
                    "predicted bad rate",
                    "observed bad rate",
                    x_range=(0.0, _largest(d["predicted"], d["observed"])),
                    y_range=(0.0, _largest(d["predicted"], d["observed"])),
                    diagonal=True,
                    markers=True,
                ),
            )
        )
    if report.calibration_bands is not None:
        b = report.calibration_bands
        charts.append(
            _figure(
                "Calibration by band",
                bar_chart(
                    "calibration-bands",
                    "Calibration by band",
                    b["band"].to_list(),
                    [
                        Series("predicted", [], _floats(b["predicted"])),
                        Series("observed", [], _floats(b["observed"])),
                    ],
                    "bad rate",
                ),
            )
        )
    dist = report.distribution
    charts.append(
        _figure(
            "Persons by band: goods, bads and unlabelled",
            bar_chart(
                "distribution",
                "Score distribution",
                dist["band"].to_list(),
                [
                    Series("goods", [], [float(v) for v in dist["goods"]]),
                    Series("bads", [], [float(v) for v in dist["bads"]]),
                    Series("unlabelled", [], [float(v) for v in dist["unlabelled"]]),
                ],
                "persons",
            ),
        )
    )
    parts.append('<div class="grid">' + "".join(charts) + "</div>")
    if report.calibration_bands is not None:
        parts.append(_table(report.calibration_bands))

    parts.append("<h2>What the score is made of</h2>")
    dims = report.dimensions
    top = report.features.head(20)
    parts.append(
        '<div class="grid">'
        + _figure(
            "Importance of each dimension (mean |points|)",
            bar_chart(
                "dimensions",
                "Dimensions",
                dims["dimension"].to_list(),
                [Series("mean |points|", [], _floats(dims["mean_abs_points"]))],
                "mean |points|",
            ),
        )
        + _figure(
            "The 20 strongest features (mean |points|)",
            bar_chart(
                "features",
                "Features",
                top["feature"].to_list(),
                [Series("mean |points|", [], _floats(top["mean_abs_points"]))],
                "mean |points|",
                horizontal=True,
            ),
        )
        + "</div>"
    )
    parts.append("<h2>Points against value, the ten strongest features</h2>")
    parts.append(
        '<p class="muted">Each point a person (up to '
        f"{SCATTER_POINTS:,}, evenly through the folder): the feature's value and its "
        "points. A monotone feature's points move one way only.</p>"
    )
    shapes = [
        _figure(
            name,
            scatter(f"shape-{i}", name, _floats(s["value"]), _floats(s["points"]), name, "points"),
        )
        for i, (name, s) in enumerate(report.shapes.items())
    ]
    parts.append('<div class="grid">' + "".join(shapes) + "</div>")

    if report.strategy is not None:
        parts.append("<h2>Strategy: what each cut-off does (holdout)</h2>")
        figs = []
        for i, ((product,), rows) in enumerate(
            report.strategy.group_by(["product"], maintain_order=True)
        ):
            cut = _floats(rows["cutoff"])
            figs.append(
                _figure(
                    str(product),
                    line_chart(
                        f"strategy-{i}",
                        f"Strategy {product}",
                        [
                            Series(
                                "approval rate",
                                cut,
                                _floats(rows["approval_rate"]),
                            ),
                            Series(
                                "bad rate approved",
                                cut,
                                _floats(rows["bad_rate_approved"]),
                            ),
                        ],
                        "cut-off",
                        "share",
                        y_range=(0.0, 1.0),
                    ),
                )
            )
        parts.append('<div class="grid">' + "".join(figs) + "</div>")
        parts.append(
            _table(
                report.strategy.filter(pl.col("band_edge").is_not_null() | pl.col("policy_cutoff"))
            )
        )
    if report.drift is not None:
        parts.append("<h2>Drift of the data given against the model's population</h2>")
        parts.append(_table(report.drift, fail_column="verdict"))
    if report.fairness is not None:
        parts.append("<h2>Fairness on the protected attributes</h2>")
        parts.append(_table(report.fairness, fail_column="four_fifths"))

    parts.append("<h2>The model's facts</h2>")
    facts = {k: v for k, v in f.items() if k != "config"}
    parts.append(f"<pre>{_esc(json.dumps(facts, indent=2, default=str))}</pre>")
    parts.append("<details><summary>config</summary>")
    parts.append(f"<pre>{_esc(json.dumps(f['config'], indent=2, default=str))}</pre></details>")
    parts.append('<pre id="selfcheck" class="muted">not checked</pre>')
    parts.append("</body></html>\n")
    return "".join(parts)
