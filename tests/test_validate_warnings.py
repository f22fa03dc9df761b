"""Warnings: rows that are legal but unlikely (DESIGN 1, ``trustscore.unlikely``).

Each rule on a hand-made folder that breaks it once: the count, the file's own
line, the column and the value; examples capped at 5; exit 0 by default and 3
under --strict; ids from the data shown as text.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.conftest import (
    CONSUMERS,
    GERMAN_CREDIT,
    LOGISTICS,
    MERCHANTS,
    SAMPLE_DATA,
    TRANSACTIONS,
    FolderMaker,
)
from trustscore.cli import app
from trustscore.errors import DataError
from trustscore.ingest import Report, read_folder
from trustscore.safetext import safe_text
from trustscore.unlikely import EXAMPLES, RULES

runner = CliRunner()


def _replace(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def _warned(folder: Path) -> Report:
    _, report = read_folder(folder)
    return report


# one fixture per rule: (table, its text, line, column, value, expected)
CASES = {
    "delivered_before_shipped": (
        "logistics",
        _replace(LOGISTICS, "2025-01-14T11:00:00", "2025-01-11T07:59:59.5"),
        2,
        "delivered_at",
        "2025-01-11T07:59:59.500000",
        "a delivery on or after the shipping at 2025-01-11T08:00:00",
    ),
    "shipped_before_ordered": (
        "logistics",
        # an offset is read in UTC: 13:59:59+02:00 is a second before the order at 12:00
        _replace(LOGISTICS, "2025-03-02T08:00:00", "2025-03-01T13:59:59+02:00"),
        3,
        "shipped_at",
        "2025-03-01T11:59:59",
        "a shipping on or after the order 'T2' at 2025-03-01T12:00:00",
    ),
    "promised_before_ordered": (
        "logistics",
        _replace(LOGISTICS, "2025-01-15T18:00:00", "2025-01-10T09:00:00"),
        2,
        "promised_at",
        "2025-01-10T09:00:00",
        "a promised delivery on or after the order 'T1' at 2025-01-10T10:00:00",
    ),
    "due_before_purchase": (
        "transactions",
        _replace(TRANSACTIONS, "2025-02-09", "2025-01-09"),
        2,
        "due_date",
        "2025-01-09",
        "a due date on or after the day of the purchase, 2025-01-10",
    ),
    "repaid_before_purchase": (
        "transactions",
        _replace(TRANSACTIONS, "2025-02-01", "2025-01-09"),
        2,
        "repaid_date",
        "2025-01-09",
        "a repayment on or after the day of the purchase, 2025-01-10",
    ),
    "order_before_signup": (
        "consumers",
        _replace(CONSUMERS, "P3,2025-06-01", "P3,2025-07-02"),
        4,
        "signup_date",
        "2025-07-02",
        "a signup on or before the first order, 'T3' at 2025-07-01T09:30:00",
    ),
    "order_before_shop_opened": (
        "merchants",
        _replace(MERCHANTS, "2024-03-01", "2025-03-02"),
        3,
        "opened_date",
        "2025-03-02",
        "an opening on or before the first order, 'T2' at 2025-03-01T12:00:00",
    ),
}


ROWS = {"consumers": 3, "merchants": 2, "transactions": 3, "logistics": 2}


def test_every_rule_has_a_case() -> None:
    assert sorted(CASES) == sorted(r.code for r in RULES)


def test_the_tiny_folder_has_no_warnings(make_folder: FolderMaker) -> None:
    report = _warned(make_folder())
    assert report.warnings == [] and report.total_warnings == 0


@pytest.mark.parametrize("rule", list(CASES))
def test_each_rule_names_file_line_column_value(rule: str, make_folder: FolderMaker) -> None:
    table, text, line, column, value, expected = CASES[rule]
    report = _warned(make_folder(**{table: text}))
    assert [w.rule for w in report.warnings] == [rule]
    (warning,) = report.warnings
    assert (warning.file, warning.column, warning.count) == (f"{table}.csv", column, 1)
    (example,) = warning.examples
    assert (example.file, example.line, example.column) == (f"{table}.csv", line, column)
    assert (example.value, example.expected, example.rule) == (value, expected, rule)
    assert report.warning_counts() == {f"{table}.csv": 1}
    assert warning.as_record()["examples"] == [example.as_record()]


@pytest.mark.parametrize("rule", list(CASES))
def test_warnings_never_stop_validate_and_strict_makes_them_problems(
    rule: str, make_folder: FolderMaker
) -> None:
    table, text, line, column, value, expected = CASES[rule]
    folder = make_folder(**{table: text})
    result = runner.invoke(app, ["validate", str(folder), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert f"{table},{table}.csv,{ROWS[table]},0,1\n" in result.stdout
    where = f"({table}.csv, line {line}, column {column})"
    assert f"warning:   {value!r}: {expected} {where}" in result.stderr.splitlines()

    strict = runner.invoke(app, ["validate", "--strict", str(folder), "-f", "csv"])
    assert strict.exit_code == 3
    lines = strict.stderr.splitlines()
    assert lines[0] == f"error: {value!r}: {expected} {where}"
    assert lines[1] == f"error: 1 problem in the input data ({table}.csv: 1)"
    assert lines[2] == (
        "hint: fix the rows named above, or leave out --strict to take them as warnings"
    )
    assert "warning:" not in strict.stderr
    assert f"{table},{table}.csv,{ROWS[table]},1,0\n" in strict.stdout


def test_strict_stops_even_under_lenient(make_folder: FolderMaker) -> None:
    table, text, *_ = CASES["repaid_before_purchase"]
    folder = make_folder(**{table: text})
    for lenient in (False, True):
        with pytest.raises(DataError) as info:
            read_folder(folder, strict=True, lenient=lenient)
        assert [p.rule for p in info.value.problems] == ["repaid_before_purchase"]
        assert isinstance(info.value.report, Report)
        assert info.value.report.warnings == []
        assert info.value.report.unlikely_problems == 1
    tables, report = read_folder(folder, lenient=True)  # without --strict: only a warning
    assert tables.transactions is not None and tables.transactions.height == 3
    assert report.total_warnings == 1


def test_a_clean_folder_passes_strict(make_folder: FolderMaker) -> None:
    result = runner.invoke(app, ["validate", "--strict", str(make_folder()), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert "warning:" not in result.stderr


def test_examples_are_capped_in_line_order_and_the_rest_counted(
    make_folder: FolderMaker,
) -> None:
    early = "".join(
        f"X{i},P1,M1,2025-04-0{i}T10:00:00,10,completed,credit,,,2025-05-01,2025-03-0{i}\n"
        for i in range(1, 8)
    )
    folder = make_folder(transactions=TRANSACTIONS + early)  # lines 5 to 11
    (warning,) = _warned(folder).warnings
    assert warning.count == 7
    assert len(warning.examples) == EXAMPLES == 5
    assert [e.line for e in warning.examples] == [5, 6, 7, 8, 9]
    assert [e.value for e in warning.examples] == [f"2025-03-0{i}" for i in range(1, 6)]

    result = runner.invoke(app, ["validate", str(folder), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    rows = {r["table"]: r for r in json.loads(result.stdout)}
    assert (rows["transactions"]["problems"], rows["transactions"]["warnings"]) == (0, 7)
    err = result.stderr.splitlines()
    head = (
        "warning: purchases repaid before the day they were made: 7 "
        "(transactions.csv, column repaid_date; repaid_before_purchase)"
    )
    at = err.index(head)
    assert [x.split("line ")[1].split(",")[0] for x in err[at + 1 : at + 6]] == [
        "5",
        "6",
        "7",
        "8",
        "9",
    ]
    assert err[at + 6] == "warning:   and 2 more"

    strict = runner.invoke(app, ["validate", "--strict", str(folder)])
    assert strict.exit_code == 3
    assert "error: 7 problems in the input data (transactions.csv: 7)" in strict.stderr


def test_lines_are_the_files_own_after_multiline_fields(make_folder: FolderMaker) -> None:
    # T1's category spans lines 2-4, so T2 is on line 5; S1's address spans 2-3
    header, t1, t2, t3 = TRANSACTIONS.splitlines(keepends=True)
    t1 = t1.replace("electronics,false", '"TV\nwall mount\nblack",false')
    t2 = t2.replace("2025-03-01T12:00:00", "2025-03-03T12:00:00").replace(",,\n", ",,2025-03-02\n")
    logistics = _replace(LOGISTICS, ",A1\nS2", ',"A\n1"\nS2')
    folder = make_folder(transactions=header + t1 + t2 + t3, logistics=logistics)
    warnings = {w.rule: w for w in _warned(folder).warnings}
    assert sorted(warnings) == ["repaid_before_purchase", "shipped_before_ordered"]
    assert [e.line for e in warnings["repaid_before_purchase"].examples] == [5]
    # S2, shipped 2025-03-02T08:00, now on line 4, before its order (moved to 03-03)
    assert [e.line for e in warnings["shipped_before_ordered"].examples] == [4]


def test_one_warning_per_person_naming_their_first_order(make_folder: FolderMaker) -> None:
    # P3 signs up on 2025-07-02; orders T3 (07-01) and, listed later but earlier
    # in time, T5 (06-20); T4 on the day of the signup is no warning
    transactions = (
        TRANSACTIONS
        + "T4,P3,M1,2025-07-02T00:00:00,15,completed,balance,,,,\n"
        + "T5,P3,M1,2025-06-20T09:00:00,15,cancelled,balance,,,,\n"
    )
    consumers = _replace(CONSUMERS, "P3,2025-06-01", "P3,2025-07-02")
    folder = make_folder(consumers=consumers, transactions=transactions)
    (warning,) = _warned(folder).warnings
    assert (warning.rule, warning.count) == ("order_before_signup", 1)
    assert warning.examples[0].expected == (
        "a signup on or before the first order, 'T5' at 2025-06-20T09:00:00"
    )


def test_ids_out_of_order_give_the_same_warnings(make_folder: FolderMaker) -> None:
    # unsorted keys are looked up by a join rather than by their positions
    text = CASES["shipped_before_ordered"][1]
    header, *rows = TRANSACTIONS.splitlines(keepends=True)
    shuffled = header + "".join(reversed(rows))  # T3, T2, T1: T2 stays on line 3
    c_header, *people = _replace(CONSUMERS, "P3,2025-06-01", "P3,2025-07-02").splitlines(True)
    consumers = c_header + people[2] + people[0] + people[1]  # P3 on line 2
    folder = make_folder(consumers=consumers, transactions=shuffled, logistics=text)
    found = {w.rule: [(e.line, e.expected) for e in w.examples] for w in _warned(folder).warnings}
    assert found == {
        "shipped_before_ordered": [
            (3, "a shipping on or after the order 'T2' at 2025-03-01T12:00:00")
        ],
        "order_before_signup": [
            (2, "a signup on or before the first order, 'T3' at 2025-07-01T09:30:00")
        ],
    }


def test_warnings_are_listed_beside_problems(make_folder: FolderMaker) -> None:
    # a shipment of an order that does not exist is a problem; its lookup finds
    # nothing, and the warning elsewhere is still reported
    logistics = _replace(LOGISTICS, "S2,T2", "S2,T9")
    transactions = _replace(TRANSACTIONS, "2025-02-01", "2025-01-09")
    folder = make_folder(transactions=transactions, logistics=logistics)
    result = runner.invoke(app, ["validate", str(folder)])
    assert result.exit_code == 3
    assert "warning: purchases repaid before the day they were made: 1" in result.stderr
    assert "error: 'T9': a txn_id of transactions.csv (logistics.csv, line 3" in result.stderr
    with pytest.raises(DataError) as info:
        read_folder(folder)
    report = info.value.report
    assert isinstance(report, Report)
    assert [w.rule for w in report.warnings] == ["repaid_before_purchase"]


def test_logistics_without_transactions_is_not_looked_at(make_folder: FolderMaker) -> None:
    text = CASES["delivered_before_shipped"][1]
    report = _warned(make_folder(transactions=None, logistics=text))
    assert report.warnings == []


HOSTILE = "[bold red]T2\x1b[2J\u202e"


def test_ids_in_examples_are_shown_as_text(make_folder: FolderMaker) -> None:
    text = CASES["shipped_before_ordered"][1]
    transactions = TRANSACTIONS.replace("T2,", f'"{HOSTILE}",')
    logistics = text.replace(",T2,", f',"{HOSTILE}",')
    folder = make_folder(transactions=transactions, logistics=logistics)
    env = {"FORCE_COLOR": "1", "COLUMNS": "200"}
    for args in (["validate", str(folder), "-f", "table"], ["validate", "--strict", str(folder)]):
        result = runner.invoke(app, args, env=env)
        err = result.stderr
        assert "\x1b[2J" not in err and "\u202e" not in err
        assert safe_text(repr(HOSTILE)) in err  # as typed, escapes spelled out
        assert "[bold red]T2" in err  # markup shown, not applied


def test_sample_data_and_generated_samples_have_no_warnings(tmp_path: Path) -> None:
    from trustscore.sample import generate

    assert _warned(SAMPLE_DATA).warnings == []
    for seed in (1, 2):
        folder = tmp_path / f"s{seed}"
        generate(folder, persons=400, seed=seed)
        assert _warned(folder).warnings == [], seed


def test_german_credit_has_no_warnings(tmp_path: Path) -> None:
    german = pl.read_csv(GERMAN_CREDIT, infer_schema=False)
    consumers = german.select(
        pl.format("G{}", pl.int_range(1, pl.len() + 1)).alias("person_id"), pl.all()
    )
    folder = tmp_path / "german"
    folder.mkdir()
    consumers.write_csv(folder / "consumers.csv")
    report = _warned(folder)
    assert report.warnings == [] and report.tables[0].rows == 1000


def test_rules_without_known_positions_look_values_up_by_key(
    make_folder: FolderMaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ingest hands the rules each reference's row positions; without them (the
    # library on its own frames) a join finds the same rows
    import trustscore.ingest as ingest
    from trustscore.unlikely import find

    consumers = _replace(CONSUMERS, "P3,2025-06-01", "P3,2025-07-02")
    folder = make_folder(consumers=consumers, logistics=CASES["shipped_before_ordered"][1])
    frames: dict[str, pl.DataFrame] = {}

    def keep(reads: dict[str, Any], report: Report, *, strict: bool) -> None:
        frames.update({name: got.frame for name, got in reads.items()})

    monkeypatch.setattr(ingest, "_check_unlikely", keep)
    read_folder(folder)
    assert any(c.startswith("\x00at:") for c in frames["logistics"].columns)
    bare = {
        name: f.select(c for c in f.columns if not c.startswith("\x00at:"))
        for name, f in frames.items()
    }
    line = ingest._ROW
    with_links = [(f.rule.code, f.problems(line, 5)) for f in find(frames, line)]
    by_join = [(f.rule.code, f.problems(line, 5)) for f in find(bare, line)]
    assert with_links == by_join
    assert [code for code, _ in by_join] == ["shipped_before_ordered", "order_before_signup"]
