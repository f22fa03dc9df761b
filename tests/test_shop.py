"""Shop scores (DESIGN 10, ``--entity merchant``): features by hand on the fixture,
a shop model on sample_data, the entity a model folder records, shop cards
(golden at 100 and 60 columns) and shop decisions.

The golden shop cards are drawn in test_golden.py.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import jsonschema
import polars as pl
import pytest
from typer.testing import CliRunner

from tests import feature_fixture as fx
from tests.conftest import SAMPLE_DATA
from tests.test_golden import SHOPS
from trustscore.card import CARD_JSON_SCHEMA, load_card
from trustscore.cli import app
from trustscore.config import Config
from trustscore.entity import Entity
from trustscore.features import FeatureConfig
from trustscore.features.shop import compute_shop_features, shop_registry
from trustscore.model_folder import SCORES_FILE, ModelFolder
from trustscore.pipeline import build

runner = CliRunner()


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------ features by hand


@pytest.fixture(scope="module")
def shops() -> dict[str, dict[str, object]]:
    result = compute_shop_features(fx.world(), fx.AS_OF, FeatureConfig())
    rows = {r["person_id"]: r for r in result.frame.iter_rows(named=True)}
    assert list(rows) == ["MA", "MB", "MC"]  # merchants' rows, in their order
    return rows


def test_seller_conduct_by_hand(shops: dict[str, dict[str, object]]) -> None:
    mb = shops["MB"]
    # MB's orders in [2024-07-01, 2025-07-01): T3, T6 (refunded), T7, T11 (chargeback), T12
    assert mb["sales_refund_rate_365d"] == pytest.approx(1 / 5)
    assert mb["sales_cancel_rate_365d"] == 0.0
    assert mb["sales_dispute_rate_365d"] == pytest.approx(1 / 5)
    assert mb["sales_chargeback_rate_365d"] == pytest.approx(1 / 5)
    # parcels S2 (late), S5, S6, S8 (on time), S7 (refused: promise passed, never delivered)
    assert mb["parcels_on_time_share_365d"] == pytest.approx(3 / 5)
    assert mb["parcels_lost_rate_365d"] == 0.0
    assert mb["parcels_returned_rate_365d"] == pytest.approx(2 / 5)  # S5, S8 (counterfeit)
    assert mb["returns_not_as_described_rate_365d"] == 0.0
    ma = shops["MA"]  # T2, T4, T5, T9, T10 (cancelled), T14, T15 (chargeback) in the window
    assert ma["sales_cancel_rate_365d"] == pytest.approx(1 / 7)
    assert ma["sales_chargeback_rate_365d"] == pytest.approx(1 / 7)
    # settled at as-of: S1, S3, S9 (lost); S4 is delivered only after as-of, S10 before 365d
    assert ma["parcels_lost_rate_365d"] == pytest.approx(1 / 3)
    assert shops["MC"]["sales_refund_rate_365d"] is None  # no orders: no rate


def test_sales_and_growth_by_hand(shops: dict[str, dict[str, object]]) -> None:
    mb = shops["MB"]
    assert mb["revenue_365d"] == 200.0  # T3 50 + T7 60 + T12 90 completed
    assert mb["orders_received_365d"] == 5.0
    assert mb["sale_value_mean_365d"] == pytest.approx(200 / 3)
    # a month of the last 90 days (T7, T12: 150) against a month of the 365 before (T3: 50)
    assert mb["revenue_growth"] == pytest.approx((150 / 3) / (50 / 12))
    assert mb["repeat_buyer_revenue_share_365d"] == pytest.approx(110 / 200)  # A came back
    assert shops["MA"]["revenue_365d"] == 200 + 300 + 80 + 120 + 25
    mc = shops["MC"]  # opens after as-of: nothing sold, counts 0, no rates
    assert mc["revenue_365d"] == 0.0 and mc["revenue_growth"] is None


def test_identity_owner_and_buyers_by_hand(shops: dict[str, dict[str, object]]) -> None:
    mb, ma, mc = shops["MB"], shops["MA"], shops["MC"]
    assert mb["licence_verified"] == 0.0 and mb["days_open"] == 365
    assert ma["licence_verified"] == 1.0
    assert ma["days_open"] == (fx.AS_OF - dt.date(2020, 1, 1)).days
    assert mc["licence_verified"] is None and mc["days_open"] is None  # not open yet
    # owner B has no credit bills (T10 was cancelled): no rate, no delay, nothing late or owed
    assert mb["owner_on_time_share_365d"] is None
    assert mb["owner_bills_30plus_late_lifetime"] == 0.0
    assert mb["owner_credit_outstanding"] == 0.0
    # MA has no owner; MC's owner A is not its owner until it opens
    assert ma["owner_credit_outstanding"] is None and mc["owner_credit_outstanding"] is None
    # buyers A (3 orders here, none charged back elsewhere) and D (2 here; 1 of 2 elsewhere)
    assert mb["buyers_chargeback_elsewhere_365d"] == pytest.approx((0 * 3 + 0.5 * 2) / 5)
    # D has no parcels from other shops in the window: only A counts
    assert mb["buyers_refused_elsewhere_365d"] == 0.0


def test_counterfeit_sold_are_the_shops_own_events() -> None:
    result = compute_shop_features(fx.world(), fx.AS_OF, FeatureConfig())
    events = result.events
    assert events.get_column("person_id").to_list() == ["MB"] * 3
    assert sorted(events.get_column("txn_id").to_list()) == ["T12", "T6", "T7"]
    assert set(events.get_column("event").to_list()) == {"sold_counterfeit"}
    assert "counterfeit_sold_365d" not in result.frame.columns  # penalties, not the model
    counted = compute_shop_features(
        fx.world(), fx.AS_OF, FeatureConfig(counterfeit_in_model=True)
    ).frame
    assert counted.get_column("counterfeit_sold_365d").to_list() == [0.0, 3.0, 0.0]


def test_shop_features_without_logistics_or_transactions() -> None:
    no_parcels = compute_shop_features(fx.world(logistics=False), fx.AS_OF, FeatureConfig())
    assert "parcels_on_time_share_365d" not in no_parcels.frame.columns
    assert any("logistics" in n.text for n in no_parcels.notes)
    bare = compute_shop_features(fx.world(transactions=False), fx.AS_OF, FeatureConfig())
    assert set(bare.frame.columns) == {
        "person_id",
        "licence_verified",
        "days_open",
        "shop_category",
    }


def test_every_shop_feature_declared_once() -> None:
    specs = shop_registry()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    from trustscore.features.registry import WHEN_UNKNOWN
    from trustscore.features.shop import BLOCKS

    never_empty = {n for b in BLOCKS for n in b.zero}  # counts and sums: 0, never unknown
    for s in specs:
        assert s.direction in (-1, 0, 1) and "{value" in s.sentence
        assert s.name in WHEN_UNKNOWN or s.name in never_empty, s.name


# ------------------------------------------------------------------ a shop model


def test_shop_model_learns_and_adds_up(shop_model: Path) -> None:
    folder = ModelFolder.open(shop_model)
    assert folder.entity is Entity.MERCHANT
    metrics = folder.json("metrics.json")
    assert metrics["entity"] == "merchant"
    assert metrics["holdout"]["auc"] > 0.65  # clearly better than a coin flip
    scores = folder.frame(SCORES_FILE)
    merchants = pl.read_csv(SAMPLE_DATA / "merchants.csv")
    assert scores.get_column("person_id").to_list() == merchants.get_column("merchant_id").to_list()
    dims = ["credit_history", "behaviour", "capacity", "identity", "connections"]
    parts = scores.select(pl.sum_horizontal("base_points", *dims)).to_series()
    assert (parts - scores.get_column("model_score")).abs().max() <= 0.035  # 6 roundings
    final = (scores["model_score"] - scores["penalty"]).clip(350, 950).round(0)
    assert (final - scores["score"]).abs().max() <= 0.5000001
    assert scores.filter(pl.col("penalty") > 0).height > 0  # shops that sold counterfeits


def test_score_and_features_name_the_shop(shop_model: Path) -> None:
    code, out, err = _run("score", str(SAMPLE_DATA), "--model", str(shop_model), "-f", "csv")
    assert code == 0, err
    assert out.splitlines()[0].startswith("merchant_id,score,band,")
    code, out, err = _run(
        "features", str(SAMPLE_DATA), "--entity", "merchant", "--columns",
        "merchant_id,revenue_365d", "-f", "csv",
    )  # fmt: skip
    assert code == 0, err
    assert out.splitlines()[0] == "merchant_id,revenue_365d"
    assert len(out.splitlines()) == 201


def test_a_model_refuses_the_other_entity(shop_model: Path, sample_model: Path) -> None:
    for args in (
        ("score", str(SAMPLE_DATA), "--model", str(shop_model), "--entity", "person"),
        ("card", "M000065", "--model", str(shop_model), "--entity", "person"),
        ("decide", "--model", str(shop_model), "--entity", "person"),
        ("score", str(SAMPLE_DATA), "--model", str(sample_model), "--entity", "merchant"),
        ("card", "P0000001", "--model", str(sample_model), "--entity", "merchant"),
        ("decide", "P0000001", "--model", str(sample_model), "--entity", "merchant"),
    ):
        code, _, err = _run(*args)
        assert code == 5, (args, err)
        assert "this model folder scores" in err and "Traceback" not in err
    code, _, err = _run("audit", str(SAMPLE_DATA), "--model", str(shop_model))
    assert code == 2 and "scores shops" in err


def test_shop_outcomes_come_from_merchants(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in ("consumers", "transactions", "logistics"):
        (data / f"{name}.csv").write_bytes((SAMPLE_DATA / f"{name}.csv").read_bytes())
    pl.read_csv(SAMPLE_DATA / "merchants.csv").drop("defaulted").write_csv(data / "merchants.csv")
    code, _, err = _run("build", str(data), "--entity", "merchant", "--out", str(tmp_path / "m"))
    assert code == 3 and "merchants.csv needs a 'defaulted' column" in err
    code, _, err = _run(
        "build", str(SAMPLE_DATA), "--entity", "merchant", "--label", "records",
        "--out", str(tmp_path / "m"),
    )  # fmt: skip
    assert code == 2 and "shops" in err
    (data / "merchants.csv").unlink()
    code, _, err = _run("build", str(data), "--entity", "merchant", "--out", str(tmp_path / "m"))
    assert code == 2 and "merchants.csv" in err
    assert not (tmp_path / "m").exists()


# ------------------------------------------------------------------ owners' scores


def test_owner_scores_from_a_person_model(
    shop_model: Path, sample_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "shops"
    code, _, err = _run(
        "build", str(SAMPLE_DATA), "--entity", "merchant", "--owner-model", str(sample_model),
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    folder = ModelFolder.open(out)
    features = folder.frame("features.parquet")
    persons = ModelFolder.open(sample_model).frame(SCORES_FILE).select("person_id", "model_score")
    owners = pl.read_csv(SAMPLE_DATA / "merchants.csv").select("merchant_id", "owner_id")
    expected = owners.join(
        persons, left_on="owner_id", right_on="person_id", how="left", maintain_order="left"
    )
    got = features.get_column("owner_score").to_list()
    want = expected.get_column("model_score").to_list()
    assert got == want  # the owner's score before penalties; no owner: empty
    assert sum(v is not None for v in got) > 50
    # scoring finds the person model where the build recorded it, or as given, and
    # says so when the one given is not the one the shop model was built with
    code, _, err = _run("score", str(SAMPLE_DATA), "--model", str(out), "-f", "csv")
    assert code == 0, err
    assert "another person model" not in err
    other = tmp_path / "persons-seed-1"
    assert _run("build", str(SAMPLE_DATA), "--seed", "1", "--out", str(other), "-f", "json")[0] == 0
    code, _, err = _run(
        "score", str(SAMPLE_DATA), "--model", str(out), "--owner-model", str(other), "-f", "csv"
    )
    assert code == 0 and "another person model than the one this shop model was built with" in err
    # a shop model is no owner model, and an owner model must not know the future
    code, _, err = _run(
        "build", str(SAMPLE_DATA), "--entity", "merchant", "--owner-model", str(shop_model),
        "--out", str(tmp_path / "x"),
    )  # fmt: skip
    assert code == 5 and "must be a person model" in err
    code, _, err = _run(
        "build", str(SAMPLE_DATA), "--entity", "merchant", "--owner-model", str(sample_model),
        "--as-of", "2025-06-01", "--out", str(tmp_path / "x"),
    )  # fmt: skip
    assert code == 2 and "after this as-of date" in err
    code, _, err = _run("score", str(SAMPLE_DATA), "--model", str(shop_model),
                        "--owner-model", str(sample_model))  # fmt: skip
    assert code == 2 and "built without the owners' scores" in err


# ------------------------------------------------------------------ cards and decisions


def test_shop_card_stands_for_its_shop(shop_model: Path) -> None:
    card = load_card(shop_model, SHOPS["shop_counterfeit"])
    assert any(p.event == "sold_counterfeit" for p in card.penalties)
    assert card.dimensions[1].title == "Conduct as a seller"
    as_json = card.as_dict()
    assert as_json["merchant_id"] == "M000065" and "person_id" not in as_json
    jsonschema.validate(as_json, CARD_JSON_SCHEMA)
    code, out, _ = _run("card", "M000065", "--model", str(shop_model), "-f", "csv")
    assert code == 0 and out.startswith("merchant_id,score,")
    code, _, err = _run("card", "M00006", "--model", str(shop_model))
    assert code == 4 and "no shop M00006" in err


def test_shop_loan_decisions_use_revenue(shop_model: Path) -> None:
    code, out, err = _run(
        "decide", "--model", str(shop_model), "--product", "micro_loan", "-f", "json"
    )
    assert code == 0, err
    rows = json.loads(out)
    assert all("merchant_id" in r for r in rows) and len(rows) == 200
    approved = [r for r in rows if r["decision"] == "approve"]
    assert approved, "some shops get a loan on the default policy"
    folder = ModelFolder.open(shop_model)
    revenue = dict(folder.frame("features.parquet").select("person_id", "revenue_365d").iter_rows())
    base = {"fair": 500, "good": 1000, "very good": 2000, "excellent": 3000}
    for r in approved:  # limit = base x (a month's sales / 3000) within 0..2, steps of 50
        term = min(max(revenue[r["merchant_id"]] / 12 / 3000, 0.0), 2.0)
        want = min(math.floor(base[r["band"]] * term / 50 * (1 + 1e-12)) * 50, 5000)
        assert r["limit"] == want
    code, out, err = _run("decide", "M000065", "--model", str(shop_model))
    assert code == 0, err
    assert "Open for at least" in out and "A member" not in out


def test_sellers_who_are_their_own_accounts(tmp_path: Path) -> None:
    """A marketplace export's sellers are accounts of their own, not consumers: a
    shop whose owner_id names no person is kept without an owner under --lenient
    (never dropped, which would drop its orders too), and every shop is scored."""
    data = tmp_path / "market"
    data.mkdir()
    for name in ("consumers", "transactions", "logistics"):
        (data / f"{name}.csv").write_bytes((SAMPLE_DATA / f"{name}.csv").read_bytes())
    merchants = pl.read_csv(SAMPLE_DATA / "merchants.csv", infer_schema=False)
    merchants.with_columns(
        pl.coalesce("owner_id", pl.lit("SELLER-") + pl.col("merchant_id")).alias("owner_id")
    ).write_csv(data / "merchants.csv")
    code, _, err = _run("validate", str(data))
    assert code == 3 and "owner_id" in err and "merchants.csv" in err
    out = tmp_path / "m"
    code, _, err = _run("build", str(data), "--entity", "merchant", "--lenient", "--out", str(out))
    assert code == 0, err
    assert "80 shop(s) of merchants.csv kept without an owner" in err
    assert "dropped" not in err  # no shop, no order lost
    scores = ModelFolder.open(out).frame(SCORES_FILE)
    assert scores.height == 200


def test_shop_ids_full_of_markup_and_escapes(tmp_path: Path) -> None:
    """A shop id is data: drawn as text on its card and its decision, never as Rich
    markup or a terminal escape; CSV carries it as it was."""
    hostile = "M\x1b[2J[bold red]65[/]"
    data = tmp_path / "data"
    data.mkdir()
    for name in ("consumers", "merchants", "transactions", "logistics"):
        frame = pl.read_csv(SAMPLE_DATA / f"{name}.csv", infer_schema=False)
        if "merchant_id" in frame.columns:
            frame = frame.with_columns(pl.col("merchant_id").replace("M000065", hostile))
        frame.write_csv(data / f"{name}.csv")
    out = tmp_path / "m"
    code, _, err = _run("build", str(data), "--entity", "merchant", "--out", str(out))
    assert code == 0, err
    for args in (("card", hostile), ("decide", hostile)):
        code, shown, err = _run(*args, "--model", str(out))
        assert code == 0, err
        assert "\x1b" not in shown and "\\x1b[2J[bold red]65[/]" in shown
    code, shown, _ = _run("score", str(data), "--model", str(out), "-f", "csv")
    assert code == 0 and hostile in shown


def test_the_same_inputs_give_the_same_shop_model(shop_model: Path, tmp_path: Path) -> None:
    """DESIGN 6: byte for byte. (A float mean summed in the threads' order once moved
    the last bits of the average sale, and with them the folder's seal.)"""
    again = tmp_path / "again"
    build(SAMPLE_DATA, again, config=Config(), entity=Entity.MERCHANT)
    for name in ("features.parquet", "scores.parquet", "points.parquet", "events.parquet"):
        assert (again / name).read_bytes() == (shop_model / name).read_bytes(), name
    first = ModelFolder.open(shop_model).manifest["manifest_sha256"]
    assert ModelFolder.open(again).manifest["manifest_sha256"] == first


def test_shop_decisions_replay_from_the_data(shop_model: Path) -> None:
    """decide DATA_DIR scores the shops first and decides exactly as decide does for
    the shops stored in the model folder."""
    stored = runner.invoke(app, ["decide", "--model", str(shop_model), "-f", "csv"])
    scored = runner.invoke(
        app, ["decide", str(SAMPLE_DATA), "--model", str(shop_model), "-f", "csv"]
    )
    assert stored.exit_code == 0 and scored.exit_code == 0, scored.stderr
    assert scored.stdout == stored.stdout and scored.stdout.startswith("merchant_id,")
