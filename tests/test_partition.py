"""The feature table a partition of the persons at a time equals the whole one, bit for bit.

A feature that reads other persons' rows (a shop's totals, a buyer's orders
elsewhere) must read them through ``AsOfView.shared``; one that does not
differs here as soon as a shop's buyers fall into different partitions.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.feature_fixture import AS_OF as FIXTURE_AS_OF
from tests.feature_fixture import world
from tests.test_features_properties import AS_OF, CONFIG, SETTINGS, worlds
from trustscore.data_tables import DataTables
from trustscore.features import FeatureConfig, compute_features, default_as_of
from trustscore.features.as_of_view import as_of_view
from trustscore.features.partition import compute_features_partitioned, partition_of
from trustscore.features.registry import SHARED
from trustscore.ingest import read_folder

SAMPLE = Path(__file__).parent.parent / "sample_data"


def _same(tables: DataTables, as_of: object, parts: int, config: FeatureConfig) -> None:
    whole = compute_features(tables, as_of, config)  # type: ignore[arg-type]
    split = compute_features_partitioned(tables, as_of, config, parts=parts)  # type: ignore[arg-type]
    assert_frame_equal(whole.frame, split.frame, check_exact=True)
    assert_frame_equal(whole.events, split.events, check_exact=True)
    assert whole.specs == split.specs
    assert whole.notes == split.notes


@settings(**SETTINGS)
@given(worlds(), st.integers(1, 5))
def test_partitions_give_the_whole_table(tables: DataTables, parts: int) -> None:
    _same(tables, AS_OF, parts, CONFIG)


@pytest.mark.parametrize(
    "tables",
    [
        world(),
        world(logistics=False),
        world(merchants=False),
        world(transactions=False),
    ],
    ids=["all", "no-logistics", "no-merchants", "consumers-only"],
)
@pytest.mark.parametrize("parts", [2, 4, 50])
def test_partitions_of_the_fixture(tables: DataTables, parts: int) -> None:
    _same(tables, FIXTURE_AS_OF, parts, CONFIG)


def test_partitions_of_sample_data() -> None:
    tables, _ = read_folder(SAMPLE)
    as_of = default_as_of(tables)
    for parts in (3, 8):
        _same(tables, as_of, parts, FeatureConfig())


def test_the_shops_buyers_really_are_split() -> None:
    """Guard for the test above: on sample_data a shop's buyers fall into several
    partitions, so a shop's totals taken from one partition's orders would differ."""
    tables, _ = read_folder(SAMPLE)
    view = as_of_view(tables, default_as_of(tables))
    assert view.orders is not None
    parts = (
        view.orders.join(view.persons, on="pid")
        .group_by("mid")
        .agg(partition_of(pl.col("person_id"), 3).n_unique().alias("n"))
        .collect()
    )
    assert (parts.get_column("n") > 1).mean() > 0.9  # type: ignore[operator]
    assert set(SHARED) == {"shop_totals", "buyer_totals"}


def test_parts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        compute_features_partitioned(world(), FIXTURE_AS_OF, parts=0)
