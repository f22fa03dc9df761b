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
        ("[penalties]\nhalf_life_days = 0\n", "half_life_days must be > 0"),
        ("[scale\n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load(path)
    assert words in str(info.value)
    assert str(path) in str(info.value)
