"""The score bands (DESIGN 3), without numpy, so the card can name a band cheaply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Band:
    """A named score range, inclusive at both ends, on the rounded score."""

    name: str
    low: int
    high: int


BANDS: Final[tuple[Band, ...]] = (
    Band("poor", 350, 549),
    Band("fair", 550, 599),
    Band("good", 600, 649),
    Band("very good", 650, 699),
    Band("excellent", 700, 950),
)
BAND_NAMES: Final[tuple[str, ...]] = tuple(b.name for b in BANDS)


def band_range(name: str) -> tuple[int, int]:
    for b in BANDS:
        if b.name == name:
            return (b.low, b.high)
    raise KeyError(name)
