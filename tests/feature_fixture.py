"""A tiny world for the feature tests, as of 2025-07-01 (windows: 365 days back
to 2024-07-01, 90 to 2025-04-02, 30 to 2025-06-01).

- A buys a lot, on credit too, late and overdue; owns shop MC, which opens
  only after as-of.
- B runs shop MB (opened 2024-07-01, not verified), which sells counterfeits.
- C has done nothing and joins on the as-of day itself.
- D shops at MB, charges back, and files a counterfeit claim that is rejected.

MA is a verified shop with no owner. T8 is after as-of. Shipment S4 is
delivered only after as-of. The expected values are worked out by hand in
test_features_fixture.py.
"""

from __future__ import annotations

import datetime as dt

from tests.feature_tables import Row, make_tables
from trustscore.data_tables import DataTables

AS_OF = dt.date(2025, 7, 1)

CONSUMERS: list[Row] = [
    {
        "person_id": "A", "signup_date": "2023-07-01", "identity_verified": True,
        "phone_verified": False, "address_since": "2025-01-01", "employment": "employed",
        "monthly_income": 2000.0, "defaulted": 1, "savings": 100.0, "region": "north",
        "gender": "f",
    },
    {
        "person_id": "B", "signup_date": "2024-01-01", "identity_verified": False,
        "phone_verified": True, "employment": "self_employed", "defaulted": 0,
        "region": "south", "gender": "m",
    },
    {
        "person_id": "C", "signup_date": "2025-07-01", "monthly_income": 0.0,
        "savings": 5.5, "region": "north",
    },
    {
        "person_id": "D", "signup_date": "2025-06-30", "identity_verified": True,
        "phone_verified": True, "address_since": "2025-08-01", "employment": "student",
        "monthly_income": 1500.0, "savings": 0.0,
    },
]  # fmt: skip

MERCHANTS: list[Row] = [
    {"merchant_id": "MA", "opened_date": "2020-01-01", "category": "electronics", "verified": True},
    {"merchant_id": "MB", "owner_id": "B", "opened_date": "2024-07-01", "verified": False},
    {"merchant_id": "MC", "owner_id": "A", "opened_date": "2025-08-01", "verified": True},
]


def _txn(
    txn_id: str, buyer: str, merchant: str, ts: str, amount: float, status: str,
    method: str | None, category: str | None, fake: bool = False,
    due: str | None = None, repaid: str | None = None,
) -> Row:  # fmt: skip
    return {
        "txn_id": txn_id, "buyer_id": buyer, "merchant_id": merchant, "ts": ts,
        "amount": amount, "status": status, "payment_method": method, "category": category,
        "counterfeit": fake, "due_date": due, "repaid_date": repaid,
    }  # fmt: skip


TRANSACTIONS: list[Row] = [
    _txn("T1", "A", "MA", "2024-03-01T10:00", 100, "completed", "credit", "electronics",
         due="2024-03-31", repaid="2024-03-30"),
    _txn("T2", "A", "MA", "2024-09-10T12:00", 200, "completed", "credit", "electronics",
         due="2024-10-10", repaid="2024-11-20"),
    _txn("T3", "A", "MB", "2025-02-01T09:00", 50, "completed", "installment", "fashion",
         due="2025-03-03"),
    _txn("T4", "A", "MA", "2025-05-15T08:00", 300, "completed", "credit", "home",
         due="2025-06-14", repaid="2025-07-05"),
    _txn("T5", "A", "MA", "2025-06-20T10:00", 80, "completed", "credit", "home",
         due="2025-07-20"),
    _txn("T6", "A", "MB", "2025-06-25T10:00", 40, "refunded", "card", "fashion", fake=True),
    _txn("T7", "A", "MB", "2025-04-10T10:00", 60, "completed", "balance", None, fake=True),
    _txn("T8", "A", "MA", "2025-07-02T10:00", 999, "completed", "card", "home"),
    _txn("T9", "B", "MA", "2025-06-15T10:00", 120, "completed", "card", "electronics"),
    _txn("T10", "B", "MA", "2025-01-15T10:00", 30, "cancelled", "credit", "electronics",
         due="2025-02-14"),
    _txn("T11", "D", "MB", "2025-06-01T00:00", 70, "chargeback", "card", "fashion"),
    _txn("T12", "D", "MB", "2025-05-01T10:00", 90, "completed", "card", "fashion", fake=True),
    _txn("T13", "D", "MA", "2024-06-30T23:59", 10, "completed", "balance", "toys"),
    _txn("T14", "D", "MA", "2024-12-01T10:00", 25, "completed", "credit", "toys",
         due="2024-12-31", repaid="2025-01-10"),
    _txn("T15", "D", "MA", "2025-03-01T10:00", 15, "chargeback", "card", "toys"),
]  # fmt: skip


def _ship(
    shipment_id: str, txn_id: str, shipped: str | None, promised: str | None,
    delivered: str | None, status: str, reason: str | None = None,
    upheld: bool | None = None, address: str | None = None,
) -> Row:  # fmt: skip
    return {
        "shipment_id": shipment_id, "txn_id": txn_id, "shipped_at": shipped,
        "promised_at": promised, "delivered_at": delivered, "status": status,
        "return_reason": reason, "claim_upheld": upheld, "address_id": address,
    }  # fmt: skip


LOGISTICS: list[Row] = [
    _ship("S1", "T2", "2024-09-11T08:00", "2024-09-14T18:00", "2024-09-13T10:00", "delivered",
          address="AD1"),
    _ship("S2", "T3", "2025-02-02T08:00", "2025-02-05T18:00", "2025-02-07T10:00", "delivered",
          address="AD2"),
    _ship("S3", "T4", "2025-05-16T08:00", "2025-05-20T18:00", "2025-05-19T10:00", "returned",
          "changed_mind", address="AD1"),
    _ship("S4", "T5", "2025-06-21T08:00", "2025-06-25T18:00", "2025-07-02T10:00", "delivered",
          address="AD3"),
    _ship("S5", "T6", "2025-06-26T08:00", "2025-06-29T18:00", "2025-06-28T10:00", "returned",
          "counterfeit", True, address="AD1"),
    _ship("S6", "T7", "2025-04-11T08:00", "2025-04-15T18:00", "2025-04-14T10:00", "delivered",
          address="AD1"),
    _ship("S7", "T11", "2025-06-01T12:00", "2025-06-05T18:00", None, "refused", address="AD9"),
    _ship("S8", "T12", "2025-05-02T08:00", "2025-05-06T18:00", "2025-05-05T10:00", "returned",
          "counterfeit", False, address="AD9"),
    _ship("S9", "T9", "2025-06-16T08:00", "2025-06-20T18:00", None, "lost", address="AD7"),
    _ship("S10", "T13", "2024-07-01T09:00", "2024-07-03T18:00", "2024-07-02T10:00", "delivered",
          address="AD8"),
    _ship("S11", "T8", "2025-07-02T12:00", "2025-07-05T18:00", None, "in_transit",
          address="AD5"),
]  # fmt: skip


def world(
    *,
    merchants: bool = True,
    transactions: bool = True,
    logistics: bool = True,
) -> DataTables:
    return make_tables(
        CONSUMERS,
        MERCHANTS if merchants else None,
        TRANSACTIONS if transactions else None,
        LOGISTICS if logistics else None,
    )
