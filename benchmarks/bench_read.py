"""Reading and checking a data folder (``trustscore validate``), or that and
the features (``--command features``), or a build (``--command build``), this
checkout against another one (a git worktree of an earlier commit), alternately
in the same run: whole processes, bytecode cached, median wall seconds and
peak RSS.

    git worktree add /tmp/before COMMIT
    uv run python benchmarks/bench_read.py --against /tmp/before DIR [DIR ...] [--runs 3]
        [--command validate|features|build]

The other checkout runs with this environment's packages, its own
``trustscore`` first on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_commands import HEADER, PY, compile_bytecode, run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", type=Path, nargs="+")
    ap.add_argument("--against", type=Path, required=True, help="another checkout's root")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--command", choices=["validate", "features", "build"], default="validate")
    args = ap.parse_args()
    env = compile_bytecode()
    import compileall

    compileall.compile_dir(str(args.against / "trustscore"), quiet=1)
    here = {**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    there = {**env, "PYTHONPATH": str(args.against.resolve())}
    print(HEADER)
    with tempfile.TemporaryDirectory(prefix="bench-read-") as scratch:
        for data in args.data:
            measure(args, data, scratch, here, there)


def measure(
    args: argparse.Namespace, data: Path, scratch: str, here: dict[str, str], there: dict[str, str]
) -> None:
    # -P: not the working folder first on sys.path, so PYTHONPATH picks the checkout
    cmd = [PY, "-P", "-m", "trustscore", args.command, str(data)]
    if args.command == "features":
        cmd += ["-f", "csv"]
    if args.command == "build":  # a model folder of its own, replaced run by run
        cmd += ["--model", str(Path(scratch) / data.name), "--force"]
    got: dict[str, list[tuple[float, float]]] = {"this": [], "other": []}
    for _ in range(args.runs):  # alternately, so drift hits both alike
        got["other"].append(run(cmd, there))
        got["this"].append(run(cmd, here))
    for label, results in got.items():
        walls = [w for w, _ in results]
        print(
            f"| {args.command} {data.name} ({label}) | {statistics.median(walls):.2f} | "
            f"{min(walls):.2f}-{max(walls):.2f} | {max(m for _, m in results):,.0f} | "
            f"{args.runs} |"
        )


if __name__ == "__main__":
    main()
