"""The model's and the scale's settings (``[model]`` and ``[scale]``), checked once.

Kept apart from ``model.py`` and free of numpy, so that reading a config (the
card does, to start fast) never loads the numerical stack.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin, get_type_hints

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float64]

Additivity = Literal["dimension", "feature"]
Auto = Literal["auto"]

# "auto" settings differ below this many development rows (DESIGN 3): there the
# early-stopping rows are a fifth of little, and a fit costs next to nothing
SMALL_DEVELOPMENT_ROWS = 100_000


@dataclass(frozen=True)
class Scale:
    """The points scale: ``points`` at odds ``odds``:1 of good, ``pdo`` points to double them."""

    points: float = 600
    odds: float = 19
    pdo: float = 50
    low: float = 350
    high: float = 950

    def __post_init__(self) -> None:
        if not (self.odds > 0 and self.pdo > 0):
            raise ValueError(f"scale: odds and pdo must be > 0, got {self.odds} and {self.pdo}")
        if not self.low < self.high:
            raise ValueError(f"scale: low ({self.low}) must be below high ({self.high})")

    @property
    def factor(self) -> float:
        """Points per unit of ln(odds): doubling the odds is worth ``pdo`` points."""
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:
        """The score at even odds (ln odds 0)."""
        return self.points - self.factor * math.log(self.odds)

    def score_from_margin(self, margin: npt.ArrayLike) -> FloatArray:
        """The unclipped model score for log-odds-of-bad ``margin``."""
        import numpy as np

        return self.offset - self.factor * np.asarray(margin, dtype=np.float64)

    def margin_from_score(self, score: npt.ArrayLike) -> FloatArray:
        """The inverse of :meth:`score_from_margin`."""
        import numpy as np

        return (self.offset - np.asarray(score, dtype=np.float64)) / self.factor

    @staticmethod
    def p_bad_from_margin(margin: npt.ArrayLike) -> FloatArray:
        """The probability of bad: the logistic of the margin, without overflow warnings."""
        import numpy as np

        m = np.asarray(margin, dtype=np.float64)
        # exp of a large positive number overflows; evaluate each side where it is safe
        e = np.exp(-np.abs(m))
        return np.where(m >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@dataclass
class ModelParams:
    """The model's settings: the ``[model]`` table of the TOML config.

    n_estimators is the most boosting rounds; early stopping on a held-back share
    (es_fraction) of the development set decides how many pay. With refit the
    model is then trained again on the whole development set for that many
    rounds, scaled by its size over the early-stopping fit's (at most
    n_estimators); without it the early-stopped fit is kept. An
    early_stopping_rounds of 0 turns early stopping off and keeps every round.
    nthread 0 means all cores.

    learning_rate and refit may be "auto": below SMALL_DEVELOPMENT_ROWS
    development rows 0.05 and a refit, which gain 0.003-0.01 holdout AUC on a few
    thousand persons; from there on 0.1 and no refit, which lose nothing
    measurable and keep a million-person build in its time
    (benchmarks/bench_quality.py). :meth:`resolved` says what "auto" is for a
    data set; a fitted model records the resolved values.
    """

    max_depth: int = 3
    learning_rate: float | Auto = 0.1
    n_estimators: int = 600
    early_stopping_rounds: int = 30
    min_child_weight: float = 5.0
    subsample: float = 0.8
    colsample_bytree: float = 1.0
    reg_lambda: float = 1.0
    max_bin: int = 256
    nthread: int = 0
    additivity: Additivity = "dimension"
    es_fraction: float = 0.2
    refit: bool | Auto = False

    def __post_init__(self) -> None:
        checks: list[tuple[bool, str]] = [
            # upper bounds too: a config is input, and a typo of 1e9 rounds or bins
            # would run for days or take all memory instead of failing
            (1 <= self.max_depth <= 12, "max_depth must be between 1 and 12"),
            (
                self.learning_rate == "auto"
                or (_is_number(self.learning_rate) and 0 < self.learning_rate <= 1),
                "learning_rate must be in (0, 1] or 'auto'",
            ),
            (1 <= self.n_estimators <= 100_000, "n_estimators must be between 1 and 100000"),
            (
                0 <= self.early_stopping_rounds <= 100_000,
                "early_stopping_rounds must be between 0 (off) and 100000",
            ),
            (0 <= self.min_child_weight <= 1e9, "min_child_weight must be between 0 and 1e9"),
            (0 < self.subsample <= 1, "subsample must be in (0, 1]"),
            (0 < self.colsample_bytree <= 1, "colsample_bytree must be in (0, 1]"),
            (0 <= self.reg_lambda <= 1e9, "reg_lambda must be between 0 and 1e9"),
            (2 <= self.max_bin <= 65_536, "max_bin must be between 2 and 65536"),
            (0 <= self.nthread <= 1024, "nthread must be between 0 (all cores) and 1024"),
            (0 < self.es_fraction < 1, "es_fraction must be between 0 and 1"),
            (
                self.refit == "auto" or isinstance(self.refit, bool),
                "refit must be true, false or 'auto'",
            ),
            (
                self.additivity in get_args(Additivity),
                f"additivity must be 'dimension' or 'feature', not {self.additivity!r}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"model setting: {message}")

    def resolved(self, development_rows: int) -> ModelParams:
        """These settings with "auto" decided for ``development_rows`` rows (training
        plus early-stopping)."""
        small = development_rows < SMALL_DEVELOPMENT_ROWS
        return replace(
            self,
            learning_rate=(0.05 if small else 0.1)
            if self.learning_rate == "auto"
            else self.learning_rate,
            refit=small if self.refit == "auto" else self.refit,
        )

    @classmethod
    def from_dict(cls, values: Mapping[str, object]) -> ModelParams:
        """Build from a plain mapping (the TOML table); unknown keys and wrong types are
        refused with a ValueError that names the key."""
        hints = get_type_hints(cls)
        known = [f.name for f in fields(cls)]
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in hints:
                raise ValueError(f"unknown model setting {key!r} (known: {', '.join(known)})")
            kwargs[key] = _coerce(key, value, hints[key])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _coerce(key: str, value: object, hint: object) -> object:
    # TOML gives int for 1 and float for 1.0; accept an int where a float is meant,
    # never a bool for a number (True is an int to Python, not to a reader)
    options = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    if Auto in options:
        if value == "auto":
            return value
        (hint,) = (o for o in options if o is not Auto)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is bool and isinstance(value, bool):
        return value
    if hint not in (int, float, bool) and isinstance(value, str):
        return value  # the Literal's own check in __post_init__ names the choices
    kind = getattr(hint, "__name__", "text")
    if Auto in options:
        kind += " or 'auto'"
    raise ValueError(f"model setting {key!r} must be {kind}, got {value!r}")
