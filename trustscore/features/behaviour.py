"""Behaviour and preferences: how a person shops.

Orders are the person's transactions as buyer, any status; spend is the
amount of their ``completed`` orders. Windows count back from as-of by the
order's ``ts``. Shipment rates look at the shipments of orders placed in the
last 365 days, with each shipment's outcome as known at as-of (see
``known``): a parcel still travelling at as-of is in no rate.

The ``_lifetime`` features look at every order (or parcel) before as-of,
however long ago.
"""

from __future__ import annotations

import polars as pl

from trustscore.features.as_of_view import AsOfView
from trustscore.features.block import Block, count, exact_sum, per_person, share, where
from trustscore.features.spec import Dimension, FeatureSpec

BE = Dimension.BEHAVIOUR
T = "transactions"
L = "logistics"

ORDER_SPECS = (
    FeatureSpec("orders_30d", BE, 0, "orders", "{value:,.0f} orders in the last 30 days", table=T),
    FeatureSpec("orders_90d", BE, 0, "orders", "{value:,.0f} orders in the last 90 days", table=T),
    FeatureSpec(
        "orders_365d", BE, 0, "orders", "{value:,.0f} orders in the last 12 months", table=T
    ),
    FeatureSpec("spend_30d", BE, 0, "money", "Spent {value:,.2f} in the last 30 days", table=T),
    FeatureSpec("spend_90d", BE, 0, "money", "Spent {value:,.2f} in the last 90 days", table=T),
    FeatureSpec(
        "spend_365d", BE, 0, "money", "Spent {value:,.2f} in the last 12 months", table=T
    ),
    FeatureSpec(
        "avg_order_value_365d", BE, 0, "money",
        "Average completed order of {value:,.2f} in the last 12 months", table=T,
    ),
    FeatureSpec(
        "active_months_365d", BE, 0, "months",
        "Shopped in {value:,.0f} of the last 12 months", table=T,
    ),
    FeatureSpec(
        "categories_365d", BE, 0, "categories",
        "Bought from {value:,.0f} categories in the last 12 months", table=T,
    ),
    FeatureSpec(
        "refund_rate_365d", BE, 0, "share",
        "{value:.0%} of orders in the last 12 months refunded", table=T,
    ),
    FeatureSpec(
        "disputes_filed_365d", BE, 0, "orders",
        "{value:,.0f} orders disputed in the last 12 months", table=T,
    ),
    FeatureSpec(
        "chargebacks_filed_365d", BE, +1, "orders",
        "{value:,.0f} chargebacks filed in the last 12 months", table=T,
    ),
)  # fmt: skip


def _orders(known: AsOfView) -> pl.LazyFrame:
    assert known.orders is not None
    status = pl.col("status")
    completed = status == "completed"
    amount = pl.col("amount")
    w30, w90, w365 = known.since(30), known.since(90), known.since(365)
    # twelve equal slices of the 365-day window: days 1..365 before as-of -> 0..11
    month = (known.days_before("ts") - 1) * 12 // 365
    # every feature here looks at most 365 days back: drop older orders first
    found = (
        known.orders.filter(w365)
        .group_by("pid")
        .agg(
            orders_30d=count(w30),
            orders_90d=count(w90),
            orders_365d=count(w365),
            spend_30d=exact_sum(where(w30 & completed, amount)),
            spend_90d=exact_sum(where(w90 & completed, amount)),
            spend_365d=exact_sum(where(w365 & completed, amount)),
            avg_order_value_365d=share(
                exact_sum(where(w365 & completed, amount)), count(w365 & completed)
            ),
            active_months_365d=where(w365, month).drop_nulls().n_unique(),
            categories_365d=where(w365, pl.col("category")).drop_nulls().n_unique(),
            refund_rate_365d=share(count(w365 & (status == "refunded")), count(w365)),
            disputes_filed_365d=count(w365 & (status == "disputed")),
            chargebacks_filed_365d=count(w365 & (status == "chargeback")),
        )
    )
    zero = [
        "orders_30d",
        "orders_90d",
        "orders_365d",
        "spend_30d",
        "spend_90d",
        "spend_365d",
        "active_months_365d",
        "categories_365d",
        "disputes_filed_365d",
        "chargebacks_filed_365d",
    ]
    return per_person(known, found, ORDER_SPECS, zero)


