"""Tables as Parquet (DESIGN 1): the same columns, rules and messages as CSV,
rows counted from 1 where a CSV counts lines; and ``trustscore convert``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import SAMPLE_DATA
from trustscore.cli import app
from trustscore.errors import DataError
from trustscore.ingest import read_folder

runner = CliRunner()
TABLES = ("consumers", "merchants", "transactions", "logistics")


def _problems(folder: Path) -> list[str]:
    with pytest.raises(DataError) as info:
        read_folder(folder)
    return [p.describe() for p in info.value.report.problems]


def _folder(tmp_path: Path, **frames: pl.DataFrame) -> Path:
    out = tmp_path / "data"
    out.mkdir(exist_ok=True)
    for name, frame in frames.items():
        frame.write_parquet(out / f"{name}.parquet")
    return out


def test_typed_parquet_reads_as_its_csv(tmp_path: Path) -> None:
    tables, _ = read_folder(SAMPLE_DATA)
    out = _folder(tmp_path, **{n: getattr(tables, n) for n in TABLES})
    again, report = read_folder(out)
    for name in TABLES:
        assert getattr(again, name).equals(getattr(tables, name)), name
    assert [t.file for t in report.tables] == [f"{n}.parquet" for n in TABLES]


def test_text_columns_follow_the_csv_rules(tmp_path: Path) -> None:
    # every column as text, spelled as exports spell them: spaces before times,
    # an offset, booleans in any case, padded numbers
    consumers = pl.DataFrame(
        {
            "person_id": ["A", "B"],
            "signup_date": ["2024-01-02", " 2024-02-03 "],
            "identity_verified": ["TRUE", "no"],
            "monthly_income": [" 1200.5", "0"],
            "defaulted": ["1", "0"],
        }
    )
    transactions = pl.DataFrame(
        {
            "txn_id": ["T1", "T2"],
            "buyer_id": ["A", "B"],
            "merchant_id": ["M", "M"],
            "ts": ["2025-03-01 14:05:00", "2025-03-01T14:05:00+02:00"],
            "amount": ["10", "20.25"],
            "status": ["Completed", "refunded"],
        }
    )
    tables, _ = read_folder(_folder(tmp_path, consumers=consumers, transactions=transactions))
    c, t = tables.consumers, tables.transactions
    assert t is not None
    assert c["signup_date"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 2, 3)]
    assert c["identity_verified"].to_list() == [True, False]
    assert c["monthly_income"].to_list() == [1200.5, 0.0]
    assert t["ts"].to_list() == [dt.datetime(2025, 3, 1, 14, 5), dt.datetime(2025, 3, 1, 12, 5)]
    assert t["status"].cast(pl.String).to_list() == ["completed", "refunded"]


def test_problems_name_file_row_column_and_value(tmp_path: Path) -> None:
    consumers = pl.DataFrame(
        {
            "person_id": ["A", "B", "A", ""],
            "signup_date": ["2024-01-02", "2024-02-30", None, None],
            "monthly_income": [1.0, float("inf"), -5.0, None],
            "defaulted": [1, 2, 0, None],
        }
    )
    got = _problems(_folder(tmp_path, consumers=consumers))
    assert any(
        p.startswith("'2024-02-30': a date YYYY-MM-DD")
        and p.endswith("(consumers.parquet, row 2, column signup_date)")
        for p in got
    )
    assert any("row 2, column monthly_income" in p for p in got)  # inf is no number
    assert any("row 3, column monthly_income" in p and "'-5.0'" in p for p in got)
    assert any("row 2, column defaulted" in p and "'2'" in p for p in got)
    assert any("a unique person_id (already on row 1)" in p and "row 3" in p for p in got)
    assert any("row 4, column person_id" in p and "required" in p for p in got)


def test_timestamps_with_a_zone_and_ids_as_numbers(tmp_path: Path) -> None:
    consumers = pl.DataFrame({"person_id": [1, 2]})
    ts = pl.Series([dt.datetime(2025, 1, 1, 12)]).dt.replace_time_zone("Asia/Shanghai")
    transactions = pl.DataFrame(
        {
            "txn_id": [10],
            "buyer_id": [1],
            "merchant_id": ["M"],
            "ts": ts,
            "amount": [5],
            "status": ["completed"],
        }
    )
    tables, _ = read_folder(_folder(tmp_path, consumers=consumers, transactions=transactions))
    assert tables.consumers["person_id"].to_list() == ["1", "2"]
    assert tables.transactions is not None
    assert tables.transactions["ts"].to_list() == [dt.datetime(2025, 1, 1, 4)]  # UTC
    assert tables.transactions["amount"].to_list() == [5.0]


def test_a_file_that_is_no_parquet_and_a_table_given_twice(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "consumers.parquet").write_bytes(b"person_id\nA\n")
    got = _problems(data)
    assert got and "a Parquet file" in got[0] and "consumers.parquet" in got[0]
    (data / "consumers.csv").write_text("person_id\nA\n")
    result = runner.invoke(app, ["validate", str(data)])
    assert result.exit_code == 3
    assert "both consumers.csv and consumers.parquet" in result.stderr


def test_missing_required_column_and_empty_table(tmp_path: Path) -> None:
    data = _folder(tmp_path, consumers=pl.DataFrame({"signup_date": ["2024-01-01"]}))
    got = _problems(data)
    assert any("a required column 'person_id'" in p and "consumers.parquet" in p for p in got)
    empty = _folder(tmp_path, consumers=pl.DataFrame(schema={"person_id": pl.String}))
    result = runner.invoke(app, ["validate", str(empty)])
    assert result.exit_code == 3 and "consumers.parquet is empty" in result.stderr


# ------------------------------------------------------------------ convert


def test_convert_gives_the_same_features_and_scores(tmp_path: Path, sample_model: Path) -> None:
    out = tmp_path / "pq"
    result = runner.invoke(app, ["convert", str(SAMPLE_DATA), str(out), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{n}.parquet" for n in TABLES)
    assert "transactions,%s,76505," % (out / "transactions.parquet") in result.stdout
    schema = pl.read_parquet_schema(out / "transactions.parquet")
    assert schema["ts"] == pl.Datetime("us") and schema["amount"] == pl.Float64
    # typed, compressed, the repeating ids dictionary-encoded: a fraction of the text
    for name in ("transactions", "logistics"):
        csv_size = (SAMPLE_DATA / f"{name}.csv").stat().st_size
        assert (out / f"{name}.parquet").stat().st_size < csv_size / 3
    csv = runner.invoke(app, ["features", str(SAMPLE_DATA), "-f", "csv"])
    pq = runner.invoke(app, ["features", str(out), "-f", "csv"])
    assert pq.exit_code == 0 and pq.stdout == csv.stdout
    scored = runner.invoke(app, ["score", str(out), "--model", str(sample_model), "-f", "csv"])
    expected = runner.invoke(
        app, ["score", str(SAMPLE_DATA), "--model", str(sample_model), "-f", "csv"]
    )
    assert scored.exit_code == 0 and scored.stdout == expected.stdout


def test_convert_sorts_by_key_and_writes_nothing_on_bad_data(tmp_path: Path) -> None:
    data = tmp_path / "csv"
    data.mkdir()
    (data / "consumers.csv").write_text("person_id,monthly_income\nB,10\nA,20\nC,30\n")
    out = tmp_path / "pq"
    assert runner.invoke(app, ["convert", str(data), str(out)]).exit_code == 0
    assert pl.read_parquet(out / "consumers.parquet")["person_id"].cast(pl.String).to_list() == [
        "A",
        "B",
        "C",
    ]
    (data / "consumers.csv").write_text("person_id,monthly_income\nB,10\nA,-20\n")
    fresh = tmp_path / "fresh"
    result = runner.invoke(app, ["convert", str(data), str(fresh)])
    assert result.exit_code == 3 and "consumers.csv, line 3, column monthly_income" in result.stderr
    assert not (fresh / "consumers.parquet").exists()
    # --lenient drops the bad row, as everywhere
    result = runner.invoke(app, ["convert", str(data), str(fresh), "--lenient"])
    assert result.exit_code == 0 and pl.read_parquet(fresh / "consumers.parquet").height == 1


def test_convert_never_doubles_a_table_or_writes_over_one(
    tmp_path: Path, sample_model: Path
) -> None:
    out = tmp_path / "pq"
    assert runner.invoke(app, ["convert", str(SAMPLE_DATA), str(out)]).exit_code == 0
    again = runner.invoke(app, ["convert", str(SAMPLE_DATA), str(out)])
    assert again.exit_code == 2 and "already holds" in again.stderr
    assert runner.invoke(app, ["convert", str(SAMPLE_DATA), str(out), "--force"]).exit_code == 0
    into_csvs = runner.invoke(app, ["convert", str(out), str(SAMPLE_DATA)])
    assert into_csvs.exit_code == 2 and "twice" in into_csvs.stderr
    into_model = runner.invoke(app, ["convert", str(SAMPLE_DATA), str(sample_model)])
    assert into_model.exit_code == 2 and "model folder" in into_model.stderr


def test_warnings_name_the_parquet_file_and_row(tmp_path: Path) -> None:
    consumers = pl.DataFrame({"person_id": ["A"]})
    transactions = pl.DataFrame(
        {
            "txn_id": ["T1", "T2"],
            "buyer_id": ["A", "A"],
            "merchant_id": ["M", "M"],
            "ts": [dt.datetime(2025, 3, 1), dt.datetime(2025, 3, 2)],
            "amount": [5.0, 6.0],
            "status": ["completed", "completed"],
            "payment_method": ["credit", "credit"],
            "due_date": [dt.date(2025, 3, 31), dt.date(2025, 4, 1)],
            "repaid_date": [dt.date(2025, 3, 20), dt.date(2025, 2, 1)],  # T2 before its purchase
        }
    )
    _, report = read_folder(_folder(tmp_path, consumers=consumers, transactions=transactions))
    shown = [e.describe() for w in report.warnings for e in w.examples]
    assert any("transactions.parquet, row 2, column repaid_date" in s for s in shown), shown


def test_what_pandas_and_other_writers_leave(tmp_path: Path) -> None:
    """Real exports' habits: NaN for a missing number, an outcome with gaps as
    floats, dates as midnight time stamps; and cells no contract column can hold
    (lists, structs, bytes, durations) refused by name, never a crash."""
    consumers = pl.DataFrame(
        {
            "person_id": ["A", "B", "C"],
            "monthly_income": [1000.0, float("nan"), None],
            "defaulted": [1.0, float("nan"), 0.0],
            "signup_date": [dt.datetime(2024, 1, 1), None, dt.datetime(2024, 2, 1)],
            "savings": [float("nan"), 12.5, 3.0],  # a passthrough number column
        }
    )
    tables, _ = read_folder(_folder(tmp_path, consumers=consumers))
    c = tables.consumers
    assert c["savings"].to_list() == [None, 12.5, 3.0]
    assert c["monthly_income"].to_list() == [1000.0, None, None]
    assert c["defaulted"].to_list() == [1, None, 0]
    assert c["signup_date"].to_list() == [dt.date(2024, 1, 1), None, dt.date(2024, 2, 1)]
    noon = consumers.with_columns(pl.lit(dt.datetime(2024, 1, 1, 12)).alias("signup_date"))
    noon = noon.drop("savings")
    got = _problems(_folder(tmp_path, consumers=noon))
    assert any("row 1, column signup_date" in p and "a date" in p for p in got)
    for column, values in (
        ("person_id", [["a"], ["b"], ["c"]]),
        ("monthly_income", [{"x": 1}, {"x": 2}, {"x": 3}]),
        ("person_id", [b"a", b"\xff", b"c"]),
        ("signup_date", [dt.timedelta(1), dt.timedelta(2), dt.timedelta(3)]),
    ):
        odd = consumers.with_columns(pl.Series(column, values))
        result = runner.invoke(app, ["validate", str(_folder(tmp_path, consumers=odd))])
        assert result.exit_code == 3, (column, result.stderr)
        assert "one value per cell" in result.stderr and f"column {column}" in result.stderr


_LARGEST = 2**63 - 1


@pytest.mark.parametrize(
    ("column", "values", "dtype", "year"),
    [
        # the largest integer as a time stamp: a sentinel some exports write
        ("ts", [_LARGEST], pl.Datetime("us"), "294247"),
        ("ts", [_LARGEST], pl.Datetime("ms", "UTC"), "292278994"),
        ("ts", [-_LARGEST], pl.Datetime("ns", "Asia/Shanghai"), "1677"),
        ("due_date", [2**31 - 1], pl.Date, "5881580"),
        ("due_date", [-(2**31)], pl.Date, "-5877641"),
    ],
)
def test_a_time_beyond_any_calendar_is_an_error_not_a_crash(
    tmp_path: Path, column: str, values: list[int], dtype: pl.DataType, year: str
) -> None:
    """Polars panics turning such a number into a date or text; it is read as
    the value it is, an error naming file, row and column."""
    ok = pl.Series([dt.datetime(2025, 1, 1)]).cast(dtype).to_physical().to_list()
    transactions = pl.DataFrame(
        {
            "txn_id": ["T1", "T2"],
            "buyer_id": ["A", "A"],
            "merchant_id": ["M", "M"],
            "ts": [dt.datetime(2025, 1, 1)] * 2,
            "amount": [5.0, 6.0],
            "status": ["completed"] * 2,
        }
    ).with_columns(pl.Series(column, ok + values).cast(dtype))
    data = _folder(
        tmp_path, consumers=pl.DataFrame({"person_id": ["A"]}), transactions=transactions
    )
    got = _problems(data)
    assert len(got) == 1, got
    assert got[0].startswith(f"'the year {year}': ")
    assert got[0].endswith(f"(transactions.parquet, row 2, column {column})")
    result = runner.invoke(app, ["validate", str(data)])
    assert result.exit_code == 3
    assert "panicked" not in result.stderr and "Traceback" not in result.stderr


def test_a_passthrough_time_beyond_any_calendar_is_kept_as_text(tmp_path: Path) -> None:
    consumers = pl.DataFrame({"person_id": ["A", "B"]}).with_columns(
        pl.Series("last_seen", [0, _LARGEST]).cast(pl.Datetime("us"))
    )
    tables, _ = read_folder(_folder(tmp_path, consumers=consumers))
    assert tables.consumers["last_seen"].to_list() == [
        "1970-01-01 00:00:00.000000",
        "the year 294247",
    ]


def test_a_panic_in_native_code_is_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyo3 hands a Rust panic to Python as a BaseException, which ``except
    Exception`` lets through: the CLI still says it in one line."""

    def panics(*args: object, **kwargs: object) -> None:
        raise pl.exceptions.PanicException("index out of bounds\nnote: run with RUST_BACKTRACE=1")

    monkeypatch.setattr("trustscore.ingest.read_folder", panics)
    result = runner.invoke(app, ["validate", str(SAMPLE_DATA)])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "error: unexpected PanicException: index out of bounds"
    )
    assert "Traceback" not in result.stderr
