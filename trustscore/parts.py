"""Larger than memory on one machine: ``--parts N`` (DESIGN 9).

The whole-table path holds every order and shipment in memory, typed, while
it checks them and computes the features: about 4.5 GB at a million persons
from Parquet, so five million do not fit a 24 GB machine. Here the two large
tables, transactions and logistics, are never held whole:

1. **Checked a piece at a time.** Each is read in pieces (``CHUNK_ROWS``
   rows of Parquet; a CSV in ingest's own pieces of text, which wait typed in
   the spool until the rows to drop are known), and every piece is checked by
   the code and rules that check a whole table, its rows numbered as in the
   file. What spans pieces is checked on the columns it needs alone: unique
   keys on the key column; a shipment's order against an index of the
   orders (``txn_id``, ``ts``, ``pid``, ``mid`` and a hash of the id, searched
   by ``_OrderIndex``: about 44 bytes an order); the unlikely rows
   (``unlikely.RULES``) merged piece by piece. consumers and merchants, a row
   per person or shop, are read whole. The report is the whole-table one,
   problem for problem, in the same order (tests/test_parts.py).
2. **Spooled by partition.** A piece's orders and shipments are written to
   Arrow files (lz4) in a temporary folder, by partition of the persons
   (``partition.partition_of``): each row to its buyer's partition and, when
   the shop's owner is a person of another, to the owner's too.
3. **Features a partition at a time.** The aggregates over everyone
   (``registry.SHARED``) are computed first by Polars' streaming engine over
   every file; then each partition's rows are read back, seen as of the as-of
   date by ``as_of_view``'s own functions, and run through the feature
   queries (``partition.slice_features``). The feature table is the
   whole-table one, bit for bit.

The checks end as the whole table's end: problems stop the command, and
under ``--lenient`` the same rows are dropped (a dropped order's shipments then
dangle and go too; a shop whose owner is no person is kept without one).
The spool needs room for about the orders and shipments again (lz4): 14.8 GB
at five million persons (benchmarks/README.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from trustscore.cluster import _HOST, _SPOOL, _clean_stale_spools
from trustscore.data_tables import DataTables
from trustscore.errors import DataError, Problem, ResourceError, UsageError
from trustscore.features.as_of_view import (
    ORDER_OF_SHIPMENT,
    AsOfView,
    orders_known,
    shipments_known,
    shops_known,
    shops_of,
)
from trustscore.features.block import FeatureConfig
from trustscore.features.compute import FeatureResult, plan
from trustscore.features.partition import Slice, assemble, partition_of, slice_features
from trustscore.features.registry import SHARED
from trustscore.ingest import (
    _ABSENT,
    _ROW,
    MAX_SHOWN,
    STDIN,
    Report,
    TableReport,
    _beyond_calendar,
    _check_references,
    _dangling,
    _drop,
    _duplicate_keys,
    _Fatal,
    _handed_on,
    _parquet_schema,
    _passthrough_types,
    _problem_rows,
    _Read,
    _read_csv,
    _read_parquet,
    _read_table,
    _source,
    _text,
)
from trustscore.notes import Note
from trustscore.schema import TABLES, Table
from trustscore.unlikely import RULES, Found, link_column

CHUNK_ROWS = 4_000_000  # rows of a large table read and checked at a time
_OWN = "\x00own"  # this copy of a row is the one in its buyer's partition
# the order in which the whole-table path reports (ingest.read_folder): each
# table's rows, then the references, column by column
_PHASES = (
    ("consumers", "rows"),
    ("merchants", "rows"),
    ("transactions", "rows"),
    ("logistics", "rows"),
    ("merchants", "owner_id"),
    ("transactions", "buyer_id"),
    ("transactions", "merchant_id"),
    ("logistics", "txn_id"),
)
_HASH_SEED = 7  # any fixed number
# columns no feature reads, left out of the spool (a feature that came to read
# one would fail loudly: the column is not there)
_UNREAD = {"orders": ("buyer_id",), "shipments": ("shipment_id", "txn_id")}
_INDEX = {"txn_id": pl.String(), "ts": pl.Datetime("us"), "pid": pl.UInt32(), "mid": pl.UInt32()}


# ---------------------------------------------------------------- problems


@dataclass
class _Pending:
    """One file's problems of one phase: the first MAX_SHOWN in order, all counted."""

    file: str = ""
    shown: list[tuple[tuple[int, int], Problem]] = field(default_factory=list)
    count: int = 0
    fatal: bool = False
    looked: bool = False  # checked at all: the file is in the report's counts, maybe at 0


