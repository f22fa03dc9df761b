"""The score card as plain data: score, band, dimensions, reasons, penalties.

For persons in the model folder everything comes from the stored Parquet and
the folder's JSON; XGBoost is not imported. Cards are made in bulk: each
Parquet file is read once for all the ids asked for (filtered on person_id),
and the cards are assembled from those rows, so a thousand cards cost about
what one does. For persons only in a data folder (``--data``), the folder is
scored once with the model and their cards assembled the same way.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from trustscore.bands import band_range
from trustscore.entity import Entity
from trustscore.errors import ModelError, UnknownPersonError
from trustscore.features.spec import DIMENSIONS, SHOP_DIMENSION_TITLES, Dimension, FeatureSpec
from trustscore.model_folder import (
    EVENTS_FILE,
    FEATURES_FILE,
    POINTS_FILE,
    SCORE_COLUMNS,
    SCORES_FILE,
    ModelFolder,
)
from trustscore.penalties import EVENT_TEXT, PenaltyPolicy, penalty_lines
from trustscore.reasons import MAX_LOWERING as MAX_LOWERING
from trustscore.reasons import MAX_RAISING as MAX_RAISING
from trustscore.reasons import Reason as Reason
from trustscore.reasons import person_reasons

CARD_SCHEMA_VERSION = 1


@dataclass
class DimensionLine:
    dimension: str
    title: str
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
    # the events' points before the cap (penalty = min(this, cap)): the csv's
    # penalty_points and the card's "capped" line; not part of the JSON
    penalty_points: float = 0.0
    entity: Entity = Entity.PERSON  # a shop's card (DESIGN 10) carries merchant_id

    def as_dict(self) -> dict[str, Any]:
        """The documented JSON (``CARD_JSON_SCHEMA``), built by hand: thousands a second."""
        return {
            self.entity.key: self.person_id,
            "score": self.score,
            "band": self.band,
            "band_range": list(self.band_range),
            "scale_range": list(self.scale_range),
            "model_score": self.model_score,
            "penalty": self.penalty,
            "clipping": self.clipping,
            "p_bad": self.p_bad,
            "base_points": self.base_points,
            "dimensions": [dict(vars(d)) for d in self.dimensions],
            "lowering": [dict(vars(r)) for r in self.lowering],
            "raising": [dict(vars(r)) for r in self.raising],
            "penalties": [dict(vars(p)) for p in self.penalties],
            "as_of": self.as_of,
            "model": self.model,
            "notes": list(self.notes),
            "source": self.source,
            "schema_version": CARD_SCHEMA_VERSION,
        }


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
    # a person's card names person_id, a shop's merchant_id: exactly one of them
    "oneOf": [{"required": ["person_id"]}, {"required": ["merchant_id"]}],
    "required": [
        "schema_version",
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
        "merchant_id": _STR,
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


# ------------------------------------------------------------------ flat rows (csv, parquet)

CSV_COLUMNS: list[str] = [
    *SCORE_COLUMNS,
    *(f"lowering_{i}" for i in range(1, MAX_LOWERING + 1)),
    *(f"raising_{i}" for i in range(1, MAX_RAISING + 1)),
    "penalty_points",
    "as_of",
]
"""One row per card (``card --format csv``): the score's columns as ``score``
writes them, the reason codes, and the events' points before the cap."""

_CSV_SCHEMA: dict[str, type[pl.DataType]] = {
    name: pl.String
    for name in CSV_COLUMNS
    if name in ("person_id", "band", "as_of") or name.startswith(("lowering_", "raising_"))
} | {"score": pl.Int64}


def flat(card: Card) -> dict[str, Any]:
    """The card as one row of ``CSV_COLUMNS``."""
    row: dict[str, Any] = {
        "person_id": card.person_id,
        "score": card.score,
        "band": card.band,
        "model_score": card.model_score,
        "penalty": card.penalty,
        "p_bad": card.p_bad,
        "base_points": card.base_points,
    }
    row.update((d.dimension, d.points) for d in card.dimensions)
    for prefix, items, n in (
        ("lowering", card.lowering, MAX_LOWERING),
        ("raising", card.raising, MAX_RAISING),
    ):
        for i in range(n):
            row[f"{prefix}_{i + 1}"] = items[i].code if i < len(items) else None
    row["penalty_points"] = card.penalty_points
    row["as_of"] = card.as_of
    return row


def flat_frame(cards: Iterable[Card], entity: Entity = Entity.PERSON) -> pl.DataFrame:
    """Cards as rows of ``CSV_COLUMNS``, with the same types however many there are
    (a shop's: merchant_id first)."""
    schema = {n: _CSV_SCHEMA.get(n, pl.Float64) for n in CSV_COLUMNS}
    return entity.public(pl.DataFrame([flat(c) for c in cards], schema=schema, orient="row"))


