"""The per-person features of ``trustscore.features.compute_features``, written in pandas.

A baseline for one number only: how much faster the Polars feature code is
than the same features written the way a good pandas engineer would write
them (vectorised ``groupby``/``merge``, integer keys, no per-row Python).
It is not part of the package, and pandas is not a dependency of it:

    uv run --with pandas --with pyarrow python benchmarks/features_pandas.py --check DATA_DIR
    uv run --with pandas --with pyarrow python benchmarks/features_pandas.py --time DATA_DIR
    uv run --with pandas --with pyarrow python benchmarks/features_pandas.py --run DATA_DIR \
        --out FILE.parquet

DATA_DIR holds the four tables as CSV (NAME.csv, as ``trustscore sample``
writes them) or as Parquet (NAME.parquet, as ``trustscore convert`` writes
them, with typed columns), each table in whichever of the two exists. To
measure Parquet against Parquet:

    uv run trustscore convert DATA_DIR PARQUET_DIR
    uv run python benchmarks/features_pandas.py --check PARQUET_DIR
    uv run python benchmarks/features_pandas.py --time PARQUET_DIR

``--run`` reads the four tables (a CSV with ``pd.read_csv``: explicit
dtypes, dates parsed, ``--engine pyarrow`` by default, the faster reader
here, or ``c``; a Parquet file with ``pd.read_parquet``: pyarrow engine,
dates as datetime64, text straight into categoricals), computes the
features at the default as-of date (the day after the latest transaction)
and writes them to Parquet (zstd, as the CLI does).

``--check`` computes the features both ways from the same files (this
module, and trustscore's ``read_folder`` + ``compute_features``) and
compares them column by column: numbers to 1e-9 relative, null = NaN,
``employment`` as text. Exit 1 on any difference, naming the column and a
person.

``--time`` runs, each under ``/usr/bin/time -v`` in a fresh process, this
script's ``--run`` and the real ``trustscore features DATA_DIR --output``,
both on the same files (interleaved, after waiting for the load average to
fall below ``--max-load``), and prints a markdown table of the median wall time, CPU
time, peak RSS, and the CPU time other processes took meanwhile. The CLI's
time includes what this script skips: validating every row and reference,
and computing the counterfeit events.

Scope, against ``compute_features`` with the default config:

- every built-in feature that the default config outputs, in the same order
  (the counterfeit counts are penalties, not features, by default, and the
  counterfeit events that ``compute_features`` also returns are not computed);
- all four tables must be present (the sample folders have them), each as CSV
  or Parquet, not both (an error, as in ``read_folder``);
- no passthrough columns (the sample data have none): extra consumers
  columns are not read;
- no validation (ragged rows, bad cells, dangling references, duplicate
  keys): the input is taken to be valid, as ``read_folder`` would have it.
  Cells are parsed in the contract's canonical spelling (booleans and choices
  in any case, timestamps with or without an offset, empty = unknown), not
  with every leniency of ``trustscore.ingest``; Parquet columns are taken to
  have the types ``trustscore convert`` writes (Date, Datetime, Boolean,
  Enum or text, Float64).

Sums follow ``trustscore.features.block.exact_sum``: each term rounded to six
decimal places (half to even, as Polars casts a float to a decimal), the
terms added as integers, the total turned back into a float. For amounts
this changes nothing measurable; for the weighted means of ``connections``
(rate x spend, rate x orders) it is part of the definition, and without it
they differ from the Polars values by up to 1e-5 relative.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

EMPLOYMENT = ("employed", "self_employed", "student", "unemployed", "retired", "other")
TXN_STATUS = ("completed", "refunded", "cancelled", "disputed", "chargeback", "pending")
PAYMENT_METHOD = ("balance", "card", "credit", "installment")
SHIPMENT_STATUS = ("delivered", "in_transit", "returned", "refused", "lost")
RETURN_REASON = ("damaged", "not_as_described", "counterfeit", "changed_mind", "other")
TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")

DAY = pd.Timedelta(days=1)
MICRO = 1e6  # exact_sum's six decimal places

# what compute_features outputs by default, in its order (checked by --check)
COLUMNS = (
    # credit history
    "credit_bills_due_365d",
    "on_time_share_365d",
    "days_late_max_365d",
    "days_late_mean_365d",
    "bills_30plus_late_365d",
    "bills_60plus_late_365d",
    "overdue_bills",
    "overdue_amount",
    "days_since_late",
    "on_time_share_lifetime",
    "days_late_mean_lifetime",
    "late_bills_lifetime",
    "bills_30plus_late_lifetime",
    "days_since_first_bill",
    # behaviour: orders
    "orders_30d",
    "orders_90d",
    "orders_365d",
    "spend_30d",
    "spend_90d",
    "spend_365d",
    "avg_order_value_365d",
    "active_months_365d",
    "categories_365d",
    "refund_rate_365d",
    "disputes_filed_365d",
    "chargebacks_filed_365d",
    "spend_lifetime",
    "cancel_rate_lifetime",
    "dispute_rate_lifetime",
    "chargeback_rate_lifetime",
    # behaviour: shipments
    "return_rate_365d",
    "changed_mind_return_rate_365d",
    "refused_delivery_rate_365d",
    "refused_delivery_rate_lifetime",
    # capacity
    "monthly_income",
    "employment",
    "spend_to_income_365d",
    "credit_outstanding",
    "outstanding_to_income",
    "own_funds_share_365d",
    "shops_owned",
    "shop_age_days",
    "shop_revenue_365d",
    "shop_disputed_orders_365d",
    "shop_on_time_share_365d",
    "shop_lost_shipments_365d",
    # identity
    "identity_verified",
    "phone_verified",
    "tenure_days",
    "days_at_address",
    "delivery_addresses_365d",
    # connections
    "verified_shop_share_365d",
    "shop_counterfeit_rate_365d",
    "shop_chargeback_rate_365d",
    "buyers_chargeback_rate_365d",
)


# ---------------------------------------------------------------- reading


TABLES = ("consumers", "merchants", "transactions", "logistics")
DATE, TIMESTAMP = "date", "timestamp"  # column kinds that _read parses


def _read(folder: Path, name: str, kinds: dict[str, str], engine: str) -> pd.DataFrame:
    """One table, from NAME.parquet or NAME.csv, whichever exists (as ``read_folder``:
    both is an error); only the given columns, typed as ``kinds`` says."""
    csv, parquet = folder / f"{name}.csv", folder / f"{name}.parquet"
    if parquet.exists():
        if csv.exists():
            raise SystemExit(f"{folder}: both {csv.name} and {parquet.name}")
        return _read_parquet(parquet, kinds)
    return _read_csv(csv, kinds, engine)


def _read_parquet(path: Path, kinds: dict[str, str]) -> pd.DataFrame:
    """One Parquet table, as ``trustscore convert`` writes it (typed columns).

    ``pd.read_parquet`` with the pyarrow engine (in threads): dates come as
    datetime64 rather than Python date objects (``date_as_object=False``),
    text read as ``category`` is decoded by pyarrow straight into dictionaries
    (``read_dictionary``; an Enum column is one already), and a boolean stays
    a boolean (object with None when some are missing), which ``_bool`` reads.
    """
    frame = pd.read_parquet(
        path,
        engine="pyarrow",
        columns=list(kinds),
        read_dictionary=[c for c, kind in kinds.items() if kind == "category"],
        to_pandas_kwargs={"date_as_object": False},
    )
    for c, kind in kinds.items():
        if kind == DATE:
            frame[c] = _date(frame[c])
        elif kind == TIMESTAMP:
            frame[c] = _timestamp(frame[c])
        elif kind == "float64" and frame[c].dtype != "float64":
            frame[c] = frame[c].astype("float64")
    return frame


def _read_csv(path: Path, kinds: dict[str, str], engine: str) -> pd.DataFrame:
    """One CSV: only the given columns, with their dtypes, dates and timestamps parsed.

    Only empty cells are missing. With the pyarrow reader, timestamps are
    parsed by pyarrow (in threads; a column it leaves as text, as with an
    offset, goes through ``pd.to_datetime``), and categoricals are read as text
    and converted after: measured on 20M rows, ``dtype="category"`` in that
    reader costs 5-10 s a column against 0.5 s for ``astype`` (and a date
    column comes back as Python date objects, so dates are read as text).
    """
    if engine == "c":
        dtype = {c: "str" if kind in (DATE, TIMESTAMP) else kind for c, kind in kinds.items()}
        parse_dates = None
    else:
        dtype = {
            c: "str" if kind in (DATE, "category") else kind
            for c, kind in kinds.items()
            if kind != TIMESTAMP
        }
        parse_dates = [c for c, kind in kinds.items() if kind == TIMESTAMP]
    frame = pd.read_csv(
        path,
        engine=engine,  # type: ignore[arg-type]
        usecols=list(kinds),
        dtype=dtype,  # type: ignore[arg-type]
        parse_dates=parse_dates,
        keep_default_na=False,  # "NA" or "null" is text, as in the contract
        na_values=[""],
        encoding="utf-8-sig",  # a BOM is accepted
    )
    for c, kind in kinds.items():
        if kind == DATE:
            frame[c] = _date(frame[c])
        elif kind == TIMESTAMP:
            frame[c] = _timestamp(frame[c])
        elif kind == "category" and frame[c].dtype != "category":
            frame[c] = frame[c].astype("category")
    return frame


def _date(s: pd.Series) -> pd.Series:
    """YYYY-MM-DD (naive datetime64)."""
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s
    return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")


def _timestamp(s: pd.Series) -> pd.Series:
    """ISO 8601; naive = UTC, an offset or Z converted to UTC; naive UTC out."""
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        return s.dt.tz_convert(None)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return s
    return pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce").dt.tz_convert(None)


def _levels(s: pd.Series, levels: tuple[str, ...]) -> pd.Categorical:
    """A categorical read as ``category``, recoded onto ``levels`` (any case; else missing)."""
    cats = s.cat.categories.astype(str).str.strip().str.lower()
    lut = np.append(pd.Index(levels).get_indexer(cats), -1)  # code -1 (missing) -> -1
    return pd.Categorical.from_codes(lut[s.cat.codes.to_numpy()], categories=list(levels))


def _bool(s: pd.Series) -> np.ndarray:
    """A boolean read as ``category`` (1.0, 0.0, or NaN when empty or not a boolean word),
    or from Parquet as a boolean (NaN when missing)."""
    if not isinstance(s.dtype, pd.CategoricalDtype):
        return s.to_numpy(dtype="float64", na_value=np.nan)
    cats = s.cat.categories.astype(str).str.strip().str.lower()
    values = np.where(cats.isin(TRUE_WORDS), 1.0, np.where(cats.isin(FALSE_WORDS), 0.0, np.nan))
    return np.append(values, np.nan)[s.cat.codes.to_numpy()]


def read_tables(folder: Path, engine: str = "pyarrow") -> dict[str, pd.DataFrame]:
    consumers = _read(
        folder,
        "consumers",
        {
            "person_id": "str",
            "signup_date": DATE,
            "identity_verified": "category",
            "phone_verified": "category",
            "address_since": DATE,
            "employment": "category",
            "monthly_income": "float64",
        },
        engine,
    )
    merchants = _read(
        folder,
        "merchants",
        {"merchant_id": "str", "owner_id": "str", "opened_date": DATE, "verified": "category"},
        engine,
    )
    transactions = _read(
        folder,
        "transactions",
        {
            "txn_id": "str",
            "buyer_id": "category",
            "merchant_id": "category",
            "ts": TIMESTAMP,
            "amount": "float64",
            "status": "category",
            "payment_method": "category",
            "category": "category",
            "counterfeit": "category",
            "due_date": DATE,
            "repaid_date": DATE,
        },
        engine,
    )
    logistics = _read(
        folder,
        "logistics",
        {
            "txn_id": "str",
            "shipped_at": TIMESTAMP,
            "promised_at": TIMESTAMP,
            "delivered_at": TIMESTAMP,
            "status": "category",
            "return_reason": "category",
            "claim_upheld": "category",
            "address_id": "category",
        },
        engine,
    )
    return dict(zip(TABLES, (consumers, merchants, transactions, logistics), strict=True))


def default_as_of(transactions: pd.DataFrame) -> dt.date:
    """The day after the latest transaction ``ts`` (the trustscore default)."""
    latest: pd.Timestamp = transactions["ts"].max()
    return latest.date() + dt.timedelta(days=1)


# ---------------------------------------------------------------- helpers


def _share(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, missing when den is 0 or missing."""
    return num / den.where(den > 0)


