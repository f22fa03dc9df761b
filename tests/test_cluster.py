"""--cluster: the persons' features on Dask's workers, training with xgboost.dask (DESIGN 9).

A LocalCluster of two worker processes stands in for a cluster: the features
must equal the in-process ones bit for bit, the model must learn as well as
the in-process one (holdout AUC within 0.005) and its points must add up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from tests.conftest import SAMPLE_DATA
from trustscore.cli import app
from trustscore.cluster import Cluster
from trustscore.config import Config
from trustscore.errors import ResourceError, UsageError
from trustscore.features import FeatureConfig, compute_features, default_as_of, partition
from trustscore.features.partition import Slice, Spooled, compute_features_partitioned, spool
from trustscore.ingest import read_folder
from trustscore.model import to_matrix
from trustscore.model_folder import SCORES_FILE, ModelFolder
from trustscore.pipeline import build, prepare

runner = CliRunner()
DIMENSIONS = ["credit_history", "behaviour", "capacity", "identity", "connections"]


@pytest.fixture
def spooled(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The folders partitions were spooled to (partition.spool, spied on)."""
    found: list[Path] = []

    def spy(part: Slice, folder: Path) -> Spooled:
        found.append(folder)
        return spool(part, folder)

    monkeypatch.setattr(partition, "spool", spy)
    return found


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with Cluster("local", workers=2) as c:
        yield c


