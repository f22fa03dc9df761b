"""The feature table computed one partition of the persons at a time (DESIGN 9).

Persons fall into ``parts`` partitions by a hash of ``person_id``. Each
partition's view holds its persons, their consumers rows, every shop, and the
orders and shipments its persons bought or sold; what a feature reads of
other persons (a shop's totals over all its buyers, a buyer's orders at
other shops: ``registry.SHARED``) is computed once over everyone first and
handed to every partition. The blocks' own code then runs on each partition
unchanged, and the rows are put back in consumers' order: the table is the
one ``compute_features`` gives, bit for bit (tests/test_partition.py).

What a partition holds is a ``Slice`` of plain data frames, so it can run
here, one after another (the query's working memory is a partition's), or on
the workers of a Dask cluster (trustscore/cluster.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from trustscore.data_tables import DataTables
from trustscore.features.as_of_view import AsOfView, as_of_view
from trustscore.features.block import FeatureConfig
from trustscore.features.compute import FeatureResult, Plan, plan, query
from trustscore.features.registry import SHARED

# maps the slice function over the slices, in order (the builtin map, or a cluster's)
Runner = Callable[
    [Callable[["Slice"], tuple[pl.DataFrame, pl.DataFrame]], Iterable["Slice"]],
    Iterable[tuple[pl.DataFrame, pl.DataFrame]],
]

_SEED = 20240101  # the hash's seed: any fixed number; partitions need only be fixed in a run


@dataclass
class Slice:
    """One partition of the as-of view, as data frames (see ``AsOfView``)."""

    as_of: dt.date
    persons: pl.DataFrame
    consumers: pl.DataFrame
    merchants: pl.DataFrame | None
    orders: pl.DataFrame | None
    shipments: pl.DataFrame | None
    given: Mapping[str, pl.DataFrame]
    planned: Plan


_FRAMES = ("persons", "consumers", "merchants", "orders", "shipments")


@dataclass
class Spooled:
    """A ``Slice`` whose frames wait in Arrow IPC files of a folder its worker reads.

    A quarter of a million persons' orders and shipments took 36 s through
    Dask's connections, their features included (pickling 1.2 GB, then socket
    writes); written to files and read back, 2.4 s (benchmarks/README.md).
    The files are Arrow's own format, read as data: nothing is unpickled.
    """

    as_of: dt.date
    files: dict[str, str | None]  # frame name -> file; given aggregates as "given:NAME"
    planned: Plan

    def load(self) -> Slice:
        def read(name: str) -> pl.DataFrame | None:
            file = self.files[name]
            return None if file is None else pl.read_ipc(file)

        frames = {name: read(name) for name in _FRAMES}
        given = {
            key.removeprefix("given:"): read(key) for key in self.files if key.startswith("given:")
        }
        persons, consumers = frames["persons"], frames["consumers"]
        assert persons is not None and consumers is not None
        return Slice(
            self.as_of,
            persons,
            consumers,
            frames["merchants"],
            frames["orders"],
            frames["shipments"],
            {k: v for k, v in given.items() if v is not None},
            self.planned,
        )


def spool(part: Slice, folder: Path) -> Spooled:
    """``part`` written to files in ``folder`` (a new folder of its own)."""
    folder.mkdir()
    files: dict[str, str | None] = {}
    frames: dict[str, pl.DataFrame | None] = {name: getattr(part, name) for name in _FRAMES}
    frames.update({f"given:{k}": v for k, v in part.given.items()})
    for i, (name, frame) in enumerate(frames.items()):
        if frame is None:
            files[name] = None
            continue
        path = folder / f"{i}.arrow"
        frame.write_ipc(path, compression="uncompressed")
        files[name] = str(path)
    return Spooled(part.as_of, files, part.planned)


def spooled_features(part: Spooled) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``slice_features`` of a spooled partition (run where its files are)."""
    return slice_features(part.load())


def slice_features(part: Slice) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The feature rows and counterfeit events of one partition's persons."""

    def lazy(frame: pl.DataFrame | None) -> pl.LazyFrame | None:
        return None if frame is None else frame.lazy()

    view = AsOfView(
        as_of=part.as_of,
        persons=part.persons.lazy(),
        consumers=part.consumers.lazy(),
        merchants=lazy(part.merchants),
        orders=lazy(part.orders),
        shipments=lazy(part.shipments),
        given=part.given,
    )
    table, events = pl.collect_all(query(view, part.planned))
    return table, events


def partition_of(person_id: pl.Expr, parts: int) -> pl.Expr:
    """The partition (0 to parts - 1) of each person id."""
    return (person_id.hash(seed=_SEED) % parts).cast(pl.UInt32)


def _slices(view: AsOfView, planned: Plan, parts: int, pids: list[pl.Series]) -> Iterator[Slice]:
    given: dict[str, pl.DataFrame] = {}
    if view.orders is not None:
        given = dict(zip(SHARED, pl.collect_all([f(view) for f in SHARED.values()]), strict=True))
    merchants = None if view.merchants is None else view.merchants.collect()
    for members in pids:
        mine = pl.col("pid").is_in(members.implode())
        sold = pl.col("owner").is_in(members.implode())
        persons, consumers, *rest = pl.collect_all(
            [
                view.persons.filter(mine),
                view.consumers.filter(mine),
                *(f.filter(mine | sold) for f in (view.orders, view.shipments) if f is not None),
            ]
        )
        orders = rest.pop(0) if view.orders is not None else None
        shipments = rest.pop(0) if view.shipments is not None else None
        yield Slice(view.as_of, persons, consumers, merchants, orders, shipments, given, planned)


def compute_features_partitioned(
    tables: DataTables,
    as_of: dt.date,
    config: FeatureConfig | None = None,
    categories: Mapping[str, tuple[str, ...]] | None = None,
    *,
    parts: int,
    run: Runner | None = None,
) -> FeatureResult:
    """``compute_features``, one partition of the persons at a time (see the module).

    ``run`` maps ``slice_features`` over the partitions; None runs them here,
    in turn.
    """
    if parts < 1:
        raise ValueError("parts must be at least 1")
    planned = plan(tables, config or FeatureConfig(), categories)
    view = as_of_view(tables, as_of)
    number = view.persons.select("pid", partition_of(pl.col("person_id"), parts).alias("part"))
    by_part = number.collect().partition_by("part", as_dict=True, include_key=False)
    pids = [
        by_part[(k,)].get_column("pid") if (k,) in by_part else pl.Series("pid", [], pl.UInt32)
        for k in range(parts)
    ]
    results = list((run or map)(slice_features, _slices(view, planned, parts, pids)))
    return assemble(results, pids, planned)


def assemble(
    results: list[tuple[pl.DataFrame, pl.DataFrame]], pids: list[pl.Series], planned: Plan
) -> FeatureResult:
    """The partitions' feature rows and events as one ``FeatureResult``: rows back
    in consumers' order (``pids``: each partition's persons, in that order)."""
    order = pl.concat(pids).arg_sort()
    frame = pl.concat([r[0] for r in results]).gather(order)
    events = pl.concat([r[1] for r in results]).sort("person_id", "date", "event", "txn_id")
    return FeatureResult(
        frame=frame,
        specs=planned.specs,
        events=events,
        notes=planned.notes,
        protected=planned.protected,
    )
