"""Where a command's time goes: ``build`` in process, each phase timed, with the
peak memory of the process so far at the end of each (``ru_maxrss``).

    uv run python benchmarks/phases.py DIR [--parts N] [--model OUT]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from trustscore import config as config_mod
from trustscore.pipeline import build


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("data", type=Path)
    ap.add_argument("--parts", type=int)
    ap.add_argument("--model", type=Path)
    args = ap.parse_args()
    start = last = time.perf_counter()
    name = "start"

    def phase(text: str) -> None:
        nonlocal last, name
        now = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if name != "start":
            print(f"| {name} | {now - last:.1f} | {peak:,.0f} |", flush=True)
        last, name = now, text

    print("| phase | s | peak RSS so far, MB |\n|---|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="phases-") as scratch:
        out = args.model or Path(scratch) / "model"
        build(
            args.data, out, config=config_mod.load(None), parts=args.parts, force=True, phase=phase
        )
        phase("done")
    print(f"| whole | {time.perf_counter() - start:.1f} | |")


if __name__ == "__main__":
    main()
