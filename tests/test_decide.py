"""Decisions: each rule's boundary on a hand-made model folder, the limit's
rounding, terms and cap, the refer zone; on the built fixture, the reasons of a
decline are the card's, a replay is byte for byte the same, a changed policy
changes every row's hash, and the strategy table moves the right way."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.test_policy import POLICY
from trustscore.bands import BANDS
from trustscore.card import from_model_folder
from trustscore.config import Config
from trustscore.decide import (
    DECISION_COLUMNS,
    DECISION_SCHEMA,
    POLICY_FEATURES,
    absent_features,
    decide,
    model_sha256,
    strategy,
)
from trustscore.errors import UsageError
from trustscore.features.registry import registry
from trustscore.features.spec import Dimension, FeatureSpec, spec_to_dict
from trustscore.model_folder import (
    CONFIG_FILE,
    EVENTS_FILE,
    FEATURES_FILE,
    META_FILE,
    METRICS_FILE,
    MODEL_FILE,
    POINTS_FILE,
    SCORE_COLUMNS,
    SCORES_FILE,
    FolderWriter,
    ModelFolder,
)
from trustscore.penalties import EVENTS_SCHEMA
from trustscore.policy import default_policy, parse
from trustscore.reasons import lowering_codes

AS_OF = "2026-01-01"
SPECS = [
    FeatureSpec("days_late", Dimension.CREDIT_HISTORY, 1, "days", "{value:,.0f} days late"),
    FeatureSpec("orders", Dimension.BEHAVIOUR, 0, "orders", "{value:,.0f} orders"),
    FeatureSpec("income", Dimension.CAPACITY, -1, "money", "Income {value:,.0f}"),
]
# a person who passes every rule of POLICY's loan; each row changes one thing
GOOD: dict[str, Any] = {
    "tenure_days": 365.0,
    "orders_365d": 10.0,
    "credit_outstanding": 0.0,
    "outstanding_to_income": 0.0,
    "monthly_income": 2000.0,
    "shops_owned": 0.0,
    "shop_revenue_365d": None,
}
PERSONS: dict[str, tuple[int, dict[str, Any]]] = {
    "score_600": (600, {}),
    "score_599": (599, {}),  # refer zone 580..599
    "score_580": (580, {}),
    "score_579": (579, {}),
    "tenure_90": (620, {"tenure_days": 90.0}),
    "tenure_89": (620, {"tenure_days": 89.0}),
    "tenure_unknown": (620, {"tenure_days": None}),
    "orders_3": (620, {"orders_365d": 3.0}),
    "orders_2": (620, {"orders_365d": 2.0}),
    "orders_unknown": (620, {"orders_365d": None}),
    "owes_half": (620, {"credit_outstanding": 1000.0, "outstanding_to_income": 0.5}),
    "owes_more": (620, {"credit_outstanding": 1020.0, "outstanding_to_income": 0.51}),
    "no_income_no_debt": (
        620,
        {"monthly_income": None, "outstanding_to_income": None},
    ),
    "no_income_owes": (
        620,
        {"monthly_income": None, "outstanding_to_income": None, "credit_outstanding": 10.0},
    ),
    "sold_30_days_ago": (620, {}),
    "sold_31_days_ago": (620, {}),
    "bought_fake_yesterday": (620, {}),
    "income_2030": (620, {"monthly_income": 2030.0}),  # 1000 x 1.015 = 1015 -> 1000
    "income_2100": (620, {"monthly_income": 2100.0}),  # 1000 x 1.05 = 1050
    "income_100": (620, {"monthly_income": 100.0}),  # term 0.05 -> min_term 0.5: 500
    "income_4000_excellent": (720, {"monthly_income": 4000.0}),  # 3000 x 1.5 -> cap 2500
    "income_2500_very_good": (650, {"monthly_income": 2500.0}),  # 2000 x 1.25 = 2500
    "seller": (620, {"shops_owned": 1.0, "shop_revenue_365d": 36000.0}),  # 3000 a month
    "seller_without_sales": (620, {"shops_owned": 1.0, "shop_revenue_365d": None}),
    "refer_small_limit": (590, {"monthly_income": 1000.0}),  # 400 x 0.5 = 200 < 300
    "rent_649": (649, {}),
    "rent_650": (650, {}),
    "rent_700": (700, {}),
}
EVENTS = [
    ("sold_30_days_ago", "sold_counterfeit", "2025-12-02"),
    ("sold_31_days_ago", "sold_counterfeit", "2025-12-01"),
    ("bought_fake_yesterday", "bought_counterfeit_kept", "2025-12-31"),
    ("rent_700", "sold_counterfeit", "2026-01-01"),  # on the as-of date: not known yet
]


def _band(score: int) -> str:
    return next(b.name for b in BANDS if b.low <= score <= b.high)


def _points(i: int) -> dict[str, float]:
    return {"days_late": -1.0 - i / 100, "orders": -2.0 + (i % 3), "income": 0.5 - (i % 2)}


def write_folder(out: Path, persons: dict[str, tuple[int, dict[str, Any]]]) -> Path:
    """A model folder made by hand: the files decide reads, with chosen values."""
    ids = list(persons)
    scores = pl.DataFrame(
        {
            "person_id": ids,
            "score": [persons[p][0] for p in ids],
            "band": [_band(persons[p][0]) for p in ids],
            "split": ["holdout"] * len(ids),
            "defaulted": [int(persons[p][0] < 610) for p in ids],
        },
        schema_overrides={"defaulted": pl.Int8},
    ).with_columns(  # the rest of scores.parquet's columns, which decide does not read
        pl.lit(0.0).alias(c)
        for c in [*SCORE_COLUMNS, "clipping"]
        if c not in ("person_id", "score", "band")
    )
    features = pl.DataFrame(
        [{"person_id": p, **GOOD, **persons[p][1]} for p in ids],
        schema={"person_id": pl.String, **dict.fromkeys(GOOD, pl.Float64)},
    )
    points = pl.DataFrame([{"person_id": p, **_points(i)} for i, p in enumerate(ids)])
    events = pl.DataFrame(
        [
            (p, e, dt.date.fromisoformat(d), "M1", f"T{i}")
            for i, (p, e, d) in enumerate(EVENTS)
            if p in persons
        ],
        schema=EVENTS_SCHEMA,
        orient="row",
    )
    writer = FolderWriter(out, force=False)
    writer.add(MODEL_FILE, b"{}")
    writer.add_json(META_FILE, {"specs": [spec_to_dict(s) for s in SPECS]})
    writer.add_json(CONFIG_FILE, Config().as_dict())
    writer.add_json(METRICS_FILE, {})
    writer.add_parquet(SCORES_FILE, scores)
    writer.add_parquet(POINTS_FILE, points)
    writer.add_parquet(FEATURES_FILE, features)
    writer.add_parquet(EVENTS_FILE, events)
    manifest = {
        "as_of": AS_OF,
        "inputs": [],
        "tables_missing": [],
        "notes": [],
        "protected": [],
        "dropped": {},
    }
    return writer.commit(manifest)


@pytest.fixture(scope="module")
def hand_folder(tmp_path_factory: pytest.TempPathFactory) -> ModelFolder:
    return ModelFolder.open(write_folder(tmp_path_factory.mktemp("hand") / "m", PERSONS))


@pytest.fixture(scope="module")
def decided(hand_folder: ModelFolder) -> dict[tuple[str, str], dict[str, Any]]:
    frame = decide(hand_folder, parse(POLICY.encode(), "p.toml"))
    return {(r["person_id"], r["product"]): r for r in frame.iter_rows(named=True)}


def _loan(decided: dict[tuple[str, str], dict[str, Any]], person: str) -> tuple[Any, ...]:
    row = decided[person, "loan"]
    return row["decision"], row["limit"], row["failed_rules"]


def test_the_policy_reads_features_that_exist() -> None:
    names = {s.name for s in registry()}
    assert set(POLICY_FEATURES) <= names


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        # the minimum score, and the refer zone below it
        ("score_600", ("approve", 1000, None)),
        ("score_599", ("refer", 400, "P-MIN-SCORE")),
        ("score_580", ("refer", 400, "P-MIN-SCORE")),
        ("score_579", ("decline", None, "P-MIN-SCORE")),
        # history
        ("tenure_90", ("approve", 1000, None)),
        ("tenure_89", ("decline", None, "P-MIN-TENURE")),
        ("tenure_unknown", ("decline", None, "P-MIN-TENURE")),
        ("orders_3", ("approve", 1000, None)),
        ("orders_2", ("decline", None, "P-MIN-ORDERS")),
        ("orders_unknown", ("decline", None, "P-MIN-ORDERS")),
        # debt against income; no income: the term's floor, and owing fails
        ("owes_half", ("approve", 1000, None)),
        ("owes_more", ("decline", None, "P-MAX-OUTSTANDING")),
        ("no_income_no_debt", ("approve", 500, None)),
        ("no_income_owes", ("decline", None, "P-MAX-OUTSTANDING")),
        # counterfeit sold within 30 days; buying one is not selling
        ("sold_30_days_ago", ("decline", None, "P-COUNTERFEIT-SOLD")),
        ("sold_31_days_ago", ("approve", 1000, None)),
        ("bought_fake_yesterday", ("approve", 1000, None)),
        # the limit: rounded down to the step, the term kept in its range, capped
        ("income_2030", ("approve", 1000, None)),
        ("income_2100", ("approve", 1050, None)),
        ("income_100", ("approve", 500, None)),
        ("income_4000_excellent", ("approve", 2500, None)),
        ("income_2500_very_good", ("approve", 2500, None)),
        ("seller", ("approve", 1500, None)),
        ("seller_without_sales", ("approve", 1000, None)),
        # a referral whose limit is below the minimum is declined
        ("refer_small_limit", ("decline", None, "P-MIN-SCORE;P-MIN-LIMIT")),
    ],
)
def test_each_loan_rule_at_its_boundary(
    decided: dict[tuple[str, str], dict[str, Any]], person: str, expected: tuple[Any, ...]
) -> None:
    assert _loan(decided, person) == expected


def test_rentals_waive_by_band(decided: dict[tuple[str, str], dict[str, Any]]) -> None:
    def rent(p: str) -> tuple[Any, ...]:
        row = decided[p, "rent"]
        return row["decision"], row["deposit_waived"], row["limit"], row["failed_rules"]

    assert rent("rent_649") == ("decline", None, None, "P-MIN-SCORE")
    assert rent("rent_650") == ("approve", "half", None, None)
    assert rent("rent_700") == ("approve", "full", None, None)
    assert decided["rent_650", "loan"]["deposit_waived"] is None
    # a counterfeit sold on the as-of date is not known at it
    assert _loan(decided, "rent_700") == ("approve", 2500, None)


def test_a_band_without_a_waiver_declines(hand_folder: ModelFolder) -> None:
    text = POLICY.replace('"very good" = "half"', '"very good" = "none"')
    frame = decide(hand_folder, parse(text.encode()), products=["rent"])
    row = frame.filter(pl.col("person_id") == "rent_650").row(0, named=True)
    assert (row["decision"], row["failed_rules"]) == ("decline", "P-NO-WAIVER")


def test_limits_exact_at_a_multiple(tmp_path: Path) -> None:
    # 1000 x 900 / 3000 is 300 exactly; computed as 1000 x (900 / 3000) it is not
    text = POLICY.replace("reference = 2000", "reference = 3000").replace(
        "min_term = 0.5", "min_term = 0.0"
    )
    folder = ModelFolder.open(write_folder(tmp_path / "m", {"p": (620, {"monthly_income": 900.0})}))
    frame = decide(folder, parse(text.encode()), products=["loan"])
    assert frame.select("decision", "limit").row(0) == ("approve", 300)


def test_the_frame_carries_what_a_replay_needs(hand_folder: ModelFolder) -> None:
    policy = parse(POLICY.encode(), "p.toml")
    frame = decide(hand_folder, policy)
    assert frame.columns == DECISION_COLUMNS
    assert frame.schema == pl.Schema(DECISION_SCHEMA)
    assert frame.height == 2 * len(PERSONS)
    # persons in the folder's order, each with the products in the policy's order
    assert frame["person_id"].to_list()[:4] == ["score_600", "score_600", "score_599", "score_599"]
    assert frame["product"].to_list()[:2] == ["loan", "rent"]
    assert set(frame["as_of"]) == {AS_OF}
    assert set(frame["policy_sha256"]) == {policy.sha256}
    assert set(frame["model_sha256"]) == {model_sha256(hand_folder)}
    manifest = json.loads((hand_folder.path / "manifest.json").read_text())
    assert model_sha256(hand_folder) == manifest["manifest_sha256"]


def test_decline_and_refer_carry_the_lowering_reasons(hand_folder: ModelFolder) -> None:
    frame = decide(hand_folder, parse(POLICY.encode()))
    codes = lowering_codes(hand_folder.frame(POINTS_FILE), SPECS, 4)
    joined = frame.join(codes, on="person_id", suffix="_want")
    for row in joined.iter_rows(named=True):
        for i in range(1, 5):
            want = None if row["decision"] == "approve" else row[f"reason_{i}_want"]
            assert row[f"reason_{i}"] == want
    assert frame.filter(pl.col("decision") != "approve")["reason_1"].null_count() == 0


def test_some_persons_and_some_products(hand_folder: ModelFolder) -> None:
    policy = parse(POLICY.encode())
    frame = decide(hand_folder, policy, products=["rent"], person_ids=["rent_700", "nobody"])
    assert frame.select("person_id", "product", "decision").rows() == [
        ("rent_700", "rent", "approve")
    ]
    everyone = decide(hand_folder, policy)
    one = decide(hand_folder, policy, person_ids=["score_599"])
    assert one.equals(everyone.filter(pl.col("person_id") == "score_599"))
    with pytest.raises(UsageError, match="no product 'car'"):
        decide(hand_folder, policy, products=["car"])


def test_a_folder_without_the_orders_table(tmp_path: Path) -> None:
    out = write_folder(tmp_path / "m", {"p": (620, {})})
    # rewrite the features without orders_365d, as a build without transactions does
    folder = ModelFolder.open(out)
    features = folder.frame(FEATURES_FILE).drop("orders_365d", "credit_outstanding")
    rebuilt = tmp_path / "m2"
    writer = FolderWriter(rebuilt, force=False)
    for name, f in folder.files.items():
        writer.add(name, f.read())
    buf = io.BytesIO()
    features.write_parquet(buf)
    writer.add(FEATURES_FILE, buf.getvalue())
    writer.commit({k: v for k, v in folder.manifest.items() if k not in ("files",)})
    folder = ModelFolder.open(rebuilt)
    policy = parse(POLICY.encode())
    assert absent_features(folder, policy) == ["orders_365d", "credit_outstanding"]
    row = decide(folder, policy, products=["loan"]).row(0, named=True)
    # what is not on record fails the rule that needs it, as the warning says
    assert (row["decision"], row["failed_rules"]) == ("decline", "P-MIN-ORDERS;P-MAX-OUTSTANDING")


def test_strategy_on_the_hand_folder(hand_folder: ModelFolder) -> None:
    table = strategy(hand_folder, parse(POLICY.encode()), "loan")
    at = {r["cutoff"]: r for r in table.iter_rows(named=True)}
    assert at[600]["policy_cutoff"] and at[600]["band_edge"] == "good"
    assert not at[610]["policy_cutoff"] and at[610]["band_edge"] is None
    everyone = decide(hand_folder, parse(POLICY.encode()), products=["loan"])
    approved = everyone.filter(pl.col("decision") == "approve")
    # at the policy's own cut-off the strategy approves what decide approves
    assert at[600]["approved"] == approved.height
    assert at[600]["exposure"] == approved["limit"].sum()
    assert at[600]["persons"] == len(PERSONS)


# ------------------------------------------------------------------ on the built model


@pytest.fixture(scope="module")
def folder(model_dir: Path) -> ModelFolder:
    return ModelFolder.open(model_dir)


def test_reasons_of_declines_are_the_cards(folder: ModelFolder) -> None:
    frame = decide(folder, default_policy())
    adverse = frame.filter(pl.col("decision") != "approve")
    assert adverse.height > 100 and frame.filter(pl.col("decision") == "approve").height > 10
    cards = from_model_folder(folder, adverse["person_id"].unique().to_list())
    for row in adverse.iter_rows(named=True):
        want = [r.code for r in cards[row["person_id"]].lowering]
        got = [row[f"reason_{i}"] for i in range(1, 5)]
        assert got == want + [None] * (4 - len(want)), row["person_id"]
    assert frame.filter(pl.col("decision") == "approve")["reason_1"].null_count() == (
        frame.filter(pl.col("decision") == "approve").height
    )


def _bytes(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode() + frame.write_ndjson().encode()


def test_replay_is_byte_for_byte(model_dir: Path, tmp_path: Path) -> None:
    first = decide(ModelFolder.open(model_dir), default_policy())
    again = decide(ModelFolder.open(model_dir), default_policy())
    assert _bytes(first) == _bytes(again)
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(POLICY.replace("min_score = 600", "min_score = 610"), encoding="utf-8")
    from trustscore.policy import load

    changed = load(policy_file)
    other = decide(ModelFolder.open(model_dir), changed)
    assert set(other["policy_sha256"]) == {changed.sha256}
    assert changed.sha256 not in set(first["policy_sha256"])


def test_strategy_approval_falls_as_the_cutoff_rises(folder: ModelFolder) -> None:
    policy = default_policy()
    for product in policy.products:
        table = strategy(folder, policy, product)
        assert table["cutoff"].is_sorted()
        assert set(b.low for b in BANDS) <= set(table["cutoff"])
        rates = table["approval_rate"].to_list()
        assert all(a >= b for a, b in itertools.pairwise(rates))
        assert rates[0] > rates[-1]
        assert table["persons"].n_unique() == 1
        for column in ("bad_rate_approved", "bad_rate_declined"):
            assert all(0 <= v <= 1 for v in table[column].drop_nulls())
        if policy.products[product].kind == "loan":
            exposure = table["exposure"].to_list()
            assert all(a >= b for a, b in itertools.pairwise(exposure))
        else:
            assert table["exposure"].null_count() == table.height
    # the approved bad rate falls (or holds) from the lowest band edge to the highest
    loan = strategy(folder, policy, "micro_loan").filter(pl.col("approved") > 0)
    low = loan.filter(pl.col("cutoff") == 550)["bad_rate_approved"].item()
    high = loan.filter(pl.col("band_edge").is_not_null())["bad_rate_approved"].to_list()[-1]
    assert high <= low


def test_strategy_needs_a_holdout(tmp_path: Path) -> None:
    out = write_folder(tmp_path / "m", {"p": (620, {})})
    folder = ModelFolder.open(out)
    scores = folder.frame(SCORES_FILE).with_columns(pl.lit("development").alias("split"))
    rebuilt = tmp_path / "m2"
    writer = FolderWriter(rebuilt, force=False)
    for name, f in folder.files.items():
        writer.add(name, f.read())
    buf = io.BytesIO()
    scores.write_parquet(buf)
    writer.add(SCORES_FILE, buf.getvalue())
    writer.commit({k: v for k, v in folder.manifest.items() if k != "files"})
    with pytest.raises(UsageError, match="no holdout"):
        strategy(ModelFolder.open(rebuilt), parse(POLICY.encode()), "loan")


def test_deciding_prints_nothing(
    hand_folder: ModelFolder, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = parse(POLICY.encode())
    decide(hand_folder, policy)
    strategy(hand_folder, policy, "loan")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
