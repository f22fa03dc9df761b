"""Counterfeit-trade policy (DESIGN 4): dated events -> decayed, capped points.

Policy on top of the model, not learned: each event costs its type's points,
halving every ``half_life_days`` before the as-of date; a person's total is
capped; the final score is clip(model score - penalty, low, high).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl

# the event table is made by the features (events.py); the policy only prices it
from trustscore.features.events import EVENT_TYPES as EVENT_TYPES
from trustscore.features.events import EVENTS_SCHEMA as EVENTS_SCHEMA

EVENT_TEXT = {
    "sold_counterfeit": "sold a confirmed counterfeit item",
    "bought_counterfeit_kept": "bought a confirmed counterfeit item and kept it",
    "rejected_counterfeit_claim": "filed a counterfeit claim that inspection rejected",
}


@dataclass(frozen=True)
class PenaltyPolicy:
    points: dict[str, float] = field(
        default_factory=lambda: {
            "sold_counterfeit": 40.0,
            "bought_counterfeit_kept": 10.0,
            "rejected_counterfeit_claim": 15.0,
        }
    )
    half_life_days: float = 365.0
    cap: float = 300.0

    def __post_init__(self) -> None:
        unknown = set(self.points) - set(EVENT_TYPES)
        if unknown:
            raise ValueError(f"unknown penalty event {sorted(unknown)[0]!r}")
        if self.half_life_days <= 0:
            raise ValueError("half_life_days must be > 0")
        if self.cap < 0 or any(p < 0 for p in self.points.values()):
            raise ValueError("penalty points and cap must be >= 0")


def weighted_events(events: pl.DataFrame, as_of: dt.date, policy: PenaltyPolicy) -> pl.DataFrame:
    """Each event with its decayed points: points * 0.5 ** (days before as-of / half-life)."""
    base = pl.col("event").replace_strict(
        {k: float(policy.points.get(k, 0.0)) for k in EVENT_TYPES}, default=0.0
    )
    age = (pl.lit(as_of) - pl.col("date")).dt.total_days()
    return events.filter(pl.col("date") < as_of).with_columns(
        age.alias("days_before_as_of"),
        (base * pl.lit(0.5).pow(age / policy.half_life_days)).alias("points"),
    )


def person_penalties(events: pl.DataFrame, as_of: dt.date, policy: PenaltyPolicy) -> pl.DataFrame:
    """One row per person with events: penalty (capped), and the uncapped total."""
    w = weighted_events(events, as_of, policy)
    return (
        w.group_by("person_id")
        .agg(pl.col("points").sum().alias("penalty_uncapped"))
        .with_columns(pl.col("penalty_uncapped").clip(upper_bound=policy.cap).alias("penalty"))
        .sort("person_id")
    )


def penalty_lines(events: pl.DataFrame, as_of: dt.date, policy: PenaltyPolicy) -> pl.DataFrame:
    """Per person and event type: count, points after decay, latest date, the shop involved
    (of the latest event). What the card shows as its own lines."""
    w = weighted_events(events, as_of, policy)
    return (
        w.sort(["person_id", "event", "date", "txn_id"])
        .group_by(["person_id", "event"], maintain_order=True)
        .agg(
            pl.len().alias("count"),
            pl.col("points").sum().alias("points"),
            pl.col("date").max().alias("latest"),
            pl.col("merchant_id").last().alias("merchant_id"),
        )
    )
