"""The outcome a model learns: consumers' ``defaulted`` column, or derived from the
repayment records (DESIGN 2, "Outcomes from the records").

From the records, the way behavioural scorecards are built: an observation
date T = as-of - window; a person is *bad* when a credit or instalment bill
that fell due in [T, T + window - 30 days) was repaid 30+ days late or is still
unpaid 30+ days after its due date (both as known at as-of), *good* when every
such bill was repaid in time, and unlabelled when none fell due. The model
learns from the features as of T and scores everyone as of the as-of date.
Bills are those of the credit-history features (:func:`features.credit.bills`),
seen through the same as-of view, so the outcome and the features can never
disagree about what a bill or a repayment is.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from trustscore.data_tables import DataTables
from trustscore.errors import DataError, UsageError

Source = Literal["column", "records"]

GRACE_DAYS = 30  # a bill is bad once 30+ days late; the window leaves it time to become so


@dataclass(frozen=True)
class Outcome:
    """Every person's outcome (consumers' order; NaN = unlabelled) and where it came from."""

    source: Source
    y: np.ndarray[Any, Any]
    observation_date: dt.date | None = None  # records: T, the date the features are taken at
    window_days: int | None = None

    @property
    def counts(self) -> dict[str, int]:
        known = self.y[~np.isnan(self.y)]
        bad = int(known.sum())
        return {
            "good": int(known.size - bad),
            "bad": bad,
            "unlabelled": int(self.y.size - known.size),
        }

    @property
    def due_until(self) -> dt.date | None:
        """The end (exclusive) of the due dates that decide a records outcome."""
        if self.observation_date is None or self.window_days is None:
            return None
        return self.observation_date + dt.timedelta(days=self.window_days - GRACE_DAYS)

    def describe(self) -> dict[str, Any]:
        """For the manifest and the build summary."""
        out: dict[str, Any] = {"source": self.source, **self.counts}
        if self.source == "records":
            assert self.observation_date is not None and self.due_until is not None
            out["observation_date"] = self.observation_date.isoformat()
            out["window_days"] = self.window_days
            out["bills_due_from"] = self.observation_date.isoformat()
            out["bills_due_before"] = self.due_until.isoformat()
        return out


def choose(label: str, tables: DataTables) -> Source:
    """``auto`` reads consumers' ``defaulted`` when it holds any outcome; else (absent
    or all empty, as ingest cannot tell the two apart) the records."""
    if label in ("column", "records"):
        return "column" if label == "column" else "records"
    known = tables.consumers.get_column("defaulted").is_not_null().any()
    return "column" if known else "records"


def from_column(tables: DataTables, persons: pl.Series, table: str = "consumers") -> Outcome:
    """Consumers' ``defaulted`` for ``persons`` (NaN where empty or absent); with
    ``table="merchants"``, the shops' own (``persons`` are then merchant ids)."""
    frame = tables.consumers if table == "consumers" else tables.merchants
    key = "person_id" if table == "consumers" else "merchant_id"
    if frame is None or "defaulted" not in frame.columns:
        y = np.full(persons.len(), np.nan)
    else:
        c = frame.select(pl.col(key).alias("person_id"), "defaulted")
        y = (
            persons.alias("person_id")
            .to_frame()
            .join(c, on="person_id", how="left", maintain_order="left")
            .get_column("defaulted")
            .cast(pl.Float64)
            .fill_null(np.nan)
            .to_numpy()
        )
    return Outcome("column", np.asarray(y, dtype=np.float64))


def observation_date(as_of: dt.date, window_days: int) -> dt.date:
    """T = as-of - window, inside the contract's dates."""
    from trustscore.schema import FIRST_DATE

    t = as_of - dt.timedelta(days=window_days)
    if t < FIRST_DATE:
        raise UsageError(
            f"the observation date {t.isoformat()} (as-of {as_of.isoformat()} less "
            f"{window_days} days) is before {FIRST_DATE.isoformat()}",
            hint="give a later --as-of or a shorter --label-window",
        )
    return t


def from_records(
    tables: DataTables, as_of: dt.date, window_days: int, *, auto: bool = False
) -> Outcome:
    """Outcomes derived from the credit bills, as known at ``as_of`` (see the module)."""
    from trustscore.features.as_of_view import as_of_view
    from trustscore.features.credit import bills

    t = observation_date(as_of, window_days)
    n = tables.consumers.height
    y = np.full(n, np.nan)
    outcome = Outcome("records", y, observation_date=t, window_days=window_days)
    if tables.transactions is None or "due_date" not in tables.transactions.columns:
        raise _no_records(outcome, "there is no transactions.csv with due dates", auto)
    view = as_of_view(tables, as_of)
    until = outcome.due_until
    assert until is not None
    deciding = (
        bills(view)
        .filter(
            pl.col("due")
            & pl.col("pid").is_not_null()
            & (pl.col("due_date") >= t)
            & (pl.col("due_date") < until)
        )
        .group_by("pid")
        .agg((pl.col("delay") >= GRACE_DAYS).any().alias("bad"))
        .collect()
    )
    pid = deciding.get_column("pid").to_numpy()
    y[pid] = deciding.get_column("bad").cast(pl.Float64).to_numpy()
    if deciding.height == 0:
        raise _no_records(
            outcome, f"no credit or instalment bill fell due from {t} to {until} (exclusive)", auto
        )
    return outcome


def _no_records(outcome: Outcome, why: str, auto: bool) -> DataError:
    if auto:
        return DataError(
            "no person has a known outcome: consumers.csv's 'defaulted' column is absent or "
            f"empty, and none can be derived from the repayment records ({why})",
            hint="give 0 or 1 in 'defaulted' for the persons to learn from (empty = not yet "
            "known), or credit purchases with due and repaid dates",
        )
    return DataError(
        f"no outcome can be derived from the repayment records: {why}",
        hint="derived outcomes need credit or instalment purchases with due and repaid dates "
        f"(window {outcome.window_days} days before the as-of date); or give consumers.csv a "
        "'defaulted' column",
    )
