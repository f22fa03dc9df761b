"""The one reader and writer of the model folder (DESIGN 6).

Writing: :class:`FolderWriter` reserves a temporary folder beside the target
before the long work starts (so an unwritable place fails in a second, not
after training), takes each file as bytes, records its SHA-256 and size, and
at the end writes ``manifest.json`` (which seals itself with its own SHA-256)
and puts the folder in place:

* nothing at the path: ``renameat2(RENAME_NOREPLACE)``, so whatever appeared
  there meanwhile is refused, never overwritten;
* an empty folder that was there at the start: removed with ``rmdir`` (which
  fails if anything was put in it since), then as above;
* a model folder (``--force``): ``renameat2(RENAME_EXCHANGE)`` swaps the old
  and the new folder in one atomic step, so the path always holds one complete
  model, and a killed build leaves either the old model or the new one there.
  Only then is the old one, now at the temporary name, deleted.

Where the kernel or file system cannot exchange (not Linux, some network
file systems), two renames stand in, and a build that finds the path empty
with an old model parked beside it puts that model back first.

Reading: :meth:`ModelFolder.open` reads the manifest, checks its seal, then
reads every file it lists through one descriptor of the folder and checks each
one's SHA-256 before anything is parsed, so a tampered, bit-rotten or
half-replaced folder never scores (exit 5, naming the file). Parsing works on
those verified bytes, never on a second read. A reader that raced a rebuild's
swap sees the folder change under it and starts again, so it gets the old
model or the new one, never a mix.

This module is kept free of numpy and xgboost so the card starts fast.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import hashlib
import io
import json
import mmap
import os
import re
import shutil
import stat
import tempfile
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from trustscore.entity import Entity
from trustscore.errors import ModelError, ResourceError, UsageError
from trustscore.features.spec import DIMENSIONS

if TYPE_CHECKING:
    from trustscore.config import Config
    from trustscore.features.spec import FeatureSpec
    from trustscore.model import TrustModel

FORMAT: Final = "trustscore-model-folder"
FORMAT_VERSION: Final = 2

MANIFEST_FILE: Final = "manifest.json"
MODEL_FILE: Final = "model.json"  # the booster, XGBoost's own JSON (never pickle)
META_FILE: Final = "model_meta.json"
CONFIG_FILE: Final = "config.json"
METRICS_FILE: Final = "metrics.json"
SCORES_FILE: Final = "scores.parquet"
POINTS_FILE: Final = "points.parquet"
FEATURES_FILE: Final = "features.parquet"
EVENTS_FILE: Final = "events.parquet"
FILES: Final = (
    MODEL_FILE,
    META_FILE,
    CONFIG_FILE,
    METRICS_FILE,
    SCORES_FILE,
    POINTS_FILE,
    FEATURES_FILE,
    EVENTS_FILE,
)

# the columns of scores.parquet that ``score`` prints, in order (DESIGN 5); the
# folder's copy adds ``clipping``, ``split`` and ``defaulted``
DIMENSION_COLUMNS: Final = [d.value for d in DIMENSIONS]
SCORE_COLUMNS: Final = [
    "person_id",
    "score",
    "band",
    "model_score",
    "penalty",
    "p_bad",
    "base_points",
    *DIMENSION_COLUMNS,
]

_MAX_MANIFEST: Final = 16 << 20  # a manifest is a few kB; never read a device to the end
_SEAL_KEY: Final = "manifest_sha256"
_SEAL_BLANK: Final = "0" * 64
_PARTIAL: Final = ".trustscore-partial"  # marks a folder being written by a build
_HINT_BUILD: Final = "build the model again with trustscore build (with --force to replace it)"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ the manifest's seal


def seal(manifest: dict[str, Any]) -> bytes:
    """The manifest as JSON bytes, carrying the SHA-256 of its own text.

    The digest is computed with the field blank (64 zeros) and then written in,
    so a reader can blank it again and compare: an edit anywhere in the file,
    the digest included, is found.
    """
    body = {k: v for k, v in manifest.items() if k != _SEAL_KEY}
    body[_SEAL_KEY] = _SEAL_BLANK
    text = json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n"
    digest = _sha256(text.encode("utf-8"))
    return text.replace(f'"{_SEAL_BLANK}"', f'"{digest}"', 1).encode("utf-8")


def read_document(data: bytes, name: str, kind: str, version: int, where: str) -> dict[str, Any]:
    """A JSON object of the folder that names its ``format`` and ``format_version``;
    ModelError (exit 5) if it is not valid JSON, not of this kind or another version."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelError(f"{name} is corrupt: {exc}", where=where, hint=_HINT_BUILD) from None
    if not isinstance(doc, dict) or doc.get("format") != kind:
        raise ModelError(
            f"{name} is not what a trustscore model folder holds", where=where, hint=_HINT_BUILD
        )
    if doc.get("format_version") != version:
        raise ModelError(
            f"{name} is format {doc.get('format_version')!r}; this trustscore reads {version}",
            where=where,
            hint="build the model again with this version of trustscore",
        )
    return doc