# ------------------------------------------------------------------ reading the folder


_MAX_SUGGESTED_ID = 64  # an id longer than this is no typo of a real one: no search


def suggestions(folder: ModelFolder, person_id: str, limit: int = 3) -> list[str]:
    """Up to ``limit`` ids close to ``person_id``, looking only where they can be."""
    if len(person_id) > _MAX_SUGGESTED_ID or not _encodable(person_id):
        return []
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


def title_of(dimension: Dimension, entity: Entity) -> str:
    """A dimension's title on the card: a shop's reads as a seller's."""
    return SHOP_DIMENSION_TITLES[dimension] if entity is Entity.MERCHANT else dimension.label


def _band_range(band: str) -> tuple[int, int]:
    try:
        return band_range(band)
    except KeyError:
        raise ModelError(f"scores.parquet names an unknown band {band!r}") from None


def _penalty_lines(
    events: pl.DataFrame, as_of: dt.date, policy: PenaltyPolicy
) -> dict[str, tuple[list[PenaltyLine], float]]:
    """Per person with events: the card's penalty lines (most points first) and the
    total of the events' points before the cap, unrounded."""
    lines = penalty_lines(events, as_of, policy).sort(
        ["person_id", "points", "event"], descending=[False, True, False]
    )
    out: dict[str, tuple[list[PenaltyLine], float]] = {}
    for r in lines.iter_rows(named=True):
        items, total = out.get(r["person_id"], ([], 0.0))
        items.append(
            PenaltyLine(
                event=r["event"],
                text=EVENT_TEXT.get(r["event"], r["event"]),
                count=int(r["count"]),
                points=round(float(r["points"]), 2),
                latest=r["latest"].isoformat(),
                merchant_id=r["merchant_id"],
            )
        )
        out[r["person_id"]] = (items, total + float(r["points"]))
    return out


@dataclass
class _Context:
    """What every card from one model folder shares."""

    specs: list[FeatureSpec]
    as_of: dt.date
    policy: PenaltyPolicy
    scale_range: tuple[int, int]
    model: str
    notes: list[str]
    source: str
    entity: Entity = Entity.PERSON


def _context(
    folder: ModelFolder, as_of: dt.date, tables_missing: list[str], source: str
) -> _Context:
    config = folder.config
    return _Context(
        specs=folder.specs,
        as_of=as_of,
        policy=config.penalties,
        scale_range=(int(config.scale.low), int(config.scale.high)),
        model=str(folder.path),
        notes=_absent_notes(tables_missing) + _outcome_notes(folder),
        source=source,
        entity=folder.entity,
    )


def assemble(
    person_id: str,
    scores: dict[str, Any],
    points: dict[str, Any],
    values: dict[str, Any],
    penalties: tuple[list[PenaltyLine], float],
    ctx: _Context,
) -> Card:
    lowering, raising = person_reasons(ctx.specs, points, values)
    model_score = float(scores["model_score"])
    penalty = float(scores["penalty"])
    lines, total = penalties
    return Card(
        person_id=person_id,
        score=int(scores["score"]),
        band=scores["band"],
        band_range=_band_range(scores["band"]),
        scale_range=ctx.scale_range,
        model_score=round(model_score, 2),
        penalty=round(penalty, 2),
        clipping=round(float(scores["clipping"]), 2),
        p_bad=float(scores["p_bad"]),
        base_points=float(scores["base_points"]),
        dimensions=[
            DimensionLine(d.value, title_of(d, ctx.entity), float(scores[d.value]))
            for d in DIMENSIONS
        ],
        lowering=lowering,
        raising=raising,
        penalties=list(lines),
        as_of=ctx.as_of.isoformat(),
        model=ctx.model,
        notes=list(ctx.notes),
        source=ctx.source,
        penalty_points=round(total, 2),
        entity=ctx.entity,
    )


def _by_person(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["person_id"]: row for row in frame.iter_rows(named=True)}


def _encodable(person_id: str) -> bool:
    """Text that UTF-8 can hold: an id from the command line may carry bytes that
    are not (surrogate escapes), and no person in a folder has such an id."""
    try:
        person_id.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def from_model_folder(folder: ModelFolder, person_ids: Sequence[str]) -> dict[str, Card]:
    """The cards of those of ``person_ids`` stored in the model folder, by id.

    Each Parquet file of the folder is read once for all of them.
    """
    wanted = [i for i in dict.fromkeys(person_ids) if _encodable(i)]
    scores = _by_person(folder.frame(SCORES_FILE, wanted))
    if not scores:
        return {}
    found = list(scores)
    points = _by_person(folder.frame(POINTS_FILE, found))
    values = _by_person(folder.frame(FEATURES_FILE, found))
    ctx = _context(folder, folder.as_of, folder.tables_missing, "model folder")
    penalties = _penalty_lines(folder.frame(EVENTS_FILE, found), ctx.as_of, ctx.policy)
    none: tuple[list[PenaltyLine], float] = ([], 0.0)
    return {
        pid: assemble(
            pid,
            row,
            points.get(pid, {}),
            values.get(pid, {}),
            penalties.get(pid, none),
            ctx,
        )
        for pid, row in scores.items()
    }