class _Problems:
    """Problems found piece by piece, reported as the whole-table path reports them."""

    def __init__(self) -> None:
        self.phases = {p: _Pending() for p in _PHASES}
        self._seq = 0

    def take(self, phase: tuple[str, str], scratch: Report, file: str, *, by_row: bool) -> None:
        """What a piece's own report holds. ``by_row``: merged by (row, column),
        as ``ingest._problems`` sorts a table's own problems; otherwise after
        those taken before (a later piece's come later)."""
        rank = {c.name: i for i, c in enumerate(TABLES[phase[0]].columns, 1)}

        def key(p: Problem) -> tuple[int, int]:
            if by_row:  # a repeated key is ranked before the row's cells
                return (
                    p.line or 0,
                    0 if p.rule == "duplicate_key" else rank.get(p.column or "", 0),
                )
            self._seq += 1
            return (self._seq, 0)

        pending = self.phases[phase]
        pending.file = file
        pending.count += scratch.counts.get(file, 0)
        pending.looked = pending.looked or file in scratch.counts
        pending.fatal = pending.fatal or scratch.fatal
        mine = [(key(p), p) for p in scratch.problems if p.file == file]
        pending.shown = sorted(pending.shown + mine, key=lambda kp: kp[0])[:MAX_SHOWN]

    @property
    def any(self) -> bool:
        return any(p.count or p.fatal for p in self.phases.values())

    def into(self, report: Report) -> None:
        for pending in self.phases.values():
            if pending.looked:
                report.counts.setdefault(pending.file, 0)
            if pending.count or pending.fatal:
                for _, problem in pending.shown:
                    report.add(problem)
                report.counts[pending.file] += pending.count - len(pending.shown)
                report.fatal = report.fatal or pending.fatal


class _Unlikely:
    """The unlikely rows, piece by piece, in bounded memory: of a large table's
    rows the first MAX_SHOWN (all that a warning or ``--strict`` shows) and their
    count; for a person or a shop, the first order over every piece (at most a
    row each)."""

    def __init__(self) -> None:
        self.rows: dict[str, pl.DataFrame] = {}
        self.counts: dict[str, int] = {}

    def add(self, table: str, tables: dict[str, pl.DataFrame]) -> None:
        """The rules over ``table``'s rows whose tables are all here."""
        for rule in RULES:
            is_mine = rule.table == table or (table == "transactions" and rule.table != "logistics")
            if not is_mine or not all(name in tables for name in rule.needs):
                continue
            found = rule.find(tables, _ROW)
            if found.height == 0:
                continue
            kept = self.rows.get(rule.code)
            both = found if kept is None else pl.concat([kept, found])
            if rule.table in ("consumers", "merchants"):  # one per person or shop: the first
                self.rows[rule.code] = (
                    both.sort("ts", maintain_order=True)
                    .group_by(_ROW, maintain_order=True)
                    .agg(pl.all().first())
                    .sort(_ROW)
                    .select(found.columns)
                )
            else:
                self.rows[rule.code] = both.head(MAX_SHOWN)
                self.counts[rule.code] = self.counts.get(rule.code, 0) + found.height

    def found(self, files: Mapping[str, str]) -> list[Found]:
        return [
            Found(rule, self.rows[rule.code], files.get(rule.table), self.counts.get(rule.code))
            for rule in RULES
            if rule.code in self.rows
        ]


# ---------------------------------------------------------------- the spool


@dataclass
class _Spool:
    """The partitions' files, and what was learned of the orders on the way."""

    folder: Path
    parts: int
    files: dict[str, list[list[Path]]]  # "orders"/"shipments" -> per partition
    named: pl.DataFrame  # merchant_id, mid: the shops in order of first appearance
    index: list[pl.DataFrame] = field(default_factory=list)  # per piece of orders: _INDEX
    latest: dt.datetime | None = None  # the last order's ts
    orders: int = 0  # orders seen (clean): the next one's tid

    def write(self, kind: str, frame: pl.DataFrame, buyer: pl.Series, owner: pl.Series) -> None:
        """``frame``'s rows to the files of their buyer's partition and, where
        another, their shop owner's (null: none)."""
        for part in range(self.parts):
            mine = buyer == part
            keep = mine | (owner == part).fill_null(False)
            rows = frame.filter(keep).with_columns(mine.filter(keep).alias(_OWN))
            if rows.height:
                files = self.files[kind][part]
                path = self.folder / f"{kind}-{part}-{len(files)}.arrow"
                _write(rows, path)
                files.append(path)

    def number_shops(self, ids: pl.Series) -> pl.Series:
        """Each order's ``mid``, numbering shops new to the spool as they come."""
        new = ids.unique(maintain_order=True)
        new = new.filter(~new.is_in(self.named.get_column("merchant_id").implode()))
        if new.len():
            start = self.named.height
            self.named = pl.concat(
                [
                    self.named,
                    new.to_frame("merchant_id").with_row_index("mid", offset=start),
                ],
                how="diagonal",
            ).select("merchant_id", "mid")
        return (
            ids.to_frame("merchant_id")
            .lazy()
            .join(self.named.lazy(), on="merchant_id", how="left", maintain_order="left")
            .collect()
            .get_column("mid")
        )


