"""Credit history: how a person repays what they buy on credit.

A credit bill is a transaction paid by ``credit`` or ``installment`` that has
a ``due_date`` and was neither cancelled nor refunded (either ends the debt)
nor pending (placed, not settled: no debt yet).
A bill is due when its due date is before as-of. Its delay in days is
``repaid - due`` when repaid late before as-of, 0 when repaid on time, and
``as_of - due`` while it is still unpaid after its due date (a repayment on
or after as-of is not known yet). The 12-month features look at the bills
that fell due in the last 365 days; a bill 30+ days late counts whether it
was repaid that late or is still unpaid 30+ days after its due date.
Overdue bills are due and unpaid at as-of, whenever they fell due.
``days_since_late`` counts from the last day the person was behind: a late
repayment's date, or as-of itself (0) while a bill is overdue; null if
never late.

The ``_lifetime`` features remember every bill that fell due before as-of,
however long ago: a year holds too few bills to judge most people's
conduct by, and an old default is still a default.
``days_since_first_bill`` is how long the person has been repaying: days
from the due date of their first bill to as-of.
"""

from __future__ import annotations

import polars as pl

from trustscore.features.as_of_view import AsOfView
from trustscore.features.block import Block, count, exact_sum, per_person, share, where
from trustscore.features.spec import Dimension, FeatureSpec

CH = Dimension.CREDIT_HISTORY
T = "transactions"

SPECS = (
    FeatureSpec(
        "credit_bills_due_365d", CH, 0, "bills",
        "{value:,.0f} credit bills fell due in the last 12 months", table=T,
    ),
    FeatureSpec(
        "on_time_share_365d", CH, -1, "share",
        "{value:.0%} of credit bills due in the last 12 months repaid on time", table=T,
    ),
    FeatureSpec(
        "days_late_max_365d", CH, +1, "days",
        "Longest repayment delay in the last 12 months: {value:,.0f} days", table=T,
    ),
    FeatureSpec(
        "days_late_mean_365d", CH, +1, "days",
        "Average repayment delay in the last 12 months: {value:,.1f} days", table=T,
    ),
    FeatureSpec(
        "bills_30plus_late_365d", CH, +1, "bills",
        "{value:,.0f} credit bills 30+ days late in the last 12 months", table=T,
    ),
    FeatureSpec(
        "bills_60plus_late_365d", CH, +1, "bills",
        "{value:,.0f} credit bills 60+ days late in the last 12 months", table=T,
    ),
    FeatureSpec(
        "overdue_bills", CH, +1, "bills",
        "{value:,.0f} credit bills past due and unpaid", table=T,
    ),
    FeatureSpec(
        "overdue_amount", CH, +1, "money",
        "{value:,.2f} past due and unpaid on credit", table=T,
    ),
    FeatureSpec(
        "days_since_late", CH, -1, "days",
        "Last behind on a credit bill {value:,.0f} days ago", table=T,
    ),
    FeatureSpec(
        "on_time_share_lifetime", CH, -1, "share",
        "{value:.0%} of all credit bills due so far repaid on time", table=T,
    ),
    FeatureSpec(
        "days_late_mean_lifetime", CH, +1, "days",
        "Average repayment delay over all credit bills: {value:,.1f} days", table=T,
    ),
    FeatureSpec(
        "late_bills_lifetime", CH, +1, "bills",
        "{value:,.0f} credit bills ever repaid late or left unpaid past their due date",
        table=T,
    ),
    FeatureSpec(
        "bills_30plus_late_lifetime", CH, +1, "bills",
        "{value:,.0f} credit bills ever 30+ days late", table=T,
    ),
    FeatureSpec(
        "days_since_first_bill", CH, 0, "days",
        "First credit bill fell due {value:,.0f} days ago", table=T,
    ),
)  # fmt: skip


def is_bill() -> pl.Expr:
    """The transaction is a credit bill (see the module's docstring)."""
    return (
        pl.col("payment_method").is_in(["credit", "installment"]).fill_null(False)
        & pl.col("due_date").is_not_null()
        & ~pl.col("status").is_in(["cancelled", "refunded", "pending"])
    )


def bills(known: AsOfView) -> pl.LazyFrame:
    """The credit bills before as-of, with ``delay`` (days late, null when not yet due)."""
    assert known.orders is not None
    due = known.due()
    repaid = pl.col("repaid_date")
    delay = (
        pl.when(~due)
        .then(None)
        .when(repaid.is_not_null())
        .then((repaid - pl.col("due_date")).dt.total_days().clip(lower_bound=0))
        .otherwise(known.days_before("due_date"))
    )
    return known.orders.filter(is_bill()).with_columns(delay.alias("delay"), due.alias("due"))


def _compute(known: AsOfView) -> pl.LazyFrame:
    b = bills(known)
    window = pl.col("due") & known.since_date(365, "due_date")
    delay = pl.col("delay")  # null unless due: a lifetime aggregate of it takes every due bill
    overdue = pl.col("due") & pl.col("repaid_date").is_null()
    # the last day known to be behind: a late repayment's date, or as-of while overdue
    behind_on = (
        pl.when(overdue)
        .then(pl.lit(known.as_of))
        .when(pl.col("repaid_date") > pl.col("due_date"))
        .then(pl.col("repaid_date"))
    )
    found = (
        b.with_columns(behind_on.alias("behind_on"))
        .group_by("pid")
        .agg(
            credit_bills_due_365d=count(window),
            on_time_share_365d=share(count(window & (delay == 0)), count(window)),
            days_late_max_365d=where(window, delay).max(),
            days_late_mean_365d=where(window, delay).mean(),
            bills_30plus_late_365d=count(window & (delay >= 30)),
            bills_60plus_late_365d=count(window & (delay >= 60)),
            overdue_bills=count(overdue),
            overdue_amount=exact_sum(where(overdue, pl.col("amount"))),
            days_since_late=(pl.lit(known.as_of) - pl.col("behind_on").max()).dt.total_days(),
            on_time_share_lifetime=share(count(delay == 0), count(pl.col("due"))),
            days_late_mean_lifetime=delay.mean(),
            late_bills_lifetime=count(delay > 0),
            bills_30plus_late_lifetime=count(delay >= 30),
            days_since_first_bill=(
                pl.lit(known.as_of) - where(pl.col("due"), pl.col("due_date")).min()
            ).dt.total_days(),
        )
    )
    zero = [
        "credit_bills_due_365d",
        "bills_30plus_late_365d",
        "bills_60plus_late_365d",
        "overdue_bills",
        "overdue_amount",
        "late_bills_lifetime",
        "bills_30plus_late_lifetime",
    ]
    return per_person(known, found, SPECS, zero)


BLOCKS = (Block(SPECS, _compute, requires=(T,)),)
