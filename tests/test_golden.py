"""Golden cards: four persons and two shops of sample_data drawn at width 100
and 60 without colour, compared with stored texts. Regenerate on purpose only:

    TRUSTSCORE_REGEN_GOLDEN=1 uv run pytest tests/test_golden.py
"""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from trustscore.card import load_card
from trustscore.render import CardView

GOLDEN = Path(__file__).parent / "golden"
PERSONS = {
    "clean": "P0000144",  # excellent band, nothing late, no counterfeit trade
    "late_payer": "P0000596",  # credit bills repaid 30+ days late
    "counterfeit_seller": "P0000408",  # runs a shop that sold confirmed counterfeits
    "capped": "P0000613",  # penalties past the cap of 300, final score raised to the floor
}
SHOPS = {  # cards of the shop model (--entity merchant) of sample_data
    "shop_counterfeit": "M000065",  # sold confirmed counterfeits: penalties on its own card
    "shop_good": "M000005",  # a company-run shop approved for a micro loan
}
CARDS = {
    **{kind: ("sample_model", pid) for kind, pid in PERSONS.items()},
    **{kind: ("shop_model", mid) for kind, mid in SHOPS.items()},
}


def render(model: Path, person: str, width: int) -> str:
    card = dataclasses.replace(load_card(model, person), model="trustscore-model")
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False)
    console.print(CardView(card))
    return buf.getvalue()


@pytest.mark.parametrize("width", [100, 60])
@pytest.mark.parametrize("kind", list(CARDS))
def test_golden_card(request: pytest.FixtureRequest, kind: str, width: int) -> None:
    fixture, card_id = CARDS[kind]
    text = render(request.getfixturevalue(fixture), card_id, width)
    path = GOLDEN / f"card_{kind}_{width}.txt"
    if os.environ.get("TRUSTSCORE_REGEN_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")
    assert max(len(line) for line in text.splitlines()) <= width


def test_golden_persons_are_what_they_stand_for(sample_model: Path) -> None:
    clean = load_card(sample_model, PERSONS["clean"])
    assert clean.penalties == [] and clean.band in ("very good", "excellent")
    late = load_card(sample_model, PERSONS["late_payer"])
    assert late.lowering[0].dimension == "credit_history"
    seller = load_card(sample_model, PERSONS["counterfeit_seller"])
    assert any(p.event == "sold_counterfeit" for p in seller.penalties)
    assert seller.score < seller.model_score
    capped = load_card(sample_model, PERSONS["capped"])
    assert capped.penalty == 300 and capped.penalty_points > 300
    assert capped.clipping > 0 and capped.score == 350