def _write(frame: pl.DataFrame, path: Path) -> None:
    """An Arrow file of the spool; a full disk is exit 7 naming the spool."""
    try:
        frame.write_ipc(path, compression="lz4")
    except OSError as exc:
        raise _no_room(path.parent, exc) from None
    except pl.exceptions.ComputeError as exc:  # how Polars may report a failed write
        raise _no_room(path.parent, OSError(str(exc))) from None


@dataclass
class InParts:
    """A folder read in parts (``read_in_parts``), its rows waiting in a spool."""

    tables: DataTables  # consumers and merchants whole; the large tables empty, typed
    report: Report
    spool: _Spool
    person_part: pl.Series  # each person's partition, in consumers' order
    owner_part: pl.Series  # by mid: the partition of the shop's owner (null: none)

    def default_as_of(self) -> dt.date | None:
        """The day after the last order (None: no orders)."""
        latest = self.spool.latest
        return None if latest is None else latest.date() + dt.timedelta(days=1)

    def close(self) -> None:
        shutil.rmtree(self.spool.folder, ignore_errors=True)


# ---------------------------------------------------------------- reading


def read_in_parts(
    folder: Path | str,
    parts: int,
    *,
    strict: bool = False,
    lenient: bool = False,
    spool: Path | None = None,
) -> InParts:
    """Read and check ``folder``, its large tables a piece at a time, spooling
    their rows by partition (see the module) in a new folder in ``spool`` (the
    temporary folder by default). Raises DataError as ``read_folder`` does, and
    drops rows under ``lenient`` as it does; close the result to remove the spool."""
    if parts < 1:
        raise UsageError("--parts must be at least 1", hint="give a number of partitions, e.g. 8")
    if str(folder) == STDIN:
        raise UsageError("--parts reads a data folder, not stdin", hint="give the folder")
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"no data folder {str(folder)!r}", hint="give the folder of the tables")
    large = {name: _large(folder, TABLES[name]) for name in ("transactions", "logistics")}
    if spool is not None and not spool.is_dir():
        raise UsageError(
            f"--spool {str(spool)!r} is not a folder",
            hint="give a folder on a disk with room for a copy of the orders and shipments",
        )
    where = spool or Path(tempfile.gettempdir())
    _clean_stale_spools(where)
    try:
        made = Path(tempfile.mkdtemp(prefix=f"{_SPOOL}{_HOST}-{os.getpid()}-", dir=where))
    except OSError as exc:
        raise _no_room(where, exc) from None
    into = _Spool(
        made,
        parts,
        {kind: [[] for _ in range(parts)] for kind in ("orders", "shipments")},
        pl.DataFrame(schema={"merchant_id": pl.String, "mid": pl.UInt32}),
    )
    try:
        reader = _Reader(folder, into, strict=strict, lenient=lenient)
        return reader.read({k: v for k, v in large.items() if v})
    except BaseException:
        shutil.rmtree(into.folder, ignore_errors=True)
        raise


def _no_room(where: Path, exc: OSError) -> ResourceError:
    cause = exc.strerror or str(exc) or "the write failed (is the disk full?)"
    return ResourceError(
        f"cannot spool the partitions in {where}: {cause}",
        hint="free some space, or give --spool DIR on a disk with room for a copy of "
        "the orders and shipments",
    )


def _large(folder: Path, table: Table) -> Path | None:
    """The file of a large table (None: absent)."""
    source = _source(folder, table, None)
    assert source is None or isinstance(source, Path)
    return source


def _empty_rows() -> pl.DataFrame:
    return pl.DataFrame(schema={_ROW: pl.Int64, "rule": pl.String})


def _fatal(file: str, exc: BaseException) -> _Fatal:
    return _Fatal(
        Problem(file, None, None, None, f"a Parquet file ({str(exc)[:120]})", "not_parquet")
    )


