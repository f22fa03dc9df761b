"""``--cluster local`` against one process (issue 14): ``features`` and ``build`` of
the same folder, whole processes, bytecode cached, alternately; median wall
seconds and the peak RSS of the command's process tree (the LocalCluster's
workers are its children; ``/usr/bin/time`` counts the largest one, so the
workers' sum is sampled from /proc as well).

    uv run python benchmarks/bench_cluster.py --data DIR [--runs 3] [--skip-build]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_commands import EXE, compile_bytecode


def _tree_rss(root: int) -> int:
    """RSS (MB) of ``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        pid, ppid = int(fields["Pid"]), int(fields["PPid"])
        children.setdefault(ppid, []).append(pid)
        rss[pid] = int(fields.get("VmRSS", "0 kB").split()[0]) // 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall seconds, peak summed RSS MB of the process tree)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    watcher.join()
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()[-2000:]}")
    return wall, peak[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()
    env = compile_bytecode()
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    commands = [("features", [EXE, "features", str(args.data), "-f", "csv"])]
    if not args.skip_build:
        out = str(tmp / "m")
        commands.append(("build", [EXE, "build", str(args.data), "--out", out, "--force"]))
    print("| what | median wall s | range s | peak RSS MB (all processes) | runs |")
    print("|---|---:|---:|---:|---:|")
    try:
        for name, cmd in commands:
            found: dict[str, list[tuple[float, int]]] = {"one process": [], "--cluster local": []}
            for _ in range(args.runs):
                found["one process"].append(run(cmd, env))
                found["--cluster local"].append(run([*cmd, "--cluster", "local"], env))
            for how, results in found.items():
                walls = [w for w, _ in results]
                print(
                    f"| {name}, {how} | {statistics.median(walls):.2f} | "
                    f"{min(walls):.2f}-{max(walls):.2f} | {max(p for _, p in results):,} "
                    f"| {args.runs} |",
                    flush=True,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
