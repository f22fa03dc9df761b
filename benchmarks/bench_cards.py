"""Cards in bulk (issue 9): whole-process timings of ``trustscore card -`` for
thousands of ids, beside the old way, one process per card.

    uv run python benchmarks/bench_cards.py --model DIR [--ids 4000] [--runs 5] [--singles 5]

Picks ``--ids`` persons of the model folder at random (seeded), writes them to
a file and times, as whole processes (median of ``--runs``, peak RSS from
/usr/bin/time -v):

- ``card - --format ndjson < ids`` (the target: >= 1,000 cards/s), and the same
  with json and csv;
- ``card ID --format json`` for ``--singles`` of those ids, one process each:
  what a loop over ids cost before, per card.

Stdout goes to /dev/null; one extra run checks that every id came back.
"""

from __future__ import annotations

import argparse
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_commands import EXE, compile_bytecode, run


def pick_ids(model: Path, n: int, seed: int) -> list[str]:
    import polars as pl

    ids = pl.read_parquet(model / "scores.parquet", columns=["person_id"])["person_id"].to_list()
    return random.Random(seed).sample(ids, min(n, len(ids)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--ids", type=int, default=4000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--singles", type=int, default=5, help="ids timed one process each")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    env = compile_bytecode()
    ids = pick_ids(args.model, args.ids, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        id_file = Path(tmp) / "ids.txt"
        id_file.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")
        model = shlex.quote(str(args.model))

        def bulk(fmt: str) -> list[str]:
            # exec: /usr/bin/time measures trustscore itself, not the shell
            line = f"exec {shlex.quote(EXE)} card - --model {model} -f {fmt} < {id_file}"
            return ["bash", "-c", line]

        check = subprocess.run(bulk("ndjson"), capture_output=True, text=True, env=env, check=False)
        lines = check.stdout.count("\n")
        if check.returncode != 0 or lines != len(ids):
            failed = f"bulk card failed ({check.returncode}, {lines} lines)"
            sys.exit(f"{failed}\n{check.stderr[-2000:]}")

        print(f"model {args.model}, {len(ids):,} ids, {args.runs} runs each\n")
        print("| what | median wall s | range s | cards/s | peak RSS MiB | runs |")
        print("|---|---:|---:|---:|---:|---:|")
        for fmt in ("ndjson", "json", "csv"):
            results = [run(bulk(fmt), env) for _ in range(args.runs)]
            walls = [w for w, _ in results]
            median = statistics.median(walls)
            print(
                f"| `card - -f {fmt}`, {len(ids):,} ids | {median:.2f} | "
                f"{min(walls):.2f}-{max(walls):.2f} | {len(ids) / median:,.0f} | "
                f"{max(r for _, r in results):,.0f} | {args.runs} |"
            )
        singles = ids[: args.singles]
        results = [
            run([EXE, "card", pid, "--model", str(args.model), "-f", "json"], env)
            for pid in singles
        ]
        walls = [w for w, _ in results]
        median = statistics.median(walls)
        print(
            f"| `card ID -f json`, one process per card ({len(singles)} ids) | {median:.2f} "
            f"per card | {min(walls):.2f}-{max(walls):.2f} | {1 / median:,.1f} | "
            f"{max(r for _, r in results):,.0f} | {len(singles)} |"
        )
        print(f"\n{len(ids):,} cards one process each would take about {median * len(ids):,.0f} s.")


if __name__ == "__main__":
    main()
