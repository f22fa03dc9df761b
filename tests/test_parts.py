"""``--parts N`` (parts.py): the large tables read a piece at a time, the features a
partition at a time. It must find what the whole-table path finds, problem for
problem in the same order, and give its feature table bit for bit."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from tests.conftest import SAMPLE_DATA
from tests.test_features_properties import CONFIG, SETTINGS, worlds
from trustscore import ingest, parts
from trustscore.cli import app
from trustscore.data_tables import DataTables
from trustscore.errors import DataError
from trustscore.features import compute_features, default_as_of
from trustscore.ingest import read_folder

runner = CliRunner()
TABLES = ("consumers", "merchants", "transactions", "logistics")


@pytest.fixture(autouse=True)
def spool_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Spools in a folder of the test's own, found empty after every run."""
    where = tmp_path / "tmp"
    where.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(where))
    yield where
    assert not [p for p in where.iterdir() if p.name.startswith("trustscore-partitions-")]


@pytest.fixture(scope="module")
def sample_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample") / "pq"
    result = runner.invoke(app, ["convert", str(SAMPLE_DATA), str(out)])
    assert result.exit_code == 0, result.output
    return out


def _write(folder: Path, tables: DataTables) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        frame = getattr(tables, name)
        if frame is not None:
            frame.write_parquet(folder / f"{name}.parquet")
    return folder


def _in_parts(folder: Path, n: int, as_of: dt.date | None = None, **kw: bool) -> tuple:  # type: ignore[type-arg]
    """read_in_parts, then features_in_parts: (read, as-of, FeatureResult, active pids)."""
    read = parts.read_in_parts(folder, n, **kw)
    try:
        when = as_of or read.default_as_of() or default_as_of(read.tables)
        result, active = parts.features_in_parts(read, when, CONFIG)
    finally:
        read.close()
    return read, when, result, active


def _same_as_whole(
    folder: Path, n: int, as_of: dt.date | None = None, lenient: bool = False
) -> None:
    read, when, result, _ = _in_parts(folder, n, as_of, lenient=lenient)
    tables, report = read_folder(folder, lenient=lenient)
    assert when == (as_of or default_as_of(tables))
    whole = compute_features(tables, when, CONFIG)
    assert_frame_equal(whole.frame, result.frame, check_exact=True)
    assert_frame_equal(whole.events, result.events, check_exact=True)
    assert whole.specs == result.specs
    assert whole.notes == result.notes
    assert report.notes == read.report.notes
    assert report.warnings == read.report.warnings
    assert report.tables == read.report.tables
    assert report.drops == read.report.drops


@pytest.mark.parametrize(("n", "chunk"), [(1, 10**9), (3, 7_000), (7, 25_000)])
def test_the_sample_gives_the_whole_table(
    sample_parquet: Path, n: int, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "CHUNK_ROWS", chunk)
    _same_as_whole(sample_parquet, n)
    _same_as_whole(sample_parquet, n, dt.date(2025, 9, 1))  # an as-of inside the data


