"""Ingest and validation: every rule of the contract refused with file, line,
column and value; every harmless quirk accepted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from tests.conftest import CONSUMERS, LOGISTICS, MERCHANTS, TRANSACTIONS, FolderMaker
from trustscore.cli import app
from trustscore.errors import DataError
from trustscore.ingest import MAX_SHOWN, read_folder
from trustscore.schema import TABLES

runner = CliRunner()


def test_valid_folder_is_typed_per_contract(make_folder: FolderMaker) -> None:
    tables, report = read_folder(make_folder())
    assert report.total_problems == 0
    for name, table in TABLES.items():
        frame = getattr(tables, name)
        assert frame is not None
        assert dict(frame.schema) == table.schema, name
    t = tables.transactions
    assert t is not None
    assert t["ts"][0] == dt.datetime(2025, 1, 10, 10, 0)
    assert t["amount"].to_list() == [120.5, 40.0, 15.0]
    assert t["counterfeit"].to_list() == [False, True, False]
    assert tables.consumers["defaulted"].to_list() == [0, 1, None]
    assert [r.rows for r in report.tables] == [3, 2, 3, 2]


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# one malformed fixture per rule: (table, broken text, line, column, value shown)
BROKEN = {
    "bad date": (
        "consumers",
        _replace(CONSUMERS, "2023-01-05", "2023-02-30"),
        2,
        "signup_date",
        "2023-02-30",
    ),
    "bad timestamp": (
        "transactions",
        _replace(TRANSACTIONS, "2025-03-01T12:00:00", "01/03/2025 12:00"),
        3,
        "ts",
        "01/03/2025 12:00",
    ),
    "bad number": (
        "transactions",
        _replace(TRANSACTIONS, "120.50", "12O.50"),
        2,
        "amount",
        "12O.50",
    ),
    "amount not positive": (
        "transactions",
        _replace(TRANSACTIONS, ",40,", ",-40,"),
        3,
        "amount",
        "-40",
    ),
    "negative income": (
        "consumers",
        _replace(CONSUMERS, ",800,", ",-800,"),
        3,
        "monthly_income",
        "-800",
    ),
    "bad boolean": (
        "merchants",
        _replace(MERCHANTS, "fashion,false", "fashion,maybe"),
        3,
        "verified",
        "maybe",
    ),
    "unknown status": (
        "transactions",
        _replace(TRANSACTIONS, "refunded", "lost_in_space"),
        4,
        "status",
        "lost_in_space",
    ),
    "unknown shipment status": (
        "logistics",
        _replace(LOGISTICS, "returned", "vanished"),
        3,
        "status",
        "vanished",
    ),
    "label not 0/1": ("consumers", _replace(CONSUMERS, "800,1", "800,2"), 3, "defaulted", "2"),
    "duplicate key": ("merchants", _replace(MERCHANTS, "M2,", "M1,"), 3, "merchant_id", "M1"),
    "empty required": ("transactions", _replace(TRANSACTIONS, "T3,P3", "T3,"), 4, "buyer_id", None),
    "dangling buyer": (
        "transactions",
        _replace(TRANSACTIONS, "T3,P3", "T3,P9"),
        4,
        "buyer_id",
        "P9",
    ),
    "dangling owner": ("merchants", _replace(MERCHANTS, "M2,P2", "M2,P7"), 3, "owner_id", "P7"),
    "dangling merchant": (
        "transactions",
        _replace(TRANSACTIONS, "P3,M1", "P3,M5"),
        4,
        "merchant_id",
        "M5",
    ),
    "dangling shipment txn": (
        "logistics",
        _replace(LOGISTICS, "S2,T2", "S2,T8"),
        3,
        "txn_id",
        "T8",
    ),
    "ragged row": ("merchants", _replace(MERCHANTS, "M2,P2,", "M2,P2,extra,"), 3, None, None),
    "short row": ("merchants", _replace(MERCHANTS, ",fashion,false", ",false"), 3, None, None),
    "missing required column": (
        "transactions",
        TRANSACTIONS.replace("amount,", "")
        .replace(",120.50", "")
        .replace(",40,", ",")
        .replace(",15,", ","),
        1,
        "amount",
        None,
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_rule_is_refused_with_file_line_column_value(
    case: str, make_folder: FolderMaker, tmp_path: Path
) -> None:
    table, text, line, column, value = BROKEN[case]
    folder = make_folder(**{table: text})
    out = tmp_path / "report.csv"
    result = runner.invoke(app, ["validate", str(folder), "--output", str(out)])
    assert result.exit_code == 3, result.stderr
    assert "Traceback" not in result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: ")
    assert f"{table}.csv" in first
    assert f"line {line}" in first
    if column:
        assert f"column {column}" in first
    if value is not None:
        assert repr(value) in first
    assert not out.exists(), "nothing is written when the data are invalid"


def test_non_utf8_bytes_are_named(make_folder: FolderMaker) -> None:
    data = CONSUMERS.encode().replace(b"P3,2025", b"P\xff3,2025")
    folder = make_folder(consumers=None, raw={"consumers.csv": data})
    with pytest.raises(DataError) as info:
        read_folder(folder)
    problem = info.value.problems[0]
    assert (problem.file, problem.line, problem.rule) == ("consumers.csv", 4, "not_utf8")
    # the row is unreadable, so the purchase that names P3 dangles too
    assert [p.rule for p in info.value.problems[1:]] == ["dangling_reference"]


def test_missing_or_empty_consumers_is_refused(make_folder: FolderMaker) -> None:
    result = runner.invoke(app, ["validate", str(make_folder(consumers=None))])
    assert result.exit_code == 3
    assert "consumers.csv is missing" in result.stderr
    header_only = CONSUMERS.splitlines()[0] + "\n"
    result = runner.invoke(app, ["validate", str(make_folder(consumers=header_only))])
    assert result.exit_code == 3
    assert "consumers.csv has no rows" in result.stderr


def test_all_problems_reported_and_capped_per_file(make_folder: FolderMaker) -> None:
    rows = "".join(f"Q{i},2023-13-01,true,true,,,,\n" for i in range(MAX_SHOWN + 7))
    folder = make_folder(consumers=CONSUMERS + rows)
    with pytest.raises(DataError) as info:
        read_folder(folder)
    exc = info.value
    assert exc.counts["consumers.csv"] == MAX_SHOWN + 7
    assert len([p for p in exc.problems if p.file == "consumers.csv"]) == MAX_SHOWN
    result = runner.invoke(app, ["validate", str(folder)])
    assert "and 7 more in consumers.csv" in result.stderr


def test_lenient_drops_and_counts_per_rule(make_folder: FolderMaker) -> None:
    transactions = _replace(TRANSACTIONS, "T3,P3", "T3,P9")  # dangling buyer
    transactions = _replace(transactions, ",40,", ",0,")  # amount not > 0
    folder = make_folder(transactions=transactions)
    tables, report = read_folder(folder, lenient=True)
    assert tables.transactions is not None
    assert tables.transactions["txn_id"].to_list() == ["T1"]
    # S2 shipped T2, which was dropped: its shipment now dangles and goes too
    assert tables.logistics is not None
    assert tables.logistics["shipment_id"].to_list() == ["S1"]
    assert report.drops.dropped == {
        ("transactions.csv", "domain"): 1,
        ("transactions.csv", "dangling_reference"): 1,
        ("logistics.csv", "dangling_reference"): 1,
    }


# ------------------------------------------------------------ harmless quirks


def test_bom_crlf_quotes_z_and_boolean_spellings(make_folder: FolderMaker) -> None:
    consumers = (
        CONSUMERS.replace("true,true", "TRUE,Yes")
        .replace("false,true", "0,YES")
        .replace("\n", "\r\n")
    )
    transactions = _replace(TRANSACTIONS, "electronics,false,2025", '"electronics, tv",No,2025')
    transactions = _replace(transactions, "2025-01-10T10:00:00", "2025-01-10T10:00:00Z")
    transactions = _replace(transactions, "2025-03-01T12:00:00", "2025-03-01T20:00:00+08:00")
    raw = {"consumers.csv": b"\xef\xbb\xbf" + consumers.encode()}
    folder = make_folder(consumers=None, transactions=transactions, raw=raw)
    tables, report = read_folder(folder)
    assert report.total_problems == 0
    assert tables.consumers["person_id"].to_list() == ["P1", "P2", "P3"]
    assert tables.consumers["identity_verified"].to_list() == [True, False, False]
    assert tables.consumers["phone_verified"].to_list() == [True, True, False]
    t = tables.transactions
    assert t is not None
    assert t["category"][0] == "electronics, tv"
    assert t["counterfeit"][0] is False
    assert t["ts"].to_list()[:2] == [dt.datetime(2025, 1, 10, 10), dt.datetime(2025, 3, 1, 12)]


def test_timestamps_with_a_space_as_sql_exports_write_them(make_folder: FolderMaker) -> None:
    transactions = _replace(TRANSACTIONS, "2025-01-10T10:00:00", "2025-01-10 10:00:00")
    transactions = _replace(transactions, "2025-03-01T12:00:00", "2025-03-01 20:00:00.5+08:00")
    tables, report = read_folder(make_folder(transactions=transactions))
    assert report.total_problems == 0
    assert tables.transactions is not None
    assert tables.transactions["ts"].to_list()[:2] == [
        dt.datetime(2025, 1, 10, 10),
        dt.datetime(2025, 3, 1, 12, 0, 0, 500000),
    ]


def test_extra_columns_passthrough_in_consumers_ignored_elsewhere(make_folder: FolderMaker) -> None:
    consumers = CONSUMERS.replace("defaulted\n", "defaulted,savings,region\n")
    consumers = consumers.replace(",0\n", ",0,1200.5,north\n").replace(",1\n", ",1,,south\n")
    consumers = consumers.replace(",,,\n", ",,,,7,\n")
    merchants = MERCHANTS.replace("verified\n", "verified,rating\n").replace("true\n", "true,5\n")
    merchants = merchants.replace("false\n", "false,3\n")
    tables, report = read_folder(make_folder(consumers=consumers, merchants=merchants))
    assert tables.passthrough == ["savings", "region"]
    assert tables.consumers["savings"].dtype == pl.Float64
    assert tables.consumers["savings"].to_list() == [1200.5, None, 7.0]
    assert tables.consumers["region"].to_list() == ["north", "south", None]
    assert tables.merchants is not None and "rating" not in tables.merchants.columns
    assert any("rating" in note.text for note in report.notes)


def test_consumers_only_folder(make_folder: FolderMaker) -> None:
    folder = make_folder(merchants=None, transactions=None, logistics=None)
    tables, report = read_folder(folder)
    assert tables.missing() == ["merchants", "transactions", "logistics"]
    assert any("no logistics data" in n.text for n in report.notes)
    result = runner.invoke(app, ["validate", str(folder), "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "table,file,rows,problems,warnings\nconsumers,consumers.csv,3,0,0\n"
    assert "no transactions data" in result.stderr


def test_stdin_dash_reads_consumers(make_folder: FolderMaker) -> None:
    result = runner.invoke(app, ["validate", "-", "--format", "json"], input=CONSUMERS)
    assert result.exit_code == 0, result.stderr
    assert '"rows": 3' in result.stdout


def test_reading_in_pieces_changes_nothing(
    make_folder: FolderMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustscore.ingest as ingest

    broken = _replace(TRANSACTIONS, "T3,P3", "T3,P9")
    broken = _replace(broken, "2025-03-01T12:00:00", "2025-03-01 12h")
    folders = [make_folder(), make_folder(transactions=broken)]
    whole, _ = read_folder(folders[0])
    with pytest.raises(DataError) as before:
        read_folder(folders[1])
    monkeypatch.setattr(ingest, "CHUNK_BYTES", 40)  # a piece holds a line or less
    tables, _ = read_folder(folders[0])
    for name in TABLES:
        assert getattr(tables, name).equals(getattr(whole, name)), name
    with pytest.raises(DataError) as info:
        read_folder(folders[1])
    assert [p.describe() for p in info.value.problems] == [
        p.describe() for p in before.value.problems
    ]
    # transactions lines 3 and 4, then the shipment of the unreadable T2 (logistics line 3)
    assert [(p.file[0], p.line) for p in info.value.problems] == [("t", 3), ("t", 4), ("l", 3)]


@pytest.mark.parametrize(
    ("old", "new", "column", "rule"),
    [
        ("category,counterfeit", "category,category", "category", "header"),  # named twice
        ("merchant_id,ts", "shop,ts", "merchant_id", "missing_column"),
    ],
)
def test_lenient_never_drops_a_table_or_column(
    old: str, new: str, column: str, rule: str, make_folder: FolderMaker
) -> None:
    # it used to drop the whole of transactions.csv, and build a model without it
    broken = _replace(TRANSACTIONS, old, new)
    with pytest.raises(DataError) as info:
        read_folder(make_folder(transactions=broken), lenient=True)
    problem = info.value.problems[0]
    assert (problem.file, problem.line, problem.column, problem.rule) == (
        "transactions.csv",
        1,
        column,
        rule,
    )
    assert info.value.hint is not None and "never a whole table" in info.value.hint


def test_every_check_names_the_line_after_blank_lines_and_multiline_fields(
    make_folder: FolderMaker,
) -> None:
    merchants = (
        MERCHANTS.replace("electronics", '"electronics,\nand more"')  # M1: lines 2-3
        + "\n"  # line 5 is blank
        + "M1,,2020-01-01,toys,true\n"  # line 6: M1 again
        + "M3,P8,2020-01-01,toys,true\n"  # line 7: no such owner
    )
    with pytest.raises(DataError) as info:
        read_folder(make_folder(merchants=merchants))
    assert [(p.line, p.rule, p.expected) for p in info.value.problems] == [
        (6, "duplicate_key", "a unique merchant_id (already on line 2)"),
        (7, "dangling_reference", "a person_id of consumers.csv"),
    ]


# ------------------------------------------------------------ pending orders


def test_a_pending_order_is_an_order_never_a_sale_or_refund(make_folder: FolderMaker) -> None:
    from trustscore.features import compute_features

    # P1 has T1 (completed, credit at M1) and T2 (40 by card at M2, unverified)
    as_of = dt.date(2025, 8, 1)
    pending = _replace(TRANSACTIONS, "40,completed", "40, Pending ")  # any case, spaces
    got = {}
    for name, text in (("completed", TRANSACTIONS), ("pending", pending)):
        tables, report = read_folder(make_folder(transactions=text))
        assert report.warnings == []
        result = compute_features(tables, as_of)
        got[name] = result.frame.filter(pl.col("person_id") == "P1").row(0, named=True)
    assert tables.transactions is not None
    assert tables.transactions["status"].to_list() == ["completed", "pending", "refunded"]
    p, c = got["pending"], got["completed"]
    orders = [n for n in p if n.startswith("orders_")]
    assert orders and all(p[n] == c[n] for n in orders)  # counted as an order
    assert (p["orders_365d"], c["orders_365d"]) == (2, 2)
    # never a completed sale: no spend, no share of spending
    assert (p["spend_365d"], c["spend_365d"]) == (120.5, 160.5)
    assert (p["avg_order_value_365d"], c["avg_order_value_365d"]) == (120.5, 160.5 / 2)
    assert p["own_funds_share_365d"] == 0.0 < c["own_funds_share_365d"]
    assert p["verified_shop_share_365d"] == 1.0 > c["verified_shop_share_365d"]
    # never a refund, dispute or chargeback
    assert p["refund_rate_365d"] == 0.0
    assert p["disputes_filed_365d"] == p["chargebacks_filed_365d"] == 0


def test_a_status_outside_the_contract_is_one_line_naming_it(make_folder: FolderMaker) -> None:
    folder = make_folder(transactions=_replace(TRANSACTIONS, "40,completed", "40,on_hold"))
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == (
        "error: 'on_hold': one of completed, refunded, cancelled, disputed, chargeback, "
        "pending (transactions.csv, line 3, column status)"
    )


@settings(max_examples=200, deadline=None)
@given(
    keys=st.lists(st.sampled_from("ABCDEFGHIJ"), unique=True, max_size=8),
    values=st.lists(st.none() | st.sampled_from("ABCDEFGHIJKL"), max_size=30),
    ordered=st.booleans(),
)
def test_every_way_of_checking_references_finds_the_same(
    keys: list[str], values: list[str | None], ordered: bool
) -> None:
    """``_dangling`` searches sorted keys when there are about as many keys as
    values and joins otherwise; with nulls it finds dangling rows alone. Each
    way gives what a plain lookup gives."""
    from trustscore.ingest import _ROW, _dangling

    keys = sorted(keys) if ordered else keys
    frame = pl.DataFrame(
        {_ROW: range(1, len(values) + 1), "ref": values}, schema={_ROW: pl.Int64, "ref": pl.String}
    )
    dangling, positions = _dangling(frame, "ref", pl.Series(keys, dtype=pl.String))
    where = {k: i for i, k in enumerate(keys)}
    expected = [(i, v) for i, v in enumerate(values, 1) if v is not None and v not in where]
    assert list(zip(dangling[_ROW], dangling["ref"], strict=True)) == expected
    if None in values:
        assert positions is None
    else:
        assert positions is not None
        assert positions.to_list() == [where.get(v) for v in values]


@settings(max_examples=100, deadline=None)
@given(
    like=st.lists(st.integers(1, 6), max_size=6),
    pieces=st.lists(st.integers(1, 6), max_size=6),
)
def test_a_column_added_to_a_table_is_cut_as_its_columns(
    like: list[int], pieces: list[int]
) -> None:
    """A CSV's columns come in one piece per block read; a column added in other
    pieces makes Polars copy the whole table at its next select."""
    from trustscore.ingest import _aligned

    total = sum(like)
    extra = total - sum(pieces)
    if extra < 0:
        pieces, extra = [], total
    shape = [*pieces, extra] if extra else pieces
    column = pl.concat(
        [pl.Series("v", range(sum(shape[:i]), sum(shape[: i + 1]))) for i in range(len(shape))]
        or [pl.Series("v", [], dtype=pl.Int64)],
        rechunk=False,
    )
    base = pl.concat(
        [pl.Series("k", [0] * n) for n in like] or [pl.Series("k", [], dtype=pl.Int64)],
        rechunk=False,
    )
    got = _aligned(column, base)
    assert got.to_list() == list(range(total))
    assert got.chunk_lengths() == base.chunk_lengths()
