"""The README's examples are run for real, so they cannot drift.

Every ```console block in README.md is a shell session: lines starting with
``$ `` are commands, the lines after them their stdout. The blocks run in
order in one scratch folder that holds sample_data, with the package's
``trustscore`` first on PATH. Regenerate the outputs on purpose only:

    TRUSTSCORE_REGEN_README=1 uv run pytest tests/test_readme.py
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE_DATA
from trustscore.docs import render

README = ROOT / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", flags=re.DOTALL)


def _commands(block: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs of one console block."""
    out: list[tuple[str, str]] = []
    for line in block.splitlines(keepends=True):
        if line.startswith("$ "):
            out.append((line[2:].rstrip("\n"), ""))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + line)
    return out


def _run(command: str, cwd: Path) -> str:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.update({"COLUMNS": "100", "LC_ALL": "C", "NO_COLOR": "1", "TERM": "dumb"})
    done = subprocess.run(
        ["bash", "-c", "set -o pipefail; " + command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    # a pipe closed early by head is not a failure of the example
    assert done.returncode in (0, 141), f"{command}\n{done.stderr}"
    return done.stdout


def test_generated_parts_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    assert render(text) == text, "run: uv run python -m trustscore.docs README.md"


def test_console_examples(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_DATA, tmp_path / "sample_data")
    text = README.read_text(encoding="utf-8")
    regen = os.environ.get("TRUSTSCORE_REGEN_README") == "1"
    blocks = list(BLOCK.finditer(text))
    assert len(blocks) >= 5, "the walk-through has its examples"
    pieces: list[str] = []
    last = 0
    for match in blocks:
        new_block = ""
        for command, expected in _commands(match.group(1)):
            got = _run(command, tmp_path)
            if not regen:
                assert got == expected, f"README example drifted: {command}"
            new_block += f"$ {command}\n{got}"
        pieces.append(text[last : match.start(1)] + new_block)
        last = match.end(1)
    pieces.append(text[last:])
    if regen:
        README.write_text("".join(pieces), encoding="utf-8")
    elif not blocks:
        pytest.fail("no examples found")
