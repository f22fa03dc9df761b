"""Time and peak memory of ``compute_features`` alone, on in-memory frames.

    uv run python benchmarks/bench_features.py --persons 1000000 [--threads 2] [--work DIR]

Writes a synthetic folder with ``trustscore.sample.generate`` (once, cached in
``--work``), reads it with ingest and caches the typed frames as Parquet;
then, in a fresh process limited to ``--threads`` (POLARS_MAX_THREADS), loads
the Parquet and times ``compute_features`` over it. Memory: the process's
RSS with the tables loaded, and its peak RSS during features (the peak is
reset before each run). Linux only (reads /proc/self/status).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TABLE_NAMES = ("consumers", "merchants", "transactions", "logistics")


def _prepare(persons: int, seed: int, work: Path) -> Path:
    cache = work / f"parquet_{persons}_{seed}"
    if (cache / "done").exists():
        return cache
    from trustscore.ingest import read_folder
    from trustscore.sample import generate

    folder = work / f"csv_{persons}_{seed}"
    if not (folder / "consumers.csv").exists():
        t = time.perf_counter()
        generate(folder, persons=persons, seed=seed)
        print(f"generated {folder} in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    t = time.perf_counter()
    tables, _ = read_folder(folder)
    print(f"ingested in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    for name in TABLE_NAMES:
        frame = getattr(tables, name)
        if frame is not None:
            frame.write_parquet(cache / f"{name}.parquet")
    (cache / "passthrough.json").write_text(json.dumps(tables.passthrough))
    (cache / "done").write_text("")
    return cache


def _status_gib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in GiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def _reset_peak() -> None:
    """Start VmHWM afresh, so a peak is the features' own (Linux: clear_refs 5)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _measure(cache: Path, repeat: int) -> None:
    import polars as pl

    from trustscore.data_tables import DataTables
    from trustscore.features import compute_features, default_as_of

    frames = {n: pl.read_parquet(cache / f"{n}.parquet") for n in TABLE_NAMES}
    tables = DataTables(
        consumers=frames["consumers"],
        merchants=frames["merchants"],
        transactions=frames["transactions"],
        logistics=frames["logistics"],
        passthrough=json.loads((cache / "passthrough.json").read_text()),
    )
    loaded = sum(f.estimated_size() for f in frames.values()) / 2**30
    as_of = default_as_of(tables)
    rows = {n: f.height for n, f in frames.items()}
    print(f"threads={pl.thread_pool_size()} rows={rows} as_of={as_of}")
    print(f"tables: {loaded:.2f} GiB (polars estimate)")
    for i in range(repeat):
        before = _status_gib("VmRSS")
        _reset_peak()
        t, cpu = time.perf_counter(), time.process_time()
        result = compute_features(tables, as_of)
        took, cpu = time.perf_counter() - t, time.process_time() - cpu
        peak = _status_gib("VmHWM")
        print(
            f"run {i + 1}: compute_features {took:.1f} s (cpu {cpu:.1f} s), "
            f"{result.frame.height} x {len(result.specs)} features, {result.events.height} events; "
            f"RSS before {before:.2f} GiB, peak {peak:.2f} GiB (+{peak - before:.2f})"
        )
        del result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path("/tmp/trustscore-bench"))
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        _measure(args.measure, args.repeat)
        return
    cache = _prepare(args.persons, args.seed, args.work)
    env = dict(os.environ, POLARS_MAX_THREADS=str(args.threads))
    cmd = [sys.executable, __file__, "--measure", str(cache), "--repeat", str(args.repeat)]
    subprocess.run(cmd, env=env, check=True)


if __name__ == "__main__":
    main()