def _key_duplicates(table: Table, path: Path, scratch: Report) -> pl.DataFrame:
    """The rows (``_ROW``, rule) whose key repeats an earlier row's, over the whole
    file, read from the key columns alone; their problems go to ``scratch``."""
    schema = _parquet_schema(path, table.filename)
    keys = [c.name for c in table.columns if c.unique and c.name in schema]
    if not keys:
        return _empty_rows()
    try:
        raw = pl.scan_parquet(path).select(keys).collect()
        raw = raw.with_row_index(_ROW, offset=1).with_columns(pl.col(_ROW).cast(pl.Int64))
        raw, beyond = _beyond_calendar(raw, {k: schema[k] for k in keys})
        frame = raw.select(_ROW, *(_text(k, beyond).alias(k) for k in keys))
    except (pl.exceptions.PolarsError, OSError):
        return _empty_rows()  # the pieces say what is wrong with the file
    found = _duplicate_keys(table, frame, keys)
    if found.height:
        scratch.extend(table.filename, found)
    return found.select(_ROW, "rule")


class _Reader:
    def __init__(self, folder: Path, spool: _Spool, *, strict: bool, lenient: bool) -> None:
        self.folder = folder
        self.spool = spool
        self.strict = strict
        self.lenient = lenient
        self.problems = _Problems()
        self.dropped = Report()  # what --lenient drops, as the whole-table path counts it
        self.notes: list[Note] = []  # reading's notes
        self.ref_notes: list[Note] = []  # the references', after them
        self.small: dict[str, _Read] = {}
        self.counted: dict[str, TableReport] = {}
        self.unlikely = _Unlikely()
        self.names: dict[str, str] = {}  # each table's file name

    # ---- the tables, in the whole-table path's order

    def read(self, large: dict[str, Path]) -> InParts:
        self._small()
        consumers = self.small.get("consumers")
        persons = (
            pl.Series("person_id", [], pl.String)
            if consumers is None
            else consumers.frame.get_column("person_id")
        )
        parts = self.spool.parts
        person_part = (
            persons.to_frame().select(partition_of(pl.col("person_id"), parts)).to_series()
        )
        merchants = self.small.get("merchants")
        shop_part = (
            None
            if merchants is None
            else merchants.frame.select(
                partition_of(pl.col("owner_id"), self.spool.parts)
            ).to_series()
        )
        if "transactions" in large:
            self._orders(large["transactions"], persons, person_part, shop_part)
        owner_part = self._owner_part(shop_part)
        if "logistics" in large:
            # orders whose file could not be read have no index to check against
            with_orders = "transactions" in self.counted
            self._shipments(large["logistics"], with_orders, person_part, owner_part)
        self.spool.index = []  # the index is for checking shipments: done
        return self._finish(large, person_part, owner_part)

    def _small(self) -> None:
        for name in ("consumers", "merchants"):
            table = TABLES[name]
            source = _source(self.folder, table, None)
            if source is None:
                if table.required:
                    raise DataError(
                        f"{table.filename} is missing",
                        where=str(self.folder),
                        hint="consumers.csv (one row per person) is the one table a folder needs",
                    )
                continue
            scratch = Report()
            got = _read_table(table, source, scratch)
            file = source.name if isinstance(source, Path) else table.filename
            self.names[name] = file
            self.problems.take((name, "rows"), scratch, file, by_row=False)
            self.notes.extend(scratch.notes)
            if got is None:
                continue
            self._empty(got)
            self.small[name] = got
        consumers = self.small.get("consumers")
        fatal = any(p.fatal for p in self.problems.phases.values())
        if consumers is not None and consumers.report.rows == 0 and not fatal:
            raise DataError(
                f"{consumers.table.filename} "
                + ("is empty" if consumers.empty_file else "has no rows"),
                where=str(self.folder),
                hint="one row per person is needed, under a header row naming the columns",
            )
        for got in self.small.values():
            _drop(got, got.bad_rows, self.dropped)
        if "merchants" in self.small:
            scratch = Report()
            _check_references(dict(self.small), scratch, self.lenient)
            file = self.small["merchants"].table.filename
            self.problems.take(("merchants", "owner_id"), scratch, file, by_row=False)
            self.ref_notes.extend(scratch.notes)  # shops kept without their owner

    @property
    def building(self) -> bool:
        """Whether what is read goes on to the spool: not once it cannot be built."""
        phases = self.problems.phases.values()
        return not any(p.fatal for p in phases) and (self.lenient or not self.problems.any)

    def _empty(self, got: _Read) -> None:
        if got.empty_file and not got.table.required:
            self.notes.append(
                Note(
                    "table_empty",
                    f"{got.table.filename} is empty: read as a table with no rows",
                    got.table.name,
                )
            )

    def _pieces(self, name: str, path: Path) -> Iterator[_Read]:
        """The table's pieces, each read and checked, rows with a problem dropped."""
        self.names[name] = path.name
        if path.suffix != ".parquet":
            yield from self._csv_pieces(name, path)
            return
        table = dataclasses.replace(TABLES[name], suffix="parquet")
        file = table.filename
        scratch = Report()
        try:
            total = int(pl.scan_parquet(path).select(pl.len()).collect().item())
            repeated = _key_duplicates(table, path, scratch)
        except (pl.exceptions.PolarsError, OSError) as exc:
            scratch.add(_fatal(file, exc).problem, fatal=True)
            total, repeated = -1, _empty_rows()
        except _Fatal as exc:
            scratch.add(exc.problem, fatal=True)
            total, repeated = -1, _empty_rows()
        self.problems.take((name, "rows"), scratch, file, by_row=True)
        for first in range(0, max(total, 1), CHUNK_ROWS) if total >= 0 else ():
            scratch = Report()
            try:
                got = _read_parquet(table, path, scratch, rows=(first, CHUNK_ROWS))
            except _Fatal as exc:  # broken part of the way: that alone, as for a whole file
                self.problems.phases[(name, "rows")] = _Pending()
                scratch = Report()
                scratch.add(exc.problem, fatal=True)
                got = None
            self.problems.take((name, "rows"), scratch, file, by_row=True)
            if got is None:
                return
            if first == 0:
                self.notes.extend(scratch.notes)
                self._empty(got)
                self.counted[name] = TableReport(name, file, 0, 0, got.report.ignored_columns)
            # a repeated key ranks first on its row, as ingest._problems sorts
            here = repeated.filter(pl.col(_ROW).is_between(first + 1, first + CHUNK_ROWS))
            bad = pl.concat([here, got.bad_rows]).sort(_ROW, maintain_order=True)
            self.counted[name].rows += got.frame.height
            _drop(got, bad.unique(_ROW, keep="first", maintain_order=True), self.dropped)
            yield got
            self.counted[name].kept += got.frame.height  # after the references' drops

    def _csv_pieces(self, name: str, path: Path) -> Iterator[_Read]:
        """A CSV table's pieces: read once by ingest's own reader, which checks
        the keys over every piece while each typed piece waits in an Arrow file
        of the spool, read back here once the rows to drop are known."""
        table = TABLES[name]
        staged: list[Path] = []

        def stage(part: pl.DataFrame) -> None:
            file = self.spool.folder / f"stage-{name}-{len(staged)}.arrow"
            _write(part, file)
            staged.append(file)

        scratch = Report()
        try:
            with path.open("rb") as fh:
                got = _read_csv(table, fh, scratch, each=stage)
        except _Fatal as exc:  # what came before it stays, as in the whole-table path
            scratch.add(exc.problem, fatal=True)
            got = None
        self.problems.take((name, "rows"), scratch, table.filename, by_row=False)
        self.notes.extend(scratch.notes)
        try:
            if got is None:
                return
            self._empty(got)
            rows, ignored = got.report.rows, got.report.ignored_columns
            counted = TableReport(name, table.filename, rows, 0, ignored)
            self.counted[name] = counted
            every: list[Path | None] = [*staged] or [None]  # none staged: the empty frame
            for file in every:
                frame = got.frame if file is None else pl.read_ipc(file)
                if file is not None:
                    file.unlink()
                piece = _Read(table, frame, _empty_rows(), got.report, [])
                _drop(piece, got.bad_rows, self.dropped)
                yield piece
                counted.kept += piece.frame.height  # after the references' drops
        finally:
            for file in staged:
                file.unlink(missing_ok=True)

    def _reference(
        self,
        got: _Read,
        column: str,
        keys: pl.Series | None = None,
        find: Callable[[pl.DataFrame], tuple[pl.DataFrame, pl.Series | None]] | None = None,
    ) -> pl.Series | None:
        """A piece's ``column`` checked against ``keys`` (or by ``find``, which
        gives what ``ingest._dangling`` gives), as ``ingest._check_references``
        checks a whole table (dangling rows dropped under --lenient): each kept
        row's position in the keys (None when rows with no value are left: there
        are problems, and nothing is built)."""
        ref = got.table.column(column).references
        assert ref is not None
        if find is None:
            assert keys is not None
            dangling, positions = _dangling(got.frame, column, keys)
        else:
            dangling, positions = find(got.frame)
        scratch = Report()
        target = self.names[ref[0]]
        scratch.extend(
            got.table.filename,
            _problem_rows(
                dangling, column, pl.col(column), f"a {ref[1]} of {target}", "dangling_reference"
            ),
        )
        self.problems.take((got.table.name, column), scratch, got.table.filename, by_row=False)
        if positions is None:
            return None
        link = link_column(column)
        got.frame = got.frame.with_columns(positions.cast(pl.UInt32).alias(link))
        if self.lenient and dangling.height:
            got.frame = got.frame.join(
                dangling.select(_ROW), on=_ROW, how="anti", maintain_order="left"
            )
            self.dropped.drops.add(got.table.filename, "dangling_reference", dangling.height)
        return got.frame.get_column(link)

    def _orders(
        self,
        path: Path,
        persons: pl.Series,
        person_part: pl.Series,
        shop_part: pl.Series | None,
    ) -> None:
        merchants = self.small.get("merchants")
        spool = self.spool
        for got in self._pieces("transactions", path):
            pid = self._reference(got, "buyer_id", persons) if "consumers" in self.small else None
            mrow = (
                None
                if merchants is None
                else self._reference(got, "merchant_id", merchants.frame.get_column("merchant_id"))
            )
            if pid is not None:  # the buyer's after the shop's drops
                pid = got.frame.get_column(link_column("buyer_id"))
            self.unlikely.add(
                "transactions",
                {"transactions": got.frame, **{n: g.frame for n, g in self.small.items()}},
            )
            frame = _handed_on(got.frame)
            tid = pl.int_range(
                spool.orders, spool.orders + frame.height, dtype=pl.UInt32, eager=True
            )
            spool.orders += frame.height
            mid = spool.number_shops(frame.get_column("merchant_id"))
            if pid is None:
                pid = pl.repeat(None, frame.height, dtype=pl.UInt32, eager=True)
            spool.index.append(
                pl.DataFrame(
                    [
                        frame.get_column("txn_id"),
                        frame.get_column("ts"),
                        pid.alias("pid"),
                        mid.alias("mid"),
                    ]
                )
            )
            latest = frame.get_column("ts").max()
            if isinstance(latest, dt.datetime) and (spool.latest is None or latest > spool.latest):
                spool.latest = latest
            if not self.building or pid is None:
                continue  # nothing will be built: the checks go on, the spool stops
            orders = pl.concat(
                [
                    tid.alias("tid").to_frame(),
                    frame.drop(_UNREAD["orders"]),
                    pl.DataFrame([pid.alias("pid"), mid.alias("mid")]),
                ],
                how="horizontal",
            )
            buyer = person_part.gather(pid)
            owner = (
                pl.repeat(None, frame.height, dtype=pl.UInt32, eager=True)
                if shop_part is None or mrow is None
                else shop_part.gather(mrow)
            )
            spool.write("orders", orders, buyer, owner)

    def _owner_part(self, shop_part: pl.Series | None) -> pl.Series:
        """By mid: the partition of the shop's owner (null: no owner, or no such shop)."""
        named = self.spool.named
        merchants = self.small.get("merchants")
        if shop_part is None or merchants is None:
            return pl.repeat(None, named.height, dtype=pl.UInt32, eager=True)
        by_shop = merchants.frame.select("merchant_id").with_columns(shop_part.alias("o"))
        return (
            named.lazy()
            .join(by_shop.lazy(), on="merchant_id", how="left", maintain_order="left")
            .collect()
            .get_column("o")
        )

    def _shipments(
        self, path: Path, with_orders: bool, person_part: pl.Series, owner_part: pl.Series
    ) -> None:
        spool = self.spool
        index = pl.concat(spool.index) if spool.index else pl.DataFrame(schema=_INDEX)
        spool.index = []
        find = _OrderIndex(index.get_column("txn_id"))
        for got in self._pieces("logistics", path):
            if not with_orders:  # checked by row alone, then ignored (as a whole table is)
                continue
            tid = self._reference(got, "txn_id", find=find.dangling)
            if tid is None:  # a txn_id left empty: that row's problem; nothing is built
                continue
            self.unlikely.add("logistics", {"logistics": got.frame, "transactions": index})
            if not self.building:
                continue
            frame = _handed_on(got.frame).drop(_UNREAD["shipments"])
            of_order = index.select(pl.col(c).gather(tid) for c in ("pid", "mid", "ts"))
            shipments = pl.concat([frame, tid.alias("tid").to_frame(), of_order], how="horizontal")
            buyer = person_part.gather(of_order.get_column("pid"))
            owner = owner_part.gather(of_order.get_column("mid"))
            spool.write("shipments", shipments, buyer, owner)

    def _finish(
        self, large: dict[str, Path], person_part: pl.Series, owner_part: pl.Series
    ) -> InParts:
        report = Report()
        for name in ("consumers", "merchants", "transactions", "logistics"):
            if name in self.small:
                report.tables.append(self.small[name].report)
            elif name in self.counted:
                report.tables.append(self.counted[name])
        self.problems.into(report)
        report.drops = self.dropped.drops
        report.notes.extend(self.notes + self.ref_notes)
        found = self.unlikely.found(self.names)
        if self.strict:
            for f in found:
                shown = f.problems(_ROW, MAX_SHOWN)
                for p in shown:
                    report.add(p)
                if shown and f.count > len(shown):
                    report.counts[shown[0].file] += f.count - len(shown)
                report.unlikely_problems += f.count
        else:
            report.warnings = [f.warning(_ROW) for f in found]
        consumers = self.small.get("consumers")
        stop = report.fatal or report.unlikely_problems
        if stop or (not self.lenient and report.total_problems) or consumers is None:
            raise report.error()
        emptied = [t.file for t in report.tables if t.rows > 0 and t.kept == 0]
        if emptied:  # as ingest.read_folder says it
            exc = report.error()
            exc.message = f"--lenient would drop every row of {', '.join(emptied)}: {exc.message}"
            exc.hint = "fix the rows named above: a table cannot be dropped whole"
            raise exc
        read = {n: pl.DataFrame(schema=TABLES[n].schema) for n in large}
        if "logistics" in read and "transactions" not in read:
            report.notes.append(
                Note(
                    "table_ignored",
                    f"{self.names['logistics']} ignored: there is no transactions table to "
                    "link it to",
                    "logistics",
                )
            )
            del read["logistics"]
        frame = consumers.frame
        if consumers.passthrough:
            frame = frame.with_columns(_passthrough_types(consumers.passthrough, consumers.numeric))
        merchants = self.small.get("merchants")
        tables = DataTables(
            consumers=_handed_on(frame),
            merchants=None if merchants is None else _handed_on(merchants.frame),
            transactions=read.get("transactions"),
            logistics=read.get("logistics"),
            passthrough=consumers.passthrough,
            folder=self.folder,
        )
        for name in tables.missing():
            report.notes.append(
                Note("table_missing", f"no {name} data: {_ABSENT[name]} features absent", name)
            )
        return InParts(tables, report, self.spool, person_part, owner_part)


