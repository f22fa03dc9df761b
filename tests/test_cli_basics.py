"""The command line as a whole: help for every command, version, formats, exit codes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import FolderMaker
from trustscore import __version__
from trustscore.cli import app
from trustscore.formats import Format, escape_formulas, resolve, write_frame

runner = CliRunner()


def test_every_command_has_help() -> None:
    commands = {c.name or c.callback.__name__: c for c in app.registered_commands if c.callback}
    assert {"sample", "validate"} <= set(commands)
    for name, command in commands.items():
        doc = (command.callback.__doc__ or "").strip() if command.callback else ""
        assert len(doc) > 20, f"{name} needs a help text"
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, name
        assert doc.splitlines()[0][:30] in " ".join(result.stdout.split()), name


def test_version_and_module_entry() -> None:
    assert runner.invoke(app, ["--version"]).stdout == f"trustscore {__version__}\n"
    done = subprocess.run(
        [sys.executable, "-m", "trustscore", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.strip() == f"trustscore {__version__}"


def test_usage_error_exits_2() -> None:
    result = runner.invoke(app, ["validate", "--format", "xml", "x"])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_format_resolution() -> None:
    assert resolve(None, None, is_terminal=True) is Format.TABLE
    assert resolve(None, None, is_terminal=False) is Format.CSV
    assert resolve(None, Path("x.parquet"), is_terminal=True) is Format.PARQUET
    with pytest.raises(Exception, match="parquet needs --output"):
        resolve(Format.PARQUET, None, is_terminal=False)


def test_safe_csv_escapes_text_not_numbers() -> None:
    frame = pl.DataFrame({"name": ["=cmd()", "+1", "-x", "@a", "ok"], "n": [-1, 2, 3, 4, 5]})
    out = escape_formulas(frame)
    assert out["name"].to_list() == ["'=cmd()", "'+1", "'-x", "'@a", "ok"]
    assert out["n"].to_list() == [-1, 2, 3, 4, 5]


def test_each_writer(tmp_path: Path) -> None:
    frame = pl.DataFrame({"a": ["x", "y"], "b": [1.5, None]})
    for fmt in (Format.CSV, Format.JSON, Format.NDJSON, Format.PARQUET):
        buf = io.BytesIO()
        write_frame(frame, fmt, buf)
        data = buf.getvalue()
        if fmt is Format.CSV:
            assert data == b"a,b\nx,1.5\ny,\n"
        elif fmt is Format.JSON:
            assert json.loads(data) == [{"a": "x", "b": 1.5}, {"a": "y", "b": None}]
        elif fmt is Format.NDJSON:
            assert [json.loads(x) for x in data.splitlines()] == json.loads(
                '[{"a": "x", "b": 1.5}, {"a": "y", "b": null}]'
            )
        else:
            assert pl.read_parquet(io.BytesIO(data)).equals(frame)


def test_output_file_is_written_whole(make_folder: FolderMaker, tmp_path: Path) -> None:
    out = tmp_path / "tables.parquet"
    result = runner.invoke(app, ["validate", str(make_folder()), "--output", str(out)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert pl.read_parquet(out)["rows"].to_list() == [3, 2, 3, 2]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_quiet_under_head(make_folder: FolderMaker, tmp_path: Path) -> None:
    big = "person_id,monthly_income\n" + "".join(f"P{i},{i % 5000}\n" for i in range(200_000))
    folder = make_folder(consumers=big, merchants=None, transactions=None, logistics=None)
    cmd = (
        f"{sys.executable} -m trustscore features - --as-of 2026-01-01 --format csv"
        f" < {folder}/consumers.csv"
    )
    # a pipe that closes early: no "Broken pipe" noise, no traceback
    done = subprocess.run(cmd + " | head -c 10", shell=True, capture_output=True, text=True)
    assert done.stdout == "person_id,"
    assert "Traceback" not in done.stderr
    assert "Broken pipe" not in done.stderr
    assert "error" not in done.stderr


def test_notes_reach_stderr_once(make_folder: FolderMaker) -> None:
    from tests.conftest import MERCHANTS

    merchants = MERCHANTS.replace("verified\n", "verified,rating\n").replace("true\n", "true,5\n")
    merchants = merchants.replace("false\n", "false,3\n")
    folder = make_folder(merchants=merchants, logistics=None)
    result = runner.invoke(app, ["features", str(folder), "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    assert "merchants.csv: extra column(s) ignored: rating" in result.stderr
    assert result.stderr.count("no logistics data") == 1
    assert "features absent" in result.stderr
