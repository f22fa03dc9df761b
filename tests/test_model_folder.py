"""The model folder: verified on every read, replaced only when it is a model,
never left empty or mixed, never lost to a killed build or a full disk."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from trustscore.cli import app
from trustscore.config import Config
from trustscore.errors import ModelError, UsageError
from trustscore.model_folder import (
    CONFIG_FILE,
    FILES,
    MANIFEST_FILE,
    FolderWriter,
    ModelFolder,
    seal,
)
from trustscore.pipeline import build

runner = CliRunner()


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trustscore.sample import generate

    folder = tmp_path_factory.mktemp("small")
    generate(folder, persons=400, seed=3)
    return folder


@pytest.fixture(scope="module")
def small_model(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("smallmodel") / "m"
    build(small_data, out, config=Config())
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def copy(model: Path, tmp_path: Path, name: str = "copy") -> Path:
    target = tmp_path / name
    shutil.copytree(model, target)
    return target


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at % len(data)] ^= 0x01
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------ verified reads


@pytest.mark.parametrize("name", [*FILES, MANIFEST_FILE])
def test_one_flipped_byte_anywhere_is_refused(small_model: Path, tmp_path: Path, name: str) -> None:
    for i, where in enumerate((0, 0.5, -1)):
        target = copy(small_model, tmp_path, f"c{i}")
        size = (target / name).stat().st_size
        flip(target / name, int(where * size) if isinstance(where, float) else where)
        with pytest.raises(ModelError) as info:
            ModelFolder.open(target)
        assert info.value.exit_code == 5
        assert name in str(info.value)


@pytest.mark.parametrize("command", ["score", "card"])
def test_edited_model_never_scores(
    small_data: Path, small_model: Path, tmp_path: Path, command: str
) -> None:
    for name in ("model.json", "model_meta.json", "config.json", "scores.parquet"):
        target = copy(small_model, tmp_path, f"{command}-{name}")
        flip(target / name, (target / name).stat().st_size // 3)
        args = (
            ["score", str(small_data), "--model", str(target), "-f", "csv"]
            if command == "score"
            else ["card", "P0000001", "--model", str(target)]
        )
        result = runner.invoke(app, args)
        assert result.exit_code == 5, (name, result.stdout, result.stderr)
        assert result.stdout == ""
        assert name in result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("error: ")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    which=st.sampled_from([*FILES, MANIFEST_FILE]),
    at=st.floats(min_value=0, max_value=1, exclude_max=True),
    byte=st.integers(min_value=0, max_value=255),
)
def test_any_edited_byte_is_refused(
    small_model: Path, tmp_path_factory: pytest.TempPathFactory, which: str, at: float, byte: int
) -> None:
    target = copy(small_model, tmp_path_factory.mktemp("edit"))
    path = target / which
    data = bytearray(path.read_bytes())
    i = int(at * len(data))
    if data[i] == byte:
        byte = (byte + 1) % 256
    data[i] = byte
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError):
        ModelFolder.open(target)


def test_missing_file_named(small_model: Path, tmp_path: Path) -> None:
    target = copy(small_model, tmp_path)
    (target / "events.parquet").unlink()
    result = runner.invoke(app, ["card", "P0000001", "--model", str(target)])
    assert result.exit_code == 5
    assert "no events.parquet" in result.stderr


def test_extra_file_is_ignored(small_model: Path, tmp_path: Path) -> None:
    target = copy(small_model, tmp_path)
    (target / "README.txt").write_text("notes of an analyst")
    assert ModelFolder.open(target).as_of


def _resealed(target: Path, change: dict[str, object], drop: tuple[str, ...] = ()) -> None:
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    manifest.update(change)
    for key in drop:
        manifest.pop(key)
    (target / MANIFEST_FILE).write_bytes(seal(manifest))


def test_sealed_but_incomplete_manifests_are_refused(small_model: Path, tmp_path: Path) -> None:
    # a manifest that passes its seal but lacks what readers need still exits 5
    cases: list[tuple[dict[str, object], tuple[str, ...], str]] = [
        ({}, ("as_of",), "as_of"),
        ({"as_of": "2026-13-45"}, (), "as_of"),
        ({"files": {}}, (), "does not list"),
        ({"format_version": 1}, (), "format"),
        ({"tables_missing": 5}, (), "tables_missing"),
        ({"as_of": 20250101}, (), "as_of"),
    ]
    for i, (change, drop, words) in enumerate(cases):
        target = copy(small_model, tmp_path, f"m{i}")
        _resealed(target, change, drop)
        result = runner.invoke(app, ["card", "P0000001", "--model", str(target)])
        assert result.exit_code == 5, result.stderr
        assert words in result.stderr


def test_config_with_unknown_key_is_exit_5(small_model: Path, tmp_path: Path) -> None:
    target = copy(small_model, tmp_path)
    config = json.loads((target / CONFIG_FILE).read_text())
    config["surprise"] = 1
    data = (json.dumps(config) + "\n").encode()
    (target / CONFIG_FILE).write_bytes(data)
    import hashlib

    manifest = json.loads((target / MANIFEST_FILE).read_text())
    manifest["files"][CONFIG_FILE] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }
    (target / MANIFEST_FILE).write_bytes(seal(manifest))
    result = runner.invoke(app, ["card", "P0000001", "--model", str(target)])
    assert result.exit_code == 5
    assert "surprise" in result.stderr


@pytest.mark.parametrize(
    "name, column",
    [("scores.parquet", "clipping"), ("scores.parquet", "band"), ("events.parquet", "date")],
)
def test_a_folder_of_another_version_is_exit_5(
    small_model: Path, tmp_path: Path, name: str, column: str
) -> None:
    """A sealed folder whose tables lack a column the readers take (written by an
    older trustscore, which added clipping to scores.parquet later): every reader
    refuses it with exit 5 naming the file and the column, never exit 1."""
    import hashlib

    import polars as pl

    target = copy(small_model, tmp_path)
    table = pl.read_parquet(target / name).drop(column)
    table.write_parquet(target / name)
    data = (target / name).read_bytes()
    manifest = json.loads((target / MANIFEST_FILE).read_text())
    manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (target / MANIFEST_FILE).write_bytes(seal(manifest))
    for args in (["card", "P0000001"], ["decide", "P0000001"], ["decide", "--strategy"]):
        result = runner.invoke(app, [*args, "--model", str(target)])
        assert result.exit_code == 5, result.stderr
        assert f"{name} has no column {column!r}" in result.stderr


def test_a_file_given_as_model_folder(tmp_path: Path, small_data: Path) -> None:
    (tmp_path / "f").write_text("x")
    for args in (
        ["card", "P1", "--model", str(tmp_path / "f")],
        ["score", str(small_data), "--model", str(tmp_path / "f")],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 5
        assert "is a file" in result.stderr


# ------------------------------------------------------------------ --force


def test_force_never_deletes_a_data_folder(small_data: Path, tmp_path: Path) -> None:
    data = copy(small_data, tmp_path, "data")
    before = snapshot(data)
    for out in (data, tmp_path):
        result = runner.invoke(app, ["build", str(data), "--out", str(out), "--force"])
        assert result.exit_code == 2, result.stderr
        assert "not a trustscore model folder" in result.stderr
        assert snapshot(data) == before


def test_force_never_deletes_a_folder_of_other_files(small_data: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "docs").mkdir(parents=True)
    (home / "docs" / "letter.txt").write_text("dear")
    (home / "manifest.json").write_text('{"format": "something-else"}')
    result = runner.invoke(app, ["build", str(small_data), "--out", str(home), "--force"])
    assert result.exit_code == 2
    assert (home / "docs" / "letter.txt").read_text() == "dear"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]


def test_an_empty_folder_may_receive_the_model(small_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "models"
    out.mkdir()
    result = runner.invoke(app, ["build", str(small_data), "--out", str(out), "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert ModelFolder.open(out).as_of


def test_folder_created_during_the_build_is_left_alone(small_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"

    def meanwhile(phase: str) -> None:
        if phase == "training":
            out.mkdir()
            (out / "mine.txt").write_text("created by someone else")

    with pytest.raises(UsageError, match="not a trustscore model folder"):
        build(small_data, out, config=Config(), phase=meanwhile)
    assert snapshot(out) == {"mine.txt": b"created by someone else"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_empty_folder_created_during_the_build_is_refused(small_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "m"

    def meanwhile(phase: str) -> None:
        if phase == "training":
            out.mkdir()

    with pytest.raises(UsageError):
        build(small_data, out, config=Config(), phase=meanwhile)
    assert out.is_dir() and not any(out.iterdir())


def test_model_replaced_by_other_files_during_the_build(
    small_data: Path, small_model: Path, tmp_path: Path
) -> None:
    out = copy(small_model, tmp_path, "m")

    def meanwhile(phase: str) -> None:
        if phase == "training":
            shutil.rmtree(out)
            out.mkdir()
            (out / "thesis.tex").write_text("years of work")

    with pytest.raises(UsageError, match="not a trustscore model folder"):
        build(small_data, out, config=Config(), force=True, phase=meanwhile)
    assert snapshot(out) == {"thesis.tex": b"years of work"}


def test_out_is_a_file(small_data: Path, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = runner.invoke(app, ["build", str(small_data), "--out", str(tmp_path / "f")])
    assert result.exit_code == 2
    assert (tmp_path / "f").read_text() == "x"


# ------------------------------------------------------------------ faults


def test_disk_full_while_writing(
    small_data: Path, small_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = copy(small_model, tmp_path, "m")
    before = snapshot(out)
    real_add = FolderWriter.add

    def add(self: FolderWriter, name: str, data: bytes) -> None:
        if name == "events.parquet":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.tmp / name))
        real_add(self, name, data)

    monkeypatch.setattr(FolderWriter, "add", add)
    result = runner.invoke(app, ["build", str(small_data), "--out", str(out), "--force"])
    assert result.exit_code == 7, result.stderr
    assert "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_output_location_checked_before_the_work(small_data: Path, tmp_path: Path) -> None:
    model = tmp_path / "nowhere" / "m"
    result = runner.invoke(app, ["build", str(small_data), "--out", str(model)])
    assert result.exit_code == 2
    assert "no folder" in result.stderr
    result = runner.invoke(
        app, ["features", str(small_data), "-o", str(tmp_path / "nowhere" / "f.csv")]
    )
    assert result.exit_code == 2
    assert "no folder" in result.stderr
    result = runner.invoke(app, ["features", str(small_data), "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert "is a folder" in result.stderr


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "trustscore", *args],
        capture_output=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,
    )


@pytest.mark.parametrize(
    "point", ["after:model.json", "after:events.parquet", "before-swap", "after-swap"]
)
def test_killed_build_never_loses_the_model(
    small_data: Path, small_model: Path, tmp_path: Path, point: str
) -> None:
    out = copy(small_model, tmp_path, "m")
    before = snapshot(out)
    killed = _cli(
        "build",
        str(small_data),
        "--out",
        str(out),
        "--force",
        "--seed",
        "11",
        env={"TRUSTSCORE_TEST_KILL_AT": point},
    )
    assert killed.returncode == 137
    folder = ModelFolder.open(out)  # a complete model is there, whatever the point
    if point == "after-swap":
        assert folder.manifest["seed"] == 11
        return
    assert snapshot(out) == before
    if point != "before-swap":
        return
    # the old model still gives the very same scores, byte for byte
    result = runner.invoke(app, ["score", str(small_data), "--model", str(out), "-f", "csv"])
    stored = runner.invoke(
        app, ["score", str(small_data), "--model", str(small_model), "-f", "csv"]
    )
    assert result.exit_code == 0 and result.stdout == stored.stdout
    # the next build clears what the killed one left behind, and nothing else
    assert any(p.name.startswith(".m.tmp-") for p in tmp_path.iterdir())
    (tmp_path / "keep.txt").write_text("mine")
    again = runner.invoke(app, ["build", str(small_data), "--out", str(out), "--force"])
    assert again.exit_code == 0, again.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "m"]


def test_readers_during_rebuilds_see_one_whole_model(
    small_data: Path, small_model: Path, tmp_path: Path
) -> None:
    out = copy(small_model, tmp_path, "m")
    done = threading.Event()
    failures: list[str] = []
    seen: set[int] = set()

    def rebuild() -> None:
        try:
            for seed in (21, 22, 23):
                r = _cli(
                    "build", str(small_data), "--out", str(out), "--force", "--seed", str(seed)
                )
                if r.returncode != 0:
                    failures.append(r.stderr.decode())
        finally:
            done.set()

    worker = threading.Thread(target=rebuild)
    worker.start()
    reads = 0
    while not done.is_set():
        try:
            folder = ModelFolder.open(out)
            seen.add(int(folder.manifest["seed"]))
            reads += 1
        except ModelError as exc:
            failures.append(str(exc))
    worker.join()
    assert failures == []
    assert reads > 10
    assert len(seen) >= 2  # the readers did see the swaps happen


def test_read_only_place_fails_before_the_work(
    small_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # root ignores permission bits, so the refusal of a read-only file system is
    # simulated where the build first touches the place: reserving its folder
    import tempfile

    phases: list[str] = []

    def refuse(*args: object, **kwargs: object) -> str:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(Exception) as info:
        build(small_data, tmp_path / "m", config=Config(), phase=phases.append)
    assert getattr(info.value, "exit_code", None) == 7
    assert "Read-only file system" in str(info.value)
    assert phases == []  # refused before reading a single row


def test_force_never_deletes_files_a_build_did_not_write(
    small_data: Path, small_model: Path, tmp_path: Path
) -> None:
    out = copy(small_model, tmp_path, "m")
    (out / "NOTES.md").write_text("why we chose this model")
    (out / ".ssh").mkdir()
    result = runner.invoke(app, ["build", str(small_data), "--model", str(out), "--force"])
    assert result.exit_code == 2
    assert "also holds files no build wrote" in result.stderr
    assert (out / "NOTES.md").read_text() == "why we chose this model"
    assert (out / ".ssh").is_dir()


def test_the_current_folder_is_never_the_model(
    small_data: Path, small_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = copy(small_model, tmp_path, "m")
    monkeypatch.chdir(out)
    result = runner.invoke(app, ["build", str(small_data), "--model", ".", "--force"])
    assert result.exit_code == 2
    assert "current folder" in result.stderr
    assert ModelFolder.open(out).as_of


def test_output_to_devices_links_and_model_links(
    small_data: Path, small_model: Path, tmp_path: Path
) -> None:
    link = tmp_path / "current"
    link.symlink_to(small_model)
    result = runner.invoke(
        app, ["score", str(small_data), "--model", str(link), "-o", str(link / "model.json")]
    )
    assert result.exit_code == 2
    assert "inside a model folder" in result.stderr
    assert ModelFolder.open(small_model).as_of
    # a device is written in place, never replaced by a file
    result = runner.invoke(
        app, ["score", str(small_data), "--model", str(small_model), "-o", "/dev/null"]
    )
    assert result.exit_code == 0, result.stderr
    assert Path("/dev/null").is_char_device()
    # a link to a file: the target is written, the link stays, the mode is kept
    target = tmp_path / "scores.csv"
    target.write_text("old")
    target.chmod(0o644)
    (tmp_path / "latest.csv").symlink_to(target)
    result = runner.invoke(
        app,
        ["score", str(small_data), "--model", str(small_model), "-o", str(tmp_path / "latest.csv")],
    )
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "latest.csv").is_symlink()
    assert target.read_text().startswith("person_id,score")
    assert target.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("kind", ["folder", "fifo", "device", "loop"])
def test_a_folder_entry_that_is_not_a_file(small_model: Path, tmp_path: Path, kind: str) -> None:
    # never read forever, never block on a pipe, never exit 1 or 7: exit 5 naming it
    target = copy(small_model, tmp_path)
    (target / "model.json").unlink()
    if kind == "folder":
        (target / "model.json").mkdir()
    elif kind == "fifo":
        os.mkfifo(target / "model.json")
    elif kind == "device":
        (target / "model.json").symlink_to("/dev/zero")
    else:
        (target / "model.json").symlink_to(target / "model.json")
    result = runner.invoke(app, ["card", "P0000001", "--model", str(target)])
    assert result.exit_code == 5, result.stderr
    assert "model.json" in result.stderr


def test_a_manifest_nested_too_deep_is_corrupt(small_model: Path, tmp_path: Path) -> None:
    target = copy(small_model, tmp_path)
    (target / MANIFEST_FILE).write_text("[" * 200_000)
    result = runner.invoke(app, ["card", "P0000001", "--model", str(target)])
    assert result.exit_code == 5
    assert "manifest.json is corrupt" in result.stderr


def test_model_path_that_loops(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    result = runner.invoke(app, ["card", "P1", "--model", str(tmp_path / "a")])
    assert result.exit_code == 5
    assert "loop" in result.stderr


@pytest.mark.parametrize("person", ["\udcff", "A" * 100_000, "\udcffP0000001"])
def test_ids_no_folder_can_hold(small_model: Path, small_data: Path, person: str) -> None:
    for extra in ([], ["--data", str(small_data)]):
        result = runner.invoke(app, ["card", person, "--model", str(small_model), *extra])
        assert result.exit_code == 4, result.stderr
        assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