@pytest.mark.parametrize("way", ["spooled", "through dask"])
def test_partitions_on_the_workers_equal_the_whole_table(
    cluster: Cluster,
    way: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spooled: list[Path],
) -> None:
    """Both ways a partition reaches its worker: as Arrow files in a temporary
    folder (a local cluster), or inside its Dask task (a remote one)."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None  # read TMPDIR again
    tables, _ = read_folder(SAMPLE_DATA)
    as_of = default_as_of(tables)
    config = FeatureConfig(counterfeit_in_model=True)
    whole = compute_features(tables, as_of, config)
    run = cluster.run_slices if way == "spooled" else cluster.map
    split = compute_features_partitioned(tables, as_of, config, parts=cluster.parts, run=run)
    tempfile.tempdir = None
    assert cluster.parts == 4
    assert_frame_equal(whole.frame, split.frame, check_exact=True)
    assert_frame_equal(whole.events, split.events, check_exact=True)
    if way == "spooled":
        assert len(spooled) == 4 and all(tmp_path in p.parents for p in spooled)
    assert list(tmp_path.iterdir()) == []  # the spooled partitions are gone


def test_features_cli_on_a_local_cluster_gives_the_same_bytes(tmp_path: Path) -> None:
    here, there = tmp_path / "here.csv", tmp_path / "there.csv"
    assert runner.invoke(app, ["features", str(SAMPLE_DATA), "-o", str(here)]).exit_code == 0
    result = runner.invoke(
        app, ["features", str(SAMPLE_DATA), "--cluster", "local", "-o", str(there)]
    )
    assert result.exit_code == 0, result.stderr
    assert "on the Dask cluster local: " in result.stderr
    assert here.read_bytes() == there.read_bytes()


def test_a_model_trained_on_the_cluster(
    cluster: Cluster, sample_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cluster-model"
    result = build(SAMPLE_DATA, out, config=Config(), cluster=cluster)
    here = ModelFolder.open(sample_model)
    there = ModelFolder.open(out)  # a whole, sealed model folder
    auc_here = json.loads((sample_model / "metrics.json").read_text())["holdout"]["auc"]
    assert abs(result.metrics["holdout"]["auc"] - auc_here) <= 0.005
    assert result.metrics["holdout"]["auc"] > 0.75
    # the same persons, features and split; only the trees differ
    assert there.specs == here.specs
    split = pl.col("split")
    assert_frame_equal(
        there.frame(SCORES_FILE).select("person_id", split),
        here.frame(SCORES_FILE).select("person_id", split),
    )
    scores = there.frame(SCORES_FILE)
    total = scores.select(pl.sum_horizontal("base_points", *DIMENSIONS)).to_series()
    # each part is rounded to 0.01, so six parts differ from the total by < 0.04
    assert (total - scores["model_score"]).abs().max() < 0.04  # type: ignore[operator]
    # unrounded, the dimensions' margins add up to the forest's: the interaction
    # constraints held on the workers too
    model = there.load_model()
    X = to_matrix(prepare(SAMPLE_DATA, config=Config()).features.frame, model.specs)
    bias, groups = model.group_margins(X)
    assert np.abs(bias + groups.sum(axis=1) - model.margin(X)).max() < 1e-4
    final = (scores["model_score"] - scores["penalty"]).clip(350, 950)
    # the score is the unrounded one rounded; model_score is stored to 0.01
    assert (final - scores["score"]).abs().max() <= 0.505  # type: ignore[operator]


def test_score_on_a_local_cluster_gives_the_same_bytes(sample_model: Path) -> None:
    args = ["score", str(SAMPLE_DATA), "--model", str(sample_model), "-f", "csv"]
    here = runner.invoke(app, args)
    there = runner.invoke(app, [*args, "--cluster", "local", "--reasons", "2"])
    assert here.exit_code == 0 and there.exit_code == 0, there.stderr
    reasons = runner.invoke(app, [*args, "--reasons", "2"])
    assert there.stdout == reasons.stdout
    assert here.stdout.splitlines()[1] in reasons.stdout.splitlines()[1]


def test_shops_are_refused_before_a_cluster_starts(shop_model: Path) -> None:
    for args in (
        ["features", str(SAMPLE_DATA), "--entity", "merchant"],
        ["score", str(SAMPLE_DATA), "--model", str(shop_model)],
    ):
        result = runner.invoke(app, [*args, "--cluster", "local"])
        assert result.exit_code == 2, result.stderr
        assert "--cluster computes persons' features" in result.stderr
        assert "on the Dask cluster" not in result.stderr


def test_build_refuses_its_model_place_before_a_cluster_starts(
    tmp_path: Path, sample_model: Path, clients_made: list[object]
) -> None:
    taken = tmp_path / "a file"
    taken.write_text("mine")
    cases = [
        (taken, "exists and is not a folder"),
        (sample_model, "already holds a model"),  # no --force
        (tmp_path / "no such folder" / "m", "no folder"),
    ]
    for place, said in cases:
        result = runner.invoke(
            app, ["build", str(SAMPLE_DATA), "--model", str(place), "--cluster", "local"]
        )
        assert result.exit_code == 2, result.stderr
        assert said in result.stderr
        assert "on the Dask cluster" not in result.stderr
    assert clients_made == []
    assert taken.read_text() == "mine"


def test_a_bad_address_is_a_usage_error() -> None:
    result = runner.invoke(app, ["features", str(SAMPLE_DATA), "--cluster", "no port here"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --cluster 'no port here' is not a scheduler address")
    assert "Traceback" not in result.stderr


@pytest.fixture
def clients_made(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every dask Client constructed (the real one, counted)."""
    import distributed

    made: list[object] = []
    real = distributed.Client.__init__

    def counted(self: object, *args: object, **kwargs: object) -> None:
        made.append(args)
        real(self, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "__init__", counted)
    return made


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:1", "127.0.0.1:1"])
def test_a_scheduler_nobody_runs_is_exit_7(address: str, clients_made: list[object]) -> None:
    with (
        pytest.raises(ResourceError, match="cannot reach the Dask scheduler"),
        Cluster(address, timeout=1),
    ):
        pass
    # found before any client starts: a client that fails to start leaves its
    # event-loop thread behind, and the next client's start can time out on it
    assert clients_made == []


@pytest.mark.parametrize("address", ["no port here", "tcp://host-without-port", ""])
def test_a_malformed_address_starts_no_client(address: str, clients_made: list[object]) -> None:
    with pytest.raises(UsageError, match="is not a scheduler address"), Cluster(address):
        pass
    assert clients_made == []


