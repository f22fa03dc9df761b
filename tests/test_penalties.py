"""Counterfeit-trade penalties: decay, cap and clipping, worked out by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from trustscore.params import Scale
from trustscore.penalties import (
    EVENTS_SCHEMA,
    PenaltyPolicy,
    penalty_lines,
    person_penalties,
)
from trustscore.scale import final_score

AS_OF = dt.date(2026, 1, 1)


def _events(rows: list[tuple[str, str, dt.date, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=EVENTS_SCHEMA, orient="row")


EVENTS = _events(
    [
        # 365 days before as-of: one half-life, 40 -> 20
        ("P1", "sold_counterfeit", dt.date(2025, 1, 1), "M1", "T1"),
        # on the as-of date: not before it, so it does not count
        ("P1", "sold_counterfeit", dt.date(2026, 1, 1), "M1", "T2"),
        # 731 days before: 10 * 0.25 * 2 ** (-1 / 365) = 10 * 0.25 * 0.998103 = 2.495257
        ("P1", "bought_counterfeit_kept", dt.date(2024, 1, 1), "M7", "T3"),
        # ten sales the day before as-of: 10 * 40 * 0.5 ** (1 / 365) = 399.24 -> cap 300
        *[("P2", "sold_counterfeit", dt.date(2025, 12, 31), "M2", f"T1{i}") for i in range(10)],
        # 0 days is impossible (strictly before), 182.5 days = half a half-life: 15 / sqrt 2
        ("P3", "rejected_counterfeit_claim", AS_OF - dt.timedelta(days=182), "M3", "T30"),
    ]
)


def test_decay_cap_by_hand() -> None:
    got = person_penalties(EVENTS, AS_OF, PenaltyPolicy())
    by = {r["person_id"]: r for r in got.iter_rows(named=True)}
    assert by["P1"]["penalty"] == pytest.approx(20 + 10 * 0.5 ** (731 / 365))
    assert by["P1"]["penalty"] == pytest.approx(22.495257, abs=1e-6)
    assert by["P2"]["penalty_uncapped"] == pytest.approx(400 * 0.5 ** (1 / 365))
    assert by["P2"]["penalty"] == 300.0
    assert by["P3"]["penalty"] == pytest.approx(15 * 0.5 ** (182 / 365))


def test_lines_per_event_type() -> None:
    lines = penalty_lines(EVENTS, AS_OF, PenaltyPolicy())
    p1 = lines.filter(pl.col("person_id") == "P1").sort("event")
    assert p1["event"].to_list() == ["bought_counterfeit_kept", "sold_counterfeit"]
    assert p1["count"].to_list() == [1, 1]  # the sale on the as-of date is not counted
    assert p1["latest"].to_list() == [dt.date(2024, 1, 1), dt.date(2025, 1, 1)]
    assert p1["merchant_id"].to_list() == ["M7", "M1"]


def test_final_score_clipped() -> None:
    final, clipping = final_score(
        np.array([500.0, 700.0, 990.0, 599.5]), np.array([300.0, 20.0, 0.0, 0.0]), Scale()
    )
    # 500 - 300 = 200 -> 350; 700 - 20 = 680; 990 -> 950; 599.5 rounds half up
    assert final.tolist() == [350.0, 680.0, 950.0, 600.0]
    assert clipping.tolist() == [150.0, 0.0, -40.0, 0.0]


def test_custom_policy_and_refusals() -> None:
    policy = PenaltyPolicy(points={"sold_counterfeit": 100.0}, half_life_days=730.0, cap=50.0)
    got = person_penalties(EVENTS.filter(pl.col("person_id") == "P1"), AS_OF, policy)
    # sold: 100 * 0.5 ** (365/730) = 70.71 -> cap 50; bought has no points in this policy
    assert got["penalty"].to_list() == [50.0]
    with pytest.raises(ValueError):
        PenaltyPolicy(points={"sold_fakes": 1.0})
    with pytest.raises(ValueError):
        PenaltyPolicy(half_life_days=0)