def unseal(data: bytes, where: str) -> dict[str, Any]:
    """The manifest in ``data`` if its seal holds; ModelError (exit 5) otherwise."""
    manifest = read_document(data, MANIFEST_FILE, FORMAT, FORMAT_VERSION, where)
    recorded = manifest.get(_SEAL_KEY)
    text = data.decode("utf-8")
    if not isinstance(recorded, str) or not re.fullmatch(r"[0-9a-f]{64}", recorded):
        raise ModelError("manifest.json carries no valid seal", where=where, hint=_HINT_BUILD)
    blanked = text.replace(f'"{recorded}"', f'"{_SEAL_BLANK}"', 1)
    if text.count(f'"{recorded}"') != 1 or _sha256(blanked.encode("utf-8")) != recorded:
        raise ModelError(
            "manifest.json was changed or damaged after the build (its seal differs)",
            where=where,
            hint=_HINT_BUILD,
        )
    return manifest


def is_model_folder(path: Path) -> bool:
    """True when ``path`` is a folder whose manifest marks it as a trustscore model.

    Any format version counts (an old model may be replaced by a new one); the
    seal is not required, since a damaged model is still a model to replace.
    """
    try:
        if path.is_symlink() or not path.is_dir():
            return False
        file = path / MANIFEST_FILE
        if not file.is_file() or file.stat().st_size > _MAX_MANIFEST:
            return False
        manifest = json.loads(file.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False
    return isinstance(manifest, dict) and manifest.get("format") == FORMAT


def foreign_entries(path: Path) -> list[str]:
    """What a model folder holds that no build writes (notes, keys, data): a folder
    holding any of it is not replaced, since replacing it would delete them."""
    try:
        return sorted(p.name for p in path.iterdir() if p.name not in (*FILES, MANIFEST_FILE))
    except OSError:
        return ["(unreadable)"]


def replaceable(path: Path) -> bool:
    """A model folder that holds nothing but a build's own files."""
    return is_model_folder(path) and not foreign_entries(path)


# ------------------------------------------------------------------ reading


_SMALL: Final = 1 << 20  # files below this are read into memory; larger ones are mapped
_PROC_FD: Final = Path("/proc/self/fd")


@dataclass
class _File:
    """One verified file: its bytes, or (large files on Linux) an open descriptor that
    Polars reads through ``/proc/self/fd/N``: the very file that was hashed, even if
    a build swaps the folder or deletes it meanwhile, without copying it in memory."""

    data: bytes | None
    fd: int | None = None

    def source(self) -> bytes | str:
        return self.data if self.data is not None else f"{_PROC_FD}/{self.fd}"

    def read(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.fd is not None
        return os.pread(self.fd, os.fstat(self.fd).st_size, 0)


def _open_regular(dir_fd: int, name: str, where: str) -> int | None:
    """A descriptor of the regular file ``name`` in the folder, None if there is none;
    ModelError if ``name`` is something else (a folder, a device, a pipe: opened
    without blocking, never read)."""
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0), dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ModelError(
            f"{name} cannot be opened: {exc.strerror}", where=where, hint=_HINT_BUILD
        ) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ModelError(
            f"{name} in the model folder is not a file (a folder, a device or a pipe)",
            where=where,
            hint=_HINT_BUILD,
        )
    return fd


def _verify_at(
    dir_fd: int, name: str, entry: dict[str, Any], where: str
) -> tuple[_File | None, bool]:
    """(the file, whether it is the one the manifest lists); (None, False) if missing."""
    fd = _open_regular(dir_fd, name, where)
    if fd is None:
        return None, False
    try:
        size = os.fstat(fd).st_size
        if entry.get("bytes") != size:
            return _File(b""), False  # another size: changed, and not worth reading
        if size < _SMALL or not _PROC_FD.is_dir():
            with os.fdopen(os.dup(fd), "rb") as fh:
                data = fh.read()
            return _File(data), _sha256(data) == entry["sha256"]
        with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as mapped:
            ok = hashlib.sha256(mapped).hexdigest() == entry["sha256"]
        kept, fd = fd, -1
        return _File(None, kept), ok
    finally:
        if fd >= 0:
            os.close(fd)


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)


