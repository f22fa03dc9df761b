"""``--parts N`` against the whole-table path, alternately in the same run:
``trustscore features`` (or ``build``) of one data folder, whole processes,
bytecode cached, median wall seconds and peak RSS (``/usr/bin/time -v``).

    uv run python benchmarks/bench_parts.py DIR --parts 8 16 [--command build] [--runs 3]
        [--no-whole]    # the whole-table path does not fit (five million persons)

A folder of five million persons, as Parquet:

    uv run trustscore sample --persons 5000000 --shops 250000 --seed 0 -o /data/5m
    uv run trustscore convert /data/5m /data/5m_pq
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_commands import EXE, HEADER, compile_bytecode, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", type=Path)
    ap.add_argument("--parts", type=int, nargs="+", default=[8])
    ap.add_argument("--command", choices=["features", "build"], default="features")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-whole", action="store_true", help="leave out the whole-table path")
    args = ap.parse_args()
    env = compile_bytecode()
    ways: dict[str, list[str]] = {} if args.no_whole else {"whole": []}
    ways.update({f"--parts {n}": ["--parts", str(n)] for n in args.parts})
    got: dict[str, list[tuple[float, float]]] = {label: [] for label in ways}
    with tempfile.TemporaryDirectory(prefix="bench-parts-") as scratch:
        for _ in range(args.runs):  # alternately, so drift hits every way alike
            for label, extra in ways.items():
                cmd = [EXE, args.command, str(args.data), *extra]
                if args.command == "features":
                    cmd += ["-f", "parquet", "-o", str(Path(scratch) / "features.parquet")]
                else:
                    cmd += ["--model", str(Path(scratch) / "model"), "--force"]
                got[label].append(run(cmd, env))
    print(HEADER)
    for label, results in got.items():
        walls = [w for w, _ in results]
        print(
            f"| {args.command} {args.data.name} ({label}) | {statistics.median(walls):.2f} | "
            f"{min(walls):.2f}-{max(walls):.2f} | {max(m for _, m in results):,.0f} | "
            f"{args.runs} |"
        )


if __name__ == "__main__":
    main()
