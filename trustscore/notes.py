"""Notes: what a command tells the user about the data, besides problems.

A note is a value (a stable code, the table it concerns, the sentence), made
where the thing is found and printed by the CLI. Two layers may note the same
fact (ingest: "no transactions data"; features: which 30 features that costs);
the more specific one replaces the other by (code, table), not by matching
words in the sentence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Note:
    code: str  # table_missing, table_empty, table_ignored, columns_ignored, column_renamed,
    # column_empty, column_absent
    text: str
    table: str | None = None

    def __str__(self) -> str:
        return self.text


def merge(general: Iterable[Note], specific: Iterable[Note]) -> list[Note]:
    """``general`` notes less those that ``specific`` ones say in more detail, then
    the specific ones; each once, in order."""
    specific = list(specific)
    said = {(n.code, n.table) for n in specific}
    out: list[Note] = []
    for note in [*(n for n in general if (n.code, n.table) not in said), *specific]:
        if note not in out:
            out.append(note)
    return out


def outcome_note(outcome: dict[str, object] | None) -> str | None:
    """The card's line on where a derived outcome came from (the manifest's
    ``outcome``, see :mod:`trustscore.outcomes`); None for consumers' own column."""
    if not outcome or outcome.get("source") != "records":
        return None
    good, bad = outcome.get("good", 0), outcome.get("bad", 0)
    return (
        f"outcome derived from repayment records: bills due {outcome.get('bills_due_from')} "
        f"to {outcome.get('bills_due_before')} (exclusive), 30+ days late = bad; the model "
        f"learned from features as of {outcome.get('observation_date')} "
        f"({good:,} good, {bad:,} bad)"
    )
