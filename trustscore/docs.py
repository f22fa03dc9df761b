"""The README's generated parts, made from the declarations they describe.

Each part sits in README.md between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->``; a test fails when one drifts, and
``python -m trustscore.docs README.md`` rewrites them on purpose.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from trustscore.schema import TABLES, Kind


def contract() -> str:
    out: list[str] = []
    for table in TABLES.values():
        need = "required" if table.required else "optional"
        out.append(f"#### {table.filename} ({need})\n")
        out.append("| column | type | required | meaning |")
        out.append("|---|---|---|---|")
        for col in table.columns:
            kind = col.expected() if col.kind in (Kind.CHOICE, Kind.FLOAT) else col.kind.value
            flags = []
            if col.required:
                flags.append("yes")
            if col.unique:
                flags.append("unique")
            meaning = col.meaning
            if col.references:
                ref = f"a {col.references[1]} of {col.references[0]}.csv"
                meaning = f"{meaning}; {ref}" if meaning else ref
            out.append(f"| {col.name} | {kind} | {', '.join(flags) or 'no'} | {meaning} |")
        if table.passthrough:
            out.append(
                "| any other column | number or text | no | passthrough feature "
                "(dimension from the config; protected attributes left out) |"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def config() -> str:
    from trustscore.config import DEFAULT_TOML

    return "```toml\n" + DEFAULT_TOML + "```\n"


def policy() -> str:
    from trustscore.policy import DEFAULT_POLICY_TOML

    return "```toml\n" + DEFAULT_POLICY_TOML + "```\n"


_ARROW = {1: "more = riskier", -1: "more = safer", 0: "none"}


def features() -> str:
    from trustscore.features import COUNTERFEIT_FEATURES, registry

    out = [
        "| feature | dimension | monotone | unit | needs |",
        "|---|---|---|---|---|",
    ]
    for s in registry():
        extra = " (only with `counterfeit_in_model`)" if s.name in COUNTERFEIT_FEATURES else ""
        out.append(
            f"| `{s.name}`{extra} | {s.dimension.value} | {_ARROW[s.direction]} | {s.unit} "
            f"| {s.table}.csv |"
        )
    return "\n".join(out) + "\n"


def reasons() -> str:
    from trustscore.features import registry
    from trustscore.features.registry import WHEN_UNKNOWN

    out = ["| code | sentence | when the value is unknown |", "|---|---|---|"]
    for s in registry():
        sentence = s.sentence.replace("|", "\\|")
        unknown = WHEN_UNKNOWN.get(s.name, "—")
        out.append(f"| `{s.code}` | {sentence} | {unknown} |")
    return "\n".join(out) + "\n"


def shop_features() -> str:
    from trustscore.features.registry import WHEN_UNKNOWN
    from trustscore.features.shop import CATEGORY, OWNER_SCORE, SOLD_SPECS, shop_registry

    notes = {
        SOLD_SPECS[0].name: " (only with `counterfeit_in_model`)",
        OWNER_SCORE: " (only with `--owner-model`)",
        CATEGORY: " (levels learned from the data)",
    }
    out = [
        "| feature | dimension | monotone | sentence | when unknown |",
        "|---|---|---|---|---|",
    ]
    for s in shop_registry():
        sentence = s.sentence.replace("|", "\\|")
        unknown = WHEN_UNKNOWN.get(s.name, "—")
        out.append(
            f"| `{s.name}`{notes.get(s.name, '')} | {s.dimension.value} | {_ARROW[s.direction]} "
            f"| {sentence} | {unknown} |"
        )
    return "\n".join(out) + "\n"


PARTS: dict[str, Callable[[], str]] = {
    "contract": contract,
    "config": config,
    "policy": policy,
    "features": features,
    "reasons": reasons,
    "shop_features": shop_features,
}


def render(text: str) -> str:
    """``text`` with every generated part brought up to date."""
    for name, make in PARTS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", flags=re.DOTALL)
        start, end = f"<!-- {name}:start -->\n", f"<!-- {name}:end -->"
        text = pattern.sub(lambda _: start + make() + end, text)  # noqa: B023 (used at once)
    return text


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "README.md")
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