HISTORY_SPECS = (
    FeatureSpec(
        "spend_lifetime", BE, 0, "money", "Spent {value:,.2f} on the platform in all", table=T
    ),
    FeatureSpec(
        "cancel_rate_lifetime", BE, 0, "share", "{value:.0%} of all orders cancelled", table=T
    ),
    FeatureSpec(
        "dispute_rate_lifetime", BE, 0, "share", "{value:.0%} of all orders disputed", table=T
    ),
    FeatureSpec(
        "chargeback_rate_lifetime", BE, +1, "share",
        "{value:.0%} of all orders charged back", table=T,
    ),
)  # fmt: skip


def _history(known: AsOfView) -> pl.LazyFrame:
    assert known.orders is not None
    status = pl.col("status")
    orders = pl.len()
    found = known.orders.group_by("pid").agg(
        spend_lifetime=exact_sum(where(status == "completed", pl.col("amount"))),
        cancel_rate_lifetime=share(count(status == "cancelled"), orders),
        dispute_rate_lifetime=share(count(status == "disputed"), orders),
        chargeback_rate_lifetime=share(count(status == "chargeback"), orders),
    )
    return per_person(known, found, HISTORY_SPECS, ["spend_lifetime"])


SHIPMENT_SPECS = (
    FeatureSpec(
        "return_rate_365d", BE, 0, "share",
        "{value:.0%} of parcels received in the last 12 months sent back", table=L,
    ),
    FeatureSpec(
        "changed_mind_return_rate_365d", BE, 0, "share",
        "{value:.0%} of parcels received in the last 12 months sent back on a change of mind",
        table=L,
    ),
    FeatureSpec(
        "refused_delivery_rate_365d", BE, +1, "share",
        "{value:.0%} of deliveries in the last 12 months refused at the door", table=L,
    ),
)  # fmt: skip


def _shipments(known: AsOfView) -> pl.LazyFrame:
    assert known.shipments is not None
    status = pl.col("status")
    w = known.since(365)
    received = w & status.is_in(["delivered", "returned"])  # reached the buyer
    attempted = w & status.is_in(["delivered", "returned", "refused"])
    returned = w & (status == "returned")
    found = (
        known.shipments.filter(w)
        .group_by("pid")
        .agg(
            return_rate_365d=share(count(returned), count(received)),
            changed_mind_return_rate_365d=share(
                count(returned & (pl.col("return_reason") == "changed_mind")), count(received)
            ),
            refused_delivery_rate_365d=share(count(w & (status == "refused")), count(attempted)),
        )
    )
    return per_person(known, found, SHIPMENT_SPECS)


SHIPMENT_HISTORY_SPECS = (
    FeatureSpec(
        "refused_delivery_rate_lifetime", BE, +1, "share",
        "{value:.0%} of all deliveries refused at the door", table=L,
    ),
)  # fmt: skip


def _shipment_history(known: AsOfView) -> pl.LazyFrame:
    assert known.shipments is not None
    status = pl.col("status")
    attempted = status.is_in(["delivered", "returned", "refused"])
    found = known.shipments.group_by("pid").agg(
        refused_delivery_rate_lifetime=share(count(status == "refused"), count(attempted)),
    )
    return per_person(known, found, SHIPMENT_HISTORY_SPECS)


BLOCKS = (
    Block(ORDER_SPECS, _orders, requires=(T,)),
    Block(HISTORY_SPECS, _history, requires=(T,)),
    Block(SHIPMENT_SPECS, _shipments, requires=(T, L)),
    Block(SHIPMENT_HISTORY_SPECS, _shipment_history, requires=(T, L)),
)
