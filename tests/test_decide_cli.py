"""`trustscore decide` and `score --reasons` through the real CLI: the three
kinds of target (everyone stored, a data folder, ids), the panel, the log that
only ever grows, the policy and strategy tables, and every way to misuse them."""

from __future__ import annotations

import errno
import io
import json
import os
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from trustscore.card import from_model_folder
from trustscore.cli import app
from trustscore.decide import DECISION_COLUMNS
from trustscore.formats import append_lines
from trustscore.model_folder import ModelFolder
from trustscore.policy import DEFAULT_POLICY_TOML, default_policy

runner = CliRunner()


def run(*args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=input, env={"COLUMNS": "100"})
    return result.exit_code, result.stdout, result.stderr


def decide(model: Path, *args: str, input: str | bytes | None = None) -> tuple[int, str, str]:
    return run("decide", *args, "--model", str(model), input=input)


def frame(text: str) -> pl.DataFrame:
    return pl.read_csv(io.StringIO(text), infer_schema=False)


@pytest.fixture(scope="module")
def stored(model_dir: Path) -> str:
    code, out, err = decide(model_dir)
    assert code == 0, err
    return out


@pytest.fixture(scope="module")
def adverse(stored: str) -> list[str]:
    """Persons declined or referred by the default policy, some of each."""
    rows = frame(stored)
    declined = rows.filter(pl.col("decision") == "decline")["person_id"].unique(maintain_order=True)
    referred = rows.filter(pl.col("decision") == "refer")["person_id"].unique(maintain_order=True)
    assert declined.len() and referred.len()
    return [*declined.head(2).to_list(), *referred.head(2).to_list()]


# ------------------------------------------------------------------ the three targets


def test_everyone_in_the_model_folder(model_dir: Path, stored: str) -> None:
    rows = frame(stored)
    persons = pl.read_parquet(model_dir / "scores.parquet").height
    assert rows.columns == DECISION_COLUMNS
    assert rows.height == 2 * persons  # the default policy's two products
    assert set(rows["decision"]) <= {"approve", "decline", "refer"}
    assert rows["product"].head(2).to_list() == ["micro_loan", "rental_deposit"]


def test_a_data_folder_decides_as_its_stored_persons(
    model_dir: Path, data_dir: Path, stored: str
) -> None:
    """The model was built from data_dir as of its default date: scoring the folder
    afresh gives every decision, reason and hash byte for byte as stored."""
    code, out, err = decide(model_dir, str(data_dir))
    assert code == 0, err
    assert out == stored


def test_consumers_on_stdin(data_dir: Path, tmp_path: Path) -> None:
    """A model built from consumers.csv alone decides persons piped in; the rules
    whose features need the other tables fail for everyone, and it says so."""
    only = tmp_path / "only"
    only.mkdir()
    (only / "consumers.csv").write_bytes((data_dir / "consumers.csv").read_bytes())
    model = tmp_path / "m"
    code, _, err = run("build", str(only), "--out", str(model), "--as-of", "2026-01-01")
    assert code == 0, err
    consumers = (only / "consumers.csv").read_bytes()
    code, out, err = decide(model, "-", "--as-of", "2026-01-01", input=consumers)
    assert code == 0, err
    rows = frame(out)
    assert rows.height == 2 * (consumers.count(b"\n") - 1)
    assert set(rows["as_of"]) == {"2026-01-01"}
    assert "holds no orders_365d" in err
    loans = rows.filter(pl.col("product") == "micro_loan")
    assert loans["failed_rules"].str.contains("P-MIN-ORDERS").all()
    assert "holds no credit_outstanding" in err
    assert loans["failed_rules"].str.contains("P-MAX-OUTSTANDING").all()  # as the warning says
    assert set(loans["decision"]) == {"decline"}


def test_ids_give_their_rows_in_the_order_asked(model_dir: Path, stored: str) -> None:
    everyone = frame(stored)
    ids = everyone["person_id"].unique(maintain_order=True).to_list()
    asked = [ids[5], ids[2]]
    code, out, err = decide(model_dir, *asked, "-f", "csv")
    assert code == 0, err
    got = frame(out)
    assert got["person_id"].to_list() == [asked[0], asked[0], asked[1], asked[1]]
    expected = pl.concat([everyone.filter(pl.col("person_id") == pid) for pid in asked])
    assert got.equals(expected)


def test_one_unknown_id_exits_4_with_the_closest(model_dir: Path, stored: str) -> None:
    known = frame(stored)["person_id"][0]
    code, out, err = decide(model_dir, known[:-1] + "Z")
    assert code == 4
    assert out == ""
    assert f"no person {known[:-1]}Z" in err and "did you mean" in err


