"""Shop features (DESIGN 10): one row per shop of merchants.csv, in its order.

The same four tables and the same as-of view as the persons' features, seen
from the seller's side. Orders are the transactions at the shop before as-of
(any status); sales are the ``completed`` ones; windows count back from as-of
by the order's ``ts``. Parcels are the shipments of the shop's orders of the
last 365 days, each outcome as known at as-of. A shop with no orders has 0 in
counts and sums and nothing (null) in rates.

- credit history: the owner's own repayment conduct when the owner is a
  person of consumers.csv (the persons' credit features, by ``owner_id``);
  empty for a shop run by a company. A shop not yet open at as-of has no
  owner yet (as for persons, the owner is known from the opening).
- behaviour: the shop's conduct as a seller: refunds, cancellations,
  disputes and chargebacks against it, parcels late, lost, returned, and
  returned as not as described; counterfeit sold only with
  ``counterfeit_in_model`` (otherwise the penalties count it, DESIGN 4).
- capacity: sales, orders, their growth (a month of the last 3 against a
  month of the 12 before), the average sale, the share of sales to buyers
  who came back.
- identity: licence checked, days open, category (levels learned from the
  data, as passthrough text is, or the model's when scoring).
- connections: how trustworthy its buyers are elsewhere (their chargebacks
  and refused deliveries at other shops, weighted by their orders here), and
  the owner's own trust score when a person model is given (``owner_scores``).

Counterfeit events: ``sold_counterfeit`` for every counterfeit order at the
shop before as-of, keyed by the shop, so its card carries the penalty.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import polars as pl

from trustscore.data_tables import DataTables
from trustscore.entity import KEY
from trustscore.features.as_of_view import AsOfView, as_of_view
from trustscore.features.block import FeatureConfig, count, exact_sum, share, where
from trustscore.features.capacity import _spend as person_spend
from trustscore.features.compute import FeatureResult
from trustscore.features.credit import _compute as person_credit
from trustscore.features.events import EVENTS_SCHEMA, SOLD
from trustscore.features.passthrough import as_levels, learn_levels
from trustscore.features.spec import Dimension, FeatureSpec
from trustscore.notes import Note

CH, BE, CA, ID, CO = (
    Dimension.CREDIT_HISTORY,
    Dimension.BEHAVIOUR,
    Dimension.CAPACITY,
    Dimension.IDENTITY,
    Dimension.CONNECTIONS,
)
M, T, L = "merchants", "transactions", "logistics"

OWNER_SCORE = "owner_score"
_SHIFT = 2**32  # packs two UInt32 keys into one UInt64
OWNER_OWES = "owner_credit_outstanding"
CATEGORY = "shop_category"


@dataclass(frozen=True)
class ShopView:
    """The as-of view with the shops as rows: ``shops`` holds every merchants row
    (merchant_id, the owner's ``pid`` once the shop is open, opened_date,
    category, verified), in merchants' order."""

    known: AsOfView
    shops: pl.LazyFrame


Compute = Callable[[ShopView], pl.LazyFrame]


@dataclass(frozen=True)
class ShopBlock:
    specs: tuple[FeatureSpec, ...]
    compute: Compute  # rows keyed by merchant_id, any order, only shops with data
    requires: tuple[str, ...]
    zero: tuple[str, ...] = ()  # counts and sums: 0 for a shop with no data
    counterfeit: bool = False

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]


def _by_shop(frame: pl.LazyFrame) -> pl.lazyframe.group_by.LazyGroupBy:
    """Grouped by the shop's number in the orders (an integer key, fast); every
    aggregate adds ``merchant_id`` back with :func:`_named`."""
    return frame.group_by("mid")


def _named() -> pl.Expr:
    return pl.col("merchant_id").first()


def _names(known: AsOfView) -> pl.LazyFrame:
    """mid -> merchant_id, for aggregates keyed by mid alone (shipments carry no id)."""
    assert known.orders is not None
    return known.orders.group_by("mid").agg(_named())


# ---------------------------------------------------------------- credit history

OWNER_CREDIT = {
    "on_time_share_365d": "owner_on_time_share_365d",
    "days_late_max_365d": "owner_days_late_max_365d",
    "bills_30plus_late_lifetime": "owner_bills_30plus_late_lifetime",
}
OWNER_CREDIT_SPECS = (
    FeatureSpec(
        "owner_on_time_share_365d", CH, -1, "share",
        "The owner repaid {value:.0%} of credit bills due in the last 12 months on time",
        table=T,
    ),
    FeatureSpec(
        "owner_days_late_max_365d", CH, +1, "days",
        "The owner's longest repayment delay in the last 12 months: {value:,.0f} days",
        table=T,
    ),
    FeatureSpec(
        "owner_bills_30plus_late_lifetime", CH, +1, "bills",
        "The owner has had {value:,.0f} credit bills 30+ days late", table=T,
    ),
    FeatureSpec(
        "owner_credit_outstanding", CH, +1, "money",
        "The owner owes {value:,.2f} on credit", table=T,
    ),
)  # fmt: skip


