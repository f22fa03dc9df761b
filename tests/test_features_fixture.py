"""Every feature of the tiny world (tests/feature_fixture.py), worked out by hand.

Values are listed for persons A, B, C, D (consumers' order). Day counts to
as-of 2025-07-01 are written out as sums of the days left in each month.
"""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from tests.feature_fixture import AS_OF, world
from trustscore.features import (
    COUNTERFEIT_FEATURES,
    FeatureConfig,
    compute_features,
    default_as_of,
    registry,
)

N = None  # no data: a rate or recency with nothing to measure

EXPECTED: dict[str, list[float | None]] = {
    # ---------------------------------------------------------------- credit history
    # bills (credit/installment with a due date, not cancelled/refunded):
    # A: T1 due 2024-03-31 (before the window), T2 due 2024-10-10 repaid 2024-11-20,
    #    T3 due 2025-03-03 unpaid, T4 due 2025-06-14 repaid 2025-07-05 (after as-of:
    #    unpaid at as-of), T5 due 2025-07-20 (not yet due). B: T10 is cancelled.
    # D: T14 due 2024-12-31 repaid 2025-01-10.
    "credit_bills_due_365d": [3, 0, 0, 1],  # A: T2, T3, T4; D: T14
    # delays: T2 21+20 = 41; T3 (Mar 3 -> Jul 1) 28+30+31+30+1 = 120; T4 16+1 = 17;
    # T14 10
    "on_time_share_365d": [0.0, N, N, 0.0],
    "days_late_max_365d": [120, N, N, 10],
    "days_late_mean_365d": [(41 + 120 + 17) / 3, N, N, 10],
    "bills_30plus_late_365d": [2, 0, 0, 0],  # T2 (41), T3 (120)
    "bills_60plus_late_365d": [1, 0, 0, 0],  # T3
    "overdue_bills": [2, 0, 0, 0],  # T3, T4
    "overdue_amount": [50 + 300, 0, 0, 0],
    # A is overdue at as-of: 0 days; D last behind on 2025-01-10:
    # 21+28+31+30+31+30+1 = 172
    "days_since_late": [0, N, N, 172],
    # the whole history remembers what the window forgets: A's T1, due 2024-03-31 and
    # repaid a day early, is A's only bill on time; delays 0, 41, 120, 17 (D: 10)
    "on_time_share_lifetime": [1 / 4, N, N, 0.0],
    "days_late_mean_lifetime": [(0 + 41 + 120 + 17) / 4, N, N, 10],
    "late_bills_lifetime": [3, 0, 0, 1],  # A: T2, T3, T4; D: T14
    "bills_30plus_late_lifetime": [2, 0, 0, 0],  # T2, T3
    # A's first bill (T1) fell due 2024-03-31: 1 + 275 (Apr-Dec) + 181 (Jan-Jun) = 457;
    # D's (T14) 2024-12-31: 182
    "days_since_first_bill": [457, N, N, 182],
    # ---------------------------------------------------------------- behaviour
    # A's orders before as-of: T1 (before the window), T2, T3, T4, T5, T6, T7 (T8 after)
    "orders_30d": [2, 1, 0, 1],  # A: T5, T6; B: T9; D: T11 at 2025-06-01T00:00 exactly
    "orders_90d": [4, 1, 0, 2],  # A: T4, T5, T6, T7 (04-10); D: T11, T12
    "orders_365d": [6, 2, 0, 4],  # A: T2..T7; B: T9, T10; D: T11, T12, T14, T15 (not T13)
    # spend = completed orders: A 30d T5; 90d T4+T5+T7; 365d T2+T3+T4+T5+T7
    "spend_30d": [80, 120, 0, 0],
    "spend_90d": [300 + 80 + 60, 120, 0, 90],
    "spend_365d": [200 + 50 + 300 + 80 + 60, 120, 0, 90 + 25],
    "avg_order_value_365d": [690 / 5, 120, N, 115 / 2],
    # slice = (days before as-of - 1) * 12 // 365
    # A: T2 294 d -> 9, T3 150 -> 4, T4 47 -> 1, T5 11 -> 0, T6 6 -> 0, T7 82 -> 2
    # B: T9 16 -> 0, T10 167 -> 5; D: T11 30 -> 0, T12 61 -> 1, T14 212 -> 6, T15 122 -> 3
    "active_months_365d": [5, 2, 0, 4],
    # A: electronics, fashion, home (T7 has none); B: electronics; D: fashion, toys
    "categories_365d": [3, 1, 0, 2],
    "refund_rate_365d": [1 / 6, 0.0, N, 0.0],  # A: T6
    "disputes_filed_365d": [0, 0, 0, 0],
    "chargebacks_filed_365d": [0, 0, 0, 2],  # D: T11, T15
    # every order before as-of: A T1..T7 (7), B T9 T10 (2), D T11..T15 (5, T13 too)
    "spend_lifetime": [100 + 690, 120, 0, 10 + 115],
    "cancel_rate_lifetime": [0.0, 1 / 2, N, 0.0],  # B: T10
    "dispute_rate_lifetime": [0.0, 0.0, N, 0.0],
    "chargeback_rate_lifetime": [0.0, 0.0, N, 2 / 5],  # D: T11, T15
    # shipments of orders in the window, outcome as known at as-of:
    # A: S1 delivered, S2 delivered, S3 returned (changed mind), S4 in transit (delivered
    #    only on 07-02), S5 returned (counterfeit), S6 delivered -> received 5
    # B: S9 lost; D: S7 refused, S8 returned (S10's order is before the window)
    "return_rate_365d": [2 / 5, N, N, 1 / 1],
    "changed_mind_return_rate_365d": [1 / 5, N, N, 0.0],
    "refused_delivery_rate_365d": [0 / 5, N, N, 1 / 2],
    # every parcel: as above, and D's S10 (delivered 2024-07-02) too
    "refused_delivery_rate_lifetime": [0 / 5, N, N, 1 / 3],
    # ---------------------------------------------------------------- capacity
    "monthly_income": [2000, N, 0, 1500],
    "spend_to_income_365d": [690 / (12 * 2000), N, N, 115 / (12 * 1500)],
    # A: T3 50 + T4 300 (repaid after as-of) + T5 80 (not yet due)
    "credit_outstanding": [430, 0, 0, 0],
    "outstanding_to_income": [430 / 2000, N, N, 0 / 1500],
    # completed spend in the window paid by balance/card: A T7 60 of 690; B T9; D T12 90 of 115
    "own_funds_share_365d": [60 / 690, 1.0, N, 90 / 115],
    "shops_owned": [0, 1, 0, 0],  # A's MC opens after as-of
    "shop_age_days": [N, 365, N, N],  # MB opened 2024-07-01
    # MB's completed orders in the window: T3 50, T7 60, T12 90 (T6 refunded, T11 charged back)
    "shop_revenue_365d": [0, 200, 0, 0],
    "shop_disputed_orders_365d": [0, 1, 0, 0],  # T11
    # MB's parcels: S2 late (02-07 > 02-05), S5, S6, S8 on time, S7 never delivered and its
    # promise (06-05) has passed: 3 of 5
    "shop_on_time_share_365d": [N, 3 / 5, N, N],
    "shop_lost_shipments_365d": [0, 0, 0, 0],  # S9 is lost, but MA has no owner
    # ---------------------------------------------------------------- identity
    "identity_verified": [1, 0, N, 1],
    "phone_verified": [0, 1, N, 1],
    # A: 2023-07-01 -> 366 (leap) + 365 = 731; B: 2024-01-01 -> 366 + 181 = 547;
    # C joins on as-of: not yet; D: 1
    "tenure_days": [731, 547, N, 1],
    # A: 31+28+31+30+31+30 = 181; D moves in after as-of
    "days_at_address": [181, N, N, N],
    "delivery_addresses_365d": [3, 1, 0, 1],  # A: AD1, AD2, AD3; B: AD7; D: AD9
    # ---------------------------------------------------------------- connections
    # completed spend in the window at verified MA: A T2+T4+T5 = 580 of 690; B all; D 25 of 115
    "verified_shop_share_365d": [580 / 690, 1.0, N, 25 / 115],
    # orders in the window: MA: T2 T4 T5 (A), T9 T10 (B), T14 T15 (D): 7, 0 fake, 1 chargeback
    #                       MB: T3 T6 T7 (A), T11 T12 (D): 5, 3 fake, 1 chargeback
    # A at MA: others 4 (T9 T10 T14 T15): fake 0, cb 1/4, weight 580
    # A at MB: others 2 (T11 T12): fake 1/2, cb 1/2, weight 110 (T3 + T7)
    # B at MA: others 5 (T2 T4 T5 T14 T15): fake 0, cb 1/5, weight 120 (T9; T10 cancelled)
    # D at MA: others 5 (T2 T4 T5 T9 T10): fake 0, cb 0, weight 25 (T14)
    # D at MB: others 3 (T3 T6 T7): fake 2/3, cb 0, weight 90 (T12)
    "shop_counterfeit_rate_365d": [110 * 0.5 / 690, 0.0, N, 90 * (2 / 3) / 115],
    "shop_chargeback_rate_365d": [(580 / 4 + 110 * 0.5) / 690, 1 / 5, N, 0.0],
    # B's buyers at MB: A (3 orders there; elsewhere 3 orders, 0 charged back),
    # D (2 there; elsewhere T14 T15, 1 charged back): (3 * 0 + 2 * 1/2) / 5
    "buyers_chargeback_rate_365d": [N, 0.2, N, N],
}