def _micro(x: np.ndarray | pd.Series) -> np.ndarray:
    """A float as whole millionths (int64), rounded half to even, as Polars casts it to
    Decimal(38, 6); NaN counts as 0 (a null term adds nothing to a sum)."""
    v = np.rint(np.asarray(x, dtype=np.float64) * MICRO)
    return np.where(np.isnan(v), 0, v).astype(np.int64)


def _days(later: pd.Timestamp, earlier: pd.Series) -> pd.Series:
    """Whole days from the date ``earlier`` to ``later`` (NaN where missing)."""
    return (later - earlier).dt.days.astype("float64")


def _day_number(ts: pd.Series) -> np.ndarray:
    """Each timestamp's date as days since 1970-01-01 (floored)."""
    return ts.to_numpy().astype("datetime64[D]").astype(np.int64)


def _exact(total_micro: pd.Series) -> pd.Series:
    return total_micro / MICRO


# ---------------------------------------------------------------- the as-of view


@dataclass
class View:
    """The tables as seen at ``as_of`` (``trustscore.features.as_of_view``), keyed by integers.

    pid: a person's row in consumers (-1: not a consumer); mid: the shop's code
    among the orders' shops; owner: the pid of the owner of a shop that exists
    at as-of (-1: none); ``verified``: that shop says so.
    """

    as_of: dt.date
    consumers: pd.DataFrame
    shops: pd.DataFrame  # existing at as-of: owner, opened_date
    orders: pd.DataFrame  # before as-of, repaid_date masked
    shipments: pd.DataFrame  # of those orders, outcome as known at as-of
    n_shops: int  # mid < n_shops

    @property
    def persons(self) -> int:
        return len(self.consumers)

    @property
    def cutoff(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of)

    def since(self, days: int) -> pd.Timestamp:
        return self.cutoff - days * DAY


