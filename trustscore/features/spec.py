"""What a feature is: declared once, read by the model, the card and the docs."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Dimension(StrEnum):
    """The five Sesame-style dimensions; every feature belongs to exactly one."""

    CREDIT_HISTORY = "credit_history"
    BEHAVIOUR = "behaviour"
    CAPACITY = "capacity"
    IDENTITY = "identity"
    CONNECTIONS = "connections"

    @property
    def label(self) -> str:
        return DIMENSION_TITLES[self]


DIMENSION_TITLES = {
    Dimension.CREDIT_HISTORY: "Credit history",
    Dimension.BEHAVIOUR: "Behaviour and preferences",
    Dimension.CAPACITY: "Fulfilment capacity",
    Dimension.IDENTITY: "Identity",
    Dimension.CONNECTIONS: "Connections",
}

DIMENSIONS: tuple[Dimension, ...] = tuple(Dimension)


@dataclass(frozen=True)
class FeatureSpec:
    """One model input.

    direction: the monotone direction *towards risk*: +1 means more of it never
    lowers the risk (never raises the score), -1 the opposite, 0 no constraint.
    sentence: the reason-code text, with ``{value}`` for the person's own value.
    categories: for a categorical feature, its levels (the model sees the code,
    the index into this tuple); empty for a numeric one.
    table: the source table whose absence makes the feature absent.
    """

    name: str
    dimension: Dimension
    direction: int
    unit: str
    sentence: str
    table: str = "consumers"
    categories: tuple[str, ...] = field(default_factory=tuple)
    passthrough: bool = False

    @property
    def code(self) -> str:
        """A stable reason code: the dimension's letter pair and the feature name."""
        return f"{_PREFIX[self.dimension]}-{self.name.upper()}"

    @property
    def is_categorical(self) -> bool:
        return bool(self.categories)


_PREFIX = {
    Dimension.CREDIT_HISTORY: "CH",
    Dimension.BEHAVIOUR: "BE",
    Dimension.CAPACITY: "CA",
    Dimension.IDENTITY: "ID",
    Dimension.CONNECTIONS: "CO",
}
