"""Defaults and the TOML config (``--config FILE``).

Every section is optional; a key the program does not know is an error that
names it, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from trustscore.errors import UsageError
from trustscore.params import ModelParams, Scale
from trustscore.penalties import EVENT_TYPES, PenaltyPolicy
from trustscore.schema import DEFAULT_PROTECTED_WORDS

DEFAULT_TOML = """\
# trustscore configuration: every key is optional; these are the defaults.

[scale]
points = 600        # score at the reference odds
odds = 19           # reference odds of good:bad
pdo = 50            # points to double the odds
low = 350
high = 950

[model]
additivity = "dimension"   # or "feature": one feature per tree, a boosted points scorecard
max_depth = 3
learning_rate = 0.1
n_estimators = 600         # most rounds; early stopping picks fewer
early_stopping_rounds = 30
min_child_weight = 5.0
subsample = 0.8
colsample_bytree = 1.0
reg_lambda = 1.0
max_bin = 256
es_fraction = 0.2          # share of the development set used for early stopping

[build]
holdout = 0.2              # share of labelled persons kept out for honest metrics
seed = 0
label = "auto"             # the outcome: "column" (consumers' defaulted), "records"
                           # (derived from repayments), "auto" (the column when present)
label_window_days = 365    # records: the performance window after the observation date

[features]
passthrough_dimension = "identity"
protected_words = ["gender", "sex", "race", "ethnicity", "religion", "marital",
                   "nationality", "foreign", "birth", "age"]
counterfeit_in_model = false
max_categories = 30

[features.passthrough_dimensions]
# savings = "capacity"

[penalties]
half_life_days = 365
cap = 300
sold_counterfeit = 40
bought_counterfeit_kept = 10
rejected_counterfeit_claim = 15
"""


@dataclass(frozen=True)
class BuildConfig:
    holdout: float = 0.2
    seed: int = 0
    label: str = "auto"  # one of LABEL_CHOICES
    label_window_days: int = 365


LABEL_CHOICES = ("auto", "column", "records")
LABEL_WINDOW_RANGE = (60, 3650)  # at least two months: bills must fall due and age 30 days


@dataclass(frozen=True)
class FeaturesConfig:
    passthrough_dimension: str = "identity"
    passthrough_dimensions: dict[str, str] = field(default_factory=dict)
    protected_words: tuple[str, ...] = DEFAULT_PROTECTED_WORDS
    counterfeit_in_model: bool = False
    max_categories: int = 30


@dataclass(frozen=True)
class Config:
    scale: Scale = field(default_factory=Scale)
    model: ModelParams = field(default_factory=ModelParams)
    build: BuildConfig = field(default_factory=BuildConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    penalties: PenaltyPolicy = field(default_factory=PenaltyPolicy)

    def as_dict(self) -> dict[str, Any]:
        """The config as plain data, written to the model folder."""
        f = self.features
        return {
            "scale": asdict(self.scale),
            "model": self.model.to_dict(),
            "build": vars(self.build),
            "features": {
                "passthrough_dimension": f.passthrough_dimension,
                "passthrough_dimensions": dict(f.passthrough_dimensions),
                "protected_words": list(f.protected_words),
                "counterfeit_in_model": f.counterfeit_in_model,
                "max_categories": f.max_categories,
            },
            "penalties": {
                "half_life_days": self.penalties.half_life_days,
                "cap": self.penalties.cap,
                **self.penalties.points,
            },
        }


def with_label(config: Config, label: str | None, window: int | None) -> Config:
    """``config`` with the command line's --label and --label-window, checked as the
    config's own keys are."""
    import dataclasses

    if label is None and window is None:
        return config
    build = config.build
    if label is not None and label not in LABEL_CHOICES:
        raise UsageError(
            f"--label must be one of {', '.join(LABEL_CHOICES)}, not {label!r}",
            hint="auto (the default) reads consumers.csv's defaulted column when it has one",
        )
    build = dataclasses.replace(
        build,
        label=build.label if label is None else label,
        label_window_days=build.label_window_days if window is None else window,
    )
    return dataclasses.replace(config, build=build)


_SECTIONS = {"scale", "model", "build", "features", "penalties"}
_DIMENSIONS = ("credit_history", "behaviour", "capacity", "identity", "connections")