def test_ids_out_of_order_and_shops_not_yet_open(
    sample_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Orders not sorted by txn_id (the index is searched through its sort), and
    shipments before their orders in the file."""
    monkeypatch.setattr(parts, "CHUNK_ROWS", 9_000)
    out = tmp_path / "shuffled"
    out.mkdir()
    for name in TABLES:
        frame = pl.read_parquet(sample_parquet / f"{name}.parquet")
        if name in ("transactions", "logistics"):
            frame = frame.sample(fraction=1.0, shuffle=True, seed=3)
        frame.write_parquet(out / f"{name}.parquet")
    _same_as_whole(out, 4)


@settings(**{**SETTINGS, "max_examples": 25})
@given(worlds(), st.integers(1, 4), st.integers(1, 6))
def test_random_worlds_give_the_whole_table(tables: DataTables, n: int, chunk: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = _write(Path(tmp) / "data", tables)
        old = parts.CHUNK_ROWS
        parts.CHUNK_ROWS = chunk
        try:
            try:
                read_folder(folder)
            except DataError as whole:
                with pytest.raises(DataError) as info:
                    _in_parts(folder, n)
                assert info.value.message == whole.message
                assert info.value.problems == whole.problems
                return
            _same_as_whole(folder, n, dt.date(2025, 1, 1))
        finally:
            parts.CHUNK_ROWS = old


# ---------------------------------------------------------------- problems


def _errors(folder: Path, n: int = 3, strict: bool = False) -> tuple[DataError, DataError]:
    with pytest.raises(DataError) as whole:
        read_folder(folder, strict=strict)
    with pytest.raises(DataError) as piecewise:
        _in_parts(folder, n, strict=strict)
    return whole.value, piecewise.value


def _same_errors(folder: Path, n: int = 3, strict: bool = False) -> DataError:
    whole, piecewise = _errors(folder, n, strict)
    assert piecewise.message == whole.message
    assert piecewise.hint == whole.hint
    assert [p.describe() for p in piecewise.problems] == [p.describe() for p in whole.problems]
    assert piecewise.counts == whole.counts
    assert piecewise.report.warnings == whole.report.warnings  # type: ignore[union-attr]
    return piecewise


def _tables(sample_parquet: Path) -> dict[str, pl.DataFrame]:
    return {n: pl.read_parquet(sample_parquet / f"{n}.parquet") for n in TABLES}


def _folder(tmp_path: Path, frames: dict[str, pl.DataFrame], fmt: str = "parquet") -> Path:
    out = tmp_path / "data"
    out.mkdir(exist_ok=True)
    for name, frame in frames.items():
        if fmt == "parquet":
            frame.write_parquet(out / f"{name}.parquet")
        else:
            frame.write_csv(out / f"{name}.csv")
    return out


def _set(frame: pl.DataFrame, rows: list[int], column: str, value: object) -> pl.DataFrame:
    at = pl.int_range(pl.len()).is_in(rows)
    dtype = frame.schema[column]
    return frame.with_columns(
        pl.when(at).then(pl.lit(value).cast(dtype)).otherwise(pl.col(column)).alias(column)
    )


@pytest.fixture
def small_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parts, "CHUNK_ROWS", 5_000)  # Parquet: rows a piece
    monkeypatch.setattr(ingest, "CHUNK_BYTES", 1 << 19)  # CSV: text a piece


FORMATS = pytest.mark.parametrize("fmt", ["parquet", "csv"])


@FORMATS
@pytest.mark.usefixtures("small_pieces")
def test_problems_across_pieces_are_the_whole_tables(
    sample_parquet: Path, tmp_path: Path, fmt: str
) -> None:
    """Keys repeated pieces apart, references to nothing, bad cells in many pieces
    (more than are shown), a shipment of an order that had a problem."""
    t = _tables(sample_parquet)
    txn = t["transactions"]
    first_id = txn.get_column("txn_id")[10]
    t["transactions"] = _set(
        _set(
            _set(_set(txn, [30_000], "txn_id", first_id), [12_345], "buyer_id", "NOBODY"),
            [20_000], "merchant_id", "\x1b[31mSHOP",
        ),
        list(range(100, 60_000, 2_000)), "amount", -5.0,
    )  # fmt: skip
    ship = t["logistics"]
    t["logistics"] = _set(
        _set(ship, [7, 9_999], "txn_id", "T-nowhere"),
        [40_000],
        "shipment_id",
        ship.get_column("shipment_id")[3],
    )
    found = _same_errors(_folder(tmp_path, t, fmt))
    rules = {p.rule for p in found.problems}
    assert {"duplicate_key", "dangling_reference", "domain"} <= rules
    assert found.counts[f"transactions.{fmt}"] > 20  # more than are shown: counted


@FORMATS
@pytest.mark.usefixtures("small_pieces")
def test_unlikely_rows_across_pieces_warn_and_stop_under_strict(
    sample_parquet: Path, tmp_path: Path, fmt: str
) -> None:
    """A person's first order before their signup, found in a later piece than
    their other orders; a parcel shipped before its order was placed."""
    t = _tables(sample_parquet)
    txn = t["transactions"]
    last = txn.height - 1
    buyer = txn.get_column("buyer_id")[last]
    t["transactions"] = _set(
        _set(txn, [last], "ts", dt.datetime(1990, 1, 1)),
        [5, 6], "due_date", dt.date(1980, 1, 1),
    )  # fmt: skip
    t["logistics"] = _set(t["logistics"], [17_000], "shipped_at", dt.datetime(1991, 1, 1))
    folder = _folder(tmp_path, t, fmt)
    read, _, _, _ = _in_parts(folder, 3)
    _, report = read_folder(folder)
    assert read.report.warnings == report.warnings
    assert {w.rule for w in report.warnings} >= {
        "order_before_signup",
        "due_before_purchase",
        "shipped_before_ordered",
    }
    moved = txn.get_column("txn_id")[last]
    signup = next(w for w in report.warnings if w.rule == "order_before_signup")
    assert signup.count >= 1 and buyer
    assert any(moved in e.expected for e in signup.examples) or signup.count > len(signup.examples)
    _same_errors(folder, strict=True)


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize(
    "case",
    ["not-parquet", "missing-column", "logistics-alone", "empty-orders", "list-key"],
)
def test_broken_files_as_the_whole_path_says(
    sample_parquet: Path, tmp_path: Path, case: str
) -> None:
    t = _tables(sample_parquet)
    folder = _folder(tmp_path, t)
    if case == "not-parquet":
        (folder / "transactions.parquet").write_bytes(b"PAR1 this is not parquet at all")
    elif case == "missing-column":
        t["logistics"].drop("txn_id").write_parquet(folder / "logistics.parquet")
    elif case == "logistics-alone":
        (folder / "transactions.parquet").unlink()
    elif case == "empty-orders":
        t["transactions"].clear().write_parquet(folder / "transactions.parquet")
    elif case == "list-key":
        txn = t["transactions"].with_columns(pl.concat_list("txn_id").alias("txn_id"))
        txn.write_parquet(folder / "transactions.parquet")
    try:
        tables, report = read_folder(folder)
    except DataError:
        _same_errors(folder)
        return
    read, when, result, _ = _in_parts(folder, 2)
    assert report.notes == read.report.notes
    assert_frame_equal(compute_features(tables, when, CONFIG).frame, result.frame)


def test_a_row_group_broken_midway_is_one_fatal_problem(
    sample_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parts, "CHUNK_ROWS", 5_000)
    folder = _folder(tmp_path, _tables(sample_parquet))
    path = folder / "transactions.parquet"
    pl.read_parquet(path).write_parquet(path, row_group_size=5_000, compression="uncompressed")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = b"\x00" * 4096
    path.write_bytes(bytes(data))
    whole, piecewise = _errors(folder)
    assert piecewise.report.fatal == whole.report.fatal  # type: ignore[union-attr]
    assert piecewise.counts.keys() == whole.counts.keys()


# ---------------------------------------------------------------- the commands


def test_build_in_parts_writes_the_same_scores(sample_parquet: Path, tmp_path: Path) -> None:
    for name, extra in (("whole", []), ("parts", ["--parts", "5"])):
        result = runner.invoke(
            app, ["build", str(sample_parquet), "--model", str(tmp_path / name), *extra]
        )
        assert result.exit_code == 0, result.output
    whole = pl.read_parquet(tmp_path / "whole" / "scores.parquet")
    split = pl.read_parquet(tmp_path / "parts" / "scores.parquet")
    assert_frame_equal(whole, split, check_exact=True)
    for name in ("features.parquet", "events.parquet", "points.parquet"):
        assert_frame_equal(
            pl.read_parquet(tmp_path / "whole" / name),
            pl.read_parquet(tmp_path / "parts" / name),
            check_exact=True,
        )
    scored = {
        name: runner.invoke(
            app,
            ["score", str(sample_parquet), "--model", str(tmp_path / "whole"), "-f", "csv",
             "--reasons", "2", *extra],
        )
        for name, extra in (("whole", []), ("parts", ["--parts", "2"]))
    }  # fmt: skip
    assert scored["parts"].exit_code == 0, scored["parts"].output
    assert scored["parts"].stdout == scored["whole"].stdout
    assert scored["parts"].stdout.count("\n") == whole.height + 1


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--entity", "merchant"], "shops"),
        (["--cluster", "local"], "pick one"),
        (["--label", "records"], "records"),
        (["--parts", "0"], "--parts"),
    ],
)
def test_what_parts_cannot_do_is_exit_2(
    sample_parquet: Path, tmp_path: Path, extra: list[str], says: str
) -> None:
    args = ["build", str(sample_parquet), "--model", str(tmp_path / "m"), "--parts", "2"]
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert not (tmp_path / "m").exists()


@pytest.mark.usefixtures("small_pieces")
def test_csv_gives_the_whole_table(tmp_path: Path) -> None:
    """CSV is read once, by ingest's reader; its pieces wait typed in the spool."""
    _same_as_whole(SAMPLE_DATA, 3)
    folder = tmp_path / "odd"
    folder.mkdir()
    for name in TABLES:  # CRLF line ends, blank lines, a quoted field across pieces
        lines = (SAMPLE_DATA / f"{name}.csv").read_text().splitlines()
        body = [lines[0]]
        for i, line in enumerate(lines[1:]):
            if name == "transactions" and i % 1_000 == 0:
                fields = line.split(",")
                fields[7] = f'"{fields[7]}"'  # category, quoted
                line = ",".join(fields)
            body.append(line if i % 997 else line + "\r\n")
        (folder / f"{name}.csv").write_bytes(("\r\n".join(body) + "\r\n").encode())
    _same_as_whole(folder, 2)


@pytest.mark.usefixtures("small_pieces")
@pytest.mark.parametrize("case", ["empty-file", "header-only", "quote-never-closed", "ragged"])
def test_broken_csv_as_the_whole_path_says(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for name in TABLES:
        (folder / f"{name}.csv").write_bytes((SAMPLE_DATA / f"{name}.csv").read_bytes())
    path = folder / "transactions.csv"
    lines = path.read_bytes().split(b"\n")
    if case == "empty-file":
        path.write_bytes(b"")
    elif case == "header-only":
        path.write_bytes(lines[0] + b"\n")
    elif case == "quote-never-closed":
        lines[40_000] = lines[40_000].replace(b",", b',"', 1)
        path.write_bytes(b"\n".join(lines))
    elif case == "ragged":
        lines[3] += b",extra"
        lines[50_000] = lines[50_000].rsplit(b",", 2)[0]
        path.write_bytes(b"\n".join(lines))
    try:
        tables, report = read_folder(folder)
    except DataError:
        _same_errors(folder)
        return
    read, when, result, _ = _in_parts(folder, 2)
    assert report.notes == read.report.notes
    assert report.tables == read.report.tables
    assert_frame_equal(compute_features(tables, when, CONFIG).frame, result.frame)


def test_a_killed_run_leaves_its_spool_to_the_next(spool_here: Path) -> None:
    """A run killed (its process gone) leaves its folder; the next run removes it."""
    dead = spool_here / f"trustscore-partitions-{parts._HOST}-999999999-x"
    dead.mkdir()
    (dead / "orders-0-0.arrow").write_bytes(b"")
    read = parts.read_in_parts(SAMPLE_DATA_PQ(spool_here), 2)
    read.close()
    assert not dead.exists()


def SAMPLE_DATA_PQ(where: Path) -> Path:
    """consumers alone, as Parquet: the smallest folder --parts reads."""
    out = where.parent / "consumers-only"
    out.mkdir(exist_ok=True)
    tables, _ = read_folder(SAMPLE_DATA)
    tables.consumers.write_parquet(out / "consumers.parquet")
    return out


@FORMATS
@pytest.mark.usefixtures("small_pieces")
def test_lenient_drops_what_the_whole_path_drops(
    sample_parquet: Path, tmp_path: Path, fmt: str
) -> None:
    """Bad cells, a repeated key, an order of nobody (its shipments then dangle),
    a shop owned by nobody (kept without its owner): the same rows dropped, the
    same counts and notes, the same features."""
    t = _tables(sample_parquet)
    txn = t["transactions"]
    t["consumers"] = _set(t["consumers"], [5, 3_000], "monthly_income", -1.0)
    t["merchants"] = _set(t["merchants"], [7], "owner_id", "NOBODY")
    t["transactions"] = _set(
        _set(
            _set(txn, [30_000], "txn_id", txn.get_column("txn_id")[10]),
            [12_345, 40_001], "buyer_id", "NOBODY",
        ),
        list(range(100, 60_000, 2_000)), "amount", -5.0,
    )  # fmt: skip
    t["logistics"] = _set(t["logistics"], [7, 9_999], "txn_id", "T-nowhere")
    folder = _folder(tmp_path, t, fmt)
    _same_as_whole(folder, 3, lenient=True)
    read, _, _, _ = _in_parts(folder, 3, lenient=True)
    dropped = read.report.drops.dropped
    assert dropped[(f"transactions.{fmt}", "dangling_reference")] >= 2  # and the dropped persons
    assert dropped[(f"logistics.{fmt}", "dangling_reference")] >= 2
    assert any(n.code == "owner_cleared" for n in read.report.notes)


@pytest.mark.usefixtures("small_pieces")
def test_lenient_never_drops_a_whole_table(sample_parquet: Path, tmp_path: Path) -> None:
    t = _tables(sample_parquet)
    t["logistics"] = t["logistics"].with_columns(pl.lit("T-nowhere").alias("txn_id"))
    folder = _folder(tmp_path, t)
    with pytest.raises(DataError) as whole_info:
        read_folder(folder, lenient=True)
    with pytest.raises(DataError) as parts_info:
        _in_parts(folder, 2, lenient=True)
    whole, piecewise = whole_info.value, parts_info.value
    assert piecewise.message == whole.message
    assert "--lenient would drop every row of logistics.parquet" in piecewise.message


def test_spool_where_asked_and_a_full_disk_is_exit_7(
    sample_parquet: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    where = tmp_path / "big-disk"
    where.mkdir()
    seen: list[list[str]] = []
    real = pl.DataFrame.write_ipc

    def watch(self: pl.DataFrame, file: object, **kw: object) -> None:
        seen.append(list(Path(str(file)).relative_to(where).parts))
        real(self, file, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pl.DataFrame, "write_ipc", watch)
    result = runner.invoke(
        app, ["features", str(sample_parquet), "--parts", "2", "--spool", str(where), "-f", "csv"]
    )
    assert result.exit_code == 0, result.output
    assert seen and all(p[0].startswith("trustscore-partitions-") for p in seen)
    assert list(where.iterdir()) == []  # removed once done

    def full(self: pl.DataFrame, file: object, **kw: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_ipc", full)
    model = tmp_path / "model"
    result = runner.invoke(
        app, ["build", str(sample_parquet), "--parts", "2", "--spool", str(where),
              "--model", str(model)],
    )  # fmt: skip
    assert result.exit_code == 7, result.output
    assert "No space left on device" in result.output and "--spool" in result.output
    assert "Traceback" not in result.output
    assert list(where.iterdir()) == [] and not model.exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--spool", "NOWHERE"], "not a folder"),
        (["--spool", "X"], "--parts"),
    ],
)
def test_spool_misused_is_exit_2(sample_parquet: Path, args: list[str], says: str) -> None:
    extra = ["--parts", "2"] if says != "--parts" else []
    result = runner.invoke(app, ["features", str(sample_parquet), *extra, *args])
    assert result.exit_code == 2, result.output
    assert says in result.output


@settings(**{**SETTINGS, "max_examples": 60})
@given(
    st.lists(st.text("AB\x1b0", max_size=4), unique=True, max_size=30),
    st.lists(st.text("AB\x1b0", max_size=4), max_size=30),
    st.booleans(),
)
def test_the_order_index_finds_what_a_lookup_finds(
    ids: list[str], wanted: list[str], by_text: bool
) -> None:
    """Every path of the shipments' search (hashes, or the text when hashes
    collide) against a plain lookup."""
    index = parts._OrderIndex(pl.Series("txn_id", ids, pl.String))
    if by_text:  # as when two ids share a hash
        index.by_text = True
        index.order = index.ids.arg_sort()
        index.sorted = index.ids.gather(index.order)
    frame = pl.DataFrame(
        {"\x00row": range(1, len(wanted) + 1), "txn_id": wanted},
        schema={"\x00row": pl.Int64, "txn_id": pl.String},
    )
    dangling, positions = index.dangling(frame)
    where = {v: i for i, v in enumerate(ids)}
    assert dangling.get_column("txn_id").to_list() == [w for w in wanted if w not in where]
    assert positions is not None
    assert positions.to_list() == [where.get(w) for w in wanted]


@pytest.mark.usefixtures("small_pieces")
def test_unlikely_rows_by_the_million_are_counted_not_kept(
    sample_parquet: Path, tmp_path: Path
) -> None:
    """A clock gone wrong in every shipment (and every bill): the same counts and
    examples as the whole table's, from at most MAX_SHOWN rows held per rule."""
    t = _tables(sample_parquet)
    t["logistics"] = t["logistics"].with_columns(
        (pl.col("shipped_at") - pl.duration(days=400)).alias("delivered_at")
    )
    t["transactions"] = t["transactions"].with_columns(
        pl.lit(dt.date(1990, 1, 1)).alias("due_date")
    )
    folder = _folder(tmp_path, t)
    read, _, _, _ = _in_parts(folder, 2)
    _, report = read_folder(folder)
    assert read.report.warnings == report.warnings
    assert max(w.count for w in report.warnings) > 20_000
    _same_errors(folder, strict=True)
