"""Shared fixtures: tiny valid data folders written as text, so each test can
break exactly one rule of the contract."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DATA = ROOT / "sample_data"
GERMAN_CREDIT = ROOT / "tests" / "data" / "german_credit.csv"  # CC BY 4.0, see its README

CONSUMERS = """person_id,signup_date,identity_verified,phone_verified,address_since,employment,monthly_income,defaulted
P1,2023-01-05,true,true,2020-06-01,employed,3000,0
P2,2024-02-10,false,true,,student,800,1
P3,2025-06-01,false,false,2025-06-01,,,
"""
MERCHANTS = """merchant_id,owner_id,opened_date,category,verified
M1,,2019-01-01,electronics,true
M2,P2,2024-03-01,fashion,false
"""
TRANSACTIONS = """txn_id,buyer_id,merchant_id,ts,amount,status,payment_method,category,counterfeit,due_date,repaid_date
T1,P1,M1,2025-01-10T10:00:00,120.50,completed,credit,electronics,false,2025-02-09,2025-02-01
T2,P1,M2,2025-03-01T12:00:00,40,completed,card,fashion,true,,
T3,P3,M1,2025-07-01T09:30:00,15,refunded,balance,electronics,false,,
"""
LOGISTICS = """shipment_id,txn_id,shipped_at,promised_at,delivered_at,status,return_reason,claim_upheld,address_id
S1,T1,2025-01-11T08:00:00,2025-01-15T18:00:00,2025-01-14T11:00:00,delivered,,,A1
S2,T2,2025-03-02T08:00:00,2025-03-06T18:00:00,2025-03-05T16:00:00,returned,counterfeit,true,A1
"""

FolderMaker = Callable[..., Path]


@pytest.fixture
def make_folder(tmp_path: Path) -> FolderMaker:
    """make_folder(consumers=..., merchants=..., transactions=..., logistics=...).

    Each argument is the file's text; None leaves the file out; the default is
    the valid tiny folder above. ``raw=`` maps a file name to bytes written as is.
    """
    counter = [0]

    def make(
        consumers: str | None = CONSUMERS,
        merchants: str | None = MERCHANTS,
        transactions: str | None = TRANSACTIONS,
        logistics: str | None = LOGISTICS,
        raw: dict[str, bytes] | None = None,
    ) -> Path:
        counter[0] += 1
        folder = tmp_path / f"data{counter[0]}"
        folder.mkdir()
        for name, text in (
            ("consumers", consumers),
            ("merchants", merchants),
            ("transactions", transactions),
            ("logistics", logistics),
        ):
            if text is not None:
                (folder / f"{name}.csv").write_text(text, encoding="utf-8")
        for name, data in (raw or {}).items():
            (folder / name).write_bytes(data)
        return folder

    return make


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trustscore.sample import generate

    folder = tmp_path_factory.mktemp("platform")
    generate(folder, persons=1500, seed=7)
    return folder


@pytest.fixture(scope="session")
def model_dir(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trustscore.cli import app

    out = tmp_path_factory.mktemp("models") / "m"
    result = CliRunner().invoke(app, ["build", str(data_dir), "--out", str(out), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["holdout"]["auc"] > 0.6
    return out


@pytest.fixture(scope="session")
def sample_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The person model of sample_data (the golden cards', the shop tests' owner model)."""
    from trustscore.config import Config
    from trustscore.pipeline import build

    out = tmp_path_factory.mktemp("sample_model") / "trustscore-model"
    build(SAMPLE_DATA, out, config=Config())
    return out


@pytest.fixture(scope="session")
def shop_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shop model (--entity merchant) of sample_data."""
    from trustscore.config import Config
    from trustscore.entity import Entity
    from trustscore.pipeline import build

    out = tmp_path_factory.mktemp("shop_model") / "trustscore-model"
    build(SAMPLE_DATA, out, config=Config(), entity=Entity.MERCHANT)
    return out
