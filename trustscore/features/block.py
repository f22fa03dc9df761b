"""A block: a few features declared together with the one query that computes them.

Each feature module declares its blocks: the specs (name, dimension,
direction, unit, sentence, source table) and a function that turns the
as-of view into one row per consumer, in consumers' order, with ``person_id``
and then exactly one column per spec, in the specs' order (a test holds every
block to this). A block is absent when a table it needs is absent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from trustscore.features.as_of_view import AsOfView
from trustscore.features.spec import Dimension, FeatureSpec
from trustscore.schema import DEFAULT_PROTECTED_WORDS


@dataclass
class FeatureConfig:
    """How consumers' extra columns and counterfeit signals become features."""

    passthrough_dimension: Dimension = Dimension.IDENTITY  # extra consumers columns
    passthrough_dimensions: dict[str, Dimension] = field(default_factory=dict)  # per column
    protected_words: tuple[str, ...] = DEFAULT_PROTECTED_WORDS
    counterfeit_in_model: bool = False  # DESIGN 4: penalties, not the model, count them
    max_categories: int = 30  # passthrough text: most frequent levels kept, rest -> "other"


Compute = Callable[[AsOfView], pl.LazyFrame]


@dataclass(frozen=True)
class Block:
    specs: tuple[FeatureSpec, ...]
    compute: Compute
    requires: tuple[str, ...]  # tables that must be present
    counterfeit: bool = False  # a counterfeit signal: a feature only if counterfeit_in_model

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]


def per_person(
    known: AsOfView,
    found: pl.LazyFrame,
    specs: Sequence[FeatureSpec],
    zero: Sequence[str] = (),
) -> pl.LazyFrame:
    """Every consumer, in consumers' order, with the columns ``found`` has for them.

    ``found`` holds a row per person with data, keyed by ``pid``; persons
    without get 0 in the ``zero`` columns (counts and sums: nothing happened)
    and null elsewhere (rates, averages, recencies: nothing to measure).
    Every column is Float64.
    """
    names = [s.name for s in specs]
    return known.persons.join(found, on="pid", how="left", maintain_order="left").select(
        "person_id",
        *(
            (pl.col(n).fill_null(0) if n in zero else pl.col(n)).cast(pl.Float64).alias(n)
            for n in names
        ),
    )


def share(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """numerator / denominator as Float64, null when the denominator is 0 or null, or
    so small that the ratio leaves the contract's magnitudes (|x| < 1e12): an income
    of 1e-300 is no income to measure spending against, and its ratio would be inf."""
    from trustscore.schema import MAX_AMOUNT

    ratio = numerator.cast(pl.Float64) / denominator.cast(pl.Float64)
    return pl.when((denominator > 0) & (ratio.abs() < MAX_AMOUNT)).then(ratio).otherwise(None)


def count(condition: pl.Expr) -> pl.Expr:
    """How many rows meet ``condition`` (null counts as not met)."""
    return condition.fill_null(False).sum()


def exact_sum(value: pl.Expr) -> pl.Expr:
    """The sum of a float expression, the same whatever the order of its terms.

    Polars adds floats in an order that varies from run to run (threads),
    which moves the last bits, and the same inputs must give the same bytes
    (DESIGN 6). So the terms are added as decimals with six places, exactly,
    and the total turned back into a float.
    """
    return value.cast(pl.Decimal(38, 6)).sum().cast(pl.Float64)


def where(condition: pl.Expr, value: pl.Expr) -> pl.Expr:
    """``value`` where ``condition`` holds, else null: aggregate it to aggregate a subset.

    Used in place of ``value.filter(condition)`` inside ``group_by().agg``,
    which leaves Polars' fast path and allocates per group (measured: twice
    the time and several times the memory on millions of rows).
    """
    return pl.when(condition).then(value)
