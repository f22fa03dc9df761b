"""Honest about time: what happens on or after the as-of date changes nothing."""

from __future__ import annotations

import datetime as dt

import polars as pl
from polars.testing import assert_frame_equal

from tests.feature_fixture import AS_OF, CONSUMERS, LOGISTICS, MERCHANTS, TRANSACTIONS
from tests.feature_tables import Row, make_tables
from trustscore.data_tables import DataTables
from trustscore.features import FeatureConfig, compute_features

LATER_MERCHANTS: list[Row] = [
    # opens on the as-of day: not yet a shop
    {"merchant_id": "ME", "owner_id": "C", "opened_date": "2025-07-01", "verified": True},
    {"merchant_id": "MF", "owner_id": "D", "opened_date": "2026-01-01", "verified": False},
]

LATER_TRANSACTIONS: list[Row] = [
    # at the very first instant of the as-of day
    {"txn_id": "L1", "buyer_id": "A", "merchant_id": "MA", "ts": "2025-07-01T00:00",
     "amount": 10.0, "status": "chargeback", "payment_method": "credit", "category": "new",
     "counterfeit": True, "due_date": "2025-06-01"},
    {"txn_id": "L2", "buyer_id": "C", "merchant_id": "MB", "ts": "2025-08-01T10:00",
     "amount": 500.0, "status": "completed", "payment_method": "installment",
     "counterfeit": True, "due_date": "2025-08-31", "repaid_date": "2025-10-01"},
    {"txn_id": "L3", "buyer_id": "D", "merchant_id": "ME", "ts": "2025-07-02T10:00",
     "amount": 20.0, "status": "disputed", "payment_method": "card", "counterfeit": True},
    {"txn_id": "L4", "buyer_id": "B", "merchant_id": "MF", "ts": "2026-01-02T10:00",
     "amount": 30.0, "status": "refunded", "payment_method": "balance"},
]  # fmt: skip

LATER_SHIPMENTS: list[Row] = [
    # new parcels for old orders, shipped on or after as-of
    {"shipment_id": "L10", "txn_id": "T2", "shipped_at": "2025-07-01T00:00",
     "promised_at": "2025-07-03T00:00", "delivered_at": "2025-07-02T00:00",
     "status": "returned", "return_reason": "counterfeit", "claim_upheld": False,
     "address_id": "NEW1"},
    {"shipment_id": "L11", "txn_id": "T7", "shipped_at": "2025-07-05T00:00",
     "status": "lost", "address_id": "NEW2"},
    # parcels of later orders
    {"shipment_id": "L12", "txn_id": "L1", "shipped_at": "2025-07-01T08:00",
     "delivered_at": "2025-07-03T08:00", "status": "refused", "address_id": "NEW3"},
    {"shipment_id": "L13", "txn_id": "L2", "shipped_at": "2025-08-02T08:00",
     "promised_at": "2025-08-05T08:00", "delivered_at": "2025-08-04T08:00",
     "status": "returned", "return_reason": "counterfeit", "claim_upheld": False},
]  # fmt: skip

# repayments after as-of, on orders placed before it
LATER_REPAID = {"T3": "2025-07-10", "T5": "2025-07-25"}


def _as_it_was() -> DataTables:
    """The world as a snapshot taken on the as-of day would have recorded it."""
    merchants = [r for r in MERCHANTS if r["merchant_id"] != "MC"]  # opens 2025-08-01
    transactions = [
        {**r, "repaid_date": None} if r["txn_id"] == "T4" else r  # repaid 2025-07-05
        for r in TRANSACTIONS
        if r["txn_id"] != "T8"  # ordered 2025-07-02
    ]
    logistics = [
        {**r, "delivered_at": None, "status": "in_transit"} if r["shipment_id"] == "S4" else r
        for r in LOGISTICS
        if r["shipment_id"] != "S11"  # T8's
    ]
    return make_tables(CONSUMERS, merchants, transactions, logistics)


def _as_recorded_later() -> DataTables:
    """The fixture (which already holds some of the future) with more of it."""
    transactions = [
        {**r, "repaid_date": LATER_REPAID.get(r["txn_id"], r["repaid_date"])} for r in TRANSACTIONS
    ]
    return make_tables(
        CONSUMERS,
        MERCHANTS + LATER_MERCHANTS,
        transactions + LATER_TRANSACTIONS,
        LOGISTICS + LATER_SHIPMENTS,
    )


def test_events_on_or_after_as_of_change_nothing() -> None:
    config = FeatureConfig(counterfeit_in_model=True)
    before = compute_features(_as_it_was(), AS_OF, config)
    after = compute_features(_as_recorded_later(), AS_OF, config)
    assert_frame_equal(after.frame, before.frame)
    assert_frame_equal(after.events, before.events)
    assert after.specs == before.specs


def test_the_future_does_count_once_it_is_the_past() -> None:
    # the same additions, seen from a year later, do change the features: the test
    # above would pass vacuously if they never mattered
    later = dt.date(2026, 7, 1)
    before = compute_features(_as_it_was(), later)
    after = compute_features(_as_recorded_later(), later)
    assert not after.frame.equals(before.frame)
    assert after.events.height > before.events.height


def test_a_day_earlier_forgets_that_day() -> None:
    # as of 2025-06-01: T11 (2025-06-01T00:00) has not happened yet
    early = compute_features(make_tables(CONSUMERS, MERCHANTS, TRANSACTIONS, LOGISTICS),
                             dt.date(2025, 6, 1))  # fmt: skip
    d = early.frame.filter(pl.col("person_id") == "D")
    assert d.get_column("chargebacks_filed_365d").item() == 1.0  # T15 only
    assert d.get_column("orders_90d").item() == 1.0  # T12 (2025-05-01); T15 is 03-01
    # and the whole history too: T13, T14, T15 (charged back), T12
    assert d.get_column("chargeback_rate_lifetime").item() == 1 / 4


def test_the_whole_history_reaches_back_past_the_windows() -> None:
    # as of 2030: every event is years old, out of every window but not forgotten
    late = compute_features(make_tables(CONSUMERS, MERCHANTS, TRANSACTIONS, LOGISTICS),
                            dt.date(2030, 1, 1)).frame  # fmt: skip
    a = late.filter(pl.col("person_id") == "A")
    assert a.get_column("credit_bills_due_365d").item() == 0.0
    assert a.get_column("orders_365d").item() == 0.0
    # 5 bills due: T1 on time; T2 41 days late, T4 21 (its 2025-07-05 repayment known
    # now); T3 and T5 never repaid, years late
    assert a.get_column("on_time_share_lifetime").item() == 1 / 5
    assert a.get_column("late_bills_lifetime").item() == 4.0
    assert a.get_column("bills_30plus_late_lifetime").item() == 3.0  # T2, T3, T5
    assert a.get_column("spend_lifetime").item() == 790.0 + 999.0  # T8 (2025-07-02) too
