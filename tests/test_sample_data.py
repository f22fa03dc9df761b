"""The committed sample_data/ is exactly what `trustscore sample` makes."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import SAMPLE_DATA
from trustscore.sample import generate

# how sample_data/ was made (README): trustscore sample sample_data --persons 4000 --seed 0
SAMPLE_PERSONS = 4000
SAMPLE_SEED = 0


def test_regenerating_sample_data_gives_the_same_bytes(tmp_path: Path) -> None:
    generate(tmp_path, persons=SAMPLE_PERSONS, seed=SAMPLE_SEED)
    committed = sorted(p.name for p in SAMPLE_DATA.glob("*.csv"))
    assert committed == sorted(p.name for p in tmp_path.glob("*.csv"))
    for name in committed:
        assert (tmp_path / name).read_bytes() == (SAMPLE_DATA / name).read_bytes(), name


def test_sample_data_stays_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLE_DATA.iterdir())
    assert total < 15 * 1024 * 1024
