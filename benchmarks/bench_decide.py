"""Whole-process timings of decisions (issue 11): median wall seconds of several
runs and peak memory (max RSS from /usr/bin/time -v), each beside what it is
judged against, in the same run.

    uv run python benchmarks/bench_decide.py all    --data DIR --model DIR [--runs 3] [--lenient]
    uv run python benchmarks/bench_decide.py one    --model DIR --person ID [--runs 11]
    uv run python benchmarks/bench_decide.py reasons --model DIR

``all``: ``decide`` over everyone in the model folder (both products of the
default policy, CSV to /dev/null), beside ``score`` of the same persons from
their data folder, and ``score --reasons 4`` (the per-feature points computed
for everyone). ``one``: ``decide ID`` cold start (the panel), beside ``card
ID`` and ``decide ID --format json``. ``reasons``: ``lowering_codes`` alone on
the folder's points, in process (the part of ``decide`` that ranks reasons).
Bytecode is compiled first, as an installed package has it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_commands import EXE, HEADER, compile_bytecode, measure


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=["all", "one", "reasons"])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--person", default="P0000408")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lenient", action="store_true", help="pass --lenient to score")
    args = ap.parse_args()
    if args.what == "reasons":
        from trustscore.model_folder import POINTS_FILE, ModelFolder
        from trustscore.reasons import lowering_codes

        folder = ModelFolder.open(args.model)
        points = folder.frame(POINTS_FILE)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            lowering_codes(points, folder.specs, 4)
            times.append(time.perf_counter() - start)
        print(
            f"lowering_codes, {points.height:,} persons x {points.width - 1} features: "
            f"median {statistics.median(times):.2f} s ({min(times):.2f}-{max(times):.2f})"
        )
        return
    env = compile_bytecode()
    print(HEADER)
    model = ["--model", str(args.model)]
    if args.what == "all":
        decide = [EXE, "decide", *model, "-f", "csv"]
        print(measure("trustscore decide (everyone stored, 2 products)", decide, args.runs, env))
        loan = [*decide, "--product", "micro_loan"]
        print(measure("... --product micro_loan", loan, args.runs, env))
        if args.data is not None:
            lenient = ["--lenient"] if args.lenient else []
            score = [EXE, "score", str(args.data), *model, "-f", "csv", *lenient]
            print(measure(f"trustscore score {args.data.name}", score, args.runs, env))
            reasons = [*score, "--reasons", "4"]
            print(measure("... --reasons 4", reasons, args.runs, env))
            fresh = [EXE, "decide", str(args.data), *model, "-f", "csv", *lenient]
            print(measure(f"trustscore decide {args.data.name} (scored first)", fresh, 1, env))
    else:
        runs = max(args.runs, 5)
        py = sys.executable
        print(measure("python -c 'import polars'", [py, "-c", "import polars"], runs, env))
        imports = [py, "-c", "import trustscore.cli"]
        print(measure("python -c 'import trustscore.cli'", imports, runs, env))
        card = [EXE, "card", args.person, *model]
        print(measure(f"trustscore card {args.person}", card, runs, env))
        one = [EXE, "decide", args.person, *model]
        print(measure(f"trustscore decide {args.person} (panel)", one, runs, env))
        print(measure("... --format json", [*one, "-f", "json"], runs, env))


if __name__ == "__main__":
    main()
