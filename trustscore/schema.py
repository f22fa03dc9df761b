"""The data contract of DESIGN section 1, written once.

Ingest, validation, the sample generator, the README's tables and the tests
all read these declarations; nothing restates them by hand.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import polars as pl

# Plausible ranges (DESIGN 1): what validate passes can never crash a later command.
MAX_AMOUNT = 1e12  # amounts, incomes, and numeric passthrough columns in magnitude: below this
FIRST_DATE = dt.date(1900, 1, 1)  # dates and timestamps from this day ...
LAST_DATE = dt.date(2199, 12, 31)  # ... to this day, inclusive


class Kind(StrEnum):
    STRING = "string"
    DATE = "date"  # YYYY-MM-DD
    TIMESTAMP = "timestamp"  # ISO 8601, naive = UTC, offset or Z converted to UTC
    BOOL = "bool"  # true/false/1/0/yes/no, any case
    FLOAT = "float"
    LABEL = "0/1"
    CHOICE = "choice"  # one of ``values``


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool = False  # the column must be present and every cell filled
    unique: bool = False
    values: tuple[str, ...] = ()  # allowed values of a CHOICE column
    min_value: float | None = None  # FLOAT: lower bound
    min_exclusive: bool = False
    max_value: float | None = None  # FLOAT: upper bound, exclusive
    references: tuple[str, str] | None = None  # (table, column) a value must exist in
    meaning: str = ""

    @property
    def dtype(self) -> pl.DataType:
        return dtype_of(self)

    def expected(self) -> str:
        """How the contract describes an allowed value, for error messages and docs."""
        if self.kind is Kind.CHOICE:
            return "one of " + ", ".join(self.values)
        if self.kind is Kind.FLOAT:
            bounds = []
            if self.min_value is not None:
                op = ">" if self.min_exclusive else ">="
                bounds.append(f"{op} {_number(self.min_value)}")
            if self.max_value is not None:
                bounds.append(f"< {_number(self.max_value)}")
            return "a number " + " and ".join(bounds) if bounds else "a number"
        span = f"from {FIRST_DATE} to {LAST_DATE}"
        return {
            Kind.STRING: "text",
            Kind.DATE: f"a date YYYY-MM-DD {span}",
            Kind.TIMESTAMP: "an ISO 8601 timestamp like 2025-03-01T14:05:00 (offset or Z "
            f"allowed) {span}",
            Kind.BOOL: "a boolean (true/false/1/0/yes/no)",
            Kind.LABEL: "0 or 1 (empty = not yet known)",
        }[self.kind]


def _number(x: float) -> str:
    return f"{x:g}".replace("e+", "e")  # 1e12, not 1e+12


def passthrough_number(name: str) -> Column:
    """The contract of a passthrough column of consumers.csv that holds numbers."""
    return Column(name, Kind.FLOAT, min_value=-MAX_AMOUNT, min_exclusive=True, max_value=MAX_AMOUNT)


def dtype_of(col: Column) -> pl.DataType:
    if col.kind is Kind.CHOICE:
        return pl.Enum(list(col.values))
    return {
        Kind.STRING: pl.String(),
        Kind.DATE: pl.Date(),
        Kind.TIMESTAMP: pl.Datetime("us"),
        Kind.BOOL: pl.Boolean(),
        Kind.FLOAT: pl.Float64(),
        Kind.LABEL: pl.Int8(),
    }[col.kind]


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    required: bool = False  # the file must be present
    key: str | None = None
    passthrough: bool = False  # extra columns are features (consumers) or ignored
    suffix: str = "csv"  # or "parquet" (DESIGN 1): the file the table came from

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.suffix}"

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.dtype for c in self.columns}


EMPLOYMENT = ("employed", "self_employed", "student", "unemployed", "retired", "other")
# a settled order's status (the sample generator draws these, by position)
TXN_STATUS = ("completed", "refunded", "cancelled", "disputed", "chargeback")
# placed, not settled yet: an order, never a completed sale or a refund. Last among
# the allowed values, so the codes of the others stay what they were
TXN_PENDING = "pending"
PAYMENT_METHOD = ("balance", "card", "credit", "installment")
SHIPMENT_STATUS = ("delivered", "in_transit", "returned", "refused", "lost")
RETURN_REASON = ("damaged", "not_as_described", "counterfeit", "changed_mind", "other")

CONSUMERS = Table(
    "consumers",
    (
        Column("person_id", Kind.STRING, required=True, unique=True),
        Column("signup_date", Kind.DATE, meaning="joined the platform"),
        Column("identity_verified", Kind.BOOL, meaning="real-name identity checked"),
        Column("phone_verified", Kind.BOOL),
        Column("address_since", Kind.DATE, meaning="living at the current address since"),
        Column("employment", Kind.CHOICE, values=EMPLOYMENT),
        Column(
            "monthly_income", Kind.FLOAT, min_value=0.0, max_value=MAX_AMOUNT, meaning="declared"
        ),
        Column(
            "defaulted",
            Kind.LABEL,
            meaning="the outcome: 30+ days delinquent on any credit in the 12 months after "
            "the as-of date; empty = not yet known (scored, not trained on)",
        ),
    ),
    required=True,
    key="person_id",
    passthrough=True,
)

MERCHANTS = Table(
    "merchants",
    (
        Column("merchant_id", Kind.STRING, required=True, unique=True),
        Column(
            "owner_id",
            Kind.STRING,
            references=("consumers", "person_id"),
            meaning="person_id of the person who runs it",
        ),
        Column("opened_date", Kind.DATE),
        Column("category", Kind.STRING),
        Column("verified", Kind.BOOL, meaning="business licence checked"),
        Column(
            "defaulted",
            Kind.LABEL,
            meaning="the shop's outcome (its business loan 30+ days delinquent in the 12 "
            "months after the as-of date); empty = not known",
        ),
    ),
    key="merchant_id",
)

TRANSACTIONS = Table(
    "transactions",
    (
        Column("txn_id", Kind.STRING, required=True, unique=True),
        Column("buyer_id", Kind.STRING, required=True, references=("consumers", "person_id")),
        Column("merchant_id", Kind.STRING, required=True, references=("merchants", "merchant_id")),
        Column("ts", Kind.TIMESTAMP, required=True),
        Column(
            "amount",
            Kind.FLOAT,
            required=True,
            min_value=0.0,
            min_exclusive=True,
            max_value=MAX_AMOUNT,
        ),
        Column(
            "status",
            Kind.CHOICE,
            required=True,
            values=(*TXN_STATUS, TXN_PENDING),
            meaning="pending = placed, not settled yet",
        ),
        Column("payment_method", Kind.CHOICE, values=PAYMENT_METHOD),
        Column("category", Kind.STRING),
        Column("counterfeit", Kind.BOOL, meaning="the item was confirmed counterfeit"),
        Column("due_date", Kind.DATE, meaning="for credit and installment purchases"),
        Column("repaid_date", Kind.DATE, meaning="empty = not repaid (yet)"),
    ),
    key="txn_id",
)

LOGISTICS = Table(
    "logistics",
    (
        Column("shipment_id", Kind.STRING, required=True, unique=True),
        Column("txn_id", Kind.STRING, required=True, references=("transactions", "txn_id")),
        Column("shipped_at", Kind.TIMESTAMP, meaning="empty = never shipped"),
        Column("promised_at", Kind.TIMESTAMP, meaning="delivery promised by"),
        Column("delivered_at", Kind.TIMESTAMP),
        Column("status", Kind.CHOICE, required=True, values=SHIPMENT_STATUS),
        Column("return_reason", Kind.CHOICE, values=RETURN_REASON),
        Column("claim_upheld", Kind.BOOL, meaning="for a counterfeit return: true = confirmed"),
        Column("address_id", Kind.STRING, meaning="delivery address"),
    ),
    key="shipment_id",
)

TABLES: dict[str, Table] = {t.name: t for t in (CONSUMERS, MERCHANTS, TRANSACTIONS, LOGISTICS)}

TRUE_WORDS = ("true", "1", "yes")
FALSE_WORDS = ("false", "0", "no")

DEFAULT_PROTECTED_WORDS = (
    "gender",
    "sex",
    "race",
    "ethnicity",
    "religion",
    "marital",
    "nationality",
    "foreign",
    "birth",
    "age",
)