COUNTERFEIT_EXPECTED: dict[str, list[float | None]] = {
    "counterfeit_sold_365d": [0, 3, 0, 0],  # B's MB sold T6, T7, T12
    "counterfeit_kept_365d": [1, 0, 0, 0],  # A kept T7 (T6 came back as counterfeit)
    "counterfeit_claims_rejected_365d": [0, 0, 0, 1],  # D's S8
}

EVENTS = [
    ("A", "bought_counterfeit_kept", dt.date(2025, 4, 10), "MB", "T7"),
    ("B", "sold_counterfeit", dt.date(2025, 4, 10), "MB", "T7"),
    ("B", "sold_counterfeit", dt.date(2025, 5, 1), "MB", "T12"),
    ("B", "sold_counterfeit", dt.date(2025, 6, 25), "MB", "T6"),
    ("D", "rejected_counterfeit_claim", dt.date(2025, 5, 5), "MB", "T12"),  # S8 delivered
]


def _close(got: object, want: float | None) -> bool:
    if want is None:
        return got is None
    return isinstance(got, float) and math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)


def test_every_builtin_feature_by_hand() -> None:
    result = compute_features(world(), AS_OF)
    frame = result.frame
    assert frame.get_column("person_id").to_list() == ["A", "B", "C", "D"]
    builtin = [s.name for s in result.specs if not s.passthrough]
    expected_names = [
        s.name for s in registry() if s.name not in COUNTERFEIT_FEATURES and s.name != "employment"
    ]
    assert [n for n in builtin if n != "employment"] == expected_names
    assert set(EXPECTED) == set(expected_names)
    wrong = {
        name: frame.get_column(name).to_list()
        for name, want in EXPECTED.items()
        if not all(
            _close(g, w) for g, w in zip(frame.get_column(name).to_list(), want, strict=True)
        )
    }
    assert wrong == {}


