"""Ingest's link from each shipment to its order (``DataTables.order_rows``) saves
the features their one large join; it is checked before it is trusted, so a
link that does not fit the tables changes nothing but the time."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import SAMPLE_DATA
from trustscore.data_tables import DataTables
from trustscore.features import FeatureConfig, compute_features, default_as_of
from trustscore.features import as_of_view as view_module
from trustscore.ingest import read_folder


@pytest.fixture(scope="module")
def tables() -> DataTables:
    return read_folder(SAMPLE_DATA)[0]


def _joins(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How often the large join runs (``_txn_rows``, counted)."""
    calls: list[int] = []
    real = view_module._txn_rows

    def counted(a: pl.Series, b: pl.Series) -> pl.Series:
        calls.append(a.len())
        return real(a, b)

    monkeypatch.setattr(view_module, "_txn_rows", counted)
    return calls


def test_ingest_hands_on_each_shipments_order(tables: DataTables) -> None:
    assert tables.logistics is not None and tables.transactions is not None
    rows = tables.order_rows
    assert rows is not None and rows.len() == tables.logistics.height
    assert rows.null_count() == 0
    ids = tables.transactions.get_column("txn_id").gather(rows)
    assert (ids == tables.logistics.get_column("txn_id")).all()


def _stale(tables: DataTables) -> list[pl.Series | None]:
    rows = tables.order_rows
    assert rows is not None and tables.transactions is not None
    return [
        None,
        rows.reverse(),  # the right length, the wrong orders
        rows.head(rows.len() - 1),  # a row short
        rows.set(pl.Series([True] + [False] * (rows.len() - 1)), None),  # one unlinked
        pl.Series([tables.transactions.height] * rows.len(), dtype=pl.UInt32),  # past the end
    ]


@pytest.mark.parametrize("which", range(5))
def test_a_link_that_does_not_fit_changes_nothing(
    tables: DataTables, which: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_of = default_as_of(tables)
    config = FeatureConfig()
    joins = _joins(monkeypatch)
    linked = compute_features(tables, as_of, config)
    assert joins == []  # ingest's link was taken
    other = dataclasses.replace(tables, order_rows=_stale(tables)[which])
    joined = compute_features(other, as_of, config)
    assert len(joins) == 1  # ... and this one was not: the join ran
    assert_frame_equal(linked.frame, joined.frame, check_exact=True)
    assert_frame_equal(linked.events, joined.events, check_exact=True)