def _outcome_notes(folder: ModelFolder) -> list[str]:
    from trustscore.notes import outcome_note

    note = outcome_note(folder.outcome)
    return [note] if note else []


def _absent_notes(tables_missing: list[str]) -> list[str]:
    what = {
        "merchants": "shop features absent",
        "transactions": "repayment, shopping and connection features absent",
        "logistics": "shipment features absent",
    }
    return [f"no {t} data: {what.get(t, 'its features absent')}" for t in tables_missing]


class DataFolderCards:
    """Cards computed from a data folder with the saved model (``--data``).

    The folder is read and scored once, on the first call, for all the calls.
    """

    def __init__(self, folder: ModelFolder, data_dir: Path | str) -> None:
        self.folder = folder
        self.data_dir = data_dir
        self._scored: Any = None

    def cards(self, person_ids: Sequence[str]) -> dict[str, Card]:
        from trustscore.pipeline import score_with

        if self._scored is None:
            self._scored = score_with(self.folder, self.data_dir, feature_points=True)
        scored, prepared = self._scored
        wanted = pl.col("person_id").is_in([i for i in dict.fromkeys(person_ids) if _encodable(i)])
        scores = _by_person(scored.scores.filter(wanted))
        points = _by_person(scored.points.filter(wanted))
        values = _by_person(prepared.features.frame.filter(wanted))
        ctx = _context(self.folder, prepared.as_of, prepared.tables.missing(), "data folder")
        events = prepared.features.events.filter(wanted)
        penalties = _penalty_lines(events, ctx.as_of, ctx.policy)
        none: tuple[list[PenaltyLine], float] = ([], 0.0)
        return {
            pid: assemble(pid, row, points[pid], values[pid], penalties.get(pid, none), ctx)
            for pid, row in scores.items()
        }

    def close_ids(self, person_id: str) -> list[str]:
        if len(person_id) > _MAX_SUGGESTED_ID:
            return []
        scored, _ = self._scored
        return difflib.get_close_matches(
            person_id, scored.scores.get_column("person_id").to_list(), n=3
        )


BATCH = 20_000
"""Ids read per pass over the folder's files: thousands of cards cost one read
of each file, a million ids stay within memory and ndjson keeps streaming."""


def load_cards(
    model_dir: ModelFolder | Path | str,
    person_ids: Iterable[str],
    data_dir: Path | str | None = None,
    *,
    batch: int = BATCH,
) -> Iterator[tuple[str, Card | None]]:
    """``(id, card)`` for every id in order (repeats included), None for an id in
    neither the model folder nor ``data_dir``. The folder is opened and verified
    now (ModelError before anything is written); ids are read ``batch`` at a time."""
    folder = _open(model_dir)
    data = None if data_dir is None else DataFolderCards(folder, data_dir)
    return _cards(folder, data, person_ids, batch)


def _open(model: ModelFolder | Path | str) -> ModelFolder:
    return model if isinstance(model, ModelFolder) else ModelFolder.open(model)


def _cards(
    folder: ModelFolder, data: DataFolderCards | None, person_ids: Iterable[str], batch: int
) -> Iterator[tuple[str, Card | None]]:
    for chunk in _batched(person_ids, batch):
        found = from_model_folder(folder, chunk)
        missing = [pid for pid in dict.fromkeys(chunk) if pid not in found]
        if missing and data is not None:
            found.update(data.cards(missing))
        for pid in chunk:
            yield pid, found.get(pid)


def _batched(items: Iterable[str], n: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= n:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def load_card(
    model_dir: ModelFolder | Path, person_id: str, data_dir: Path | str | None = None
) -> Card:
    """The card of ``person_id``: from the model folder, else from ``data_dir``;
    UnknownPersonError (exit 4) with the closest ids if in neither."""
    folder = _open(model_dir)
    model_dir = folder.path
    noun = folder.entity.noun
    card = from_model_folder(folder, [person_id]).get(person_id)
    if card is not None:
        return card
    if data_dir is not None:
        data = DataFolderCards(folder, data_dir)
        card = data.cards([person_id]).get(person_id)
        if card is not None:
            return card
        raise UnknownPersonError(
            f"no {noun} {person_id} in {data_dir}", suggestions=data.close_ids(person_id)
        )
    raise UnknownPersonError(
        f"no {noun} {person_id} in {model_dir}",
        suggestions=suggestions(folder, person_id),
        hint=f"pass --data DATA_DIR to compute the card of a {noun} not in the model folder",
    )