def _recode(categorical: pd.Series, index: pd.Index) -> np.ndarray:
    """Each row's position in ``index`` (-1 if absent), looked up once per distinct value."""
    cat = categorical.cat
    lut = np.append(index.get_indexer(cat.categories), -1)
    return lut[cat.codes.to_numpy()]


def as_of_view(tables: dict[str, pd.DataFrame], as_of: dt.date) -> View:
    cutoff = pd.Timestamp(as_of)
    consumers = tables["consumers"]
    merchants = tables["merchants"]
    txns = tables["transactions"]
    logistics = tables["logistics"]
    people = pd.Index(consumers["person_id"])

    exists = (merchants["opened_date"].isna() | (merchants["opened_date"] < cutoff)).to_numpy()
    shops = pd.DataFrame(
        {
            "owner": people.get_indexer(merchants["owner_id"]).astype(np.int32),
            "opened_date": merchants["opened_date"],
            "verified": _bool(merchants["verified"]) == 1.0,
        }
    )[exists].reset_index(drop=True)

    # per shop named by the orders (mid = its category code): owner and licence
    shop_row = (
        merchants["merchant_id"][exists]
        .pipe(pd.Index)
        .get_indexer(txns["merchant_id"].cat.categories)
    )
    found = shop_row >= 0
    owner_of = np.full(len(shop_row) + 1, -1, dtype=np.int32)  # the extra slot: code -1
    owner_of[:-1][found] = shops["owner"].to_numpy()[shop_row[found]]
    verified_of = np.zeros(len(shop_row) + 1, dtype=bool)
    verified_of[:-1][found] = shops["verified"].to_numpy()[shop_row[found]]

    pid = _recode(txns["buyer_id"], people).astype(np.int32)
    mid = txns["merchant_id"].cat.codes.to_numpy().astype(np.int32)
    all_orders = pd.DataFrame(
        {
            "pid": pid,
            "mid": mid,
            "owner": owner_of[mid],
            "verified": verified_of[mid],
            "ts": txns["ts"],
            "amount": txns["amount"],
            "status": _levels(txns["status"], TXN_STATUS),
            "payment_method": _levels(txns["payment_method"], PAYMENT_METHOD),
            "category": txns["category"],
            "counterfeit": _bool(txns["counterfeit"]) == 1.0,
            "due_date": txns["due_date"],
            "repaid_date": txns["repaid_date"].where(txns["repaid_date"] < cutoff),
        }
    )
    before = all_orders["ts"] < cutoff
    orders = all_orders if before.all() else all_orders[before]

    # each shipment's order: the ids are factorized together, and as txn_id is unique
    # (a contract rule) the code of a transaction's id is its row; a code past
    # the transactions is an id that names no transaction (several times faster
    # than Index.get_indexer or merge on 20M strings)
    ids = pd.concat([txns["txn_id"], logistics["txn_id"]], ignore_index=True)
    codes = pd.factorize(ids)[0]
    del ids
    if not np.array_equal(codes[: len(txns)], np.arange(len(txns))):
        raise ValueError("transactions.csv: txn_id is not unique")
    tid = codes[len(txns) :]
    tid[tid >= len(txns)] = -1
    order_ts = txns["ts"].to_numpy()[tid]
    shipped = logistics["shipped_at"].to_numpy()
    exists = (
        (tid >= 0) & (order_ts < cutoff) & (np.where(np.isnat(shipped), order_ts, shipped) < cutoff)
    )
    ship = logistics[exists]
    tid = tid[exists]
    order_ts = pd.Series(order_ts[exists], index=ship.index)
    status = pd.Series(_levels(ship["status"], SHIPMENT_STATUS), index=ship.index)
    outcome_at = ship["delivered_at"].fillna(ship["shipped_at"]).fillna(order_ts)
    lost_at = ship["promised_at"].fillna(outcome_at)
    known_at = lost_at.where(status == "lost", outcome_at)
    settled = known_at < cutoff
    shipments = pd.DataFrame(
        {
            "pid": pid[tid],
            "owner": owner_of[mid[tid]],
            "ts": order_ts,
            "status": status.where(settled, "in_transit"),
            "return_reason": pd.Series(
                _levels(ship["return_reason"], RETURN_REASON), index=ship.index
            ).where(settled),
            "promised_at": ship["promised_at"],
            "delivered_at": ship["delivered_at"].where(ship["delivered_at"] < cutoff),
            "address_id": ship["address_id"],
        }
    )
    return View(
        as_of=as_of,
        consumers=consumers,
        shops=shops,
        orders=orders,
        shipments=shipments,
        n_shops=len(shop_row),
    )