def test_unknown_among_several_rows_for_the_rest_then_exit_4(model_dir: Path, stored: str) -> None:
    known = frame(stored)["person_id"][0]
    code, out, err = decide(model_dir, known, "nobody", "-f", "csv")
    assert code == 4
    assert frame(out)["person_id"].to_list() == [known, known]
    assert "no person nobody" in err


def test_hostile_ids_are_shown_as_text(model_dir: Path) -> None:
    code, _, err = decide(model_dir, "[bold]P1[/bold]\x1b[2J")
    assert code == 4
    assert "[bold]P1[/bold]\\x1b[2J" in err
    assert "\x1b" not in err


def test_a_folder_and_ids_together_are_refused(model_dir: Path, data_dir: Path) -> None:
    code, _, err = decide(model_dir, str(data_dir), "P0000001")
    assert code == 2
    assert "not both" in err


# ------------------------------------------------------------------ the panel


def test_the_panel_says_why_in_the_cards_words(model_dir: Path, adverse: list[str]) -> None:
    folder = ModelFolder.open(model_dir)
    for pid in adverse:
        code, out, err = decide(model_dir, pid, "-f", "table")
        assert code == 0, err
        assert "trustscore decision" in out and pid in out
        assert "DECLINE" in out or "REFER" in out
        lowering = from_model_folder(folder, [pid])[pid].lowering
        assert lowering
        for reason in lowering:  # the adverse-action reasons, in the card's words
            assert reason.code in out
            assert reason.sentence[:30] in out
    code, out, _ = decide(model_dir, adverse[0], "-f", "table")
    assert "Rules failed" in out
    assert "A final score of at least" in out or "At least" in out or "A member" in out


def test_a_narrow_panel_drops_the_codes_not_the_sentences(
    model_dir: Path, adverse: list[str]
) -> None:
    result = runner.invoke(
        app, ["decide", adverse[0], "-f", "table", "--model", str(model_dir)], env={"COLUMNS": "60"}
    )
    assert result.exit_code == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 60
    assert "What lowers the score most" in result.stdout


# ------------------------------------------------------------------ the log


def test_the_log_only_grows(model_dir: Path, stored: str, tmp_path: Path) -> None:
    log = tmp_path / "decisions.ndjson"
    ids = frame(stored)["person_id"].unique(maintain_order=True).head(3).to_list()
    code, out, err = decide(model_dir, ids[0], ids[1], "--log", str(log), "-f", "csv")
    assert code == 0, err
    first = log.read_bytes()
    code, _, err = decide(model_dir, ids[2], "--log", str(log), "-f", "json")
    assert code == 0, err
    after = log.read_bytes()
    assert after.startswith(first)  # what was there is never rewritten
    lines = [json.loads(line) for line in after.decode().splitlines()]
    assert [r["person_id"] for r in lines] == [ids[0], ids[0], ids[1], ids[1], ids[2], ids[2]]
    assert all(r["decided_at"].endswith("Z") for r in lines)
    # each line is the decision as printed, plus the moment it was made
    printed = frame(out).to_dicts()
    for logged, shown in zip(lines[:4], printed, strict=True):
        assert list(logged)[1:] == DECISION_COLUMNS
        assert {
            k: None if v is None else str(v) for k, v in logged.items() if k != "decided_at"
        } == {k: v for k, v in shown.items()}


@pytest.mark.parametrize("where", ["model", "folder", "table"])
def test_a_log_where_it_must_not_go_is_refused(
    model_dir: Path, data_dir: Path, stored: str, tmp_path: Path, where: str
) -> None:
    pid = frame(stored)["person_id"][0]
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    target = {
        "model": model_dir / "log.ndjson",
        "folder": tmp_path,
        "table": data_dir / "transactions.csv",
    }[where]
    kept = target.read_bytes() if target.is_file() else None
    code, out, err = decide(model_dir, pid, "--log", str(target))
    assert code == 2, err
    assert "--log" in err and out == ""
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    if kept is not None:
        assert target.read_bytes() == kept


def test_a_log_that_is_the_output_or_a_pipe_is_refused(
    model_dir: Path, stored: str, tmp_path: Path
) -> None:
    pid = frame(stored)["person_id"][0]
    same = tmp_path / "d.ndjson"
    same.write_bytes(b'{"earlier":1}\n')
    code, _, err = decide(model_dir, pid, "--log", str(same), "-o", str(same))
    assert code == 2 and "same file" in err
    assert same.read_bytes() == b'{"earlier":1}\n'
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    code, _, err = decide(model_dir, pid, "--log", str(fifo))  # would block with no reader
    assert code == 2 and "neither a file nor a device" in err


