"""What a finished build says about itself: the warnings that a model may be useless.

A build that runs to the end is not necessarily a model worth using. On real
marketplace data, where most buyers buy once, a model can learn nothing and
give everyone the same score; the build must say so, loudly, and in the
summary's JSON (DESIGN 1 and issue 10). Each rule has a stable code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from trustscore.ingest import Report
    from trustscore.outcomes import Outcome
    from trustscore.pipeline import Prepared

MIN_AUC = 0.55  # below this the holdout ranks hardly better than a coin
MIN_DISTINCT_SCORES = 5  # fewer, and the score cannot tell people apart
MOST = 0.5  # "most labelled persons"


@dataclass(frozen=True)
class BuildWarning:
    code: str
    text: str
    count: int | None = None  # persons concerned, where the rule counts them

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "text": self.text}
        if self.count is not None:
            out["count"] = self.count
        return out


def build_warnings(
    metrics: dict[str, Any],
    scores: pl.DataFrame,
    learn: Prepared,
    outcome: Outcome,
    report: Report,
) -> list[BuildWarning]:
    """Every rule that fires, in a fixed order."""
    labelled = ~np.isnan(outcome.y)
    out: list[BuildWarning] = []
    out.extend(_learned_nothing(metrics, scores, learn.entity.noun))
    if learn.entity.noun != "person":
        return out  # the rules below read persons' signups and purchases
    out.extend(_without_history(learn, labelled))
    out.extend(_signed_up_later(learn, labelled, metrics))
    return out


def _learned_nothing(
    metrics: dict[str, Any], scores: pl.DataFrame, noun: str = "person"
) -> list[BuildWarning]:
    out: list[BuildWarning] = []
    auc = metrics["holdout"].get("auc")
    if auc is None or not math.isfinite(auc) or auc < MIN_AUC:
        shown = "undefined" if auc is None or not math.isfinite(auc) else f"{auc:.4f}"
        out.append(
            BuildWarning(
                "model_learned_nothing",
                f"the model learned nothing useful: holdout AUC {shown}, below {MIN_AUC} "
                "(0.5 is a coin toss)",
            )
        )
    distinct = scores.get_column("score").n_unique()
    if distinct < MIN_DISTINCT_SCORES:
        out.append(
            BuildWarning(
                "few_distinct_scores",
                f"only {distinct} distinct score{'s' if distinct != 1 else ''} among "
                f"{scores.height:,} {noun}s: the score cannot tell them apart",
                count=distinct,
            )
        )
    return out


def _without_history(learn: Prepared, labelled: np.ndarray[Any, Any]) -> list[BuildWarning]:
    """Most labelled persons had no transaction before the date their features were
    taken (as-of, or T for derived outcomes). Without a transactions table at all
    there is nothing to warn of: a note says the table is absent."""
    total = int(labelled.sum())
    if total == 0 or learn.tables.transactions is None:
        return []  # no transactions table: a note says so already, and features are absent
    from trustscore.features.as_of_view import as_of_view

    if learn.active is not None:  # read in parts: the orders were never held whole
        pids = learn.active.drop_nulls()
    else:
        orders = as_of_view(learn.tables, learn.as_of).orders
        assert orders is not None
        pids = orders.select(pl.col("pid").drop_nulls().unique()).collect().get_column("pid")
    active = np.zeros(labelled.size, dtype=bool)
    active[pids.to_numpy()] = True
    quiet = int((labelled & ~active).sum())
    if quiet <= MOST * total:
        return []
    return [
        BuildWarning(
            "labelled_without_history",
            f"{quiet:,} of {total:,} labelled persons ({quiet / total:.0%}) have no "
            f"transactions before {learn.as_of}: their features are empty, so the model "
            "learns little about them",
            count=quiet,
        )
    ]


def _signed_up_later(
    learn: Prepared, labelled: np.ndarray[Any, Any], metrics: dict[str, Any]
) -> list[BuildWarning]:
    """Labelled persons who signed up on or after the as-of date: their outcome
    cannot follow from what was known then."""
    import datetime as dt

    c = learn.tables.consumers
    if "signup_date" not in c.columns:
        return []
    as_of = dt.date.fromisoformat(metrics["as_of"])
    signup = (
        learn.features.frame.select("person_id")
        .join(
            c.select("person_id", "signup_date"), on="person_id", how="left", maintain_order="left"
        )
        .get_column("signup_date")
    )
    later = (signup >= as_of).fill_null(False).to_numpy() & labelled
    n = int(later.sum())
    if n == 0:
        return []
    return [
        BuildWarning(
            "labelled_signup_after_as_of",
            f"{n:,} labelled persons signed up on or after the as-of date {as_of}: an outcome "
            "cannot be learned from features of a time before they joined",
            count=n,
        )
    ]
