"""The score card as plain data: score, band, dimensions, reasons, penalties.

For a person in the model folder everything comes from the stored Parquet
(read with a filter on person_id, so only that row is decoded) and the
folder's JSON; XGBoost is not imported. For a person only in a data folder
(``--data``), the features and points are computed with the model.
"""

from __future__ import annotations

import datetime as dt
import difflib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from trustscore.bands import band_range
from trustscore.errors import ModelError, UnknownPersonError
from trustscore.features.registry import render_sentence
from trustscore.features.spec import DIMENSIONS, FeatureSpec
from trustscore.model_folder import (
    EVENTS_FILE,
    FEATURES_FILE,
    POINTS_FILE,
    SCORES_FILE,
    ModelFolder,
)
from trustscore.penalties import EVENT_TEXT, PenaltyPolicy, penalty_lines

CARD_SCHEMA_VERSION = 1
MAX_LOWERING = 4
MAX_RAISING = 3


@dataclass
class DimensionLine:
    dimension: str
    title: str
    points: float


@dataclass
class Reason:
    code: str
    feature: str
    dimension: str
    sentence: str
    value: float | str | None
    points: float


@dataclass
class PenaltyLine:
    event: str
    text: str
    count: int
    points: float
    latest: str
    merchant_id: str | None


@dataclass
class Card:
    """Everything the card shows; ``as_dict`` is the documented JSON."""

    person_id: str
    score: int
    band: str
    band_range: tuple[int, int]
    scale_range: tuple[int, int]
    model_score: float
    penalty: float
    clipping: float  # final - (model_score - penalty): nonzero only at the scale's ends
    p_bad: float
    base_points: float
    dimensions: list[DimensionLine]
    lowering: list[Reason]
    raising: list[Reason]
    penalties: list[PenaltyLine]
    as_of: str
    model: str
    notes: list[str] = field(default_factory=list)
    source: str = "model folder"  # or "data folder" when computed from --data

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["schema_version"] = CARD_SCHEMA_VERSION
        out["band_range"] = list(self.band_range)
        out["scale_range"] = list(self.scale_range)
        return out


# JSON Schema of ``Card.as_dict()``: the documented, stable card format.
_NUM = {"type": "number"}
_STR = {"type": "string"}
_REASON = {
    "type": "object",
    "required": ["code", "feature", "dimension", "sentence", "value", "points"],
    "additionalProperties": False,
    "properties": {
        "code": _STR,
        "feature": _STR,
        "dimension": {"enum": [d.value for d in DIMENSIONS]},
        "sentence": _STR,
        "value": {"type": ["number", "string", "null"]},
        "points": _NUM,
    },
}
CARD_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "trustscore card",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "schema_version",
        "person_id",
        "score",
        "band",
        "band_range",
        "scale_range",
        "model_score",
        "penalty",
        "clipping",
        "p_bad",
        "base_points",
        "dimensions",
        "lowering",
        "raising",
        "penalties",
        "as_of",
        "model",
        "notes",
        "source",
    ],
    "properties": {
        "schema_version": {"const": CARD_SCHEMA_VERSION},
        "person_id": _STR,
        "score": {"type": "integer", "minimum": 0},
        "band": {"enum": ["poor", "fair", "good", "very good", "excellent"]},
        "band_range": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
        "scale_range": {
            "type": "array",
            "items": {"type": "integer"},
            "minItems": 2,
            "maxItems": 2,
        },
        "model_score": _NUM,
        "penalty": {"type": "number", "minimum": 0},
        "clipping": _NUM,
        "p_bad": {"type": "number", "minimum": 0, "maximum": 1},
        "base_points": _NUM,
        "dimensions": {
            "type": "array",
            "minItems": 5,
            "maxItems": 5,
            "items": {
                "type": "object",
                "required": ["dimension", "title", "points"],
                "additionalProperties": False,
                "properties": {
                    "dimension": {"enum": [d.value for d in DIMENSIONS]},
                    "title": _STR,
                    "points": _NUM,
                },
            },
        },
        "lowering": {"type": "array", "maxItems": MAX_LOWERING, "items": _REASON},
        "raising": {"type": "array", "maxItems": MAX_RAISING, "items": _REASON},
        "penalties": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["event", "text", "count", "points", "latest", "merchant_id"],
                "additionalProperties": False,
                "properties": {
                    "event": {"enum": list(EVENT_TEXT)},
                    "text": _STR,
                    "count": {"type": "integer", "minimum": 1},
                    "points": {"type": "number", "minimum": 0},
                    "latest": {"type": "string", "format": "date"},
                    "merchant_id": {"type": ["string", "null"]},
                },
            },
        },
        "as_of": {"type": "string", "format": "date"},
        "model": _STR,
        "notes": {"type": "array", "items": _STR},
        "source": {"enum": ["model folder", "data folder"]},
    },
}