def _check_keys(section: str, data: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise UsageError(
                f"unknown key {key!r} in [{section}]",
                where=where,
                hint="allowed: " + ", ".join(sorted(allowed)),
            )


def _table(data: dict[str, Any], name: str, where: str, label: str = "") -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise UsageError(f"[{label or name}] must be a table of keys, not {value!r}", where=where)
    return value


def _num(
    section: str,
    key: str,
    value: Any,
    where: str,
    *,
    low: float = -1e12,
    high: float = 1e12,
) -> float:
    """A finite number in [low, high]: the config is input, and input has ranges."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"[{section}] {key} must be a number, not {value!r}", where=where)
    if not (low <= float(value) <= high):  # also refuses nan and inf
        raise UsageError(
            f"[{section}] {key} = {value!r} is out of range", where=where, hint=f"{low:g}..{high:g}"
        )
    return float(value)


def _int(section: str, key: str, value: Any, where: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"[{section}] {key} must be a whole number, not {value!r}", where=where)
    if not low <= value <= high:
        raise UsageError(
            f"[{section}] {key} = {value} is out of range", where=where, hint=f"{low}..{high}"
        )
    return value


def _bool(section: str, key: str, value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"[{section}] {key} must be true or false, not {value!r}", where=where)
    return value


def from_dict(data: dict[str, Any], where: str = "config") -> Config:
    if not isinstance(data, dict):
        raise UsageError("the config must be a table of sections", where=where)
    _check_keys("top level", data, _SECTIONS, where)
    scale_d = _table(data, "scale", where)
    _check_keys("scale", scale_d, {f.name for f in fields(Scale)}, where)
    bounds = {
        "points": (0.0, 1e5),
        "odds": (1e-6, 1e6),
        "pdo": (0.01, 1e4),
        "low": (0.0, 1e5),
        "high": (0.0, 1e5),
    }
    scale_args = {
        k: _num("scale", k, v, where, low=bounds[k][0], high=bounds[k][1])
        for k, v in scale_d.items()
    }
    try:
        scale = Scale(**scale_args)
    except ValueError as exc:
        raise UsageError(f"[scale] {exc}", where=where) from None
    if scale.low >= scale.high:
        raise UsageError("[scale] needs low < high", where=where)

    build_d = _table(data, "build", where)
    _check_keys("build", build_d, {f.name for f in fields(BuildConfig)}, where)
    holdout = _num("build", "holdout", build_d.get("holdout", 0.2), where)
    if not 0.05 <= holdout <= 0.5:
        raise UsageError("[build] holdout must be between 0.05 and 0.5", where=where)
    seed = _int("build", "seed", build_d.get("seed", 0), where, low=0, high=2**32 - 1)
    label = build_d.get("label", "auto")
    if label not in LABEL_CHOICES:
        raise UsageError(
            f"[build] label must be one of {', '.join(LABEL_CHOICES)}, not {label!r}", where=where
        )
    low, high = LABEL_WINDOW_RANGE
    window = _int(
        "build",
        "label_window_days",
        build_d.get("label_window_days", 365),
        where,
        low=low,
        high=high,
    )
    build = BuildConfig(holdout=holdout, seed=seed, label=label, label_window_days=window)

    feat_d = _table(data, "features", where)
    _check_keys("features", feat_d, set(vars(FeaturesConfig())), where)
    default_dim = feat_d.get("passthrough_dimension", "identity")
    per_col = _table(feat_d, "passthrough_dimensions", where, "features.passthrough_dimensions")
    for name, dim in [("passthrough_dimension", default_dim), *per_col.items()]:
        if not isinstance(dim, str) or dim not in _DIMENSIONS:
            raise UsageError(
                f"[features] {name} = {dim!r} is not a dimension",
                where=where,
                hint="one of " + ", ".join(_DIMENSIONS),
            )
    words = feat_d.get("protected_words", list(DEFAULT_PROTECTED_WORDS))
    if not isinstance(words, list | tuple) or not all(isinstance(w, str) for w in words):
        raise UsageError("[features] protected_words must be a list of words", where=where)
    features = FeaturesConfig(
        passthrough_dimension=default_dim,
        passthrough_dimensions=dict(per_col),
        protected_words=tuple(w.lower() for w in words),
        counterfeit_in_model=_bool(
            "features", "counterfeit_in_model", feat_d.get("counterfeit_in_model", False), where
        ),
        max_categories=_int(
            "features", "max_categories", feat_d.get("max_categories", 30), where, low=1, high=1000
        ),
    )

    pen_d = _table(data, "penalties", where)
    _check_keys("penalties", pen_d, {"half_life_days", "cap", *EVENT_TYPES}, where)
    default = PenaltyPolicy()
    try:
        penalties = PenaltyPolicy(
            points={
                k: _num("penalties", k, pen_d.get(k, default.points[k]), where, high=1e5)
                for k in EVENT_TYPES
            },
            half_life_days=_num(
                "penalties",
                "half_life_days",
                pen_d.get("half_life_days", 365),
                where,
                low=1,
                high=36500,
            ),
            cap=_num("penalties", "cap", pen_d.get("cap", 300), where, high=1e5),
        )
    except ValueError as exc:
        raise UsageError(f"[penalties] {exc}", where=where) from None

    try:
        model = ModelParams.from_dict(_table(data, "model", where))
    except ValueError as exc:
        raise UsageError(f"[model] {exc}", where=where) from None
    return Config(scale=scale, model=model, build=build, features=features, penalties=penalties)


def load(path: Path | None) -> Config:
    """The config in ``path`` over the defaults; the defaults alone when None."""
    if path is None:
        return Config()
    where = str(path)
    file = Path(path)
    if not file.exists():
        raise UsageError(f"no config file {where!r}")
    if not file.is_file():
        raise UsageError(f"the config {where!r} is not a file", hint="give a TOML file")
    if file.stat().st_size > 1 << 20:
        raise UsageError(f"the config {where!r} is far too large for a config (over 1 MB)")
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"the config is not valid TOML: {exc}", where=where) from None
    return from_dict(data, where)
