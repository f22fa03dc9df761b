"""The registry: each feature declared once, and computed exactly as declared."""

from __future__ import annotations

import math

import pytest

from tests.feature_fixture import AS_OF, world
from trustscore.features import (
    COUNTERFEIT_FEATURES,
    Dimension,
    FeatureSpec,
    registry,
    render_sentence,
)
from trustscore.features.as_of_view import as_of_view
from trustscore.features.registry import BLOCKS, WHEN_UNKNOWN

TABLES = {"consumers", "merchants", "transactions", "logistics"}


def test_names_and_codes_are_unique() -> None:
    specs = registry()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert len({s.code for s in specs}) == len(specs)


def test_every_dimension_has_features() -> None:
    assert {s.dimension for s in registry()} == set(Dimension)


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.names[0])
def test_each_block_computes_exactly_its_declared_columns(block: object) -> None:
    from trustscore.features.block import Block

    assert isinstance(block, Block)
    frame = block.compute(as_of_view(world(), AS_OF)).collect()
    assert frame.columns == ["person_id", *block.names]
    assert frame.height == 4
    for spec in block.specs:
        assert spec.table in block.requires, spec.name
        assert spec.table in TABLES


@pytest.mark.parametrize("spec", registry(), ids=lambda s: s.name)
def test_declarations_are_well_formed(spec: FeatureSpec) -> None:
    assert spec.direction in (-1, 0, 1)
    assert spec.name.isidentifier() and spec.name == spec.name.lower()
    assert "{value" in spec.sentence
    # every template renders for a typical value and for no data
    for value in (0, 1, 0.5, 12.0):
        text = render_sentence(spec, spec.categories[0] if spec.is_categorical else value)
        assert "{" not in text and text
    # an unknown value reads as what it means for this feature, or says "no data"
    unknown = WHEN_UNKNOWN.get(spec.name)
    for missing in (None, math.nan):
        text = render_sentence(spec, missing)
        assert text == unknown if unknown else text.endswith(": no data")


def test_counterfeit_features_are_the_three_event_counts() -> None:
    assert {
        "counterfeit_sold_365d",
        "counterfeit_kept_365d",
        "counterfeit_claims_rejected_365d",
    } == COUNTERFEIT_FEATURES


def _spec(name: str) -> FeatureSpec:
    return next(s for s in registry() if s.name == name)


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("bills_30plus_late_365d", 2.0, "2 credit bills 30+ days late in the last 12 months"),
        (
            "on_time_share_365d",
            0.75,
            "75% of credit bills due in the last 12 months repaid on time",
        ),
        (
            "days_late_mean_365d",
            59.3333,
            "Average repayment delay in the last 12 months: 59.3 days",
        ),
        ("overdue_amount", 1350.0, "1,350.00 past due and unpaid on credit"),
        ("identity_verified", 0.0, "Real-name identity verified: no"),
        ("identity_verified", 1.0, "Real-name identity verified: yes"),
        ("employment", "student", "Employment: student"),
        ("employment", 2, "Employment: student"),  # the code: the index into the levels
        ("tenure_days", 1234.0, "Member for 1,234 days"),
        ("days_since_late", None, "No late repayment on record"),
        ("on_time_share_365d", math.nan, "No credit bills fell due in the last 12 months"),
        ("shops_owned", None, "shops owned: no data"),
        (
            "late_bills_lifetime",
            1.0,
            "1 credit bill ever repaid late or left unpaid past their due date",
        ),
        ("bills_30plus_late_lifetime", 3.0, "3 credit bills ever 30+ days late"),
        ("on_time_share_lifetime", None, "No credit bill has fallen due yet"),
        ("cancel_rate_lifetime", 0.004, "0.4% of all orders cancelled"),
    ],
)
def test_render_sentence(name: str, value: object, text: str) -> None:
    assert render_sentence(_spec(name), value) == text


def test_render_passthrough_sentences() -> None:
    number = FeatureSpec("savings", Dimension.IDENTITY, 0, "value", "savings: {value:,.6g}")
    assert render_sentence(number, 2500.0) == "savings: 2,500"
    assert render_sentence(number, 0.25) == "savings: 0.25"