# ---------------------------------------------------------------- the blocks


def _per_person(view: View, found: pd.DataFrame, zero: tuple[str, ...] = ()) -> pd.DataFrame:
    """One row per consumer (index = pid): 0 in ``zero`` columns when absent, else NaN."""
    found = found[found.index >= 0]
    out = found.reindex(pd.RangeIndex(view.persons)).astype("float64")
    if zero:
        out[list(zero)] = out[list(zero)].fillna(0.0)
    return out


def _is_bill(o: pd.DataFrame) -> pd.Series:
    """A credit bill: paid on credit or in instalments, with a due date, and neither
    cancelled, refunded nor pending (``trustscore.features.credit.is_bill``)."""
    return (
        o["payment_method"].isin(["credit", "installment"])
        & o["due_date"].notna()
        & ~o["status"].isin(["cancelled", "refunded", "pending"])
    )


def credit(view: View) -> pd.DataFrame:
    o = view.orders
    is_bill = _is_bill(o)
    b = o.loc[is_bill, ["pid", "due_date", "repaid_date", "amount"]]
    due_date, repaid = b["due_date"], b["repaid_date"]
    due = due_date < view.cutoff
    delay = (
        _days(repaid, due_date)
        .clip(lower=0)
        .where(repaid.notna(), _days(view.cutoff, due_date))
        .where(due)
    )
    window = due & (due_date >= view.cutoff - 365 * DAY)
    overdue = due & repaid.isna()
    behind = repaid.where(repaid > due_date).mask(overdue, view.cutoff)
    found = (
        pd.DataFrame(
            {
                "pid": b["pid"],
                "window": window,
                "on_time": window & (delay == 0),
                "delay": delay.where(window),
                "late30": window & (delay >= 30),
                "late60": window & (delay >= 60),
                "overdue": overdue,
                "overdue_u": np.where(overdue, _micro(b["amount"]), 0),
                "behind": behind,
                # lifetime: every bill due before as-of (delay is NaN unless due)
                "due": due,
                "on_time_all": delay == 0,
                "delay_all": delay,
                "late_all": delay > 0,
                "late30_all": delay >= 30,
                "due_date": due_date.where(due),
            }
        )
        .groupby("pid", sort=False)
        .agg(
            credit_bills_due_365d=("window", "sum"),
            on_time=("on_time", "sum"),
            days_late_max_365d=("delay", "max"),
            days_late_mean_365d=("delay", "mean"),
            bills_30plus_late_365d=("late30", "sum"),
            bills_60plus_late_365d=("late60", "sum"),
            overdue_bills=("overdue", "sum"),
            overdue_u=("overdue_u", "sum"),
            behind=("behind", "max"),
            due=("due", "sum"),
            on_time_all=("on_time_all", "sum"),
            days_late_mean_lifetime=("delay_all", "mean"),
            late_bills_lifetime=("late_all", "sum"),
            bills_30plus_late_lifetime=("late30_all", "sum"),
            first_due=("due_date", "min"),
        )
    )
    found["on_time_share_365d"] = _share(found["on_time"], found["credit_bills_due_365d"])
    found["overdue_amount"] = _exact(found["overdue_u"])
    found["days_since_late"] = _days(view.cutoff, found["behind"])
    found["on_time_share_lifetime"] = _share(found["on_time_all"], found["due"])
    found["days_since_first_bill"] = _days(view.cutoff, found["first_due"])
    zero = (
        "credit_bills_due_365d",
        "bills_30plus_late_365d",
        "bills_60plus_late_365d",
        "overdue_bills",
        "overdue_amount",
        "late_bills_lifetime",
        "bills_30plus_late_lifetime",
    )
    helpers = ["on_time", "overdue_u", "behind", "due", "on_time_all", "first_due"]
    return _per_person(view, found.drop(columns=helpers), zero)


