"""Running on a Dask cluster: ``--cluster ADDRESS`` or ``--cluster local`` (DESIGN 9).

The persons' feature table is computed a partition at a time
(features/partition.py): this process reads and checks the data and works
out the as-of view and the aggregates over everyone, and each partition's
feature queries run on a worker. The model trains with ``xgboost.dask``
under the same parameters, monotone and interaction constraints
(``TrustModel.fit(trainer=...)``). Everything else, the scoring, points and
the model folder, is this process's, as without a cluster.

``dask`` and ``distributed`` are the optional extra ``trustscore[cluster]``,
imported only here and only when a cluster is asked for.
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import shutil
import socket
import tempfile
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt

from trustscore.errors import ResourceError, UsageError
from trustscore.model_folder import process_alive

if TYPE_CHECKING:
    import polars as pl

    from trustscore.features.partition import Slice, Spooled

    SliceResult = tuple[pl.DataFrame, pl.DataFrame]

LOCAL = "local"
PARTS_PER_WORKER = 2  # partitions per worker: each smaller, so less is held and sent at once

In = TypeVar("In")
Out = TypeVar("Out")


def _dask(module: str = "dask.distributed") -> Any:
    """``module`` of the cluster extra (xgboost.dask only to train: it loads pandas)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise UsageError(
            f"--cluster needs Dask, which is not installed ({exc})",
            hint="install the extra: pip install 'trustscore[cluster]'",
        ) from None


_SPOOL = "trustscore-partitions-"
_HOST = socket.gethostname().replace("-", "_")


def _clean_stale_spools(where: Path) -> None:
    """Remove the spooled partitions of runs on this machine that were killed
    (SIGKILL, out of memory): only folders named as ours, from a process that is
    gone, holding nothing but our Arrow files."""
    for folder in where.glob(f"{_SPOOL}{_HOST}-*"):
        pid = folder.name.removeprefix(f"{_SPOOL}{_HOST}-").split("-")[0]
        if not folder.is_dir() or not pid.isdigit() or process_alive(int(pid)):
            continue
        files = [f for f in folder.rglob("*") if not f.is_dir()]
        if all(f.suffix == ".arrow" for f in files):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _big_tasks_allowed() -> Iterator[None]:
    """Without Dask's warnings that a task carries much data: ours do on purpose."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "(Large object|Sending large graph)")
        yield


def _reach(address: str, timeout: float) -> None:
    """Check that ``address`` names a scheduler that accepts connections, before
    a Dask client starts: a client that fails to start leaves its thread behind."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address, strict=False)
        host, port = parse_host_port(location) if scheme in ("tcp", "tls") else ("", 0)
    except ValueError as exc:
        raise UsageError(
            f"--cluster {address!r} is not a scheduler address: {exc}",
            hint="give tcp://HOST:PORT, or local",
        ) from None
    if not host:
        return  # another transport: the client says whether it is there
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        raise _unreachable(address, str(exc)) from None


def _unreachable(address: str, why: str) -> ResourceError:
    if address == LOCAL:
        return ResourceError(
            f"cannot start a local Dask cluster: {why}",
            hint="run again; or start a scheduler and workers and give --cluster ADDRESS",
        )
    return ResourceError(
        f"cannot reach the Dask scheduler at {address!r}: {why}",
        hint="start one (dask scheduler) and its workers, or use --cluster local",
    )