class _OrderIndex:
    """The orders' ``txn_id``, searched for each shipment's.

    A binary search of 64-bit hashes, sorted once: a hundred million ids
    searched as text cost a comparison of strings at every step, and a hash
    join builds a table of them for every piece. A hash found is kept only
    where the ids themselves are equal, so a collision can never link a
    shipment to the wrong order; should two orders' ids share a hash (or the
    hashes not be unique for another reason), the search is on the text.
    """

    def __init__(self, ids: pl.Series) -> None:
        self.ids = ids
        hashes = ids.hash(seed=_HASH_SEED)
        self.order = hashes.arg_sort()
        self.sorted = hashes.gather(self.order)
        n = self.sorted.len()
        self.by_text = n > 1 and not bool(
            (self.sorted.slice(1) > self.sorted.slice(0, n - 1)).all()
        )
        if self.by_text:  # rare: the ids themselves, sorted
            self.order = ids.arg_sort()
            self.sorted = ids.gather(self.order)

    def dangling(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series | None]:
        """As ``ingest._dangling(frame, "txn_id", ids)``: the rows whose txn_id is
        no order's, and every row's order (null where none) when none is empty."""
        values = frame.get_column("txn_id")
        if values.null_count() or self.ids.len() == 0:
            return _dangling(frame, "txn_id", self.ids)
        needles = values if self.by_text else values.hash(seed=_HASH_SEED)
        # searched in their own order: neighbouring searches then share their
        # path through the keys (four times faster than in a random order)
        ranked = needles.arg_sort()
        spots = self.sorted.search_sorted(needles.gather(ranked), side="left")
        at = pl.zeros(needles.len(), dtype=spots.dtype, eager=True).scatter(ranked, spots)
        rows = self.order.gather(at.clip(0, self.sorted.len() - 1))
        hit = (self.ids.gather(rows) == values).fill_null(False)
        positions = pl.select(pl.when(pl.lit(hit)).then(pl.lit(rows))).to_series()
        found = frame.select(_ROW, "txn_id").filter(~hit)
        return found, positions.cast(pl.UInt32)


