"""Whole-process timings of trustscore's commands: median wall seconds of several
runs and peak memory (max RSS from /usr/bin/time -v), each beside the
alternative it is judged against.

    uv run python benchmarks/bench_commands.py build  --data DIR [--runs 3]
    uv run python benchmarks/bench_commands.py score  --data DIR --model DIR
    uv run python benchmarks/bench_commands.py card   --model DIR --person ID [--runs 11]
        [--baseline TREE --baseline-model DIR]   (the same card from another checkout)
    uv run python benchmarks/bench_commands.py features --data DIR
    uv run python benchmarks/bench_commands.py monitor --data DIR --model DIR [--lenient]
    uv run python benchmarks/bench_commands.py shops --data DIR [--lenient] [--runs 3]

``build`` and ``score`` time the real CLI end to end (stdout to /dev/null);
``card`` is cold start, beside a bare ``python -c pass`` and ``import xgboost``;
``shops`` is issue 13's: ``build --entity merchant`` and ``features --entity
merchant``, beside the persons' ``features`` of the same folder (one run).
Bytecode is compiled first (as an installed package has it), so start-up
times are what a user sees, not the first-run compile.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

TIME = "/usr/bin/time"
PY = sys.executable
EXE = str(Path(PY).parent / "trustscore")


def run(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one run of ``cmd``."""
    if not Path(TIME).exists():
        sys.exit(f"{TIME} is missing: apt-get install time")
    done = subprocess.run(
        [TIME, "-v", *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    wall = re.search(
        r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", done.stderr
    )
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    assert wall and rss, done.stderr[-500:]
    h, m, s = wall.groups()
    return int(h or 0) * 3600 + int(m) * 60 + float(s), int(rss.group(1)) / 1024


def measure(label: str, cmd: list[str], runs: int, env: dict[str, str] | None = None) -> str:
    results = [run(cmd, env) for _ in range(runs)]
    walls = [w for w, _ in results]
    peak = max(r for _, r in results)
    spread = f"{min(walls):.2f}-{max(walls):.2f}"
    return f"| {label} | {statistics.median(walls):.2f} | {spread} | {peak:,.0f} | {runs} |"


HEADER = "| what | median wall s | range s | peak RSS MB | runs |\n|---|---:|---:|---:|---:|"


def compile_bytecode() -> dict[str, str]:
    import compileall
    import sysconfig

    compileall.compile_dir(sysconfig.get_paths()["purelib"], quiet=1, workers=0)
    compileall.compile_dir(str(Path(__file__).resolve().parent.parent / "trustscore"), quiet=1)
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("what", choices=["build", "score", "card", "features", "monitor", "shops"])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--model", type=Path)
    ap.add_argument("--person", default="P0000001")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--lenient", action="store_true", help="pass --lenient (monitor)")
    ap.add_argument("--baseline", type=Path, help="another checkout of trustscore to compare")
    ap.add_argument("--baseline-model", type=Path, help="a model folder that checkout wrote")
    args = ap.parse_args()
    env = compile_bytecode()
    print(HEADER)
    if args.what == "build":
        tmp = Path(tempfile.mkdtemp(prefix="bench-build-"))
        try:
            cmd = [EXE, "build", str(args.data), "--out", str(tmp / "m"), "--force", "-f", "json"]
            print(measure(f"trustscore build {args.data.name}", cmd, args.runs, env))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif args.what == "score":
        cmd = [EXE, "score", str(args.data), "--model", str(args.model), "-f", "csv"]
        print(measure(f"trustscore score {args.data.name}", cmd, args.runs, env))
        tmp = Path(tempfile.mkdtemp(prefix="bench-score-"))
        try:
            out = ["--output", str(tmp / "s.parquet")]
            print(measure("... to parquet", [*cmd[:-2], *out], args.runs, env))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif args.what == "monitor":
        # issue 12's target: monitor <= the features of the same folder + 10 s
        lenient = ["--lenient"] if args.lenient else []
        feats = [EXE, "features", str(args.data), "-f", "csv", *lenient]
        print(measure(f"trustscore features {args.data.name}", feats, args.runs, env))
        mon = [EXE, "monitor", str(args.data), "--model", str(args.model), "-f", "csv", *lenient]
        print(measure(f"trustscore monitor {args.data.name}", mon, args.runs, env))
    elif args.what == "shops":
        lenient = ["--lenient"] if args.lenient else []
        tmp = Path(tempfile.mkdtemp(prefix="bench-shops-"))
        try:
            shop = ["--entity", "merchant"]
            cmd = [EXE, "build", str(args.data), *shop, "--out", str(tmp / "m"), "--force"]
            print(measure("trustscore build --entity merchant", [*cmd, "-f", "json", *lenient],
                          args.runs, env))  # fmt: skip
            feats = [EXE, "features", str(args.data), "-f", "csv", *lenient]
            print(measure("trustscore features --entity merchant", [*feats, *shop], args.runs, env))
            print(measure("trustscore features (persons, the same folder)", feats, 1, env))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    elif args.what == "features":
        cmd = [EXE, "features", str(args.data), "-f", "csv"]
        print(
            measure(f"trustscore features {args.data.name} (csv to /dev/null)", cmd, args.runs, env)
        )
    else:
        runs = max(args.runs, 5)
        print(measure("python -c pass", [PY, "-c", "pass"], runs, env))
        print(measure("python -c 'import polars'", [PY, "-c", "import polars"], runs, env))
        print(measure("python -c 'import xgboost'", [PY, "-c", "import xgboost"], runs, env))
        cmd = [EXE, "card", args.person, "--model", str(args.model)]
        print(measure(f"trustscore card {args.person} (table)", cmd, runs, env))
        print(measure("... --format json", [*cmd, "-f", "json"], runs, env))
        if args.baseline is not None:
            import compileall

            compileall.compile_dir(str(args.baseline / "trustscore"), quiet=1)
            base_env = {**env, "PYTHONPATH": str(args.baseline)}
            model = args.baseline_model or args.model
            base = [PY, "-P", "-m", "trustscore", "card", args.person, "--model", str(model)]
            print(measure(f"baseline {args.baseline.name}: card (table)", base, runs, base_env))
            mine = [PY, "-P", "-m", "trustscore", *cmd[1:]]
            print(measure("this checkout: python -m trustscore card (table)", mine, runs, env))


if __name__ == "__main__":
    main()