def _owner_credit(v: ShopView) -> pl.LazyFrame:
    owed = person_spend(v.known).select(KEY, pl.col("credit_outstanding").alias(OWNER_OWES))
    persons = (
        person_credit(v.known)
        .select(KEY, *(pl.col(a).alias(b) for a, b in OWNER_CREDIT.items()))
        .join(owed, on=KEY, how="left", maintain_order="left")
        .rename({KEY: "owner_id"})
    )
    owners = v.known.persons.select(pl.col(KEY).alias("owner_id"), pl.col("pid").alias("owner"))
    return (
        v.shops.filter(pl.col("owner").is_not_null())
        .select("merchant_id", "owner")
        .join(owners, on="owner", how="inner")
        .join(persons, on="owner_id", how="inner")
        .drop("owner", "owner_id")
    )


# ---------------------------------------------------------------- behaviour

CONDUCT_SPECS = (
    FeatureSpec(
        "sales_refund_rate_365d", BE, +1, "share",
        "{value:.0%} of orders in the last 12 months refunded", table=T,
    ),
    FeatureSpec(
        "sales_cancel_rate_365d", BE, +1, "share",
        "{value:.0%} of orders in the last 12 months cancelled", table=T,
    ),
    FeatureSpec(
        "sales_dispute_rate_365d", BE, +1, "share",
        "{value:.0%} of orders in the last 12 months disputed or charged back", table=T,
    ),
    FeatureSpec(
        "sales_chargeback_rate_365d", BE, +1, "share",
        "{value:.0%} of orders in the last 12 months charged back", table=T,
    ),
)  # fmt: skip


def _conduct(v: ShopView) -> pl.LazyFrame:
    assert v.known.orders is not None
    status = pl.col("status")
    recent = v.known.orders.filter(v.known.since(365))
    n = pl.len()
    return _by_shop(recent).agg(
        _named(),
        sales_refund_rate_365d=share(count(status == "refunded"), n),
        sales_cancel_rate_365d=share(count(status == "cancelled"), n),
        sales_dispute_rate_365d=share(count(status.is_in(["disputed", "chargeback"])), n),
        sales_chargeback_rate_365d=share(count(status == "chargeback"), n),
    )


PARCEL_SPECS = (
    FeatureSpec(
        "parcels_on_time_share_365d", BE, -1, "share",
        "{value:.0%} of parcels in the last 12 months delivered by the promised time",
        table=L,
    ),
    FeatureSpec(
        "parcels_lost_rate_365d", BE, +1, "share",
        "{value:.0%} of parcels in the last 12 months lost", table=L,
    ),
    FeatureSpec(
        "parcels_returned_rate_365d", BE, +1, "share",
        "{value:.0%} of parcels in the last 12 months sent back", table=L,
    ),
    FeatureSpec(
        "returns_not_as_described_rate_365d", BE, +1, "share",
        "{value:.0%} of parcels in the last 12 months returned as not as described", table=L,
    ),
)  # fmt: skip


def _parcels(v: ShopView) -> pl.LazyFrame:
    known = v.known
    assert known.shipments is not None and known.orders is not None
    w = known.since(365)
    promised = pl.col("promised_at")
    delivered = pl.col("delivered_at")  # null unless delivered before as-of
    # a promise is judged once it is kept or broken: delivered, or its time has passed
    judged = promised.is_not_null() & (delivered.is_not_null() | (promised < known.cutoff))
    status = pl.col("status")
    settled = status != "in_transit"  # an outcome known at as-of
    return (
        _by_shop(known.shipments.filter(w))
        .agg(
            parcels_on_time_share_365d=share(
                count(judged & (delivered <= promised)), count(judged)
            ),
            parcels_lost_rate_365d=share(count(status == "lost"), count(settled)),
            parcels_returned_rate_365d=share(count(status == "returned"), count(settled)),
            returns_not_as_described_rate_365d=share(
                count((status == "returned") & (pl.col("return_reason") == "not_as_described")),
                count(settled),
            ),
        )
        .join(_names(known), on="mid", how="inner")
    )


