"""One way to do each thing: every command's output options, errors and help
agree (issue 9's list, one test per inconsistency a user hit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT
from trustscore.cli import app

runner = CliRunner()
COMMANDS = [
    *("sample", "validate", "features", "build", "score", "card", "decide", "monitor", "points"),
    *("audit", "report"),
]


@pytest.mark.parametrize(
    "args",
    [
        ["build", "{data}", "--model", "{tmp}/m", "-f", "parquet"],
        ["sample", "{tmp}/s", "-n", "50", "-f", "parquet"],
        ["features", "{data}", "-f", "parquet"],
        ["score", "{data}", "--model", "{model}", "-f", "parquet"],
        ["build", "{data}", "--model", "{tmp}/m", "-o", "{tmp}/nowhere/summary.csv"],
    ],
)
def test_output_refused_before_the_work(
    args: list[str], data_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    filled = [
        a.format(data=data_dir, tmp=tmp_path, model=model_dir) for a in args
    ]  # nothing is written, nothing is trained
    result = runner.invoke(app, filled)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("error: ")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "suffix, reader",
    [
        (".csv", lambda p: pl.read_csv(p)),
        (".json", lambda p: pl.DataFrame(json.loads(Path(p).read_text()))),
        (".ndjson", lambda p: pl.read_ndjson(p)),
        (".jsonl", lambda p: pl.read_ndjson(p)),
        (".parquet", lambda p: pl.read_parquet(p)),
    ],
)
def test_output_suffix_picks_the_format(
    suffix: str, reader: object, data_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"scores{suffix}"
    result = runner.invoke(app, ["score", str(data_dir), "--model", str(model_dir), "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    frame = reader(out)  # type: ignore[operator]
    assert frame.columns[:3] == ["person_id", "score", "band"]
    assert frame["score"].dtype.is_integer()


def test_build_summary_numbers_are_numbers_in_every_format(
    data_dir: Path, model_dir: Path, tmp_path: Path
) -> None:
    from trustscore.model_folder import METRICS_FILE

    metrics = json.loads((model_dir / METRICS_FILE).read_text())
    # the summary frame is the same whatever the format: numbers stay numbers
    from trustscore.cli import _metrics_frame

    frame = _metrics_frame(metrics)
    assert frame.schema["value"] == pl.Float64
    lines = [json.loads(x) for x in frame.write_ndjson().splitlines()]
    auc = next(x for x in lines if x["section"] == "holdout" and x["name"] == "auc")
    assert isinstance(auc["value"], float)
    as_of = next(x for x in lines if x["name"] == "as_of")
    assert as_of["text"] == metrics["as_of"] and as_of["value"] is None


def test_validate_hint_names_only_what_validate_takes(make_folder: object) -> None:
    folder = make_folder(consumers="person_id,defaulted\nA,7\n")  # type: ignore[operator]
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 3
    hint = [line for line in result.stderr.splitlines() if line.startswith("hint:")]
    assert hint and "--lenient to features, build or score" in hint[0]
    again = runner.invoke(app, ["validate", str(folder), "--lenient"])
    assert again.exit_code == 2  # validate indeed has no --lenient


def test_score_from_stdin_against_a_four_table_model(data_dir: Path, model_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["score", "-", "--model", str(model_dir)],
        input=(data_dir / "consumers.csv").read_bytes(),
    )
    assert result.exit_code == 2
    assert "standard input carries only consumers.csv" in result.stderr
    assert "give the data folder instead of -" in result.stderr


def test_model_folder_from_the_environment(
    data_dir: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRUSTSCORE_MODEL", str(model_dir))
    result = runner.invoke(app, ["score", str(data_dir), "-f", "csv", "--columns", "person_id"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "person_id"
    result = runner.invoke(app, ["build", str(data_dir)])  # the same folder: needs --force
    assert result.exit_code == 2
    assert "already holds a model" in result.stderr


def test_unknown_column_is_a_usage_error(data_dir: Path, model_dir: Path) -> None:
    result = runner.invoke(
        app, ["score", str(data_dir), "--model", str(model_dir), "--columns", "person_id,scor"]
    )
    assert result.exit_code == 2
    assert "no column 'scor'" in result.stderr and "did you mean score" in result.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["score", "--nope"], "No such option: --nope"),
        (["nosuch"], "No such command 'nosuch'"),
        (["score"], "Missing argument 'DATA_DIR'"),
        (["build", "x", "--seed", "-3"], "--seed"),
    ],
)
def test_click_errors_in_the_house_style(args: list[str], words: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and words in lines[0]
    assert lines[1].startswith("hint: see trustscore")
    assert "Usage:" not in result.stderr and "Error:" not in result.stderr


def test_every_command_has_a_whole_summary_and_an_example() -> None:
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "100"})
    assert "…" not in top.stdout and "..." not in top.stdout.split("Commands:")[1]
    for command in COMMANDS:
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0
        text = result.stdout
        assert "Example" in text and f"trustscore {command}" in text, command
        assert "{" not in text.split("\n")[0], command  # no {DATA_DIR} in the usage line
        assert "<str>" not in text and "<path>" not in text, command


def test_core_imports_neither_rich_nor_typer() -> None:
    # every module but the two that talk to the terminal, imported in a fresh process
    core = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "trustscore").rglob("*.py")
        if p.name not in ("cli.py", "render.py", "__main__.py")
    )
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('rich', 'typer'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.stdout.strip() == ""
    assert len(core) > 20


def test_notes_merge_by_code_and_table_not_by_words() -> None:
    from trustscore.notes import Note, merge

    ingest = [
        Note("table_missing", "no transactions data: repayment features absent", "transactions"),
        Note("columns_ignored", "merchants.csv: extra column(s) ignored: 'x'", "merchants"),
    ]
    features = [
        Note("table_missing", "no transactions data: 30 features absent (a, b, c)", "transactions")
    ]
    assert [n.text for n in merge(ingest, features)] == [
        "merchants.csv: extra column(s) ignored: 'x'",
        "no transactions data: 30 features absent (a, b, c)",
    ]


def test_output_dash_is_stdout(
    data_dir: Path, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-o - writes to standard output, as in every Unix tool, and never a file named -."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(
        app, ["score", str(data_dir), "-m", str(model_dir), "-o", "-", "--format", "json"]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)[0]["person_id"]
    assert list(tmp_path.iterdir()) == []