class Cluster:
    """A connection to a Dask scheduler (or a LocalCluster here), open while in ``with``."""

    def __init__(
        self,
        address: str,
        *,
        workers: int | None = None,
        timeout: float = 10,
        spool: Path | None = None,
    ) -> None:
        self.address = address
        # a folder every worker can read (shared storage): the partitions go to the
        # workers through it; a local cluster uses a temporary folder of this machine
        self.spool = spool
        self._workers = workers  # local only: how many worker processes (default: cores)
        self._timeout = timeout  # seconds to reach a scheduler
        self._local: Any = None
        self.client: Any = None
        self._killed: type[BaseException] = RuntimeError  # distributed.KilledWorker, once open

    def __enter__(self) -> Cluster:
        if self.spool is not None and not self.spool.is_dir():
            raise UsageError(
                f"--spool {str(self.spool)!r} is not a folder",
                hint="give a folder every worker can read (shared storage)",
            )
        distributed = _dask()
        self._killed = distributed.KilledWorker
        if self.address != LOCAL:
            _reach(self.address, self._timeout)
        try:
            if self.address == LOCAL:
                self._local = distributed.LocalCluster(
                    n_workers=self._workers,
                    threads_per_worker=1,
                    processes=True,
                    host="127.0.0.1",  # only this machine reaches it
                    dashboard_address=":0",  # a free port: two at once never clash
                    silence_logs=logging.CRITICAL,  # failures come back as our errors
                )
            self.client = distributed.Client(
                self._local if self._local is not None else self.address,
                timeout=f"{self._timeout}s",
            )
        except Exception as exc:  # whatever Dask raises, it is one line and exit 7
            failure = f"{type(exc).__name__}: {exc}".rstrip(": ")
        else:
            failure = ""
        if failure:
            self.close()
            # a Client whose start failed is closed by its __del__, which waits on
            # its event loop; run by the collector in another client's starting
            # thread, it may hold that start up (the likely cause of a CI failure):
            # collect it here, now
            gc.collect()
            raise _unreachable(self.address, failure)
        if self.workers == 0:
            self.close()
            raise ResourceError(
                f"the Dask scheduler at {self.address!r} has no workers",
                hint="start workers: dask worker ADDRESS",
            )
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
        if self._local is not None:
            self._local.close()
            self._local = None

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    @property
    def parts(self) -> int:
        """How many partitions the persons fall into: a few per worker."""
        return max(2, PARTS_PER_WORKER * self.workers)

    def map(
        self,
        fn: Callable[[In], Out],
        items: Iterable[In],
        done: Callable[[In], None] | None = None,
    ) -> Iterator[Out]:
        """``fn`` over ``items`` on the workers, results in order; ``done(item)``
        once an item's result is in.

        Items are made (and sent) only as workers free up, so this process
        never holds more than a few partitions at once.
        """
        window = max(1, self.workers)
        pending: deque[tuple[In, Any]] = deque()

        def next_result() -> Out:
            item, future = pending.popleft()
            result: Out = self._result(future)
            if done is not None:
                done(item)
            return result

        for item in items:
            # the data travel in the task, so that the scheduler can hand it to
            # another worker should this one die (scattered data die with it)
            with _big_tasks_allowed():
                pending.append((item, self.client.submit(fn, item, pure=False)))
            if len(pending) > window:
                yield next_result()
        while pending:
            yield next_result()

    def run_slices(
        self, fn: Callable[[Slice], SliceResult], slices: Iterable[Slice]
    ) -> Iterator[SliceResult]:
        """The persons' partitions on the workers (a ``partition.Runner``).

        Each partition goes to its worker as Arrow files in a folder of its own
        in the spool folder (``--spool``; on a local cluster, by default, this
        machine's temporary folder), much faster than through Dask's
        connections, and is deleted once its result is in. Without a spool
        folder, on a remote cluster, partitions travel through Dask.
        """
        from trustscore.features.partition import slice_features, spool, spooled_features

        where = self.spool
        if where is None and self._local is not None:
            where = Path(tempfile.gettempdir())
        if where is None or fn is not slice_features:
            yield from self.map(fn, slices)
            return
        _clean_stale_spools(where)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_SPOOL}{_HOST}-{os.getpid()}-", dir=where))
        try:
            spooled = (spool(part, tmp / str(k)) for k, part in enumerate(slices))

            def remove(part: Spooled) -> None:
                for file in part.files.values():
                    if file is not None:
                        Path(file).unlink(missing_ok=True)

            yield from self.map(spooled_features, spooled, done=remove)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _result(self, future: Any) -> Any:
        try:
            return future.result()
        except self._killed as exc:
            raise self._died(exc) from None

    def _died(self, exc: BaseException) -> ResourceError:
        return ResourceError(
            f"a Dask worker died while working on it ({exc}); out of memory?",
            hint="give the workers more memory, or start more of them",
        )

    def train(
        self,
        params: dict[str, Any],
        X: npt.NDArray[np.float32],
        y: npt.NDArray[Any],
        feature_types: list[str],
        rounds: int,
        evals: list[tuple[npt.NDArray[np.float32], npt.NDArray[Any], str]],
        callbacks: list[Any],
        history: dict[str, dict[str, list[float]]],
    ) -> Any:
        """``xgboost.dask.train`` on the rows, spread over the workers (a ``model.Trainer``)."""
        xgb_dask = _dask("xgboost.dask")
        da = _dask("dask.array")
        n = self.workers

        def matrix(xs: npt.NDArray[np.float32], ys: npt.NDArray[Any]) -> Any:
            rows = max(1, -(-xs.shape[0] // n))
            return xgb_dask.DaskDMatrix(
                self.client,
                da.from_array(xs, chunks=(rows, xs.shape[1])),
                da.from_array(ys, chunks=(rows,)),
                missing=np.nan,
                feature_types=feature_types,
                enable_categorical=True,
            )

        try:
            with _big_tasks_allowed():  # the rows travel in the graph, once
                found = xgb_dask.train(
                    self.client,
                    params,
                    matrix(X, y),
                    num_boost_round=rounds,
                    evals=[(matrix(xs, ys), name) for xs, ys, name in evals],
                    callbacks=callbacks,
                    verbose_eval=False,
                )
        except self._killed as exc:
            raise self._died(exc) from None
        history.update(found["history"])
        return found["booster"]
