"""How long the synthetic data generator takes, and how much memory, at scale.

Runs ``trustscore sample OUT --persons N --seed S`` (the real CLI) in a fresh
process under GNU ``/usr/bin/time -v`` (so start-up and imports count, as
they do for a user) and reports the median wall time, the peak resident set
size, the rows written per table and the folder's size, then one markdown
table row to paste into notes.

    uv run python benchmarks/bench_sample.py --persons 1000000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = Path("/usr/bin/time")
TABLES = ("consumers", "merchants", "transactions", "logistics")


def _seconds(clock: str) -> float:
    """GNU time's ``h:mm:ss`` or ``m:ss.ss`` as seconds."""
    total = 0.0
    for part in clock.split(":"):
        total = total * 60 + float(part)
    return total


def _field(report: str, label: str) -> str:
    match = re.search(rf"^\s*{re.escape(label)}: (.+)$", report, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/usr/bin/time -v gave no {label!r}:\n{report}")
    return match.group(1).strip()


@dataclass
class Run:
    wall: float  # seconds
    cpu: float  # user + system seconds: less sensitive than wall to a busy machine
    rss_mb: float  # peak resident set size
    rows: dict[str, int]
    size: int  # bytes written


def run_once(persons: int, seed: int, out: Path) -> Run:
    cmd = [
        str(GNU_TIME),
        "-v",
        str(Path(sys.executable).parent / "trustscore"),
        "sample",
        str(out),
        "--persons",
        str(persons),
        "--seed",
        str(seed),
        "--format",
        "csv",
        "--force",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    wall = _seconds(_field(done.stderr, "Elapsed (wall clock) time (h:mm:ss or m:ss)"))
    rss_mb = int(_field(done.stderr, "Maximum resident set size (kbytes)")) / 1024
    cpu = float(_field(done.stderr, "User time (seconds)")) + float(
        _field(done.stderr, "System time (seconds)")
    )
    rows = {}
    for line in done.stdout.splitlines()[1:]:  # table,file,rows
        name, _, count = line.split(",")
        if name in TABLES and count.isdigit():
            rows[name] = int(count)
    size = sum(p.stat().st_size for p in out.iterdir())
    return Run(wall, cpu, rss_mb, rows, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time the synthetic data generator.")
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tmp", type=Path, default=None, help="where to write the data (default: system temp)"
    )
    args = parser.parse_args(argv)

    if not GNU_TIME.exists():
        print(
            "error: /usr/bin/time (GNU time) is missing; install it, e.g. apt-get install time",
            file=sys.stderr,
        )
        return 2

    runs: list[Run] = []
    for k in range(args.runs):
        with tempfile.TemporaryDirectory(dir=args.tmp, prefix="bench_sample_") as tmp:
            run = run_once(args.persons, args.seed, Path(tmp) / "data")
        runs.append(run)
        print(
            f"run {k + 1}: {run.wall:.1f} s wall, {run.cpu:.1f} s CPU, "
            f"peak RSS {run.rss_mb:.0f} MB",
            file=sys.stderr,
        )

    walls = [r.wall for r in runs]
    wall_median = statistics.median(walls)
    cpu_median = statistics.median(r.cpu for r in runs)
    peak = max(r.rss_mb for r in runs)
    rows, size = runs[-1].rows, runs[-1].size
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cores = os.cpu_count()
    print(f"persons           {args.persons:,} (seed {args.seed}, {args.runs} runs)")
    print(
        f"machine           {platform.machine()}, {cores} cores, Python {platform.python_version()}"
    )
    print(f"wall (median)     {wall_median:.1f} s   (runs: {', '.join(f'{w:.1f}' for w in walls)})")
    print(f"CPU (median)      {cpu_median:.1f} s user+system")
    print(f"peak RSS (max)    {peak:.0f} MB")
    print(f"load average      {load:.1f} (1 min, at the end; others' work inflates wall time)")
    for name in TABLES:
        print(f"{name:<17} {rows.get(name, 0):,} rows")
    print(f"folder size       {size / 1e6:,.0f} MB")
    counts = " | ".join(f"{rows.get(name, 0):,}" for name in TABLES)
    print(
        "\n| persons | runs | wall s (median) | CPU s | peak RSS MB | consumers | merchants "
        "| transactions | logistics | size MB |\n|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {args.persons:,} | {args.runs} | {wall_median:.1f} | {cpu_median:.1f} | {peak:.0f} "
        f"| {counts} | {size / 1e6:,.0f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