SOLD_SPECS = (
    FeatureSpec(
        "counterfeit_sold_365d", BE, +1, "items",
        "{value:,.0f} confirmed counterfeit items sold in the last 12 months", table=T,
    ),
)  # fmt: skip


def _counterfeit_orders(v: ShopView) -> pl.LazyFrame:
    assert v.known.orders is not None
    return v.known.orders.filter(pl.col("counterfeit").fill_null(False))


def _sold(v: ShopView) -> pl.LazyFrame:
    recent = _counterfeit_orders(v).filter(v.known.since(365))
    return _by_shop(recent).agg(_named(), counterfeit_sold_365d=pl.len())


# ---------------------------------------------------------------- capacity

SALES_SPECS = (
    FeatureSpec(
        "revenue_365d", CA, -1, "money", "Sold {value:,.2f} in the last 12 months", table=T,
    ),
    FeatureSpec(
        "orders_received_365d", CA, 0, "orders",
        "{value:,.0f} orders received in the last 12 months", table=T,
    ),
    FeatureSpec(
        "revenue_growth", CA, -1, "ratio",
        "A month's sales in the last 3 months at {value:.0%} of a month's in the 12 before",
        table=T,
    ),
    FeatureSpec(
        "sale_value_mean_365d", CA, 0, "money",
        "Average sale of {value:,.2f} in the last 12 months", table=T,
    ),
    FeatureSpec(
        "repeat_buyer_revenue_share_365d", CA, -1, "share",
        "{value:.0%} of sales in the last 12 months to buyers who came back", table=T,
    ),
)  # fmt: skip


def _sales(v: ShopView) -> pl.LazyFrame:
    known = v.known
    assert known.orders is not None
    amount = pl.col("amount")
    sale = pl.col("status") == "completed"
    recent = known.since(365)
    last3 = known.since(90)
    before = known.since(455) & ~last3  # the 12 months before the last 3
    orders = known.orders.filter(known.since(455)).select(
        "mid", "merchant_id", "pid", "ts", "amount", "status"
    )
    per = _by_shop(orders).agg(
        _named(),
        revenue_365d=exact_sum(where(recent & sale, amount)),
        orders_received_365d=count(recent),
        _last3=exact_sum(where(last3 & sale, amount)),
        _before=exact_sum(where(before & sale, amount)),
        # a mean as an exact sum over a count: the same bits whatever the threads' order
        sale_value_mean_365d=share(exact_sum(where(recent & sale, amount)), count(recent & sale)),
    )
    # buyers with two or more sales at the shop in the window: their share of its sales
    buyers = (
        orders.filter(recent & sale & pl.col("pid").is_not_null())
        .group_by("mid", "pid")
        .agg(n=pl.len(), spent=exact_sum(amount))
        .group_by("mid")
        .agg(_repeat=exact_sum(where(pl.col("n") >= 2, pl.col("spent"))))
    )
    return per.join(buyers, on="mid", how="left").select(
        "mid",
        "merchant_id",
        "revenue_365d",
        "orders_received_365d",
        revenue_growth=share(pl.col("_last3") / 3, pl.col("_before") / 12),
        sale_value_mean_365d=pl.col("sale_value_mean_365d"),
        repeat_buyer_revenue_share_365d=share(
            pl.col("_repeat").fill_null(0.0), pl.col("revenue_365d")
        ),
    )


# ---------------------------------------------------------------- identity

IDENTITY_SPECS = (
    FeatureSpec(
        "licence_verified", ID, -1, "flag", "Business licence checked: {value}", table=M
    ),
    FeatureSpec("days_open", ID, -1, "days", "Open for {value:,.0f} days", table=M),
)  # fmt: skip
CATEGORY_SPEC = FeatureSpec(
    CATEGORY, ID, 0, "category", "Sells in the category {value}", table=M, categories=("other",)
)


def _identity(v: ShopView) -> pl.LazyFrame:
    is_open = pl.col("owner_known")
    return v.shops.select(
        "merchant_id",
        licence_verified=pl.when(is_open).then(pl.col("verified").cast(pl.Float64)),
        days_open=pl.when(is_open).then(v.known.days_before("opened_date")),
    )


# ---------------------------------------------------------------- connections

