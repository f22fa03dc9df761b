"""Parquet in (issue 14): ``convert`` of a CSV folder, then ``features`` and
``build`` from the Parquet copy beside the same commands from the CSVs, in one
run. Whole processes, bytecode cached, median wall seconds and peak RSS.

    uv run python benchmarks/bench_parquet.py --data DIR [--out PQ_DIR] [--runs 3]

``--out`` keeps the Parquet copy (default: a temporary folder, removed after).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_commands import EXE, HEADER, compile_bytecode, measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    env = compile_bytecode()
    tmp = Path(tempfile.mkdtemp(prefix="bench-parquet-"))
    pq = args.out or tmp / "pq"
    try:
        print(HEADER)
        convert = [EXE, "convert", str(args.data), str(pq), "--force", "-f", "csv"]
        print(measure(f"trustscore convert {args.data.name}", convert, 1, env))
        for label, folder in (("CSV", args.data), ("Parquet", pq)):
            cmd = [EXE, "features", str(folder), "-f", "csv"]
            print(measure(f"trustscore features ({label})", cmd, args.runs, env))
        for label, folder in (("CSV", args.data), ("Parquet", pq)):
            cmd = [EXE, "build", str(folder), "--out", str(tmp / "m"), "--force", "-f", "json"]
            print(measure(f"trustscore build ({label})", cmd, args.runs, env))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