def test_a_full_disk_leaves_the_log_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "log.ndjson"
    log.write_bytes(b'{"earlier":1}\n')
    real_write = os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        monkeypatch.setattr(os, "write", full)
        return real_write(fd, bytes(data)[: len(data) // 2])

    def full(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError) as caught:
        append_lines(log, b'{"a":1}\n{"b":2}\n')
    assert caught.value.filename == str(log)
    assert log.read_bytes() == b'{"earlier":1}\n'


def test_a_full_disk_under_the_log_is_exit_7_naming_it(
    model_dir: Path, stored: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "d.ndjson"
    log.write_bytes(b'{"earlier":1}\n')

    def full(fd: int, data: bytes | memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)  # the disk fills as the log is appended
    pid = frame(stored)["person_id"][0]
    code, out, err = decide(model_dir, pid, "--log", str(log), "-f", "csv")
    assert code == 7
    assert str(log) in err and "No space left" in err
    assert out == ""  # logged first: nothing is shown that was not recorded
    assert log.read_bytes() == b'{"earlier":1}\n'


# ------------------------------------------------------------------ policy and strategy


def test_explain_policy_needs_no_model(tmp_path: Path) -> None:
    code, out, err = run("decide", "--explain-policy", "--model", str(tmp_path / "none"))
    assert code == 0, err
    rows = frame(out)
    assert rows.columns == ["product", "kind", "code", "sentence", "key"]
    policy = default_policy()
    assert rows.height == sum(len(p.rules()) for p in policy.products.values())
    code, out, _ = run("decide", "--explain-policy", "-P", "rental_deposit")
    assert set(frame(out)["product"]) == {"rental_deposit"}
    code, out, _ = run("decide", "--explain-policy", "-f", "table")
    assert code == 0
    assert "products.micro_loan.rules.min_score" in out and "P-NO-WAIVER" in out


def test_a_bad_policy_is_exit_2_naming_the_key(model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text(DEFAULT_POLICY_TOML.replace("min_tenure_days = 90", "min_tenure_dayz = 90"))
    code, out, err = decide(model_dir, "--policy", str(bad))
    assert code == 2
    assert "min_tenure_dayz" in err and out == ""
    assert len(err.strip().splitlines()) <= 2  # one line and a hint, no traceback


def test_an_unknown_product_is_exit_2_with_the_closest(model_dir: Path) -> None:
    code, _, err = decide(model_dir, "--product", "micro_loans")
    assert code == 2
    assert "'micro_loan'" in err


def test_a_changed_policy_changes_every_rows_hash(
    model_dir: Path, stored: str, tmp_path: Path
) -> None:
    changed = tmp_path / "policy.toml"
    changed.write_text(DEFAULT_POLICY_TOML.replace("min_score = 600", "min_score = 610"))
    code, out, err = decide(model_dir, "--policy", str(changed))
    assert code == 0, err
    old, new = frame(stored), frame(out)
    assert old["policy_sha256"].n_unique() == new["policy_sha256"].n_unique() == 1
    assert old["policy_sha256"][0] != new["policy_sha256"][0]
    assert (old["model_sha256"] == new["model_sha256"]).all()


def test_strategy_per_product(model_dir: Path) -> None:
    code, out, err = decide(model_dir, "--strategy")
    assert code == 0, err
    rows = frame(out)
    assert set(rows["product"]) == {"micro_loan", "rental_deposit"}
    loan = rows.filter(pl.col("product") == "micro_loan")
    assert loan.filter(pl.col("policy_cutoff") == "true")["cutoff"].to_list() == ["600"]
    rates = loan["approval_rate"].cast(pl.Float64).to_list()
    assert rates == sorted(rates, reverse=True)
    assert loan["exposure"].null_count() == 0
    rental = rows.filter(pl.col("product") == "rental_deposit")
    assert rental["exposure"].null_count() == rental.height


@pytest.mark.parametrize(
    "args",
    [
        ["--strategy", "P0000001"],
        ["--explain-policy", "--strategy"],
        ["--strategy", "--log", "x.ndjson"],
        ["--as-of", "2026-01-01"],
        ["--lenient", "P0000001"],
    ],
)
def test_options_that_do_not_go_together(model_dir: Path, args: list[str]) -> None:
    code, out, err = decide(model_dir, *args)
    assert code == 2, err
    assert out == "" and "Traceback" not in err
    assert not Path("x.ndjson").exists()


def test_a_tampered_model_decides_nothing(model_dir: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    scores = copy / "scores.parquet"
    data = bytearray(scores.read_bytes())
    data[len(data) // 2] ^= 1
    scores.write_bytes(bytes(data))
    code, out, err = decide(copy)
    assert code == 5
    assert out == "" and "scores.parquet" in err


# ------------------------------------------------------------------ score --reasons


def test_score_reasons_are_the_cards_and_the_decisions(
    model_dir: Path, data_dir: Path, stored: str, adverse: list[str]
) -> None:
    code, out, err = run("score", str(data_dir), "--model", str(model_dir), "--reasons", "4")
    assert code == 0, err
    scored = frame(out)
    assert scored.columns[-4:] == ["reason_1", "reason_2", "reason_3", "reason_4"]
    folder = ModelFolder.open(model_dir)
    cards = from_model_folder(folder, adverse)
    decisions = frame(stored)
    for pid in adverse:
        row = scored.filter(pl.col("person_id") == pid).row(0, named=True)
        codes = [row[f"reason_{i}"] for i in range(1, 5)]
        assert [c for c in codes if c] == [r.code for r in cards[pid].lowering]
        declined = decisions.filter(
            (pl.col("person_id") == pid) & (pl.col("decision") != "approve")
        )
        assert declined.select([f"reason_{i}" for i in range(1, 5)]).row(0) == tuple(codes)


def test_score_reasons_beyond_four_and_bounds(model_dir: Path, data_dir: Path) -> None:
    code, out, err = run(
        "score", str(data_dir), "--model", str(model_dir), "--reasons", "6", "-f", "csv"
    )
    assert code == 0, err
    scored = frame(out)
    assert scored.columns[-6:] == [f"reason_{i}" for i in range(1, 7)]
    assert scored["reason_6"].drop_nulls().len() > 0
    # no code twice in a row, and a gap is only ever followed by gaps
    for row in scored.select([f"reason_{i}" for i in range(1, 7)]).iter_rows():
        present = [c for c in row if c is not None]
        assert len(set(present)) == len(present)
        assert list(row[: len(present)]) == present
    code, _, err = run("score", str(data_dir), "--model", str(model_dir), "--reasons", "0")
    assert code == 2
    code, _, err = run("score", str(data_dir), "--model", str(model_dir), "--reasons", "500")
    assert code == 2 and "features" in err


# ------------------------------------------------------------------ data we did not make


def test_german_credit_decides_in_whole_words(tmp_path: Path) -> None:
    """German credit as consumers.csv alone: no orders table, so the default loan's
    rules that need orders fail for everyone, and it says so; its passthrough
    features' long codes would squeeze the panel, so it shows the words alone."""
    from tests.conftest import GERMAN_CREDIT

    german = pl.read_csv(GERMAN_CREDIT, infer_schema=False)
    consumers = german.with_columns(
        pl.format("G{}", pl.int_range(1, pl.len() + 1)).alias("person_id"),
        (pl.col("creditability") == "bad").cast(pl.Int8).alias("defaulted"),
    ).drop("creditability")
    folder = tmp_path / "german"
    folder.mkdir()
    consumers.select("person_id", pl.exclude("person_id")).write_csv(folder / "consumers.csv")
    model = tmp_path / "gm"
    code, _, err = run("build", str(folder), "--out", str(model), "--as-of", "2026-01-01")
    assert code == 0, err
    code, out, err = decide(model, "--product", "micro_loan")
    assert code == 0, err
    assert "holds no orders_365d" in err
    assert frame(out)["failed_rules"].str.contains("P-MIN-ORDERS").all()
    code, out, err = decide(model, "G1")
    assert code == 0, err
    assert "ID-STATUS_OF_EXISTING_CHECKING_ACCOUNT" not in out  # too long: words only
    assert "status_of_existing_checking_account: ... < 0 DM" in out
    assert "…" not in out
    code, out, err = decide(model, "G1", "-f", "csv")
    assert "ID-STATUS_OF_EXISTING_CHECKING_ACCOUNT" in out  # the codes are in the rows


def test_an_absurd_id_is_an_unknown_person_not_a_path(model_dir: Path) -> None:
    code, out, err = decide(model_dir, "P" * 300)  # too long to be a file name
    assert code == 4 and out == ""
    assert "(300 characters)" in err and "P" * 81 not in err


def test_a_failed_output_leaves_the_log_as_it_was(
    model_dir: Path, stored: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trustscore.cli as cli_mod

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    log = tmp_path / "d.ndjson"
    out_file = tmp_path / "decisions.csv"
    with monkeypatch.context() as patch:
        patch.setattr(cli_mod, "write_frame", full)  # the disk fills as the output is written
        code, _, err = decide(model_dir, "--log", str(log), "-o", str(out_file))
    assert code == 7 and str(out_file) in err and "No space left" in err
    assert not log.exists() and not out_file.exists()
    # a log whose last line has no end gets one before ours
    log.write_bytes(b'{"x":1}')
    pid = frame(stored)["person_id"][0]
    code, _, err = decide(model_dir, pid, "--log", str(log), "-f", "csv")
    assert code == 0, err
    lines = log.read_bytes().split(b"\n")
    assert lines[0] == b'{"x":1}' and json.loads(lines[1])["person_id"] == pid
