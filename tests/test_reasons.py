"""Reason codes: the whole-table path (``lowering_codes``, for ``score --reasons``
and ``decide``) gives the card's lowering codes, in the card's order, for every
person; the rounding, zero and tie rules hold on hand-made points."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trustscore.card import from_model_folder
from trustscore.features.spec import Dimension, FeatureSpec
from trustscore.model_folder import POINTS_FILE, ModelFolder
from trustscore.reasons import MAX_LOWERING, lowering_codes, person_reasons, reason_columns


def _spec(name: str, dimension: Dimension = Dimension.BEHAVIOUR) -> FeatureSpec:
    return FeatureSpec(name, dimension, 0, "orders", "{value:,.0f} " + name)


SPECS = [_spec("a"), _spec("b"), _spec("c"), _spec("d"), _spec("e", Dimension.CREDIT_HISTORY)]


def _codes(points: dict[str, object], n: int = MAX_LOWERING) -> list[str | None]:
    """The codes of one person, the same by numpy and by plain Python."""
    frame = pl.DataFrame(
        {"person_id": ["P1"], **{k: [v] for k, v in points.items()}},
        schema={"person_id": pl.String, **dict.fromkeys(points, pl.Float64)},
    )
    by_numpy = list(lowering_codes(frame, SPECS, n, vectorised=True).row(0)[1:])
    by_python = list(lowering_codes(frame, SPECS, n, vectorised=False).row(0)[1:])
    assert by_numpy == by_python
    return by_numpy


def _card_codes(points: dict[str, object]) -> list[str | None]:
    lowering, _ = person_reasons(SPECS, points, {})
    return [r.code for r in lowering] + [None] * (MAX_LOWERING - len(lowering))


def test_every_person_of_the_model_has_the_cards_lowering_codes(model_dir: Path) -> None:
    folder = ModelFolder.open(model_dir)
    points = folder.frame(POINTS_FILE)
    codes = lowering_codes(points, folder.specs)
    assert codes.columns == ["person_id", *reason_columns(MAX_LOWERING)]
    assert codes["person_id"].to_list() == points["person_id"].to_list()
    cards = from_model_folder(folder, points["person_id"].to_list())
    assert len(cards) == points.height > 1000
    with_reasons = 0
    for row in codes.iter_rows():
        card = cards[row[0]]
        want = [r.code for r in card.lowering]
        assert list(row[1:]) == want + [None] * (MAX_LOWERING - len(want)), row[0]
        with_reasons += bool(want)
    assert with_reasons > points.height // 2  # the comparison compared something


def test_more_or_fewer_codes_than_the_card(model_dir: Path) -> None:
    folder = ModelFolder.open(model_dir)
    points = folder.frame(POINTS_FILE).head(200)
    four = lowering_codes(points, folder.specs, 4)
    two = lowering_codes(points, folder.specs, 2)
    eight = lowering_codes(points, folder.specs, 8)
    assert two.columns == ["person_id", "reason_1", "reason_2"]
    assert two.equals(four.select(two.columns))
    assert eight.select(four.columns).equals(four)
    with pytest.raises(ValueError):
        lowering_codes(points, folder.specs, 0)


def test_rounding_zero_and_ties() -> None:
    # -0.004 rounds to zero: never a reason; -0.005 (stored just past it) is one
    assert _codes({"a": -0.004, "b": 0.0, "c": -0.005}) == ["BE-C", None, None, None]
    # equal points to the hundredth: the code decides, whatever the third decimal
    assert _codes({"d": -1.0, "b": -1.004, "a": -0.996, "e": -2.0}) == [
        "CH-E",
        "BE-A",
        "BE-B",
        "BE-D",
    ]
    # 1.115 is stored just below 1.115: Python rounds it to 1.11, as the card shows
    assert _codes({"a": -1.115, "b": -1.11, "c": -1.12}) == ["BE-C", "BE-A", "BE-B", None]
    # missing points and raising points are never lowering reasons
    assert _codes({"a": math.nan, "b": 3.0, "c": -0.5}) == ["BE-C", None, None, None]
    assert _codes({"a": -3.0, "b": -2.0, "c": -1.0, "d": -4.0, "e": -5.0}, n=2) == ["CH-E", "BE-D"]


def test_a_frame_with_nulls_and_absent_features() -> None:
    frame = pl.DataFrame(
        {"person_id": ["P1", "P2", "P3"], "b": [None, -1.0, 2.0], "a": [-2.0, None, None]},
        schema={"person_id": pl.String, "b": pl.Float64, "a": pl.Float64},
    )
    for vectorised in (True, False):
        got = lowering_codes(frame, SPECS, 2, vectorised=vectorised)
        assert got.rows() == [("P1", "BE-A", None), ("P2", "BE-B", None), ("P3", None, None)]
        none = lowering_codes(frame.select("person_id"), SPECS, 1, vectorised=vectorised)
        assert none.rows() == [("P1", None), ("P2", None), ("P3", None)]
        assert none.schema == {"person_id": pl.String, "reason_1": pl.String}


def test_both_ways_agree_on_a_whole_model(model_dir: Path) -> None:
    folder = ModelFolder.open(model_dir)
    points = folder.frame(POINTS_FILE)
    for n in (1, 4, 7):
        fast = lowering_codes(points, folder.specs, n, vectorised=True)
        slow = lowering_codes(points, folder.specs, n, vectorised=False)
        assert fast.equals(slow)
    huge = pl.DataFrame({"person_id": ["P1"], "a": [-1e12], "b": [math.inf], "c": [-0.5]})
    for vectorised in (True, False):
        assert lowering_codes(huge, SPECS, 2, vectorised=vectorised).row(0) == ("P1", "BE-C", None)


_POINT = st.one_of(
    st.floats(-60, 60, allow_nan=False),
    st.integers(-60_000, 60_000).map(lambda k: k / 1000),  # stored to the thousandth
    st.integers(-12_000, 12_000).map(lambda k: k / 200),  # exact halves of a hundredth
    st.just(math.nan),
)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({s.name: _POINT for s in SPECS}))
def test_same_codes_as_one_person_at_a_time(points: dict[str, float]) -> None:
    assert _codes(dict(points)) == _card_codes(dict(points))