def test_a_client_that_fails_to_start_is_one_line_exit_7(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever Dask raises while a client starts (seen in CI: an AssertionError
    from its event-loop thread) is one line and exit 7, not a traceback."""
    import distributed

    def broken(self: object, *args: object, **kwargs: object) -> None:
        raise AssertionError

    monkeypatch.setattr(distributed.Client, "__init__", broken)
    result = runner.invoke(app, ["features", str(SAMPLE_DATA), "--cluster", "local"])
    assert result.exit_code == 7, result.stderr
    assert result.stderr.startswith("error: cannot start a local Dask cluster: AssertionError")
    assert "Traceback" not in result.stderr


def test_without_dask_the_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    result = runner.invoke(app, ["features", str(SAMPLE_DATA), "--cluster", "local"])
    assert result.exit_code == 2
    assert "--cluster needs Dask" in result.stderr
    assert "trustscore[cluster]" in result.stderr


def test_dask_is_imported_only_with_cluster(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from trustscore.cli import main\n"
        f"sys.argv = ['trustscore', 'features', {str(SAMPLE_DATA)!r}, '-o', "
        f"{str(tmp_path / 'f.csv')!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def _die(_: int) -> int:
    os._exit(1)


def test_a_worker_that_dies_is_exit_7_not_a_traceback() -> None:
    """A worker killed under a partition (the kernel's OOM killer, say): Dask retries
    it on others, then gives up; that is the machine's refusal (exit 7)."""
    import dask

    # Dask retries a task on new workers 3 times first; once is enough here
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        Cluster("local", workers=1) as c,
    ):
        with pytest.raises(ResourceError, match="a Dask worker died") as caught:
            list(c.map(_die, [1]))
        assert caught.value.exit_code == 7


@pytest.mark.parametrize("shared", [True, False], ids=["spool", "no-spool"])
def test_a_remote_cluster_reads_partitions_from_the_spool_folder(
    tmp_path: Path, shared: bool, spooled: list[Path]
) -> None:
    """A cluster reached by its address: with --spool the partitions go through
    that folder (shared storage), without it through Dask; the same table."""
    import dask.distributed

    tables, _ = read_folder(SAMPLE_DATA)
    as_of = default_as_of(tables)
    whole = compute_features(tables, as_of)
    with (
        dask.distributed.LocalCluster(
            n_workers=1, threads_per_worker=1, dashboard_address=":0", host="127.0.0.1"
        ) as remote,
        Cluster(remote.scheduler_address, spool=tmp_path if shared else None) as c,
    ):
        split = compute_features_partitioned(tables, as_of, parts=c.parts, run=c.run_slices)
    assert_frame_equal(whole.frame, split.frame, check_exact=True)
    assert len(spooled) == (2 if shared else 0)
    assert all(tmp_path in p.parents for p in spooled)
    assert list(tmp_path.iterdir()) == []


def test_spool_needs_a_cluster_and_a_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["features", str(SAMPLE_DATA), "--spool", str(tmp_path)])
    assert result.exit_code == 2
    assert "use it with --cluster" in result.stderr
    missing = tmp_path / "nowhere"
    result = runner.invoke(
        app, ["features", str(SAMPLE_DATA), "--cluster", "local", "--spool", str(missing)]
    )
    assert result.exit_code == 2
    assert "is not a folder" in result.stderr
    assert "on the Dask cluster" not in result.stderr


def test_spools_of_killed_runs_are_cleaned_and_nothing_else(
    tmp_path: Path, cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run killed outright (SIGKILL, out of memory) leaves its partitions; the
    next run on this machine removes them, and only them."""
    from trustscore import cluster as cluster_mod

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    host = cluster_mod._HOST
    stale = tmp_path / f"trustscore-partitions-{host}-{dead.stdout.strip()}-x1"
    (stale / "0").mkdir(parents=True)
    (stale / "0" / "3.arrow").write_bytes(b"old")
    alive = tmp_path / f"trustscore-partitions-{host}-{os.getpid()}-x2"  # a run going on
    (alive / "0").mkdir(parents=True)
    (alive / "0" / "3.arrow").write_bytes(b"busy")
    theirs = tmp_path / f"trustscore-partitions-{host}-{dead.stdout.strip()}-x3"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("not ours")  # named like ours, holding other things
    monkeypatch.setattr(cluster, "spool", tmp_path)
    tables, _ = read_folder(SAMPLE_DATA)
    as_of = default_as_of(tables)
    compute_features_partitioned(tables, as_of, parts=2, run=cluster.run_slices)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, theirs.name])


def test_a_terminated_build_leaves_nothing_behind(tmp_path: Path) -> None:
    """`kill` (SIGTERM) while a --cluster build's partitions are spooled: exit 143,
    no model folder or half of one, no spooled partitions (they were 2.3 GB at a
    million persons when this was found)."""
    import signal
    import time

    from trustscore.sample import generate

    data = tmp_path / "data"
    generate(data, persons=20000, seed=3)
    out = tmp_path / "model"
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    env = {**os.environ, "TMPDIR": str(spool_dir)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trustscore",
            "build",
            str(data),
            "--out",
            str(out),
            "--cluster",
            "local",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith("trustscore-partitions") for p in spool_dir.iterdir()):
        assert proc.poll() is None, "the build ended before its partitions were spooled"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 143
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".model")] == []
    assert [p.name for p in spool_dir.iterdir() if p.name.startswith("trustscore-part")] == []