# ------------------------------------------------------------------ reading the folder


def suggestions(folder: ModelFolder, person_id: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` ids close to ``person_id``, looking only where they can be."""
    lf = folder.person_ids()
    candidates: list[str] = []
    # ids that share a prefix first (cheap with many persons), then by similarity
    for keep in range(len(person_id) - 1, 0, -1):
        candidates = (
            lf.filter(pl.col("person_id").str.starts_with(person_id[:keep]))
            .head(5000)
            .collect()
            .get_column("person_id")
            .to_list()
        )
        if candidates:
            break
    if not candidates:
        candidates = lf.head(5000).collect().get_column("person_id").to_list()
    return difflib.get_close_matches(person_id, candidates, n=limit, cutoff=0.6)


# ------------------------------------------------------------------ assembling


def _reasons(
    specs: list[FeatureSpec], points: dict[str, Any], values: dict[str, Any]
) -> tuple[list[Reason], list[Reason]]:
    items: list[Reason] = []
    for spec in specs:
        p = points.get(spec.name)
        if p is None or (isinstance(p, float) and math.isnan(p)) or round(p, 2) == 0:
            continue  # a feature that moved nothing is never a reason
        value = values.get(spec.name)
        shown: float | str | None
        if isinstance(value, float) and math.isnan(value):
            shown = None
        else:
            shown = value if value is None or isinstance(value, str) else float(value)
        items.append(
            Reason(
                code=spec.code,
                feature=spec.name,
                dimension=spec.dimension.value,
                sentence=render_sentence(spec, value),
                value=shown,
                points=round(float(p), 2),
            )
        )
    lowering = sorted((r for r in items if r.points < 0), key=lambda r: (r.points, r.code))
    raising = sorted((r for r in items if r.points > 0), key=lambda r: (-r.points, r.code))
    return lowering[:MAX_LOWERING], raising[:MAX_RAISING]


def _band_range(band: str) -> tuple[int, int]:
    try:
        return band_range(band)
    except KeyError:
        raise ModelError(f"scores.parquet names an unknown band {band!r}") from None


def _penalty_lines(
    events: pl.DataFrame, as_of: dt.date, policy: PenaltyPolicy
) -> list[PenaltyLine]:
    lines = penalty_lines(events, as_of, policy).sort("points", descending=True)
    return [
        PenaltyLine(
            event=r["event"],
            text=EVENT_TEXT.get(r["event"], r["event"]),
            count=int(r["count"]),
            points=round(float(r["points"]), 2),
            latest=r["latest"].isoformat(),
            merchant_id=r["merchant_id"],
        )
        for r in lines.iter_rows(named=True)
    ]


def assemble(
    person_id: str,
    scores: dict[str, Any],
    points: dict[str, Any],
    values: dict[str, Any],
    events: pl.DataFrame,
    specs: list[FeatureSpec],
    *,
    as_of: dt.date,
    policy: PenaltyPolicy,
    scale_range: tuple[int, int],
    model: str,
    notes: list[str],
    source: str,
) -> Card:
    lowering, raising = _reasons(specs, points, values)
    model_score = float(scores["model_score"])
    penalty = float(scores["penalty"])
    final = int(scores["score"])
    return Card(
        person_id=person_id,
        score=final,
        band=scores["band"],
        band_range=_band_range(scores["band"]),
        scale_range=scale_range,
        model_score=round(model_score, 2),
        penalty=round(penalty, 2),
        clipping=round(
            float(max(scale_range[0], min(scale_range[1], model_score - penalty)))
            - (model_score - penalty),
            2,
        ),
        p_bad=float(scores["p_bad"]),
        base_points=float(scores["base_points"]),
        dimensions=[DimensionLine(d.value, d.label, float(scores[d.value])) for d in DIMENSIONS],
        lowering=lowering,
        raising=raising,
        penalties=_penalty_lines(events, as_of, policy),
        as_of=as_of.isoformat(),
        model=model,
        notes=notes,
        source=source,
    )


def from_model_folder(folder: ModelFolder, person_id: str) -> Card | None:
    """The card of a person stored in the model folder, or None if not there."""
    scores = folder.row(SCORES_FILE, person_id)
    if scores is None:
        return None
    config = folder.config
    return assemble(
        person_id,
        scores,
        folder.row(POINTS_FILE, person_id) or {},
        folder.row(FEATURES_FILE, person_id) or {},
        folder.frame(EVENTS_FILE, person_id),
        folder.specs,
        as_of=folder.as_of,
        policy=config.penalties,
        scale_range=(int(config.scale.low), int(config.scale.high)),
        model=str(folder.path),
        notes=_absent_notes(folder.tables_missing),
        source="model folder",
    )


def _absent_notes(tables_missing: list[str]) -> list[str]:
    what = {
        "merchants": "shop features absent",
        "transactions": "repayment, shopping and connection features absent",
        "logistics": "shipment features absent",
    }
    return [f"no {t} data: {what.get(t, 'its features absent')}" for t in tables_missing]


def from_data_folder(folder: ModelFolder, data_dir: Path | str, person_id: str) -> Card:
    """Compute the card of a person in a data folder with the saved model."""
    from trustscore.pipeline import score_with

    scored, prepared = score_with(folder, data_dir, feature_points=True)
    scores = scored.scores.filter(pl.col("person_id") == person_id)
    if scores.height == 0:
        raise UnknownPersonError(
            f"no person {person_id} in {data_dir}",
            suggestions=difflib.get_close_matches(
                person_id, scored.scores.get_column("person_id").to_list(), n=3
            ),
        )
    points = scored.points.filter(pl.col("person_id") == person_id).row(0, named=True)
    values = prepared.features.frame.filter(pl.col("person_id") == person_id).row(0, named=True)
    events = prepared.features.events.filter(pl.col("person_id") == person_id)
    config = folder.config
    return assemble(
        person_id,
        scores.row(0, named=True),
        points,
        values,
        events,
        folder.specs,
        as_of=prepared.as_of,
        policy=config.penalties,
        scale_range=(int(config.scale.low), int(config.scale.high)),
        model=str(folder.path),
        notes=_absent_notes(prepared.tables.missing()),
        source="data folder",
    )


def load_card(model_dir: Path, person_id: str, data_dir: Path | str | None = None) -> Card:
    """The card of ``person_id``: from the model folder, else from ``data_dir``."""
    folder = ModelFolder.open(model_dir)
    card = from_model_folder(folder, person_id)
    if card is not None:
        return card
    if data_dir is not None:
        return from_data_folder(folder, data_dir, person_id)
    raise UnknownPersonError(
        f"no person {person_id} in {model_dir}",
        suggestions=suggestions(folder, person_id),
        hint="pass --data DATA_DIR to compute the card of a person not in the model folder",
    )