def behaviour(view: View) -> pd.DataFrame:
    r = view.orders[view.orders["ts"] >= view.since(365)]
    ts, status = r["ts"], r["status"]
    completed = status == "completed"
    amount = _micro(r["amount"])
    w30, w90 = ts >= view.since(30), ts >= view.since(90)
    days = (view.cutoff - pd.Timestamp(0)).days - _day_number(ts)  # 1..365
    frame = pd.DataFrame(
        {
            "pid": r["pid"],
            "orders_30d": w30,
            "orders_90d": w90,
            "orders_365d": np.ones(len(r), dtype=np.int64),
            "spend_30d": np.where(w30 & completed, amount, 0),
            "spend_90d": np.where(w90 & completed, amount, 0),
            "spend_365d": np.where(completed, amount, 0),
            "completed": completed,
            "refunded": status == "refunded",
            "disputes_filed_365d": status == "disputed",
            "chargebacks_filed_365d": status == "chargeback",
            "month": (days - 1) * 12 // 365,
            "category": r["category"],
        }
    )
    g = frame.groupby("pid", sort=False)
    found = g[
        [
            "orders_30d",
            "orders_90d",
            "orders_365d",
            "spend_30d",
            "spend_90d",
            "spend_365d",
            "completed",
            "refunded",
            "disputes_filed_365d",
            "chargebacks_filed_365d",
        ]
    ].sum()
    for name in ("spend_30d", "spend_90d", "spend_365d"):
        found[name] = _exact(found[name])
    found["avg_order_value_365d"] = _share(found["spend_365d"], found["completed"])
    found["active_months_365d"] = g["month"].nunique()
    found["categories_365d"] = g["category"].nunique()
    found["refund_rate_365d"] = _share(found["refunded"], found["orders_365d"])
    orders = _per_person(
        view,
        found,
        (
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
        ),
    )

    s = view.shipments[view.shipments["ts"] >= view.since(365)]
    st = s["status"]
    returned = st == "returned"
    counts = (
        pd.DataFrame(
            {
                "pid": s["pid"],
                "received": st.isin(["delivered", "returned"]),
                "attempted": st.isin(["delivered", "returned", "refused"]),
                "returned": returned,
                "changed_mind": returned & (s["return_reason"] == "changed_mind"),
                "refused": st == "refused",
            }
        )
        .groupby("pid", sort=False)
        .sum()
    )
    rates = pd.DataFrame(
        {
            "return_rate_365d": _share(counts["returned"], counts["received"]),
            "changed_mind_return_rate_365d": _share(counts["changed_mind"], counts["received"]),
            "refused_delivery_rate_365d": _share(counts["refused"], counts["attempted"]),
        }
    )

    # lifetime: every order, and every parcel, before as-of
    o = view.orders
    status = o["status"]
    completed_all = (status == "completed").to_numpy()
    history = (
        pd.DataFrame(
            {
                "pid": o["pid"],
                "spend_lifetime": np.where(completed_all, _micro(o["amount"]), 0),
                "n": np.ones(len(o), dtype=np.int64),
                "cancelled": status == "cancelled",
                "disputed": status == "disputed",
                "chargeback": status == "chargeback",
            }
        )
        .groupby("pid", sort=False)
        .sum()
    )
    lifetime = pd.DataFrame(
        {
            "spend_lifetime": _exact(history["spend_lifetime"]),
            "cancel_rate_lifetime": _share(history["cancelled"], history["n"]),
            "dispute_rate_lifetime": _share(history["disputed"], history["n"]),
            "chargeback_rate_lifetime": _share(history["chargeback"], history["n"]),
        }
    )
    st = view.shipments["status"]
    refused = (
        pd.DataFrame(
            {
                "pid": view.shipments["pid"],
                "attempted": st.isin(["delivered", "returned", "refused"]),
                "refused": st == "refused",
            }
        )
        .groupby("pid", sort=False)
        .sum()
    )
    refused_rate = _share(refused["refused"], refused["attempted"])
    return pd.concat(
        [
            orders,
            _per_person(view, lifetime, ("spend_lifetime",)),
            _per_person(view, rates),
            _per_person(view, refused_rate.to_frame("refused_delivery_rate_lifetime")),
        ],
        axis=1,
    )


def capacity(view: View) -> tuple[pd.DataFrame, pd.Series]:
    """The capacity features but employment, and employment (a categorical)."""
    income = view.consumers["monthly_income"].astype("float64").reset_index(drop=True)
    employment = pd.Series(_levels(view.consumers["employment"], EMPLOYMENT))

    o = view.orders
    amount = _micro(o["amount"])
    spent = (o["ts"] >= view.since(365)) & (o["status"] == "completed")
    method = o["payment_method"]
    is_bill = _is_bill(o)
    sums = (
        pd.DataFrame(
            {
                "pid": o["pid"],
                "spend": np.where(spent, amount, 0),
                "own": np.where(spent & method.isin(["balance", "card"]), amount, 0),
                "method_known": np.where(spent & method.notna(), amount, 0),
                "owed": np.where(is_bill & o["repaid_date"].isna(), amount, 0),
            }
        )
        .groupby("pid", sort=False)
        .sum()
    )
    per = _per_person(view, _exact(sums), ("spend", "owed"))
    out = pd.DataFrame(
        {
            "monthly_income": income,
            "spend_to_income_365d": _share(per["spend"], 12 * income),
            "credit_outstanding": per["owed"],
            "outstanding_to_income": _share(per["owed"], income),
            "own_funds_share_365d": _share(per["own"], per["method_known"]),
        }
    )

    shops = view.shops[view.shops["owner"] >= 0]
    g = shops.groupby("owner", sort=False)
    owned = pd.DataFrame(
        {"shops_owned": g.size(), "shop_age_days": _days(view.cutoff, g["opened_date"].min())}
    )

    r = view.orders[(view.orders["ts"] >= view.since(365)) & (view.orders["owner"] >= 0)]
    sales = (
        pd.DataFrame(
            {
                "owner": r["owner"],
                "shop_revenue_365d": np.where(r["status"] == "completed", _micro(r["amount"]), 0),
                "shop_disputed_orders_365d": r["status"].isin(["disputed", "chargeback"]),
            }
        )
        .groupby("owner", sort=False)
        .sum()
    )
    sales["shop_revenue_365d"] = _exact(sales["shop_revenue_365d"])

    s = view.shipments
    s = s[(s["ts"] >= view.since(365)) & (s["owner"] >= 0)]
    promised, delivered = s["promised_at"], s["delivered_at"]
    judged = promised.notna() & (delivered.notna() | (promised < view.cutoff))
    shipping = (
        pd.DataFrame(
            {
                "owner": s["owner"],
                "judged": judged,
                "on_time": judged & (delivered <= promised),
                "shop_lost_shipments_365d": s["status"] == "lost",
            }
        )
        .groupby("owner", sort=False)
        .sum()
    )
    shipping["shop_on_time_share_365d"] = _share(shipping["on_time"], shipping["judged"])

    out = pd.concat(
        [
            out,
            _per_person(view, owned, ("shops_owned",)),
            _per_person(view, sales, ("shop_revenue_365d", "shop_disputed_orders_365d")),
            _per_person(
                view,
                shipping[["shop_on_time_share_365d", "shop_lost_shipments_365d"]],
                ("shop_lost_shipments_365d",),
            ),
        ],
        axis=1,
    )
    return out, employment


