"""Warnings: rows that are legal but unlikely (DESIGN 1).

A parcel delivered before it was shipped breaks no rule of the contract, yet
it is almost always a clock, a time zone or an export gone wrong, and every
feature that measures time would take it at its word. Each rule here has a
stable code, names the file and column an analyst would look at, and reads
as one sentence:

- ``delivered_before_shipped``: a shipment's ``delivered_at`` before its
  ``shipped_at``;
- ``shipped_before_ordered``: a shipment's ``shipped_at`` before its order's
  ``ts``;
- ``promised_before_ordered``: a shipment's ``promised_at`` (the delivery
  promised by) before its order's ``ts``;
- ``due_before_purchase``: a transaction's ``due_date`` before the day of
  its ``ts``;
- ``repaid_before_purchase``: a transaction's ``repaid_date`` before the day
  of its ``ts``;
- ``order_before_signup``: a person whose first order (as buyer, any status)
  came before the day of their ``signup_date``; one per person, on their
  consumers.csv row;
- ``order_before_shop_opened``: a shop whose first order came before the day
  of its ``opened_date``; one per shop, on its merchants.csv row.

Timestamps compare as they are; a date compares with a timestamp's day, so a
repayment on the day of the purchase is no warning. Left out on purpose:
a signup after the last transaction (people join without buying), an
``address_since`` after the signup (people move).

Every rule is a vectorised filter over whole tables; the two that look a
value up in another table (an order's ``ts``, a person's signup) binary-search
the other table's key when it is sorted, as exported ids nearly always are,
and join otherwise. Nothing here prints; ingest makes the results warnings,
or problems under ``--strict``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from trustscore.errors import Problem

EXAMPLES = 5  # examples kept per rule; the rest are counted

Row = dict[str, Any]
Finder = Callable[[dict[str, pl.DataFrame], str], pl.DataFrame]


@dataclass(frozen=True)
class DataWarning:
    """One rule's warning: how many rows it caught and the first few of them.

    ``examples`` are ``Problem``s (file, line, column, value, expected, rule =
    the rule's code) in line order, at most ``EXAMPLES``: the same shape as a
    problem, so ``--strict`` turns a warning into problems without a second
    wording. Their text holds data (ids) as it was: show it through ``safetext``.
    """

    rule: str
    file: str
    column: str
    meaning: str  # plural, read after the count: "parcels delivered before they were shipped"
    count: int
    examples: tuple[Problem, ...]

    def describe(self) -> str:
        return f"{self.meaning}: {self.count:,} ({self.file}, column {self.column}; {self.rule})"

    def as_record(self) -> dict[str, object]:
        """For JSON summaries: every field, the examples as problem records."""
        return {
            "rule": self.rule,
            "file": self.file,
            "column": self.column,
            "meaning": self.meaning,
            "count": self.count,
            "examples": [p.as_record() for p in self.examples],
        }


@dataclass(frozen=True)
class Rule:
    code: str
    table: str  # the table whose rows are flagged
    column: str  # the column whose value is shown
    meaning: str
    needs: tuple[str, ...]  # the tables it reads; skipped when one is absent
    find: Finder  # the flagged rows of ``table``, in line order, with the columns ``say`` reads
    say: Callable[[Row], str]  # what was expected, from one flagged row

    @property
    def file(self) -> str:
        return f"{self.table}.csv"


@dataclass(frozen=True)
class Found:
    """A rule and every row it caught (typed values; texts are made only for the
    rows shown), or the first of them and ``total``. ``file``: the file the rows
    came from, when not ``NAME.csv``."""

    rule: Rule
    rows: pl.DataFrame
    file: str | None = None
    total: int | None = None  # rows caught, when ``rows`` holds only the first of them

    @property
    def count(self) -> int:
        return self.rows.height if self.total is None else self.total

    def problems(self, line: str, limit: int) -> list[Problem]:
        """The first ``limit`` rows caught, as problems naming file, line, column, value."""
        r = self.rule
        file = self.file or r.file
        return [
            Problem(file, row[line], r.column, _text(row[r.column]), r.say(row), r.code)
            for row in self.rows.head(limit).iter_rows(named=True)
        ]

    def warning(self, line: str) -> DataWarning:
        r = self.rule
        examples = tuple(self.problems(line, EXAMPLES))
        return DataWarning(r.code, self.file or r.file, r.column, r.meaning, self.count, examples)


def _text(value: object) -> str:
    """A date or timestamp as the contract writes it (timestamps in UTC)."""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def link_column(column: str) -> str:
    """The column that may hold, for each row, the position in the referenced
    table of the row its ``column`` names (null where none): ingest's check of
    the references finds them, and a lookup by position costs next to nothing."""
    return "\x00at:" + column


def _lookup(
    frame: pl.DataFrame, on: str, other: pl.DataFrame, key: str, values: dict[str, str]
) -> pl.DataFrame:
    """``frame`` with columns of ``other`` (``values``: name there -> name here)
    from the row whose unique ``key`` equals ``frame[on]``, null where none does.
    Only the looked-up columns are new; the rest of ``frame`` is not copied."""
    link = link_column(on)
    if link in frame.columns:
        at = frame.get_column(link)
        top = at.max()
        if top is None or (isinstance(top, int) and top < other.height):
            got = other.select(pl.col(v).gather(at).alias(to) for v, to in values.items())
            return pl.concat([frame, got], how="horizontal")
    right = other.select(pl.col(key).alias(on), *(pl.col(v).alias(to) for v, to in values.items()))
    got = frame.select(on).join(right, on=on, how="left", maintain_order="left")
    return pl.concat([frame, got.drop(on)], how="horizontal")


def _where(frame: pl.DataFrame, when: pl.Expr, *columns: str) -> pl.DataFrame:
    """``columns`` of the rows where ``when`` holds. Lazily, so that only the
    columns named are filtered: a wide table's text would be copied otherwise."""
    return frame.lazy().filter(when).select(columns).collect()


# ---------------------------------------------------------------- the rules


def _delivered_before_shipped(t: dict[str, pl.DataFrame], line: str) -> pl.DataFrame:
    return _where(
        t["logistics"],
        pl.col("delivered_at") < pl.col("shipped_at"),
        line,
        "delivered_at",
        "shipped_at",
    )


def _before_order(column: str) -> Finder:
    """Shipments whose ``column`` is before their order's ``ts``."""

    def find(t: dict[str, pl.DataFrame], line: str) -> pl.DataFrame:
        s = _lookup(t["logistics"], "txn_id", t["transactions"], "txn_id", {"ts": "ordered"})
        return _where(s, pl.col(column) < pl.col("ordered"), line, column, "txn_id", "ordered")

    return find


def _before_purchase(column: str) -> Finder:
    """Transactions whose date ``column`` is before the day of their ``ts``."""

    def find(t: dict[str, pl.DataFrame], line: str) -> pl.DataFrame:
        return _where(
            t["transactions"], pl.col(column) < pl.col("ts").dt.date(), line, column, "ts"
        )

    return find


def _first_order_before(table: str, key: str, column: str, by: str) -> Finder:
    """Rows of ``table`` whose date ``column`` is after the day of the first
    order naming their ``key`` in ``by``, with that order's ``txn_id`` and ``ts``."""

    def find(t: dict[str, pl.DataFrame], line: str) -> pl.DataFrame:
        owners = t[table]
        orders = _lookup(t["transactions"], by, owners, key, {column: "since", line: "owner"})
        first = (
            _where(orders, pl.col("ts").dt.date() < pl.col("since"), "owner", "txn_id", "ts")
            .sort("ts", maintain_order=True)
            .group_by(pl.col("owner").alias(line))
            .agg(pl.col("txn_id").first(), pl.col("ts").first())
        )
        hit = owners.select(line, column).join(first, on=line, how="inner").sort(line)
        return hit.select(line, column, "txn_id", "ts")

    return find


def _day(row: Row) -> str:
    return _text(row["ts"].date())


RULES: tuple[Rule, ...] = (
    Rule(
        "delivered_before_shipped",
        "logistics",
        "delivered_at",
        "parcels delivered before they were shipped",
        ("logistics",),
        _delivered_before_shipped,
        lambda r: f"a delivery on or after the shipping at {_text(r['shipped_at'])}",
    ),
    Rule(
        "shipped_before_ordered",
        "logistics",
        "shipped_at",
        "parcels shipped before they were ordered",
        ("logistics", "transactions"),
        _before_order("shipped_at"),
        lambda r: f"a shipping on or after the order {r['txn_id']!r} at {_text(r['ordered'])}",
    ),
    Rule(
        "promised_before_ordered",
        "logistics",
        "promised_at",
        "parcels whose promised delivery came before their order",
        ("logistics", "transactions"),
        _before_order("promised_at"),
        lambda r: (
            f"a promised delivery on or after the order {r['txn_id']!r} at {_text(r['ordered'])}"
        ),
    ),
    Rule(
        "due_before_purchase",
        "transactions",
        "due_date",
        "purchases due before the day they were made",
        ("transactions",),
        _before_purchase("due_date"),
        lambda r: f"a due date on or after the day of the purchase, {_day(r)}",
    ),
    Rule(
        "repaid_before_purchase",
        "transactions",
        "repaid_date",
        "purchases repaid before the day they were made",
        ("transactions",),
        _before_purchase("repaid_date"),
        lambda r: f"a repayment on or after the day of the purchase, {_day(r)}",
    ),
    Rule(
        "order_before_signup",
        "consumers",
        "signup_date",
        "persons whose first order came before the day they signed up",
        ("consumers", "transactions"),
        _first_order_before("consumers", "person_id", "signup_date", "buyer_id"),
        lambda r: f"a signup on or before the first order, {r['txn_id']!r} at {_text(r['ts'])}",
    ),
    Rule(
        "order_before_shop_opened",
        "merchants",
        "opened_date",
        "shops whose first order came before the day they opened",
        ("merchants", "transactions"),
        _first_order_before("merchants", "merchant_id", "opened_date", "merchant_id"),
        lambda r: f"an opening on or before the first order, {r['txn_id']!r} at {_text(r['ts'])}",
    ),
)


def find(
    tables: dict[str, pl.DataFrame], line: str, files: dict[str, str] | None = None
) -> list[Found]:
    """What every rule catches in ``tables`` (typed frames by table name, each
    with its rows' file lines in column ``line``), in the order of ``RULES``;
    rules that catch nothing are left out. ``files``: each table's file name,
    where it is not ``NAME.csv`` (a Parquet table)."""
    out: list[Found] = []
    for rule in RULES:
        if all(name in tables for name in rule.needs):
            rows = rule.find(tables, line)
            if rows.height:
                out.append(Found(rule, rows, (files or {}).get(rule.table)))
    return out
