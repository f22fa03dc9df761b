"""The feature table: every block that its tables allow, in one lazy query.

Output rows are consumers' rows, in consumers' order (``person_id`` first);
columns follow the registry, then the passthrough columns in consumers'
order. Numeric features are Float64; categorical ones an Enum over their
spec's ``categories``. Persons with no activity have 0 in counts and sums
and null in rates, averages and recencies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from trustscore.data_tables import DataTables
from trustscore.features.as_of_view import AsOfView, as_of_view
from trustscore.features.block import Block, FeatureConfig
from trustscore.features.events import events as counterfeit_events
from trustscore.features.passthrough import as_levels, passthrough
from trustscore.features.registry import BLOCKS, registry
from trustscore.features.spec import FeatureSpec
from trustscore.notes import Note


@dataclass
class FeatureResult:
    frame: pl.DataFrame  # one row per consumer, person_id first, then features
    specs: list[FeatureSpec]  # same order as frame's feature columns
    events: pl.DataFrame  # counterfeit events strictly before as-of (see events)
    notes: list[Note] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)  # consumer columns left out


def _present(tables: DataTables) -> set[str]:
    present = set(tables.present())
    if "transactions" not in present:
        present.discard("logistics")  # shipments are read through their orders
    return present


@dataclass
class Plan:
    """What the feature table will hold, decided from the tables before any query.

    The blocks the tables allow, the passthrough columns with their levels
    (learned over every consumer), and the notes: the same for the whole
    table and for each partition of it (features/partition.py).
    """

    blocks: list[Block]
    specs: list[FeatureSpec]
    extra: list[pl.Expr]  # passthrough columns, read from consumers
    relevel: list[pl.Expr]  # built-in categorical features put on a saved model's levels
    notes: list[Note]
    protected: list[str]


def plan(
    tables: DataTables,
    config: FeatureConfig,
    categories: Mapping[str, tuple[str, ...]] | None = None,
) -> Plan:
    """The blocks and passthrough columns of the feature table of ``tables``."""
    present = _present(tables)
    notes: list[Note] = []
    if tables.logistics is not None and "logistics" not in present:
        notes.append(
            Note(
                "table_ignored",
                "logistics data ignored: there are no transactions to link it to",
                "logistics",
            )
        )
    blocks: list[Block] = []
    specs: list[FeatureSpec] = []
    absent: dict[str, list[str]] = {}
    for block in BLOCKS:
        if block.counterfeit and not config.counterfeit_in_model:
            continue
        missing = [t for t in block.requires if t not in present]
        if missing:
            for t in missing:
                absent.setdefault(t, []).extend(block.names)
            continue
        blocks.append(block)
        specs.extend(block.specs)
    for table in ("merchants", "transactions", "logistics"):
        names = list(dict.fromkeys(absent.get(table, [])))
        if names:
            shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
            notes.append(
                Note(
                    "table_missing",
                    f"no {table} data: {len(names)} features absent ({shown})",
                    table,
                )
            )

    extra = passthrough(
        tables.consumers,
        list(tables.passthrough),
        config,
        categories,
        taken={s.name for s in registry()},
    )
    specs.extend(extra.specs)
    notes.extend(extra.notes)

    # a saved model's levels for the built-in categorical features too
    relevel: list[pl.Expr] = []
    for i, spec in enumerate(specs):
        given = (categories or {}).get(spec.name)
        if spec.is_categorical and not spec.passthrough and given and given != spec.categories:
            specs[i] = dataclasses.replace(spec, categories=tuple(given))
            relevel.append(as_levels(pl.col(spec.name), tuple(given)).alias(spec.name))
    return Plan(blocks, specs, extra.columns, relevel, notes, extra.protected)


def query(view: AsOfView, planned: Plan) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The feature table and the counterfeit events of the persons of ``view``, lazily."""
    parts: list[pl.LazyFrame] = [view.persons.select("person_id")]
    parts.extend(block.compute(view).drop("person_id") for block in planned.blocks)
    if planned.extra:
        parts.append(view.consumers.select(planned.extra))
    table = pl.concat(parts, how="horizontal")
    if planned.relevel:
        table = table.with_columns(planned.relevel)
    return table, counterfeit_events(view)


def compute_features(
    tables: DataTables,
    as_of: dt.date,
    config: FeatureConfig | None = None,
    categories: Mapping[str, tuple[str, ...]] | None = None,
) -> FeatureResult:
    """Per-person features and counterfeit events from what was known before ``as_of``.

    ``categories``: the levels a saved model was trained with, by feature
    name, so that scoring uses the same codes; None learns them from the data.
    """
    planned = plan(tables, config or FeatureConfig(), categories)
    frame, event_frame = pl.collect_all(query(as_of_view(tables, as_of), planned))
    return FeatureResult(
        frame=frame,
        specs=planned.specs,
        events=event_frame,
        notes=planned.notes,
        protected=planned.protected,
    )