def identity(view: View) -> pd.DataFrame:
    c = view.consumers.reset_index(drop=True)
    tenure = _days(view.cutoff, c["signup_date"])
    at_address = _days(view.cutoff, c["address_since"])
    s = view.shipments[view.shipments["ts"] >= view.since(365)]
    addresses = (
        s.groupby("pid", sort=False)["address_id"].nunique().to_frame("delivery_addresses_365d")
    )
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "identity_verified": _bool(c["identity_verified"]),
                    "phone_verified": _bool(c["phone_verified"]),
                    "tenure_days": tenure.where(tenure > 0),
                    "days_at_address": at_address.where(at_address > 0),
                }
            ),
            _per_person(view, addresses, ("delivery_addresses_365d",)),
        ],
        axis=1,
    )


def _weighted(term: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """exact_sum(term) and exact_sum(weight where term known), as millionths per row."""
    known_term = ~np.isnan(term)
    return np.where(known_term, _micro(term), 0), np.where(known_term, _micro(weight), 0)


def connections(view: View) -> pd.DataFrame:
    r = view.orders[view.orders["ts"] >= view.since(365)]
    pid = r["pid"].to_numpy().astype(np.int64)
    mid = r["mid"].to_numpy().astype(np.int64)
    completed = (r["status"] == "completed").to_numpy()
    chargeback = (r["status"] == "chargeback").to_numpy()
    fake = r["counterfeit"].to_numpy()
    spend = np.where(completed, _micro(r["amount"]), 0)

    per_buyer = (
        pd.DataFrame(
            {
                "pid": pid,
                "spend": spend,
                "checked": np.where(completed & r["verified"].to_numpy(), spend, 0),
                "n": 1,
                "cb": chargeback,
            }
        )
        .groupby("pid", sort=False)
        .sum()
    )
    verified_share = _share(_exact(per_buyer["checked"]), _exact(per_buyer["spend"]))

    # each shop's rates without the person's own orders there
    shop = (
        pd.DataFrame({"mid": mid, "n": 1, "fake": fake, "cb": chargeback})
        .groupby("mid", sort=False)
        .sum()
        .reindex(pd.RangeIndex(view.n_shops), fill_value=0)
    )
    mine = pid >= 0
    pair = (
        pd.DataFrame(
            {
                "pair": pid[mine] * view.n_shops + mid[mine],
                "n_own": 1,
                "fake_own": fake[mine],
                "cb_own": chargeback[mine],
                "spend": spend[mine],
            }
        )
        .groupby("pair", sort=False)
        .sum()
    )
    pair_pid = pair.index.to_numpy() // view.n_shops
    pair_mid = pair.index.to_numpy() % view.n_shops
    others = (shop["n"].to_numpy()[pair_mid] - pair["n_own"].to_numpy()).astype("float64")
    others[others <= 0] = np.nan
    pair_spend = pair["spend"].to_numpy() / MICRO
    columns: dict[str, np.ndarray] = {"pid": pair_pid}
    for name, total, own in (
        ("counterfeit", "fake", "fake_own"),
        ("chargeback", "cb", "cb_own"),
    ):
        rate = (shop[total].to_numpy()[pair_mid] - pair[own].to_numpy()) / others
        columns[f"{name}_num"], columns[f"{name}_den"] = _weighted(rate * pair_spend, pair_spend)
    sums = pd.DataFrame(columns).groupby("pid", sort=False).sum()
    reputation = pd.DataFrame(
        {
            f"shop_{name}_rate_365d": _share(
                _exact(sums[f"{name}_num"]), _exact(sums[f"{name}_den"])
            )
            for name in ("counterfeit", "chargeback")
        }
    )

    # a seller's buyers, judged by their orders at other sellers' shops
    buyers = per_buyer[["n", "cb"]].reindex(pd.RangeIndex(view.persons), fill_value=0)
    owner = r["owner"].to_numpy().astype(np.int64)
    sold_mask = (owner >= 0) & mine
    sold = (
        pd.DataFrame(
            {
                "key": owner[sold_mask] * view.persons + pid[sold_mask],
                "n_here": 1,
                "cb_here": chargeback[sold_mask],
            }
        )
        .groupby("key", sort=False)
        .sum()
    )
    sold_owner = sold.index.to_numpy() // view.persons
    sold_pid = sold.index.to_numpy() % view.persons
    n_here = sold["n_here"].to_numpy().astype("float64")
    elsewhere = buyers["n"].to_numpy()[sold_pid] - n_here
    elsewhere[elsewhere <= 0] = np.nan
    rate = (buyers["cb"].to_numpy()[sold_pid] - sold["cb_here"].to_numpy()) / elsewhere
    num, den = _weighted(rate * n_here, n_here)
    per_owner = (
        pd.DataFrame({"owner": sold_owner, "num": num, "den": den})
        .groupby("owner", sort=False)
        .sum()
    )
    buyer_rate = _share(_exact(per_owner["num"]), _exact(per_owner["den"]))

    return pd.concat(
        [
            _per_person(view, verified_share.to_frame("verified_shop_share_365d")),
            _per_person(view, reputation),
            _per_person(view, buyer_rate.to_frame("buyers_chargeback_rate_365d")),
        ],
        axis=1,
    )


def compute_features(tables: dict[str, pd.DataFrame], as_of: dt.date) -> pd.DataFrame:
    """person_id and the default features, one row per consumer in consumers' order."""
    view = as_of_view(tables, as_of)
    capacity_part, employment = capacity(view)
    parts = pd.concat(
        [credit(view), behaviour(view), capacity_part, identity(view), connections(view)], axis=1
    )
    parts["employment"] = employment
    out = parts[list(COLUMNS)]
    out.insert(0, "person_id", view.consumers["person_id"].to_numpy())
    return out


def run(
    folder: Path, as_of: dt.date | None = None, engine: str = "pyarrow"
) -> tuple[pd.DataFrame, dt.date]:
    tables = read_tables(folder, engine)
    as_of = as_of or default_as_of(tables["transactions"])
    return compute_features(tables, as_of), as_of


# ---------------------------------------------------------------- --check


def _polars_features(folder: Path, as_of: dt.date | None) -> tuple[object, dt.date]:
    from trustscore.features import compute_features as polars_features
    from trustscore.features import default_as_of as polars_as_of
    from trustscore.ingest import read_folder

    tables, _ = read_folder(folder)
    as_of = as_of or polars_as_of(tables)
    return polars_features(tables, as_of).frame, as_of


def _readers(folder: Path, engine: str) -> str:
    """How this script reads ``folder``'s tables, for the reports."""
    parquet = any((folder / f"{name}.parquet").exists() for name in TABLES)
    csv = any((folder / f"{name}.csv").exists() for name in TABLES)
    kinds = [f"{engine} CSV reader"] * csv + ["pyarrow Parquet reader"] * parquet
    return " + ".join(kinds) or "no tables"


def check(folder: Path, as_of: dt.date | None = None, engine: str = "pyarrow") -> int:
    """Compare both ways' features on ``folder``; 0 if they agree, else 1."""
    t = time.perf_counter()
    theirs, their_as_of = _polars_features(folder, as_of)
    t_polars = time.perf_counter() - t
    t = time.perf_counter()
    ours, our_as_of = run(folder, as_of, engine)
    t_pandas = time.perf_counter() - t
    print(f"{folder}: {len(ours):,} persons, as of {our_as_of} (trustscore: {their_as_of})")
    print(
        f"in-process: trustscore {t_polars:.2f} s, pandas ({_readers(folder, engine)}) "
        f"{t_pandas:.2f} s"
    )
    problems: list[str] = []
    if our_as_of != their_as_of:
        problems.append(f"as-of differs: pandas {our_as_of}, trustscore {their_as_of}")
    their_columns = list(theirs.columns)  # type: ignore[attr-defined]
    if their_columns != list(ours.columns):
        problems.append(
            "columns differ:\n  pandas:     "
            + ", ".join(ours.columns)
            + "\n  trustscore: "
            + ", ".join(their_columns)
        )
    ids = np.asarray(theirs["person_id"].to_list(), dtype=object)  # type: ignore[index]
    if len(ids) != len(ours) or not (ids == ours["person_id"].to_numpy(dtype=object)).all():
        problems.append("person_id: not the same persons in the same order")
    rows: list[tuple[str, int, str]] = []
    for name in their_columns[1:] if not problems else []:
        if name not in ours.columns:
            continue
        column = theirs[name]  # type: ignore[index]
        if name == "employment":
            a = np.asarray(column.cast(str).to_list(), dtype=object)
            b = ours[name].astype(object).where(ours[name].notna(), None).to_numpy()
            bad = np.flatnonzero(a != b)
            where_bad = bad
            detail = "text"
        else:
            a = column.to_numpy().astype("float64")  # null -> NaN
            b = ours[name].to_numpy(dtype="float64")
            same = np.isclose(a, b, rtol=1e-9, atol=0.0, equal_nan=True)
            where_bad = np.flatnonzero(~same)
            both = ~np.isnan(a) & ~np.isnan(b)
            scale = np.maximum(np.abs(a), np.abs(b))[both]
            gap = np.abs(a - b)[both]
            worst = float(np.max(gap[scale > 0] / scale[scale > 0], initial=0.0))
            detail = f"max rel diff {worst:.1e}"
        rows.append((name, len(where_bad), detail))
        if len(where_bad):
            i = int(where_bad[0])
            problems.append(
                f"{name}: {len(where_bad):,} persons differ, e.g. {ids[i]}: "
                f"pandas {b[i]!r}, trustscore {a[i]!r}"
            )
    width = max((len(n) for n, _, _ in rows), default=10)
    for name, n_bad, detail in rows:
        print(f"  {name:<{width}}  {'OK ' if n_bad == 0 else 'BAD'}  {n_bad:>7,}  {detail}")
    if problems:
        print(f"\nFAIL: {len(problems)} difference(s)", file=sys.stderr)
        for p in problems:
            print("  " + p, file=sys.stderr)
        return 1
    print(f"\nOK: {len(rows)} feature columns x {len(ours):,} persons agree")
    return 0


# ---------------------------------------------------------------- --time


def _trustscore_exe() -> str:
    here = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "trustscore"
    if here.is_file():
        return str(here)
    found = shutil.which("trustscore")
    if found is None:
        raise SystemExit("trustscore executable not found (looked in .venv/bin and PATH)")
    return found


def _busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot (all cores, /proc/stat)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _measure(command: list[str]) -> tuple[float, float, float, float]:
    """One run of ``command`` under /usr/bin/time -v.

    Returns wall seconds, peak RSS (MB), its CPU seconds (user + sys), and the
    CPU seconds that the rest of the machine used meanwhile (other load).
    """
    busy = _busy_seconds()
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    busy = _busy_seconds() - busy
    report = done.stderr
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {' '.join(command)}\n{report[-2000:]}")

    def field(label: str) -> str:
        found = re.search(re.escape(label) + r": (\S+)", report)
        if found is None:
            raise SystemExit(f"no {label!r} in /usr/bin/time's report:\n{report[-2000:]}")
        return found.group(1)

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    rss = int(field("Maximum resident set size (kbytes)")) / 1024
    return wall, rss, cpu, max(busy - cpu, 0.0)


def _wait_for_quiet(max_load: float, patience: float) -> float:
    """Wait (up to ``patience`` seconds) until the 1-minute load average is below ``max_load``."""
    start = time.monotonic()
    load = os.getloadavg()[0]
    while load >= max_load and time.monotonic() - start < patience:
        print(f"load average {load:.2f} >= {max_load}: waiting", file=sys.stderr)
        time.sleep(20)
        load = os.getloadavg()[0]
    return load


def timing(
    folder: Path,
    runs: int,
    pandas_runs: int | None,
    out_dir: Path,
    max_load: float,
    engine: str = "pyarrow",
) -> int:
    out_dir.mkdir(parents=True, exist_ok=True)
    pandas_out = out_dir / "features_pandas.parquet"
    polars_out = out_dir / "features_trustscore.parquet"
    script = Path(__file__).resolve()
    commands = {
        "pandas": [
            *(sys.executable, str(script), "--run", str(folder), "--out", str(pandas_out)),
            *("--engine", engine),
        ],
        "trustscore": [_trustscore_exe(), "features", str(folder), "--output", str(polars_out)],
    }
    shown = {
        "pandas": f"python benchmarks/{script.name} --run {folder} --out {pandas_out}"
        f" --engine {engine}",
        "trustscore": f"trustscore features {folder} --output {polars_out}",
    }
    wanted = {"pandas": pandas_runs or runs, "trustscore": runs}
    results: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in commands}
    load = _wait_for_quiet(max_load, patience=1800)
    print(f"load average (1 min) before the first run: {load:.2f}", file=sys.stderr)
    for i in range(max(wanted.values())):
        for name, command in commands.items():  # interleaved, so drifts hit both
            if i >= wanted[name]:
                continue
            result = _measure(command)
            results[name].append(result)
            wall, rss, cpu, other = result
            print(
                f"run {i + 1} {name}: {wall:.2f} s wall, {cpu:.1f} s CPU, {rss:,.0f} MB; "
                f"other processes meanwhile: {other:.1f} CPU s",
                file=sys.stderr,
            )
    medians = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
    print(f"\n{folder}: load average before the first run {load:.2f}; 2 cores\n")
    print("| command | median wall (s) | CPU (s) | peak RSS (MB) | runs | other load (CPU s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in commands:
        rows = results[name]
        cpu = statistics.median(r[2] for r in rows)
        peak = max(r[1] for r in rows)
        other = max(r[3] for r in rows)
        print(
            f"| `{shown[name]}` | {medians[name]:.2f} | {cpu:.1f} | {peak:,.0f} | "
            f"{len(rows)} | {other:.1f} |"
        )
    ratio = medians["pandas"] / medians["trustscore"]
    print(f"\npandas / trustscore, median wall time: {ratio:.2f}x")
    return 0


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", type=Path, metavar="DATA_DIR", help="compare with trustscore")
    mode.add_argument("--time", type=Path, metavar="DATA_DIR", help="time both as processes")
    mode.add_argument("--run", type=Path, metavar="DATA_DIR", help="features to --out (parquet)")
    parser.add_argument("--out", type=Path, help="with --run: the Parquet file to write")
    parser.add_argument(
        "--as-of", type=dt.date.fromisoformat, help="with --run or --check (default: the data's)"
    )
    parser.add_argument("--runs", type=int, default=3, help="with --time: runs of each")
    parser.add_argument(
        "--pandas-runs", type=int, help="with --time: runs of pandas (default --runs)"
    )
    parser.add_argument(
        "--engine",
        choices=("c", "pyarrow"),
        default="pyarrow",
        help="pd.read_csv's parser for CSV tables (default pyarrow: threads; c: the classic "
        "one); Parquet tables are read with pd.read_parquet's pyarrow engine",
    )
    parser.add_argument(
        "--max-load", type=float, default=1.5, help="with --time: wait for a lower load first"
    )
    parser.add_argument("--tmp", type=Path, default=Path("/tmp"), help="with --time: output dir")
    args = parser.parse_args(argv)
    if args.check:
        return check(args.check, args.as_of, args.engine)
    if args.time:
        return timing(args.time, args.runs, args.pandas_runs, args.tmp, args.max_load, args.engine)
    if args.out is None:
        parser.error("--run needs --out FILE.parquet")
    frame, as_of = run(args.run, args.as_of, args.engine)
    frame.to_parquet(args.out, compression="zstd", index=False)
    print(f"{len(frame):,} persons as of {as_of} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
