"""The TOML config: its documented defaults are the real defaults; typos are refused."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from trustscore.config import DEFAULT_TOML, Config, from_dict, load
from trustscore.errors import UsageError


def test_documented_defaults_are_the_defaults() -> None:
    parsed = from_dict(tomllib.loads(DEFAULT_TOML))
    default = Config()
    assert parsed.scale == default.scale
    assert parsed.build == default.build
    assert parsed.features == default.features
    assert parsed.penalties == default.penalties


def test_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[scale]\npdo = 40\n[penalties]\ncap = 100\nsold_counterfeit = 60\n"
        '[features.passthrough_dimensions]\nsavings = "capacity"\n'
    )
    cfg = load(path)
    assert cfg.scale.pdo == 40.0
    assert cfg.penalties.cap == 100.0
    assert cfg.penalties.points["sold_counterfeit"] == 60.0
    assert cfg.penalties.points["bought_counterfeit_kept"] == 10.0
    assert cfg.features.passthrough_dimensions == {"savings": "capacity"}


@pytest.mark.parametrize(
    "text, words",
    [
        ("[scale]\npdx = 40\n", "unknown key 'pdx' in [scale]"),
        ("[scales]\n", "unknown key 'scales'"),
        ('[scale]\npdo = "forty"\n', "must be a number"),
        ('[features]\npassthrough_dimension = "mood"\n', "is not a dimension"),
        ("[penalties]\nhalf_life_days = 0\n", "half_life_days = 0 is out of range"),
        ("[scale\n", "not valid TOML"),
        # hostile values a TOML file can carry: wrong types, nan, inf, absurd sizes
        ('[build]\nseed = "x"\n', "seed must be a whole number"),
        ("[build]\nseed = -1\n", "seed = -1 is out of range"),
        ("[scale]\nodds = inf\n", "odds = inf is out of range"),
        ("[scale]\npdo = nan\n", "pdo = nan is out of range"),
        ("[scale]\nlow = 1e308\nhigh = 1e309\n", "out of range"),
        ("scale = 5\n", "[scale] must be a table"),
        ("[features]\nprotected_words = 5\n", "protected_words must be a list"),
        ('[features]\npassthrough_dimensions = "s"\n', "must be a table"),
        ('[features]\ncounterfeit_in_model = "no"\n', "must be true or false"),
        ('[features]\nmax_categories = "x"\n', "max_categories must be a whole number"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load(path)
    assert words in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "values, words",
    [
        ({"n_estimators": 1_000_000_000}, "n_estimators must be between"),
        ({"max_bin": 10**9}, "max_bin must be between"),
        ({"max_depth": 64}, "max_depth must be between"),
        ({"learning_rate": float("nan")}, "learning_rate must be in"),
        ({"nthread": 10**6}, "nthread must be between"),
        ({"min_child_weight": float("inf")}, "min_child_weight must be between"),
    ],
)
def test_model_settings_have_ranges(values: dict[str, object], words: str) -> None:
    # a typo of 1e9 rounds must fail at once, not train for days
    from trustscore.params import ModelParams

    with pytest.raises(ValueError, match=words):
        ModelParams.from_dict(values)


def test_config_that_is_not_a_toml_file(tmp_path: Path) -> None:
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    for path, words in ((tmp_path, "is not a file"), (tmp_path / "zero.toml", "is not a file")):
        with pytest.raises(UsageError, match=words):
            load(path)
    (tmp_path / "equal.toml").write_text("[scale]\nlow = 500\nhigh = 500\n")
    with pytest.raises(UsageError, match="low"):
        load(tmp_path / "equal.toml")
    (tmp_path / "deep.toml").write_text("x = " + "[" * 100_000)
    with pytest.raises(UsageError, match="not valid TOML"):
        load(tmp_path / "deep.toml")
