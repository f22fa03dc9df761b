"""Connections: the trust of the shops and counterparties a person deals with.

All over the orders of the last 365 days before as-of. A shop's rates leave
out the person's own orders (leave-one-out), so a person's own conduct never
reaches their connections score: the counterfeit rate of the shops they buy
from is the other buyers' experience of those shops, not their own
counterfeit purchases (which are penalties, DESIGN 4), and a seller's buyers
are judged by their orders at other sellers' shops. A shop with no other
orders in the window has no rate and no weight.
"""

from __future__ import annotations

import polars as pl

from trustscore.features.as_of_view import AsOfView
from trustscore.features.block import Block, count, exact_sum, per_person, share, where
from trustscore.features.spec import Dimension, FeatureSpec

CO = Dimension.CONNECTIONS
M, T = "merchants", "transactions"


_SHIFT = 2**32  # packs two UInt32 keys into one UInt64


def _weighted_mean(value: pl.Expr, weight: pl.Expr) -> pl.Expr:
    """Mean of ``value`` weighted by ``weight``, over rows where value is known."""
    return share(exact_sum(value * weight), exact_sum(where(value.is_not_null(), weight)))


def _recent(known: AsOfView) -> pl.LazyFrame:
    assert known.orders is not None
    return known.orders.filter(known.since(365)).select(
        "pid",
        "owner",
        "verified",
        "mid",
        "amount",
        (pl.col("status") == "completed").alias("completed"),
        (pl.col("status") == "chargeback").alias("chargeback"),
        pl.col("counterfeit").fill_null(False),
    )


VERIFIED_SPECS = (
    FeatureSpec(
        "verified_shop_share_365d", CO, -1, "share",
        "{value:.0%} of spending in the last 12 months at licence-checked shops", table=M,
    ),
)  # fmt: skip


def _verified(known: AsOfView) -> pl.LazyFrame:
    spend = where(pl.col("completed"), pl.col("amount"))
    verified = pl.col("verified").fill_null(False)  # unknown or not yet open: not checked
    found = (
        _recent(known)
        .group_by("pid")
        .agg(
            verified_shop_share_365d=share(
                exact_sum(where(pl.col("completed") & verified, pl.col("amount"))), exact_sum(spend)
            )
        )
    )
    return per_person(known, found, VERIFIED_SPECS)


REPUTATION_SPECS = (
    FeatureSpec(
        "shop_counterfeit_rate_365d", CO, +1, "share",
        "{value:.0%} of other buyers' orders at the shops used in the last 12 months "
        "were counterfeit",
        table=T,
    ),
    FeatureSpec(
        "shop_chargeback_rate_365d", CO, +1, "share",
        "{value:.0%} of other buyers' orders at the shops used in the last 12 months "
        "were charged back",
        table=T,
    ),
)  # fmt: skip


def shop_totals(known: AsOfView) -> pl.LazyFrame:
    """Each shop's orders of the last 365 days, counterfeit and charged back, all buyers'."""
    return (
        _recent(known)
        .group_by("mid")
        .agg(n=pl.len(), fake=count(pl.col("counterfeit")), cb=count(pl.col("chargeback")))
    )


def buyer_totals(known: AsOfView) -> pl.LazyFrame:
    """Each buyer's orders of the last 365 days and chargebacks among them, at every shop."""
    return _recent(known).group_by("pid").agg(n=pl.len(), cb=count(pl.col("chargeback")))


SHARED = {"shop_totals": shop_totals, "buyer_totals": buyer_totals}


def _reputation(known: AsOfView) -> pl.LazyFrame:
    recent = _recent(known)
    shops = known.shared("shop_totals", shop_totals)
    # one row per (buyer, shop): most are a single order, so this is nearly as
    # long as the orders; a packed integer key keeps its hash table small
    pair = pl.col("pid").cast(pl.UInt64) * _SHIFT + pl.col("mid").cast(pl.UInt64)
    pairs = (
        recent.filter(pl.col("pid").is_not_null())
        .group_by(pair.alias("pair"))
        .agg(
            n_own=pl.len(),
            fake_own=count(pl.col("counterfeit")),
            cb_own=count(pl.col("chargeback")),
            spend=exact_sum(where(pl.col("completed"), pl.col("amount"))),
        )
        .with_columns(
            (pl.col("pair") // _SHIFT).cast(pl.UInt32).alias("pid"),
            (pl.col("pair") % _SHIFT).cast(pl.UInt32).alias("mid"),
        )
    )
    # each shop's rate without the person's own orders there
    others = pl.col("n") - pl.col("n_own")
    found = (
        pairs.join(shops, on="mid", how="inner")
        .group_by("pid")
        .agg(
            shop_counterfeit_rate_365d=_weighted_mean(
                share(pl.col("fake") - pl.col("fake_own"), others), pl.col("spend")
            ),
            shop_chargeback_rate_365d=_weighted_mean(
                share(pl.col("cb") - pl.col("cb_own"), others), pl.col("spend")
            ),
        )
    )
    return per_person(known, found, REPUTATION_SPECS)


BUYER_SPECS = (
    FeatureSpec(
        "buyers_chargeback_rate_365d", CO, +1, "share",
        "Buyers at own shops charged back {value:.0%} of their orders elsewhere "
        "in the last 12 months",
        table=M,
    ),
)  # fmt: skip


def _buyers(known: AsOfView) -> pl.LazyFrame:
    recent = _recent(known)
    buyers = known.shared("buyer_totals", buyer_totals)
    sold = (
        recent.filter(pl.col("owner").is_not_null())
        .group_by("owner", "pid")
        .agg(n_here=pl.len(), cb_here=count(pl.col("chargeback")))
    )
    found = (
        sold.join(buyers, on="pid", how="inner")
        .with_columns(
            share(pl.col("cb") - pl.col("cb_here"), pl.col("n") - pl.col("n_here")).alias("rate")
        )
        .group_by(pl.col("owner").alias("pid"))
        .agg(buyers_chargeback_rate_365d=_weighted_mean(pl.col("rate"), pl.col("n_here")))
    )
    return per_person(known, found, BUYER_SPECS)


BLOCKS = (
    Block(VERIFIED_SPECS, _verified, requires=(M, T)),
    Block(REPUTATION_SPECS, _reputation, requires=(T,)),
    Block(BUYER_SPECS, _buyers, requires=(M, T)),
)