@dataclass
class ModelFolder:
    """A model folder read whole and verified: its manifest and every file it lists."""

    path: Path
    manifest: dict[str, Any]
    files: dict[str, _File] = field(repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        fds = [f.fd for f in self.files.values() if f.fd is not None]
        weakref.finalize(self, _close_all, fds)

    @classmethod
    def open(cls, path: Path | str) -> ModelFolder:
        """Read and verify the folder at ``path``; ModelError (exit 5) says what is wrong."""
        path = Path(path)
        for attempt in range(5):
            try:
                return cls._open_once(path)
            except _Raced:
                if attempt == 4:
                    break
        raise ModelError(
            "the model folder kept changing while it was read (a build replacing it?)",
            where=str(path),
            hint="run the command again once the build has finished",
        )

    @classmethod
    def _open_once(cls, path: Path) -> ModelFolder:
        try:
            dir_fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except FileNotFoundError:
            raise ModelError(
                f"no model folder {str(path)!r}",
                hint=f"build one with: trustscore build DATA_DIR --model {path}",
            ) from None
        except NotADirectoryError:
            raise ModelError(
                f"{str(path)!r} is a file, not a model folder",
                hint="point --model (or TRUSTSCORE_MODEL) at the folder trustscore build wrote",
            ) from None
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            raise ModelError(
                f"{str(path)!r} is a loop of symbolic links, not a model folder",
                hint="point --model (or TRUSTSCORE_MODEL) at the folder trustscore build wrote",
            ) from None
        try:
            inode = os.fstat(dir_fd).st_ino
            where = str(path)

            def raced() -> bool:
                try:
                    return os.stat(path).st_ino != inode
                except OSError:
                    return True

            manifest_fd = _open_regular(dir_fd, MANIFEST_FILE, where)
            data = None
            if manifest_fd is not None:
                with os.fdopen(manifest_fd, "rb") as fh:
                    data = fh.read(_MAX_MANIFEST + 1)
                if len(data) > _MAX_MANIFEST:
                    raise ModelError("manifest.json is far too large", where=where)
            if data is None:
                if raced():
                    raise _Raced
                raise ModelError(
                    "this is not a trustscore model folder: it has no manifest.json",
                    where=where,
                    hint="point --model (or $TRUSTSCORE_MODEL) at a folder trustscore build wrote",
                )
            try:
                manifest = unseal(data, where)
            except ModelError:
                if raced():
                    raise _Raced from None
                raise
            listed = manifest.get("files")
            if not isinstance(listed, dict) or any(
                not isinstance(v, dict) or not isinstance(v.get("sha256"), str)
                for v in listed.values()
            ):
                raise ModelError("manifest.json lists no files", where=where, hint=_HINT_BUILD)
            for name in FILES:
                if name not in listed:
                    raise ModelError(
                        f"manifest.json does not list {name}", where=where, hint=_HINT_BUILD
                    )
            names = [n for n in listed if n in FILES]

            def read(name: str) -> tuple[str, _File | None, bool]:
                return name, *_verify_at(dir_fd, name, listed[name], where)

            # hashlib lets go of the GIL on large buffers: two files at a time
            with ThreadPoolExecutor(max_workers=2) as pool:
                results = list(pool.map(read, names))
            files: dict[str, _File] = {}
            opened = [f.fd for _, f, _ in results if f is not None and f.fd is not None]
            for name, got, ok in results:
                if not ok:
                    _close_all(opened)
                    if raced():
                        raise _Raced
                    if got is None:
                        raise ModelError(
                            f"the model folder has no {name}", where=where, hint=_HINT_BUILD
                        )
                    raise ModelError(
                        f"{name} was changed or damaged after the build "
                        "(its SHA-256 differs from the manifest's)",
                        where=where,
                        hint=_HINT_BUILD,
                    )
                assert got is not None
                files[name] = got
        finally:
            os.close(dir_fd)
        folder = cls(path, manifest, files)
        folder._check_manifest()
        return folder

    def _check_manifest(self) -> None:
        kinds = {
            "as_of": str,
            "inputs": list,
            "tables_missing": list,
            "notes": list,
            "protected": list,
            "dropped": dict,
        }
        for key, kind in kinds.items():
            if not isinstance(self.manifest.get(key), kind):
                raise ModelError(
                    f"manifest.json has no {key!r} of the right kind ({kind.__name__})",
                    where=str(self.path),
                    hint=_HINT_BUILD,
                )
        self.as_of  # noqa: B018 - parsed now so a bad date fails here, as exit 5
        self.entity  # noqa: B018 - likewise an unknown entity
        self._check_columns()

    def _check_columns(self) -> None:
        """Every Parquet file has the columns its readers take (a folder written by
        another version of trustscore may not: exit 5, never a KeyError)."""
        from trustscore.features.events import EVENTS_SCHEMA

        needed = {
            SCORES_FILE: [*SCORE_COLUMNS, "clipping"],
            POINTS_FILE: ["person_id"],
            FEATURES_FILE: ["person_id"],
            EVENTS_FILE: list(EVENTS_SCHEMA),
        }
        for name, columns in needed.items():
            try:
                have = pl.read_parquet_schema(self.files[name].source())
            except (pl.exceptions.PolarsError, OSError) as exc:
                raise self._bad(f"{name} is corrupt: {exc}") from None
            absent = [c for c in columns if c not in have]
            if absent:
                raise self._bad(
                    f"{name} has no column {absent[0]!r}: the folder was made by another "
                    "version of trustscore"
                )

    # ---------------------------------------------------------------- parsed views

    def _bad(self, what: str) -> ModelError:
        return ModelError(what, where=str(self.path), hint=_HINT_BUILD)

    @property
    def as_of(self) -> dt.date:
        value = self.manifest.get("as_of")
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise self._bad(f"manifest.json has an invalid as_of {value!r}") from None

    @property
    def entity(self) -> Entity:
        """What the folder scores: persons or shops (DESIGN 10)."""
        from trustscore.entity import parse

        value = self.manifest.get("entity")
        try:
            return parse(value)
        except ValueError:
            raise self._bad(f"manifest.json has an unknown entity {value!r}") from None

    def check_entity(self, wanted: Entity | None) -> Entity:
        """The folder's entity, refused (exit 5) when it is not the one asked for."""
        have = self.entity
        if wanted is not None and wanted is not have:
            raise ModelError(
                f"this model folder scores {have.noun}s, not {wanted.noun}s "
                f"(--entity {wanted.value})",
                where=str(self.path),
                hint=f"drop --entity {wanted.value}, or give a model built with "
                f"--entity {wanted.value}",
            )
        return have

    @property
    def outcome(self) -> dict[str, Any] | None:
        """Where the outcome came from (``outcomes.Outcome.describe``); None in a folder
        built before outcomes were recorded."""
        value = self.manifest.get("outcome")
        return value if isinstance(value, dict) else None

    @property
    def tables_missing(self) -> list[str]:
        return [str(t) for t in self.manifest.get("tables_missing", [])]

    def json(self, name: str) -> dict[str, Any]:
        try:
            data = json.loads(self.files[name].read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self._bad(f"{name} is corrupt: {exc}") from None
        if not isinstance(data, dict):
            raise self._bad(f"{name} is corrupt: not a JSON object")
        return data

    @property
    def config(self) -> Config:
        if "config" not in self._cache:
            from trustscore.config import from_dict

            try:
                self._cache["config"] = from_dict(self.json(CONFIG_FILE), CONFIG_FILE)
            except UsageError as exc:
                raise self._bad(f"config.json is not valid: {exc}") from None
        cfg: Config = self._cache["config"]
        return cfg

    @property
    def specs(self) -> list[FeatureSpec]:
        if "specs" not in self._cache:
            from trustscore.features.spec import specs_from_dicts

            try:
                self._cache["specs"] = specs_from_dicts(self.json(META_FILE)["specs"])
            except (KeyError, TypeError, ValueError) as exc:
                raise self._bad(f"model_meta.json is corrupt: {exc!r}") from None
        specs: list[FeatureSpec] = self._cache["specs"]
        return specs

    def load_model(self) -> TrustModel:
        """The fitted model, from the verified booster and description."""
        from trustscore.model import TrustModel

        return TrustModel.from_bytes(
            self.files[META_FILE].read(), self.files[MODEL_FILE].read(), where=str(self.path)
        )

    def frame(self, name: str, person_ids: list[str] | None = None) -> pl.DataFrame:
        """A Parquet file of the folder, or only the rows of ``person_ids``, in one
        read (cards in bulk: one pass over each file, however many ids)."""
        try:
            lf = pl.scan_parquet(self.files[name].source())
            if person_ids is not None:
                lf = lf.filter(pl.col("person_id").is_in(person_ids))
            return lf.collect()
        except pl.exceptions.PolarsError as exc:
            raise self._bad(f"{name} is corrupt: {exc}") from None

    def person_ids(self) -> pl.LazyFrame:
        return pl.scan_parquet(self.files[SCORES_FILE].source()).select("person_id")


class _Raced(Exception):
    """The folder changed under a reader (a build swapped it): read it again."""


# ------------------------------------------------------------------ writing


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux renameat2; False where the system cannot do it (the caller falls back)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(src), at_fdcwd, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


RENAME_NOREPLACE: Final = 1
RENAME_EXCHANGE: Final = 2


def _write_durably(path: Path, data: bytes) -> None:
    """Write, flush and fsync: a file of the folder is on disk before the swap."""
    try:
        with path.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise ResourceError.from_os(exc, path) from None


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _refuse_not_model(out: Path, *, force: bool) -> UsageError:
    try:
        inside = sorted(p.name for p in out.iterdir())
    except OSError:
        inside = []
    shown = ", ".join(inside[:3]) + (", ..." if len(inside) > 3 else "") or "nothing yet"
    return UsageError(
        f"{out} is not a trustscore model folder (it holds {shown})"
        + ("; --force replaces only a model folder" if force else ""),
        hint="pick another --out; trustscore never deletes what it did not write",
    )


def _refuse_foreign(out: Path) -> UsageError:
    extra = foreign_entries(out)
    shown = ", ".join(extra[:3]) + (", ..." if len(extra) > 3 else "")
    return UsageError(
        f"{out} is a model folder that also holds files no build wrote ({shown}); "
        "--force would delete them",
        hint="move them out of the folder, or pick another --model",
    )


@dataclass
class _Target:
    out: Path
    state: str  # "absent", "empty" or "model": what was at ``out`` when the build began


def check_target(out: Path, *, force: bool) -> None:
    """Refuse, as ``build`` would, a place no model folder may be written to
    (the checks ``FolderWriter`` makes first, without reserving anything; like
    them, it puts back an old model an interrupted swap left parked)."""
    _check_target(Path(out), force)


def _check_target(out: Path, force: bool) -> _Target:
    if out.is_symlink():
        out = Path(os.path.realpath(out))
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out} exists and is not a folder", hint="pick another --out")
    if not out.parent.is_dir():
        raise UsageError(
            f"no folder {str(out.parent)!r} to put the model in", hint="create it first"
        )
    if not out.exists():
        _recover(out)
    if not out.exists():
        return _Target(out, "absent")
    if out.resolve() == Path.cwd().resolve() or os.path.ismount(out):
        # a folder in use as the working directory or a mount point cannot be swapped
        raise UsageError(
            f"{out} is the current folder or a mount point: a build cannot replace it",
            hint="give a folder inside it, e.g. --model ./trustscore-model",
        )
    try:
        empty = not any(out.iterdir())
    except OSError as exc:
        raise ResourceError.from_os(exc, out) from None
    if empty:
        return _Target(out, "empty")
    if not is_model_folder(out):
        raise _refuse_not_model(out, force=force)
    if not force:
        raise UsageError(
            f"{out} already holds a model",
            hint="pass --force to replace it (it stays as it is if the build fails)",
        )
    if foreign_entries(out):
        raise _refuse_foreign(out)
    return _Target(out, "model")


def _recover(out: Path) -> None:
    """Put back an old model parked beside ``out`` by an interrupted two-rename swap."""
    for parked in sorted(out.parent.glob(f".{out.name}.old-*")):
        pid = parked.name.rsplit("-", 1)[-1]
        if pid.isdigit() and process_alive(int(pid)):
            continue
        if is_model_folder(parked) and not out.exists():
            os.rename(parked, out)
            return


def process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _clean_stale(out: Path) -> None:
    """Remove temporary folders of builds that were killed: only ours, only dead ones."""
    for tmp in out.parent.glob(f".{out.name}.tmp-*"):
        parts = tmp.name.rsplit(".tmp-", 1)[-1].split("-")
        if not parts or not parts[0].isdigit() or process_alive(int(parts[0])):
            continue
        if (tmp / _PARTIAL).is_file() or is_model_folder(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


class FolderWriter:
    """Writes a model folder whole or not at all; see the module's docstring.

    ``kill_at`` names a point at which to stop the process dead (``os._exit``):
    a hook for the tests that kill a build mid-write, set only from the
    ``TRUSTSCORE_TEST_KILL_AT`` environment variable.
    """

    def __init__(self, out: Path, *, force: bool) -> None:
        self.target = _check_target(Path(out), force)
        self.out = self.target.out
        self.files: dict[str, dict[str, Any]] = {}
        self._kill_at = os.environ.get("TRUSTSCORE_TEST_KILL_AT", "")
        _clean_stale(self.out)
        try:
            self.tmp = Path(
                tempfile.mkdtemp(prefix=f".{self.out.name}.tmp-{os.getpid()}-", dir=self.out.parent)
            )
            (self.tmp / _PARTIAL).write_bytes(b"")
        except OSError as exc:
            raise ResourceError.from_os(exc, self.out.parent) from None
        umask = os.umask(0)
        os.umask(umask)
        self.tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; a model folder is ordinary

    def _hook(self, point: str) -> None:
        if self._kill_at == point:
            os._exit(137)

    def add(self, name: str, data: bytes) -> None:
        """One file of the folder, as bytes: written, flushed to disk, hashed."""
        if name not in FILES:
            raise ValueError(f"{name} is not a file of the model folder")
        _write_durably(self.tmp / name, data)
        self.files[name] = {"sha256": _sha256(data), "bytes": len(data)}
        self._hook(f"after:{name}")

    def add_json(self, name: str, obj: Any) -> None:
        text = json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n"
        self.add(name, text.encode("utf-8"))

    def add_parquet(self, name: str, frame: pl.DataFrame, **options: Any) -> None:
        buf = io.BytesIO()
        frame.write_parquet(buf, **options)
        self.add(name, buf.getvalue())

    def commit(self, manifest: dict[str, Any]) -> Path:
        """Seal the manifest and put the finished folder at ``out``."""
        missing = [n for n in FILES if n not in self.files]
        if missing:
            raise ValueError(f"the model folder is incomplete: {missing}")
        body = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
        body["files"] = dict(sorted(self.files.items()))
        data = seal(body)
        _write_durably(self.tmp / MANIFEST_FILE, data)
        try:
            (self.tmp / _PARTIAL).unlink()
            _fsync_dir(self.tmp)
        except OSError as exc:
            raise ResourceError.from_os(exc, self.tmp) from None
        self._hook("before-swap")
        try:
            self._swap()
        except OSError as exc:
            raise ResourceError.from_os(exc, self.out) from None
        _fsync_dir(self.out.parent)
        return self.out

    def _swap(self) -> None:
        out, tmp, state = self.out, self.tmp, self.target.state
        if state == "empty":
            try:
                os.rmdir(out)
            except FileNotFoundError:
                pass
            except OSError:
                raise _refuse_not_model(out, force=False) from None
            state = "absent"
        if state == "absent":
            try:
                if _renameat2(tmp, out, RENAME_NOREPLACE):
                    return
            except FileExistsError:
                raise _refuse_not_model(out, force=False) from None
            if out.exists():  # the fallback: a small window, not none
                raise _refuse_not_model(out, force=False)
            os.rename(tmp, out)
            return
        # state == "model": it must still be one at the moment of the swap
        if not is_model_folder(out):
            raise _refuse_not_model(out, force=True)
        if foreign_entries(out):
            raise _refuse_foreign(out)
        if _renameat2(tmp, out, RENAME_EXCHANGE):
            self._hook("after-swap")
            # the old folder is now at tmp; make sure of it before deleting anything
            if not replaceable(tmp):
                _renameat2(tmp, out, RENAME_EXCHANGE)
                raise _refuse_not_model(out, force=True)
            shutil.rmtree(tmp, ignore_errors=True)
            return
        parked = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.rename(out, parked)
        self._hook("between-renames")
        try:
            os.rename(tmp, out)
        except BaseException:
            os.rename(parked, out)
            raise
        shutil.rmtree(parked, ignore_errors=True)

    def abort(self) -> None:
        """Remove the temporary folder (the target is untouched)."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in pieces (input fingerprints)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()
