"""Fulfilment capacity: the means to pay, declared and shown.

Declared: income and employment from consumers. Shown: what the person
spends against that income, what they owe on credit (every credit bill not
repaid by as-of, due or not; see ``credit``), how much they pay from their
own funds, and, for shop owners (``merchants.owner_id``), how their shops
trade: shops existing at as-of, their sales and their shipping.
"""

from __future__ import annotations

import polars as pl
from polars.lazyframe.group_by import LazyGroupBy

from trustscore.features.as_of_view import AsOfView
from trustscore.features.block import Block, count, exact_sum, per_person, share, where
from trustscore.features.credit import is_bill
from trustscore.features.spec import Dimension, FeatureSpec
from trustscore.schema import EMPLOYMENT

CA = Dimension.CAPACITY
C, M, T, L = "consumers", "merchants", "transactions", "logistics"

DECLARED_SPECS = (
    FeatureSpec(
        "monthly_income", CA, -1, "money", "Declared monthly income of {value:,.0f}", table=C
    ),
    FeatureSpec(
        "employment", CA, 0, "category", "Employment: {value}", table=C, categories=EMPLOYMENT
    ),
)


def _declared(known: AsOfView) -> pl.LazyFrame:
    # employment keeps its Enum: the model reads the level's index (FeatureSpec.categories)
    return known.consumers.select(
        "person_id",
        pl.col("monthly_income").cast(pl.Float64),
        pl.col("employment").cast(pl.String).cast(pl.Enum(list(EMPLOYMENT))),
    )


SPEND_SPECS = (
    FeatureSpec(
        "spend_to_income_365d", CA, 0, "ratio",
        "Spent {value:.0%} of declared income on the platform in the last 12 months", table=T,
    ),
    FeatureSpec(
        "credit_outstanding", CA, +1, "money", "{value:,.2f} owed on credit", table=T
    ),
    FeatureSpec(
        "outstanding_to_income", CA, +1, "ratio",
        "Owes {value:.0%} of a month's declared income on credit", table=T,
    ),
    FeatureSpec(
        "own_funds_share_365d", CA, -1, "share",
        "{value:.0%} of spending in the last 12 months paid from balance or card", table=T,
    ),
)  # fmt: skip


def _spend(known: AsOfView) -> pl.LazyFrame:
    assert known.orders is not None
    amount = pl.col("amount")
    spent = known.since(365) & (pl.col("status") == "completed")
    method = pl.col("payment_method")
    per = known.orders.group_by("pid").agg(
        spend=exact_sum(where(spent, amount)),
        own=exact_sum(where(spent & method.is_in(["balance", "card"]), amount)),
        method_known=exact_sum(where(spent & method.is_not_null(), amount)),
        owed=exact_sum(where(is_bill() & pl.col("repaid_date").is_null(), amount)),
    )
    income = pl.col("monthly_income")
    found = (
        known.consumers.select("pid", "monthly_income")
        .join(per, on="pid", how="left", maintain_order="left")
        .with_columns(pl.col("spend", "owed").fill_null(0.0))
        .select(
            "pid",
            spend_to_income_365d=share(pl.col("spend"), 12 * income),
            credit_outstanding=pl.col("owed"),
            outstanding_to_income=share(pl.col("owed"), income),
            own_funds_share_365d=share(pl.col("own"), pl.col("method_known")),
        )
    )
    return per_person(known, found, SPEND_SPECS, ["credit_outstanding"])


SHOP_SPECS = (
    FeatureSpec("shops_owned", CA, 0, "shops", "Runs {value:,.0f} shops", table=M),
    FeatureSpec(
        "shop_age_days", CA, -1, "days", "Oldest shop opened {value:,.0f} days ago", table=M
    ),
)


def _by_owner(frame: pl.LazyFrame) -> LazyGroupBy:
    """``frame``'s rows at shops run by a person (existing at as-of), by that person."""
    return frame.filter(pl.col("owner").is_not_null()).group_by(pl.col("owner").alias("pid"))


def _shops(known: AsOfView) -> pl.LazyFrame:
    assert known.merchants is not None
    found = _by_owner(known.merchants).agg(
        shops_owned=pl.len(),
        shop_age_days=(pl.lit(known.as_of) - pl.col("opened_date").min()).dt.total_days(),
    )
    return per_person(known, found, SHOP_SPECS, ["shops_owned"])


SHOP_SALES_SPECS = (
    FeatureSpec(
        "shop_revenue_365d", CA, 0, "money",
        "Own shops sold {value:,.2f} in the last 12 months", table=M,
    ),
    FeatureSpec(
        "shop_disputed_orders_365d", CA, +1, "orders",
        "{value:,.0f} orders at own shops disputed or charged back in the last 12 months",
        table=M,
    ),
)  # fmt: skip


def _shop_sales(known: AsOfView) -> pl.LazyFrame:
    assert known.orders is not None
    status = pl.col("status")
    w = known.since(365)
    found = _by_owner(known.orders.filter(w)).agg(
        shop_revenue_365d=exact_sum(where(w & (status == "completed"), pl.col("amount"))),
        shop_disputed_orders_365d=count(w & status.is_in(["disputed", "chargeback"])),
    )
    return per_person(known, found, SHOP_SALES_SPECS, [s.name for s in SHOP_SALES_SPECS])


SHOP_SHIPPING_SPECS = (
    FeatureSpec(
        "shop_on_time_share_365d", CA, -1, "share",
        "{value:.0%} of own shops' parcels in the last 12 months delivered by the promised time",
        table=L,
    ),
    FeatureSpec(
        "shop_lost_shipments_365d", CA, 0, "shipments",
        "{value:,.0f} of own shops' parcels lost in the last 12 months", table=L,
    ),
)  # fmt: skip


def _shop_shipping(known: AsOfView) -> pl.LazyFrame:
    assert known.shipments is not None
    w = known.since(365)
    promised = pl.col("promised_at")
    delivered = pl.col("delivered_at")  # null unless delivered before as-of
    # a promise is judged once it is kept or broken: delivered, or its time has passed
    judged = w & promised.is_not_null() & (delivered.is_not_null() | (promised < known.cutoff))
    found = _by_owner(known.shipments.filter(w)).agg(
        shop_on_time_share_365d=share(count(judged & (delivered <= promised)), count(judged)),
        shop_lost_shipments_365d=count(w & (pl.col("status") == "lost")),
    )
    return per_person(known, found, SHOP_SHIPPING_SPECS, ["shop_lost_shipments_365d"])


BLOCKS = (
    Block(DECLARED_SPECS, _declared, requires=(C,)),
    Block(SPEND_SPECS, _spend, requires=(T,)),
    Block(SHOP_SPECS, _shops, requires=(M,)),
    Block(SHOP_SALES_SPECS, _shop_sales, requires=(M, T)),
    Block(SHOP_SHIPPING_SPECS, _shop_shipping, requires=(M, L)),
)
