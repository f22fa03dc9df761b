"""Memory of the million-person commands (issue 14), and what an allocator setting
changes: each command runs alternately with Polars' jemalloc told to give freed
pages back at once (``_RJEM_MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0``) and
at its own defaults (freed pages kept for ten seconds, as trustscore runs). Whole
processes, bytecode cached, median wall seconds and peak RSS. The setting was
measured and not adopted (benchmarks/README.md).

    uv run python benchmarks/bench_memory.py --csv DIR --parquet DIR [--runs 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_commands import EXE, HEADER, compile_bytecode, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--csv", type=Path, required=True)
    ap.add_argument("--parquet", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()
    env = compile_bytecode()
    kept = {k: v for k, v in env.items() if k != "_RJEM_MALLOC_CONF"}  # jemalloc's defaults
    given = {**env, "_RJEM_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0"}
    tmp = Path(tempfile.mkdtemp(prefix="bench-memory-"))
    cases = [
        ("features (CSV)", [EXE, "features", str(args.csv), "-f", "csv"]),
        ("features (Parquet)", [EXE, "features", str(args.parquet), "-f", "csv"]),
    ]
    if not args.skip_build:
        out = str(tmp / "m")
        cases.append(
            ("build (Parquet)", [EXE, "build", str(args.parquet), "--out", out, "--force"])
        )
    try:
        print(HEADER)
        settings = (("pages given back", given), ("jemalloc defaults", kept))
        for label, cmd in cases:
            # alternately, so that a slow minute of the machine hits both alike
            found: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in settings}
            for _ in range(args.runs):
                for name, e in settings:
                    found[name].append(run(cmd, e))
            for setting, results in found.items():
                walls = sorted(w for w, _ in results)
                peak = max(p for _, p in results)
                median = walls[len(walls) // 2]
                print(
                    f"| {label}, {setting} | {median:.2f} | {walls[0]:.2f}-{walls[-1]:.2f} "
                    f"| {peak:,.0f} | {args.runs} |",
                    flush=True,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
