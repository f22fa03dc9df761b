"""Files as they come from the wild: RFC 4180 quoting, stray and unclosed quotes,
files that are not CSV text at all, blank lines, empty files, broken headers,
values outside the contract's ranges. Each through the real CLI: the exact exit
code, the file, line and column named, never a traceback."""

from __future__ import annotations

import gzip
import io
import tempfile
import zipfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from tests.conftest import CONSUMERS, LOGISTICS, MERCHANTS, TRANSACTIONS, FolderMaker
from trustscore.cli import app
from trustscore.errors import DataError
from trustscore.ingest import read_folder

runner = CliRunner()

HEADER = TRANSACTIONS.splitlines(keepends=True)[0]
T1, T2, T3 = TRANSACTIONS.splitlines(keepends=True)[1:]


def _run(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code != 1, result.output
    for text in (result.stdout, result.stderr):
        assert "Traceback" not in text
        assert "unexpected" not in text
    return result


def _refused(folder: Path, *args: str) -> list[str]:
    """validate (or the command given) exits 3; the stderr's lines."""
    result = _run(*(args or ("validate",)), str(folder))
    assert result.exit_code == 3, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ")
    return lines


# ------------------------------------------------------------ RFC 4180 quoting


def test_multiline_field_is_read_and_later_lines_keep_their_numbers(
    make_folder: FolderMaker,
) -> None:
    # T1's category spans lines 2-4; T2 (line 5) has a bad amount
    t1 = T1.replace("electronics,false", '"TV\nwall mount, ""55""\nblack",false')
    folder = make_folder(transactions=HEADER + t1 + T2.replace(",40,", ",4O,") + T3)
    lines = _refused(folder)
    assert (
        lines[0] == "error: '4O': a number > 0 and < 1e12 (transactions.csv, line 5, column amount)"
    )
    tables, report = read_folder(folder, lenient=True)
    t = tables.transactions
    assert t is not None
    # the broken row goes, the multi-line one stays, whole
    assert t["txn_id"].to_list() == ["T1", "T3"]
    assert t["category"][0] == 'TV\nwall mount, "55"\nblack'
    assert report.drops.dropped[("transactions.csv", "type")] == 1


def test_multiline_fields_and_crlf_shift_every_later_line(make_folder: FolderMaker) -> None:
    t1 = T1.replace("electronics,false", '"a\r\nb\r\nc",false')
    t3 = T3.replace("2025-07-01T09:30:00", "2025-07-01 9h30")
    text = (HEADER + t1 + T2.replace("fashion", '"fash\r\nion"') + t3).replace("\r\n", "\n")
    text = text.replace("\n", "\r\n")
    folder = make_folder(transactions=text)
    lines = _refused(folder)
    # T1 spans lines 2-4, T2 lines 5-6, T3 is line 7
    assert "(transactions.csv, line 7, column ts)" in lines[0]
    tables, _ = read_folder(folder, lenient=True)
    assert tables.transactions is not None
    assert tables.transactions["category"].to_list() == ["a\r\nb\r\nc", "fash\r\nion"]


def test_ragged_multiline_record_is_named_by_its_first_line(make_folder: FolderMaker) -> None:
    t2 = T2.replace("fashion,true", '"fash\nion",true,surplus')
    folder = make_folder(transactions=HEADER + T1 + t2 + T3)
    lines = _refused(folder)
    assert lines[0] == "error: 11 fields as in the header, found 12 (transactions.csv, line 3)"
    tables, report = read_folder(folder, lenient=True)
    assert tables.transactions is not None
    assert tables.transactions["txn_id"].to_list() == ["T1", "T3"]
    assert report.drops.dropped[("transactions.csv", "ragged")] == 1


@pytest.mark.parametrize(
    ("cell", "read"),
    [
        ('TV 55" screen', 'TV 55" screen'),
        ('55" and 65" TVs', '55" and 65" TVs'),
        ('5"', '5"'),
        ('"quoted" then text', "quoted then text"),
        ('"a ""b"" c"', 'a "b" c'),
    ],
)
def test_a_quote_that_does_not_start_a_field_is_text(
    cell: str, read: str, make_folder: FolderMaker
) -> None:
    t1 = T1.replace("electronics,false", f"{cell},false")
    folder = make_folder(transactions=HEADER + t1 + T2 + T3.replace("refunded", "lost"))
    lines = _refused(folder)
    # the stray quote shifts nothing: the next problem is where it is
    assert "(transactions.csv, line 4, column status)" in lines[0]
    tables, _ = read_folder(folder, lenient=True)
    assert tables.transactions is not None
    assert tables.transactions["category"][0] == read


def test_stray_quote_in_a_valid_folder_passes(make_folder: FolderMaker) -> None:
    folder = make_folder(transactions=HEADER + T1.replace("electronics,", 'TV 55" screen,') + T2)
    assert _run("validate", str(folder)).exit_code == 0


@pytest.mark.parametrize("lenient", [False, True])
def test_unterminated_quote_names_the_line_it_opened(
    lenient: bool, make_folder: FolderMaker, tmp_path: Path
) -> None:
    t2 = T2.replace("fashion,true", '"fashion,true')
    folder = make_folder(transactions=HEADER + T1 + t2 + T3 + T3.replace("T3", "T4"))
    if lenient:
        lines = _refused(folder, "build", "--lenient", "--out", str(tmp_path / "m"))
    else:
        lines = _refused(folder)
    assert lines[0].startswith("error: a closing quote")
    assert lines[0].endswith("(transactions.csv, line 3, column category)")
    if lenient:  # the rows cannot be dropped: the hint does not say they can
        assert any("--lenient drops bad rows, never a whole table" in line for line in lines)
    assert not (tmp_path / "m").exists()


def test_unterminated_quote_after_a_multiline_field(make_folder: FolderMaker) -> None:
    t1 = T1.replace("electronics,false", '"multi\nline",false')
    t3 = T3.replace("electronics,", '"open,')
    lines = _refused(make_folder(transactions=HEADER + t1 + T2 + t3))
    assert lines[0].endswith("(transactions.csv, line 5, column category)")


# ------------------------------------------------------------ not CSV text

NOT_CSV = {
    "gzip": (gzip.compress(TRANSACTIONS.encode()), "gzip-compressed"),
    "utf-16 with BOM": (TRANSACTIONS.encode("utf-16"), "UTF-16: save it as UTF-8"),
    "utf-16-be with BOM": (b"\xfe\xff" + TRANSACTIONS.encode("utf-16-be"), "UTF-16"),
    "utf-16 without BOM": (TRANSACTIONS.encode("utf-16-le"), "UTF-16: save it as UTF-8"),
    "utf-16-be without BOM": (TRANSACTIONS.encode("utf-16-be"), "UTF-16"),
    "utf-32": (TRANSACTIONS.encode("utf-32"), "UTF-32"),
    "NUL bytes": (b"\x00" * 4096, "NUL bytes"),
    "binary": (bytes(range(256)) * 64, "binary"),
    "binary without NUL": (bytes(range(1, 32)) * 200, "binary"),
    "Latin-1 text": ("id,café,naïve,été\n".encode("latin-1") * 50, "save it as UTF-8"),
    "CR line ends": (TRANSACTIONS.replace("\n", "\r").encode(), "CR alone"),
}


@pytest.mark.parametrize("case", list(NOT_CSV))
def test_a_file_that_is_not_csv_text_is_named(
    case: str, make_folder: FolderMaker, tmp_path: Path
) -> None:
    data, what = NOT_CSV[case]
    folder = make_folder(transactions=None, raw={"transactions.csv": data})
    lines = _refused(folder)
    assert what in lines[0]
    assert lines[0].endswith("(transactions.csv)")
    # --lenient drops rows, never a table: the model is not built without it
    lines = _refused(folder, "build", "--lenient", "--out", str(tmp_path / "m"))
    assert what in lines[0]


def test_zip_and_xlsx_are_named(make_folder: FolderMaker) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("consumers.csv", CONSUMERS)
    folder = make_folder(consumers=None, raw={"consumers.csv": buf.getvalue()})
    assert "zip archive or .xlsx workbook" in _refused(folder)[0]


# ------------------------------------------------------------ blank lines


def test_blank_lines_are_skipped_and_counted_nowhere(make_folder: FolderMaker) -> None:
    text = HEADER + "\n" + T1 + "   \n\t\n" + T2 + "\n\n" + T3 + "\n \n"
    folder = make_folder(transactions=text)
    result = _run("validate", str(folder), "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert "transactions,transactions.csv,3,0" in result.stdout
    crlf = make_folder(transactions=text.replace("\n", "\r\n"))
    assert "transactions,transactions.csv,3,0" in _run("validate", str(crlf), "-f", "csv").stdout


def test_line_numbers_after_blank_lines(make_folder: FolderMaker) -> None:
    text = HEADER + "\n" + T1 + "  \n\n" + T2 + T3.replace("P3", "") + "\n"
    lines = _refused(make_folder(transactions=text))
    # header 1, blank 2, T1 3, blanks 4-5, T2 6, T3 7
    assert lines[0] == "error: a value (required) (transactions.csv, line 7, column buyer_id)"


def test_lines_of_commas_are_rows_not_blank(make_folder: FolderMaker) -> None:
    lines = _refused(make_folder(transactions=HEADER + T1 + ",,,,,,,,,,\n" + T2))
    assert "(transactions.csv, line 3, column txn_id)" in lines[0]


# ------------------------------------------------------------ empty files


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "consumers.csv is empty"),
        (b"\xef\xbb\xbf", "consumers.csv is empty"),
        (b"\n\n  \n", "consumers.csv is empty"),
        (CONSUMERS.splitlines()[0].encode(), "consumers.csv has no rows"),
        (
            b"\xef\xbb\xbf" + CONSUMERS.splitlines()[0].encode() + b"\r\n\r\n",
            "consumers.csv has no rows",
        ),
    ],
)
def test_consumers_without_rows_is_refused(
    data: bytes, message: str, make_folder: FolderMaker
) -> None:
    folder = make_folder(consumers=None, raw={"consumers.csv": data})
    lines = _refused(folder)
    assert lines[0].startswith(f"error: {message} (")


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", LOGISTICS.splitlines()[0].encode()])
def test_an_optional_table_without_rows_is_an_empty_table(
    data: bytes, make_folder: FolderMaker
) -> None:
    folder = make_folder(logistics=None, raw={"logistics.csv": data})
    result = _run("validate", str(folder), "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert "logistics,logistics.csv,0,0" in result.stdout
    if not data.strip(b"\xef\xbb\xbf"):
        assert "note: logistics.csv is empty: read as a table with no rows" in result.stderr
    tables, _ = read_folder(folder)
    assert tables.logistics is not None and tables.logistics.height == 0


# ------------------------------------------------------------ headers: --lenient never drops a column

HEADER_PROBLEMS = {
    "duplicate column": (
        TRANSACTIONS.replace("category,counterfeit", "status,counterfeit", 1),
        "line 1, column status",
        "each column named once",
    ),
    "missing required column": (
        TRANSACTIONS.replace("buyer_id", "buyer", 1),
        "line 1, column buyer_id",
        "a required column 'buyer_id'",
    ),
    "empty column name": (
        TRANSACTIONS.replace(",category,", ",,", 1),
        "line 1",
        "a name for every column (column 8 of 11 has none)",
    ),
    # a blank first line is skipped like any blank line; a header of commas is none
    "empty header": (
        ",,,,,,,,,,\n" + TRANSACTIONS.split("\n", 1)[1],
        "line 1",
        "a name for every column (column 1 of 11 has none)",
    ),
    "unclosed quote in the header": (
        TRANSACTIONS.replace("txn_id", '"txn_id', 1),
        "line 1",
        "a header row on one line",
    ),
}


@pytest.mark.parametrize("case", list(HEADER_PROBLEMS))
@pytest.mark.parametrize("command", ["validate", "build --lenient", "features --lenient"])
def test_header_problems_stop_even_lenient(
    case: str, command: str, make_folder: FolderMaker, tmp_path: Path
) -> None:
    text, where, expected = HEADER_PROBLEMS[case]
    folder = make_folder(transactions=text)
    args = command.split()
    if args[0] == "build":
        args += ["--out", str(tmp_path / "m")]
    lines = _refused(folder, *args)
    assert expected in lines[0]
    assert lines[0].endswith(f"(transactions.csv, {where})")
    assert not (tmp_path / "m").exists()


def test_control_characters_in_a_column_name_are_refused_and_not_printed(
    make_folder: FolderMaker,
) -> None:
    consumers = CONSUMERS.replace("defaulted\n", "defaulted,x\x1b[2Jy\n").replace(",0\n", ",0,1\n")
    lines = _refused(make_folder(consumers=consumers))
    assert lines[0] == (
        "error: 'x\\x1b[2Jy': a column name without control characters (column 9) "
        "(consumers.csv, line 1)"
    )
    assert "\x1b" not in "\n".join(lines)


# ------------------------------------------------------------ the contract's ranges

RANGES = {
    "income 1e39": ("consumers", CONSUMERS.replace(",3000,", ",1e39,"), 2, "monthly_income"),
    "income 1e12": (
        "consumers",
        CONSUMERS.replace(",3000,", ",1000000000000,"),
        2,
        "monthly_income",
    ),
    "amount 1e32": ("transactions", TRANSACTIONS.replace("120.50", "1e32"), 2, "amount"),
    "amount 1e400": ("transactions", TRANSACTIONS.replace("120.50", "1e400"), 2, "amount"),
    "amount nan": ("transactions", TRANSACTIONS.replace("120.50", "NaN"), 2, "amount"),
    "timestamp in 9999": (
        "transactions",
        TRANSACTIONS.replace("2025-03-01T12:00:00", "9999-12-31T23:59:59"),
        3,
        "ts",
    ),
    "timestamp with offset in 9999": (
        "transactions",
        TRANSACTIONS.replace("2025-03-01T12:00:00", "9999-12-31 23:59:59+01:00"),
        3,
        "ts",
    ),
    "timestamp in 1899": (
        "logistics",
        LOGISTICS.replace("2025-01-11T08:00:00", "1899-12-31T23:59:59"),
        2,
        "shipped_at",
    ),
    "date in 1899": (
        "consumers",
        CONSUMERS.replace("2020-06-01", "1899-12-31"),
        2,
        "address_since",
    ),
    "date in 2200": ("merchants", MERCHANTS.replace("2024-03-01", "2200-01-01"), 3, "opened_date"),
    "date in year 1": (
        "transactions",
        TRANSACTIONS.replace("2025-02-09", "0001-01-01"),
        2,
        "due_date",
    ),
}


@pytest.mark.parametrize("case", list(RANGES))
def test_values_outside_the_ranges_are_problems(case: str, make_folder: FolderMaker) -> None:
    table, text, line, column = RANGES[case]
    lines = _refused(make_folder(**{table: text}))
    assert lines[0].endswith(f"({table}.csv, line {line}, column {column})"), lines[0]
    assert "from 1900-01-01 to 2199-12-31" in lines[0] or "< 1e12" in lines[0]


def test_range_edges_are_allowed(make_folder: FolderMaker) -> None:
    consumers = CONSUMERS.replace(",3000,", ",999999999999.99,").replace("2020-06-01", "1900-01-01")
    transactions = TRANSACTIONS.replace("2025-03-01T12:00:00", "2199-12-31T23:59:59")
    folder = make_folder(consumers=consumers, transactions=transactions)
    assert _run("validate", str(folder)).exit_code == 0


@pytest.mark.parametrize("value", ["1e13", "-1e12", "nan", "inf", "-Infinity"])
def test_numeric_passthrough_is_bounded(value: str, make_folder: FolderMaker) -> None:
    consumers = CONSUMERS.replace("defaulted\n", "defaulted,savings\n")
    consumers = consumers.replace(",0\n", ",0,12.5\n").replace(",1\n", f",1,{value}\n")
    consumers = consumers.replace(",,,\n", ",,,,\n")
    lines = _refused(make_folder(consumers=consumers))
    assert lines[0] == (
        f"error: {value!r}: a number > -1e12 and < 1e12 (the column holds numbers) "
        "(consumers.csv, line 3, column savings)"
    )


def test_text_passthrough_is_not_bounded(make_folder: FolderMaker) -> None:
    consumers = CONSUMERS.replace("defaulted\n", "defaulted,note\n")
    consumers = consumers.replace(",0\n", ",0,1e13\n").replace(",1\n", ",1,[bold]x[/x]\n")
    consumers = consumers.replace(",,,\n", ",,,,\n")
    tables, _ = read_folder(make_folder(consumers=consumers))
    assert tables.consumers["note"].to_list() == ["1e13", "[bold]x[/x]", None]


# ------------------------------------------------------------ odd text is shown as text


def test_values_with_markup_and_escape_codes_are_shown_escaped(make_folder: FolderMaker) -> None:
    consumers = CONSUMERS.replace("2023-01-05", "\x1b[2J[bold]x[/x]")
    lines = _refused(make_folder(consumers=consumers))
    assert lines[0].startswith("error: '\\x1b[2J[bold]x[/x]': a date")
    assert "\x1b" not in "\n".join(lines)


def test_a_quoted_empty_string_is_empty(make_folder: FolderMaker) -> None:
    consumers = CONSUMERS.replace("P3,", '"",').replace("student", '""')
    lines = _refused(make_folder(consumers=consumers))
    assert lines[0] == "error: a value (required) (consumers.csv, line 4, column person_id)"
    tables, _ = read_folder(make_folder(consumers=CONSUMERS.replace(",student,", ',"",')))
    assert tables.consumers["employment"].to_list() == ["employed", None, None]


# ------------------------------------------------------------ pieces end at record ends


@pytest.mark.parametrize("chunk", [16, 40, 64, 100, 1000])
def test_piece_boundaries_inside_quoted_fields_change_nothing(
    chunk: int, make_folder: FolderMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustscore.ingest as ingest

    t1 = T1.replace("electronics,false", '"a\nlong, quoted\n\n field with ""quotes""",false')
    t2 = T2.replace("fashion", 'TV 55" screen')
    t3 = T3.replace("2025-07-01T09:30:00", "not a time")
    text = HEADER + "\n" + t1 + t2 + "\n  \n" + t3 + T3.replace("T3", "T4")
    folder = make_folder(transactions=text)
    with pytest.raises(DataError) as whole:
        read_folder(folder)
    whole_tables, _ = read_folder(folder, lenient=True)
    monkeypatch.setattr(ingest, "CHUNK_BYTES", chunk)
    with pytest.raises(DataError) as pieces:
        read_folder(folder)
    tables, _ = read_folder(folder, lenient=True)
    assert [p.describe() for p in pieces.value.problems] == [
        p.describe() for p in whole.value.problems
    ]
    # header 1, blank 2, T1 3-6, T2 7, blanks 8-9, the bad time 10
    assert pieces.value.problems[0].line == 10
    assert tables.transactions is not None and whole_tables.transactions is not None
    assert tables.transactions.equals(whole_tables.transactions)
    assert tables.transactions["txn_id"].to_list() == ["T1", "T2", "T4"]


def test_an_unclosed_quote_is_found_across_pieces(
    make_folder: FolderMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustscore.ingest as ingest

    monkeypatch.setattr(ingest, "CHUNK_BYTES", 50)
    text = HEADER + T1 + T2.replace("fashion", '"fashion') + T3 * 5
    with pytest.raises(DataError) as info:
        read_folder(make_folder(transactions=text))
    assert [(p.line, p.rule) for p in info.value.problems] == [(3, "unterminated_quote")]


# ------------------------------------------------------------ properties

# a valid folder big enough for build to train on (20 of each outcome)
_N = 40
BASE_CONSUMERS = (
    "person_id,signup_date,identity_verified,phone_verified,address_since,employment,"
    "monthly_income,defaulted,savings,region\n"
    + "".join(
        f"P{i:03d},2023-{i % 12 + 1:02d}-05,{'true' if i % 3 else 'false'},true,2020-06-01,"
        f"employed,{1000 + 37 * i},{i % 2},{i * 10.5},{'north' if i % 4 else 'south'}\n"
        for i in range(_N)
    )
)
BASE_TRANSACTIONS = HEADER + "".join(
    f"T{i:03d}{j},P{i:03d},M{j + 1},2025-0{j + 1}-1{i % 10}T10:00:00,{10 + i},completed,"
    f"credit,books,false,2025-0{j + 2}-01,{f'2025-0{j + 2}-03' if i % 3 else ''}\n"
    for i in range(_N)
    for j in range(2)
)
BASE_MERCHANTS = MERCHANTS.replace("P2", "P002")

TOKENS = [
    b'"',
    b'""',
    b",",
    b"\n",
    b"\r",
    b"\r\n",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xff",
    b"\x1f",
    b" ",
    b"\t",
    b'"\n"',
    b'","',
    b"1e39",
    b"-1e400",
    b"1e12",
    b"nan",
    b"-inf",
    b"9999-12-31T23:59:59",
    b"0001-01-01",
    b"2025-02-30",
    b"+99999-01-01",
    b"2025-03-01 14:05:00+14:00",
    b"[bold]",
    b"[/x]",
    b"\x1b[2J",
    b"\xe2\x80\xae",  # right-to-left override
    b"P001",
    b"T0001",
]
_edit = st.tuples(
    st.floats(0, 1),
    st.one_of(st.sampled_from(TOKENS), st.binary(max_size=6)),
    st.booleans(),  # replace the byte there rather than insert
)


def _mutate(data: bytes, edits: list[tuple[float, bytes, bool]]) -> bytes:
    for at, token, replace in edits:
        i = int(at * len(data))
        data = data[:i] + token + data[i + (1 if replace else 0) :]
    return data


def _write(folder: Path, consumers: bytes, transactions: bytes) -> Path:
    (folder / "consumers.csv").write_bytes(consumers)
    (folder / "merchants.csv").write_text(BASE_MERCHANTS, encoding="utf-8")
    (folder / "transactions.csv").write_bytes(transactions)
    return folder


def _never_crashes(consumers: bytes, transactions: bytes, *commands: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _commands(_write(Path(tmp), consumers, transactions), commands)


def _commands(folder: Path, commands: tuple[str, ...]) -> None:
    for command in commands:
        args = [*command.split(), str(folder)]
        if args[0] == "build":
            args += ["--out", str(folder / "model"), "--force"]
        result = runner.invoke(app, args)
        assert result.exit_code in (0, 2, 3), (args, result.output)
        assert "Traceback" not in result.output
        assert "unexpected" not in result.stderr
        assert "\x1b" not in result.output, "an escape code from the data reached the terminal"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    edits=st.lists(_edit, min_size=1, max_size=6),
    target=st.sampled_from(["consumers", "transactions", "both"]),
)
def test_malformed_csv_never_crashes(edits: list[tuple[float, bytes, bool]], target: str) -> None:
    consumers, transactions = BASE_CONSUMERS.encode(), BASE_TRANSACTIONS.encode()
    if target in ("consumers", "both"):
        consumers = _mutate(consumers, edits)
    if target in ("transactions", "both"):
        transactions = _mutate(transactions, edits[::-1])
    _never_crashes(consumers, transactions, "validate", "build --lenient")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    data=st.binary(max_size=300),
    header=st.booleans(),
    target=st.sampled_from(["consumers", "transactions"]),
)
def test_arbitrary_bytes_never_crash(data: bytes, header: bool, target: str) -> None:
    consumers, transactions = BASE_CONSUMERS.encode(), BASE_TRANSACTIONS.encode()
    if target == "consumers":
        consumers = (BASE_CONSUMERS.splitlines(keepends=True)[0].encode() if header else b"") + data
    else:
        transactions = (HEADER.encode() if header else b"") + data
    _never_crashes(consumers, transactions, "validate", "build")


def test_the_property_base_folder_builds(tmp_path: Path) -> None:
    """The properties start from a folder build accepts, so they reach the model."""
    folder = _write(tmp_path, BASE_CONSUMERS.encode(), BASE_TRANSACTIONS.encode())
    result = _run("build", str(folder), "--out", str(tmp_path / "m"))
    assert result.exit_code == 0, result.stderr
    frame = pl.read_csv(folder / "consumers.csv")
    assert frame.height == _N


@pytest.mark.parametrize("first", ["x^abc", "x\u00daz"])
def test_a_first_field_that_looks_compressed_is_text(first: str, tmp_path: Path) -> None:
    """Polars takes bytes starting "x^" (zlib) for compressed data; ingest reads them as
    text, and line numbers stay right."""
    (tmp_path / "consumers.csv").write_text(
        f"person_id,defaulted\n{first},0\nB,7\n", encoding="utf-8"
    )
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 3, result.output
    assert "line 3, column defaulted" in result.stderr
    assert "line 2" not in result.stderr
