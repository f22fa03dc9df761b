"""What was known at the as-of date: the one place where time is cut (DESIGN 2).

Every feature module reads the tables through ``AsOfView`` and never sees the raw
frames, so honesty about time is decided here, field by field, once:

- a transaction exists when ``ts < as_of`` (midnight, UTC);
- a ``repaid_date >= as_of`` is not yet repaid (the bill counts as unpaid);
  a ``due_date >= as_of`` is not yet due (the feature code compares with
  ``as_of`` through ``AsOfView.due``);
- a shop exists when ``opened_date < as_of`` or its opening date is unknown;
- a shipment exists when it was shipped before as-of, or, never shipped, when
  its order exists; its ``delivered_at >= as_of`` is not yet delivered;
- a shipment's outcome (``status`` with its ``return_reason`` and
  ``claim_upheld``) has no date of its own, so it is known from the first
  known time of the shipment: ``delivered_at``, else ``shipped_at``, else the
  order's ``ts`` (for ``lost``: ``promised_at`` first, as a parcel is known
  lost only once its promised day has passed). Until then the outcome reads
  ``in_transit``, with no return reason or claim;
- undated facts are taken as known from the time of their row: a
  transaction's ``status``, ``counterfeit`` and ``payment_method`` at its
  ``ts``, a shop's ``verified`` and ``owner_id`` at its opening, a consumer's
  declared columns as they are. The data carry no date for a later change of
  status (a refund or chargeback after as-of), so such a change leaks; the
  contract would need a status date to prevent it.

Windows of N days are ``[as_of - N days, as_of)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import polars as pl

from trustscore.data_tables import DataTables
from trustscore.errors import UsageError
from trustscore.schema import CONSUMERS, TABLES

_SHIPMENT_STATUS = TABLES["logistics"].column("status").dtype


class NoAsOfError(UsageError, ValueError):
    """The data hold no date to derive an as-of date from; pass one explicitly.

    A usage error (exit 2) to the CLI, and a ``ValueError`` to library callers.
    """


def default_as_of(tables: DataTables) -> dt.date:
    """The day after the latest transaction ``ts`` (its date part + 1 day).

    Without transactions (no table, or no rows): the day after the latest
    ``signup_date`` or ``address_since`` in consumers. With neither, raise
    ``NoAsOfError`` (a ``ValueError``): the caller must give an as-of date, as
    "today" would make the same folder score differently from day to day.
    """
    latest: dt.date | None = None
    t = tables.transactions
    if t is not None and t.height:
        ts = t.get_column("ts").max()
        if isinstance(ts, dt.datetime):
            latest = ts.date()
    if latest is None:
        c = tables.consumers
        dates = [
            c.get_column(name).max()
            for name in ("signup_date", "address_since")
            if name in c.columns
        ]
        found = [d for d in dates if isinstance(d, dt.date)]
        latest = max(found) if found else None
    if latest is None:
        raise NoAsOfError(
            "the data hold no transaction time or consumer date to set the as-of date from",
            hint="give the as-of date (--as-of YYYY-MM-DD)",
        )
    return latest + dt.timedelta(days=1)


def _complete(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """The frame with every contract column, missing ones as typed nulls.

    Ingest always hands all columns; frames built by hand (tests, the German
    credit data) may lack the optional ones.
    """
    schema = TABLES[table].schema
    missing = [pl.lit(None, dtype=d).alias(n) for n, d in schema.items() if n not in frame.columns]
    return frame.with_columns(missing) if missing else frame


def _lookup(keys: pl.Series, table: pl.DataFrame, key: str, values: list[str]) -> pl.DataFrame:
    """For each of ``keys`` (in order), the ``values`` of its row in ``table`` (null if none).

    A many-to-one join; ``table``'s first row wins should a key repeat, so
    the result always lines up with ``keys``. (Lazy, as Polars runs an eager
    join on one thread.)
    """
    right = table.lazy().select(key, *values).unique(subset=key, keep="first")
    return (
        keys.alias(key)
        .to_frame()
        .lazy()
        .join(right, on=key, how="left", maintain_order="left")
        .select(values)
        .collect()
    )


def _txn_rows(shipment_txn: pl.Series, txn: pl.Series) -> pl.Series:
    """For each shipment's ``txn_id``, the row of that transaction (UInt32, null if none).

    The one large join of the features: millions of ids against millions. It
    joins on 64-bit hashes of the ids, several times faster than on the text,
    and then keeps a match only where the ids themselves are equal, so a hash
    collision can never link a shipment to the wrong order.
    """
    left = shipment_txn.hash().alias("h").to_frame().with_row_index("row")
    right = txn.hash().alias("h").to_frame().with_row_index("tid")
    pairs = left.lazy().join(right.lazy(), on="h", how="inner").select("row", "tid").collect()
    if pairs.get_column("row").n_unique() < pairs.height:
        # two transaction ids share a hash: keep the true pairs (slow, and rare)
        same = pl.lit(shipment_txn).gather(pl.col("row")) == pl.lit(txn).gather(pl.col("tid"))
        pairs = pairs.filter(same)
    rows = pl.repeat(None, shipment_txn.len(), dtype=pl.UInt32, eager=True)
    rows = rows.scatter(pairs.get_column("row"), pairs.get_column("tid"))
    # each shipment now has at most one candidate: keep it where the ids are equal
    same_id = (txn.gather(rows) == shipment_txn).fill_null(False)
    return pl.select(pl.when(same_id).then(rows)).to_series().alias("tid")


def _linked(rows: pl.Series | None, shipment_txn: pl.Series, txn: pl.Series) -> pl.Series | None:
    """``_txn_rows`` from ingest's link (``DataTables.order_rows``), or None when it
    is absent or does not fit these tables: every shipment linked, to an order
    of the same id. (Checking costs a gather and a comparison; the join it
    saves, 3-4 s at a million persons.)"""
    if rows is None or rows.len() != shipment_txn.len() or rows.null_count():
        return None
    if rows.len() and (rows.max() or 0) >= txn.len():  # type: ignore[operator]
        return None
    if not (txn.gather(rows) == shipment_txn).all():
        return None
    return rows.cast(pl.UInt32).alias("tid")


@dataclass(frozen=True)
class AsOfView:
    """The tables as seen at ``as_of``. Frames are lazy; None = table absent.

    Persons are keyed by ``pid``, their row in consumers (UInt32), so every
    per-person aggregate joins back on an integer. Columns added to the
    contract's: orders ``tid`` (the transaction's row), ``pid`` (the buyer;
    null if not a consumer), ``mid`` (a number for the shop, never null),
    ``owner`` (pid of the shop's owner) and
    ``verified`` (the shop's), the last two null unless the shop exists at
    as-of and says so; shipments ``tid``, ``pid``, ``owner``, ``mid`` and ``ts``
    of their order, and ``known_at`` (when their outcome became known).
    """

    as_of: dt.date
    persons: pl.LazyFrame  # person_id, pid, in consumers' order
    consumers: pl.LazyFrame  # every consumers column, in consumers' order
    merchants: pl.LazyFrame | None  # shops existing at as-of, with owner
    orders: pl.LazyFrame | None  # transactions before as-of, repaid_date masked
    shipments: pl.LazyFrame | None  # shipments of those orders, outcome as known
    # aggregates over everyone, computed beforehand when this view holds only a
    # partition of the persons (features/partition.py); see ``shared``
    given: Mapping[str, pl.DataFrame] = field(default_factory=dict)

    def shared(self, name: str, compute: Callable[[AsOfView], pl.LazyFrame]) -> pl.LazyFrame:
        """An aggregate over all persons' rows, such as a shop's totals over every buyer.

        A feature that reads other persons' rows reads them through here, so that
        a view of one partition of the persons (whose orders are only those its
        persons bought or sold) still sees everyone's: the partitioned run
        computes each registered aggregate (``registry.SHARED``) once over the
        whole view and hands it in as ``given``.
        """
        found = self.given.get(name)
        return compute(self) if found is None else found.lazy()

    @property
    def cutoff(self) -> dt.datetime:
        """as-of as a timestamp: midnight UTC starting the as-of day."""
        return dt.datetime.combine(self.as_of, dt.time())

    def since(self, days: int, column: str = "ts") -> pl.Expr:
        """The timestamp ``column`` falls in the last ``days`` days before as-of."""
        return pl.col(column) >= pl.lit(self.cutoff - dt.timedelta(days=days))

    def since_date(self, days: int, column: str) -> pl.Expr:
        """The date ``column`` falls in the last ``days`` days before as-of."""
        return pl.col(column) >= pl.lit(self.as_of - dt.timedelta(days=days))

    def due(self) -> pl.Expr:
        """A bill's due date has passed by as-of."""
        return pl.col("due_date") < pl.lit(self.as_of)

    def days_before(self, column: str) -> pl.Expr:
        """Whole days from the date (or timestamp's date) ``column`` to as-of."""
        return (pl.lit(self.as_of) - pl.col(column).cast(pl.Date)).dt.total_days()


ORDER_OF_SHIPMENT = ("pid", "owner", "mid", "ts")
"""The columns of its order a shipment carries in the view (after its ``tid``)."""


def orders_known(
    orders: pl.LazyFrame, as_of: dt.date, *, cut: bool = True, mask_repaid: bool = True
) -> pl.LazyFrame:
    """The orders (transactions with ``tid``, ``pid``, ``mid``, ``owner``,
    ``verified``) as known at ``as_of``: those before it, a repayment on or after
    it not yet made. ``cut``/``mask_repaid`` False: the caller knows no row needs it."""
    day = pl.lit(as_of)
    if cut:
        orders = orders.filter(pl.col("ts") < pl.lit(dt.datetime.combine(as_of, dt.time())))
    if mask_repaid:
        orders = orders.with_columns(
            pl.when(pl.col("repaid_date") < day).then(pl.col("repaid_date")).alias("repaid_date")
        )
    return orders


def shipments_known(shipments: pl.LazyFrame, as_of: dt.date) -> pl.LazyFrame:
    """The shipments (logistics rows with ``tid`` and ``ORDER_OF_SHIPMENT``) as
    known at ``as_of``: those of known orders, their outcome as known then."""
    at = pl.lit(dt.datetime.combine(as_of, dt.time()))
    known_at = (
        pl.when(pl.col("status") == "lost")
        .then(pl.coalesce("promised_at", "delivered_at", "shipped_at", "ts"))
        .otherwise(pl.coalesce("delivered_at", "shipped_at", "ts"))
    )
    settled = known_at < at
    return shipments.filter(
        pl.col("tid").is_not_null() & (pl.col("ts") < at) & (pl.coalesce("shipped_at", "ts") < at)
    ).with_columns(
        known_at.alias("known_at"),
        pl.when(settled)
        .then(pl.col("status"))
        .otherwise(pl.lit("in_transit", dtype=_SHIPMENT_STATUS))
        .alias("status"),
        pl.when(settled).then(pl.col("return_reason")).alias("return_reason"),
        pl.when(settled).then(pl.col("claim_upheld")).alias("claim_upheld"),
        pl.when(pl.col("delivered_at") < at).then(pl.col("delivered_at")).alias("delivered_at"),
    )


def shops_known(merchants: pl.DataFrame, persons: pl.DataFrame, as_of: dt.date) -> pl.DataFrame:
    """The shops existing at ``as_of`` (opened before it, or when unknown), with
    ``owner``: the pid of their owner_id (null if no person)."""
    m = _complete(merchants, "merchants")
    exists = pl.col("opened_date").is_null() | (pl.col("opened_date") < pl.lit(as_of))
    m = m.with_columns(
        _lookup(m.get_column("owner_id"), persons, "person_id", ["pid"])
        .get_column("pid")
        .alias("owner")
    )
    return m.filter(exists)


def shops_of(named: pl.DataFrame, shops: pl.DataFrame | None) -> pl.DataFrame:
    """``named`` (shops by ``merchant_id``) with each one's ``owner`` and ``verified``
    from ``shops_known``; both null where the shop does not exist at as-of, or
    there is no shops table."""
    if shops is None:
        return named.with_columns(
            pl.lit(None, dtype=pl.UInt32).alias("owner"),
            pl.lit(None, dtype=pl.Boolean).alias("verified"),
        )
    return named.join(
        shops.select("merchant_id", "owner", "verified"),
        on="merchant_id",
        how="left",
        maintain_order="left",
    )


def as_of_view(tables: DataTables, as_of: dt.date) -> AsOfView:
    """The as-of view of ``tables``.

    Integer keys are looked up eagerly here, once (a column each, lined up
    with the tables' rows); everything else stays lazy, so each feature
    query reads only the columns it needs.
    """
    cutoff = dt.datetime.combine(as_of, dt.time())

    consumers = _complete(tables.consumers, CONSUMERS.name).with_row_index("pid")
    persons = consumers.select("person_id", "pid")

    shops: pl.DataFrame | None = None
    if tables.merchants is not None:
        shops = shops_known(tables.merchants, persons, as_of)

    orders: pl.LazyFrame | None = None
    txns: pl.DataFrame | None = None
    if tables.transactions is not None:
        t = _complete(tables.transactions, "transactions")
        extra = [_lookup(t.get_column("buyer_id"), persons, "person_id", ["pid"]).get_column("pid")]
        # the shops the orders name, numbered (mid) in order of first appearance,
        # with what the shops table says of them if they exist at as-of
        named = (
            t.lazy()
            .select("merchant_id")
            .unique(maintain_order=True)
            .with_row_index("mid")
            .collect()
        )
        named = shops_of(named, shops)
        shop = _lookup(
            t.get_column("merchant_id"), named, "merchant_id", ["mid", "owner", "verified"]
        )
        extra.extend(shop.get_columns())
        txns = t.with_columns(extra).with_row_index("tid")
        # checked eagerly so that, at the usual as-of (after all the data), the
        # feature queries read the table itself rather than a filtered copy
        latest = txns.get_column("ts").max()
        repaid = txns.get_column("repaid_date").max()
        orders = orders_known(
            txns.lazy(),
            as_of,
            cut=isinstance(latest, dt.datetime) and latest >= cutoff,
            mask_repaid=isinstance(repaid, dt.date) and repaid >= as_of,
        )

    shipments: pl.LazyFrame | None = None
    if tables.logistics is not None and txns is not None:
        raw = _complete(tables.logistics, "logistics")
        tid = _linked(tables.order_rows, raw.get_column("txn_id"), txns.get_column("txn_id"))
        if tid is None:
            tid = _txn_rows(raw.get_column("txn_id"), txns.get_column("txn_id"))
        of_order = [txns.get_column(c).gather(tid).alias(c) for c in ORDER_OF_SHIPMENT]
        shipments = shipments_known(raw.with_columns(tid, *of_order).lazy(), as_of)
    return AsOfView(
        as_of=as_of,
        persons=persons.lazy(),
        consumers=consumers.lazy(),
        merchants=None if shops is None else shops.lazy(),
        orders=orders,
        shipments=shipments,
    )
