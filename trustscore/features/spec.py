"""What a feature is: declared once, read by the model, the card and the docs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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

SHOP_DIMENSION_TITLES = {
    Dimension.CREDIT_HISTORY: "Owner's credit history",
    Dimension.BEHAVIOUR: "Conduct as a seller",
    Dimension.CAPACITY: "Sales capacity",
    Dimension.IDENTITY: "Identity",
    Dimension.CONNECTIONS: "Connections",
}
"""The five dimensions as a shop's card names them (DESIGN 10)."""


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


def spec_to_dict(spec: FeatureSpec) -> dict[str, object]:
    """A spec as the model folder stores it (model_meta.json)."""
    return {
        "name": spec.name,
        "dimension": spec.dimension.value,
        "direction": spec.direction,
        "unit": spec.unit,
        "sentence": spec.sentence,
        "table": spec.table,
        "categories": list(spec.categories),
        "passthrough": spec.passthrough,
    }


def spec_from_dict(d: Mapping[str, Any]) -> FeatureSpec:
    """The inverse of :func:`spec_to_dict`; KeyError/TypeError/ValueError if malformed."""
    direction = d["direction"]
    if isinstance(direction, bool) or direction not in (-1, 0, 1):
        raise ValueError(f"direction {direction!r} is not -1, 0 or 1")
    categories = d["categories"]
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise TypeError("categories must be a list of text")
    for key in ("name", "unit", "sentence", "table"):
        if not isinstance(d[key], str):
            raise TypeError(f"{key} must be text")
    return FeatureSpec(
        name=d["name"],
        dimension=Dimension(d["dimension"]),
        direction=int(direction),
        unit=d["unit"],
        sentence=d["sentence"],
        table=d["table"],
        categories=tuple(categories),
        passthrough=bool(d["passthrough"]),
    )


def specs_from_dicts(items: object) -> list[FeatureSpec]:
    if not isinstance(items, list):
        raise TypeError("specs must be a list")
    return [spec_from_dict(d) for d in items]