def test_categorical_and_passthrough_features() -> None:
    result = compute_features(world(), AS_OF)
    frame = result.frame
    assert frame.get_column("employment").to_list() == [
        "employed",
        "self_employed",
        None,
        "student",
    ]
    assert frame.schema["employment"] == pl.Enum(
        ["employed", "self_employed", "student", "unemployed", "retired", "other"]
    )
    # passthrough columns follow the built-ins, in consumers' order; gender is protected
    assert frame.columns[-2:] == ["savings", "region"]
    assert frame.get_column("savings").to_list() == [100.0, None, 5.5, 0.0]
    # region levels: north (2), south (1)
    assert frame.get_column("region").to_list() == ["north", "south", "north", None]
    spec = {s.name: s for s in result.specs}
    assert spec["region"].categories == ("north", "south")
    assert spec["region"].passthrough and spec["region"].direction == 0
    assert not spec["savings"].is_categorical
    assert result.protected == ["gender"]
    assert "gender" not in frame.columns
    assert result.notes == []


def test_rare_levels_become_other_and_saved_levels_are_reused() -> None:
    few = compute_features(world(), AS_OF, FeatureConfig(max_categories=1))
    assert {s.name: s for s in few.specs}["region"].categories == ("north", "other")
    assert few.frame.get_column("region").to_list() == ["north", "other", "north", None]
    # a saved model's levels: a value outside them is null when "other" is not a level
    saved = compute_features(world(), AS_OF, categories={"region": ("south", "west")})
    assert {s.name: s for s in saved.specs}["region"].categories == ("south", "west")
    assert saved.frame.get_column("region").to_list() == [None, "south", None, None]
    assert saved.frame.get_column("region").to_physical().to_list() == [None, 0, None, None]


