"""Consumers' extra columns as features (DESIGN 1).

A number column (Float64 after ingest) is a numeric feature; a text column a
categorical one, whose levels are the ``max_categories`` most frequent values
(by count, then by name), every other value mapped to ``other``; when a saved
model passes the levels it was trained with, those are used instead, and a
value outside them is ``other`` if that is a level, else null. Both have no
monotone direction and sit in the configured dimension. Protected columns
(``protected.is_protected``) are never features; they are only listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import polars as pl

from trustscore.features.block import FeatureConfig
from trustscore.features.protected import is_protected
from trustscore.features.spec import FeatureSpec
from trustscore.notes import Note

OTHER = "other"


@dataclass
class Passthrough:
    specs: list[FeatureSpec] = field(default_factory=list)
    columns: list[pl.Expr] = field(default_factory=list)  # over consumers, one per spec
    protected: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)


def learn_levels(values: pl.Series, max_categories: int) -> tuple[str, ...]:
    """The most frequent values (count desc, then name), plus ``other`` if any were cut."""
    counts = (
        values.drop_nulls()
        .value_counts(name="n")
        .sort(["n", values.name], descending=[True, False])
        .get_column(values.name)
        .to_list()
    )
    kept = [str(v) for v in counts[:max_categories]]
    if len(counts) > max_categories and OTHER not in kept:
        kept.append(OTHER)
    return tuple(kept)


def as_levels(column: pl.Expr, levels: tuple[str, ...]) -> pl.Expr:
    """Text mapped onto ``levels`` as an Enum; values outside go to ``other`` or null."""
    text = column.cast(pl.String)
    fallback = pl.lit(OTHER) if OTHER in levels else pl.lit(None, dtype=pl.String)
    return (
        pl.when(text.is_in(list(levels)))
        .then(text)
        .when(text.is_not_null())
        .then(fallback)
        .otherwise(None)
        .cast(pl.Enum(list(levels)))
    )


def _template(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def passthrough(
    consumers: pl.DataFrame,
    names: list[str],
    config: FeatureConfig,
    categories: Mapping[str, tuple[str, ...]] | None,
    taken: set[str],
) -> Passthrough:
    """Specs and column expressions for consumers' extra columns.

    ``taken``: built-in feature names; an extra column with one of these names
    becomes ``consumers_<name>`` so both survive.
    """
    out = Passthrough()
    for name in config.passthrough_dimensions:
        if name not in names:
            # a typo in the config never falls back silently
            out.notes.append(
                Note(
                    "column_absent",
                    f"[features.passthrough_dimensions] names {name!r}, which is not an "
                    "extra column of consumers.csv: ignored",
                    "consumers",
                )
            )
    for name in names:
        if is_protected(name, config.protected_words):
            out.protected.append(name)
            continue
        if name not in consumers.columns:
            out.notes.append(
                Note(
                    "column_absent",
                    f"passthrough column {name!r} not in consumers: left out",
                    "consumers",
                )
            )
            continue
        feature = name
        if name in taken or name == "person_id":
            feature = f"consumers_{name}"
            out.notes.append(
                Note(
                    "column_renamed",
                    f"consumers column {name!r} is a built-in feature name: used as {feature!r}",
                    "consumers",
                )
            )
        dimension = config.passthrough_dimensions.get(name, config.passthrough_dimension)
        series = consumers.get_column(name)
        given = (categories or {}).get(feature)
        if given is None and series.dtype == pl.Float64:
            out.specs.append(
                FeatureSpec(
                    feature,
                    dimension,
                    0,
                    "value",
                    f"{_template(name)}: {{value:,.6g}}",
                    passthrough=True,
                )
            )
            out.columns.append(pl.col(name).cast(pl.Float64).alias(feature))
            continue
        levels = (
            given
            if given is not None
            else learn_levels(series.cast(pl.String), config.max_categories)
        )
        if not levels:
            out.notes.append(
                Note(
                    "column_empty",
                    f"consumers column {name!r} is empty: not a feature",
                    "consumers",
                )
            )
            continue
        out.specs.append(
            FeatureSpec(
                feature,
                dimension,
                0,
                "category",
                f"{_template(name)}: {{value}}",
                categories=levels,
                passthrough=True,
            )
        )
        out.columns.append(as_levels(pl.col(name), levels).alias(feature))
    return out