BUYER_SPECS = (
    FeatureSpec(
        "buyers_chargeback_elsewhere_365d", CO, +1, "share",
        "Its buyers charged back {value:.0%} of their orders at other shops in the last "
        "12 months",
        table=T,
    ),
)  # fmt: skip
BUYER_PARCEL_SPECS = (
    FeatureSpec(
        "buyers_refused_elsewhere_365d", CO, +1, "share",
        "Its buyers refused {value:.0%} of their parcels from other shops in the last 12 months",
        table=L,
    ),
)  # fmt: skip
OWNER_SCORE_SPEC = FeatureSpec(
    OWNER_SCORE,
    CO,
    -1,
    "points",
    "The owner's own trust score before penalties: {value:,.0f}",
    table=M,
)


def _weighted_mean(value: pl.Expr, weight: pl.Expr) -> pl.Expr:
    return share(exact_sum(value * weight), exact_sum(where(value.is_not_null(), weight)))


def _buyers_elsewhere(
    rows: pl.LazyFrame, flag: str, name: str, names: pl.LazyFrame
) -> pl.LazyFrame:
    """Per shop: its buyers' rate of ``flag`` on their rows at other shops, weighted
    by their rows at this shop (leave-one-out, as the persons' connections)."""
    # one row per (shop, buyer); a packed integer key keeps its hash table small
    pair = pl.col("pid").cast(pl.UInt64) * _SHIFT + pl.col("mid").cast(pl.UInt64)
    mine = (
        rows.group_by(pair.alias("pair"))
        .agg(n_here=pl.len(), k_here=count(pl.col(flag)))
        .select(
            (pl.col("pair") // _SHIFT).cast(pl.UInt32).alias("pid"),
            (pl.col("pair") % _SHIFT).cast(pl.UInt32).alias("mid"),
            "n_here",
            "k_here",
        )
    )
    everyone = rows.group_by("pid").agg(n=pl.len(), k=count(pl.col(flag)))
    rate = share(pl.col("k") - pl.col("k_here"), pl.col("n") - pl.col("n_here"))
    return (
        mine.join(everyone, on="pid", how="inner")
        .with_columns(rate.alias("rate"))
        .group_by("mid")
        .agg(_weighted_mean(pl.col("rate"), pl.col("n_here")).alias(name))
        .join(names, on="mid", how="inner")
    )


def _buyers(v: ShopView) -> pl.LazyFrame:
    assert v.known.orders is not None
    rows = v.known.orders.filter(v.known.since(365) & pl.col("pid").is_not_null()).select(
        "mid", "pid", (pl.col("status") == "chargeback").alias("cb")
    )
    return _buyers_elsewhere(rows, "cb", "buyers_chargeback_elsewhere_365d", _names(v.known))


def _buyer_parcels(v: ShopView) -> pl.LazyFrame:
    known = v.known
    assert known.shipments is not None and known.orders is not None
    rows = known.shipments.filter(known.since(365) & pl.col("pid").is_not_null()).select(
        "mid", "pid", (pl.col("status") == "refused").alias("refused")
    )
    return _buyers_elsewhere(rows, "refused", "buyers_refused_elsewhere_365d", _names(known))


BLOCKS: tuple[ShopBlock, ...] = (
    ShopBlock(OWNER_CREDIT_SPECS, _owner_credit, requires=(T,)),
    ShopBlock(CONDUCT_SPECS, _conduct, requires=(T,)),
    ShopBlock(PARCEL_SPECS, _parcels, requires=(T, L)),
    ShopBlock(SOLD_SPECS, _sold, requires=(T,), zero=("counterfeit_sold_365d",), counterfeit=True),
    ShopBlock(
        SALES_SPECS,
        _sales,
        requires=(T,),
        zero=("revenue_365d", "orders_received_365d"),
    ),
    ShopBlock(IDENTITY_SPECS, _identity, requires=()),
    ShopBlock(BUYER_SPECS, _buyers, requires=(T,)),
    ShopBlock(BUYER_PARCEL_SPECS, _buyer_parcels, requires=(T, L)),
)


def shop_registry() -> list[FeatureSpec]:
    """Every built-in shop feature in order (counterfeit ones and the optional
    category and owner score included)."""
    specs = [s for b in BLOCKS for s in b.specs]
    return [*specs, CATEGORY_SPEC, OWNER_SCORE_SPEC]


# ---------------------------------------------------------------- the table


def _shops(tables: DataTables, known: AsOfView) -> pl.LazyFrame:
    from trustscore.features.as_of_view import _complete

    assert tables.merchants is not None
    m = _complete(tables.merchants, M)
    is_open = pl.col("opened_date").is_null() | (pl.col("opened_date") < pl.lit(known.as_of))
    owners = known.persons.select(pl.col(KEY).alias("owner_id"), pl.col("pid").alias("owner"))
    return (
        m.lazy()
        .with_row_index("sid")
        .join(owners, on="owner_id", how="left", maintain_order="left")
        .with_columns(
            is_open.alias("owner_known"),
            pl.when(is_open).then(pl.col("owner")).alias("owner"),
        )
        .select("sid", "merchant_id", "owner_id", "owner", "owner_known", "opened_date",
                "category", "verified")
    )  # fmt: skip


def shop_events(v: ShopView) -> pl.LazyFrame:
    """Every counterfeit order at a shop before as-of: a ``sold_counterfeit`` event
    on the shop's own card, sorted by shop, date, txn."""
    if v.known.orders is None:
        return pl.LazyFrame(schema=EVENTS_SCHEMA)
    fakes = _counterfeit_orders(v).select(
        "merchant_id",
        pl.lit(SOLD).alias("event"),
        pl.col("ts").cast(pl.Date).alias("date"),
        "txn_id",
    )
    return (
        v.shops.select("merchant_id")
        .join(fakes, on="merchant_id", how="inner")
        .select(pl.col("merchant_id").alias(KEY), "event", "date", "merchant_id", "txn_id")
        .sort(KEY, "date", "event", "txn_id")
    )


def compute_shop_features(
    tables: DataTables,
    as_of: dt.date,
    config: FeatureConfig,
    categories: Mapping[str, tuple[str, ...]] | None = None,
    owner_scores: pl.DataFrame | None = None,
) -> FeatureResult:
    """Every shop's features and counterfeit events from what was known before ``as_of``.

    ``owner_scores``: person_id and score of a person model, for ``owner_score``;
    ``categories``: a saved model's levels, by feature name.
    """
    if tables.merchants is None:
        from trustscore.errors import UsageError

        raise UsageError(
            "shop scores need merchants.csv: there is none in the data",
            hint="give a data folder with merchants.csv, or drop --entity merchant",
        )
    known = as_of_view(tables, as_of)
    view = ShopView(known, _shops(tables, known))
    present = {"merchants", *tables.present()}
    if "transactions" not in present:
        present.discard("logistics")
    parts: list[pl.LazyFrame] = []
    specs: list[FeatureSpec] = []
    absent: list[str] = []
    for block in BLOCKS:
        if block.counterfeit and not config.counterfeit_in_model:
            continue
        if any(t not in present for t in block.requires):
            absent.extend(block.names)
            continue
        found = block.compute(view).select("merchant_id", *block.names)
        parts.append(_per_shop(view, found, block))
        specs.extend(block.specs)

    # the category: text levels learned from the data (or the model's)
    levels = (categories or {}).get(CATEGORY)
    if levels is None:
        levels = learn_levels(tables.merchants.get_column("category"), config.max_categories)
    if levels:
        spec = dataclasses.replace(CATEGORY_SPEC, categories=tuple(levels))
        parts.append(
            view.shops.select(as_levels(pl.col("category"), spec.categories).alias(CATEGORY))
        )
        specs.append(spec)

    if owner_scores is not None:
        scores = owner_scores.lazy().select(
            pl.col(KEY).alias("owner_id"), pl.col("score").cast(pl.Float64).alias(OWNER_SCORE)
        )
        parts.append(
            view.shops.join(scores, on="owner_id", how="left", maintain_order="left").select(
                pl.when(pl.col("owner").is_not_null()).then(pl.col(OWNER_SCORE)).alias(OWNER_SCORE)
            )
        )
        specs.append(OWNER_SCORE_SPEC)

    key = view.shops.select(pl.col("merchant_id").alias(KEY))
    frame, events = pl.collect_all([pl.concat([key, *parts], how="horizontal"), shop_events(view)])
    notes: list[Note] = []
    if absent:
        shown = ", ".join(absent[:3]) + (", ..." if len(absent) > 3 else "")
        missing = [t for t in ("transactions", "logistics") if t not in present]
        notes.append(
            Note(
                "table_missing",
                f"no {' or '.join(missing)} data: {len(absent)} shop features absent ({shown})",
                missing[0] if missing else "transactions",
            )
        )
    return FeatureResult(frame=frame, specs=specs, events=events, notes=notes)


def _per_shop(view: ShopView, found: pl.LazyFrame, block: ShopBlock) -> pl.LazyFrame:
    """Every shop, in merchants' order, with the columns ``found`` has for it."""
    return (
        view.shops.select("merchant_id")
        .join(found, on="merchant_id", how="left", maintain_order="left")
        .select(
            (pl.col(n).fill_null(0) if n in block.zero else pl.col(n)).cast(pl.Float64).alias(n)
            for n in block.names
        )
    )