# ---------------------------------------------------------------- features


def _order_columns() -> list[str]:
    contract = [c for c in TABLES["transactions"].names if c not in _UNREAD["orders"]]
    return ["tid", *contract, "pid", "mid", "owner", "verified"]


def _shipment_columns() -> list[str]:
    contract = [c for c in TABLES["logistics"].names if c not in _UNREAD["shipments"]]
    return [*contract, "tid", *ORDER_OF_SHIPMENT]


def features_in_parts(
    read: InParts,
    as_of: dt.date,
    config: FeatureConfig | None = None,
    categories: Mapping[str, tuple[str, ...]] | None = None,
    *,
    run: Callable[..., Iterator[tuple[pl.DataFrame, pl.DataFrame]]] | None = None,
) -> tuple[FeatureResult, pl.Series]:
    """The feature table of a folder read in parts, a partition at a time, and the
    persons (pid) with an order before ``as_of``."""
    tables = read.tables
    spool = read.spool
    planned = plan(tables, config or FeatureConfig(), categories)
    consumers = tables.consumers.with_row_index("pid")
    persons = consumers.select("person_id", "pid")
    shops = None if tables.merchants is None else shops_known(tables.merchants, persons, as_of)
    # each mid's owner and verified as the shops table says at as-of
    by_mid = shops_of(spool.named.select("mid", "merchant_id"), shops)
    by_mid = by_mid.select("mid", "owner", "verified")
    has_orders = tables.transactions is not None
    has_shipments = has_orders and tables.logistics is not None

    def orders(files: list[Path]) -> pl.LazyFrame:
        if not files:
            empty = {"tid": pl.UInt32(), **TABLES["transactions"].schema}
            empty.update(pid=pl.UInt32(), mid=pl.UInt32(), owner=pl.UInt32(), verified=pl.Boolean())
            schema = {k: empty[k] for k in _order_columns()}
            return pl.LazyFrame(schema={**schema, _OWN: pl.Boolean()})
        joined = pl.scan_ipc(files).join(by_mid.lazy(), on="mid", how="left", maintain_order="left")
        return orders_known(joined.select(*_order_columns(), _OWN), as_of)

    def shipments(files: list[Path]) -> pl.LazyFrame:
        if not files:
            empty = {**TABLES["logistics"].schema, "tid": pl.UInt32(), "pid": pl.UInt32()}
            empty.update(owner=pl.UInt32(), mid=pl.UInt32(), ts=pl.Datetime("us"))
            schema = {k: empty[k] for k in _shipment_columns()}
            raw = pl.LazyFrame(schema={**schema, _OWN: pl.Boolean()})
        else:
            raw = pl.scan_ipc(files).join(
                by_mid.lazy().select("mid", "owner"), on="mid", how="left", maintain_order="left"
            )
        return shipments_known(raw.select(*_shipment_columns(), _OWN), as_of)

    given: dict[str, pl.DataFrame] = {}
    if has_orders:
        everyone = [f for part in spool.files["orders"] for f in part]
        whole = AsOfView(
            as_of=as_of,
            persons=persons.lazy(),
            consumers=consumers.lazy(),
            merchants=None if shops is None else shops.lazy(),
            orders=orders(everyone).filter(pl.col(_OWN)).drop(_OWN),
            shipments=None,
        )
        found = pl.collect_all([f(whole) for f in SHARED.values()], engine="streaming")
        given = dict(zip(SHARED, found, strict=True))

    pids = [persons.get_column("pid").filter(read.person_part == k) for k in range(spool.parts)]
    active: list[pl.Series] = []

    def slices() -> Iterator[Slice]:
        for k, members in enumerate(pids):
            mine = pl.col("pid").is_in(members.implode())
            sold = pl.col("owner").is_in(members.implode())
            mine_orders = mine_shipments = None
            if has_orders:
                mine_orders = (
                    orders(spool.files["orders"][k]).filter(mine | sold).drop(_OWN).collect()
                )
                active.append(mine_orders.get_column("pid").unique())
            if has_shipments:
                mine_shipments = (
                    shipments(spool.files["shipments"][k]).filter(mine | sold).drop(_OWN).collect()
                )
            yield Slice(
                as_of,
                persons.filter(mine),
                consumers.filter(mine),
                shops,
                mine_orders,
                mine_shipments,
                given,
                planned,
            )

    results = list((run or map)(slice_features, slices()))
    result = assemble(results, pids, planned)
    buyers = pl.concat(active).unique().sort() if active else pl.Series("pid", [], pl.UInt32)
    return result, buyers
