"""The synthetic data generator: the contract, determinism and the story's signals."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from trustscore import sample
from trustscore.sample import generate
from trustscore.schema import TABLES, Kind

PERSONS = 1000
AS_OF = "2026-01-01"


def _read(folder: Path, name: str) -> pl.DataFrame:
    # everything as text, so the tests see the bytes the generator wrote
    return pl.read_csv(folder / f"{name}.csv", infer_schema=False)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    generate(out, persons=PERSONS, seed=0)
    return out


@pytest.fixture(scope="module")
def data(folder: Path) -> dict[str, pl.DataFrame]:
    return {name: _read(folder, name) for name in TABLES}


def test_writes_the_four_files_and_counts_rows(tmp_path: Path) -> None:
    out = tmp_path / "new" / "folder"
    rows = generate(out, persons=300, seed=3)
    assert sorted(p.name for p in out.iterdir()) == sorted(t.filename for t in TABLES.values())
    for name, count in rows.items():
        assert _read(out, name).height == count
    assert rows["consumers"] == 300
    assert rows["merchants"] == 20  # the minimum
    assert rows["transactions"] > 300


def test_same_seed_same_bytes(folder: Path, tmp_path: Path) -> None:
    generate(tmp_path, persons=PERSONS, seed=0)
    assert _files(tmp_path) == _files(folder)


def test_different_seed_differs(folder: Path, tmp_path: Path) -> None:
    generate(tmp_path, persons=PERSONS, seed=1)
    other = _files(tmp_path)
    assert all(other[name] != content for name, content in _files(folder).items())


def test_same_bytes_with_one_thread(folder: Path, tmp_path: Path) -> None:
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [sys.executable, "-m", "trustscore", "sample", str(tmp_path), "--persons", str(PERSONS)],
        check=True,
        env=env,
        capture_output=True,
    )
    assert _files(tmp_path) == _files(folder)


def test_chunks_join_seamlessly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many chunks (drawn ahead in a worker thread) still give one contiguous, repeatable file."""
    monkeypatch.setattr(sample, "CHUNK_PERSONS", 64)
    first, second = tmp_path / "a", tmp_path / "b"
    rows = generate(first, persons=500, seed=7)
    generate(second, persons=500, seed=7)
    assert _files(first) == _files(second)
    t, s = _read(first, "transactions"), _read(first, "logistics")
    assert t["txn_id"].to_list() == [f"T{i:09d}" for i in range(1, rows["transactions"] + 1)]
    assert s["shipment_id"].to_list() == [f"S{i:09d}" for i in range(1, rows["logistics"] + 1)]
    assert s["txn_id"].is_in(t["txn_id"].implode()).all()
    assert t["buyer_id"].is_sorted()  # persons in order across chunk borders


