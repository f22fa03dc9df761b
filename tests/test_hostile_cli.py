"""Hostile command lines: dates and numbers at and past the contract's ends give
a usage error (exit 2) in one line, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from trustscore.cli import app

runner = CliRunner()


@pytest.mark.parametrize("as_of", ["0001-01-01", "1899-12-31", "2200-01-02", "9999-12-31"])
@pytest.mark.parametrize("command", ["features", "build", "score"])
def test_as_of_outside_the_contract(
    command: str, as_of: str, make_folder: object, tmp_path: Path
) -> None:
    folder = make_folder()  # type: ignore[operator]
    args = {
        "features": ["features", str(folder)],
        "build": ["build", str(folder), "--out", str(tmp_path / "m")],
        "score": ["score", str(folder), "--model", str(tmp_path / "none")],
    }[command]
    result = runner.invoke(app, [*args, "--as-of", as_of])
    expected = 5 if command == "score" else 2  # score looks for its model first
    assert result.exit_code == expected, result.stderr
    assert "Traceback" not in result.stderr
    if expected == 2:
        assert "outside the dates the contract allows" in result.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("as_of", ["1900-01-01", "2200-01-01"])
def test_as_of_at_the_contract_ends(as_of: str, make_folder: object) -> None:
    folder = make_folder()  # type: ignore[operator]
    result = runner.invoke(app, ["features", str(folder), "--as-of", as_of, "-f", "csv"])
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("seed", ["-1", "4294967296", "1e3", "x"])
def test_seed_outside_its_range(seed: str, make_folder: object, tmp_path: Path) -> None:
    folder = make_folder()  # type: ignore[operator]
    result = runner.invoke(
        app, ["build", str(folder), "--out", str(tmp_path / "m"), "--seed", seed]
    )
    assert result.exit_code == 2
    assert not (tmp_path / "m").exists()


def test_a_tiny_income_is_no_income_to_divide_by(tmp_path: Path) -> None:
    # 1e-300 passes the contract (>= 0); spend / income would be inf and crash XGBoost
    from trustscore.sample import generate

    folder = tmp_path / "d"
    generate(folder, persons=300, seed=1)
    lines = (folder / "consumers.csv").read_text().splitlines()
    header = lines[0].split(",")
    at = header.index("monthly_income")
    for i in (1, 2, 3):
        cells = lines[i].split(",")
        cells[at] = ["1e-300", "5e-324", "0.000001"][i - 1]
        lines[i] = ",".join(cells)
    (folder / "consumers.csv").write_text("\n".join(lines) + "\n")
    result = runner.invoke(
        app, ["build", str(folder), "--model", str(tmp_path / "m"), "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize("table", ["consumers.csv", "transactions.csv", "logistics.csv"])
@pytest.mark.parametrize("kind", ["folder", "device", "dangling link"])
def test_a_table_that_is_not_a_file(
    table: str, kind: str, make_folder: object, tmp_path: Path
) -> None:
    # never mistaken for an absent table, never read forever, never a crash
    folder = make_folder()  # type: ignore[operator]
    path = folder / table
    path.unlink()
    if kind == "folder":
        path.mkdir()
    elif kind == "device":
        path.symlink_to("/dev/zero")
    else:
        path.symlink_to(tmp_path / "nowhere.csv")
    for command in (["validate", str(folder)], ["features", str(folder), "-f", "csv"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 3, result.stderr
        assert table in result.stderr.splitlines()[-2]
        assert "Traceback" not in result.stderr


def test_output_never_replaces_an_input_table_or_a_model_file(
    make_folder: object, tmp_path: Path
) -> None:
    folder = make_folder()  # type: ignore[operator]
    before = (folder / "transactions.csv").read_bytes()
    result = runner.invoke(app, ["features", str(folder), "-o", str(folder / "transactions.csv")])
    assert result.exit_code == 2
    assert "would replace a table" in result.stderr
    assert (folder / "transactions.csv").read_bytes() == before
    model = tmp_path / "m"
    from trustscore.cli import check_output
    from trustscore.errors import UsageError

    model.mkdir()
    (model / "manifest.json").write_text('{"format": "trustscore-model-folder"}')
    with pytest.raises(UsageError, match="inside a model folder"):
        check_output(model / "scores.parquet")


def _sample(tmp_path: Path, seed: int = 4) -> Path:
    from trustscore.sample import generate

    folder = tmp_path / f"d{seed}"
    generate(folder, persons=300, seed=seed)
    return folder


def _set_cell(path: Path, line: int, column: int, value: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    cells = lines[line - 1].split(b",")
    cells[column] = value
    lines[line - 1] = b",".join(cells)
    path.write_bytes(b"\n".join(lines))


def test_an_unclosed_quote_never_swallows_records(tmp_path: Path) -> None:
    # the quote opened on line 5 would otherwise run on to the stray one on
    # line 40 and eat the 35 records between, with every command saying 0
    folder = _sample(tmp_path)
    _set_cell(folder / "transactions.csv", 5, 7, b'"oops')
    _set_cell(folder / "transactions.csv", 40, 7, b'TV 55" screen')
    for args in (["validate", str(folder)], ["features", str(folder), "--lenient", "-f", "csv"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 3, result.stderr
        assert "transactions.csv, line 5, column category" in result.stderr


def test_nul_bytes_past_the_first_bytes_are_binary_too(tmp_path: Path) -> None:
    folder = _sample(tmp_path)
    _set_cell(folder / "transactions.csv", 3001, 7, b"gro\x00cery")
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 3
    assert "NUL bytes" in result.stderr and "line 3001" in result.stderr


def test_lenient_never_drops_a_whole_table(tmp_path: Path) -> None:
    folder = _sample(tmp_path, seed=1)
    path = folder / "consumers.csv"
    lines = path.read_text().splitlines()
    at = lines[0].split(",").index("monthly_income")
    for i in range(1, len(lines)):
        cells = lines[i].split(",")
        cells[at] = "N/A"
        lines[i] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["build", str(folder), "--lenient", "--model", str(tmp_path / "m")])
    assert result.exit_code == 3
    assert "would drop every row of consumers.csv" in result.stderr
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "table, was, now",
    [
        ("consumers.csv", "monthly_income", "Monthly_Income"),
        ("consumers.csv", "defaulted", "defaulted "),
        ("consumers.csv", "person_id", "Person ID"),
        ("transactions.csv", "buyer_id", "Buyer_ID"),
    ],
)
def test_a_contract_column_spelled_otherwise(
    table: str, was: str, now: str, tmp_path: Path
) -> None:
    # it would become a passthrough feature (or be ignored) and the contract's
    # column silently absent: the label lost, or the income in 'identity'
    folder = _sample(tmp_path, seed=2)
    path = folder / table
    lines = path.read_text().split("\n")
    lines[0] = ",".join(now if h == was else h for h in lines[0].split(","))
    path.write_text("\n".join(lines))
    for args in (["validate", str(folder)], ["features", str(folder), "--lenient"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 3, result.stderr
        assert f"the contract's column name {was!r}" in result.stderr


def test_an_id_of_spaces_is_no_id(make_folder: object) -> None:
    folder = make_folder(  # type: ignore[operator]
        consumers='person_id,defaulted\nA,0\n"   ",1\n\t ,0\nB,\n',
        merchants=None,
        transactions=None,
        logistics=None,
    )
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 3
    assert "line 3, column person_id" in result.stderr
    assert "line 4, column person_id" in result.stderr


def test_sample_into_a_file(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("mine")
    result = runner.invoke(app, ["sample", str(tmp_path / "f.csv"), "-n", "10"])
    assert result.exit_code == 2
    assert (tmp_path / "f.csv").read_text() == "mine"


def test_text_where_the_model_learned_numbers(tmp_path: Path) -> None:
    # validate passes it (a passthrough column may be text); score cannot use it
    rows = [f"P{i},2024-01-0{1 + i % 9},{(i * 37) % 100}.5,{int(i % 5 == 0)}" for i in range(300)]
    learn, other = tmp_path / "learn", tmp_path / "other"
    for folder in (learn, other):
        folder.mkdir()
    header = "person_id,signup_date,score_x,defaulted\n"
    (learn / "consumers.csv").write_text(header + "\n".join(rows) + "\n")
    rows[3] = rows[3].replace(rows[3].split(",")[2], "abc")
    (other / "consumers.csv").write_text(header + "\n".join(rows) + "\n")
    model = tmp_path / "m"
    built = runner.invoke(app, ["build", str(learn), "--model", str(model), "-f", "json"])
    assert built.exit_code == 0, built.stderr
    result = runner.invoke(app, ["score", str(other), "--model", str(model), "-f", "csv"])
    assert result.exit_code == 3
    assert "'score_x' holds text ('abc')" in result.stderr


def test_blank_lines_before_the_header_are_skipped(make_folder: object) -> None:
    folder = make_folder(  # type: ignore[operator]
        consumers="\n  \r\nperson_id,signup_date,defaulted\nA1,2025-02-30,0\nA2,2025-01-01,1\n",
        merchants=None,
        transactions=None,
        logistics=None,
    )
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 3
    assert "(consumers.csv, line 4, column signup_date)" in result.stderr


def test_compressed_output_names_are_refused(make_folder: object, tmp_path: Path) -> None:
    folder = make_folder()  # type: ignore[operator]
    result = runner.invoke(app, ["features", str(folder), "-o", str(tmp_path / "f.csv.gz")])
    assert result.exit_code == 2
    assert "does not compress" in result.stderr
    assert not (tmp_path / "f.csv.gz").exists()


def test_a_config_naming_no_column_says_so(make_folder: object, tmp_path: Path) -> None:
    folder = make_folder()  # type: ignore[operator]
    config = tmp_path / "c.toml"
    config.write_text('[features.passthrough_dimensions]\nsavngs = "capacity"\n')
    result = runner.invoke(app, ["features", str(folder), "--config", str(config), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert "names 'savngs', which is not an extra column" in result.stderr


@pytest.mark.parametrize("sep, name", [("\t", "tabs"), (";", "semicolons")])
def test_another_separator_is_named(sep: str, name: str, make_folder: object) -> None:
    folder = make_folder(  # type: ignore[operator]
        consumers=f"person_id{sep}defaulted\nA{sep}0\n",
        merchants=None,
        transactions=None,
        logistics=None,
    )
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 3
    assert f"not {name}" in result.stderr
