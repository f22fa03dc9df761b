"""Identity: verified, and stable over time.

Flags are 1/0 (null when unknown). Tenure and days at the current address
count from the consumer's dates to as-of; a date on or after as-of (the
person joined, or moved, later) gives null: at as-of that was not so yet.
"""

from __future__ import annotations

import polars as pl

from trustscore.features.as_of_view import AsOfView
from trustscore.features.block import Block, per_person, where
from trustscore.features.spec import Dimension, FeatureSpec

ID = Dimension.IDENTITY
C, L = "consumers", "logistics"

SPECS = (
    FeatureSpec("identity_verified", ID, -1, "flag", "Real-name identity verified: {value}"),
    FeatureSpec("phone_verified", ID, -1, "flag", "Phone number verified: {value}"),
    FeatureSpec("tenure_days", ID, -1, "days", "Member for {value:,.0f} days"),
    FeatureSpec("days_at_address", ID, -1, "days", "At the current address for {value:,.0f} days"),
)


def _since(known: AsOfView, column: str) -> pl.Expr:
    days = known.days_before(column)
    return pl.when(days > 0).then(days).alias(column)


def _declared(known: AsOfView) -> pl.LazyFrame:
    return known.consumers.select(
        "person_id",
        pl.col("identity_verified").cast(pl.Float64),
        pl.col("phone_verified").cast(pl.Float64),
        _since(known, "signup_date").cast(pl.Float64).alias("tenure_days"),
        _since(known, "address_since").cast(pl.Float64).alias("days_at_address"),
    )


ADDRESS_SPECS = (
    FeatureSpec(
        "delivery_addresses_365d", ID, 0, "addresses",
        "Parcels sent to {value:,.0f} different addresses in the last 12 months", table=L,
    ),
)  # fmt: skip


def _addresses(known: AsOfView) -> pl.LazyFrame:
    assert known.shipments is not None
    found = (
        known.shipments.filter(known.since(365))
        .group_by("pid")
        .agg(
            delivery_addresses_365d=where(known.since(365), pl.col("address_id"))
            .drop_nulls()
            .n_unique()
        )
    )
    return per_person(known, found, ADDRESS_SPECS, ["delivery_addresses_365d"])


BLOCKS = (
    Block(SPECS, _declared, requires=(C,)),
    Block(ADDRESS_SPECS, _addresses, requires=("transactions", L)),
)