def test_interrupted_run_leaves_nothing_behind(tmp_path: Path) -> None:
    def stop(table: str, done: int, total: int) -> None:
        if table == "transactions":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path, persons=300, seed=0, progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_progress_reaches_every_total(tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    rows = generate(tmp_path, persons=300, seed=0, progress=lambda *c: calls.append(c))
    last = {table: (done, total) for table, done, total in calls}
    assert last == {name: (count, count) for name, count in rows.items()}


def test_headers_are_the_contract(folder: Path) -> None:
    # the contract's columns, and in consumers.csv the protected attributes after them
    # (passthrough columns that the features leave out, for audit)
    for name, table in TABLES.items():
        header = (folder / table.filename).read_text().split("\n", 1)[0]
        extra = ["gender", "age"] if name == "consumers" else []
        assert header.split(",") == [*table.names, *extra]


def test_the_protected_attributes_cause_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gender and age come from a stream of their own: without them the other
    columns and tables are byte for byte what they were; the features leave them out."""
    from trustscore import sample as sample_mod
    from trustscore.features.protected import is_protected
    from trustscore.schema import DEFAULT_PROTECTED_WORDS

    generate(tmp_path / "with", persons=400, seed=9)
    monkeypatch.setattr(sample_mod, "_protected", lambda frame, rng: pl.DataFrame())
    generate(tmp_path / "without", persons=400, seed=9)
    for name in ("merchants.csv", "transactions.csv", "logistics.csv"):
        assert (tmp_path / "with" / name).read_bytes() == (tmp_path / "without" / name).read_bytes()
    consumers = pl.read_csv(tmp_path / "with" / "consumers.csv", infer_schema=False)
    plain = pl.read_csv(tmp_path / "without" / "consumers.csv", infer_schema=False)
    assert consumers.drop("gender", "age").equals(plain)
    assert all(is_protected(c, DEFAULT_PROTECTED_WORDS) for c in ("gender", "age"))
    assert set(consumers["gender"].drop_nulls()) == {"female", "male"}
    ages = consumers["age"].cast(pl.Int64)
    assert ages.min() >= 18 and ages.max() <= 90


def test_keys_unique_and_references_hold(data: dict[str, pl.DataFrame]) -> None:
    c, m, t, s = (data[n] for n in ("consumers", "merchants", "transactions", "logistics"))
    for name, table in TABLES.items():
        assert table.key is not None
        assert data[name][table.key].is_unique().all(), name
    persons = c["person_id"].implode()
    assert t["buyer_id"].is_in(persons).all()
    assert m["owner_id"].drop_nulls().is_in(persons).all()
    assert t["merchant_id"].is_in(m["merchant_id"].implode()).all()
    assert s["txn_id"].is_in(t["txn_id"].implode()).all()
    assert s["txn_id"].is_unique().all()  # one parcel per order at most


def test_values_are_allowed_and_formatted(data: dict[str, pl.DataFrame]) -> None:
    pattern = {
        Kind.DATE: r"\d{4}-\d{2}-\d{2}",
        Kind.TIMESTAMP: r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}",
        Kind.BOOL: r"true|false",
        Kind.LABEL: r"0|1",
        Kind.FLOAT: r"\d+\.\d{2}",
    }
    ids = {
        "person_id": r"P\d{7}",
        "owner_id": r"P\d{7}",
        "buyer_id": r"P\d{7}",
        "merchant_id": r"M\d{6}",
        "txn_id": r"T\d{9}",
        "shipment_id": r"S\d{9}",
        "address_id": r"A\d{7}",
    }
    for name, table in TABLES.items():
        frame = data[name]
        for col in table.columns:
            values = frame[col.name].drop_nulls()
            if col.required:
                assert values.len() == frame.height, (name, col.name)
            if col.kind is Kind.CHOICE:
                assert values.is_in(list(col.values)).all(), (name, col.name)
                continue
            regex = pattern.get(col.kind) or ids.get(col.name)
            if regex is not None:
                assert values.str.contains(f"^(?:{regex})$").all(), (name, col.name)
    assert (data["transactions"]["amount"].cast(pl.Float64) > 0).all()


def test_calendar_is_fixed(data: dict[str, pl.DataFrame]) -> None:
    t = data["transactions"]
    assert t["ts"].min() >= "2024-01-01T00:00:00"  # type: ignore[operator]
    assert t["ts"].max() <= "2025-12-31T23:59:59"  # type: ignore[operator]
    assert data["consumers"]["signup_date"].min() >= "2019-01-01"  # type: ignore[operator]


def test_events_happen_in_order(data: dict[str, pl.DataFrame]) -> None:
    c, m, t, s = (data[n] for n in ("consumers", "merchants", "transactions", "logistics"))
    orders = t.join(c, left_on="buyer_id", right_on="person_id").join(
        m, on="merchant_id", suffix="_shop"
    )
    assert (orders["ts"].str.slice(0, 10) >= orders["signup_date"]).all()
    assert (orders["ts"].str.slice(0, 10) >= orders["opened_date"]).all()
    owners = m.join(c, left_on="owner_id", right_on="person_id")
    assert (owners["opened_date"] >= owners["signup_date"]).all()
    parcels = s.join(t, on="txn_id", suffix="_txn")
    shipped = parcels.filter(pl.col("shipped_at").is_not_null())
    assert (shipped["shipped_at"] > shipped["ts"]).all()
    assert (shipped["promised_at"] > shipped["shipped_at"]).all()
    arrived = parcels.filter(pl.col("delivered_at").is_not_null())
    assert arrived["status"].is_in(["delivered", "returned"]).all()
    assert (arrived["delivered_at"] > arrived["shipped_at"]).all()
    billed = t.filter(pl.col("due_date").is_not_null())
    assert billed["payment_method"].is_in(["credit", "installment"]).all()
    assert (billed["status"] != "cancelled").all()


def test_shipments_agree_with_orders(data: dict[str, pl.DataFrame]) -> None:
    t, s = data["transactions"], data["logistics"]
    parcels = s.join(t, on="txn_id", suffix="_txn")
    refused = parcels.filter(pl.col("status") == "refused")
    assert refused.height > 0 and (refused["status_txn"] == "cancelled").all()
    assert (parcels.filter(pl.col("return_reason").is_not_null())["status"] == "returned").all()
    assert parcels.filter(pl.col("status") == "returned")["return_reason"].null_count() == 0
    claims = parcels.filter(pl.col("claim_upheld").is_not_null())
    assert (claims["return_reason"] == "counterfeit").all()
    # most cancelled orders never ship; the rest were refused at the door
    cancelled = t.filter(pl.col("status") == "cancelled")["txn_id"]
    assert 0 < refused.height < cancelled.len() / 2
    assert {"delivered", "in_transit", "returned", "lost"} <= set(s["status"].to_list())


def test_labels(data: dict[str, pl.DataFrame]) -> None:
    c = data["consumers"]
    labelled = c.filter(pl.col("defaulted").is_not_null())
    bad_rate = (labelled["defaulted"] == "1").mean()
    assert bad_rate is not None and 0.05 <= float(bad_rate) <= 0.20  # type: ignore[arg-type]
    unlabelled = c.filter(pl.col("defaulted").is_null())
    assert 0.03 <= unlabelled.height / c.height <= 0.2
    # mostly recent sign-ups
    recent = unlabelled["signup_date"] >= "2025-09-01"
    assert recent.mean() > 0.5  # type: ignore[operator]


def test_counterfeit_trade_is_present(data: dict[str, pl.DataFrame]) -> None:
    m, t, s = data["merchants"], data["transactions"], data["logistics"]
    fakes = t.filter(pl.col("counterfeit") == "true")
    sold_by_persons = fakes.join(m.filter(pl.col("owner_id").is_not_null()), on="merchant_id")
    assert sold_by_persons.height > 0
    outcome = fakes.join(s, on="txn_id", suffix="_parcel")
    kept = outcome.filter(
        pl.col("return_reason").is_null() | (pl.col("return_reason") != "counterfeit")
    )
    assert kept.height > 0
    returned = outcome.filter(pl.col("return_reason") == "counterfeit")
    assert returned.height > 0 and (returned["claim_upheld"] == "true").all()
    rejected = s.filter(
        (pl.col("return_reason") == "counterfeit") & (pl.col("claim_upheld") == "false")
    )
    assert rejected.height > 0


def test_behaviour_tracks_the_label(data: dict[str, pl.DataFrame]) -> None:
    """The bad repay late more often: the label is learnable from the tables."""
    c, t = data["consumers"], data["transactions"]
    bills = t.filter(pl.col("due_date").is_not_null() & (pl.col("due_date") < AS_OF))
    late = bills.with_columns(
        (pl.col("repaid_date").is_null() | (pl.col("repaid_date") > pl.col("due_date"))).alias(
            "late"
        )
    ).join(c, left_on="buyer_id", right_on="person_id")
    rates = late.group_by("defaulted").agg(pl.col("late").mean()).drop_nulls("defaulted")
    by_label = dict(zip(rates["defaulted"].to_list(), rates["late"].to_list(), strict=True))
    assert by_label["1"] > 2 * by_label["0"]


def test_persons_move_and_shops_have_owners(data: dict[str, pl.DataFrame]) -> None:
    c, m, t, s = (data[n] for n in ("consumers", "merchants", "transactions", "logistics"))
    addresses = s.join(t, on="txn_id").group_by("buyer_id").agg(pl.col("address_id").n_unique())
    assert addresses["address_id"].max() >= 2  # type: ignore[operator]
    owned = m["owner_id"].drop_nulls()
    assert 0 < owned.len() < m.height
    assert owned.is_unique().all()
    per_person = t.group_by("buyer_id").len()["len"]
    assert per_person.max() > 5 * per_person.median()  # type: ignore[operator]
    assert c.height == PERSONS


def test_rejects_nonsense(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, persons=0)
    with pytest.raises(ValueError):
        generate(tmp_path, seed=-1)
    assert not re.search(r"\.csv", " ".join(p.name for p in tmp_path.iterdir()))


def test_a_million_persons_stay_inside_the_contract_dates() -> None:
    """The generator's tails must never leave the contract (a few of 1M persons had an
    address_since before 1900, so `sample --persons 1000000` failed validation)."""
    import datetime as dt

    from trustscore.sample import _draw_persons, _rng
    from trustscore.schema import FIRST_DATE, LAST_DATE

    frame = _draw_persons(1_000_000, _rng(0, 0)).frame
    for column in ("signup_date", "address_since"):
        values = frame.get_column(column).cast(pl.Date).drop_nulls()
        assert values.min() >= FIRST_DATE and values.max() <= LAST_DATE, column  # type: ignore[operator]
    assert isinstance(FIRST_DATE, dt.date)