def test_counterfeit_signals_are_features_only_when_asked() -> None:
    default = compute_features(world(), AS_OF)
    assert not COUNTERFEIT_FEATURES & set(default.frame.columns)
    assert not COUNTERFEIT_FEATURES & {s.name for s in default.specs}
    asked = compute_features(world(), AS_OF, FeatureConfig(counterfeit_in_model=True))
    for name, want in COUNTERFEIT_EXPECTED.items():
        assert asked.frame.get_column(name).to_list() == want, name
    # the rest is unchanged
    assert asked.frame.drop(list(COUNTERFEIT_FEATURES)).equals(default.frame)


def test_counterfeit_events_by_hand() -> None:
    events = compute_features(world(), AS_OF).events
    assert events.schema == pl.Schema(
        {
            "person_id": pl.String,
            "event": pl.String,
            "date": pl.Date,
            "merchant_id": pl.String,
            "txn_id": pl.String,
        }
    )
    assert events.rows() == EVENTS


def test_default_as_of_is_the_day_after_the_latest_transaction() -> None:
    assert default_as_of(world()) == dt.date(2025, 7, 3)  # T8 at 2025-07-02T10:00
    # no transactions: the day after the latest consumer date (D's address_since)
    assert default_as_of(world(transactions=False)) == dt.date(2025, 8, 2)


def test_default_as_of_without_any_date_is_an_error() -> None:
    from tests.feature_tables import make_tables
    from trustscore.errors import UsageError

    tables = make_tables([{"person_id": "x"}])
    with pytest.raises(ValueError, match="as-of"):
        default_as_of(tables)
    with pytest.raises(UsageError):
        default_as_of(tables)


@pytest.mark.parametrize(
    ("present", "absent_table"),
    [
        ({"merchants": False}, "merchants"),
        ({"logistics": False}, "logistics"),
        ({"transactions": False, "logistics": False}, "transactions"),
    ],
)
def test_missing_tables_drop_their_features_with_a_note(
    present: dict[str, bool], absent_table: str
) -> None:
    full = compute_features(world(), AS_OF)
    part = compute_features(world(**present), AS_OF)
    names = [s.name for s in part.specs]
    assert part.frame.columns == ["person_id", *names]
    gone = [s.name for s in full.specs if s.name not in names]
    assert gone
    assert any(n.text.startswith(f"no {absent_table} data") for n in part.notes)
    # what remains does not depend on the missing table
    assert part.frame.equals(full.frame.select(part.frame.columns))


def test_saved_levels_apply_to_builtin_categoricals_too() -> None:
    saved = compute_features(world(), AS_OF, categories={"employment": ("student", "employed")})
    spec = {s.name: s for s in saved.specs}["employment"]
    assert spec.categories == ("student", "employed")
    # self_employed is not a saved level, and there is no "other" to fall back on
    assert saved.frame.get_column("employment").to_list() == ["employed", None, None, "student"]
    assert saved.frame.get_column("employment").to_physical().to_list() == [1, None, None, 0]
