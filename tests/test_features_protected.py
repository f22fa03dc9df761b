"""Protected attributes, and the consumers-only path on real data (German credit)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tests.conftest import GERMAN_CREDIT
from trustscore.data_tables import DataTables
from trustscore.features import FeatureConfig, compute_features, is_protected
from trustscore.schema import DEFAULT_PROTECTED_WORDS

WORDS = DEFAULT_PROTECTED_WORDS


@pytest.mark.parametrize(
    "column",
    [
        "age_in_years",
        "personal_status_and_sex",
        "foreign_worker",
        "AgeYears",
        "applicantGender",
        "marital-status",
        "Country of birth",
        "ETHNICITY",
        "HTTPAge",
        "age2",
    ],
)
def test_protected_columns_are_caught(column: str) -> None:
    assert is_protected(column, WORDS)


@pytest.mark.parametrize(
    "column",
    ["page_views", "usage", "storage", "average_basket", "mileage", "Sexton", "agent_id", "Ages"],
)
def test_words_inside_other_words_are_not(column: str) -> None:
    assert not is_protected(column, WORDS)


def test_the_word_list_is_configurable() -> None:
    assert is_protected("postcode", ["POSTCODE"])
    assert not is_protected("age_in_years", ["postcode"])


def _german_credit() -> DataTables:
    raw = pl.read_csv(GERMAN_CREDIT, infer_schema_length=None)
    attributes = [c for c in raw.columns if c != "creditability"]
    consumers = raw.with_row_index("row").select(
        (pl.col("row") + 1).cast(pl.String).alias("person_id"),
        pl.col("creditability").replace_strict({"good": 0, "bad": 1}, return_dtype=pl.Int8)
        .alias("defaulted"),
        *(
            pl.col(c).cast(pl.Float64) if raw.schema[c].is_numeric() else pl.col(c)
            for c in attributes
        ),
    )  # fmt: skip
    return DataTables(consumers=consumers, passthrough=attributes)


def test_german_credit_attributes_come_through_as_passthrough_features() -> None:
    tables = _german_credit()
    result = compute_features(tables, dt.date(2026, 1, 1))
    frame = result.frame
    assert frame.height == 1000
    specs = {s.name: s for s in result.specs}

    protected = ["personal_status_and_sex", "age_in_years", "foreign_worker"]
    assert result.protected == protected
    for name in protected:
        assert name not in frame.columns and name not in specs

    # numbers stay numbers
    assert specs["credit_amount"].passthrough and not specs["credit_amount"].is_categorical
    assert frame.get_column("credit_amount").head(2).to_list() == [1169.0, 5951.0]
    assert frame.get_column("duration_in_month").dtype == pl.Float64
    # text becomes categorical, most frequent level first
    purpose = specs["purpose"]
    assert purpose.is_categorical and purpose.direction == 0
    assert purpose.categories[0] == "radio/television"  # 280 of 1000
    assert frame.get_column("purpose").head(1).to_list() == ["radio/television"]
    # every attribute but the protected ones, in the file's order, in the identity dimension
    passthrough = [s.name for s in result.specs if s.passthrough]
    assert passthrough == [c for c in tables.passthrough if c not in protected]
    assert {specs[n].dimension for n in passthrough} == {FeatureConfig().passthrough_dimension}

    # only consumers: the other tables' features are absent, with a note for each
    assert [n.text.split(":")[0] for n in result.notes] == [
        "no merchants data",
        "no transactions data",
        "no logistics data",
    ]
    assert "orders_365d" not in frame.columns
    assert "monthly_income" in frame.columns  # declared columns stay, empty here
    assert frame.get_column("monthly_income").null_count() == 1000
    assert result.events.height == 0


def test_passthrough_dimensions_follow_the_config() -> None:
    from trustscore.features import Dimension

    config = FeatureConfig(
        passthrough_dimension=Dimension.CAPACITY,
        passthrough_dimensions={"credit_history": Dimension.CREDIT_HISTORY},
        protected_words=(),
    )
    result = compute_features(_german_credit(), dt.date(2026, 1, 1), config)
    specs = {s.name: s for s in result.specs}
    assert specs["credit_history"].dimension is Dimension.CREDIT_HISTORY
    assert specs["savings_account_and_bonds"].dimension is Dimension.CAPACITY
    # with no protected words, nothing is left out
    assert result.protected == []
    assert "age_in_years" in specs
