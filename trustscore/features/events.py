"""Counterfeit trade (DESIGN 4): dated events for the penalties, and, only when
the config asks for it, counts of them as model features.

One event per transaction, each strictly before as-of:

- ``sold_counterfeit``: a transaction flagged counterfeit at a shop (existing
  at as-of) whose owner is the person; dated by the order's ``ts``.
- ``bought_counterfeit_kept``: the person bought a transaction flagged
  counterfeit, did not cancel it, and no shipment of it is known (by as-of)
  to have come back with return reason ``counterfeit``; dated by the order's
  ``ts``. Without logistics data no return is known, so every such purchase
  counts as kept.
- ``rejected_counterfeit_claim``: a shipment of the person's order came back
  (or was refused) with return reason ``counterfeit`` and ``claim_upheld``
  false; dated by the shipment's outcome time (``delivered_at``, else
  ``shipped_at``, else the order's ``ts``; see ``known``), the claim being
  known no earlier than that. Several such shipments of one order are one
  event, dated by the earliest.
"""

from __future__ import annotations

import polars as pl

from trustscore.features.as_of_view import AsOfView
from trustscore.features.block import Block, per_person
from trustscore.features.spec import Dimension, FeatureSpec

SOLD = "sold_counterfeit"
KEPT = "bought_counterfeit_kept"
REJECTED = "rejected_counterfeit_claim"
EVENT_TYPES = (SOLD, KEPT, REJECTED)

EVENTS_SCHEMA: dict[str, pl.DataType] = {
    "person_id": pl.String(),
    "event": pl.String(),
    "date": pl.Date(),
    "merchant_id": pl.String(),
    "txn_id": pl.String(),
}


def _shape(frame: pl.LazyFrame, person: str, event: str, date: pl.Expr) -> pl.LazyFrame:
    """Events keyed by ``pid``: the person's row in consumers."""
    return frame.select(
        pl.col(person).alias("pid"),
        pl.lit(event).alias("event"),
        date.cast(pl.Date).alias("date"),
        "merchant_id",
        "txn_id",
    )


def _counterfeit_orders(known: AsOfView) -> pl.LazyFrame:
    assert known.orders is not None
    return known.orders.filter(pl.col("counterfeit").fill_null(False))


def sold(known: AsOfView) -> pl.LazyFrame:
    # owner is set only for shops that exist at as-of and have an owner
    fakes = _counterfeit_orders(known).filter(pl.col("owner").is_not_null())
    return _shape(fakes, "owner", SOLD, pl.col("ts"))


def kept(known: AsOfView) -> pl.LazyFrame:
    fakes = _counterfeit_orders(known).filter(
        (pl.col("status") != "cancelled") & pl.col("pid").is_not_null()
    )
    if known.shipments is not None:
        sent_back = known.shipments.filter(
            (pl.col("status") == "returned") & (pl.col("return_reason") == "counterfeit")
        ).select("tid")
        fakes = fakes.join(sent_back, on="tid", how="anti")
    return _shape(fakes, "pid", KEPT, pl.col("ts"))


def rejected(known: AsOfView) -> pl.LazyFrame:
    assert known.shipments is not None and known.orders is not None
    # return_reason and claim_upheld are null until the outcome is known (see known)
    claims = (
        known.shipments.filter(
            (pl.col("return_reason") == "counterfeit")
            & (pl.col("claim_upheld") == False)  # noqa: E712
            & pl.col("pid").is_not_null()
        )
        .group_by("tid")
        .agg(pl.col("pid").first(), pl.col("known_at").min())
        .join(known.orders.select("tid", "merchant_id", "txn_id"), on="tid", how="inner")
    )
    return _shape(claims, "pid", REJECTED, pl.col("known_at"))


def events(known: AsOfView) -> pl.LazyFrame:
    """Every counterfeit event before as-of, sorted by person, date, event, txn."""
    parts: list[pl.LazyFrame] = []
    if known.orders is not None:
        if known.merchants is not None:
            parts.append(sold(known))
        parts.append(kept(known))
        if known.shipments is not None:
            parts.append(rejected(known))
    if not parts:
        return pl.LazyFrame(schema=EVENTS_SCHEMA)
    return (
        pl.concat(parts)
        .join(known.persons, on="pid", how="inner")
        .select(list(EVENTS_SCHEMA))
        .sort("person_id", "date", "event", "txn_id")
    )


# ---------------------------------------------------------------- as features

BE = Dimension.BEHAVIOUR


def _counts(name: str, part: pl.LazyFrame, known: AsOfView) -> pl.LazyFrame:
    return part.filter(known.since_date(365, "date")).group_by("pid").agg(pl.len().alias(name))


SOLD_SPECS = (
    FeatureSpec(
        "counterfeit_sold_365d", BE, +1, "items",
        "{value:,.0f} confirmed counterfeit items sold in the last 12 months", table="merchants",
    ),
)  # fmt: skip
KEPT_SPECS = (
    FeatureSpec(
        "counterfeit_kept_365d", BE, +1, "items",
        "{value:,.0f} confirmed counterfeit items bought and kept in the last 12 months",
        table="transactions",
    ),
)  # fmt: skip
REJECTED_SPECS = (
    FeatureSpec(
        "counterfeit_claims_rejected_365d", BE, +1, "claims",
        "{value:,.0f} counterfeit claims rejected on inspection in the last 12 months",
        table="logistics",
    ),
)  # fmt: skip


def _sold_count(known: AsOfView) -> pl.LazyFrame:
    name = SOLD_SPECS[0].name
    return per_person(known, _counts(name, sold(known), known), SOLD_SPECS, [name])


def _kept_count(known: AsOfView) -> pl.LazyFrame:
    name = KEPT_SPECS[0].name
    return per_person(known, _counts(name, kept(known), known), KEPT_SPECS, [name])


def _rejected_count(known: AsOfView) -> pl.LazyFrame:
    name = REJECTED_SPECS[0].name
    return per_person(known, _counts(name, rejected(known), known), REJECTED_SPECS, [name])


BLOCKS = (
    Block(SOLD_SPECS, _sold_count, requires=("merchants", "transactions"), counterfeit=True),
    Block(KEPT_SPECS, _kept_count, requires=("transactions",), counterfeit=True),
    Block(
        REJECTED_SPECS, _rejected_count, requires=("transactions", "logistics"), counterfeit=True
    ),
)
