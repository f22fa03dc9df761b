"""What is scored: a person (consumers.csv) or a shop (merchants.csv) (DESIGN 10).

Inside the code every per-entity frame (features, scores, points, events, the
model folder's Parquet files) keys its rows by a column named ``person_id``,
whatever the entity: one name, so every reader (scoring, cards, decisions,
monitoring) serves both. The entity's own key (``merchant_id`` for a shop)
is what a user sees: command output, cards and messages rename the column at
the edge (``Entity.public``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

import polars as pl

KEY: Final = "person_id"  # the row key of every per-entity frame, inside the code


class Entity(StrEnum):
    PERSON = "person"
    MERCHANT = "merchant"

    @property
    def key(self) -> str:
        """The id column users see: person_id or merchant_id."""
        return "person_id" if self is Entity.PERSON else "merchant_id"

    @property
    def table(self) -> str:
        """The table with one row per entity."""
        return "consumers" if self is Entity.PERSON else "merchants"

    @property
    def noun(self) -> str:
        """How messages and cards name one: person, shop."""
        return "person" if self is Entity.PERSON else "shop"

    def public(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with the internal key column named as users know it."""
        if self is Entity.PERSON or KEY not in frame.columns or self.key in frame.columns:
            return frame
        return frame.rename({KEY: self.key})


def parse(value: object) -> Entity:
    """The entity a model folder's manifest records (a folder from before shop
    scores records none: persons). ValueError for anything else."""
    if value is None:
        return Entity.PERSON
    if not isinstance(value, str):
        raise ValueError(f"entity {value!r} is not text")
    return Entity(value)
