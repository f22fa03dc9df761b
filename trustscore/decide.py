"""Decisions (DESIGN 8): a policy's products applied to everyone in a model folder.

Per person and product: approve, decline or refer; the loan limit or the
deposit waived; the rules that failed; and for a decline or a refer the
person's strongest lowering reason codes (``reasons.lowering_codes``, the
card's own), the words an adverse-action notice needs. Each row names the
model (the manifest's seal, which covers every file of the folder), the policy
(the SHA-256 of its bytes) and the as-of date, so it can be replayed.

A decision is a lookup plus rules: the stored scores, features and events are
read once, only the columns the rules need, and every rule is a column
expression over everyone at once.

How the rules decide:

- a product's rules other than the minimum score (counterfeit sold, history,
  debt, and the limit or waiver of the person's band) are hard: any failure
  declines;
- otherwise a score of at least ``min_score`` approves, a score in the refer
  zone refers, and a lower one declines;
- a missing value fails the rule that needs it: no signup date on record is no
  tenure shown, no orders table no orders; owing on credit with no income
  declared fails the debt rule (owing nothing passes it);
- the limit and waiver rules judge only bands the product can approve or refer
  in (a declined score is declined by its score alone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import polars as pl

from trustscore.bands import BANDS
from trustscore.entity import KEY, Entity
from trustscore.errors import ModelError, UsageError
from trustscore.features.events import SOLD
from trustscore.features.spec import FeatureSpec
from trustscore.model_folder import (
    EVENTS_FILE,
    FEATURES_FILE,
    POINTS_FILE,
    SCORES_FILE,
    ModelFolder,
)
from trustscore.policy import (
    COUNTERFEIT_SOLD,
    MAX_OUTSTANDING,
    MIN_LIMIT,
    MIN_ORDERS,
    MIN_SCORE,
    MIN_TENURE,
    NO_WAIVER,
    Policy,
    Product,
)
from trustscore.reasons import lowering_codes, reason_columns

if TYPE_CHECKING:
    from trustscore.pipeline import Prepared, Scored

APPROVE: Final = "approve"
DECLINE: Final = "decline"
REFER: Final = "refer"
N_REASONS: Final = 4

# the stored features the rules and limits read (features/registry.py)
TENURE: Final = "tenure_days"
ORDERS: Final = "orders_365d"
OWED: Final = "credit_outstanding"
OWED_TO_INCOME: Final = "outstanding_to_income"
INCOME: Final = "monthly_income"
SHOPS: Final = "shops_owned"
SHOP_REVENUE: Final = "shop_revenue_365d"
POLICY_FEATURES: Final = (TENURE, ORDERS, OWED, OWED_TO_INCOME, INCOME, SHOPS, SHOP_REVENUE)
# a shop's own features that stand in for them (features/shop.py)
SHOP_SOURCES: Final = {
    TENURE: "days_open",
    ORDERS: "orders_received_365d",
    OWED: "owner_credit_outstanding",
    SHOP_REVENUE: "revenue_365d",
}
_SOLD_DAYS: Final = "_days_since_sold"  # days from the latest counterfeit sold to as-of
_DEBT_KNOWN: Final = "_debt_on_record"  # the folder holds the debt features at all

REASON_COLUMNS: Final = reason_columns(N_REASONS)
DECISION_SCHEMA: Final[dict[str, pl.DataType]] = {
    "person_id": pl.String(),
    "product": pl.String(),
    "decision": pl.String(),
    "limit": pl.Int64(),  # loans: the amount approved (or offered to a referee)
    "deposit_waived": pl.String(),  # rentals: full, half
    "failed_rules": pl.String(),  # rule codes joined by ';', null when none failed
    **{c: pl.String() for c in REASON_COLUMNS},
    "score": pl.Int64(),
    "band": pl.String(),
    "as_of": pl.String(),
    "model_sha256": pl.String(),
    "policy_sha256": pl.String(),
}
DECISION_COLUMNS: Final = list(DECISION_SCHEMA)


def model_sha256(folder: ModelFolder) -> str:
    """The manifest's seal: the SHA-256 of its text, which lists every file's."""
    seal = folder.manifest.get("manifest_sha256")
    if not isinstance(seal, str):
        raise ModelError("manifest.json carries no seal", where=str(folder.path))
    return seal


@dataclass(frozen=True)
class Records:
    """What the rules read, per person: the scores (person_id, score, band, and in a
    model folder split and defaulted), the feature values, the counterfeit events
    and the per-feature points; with the as-of date and the model's seal.

    From a model folder (:meth:`of_folder`: its stored persons, read lazily) or
    from a data folder just scored with it (:meth:`of_scored`)."""

    scores: pl.LazyFrame
    features: pl.LazyFrame
    events: pl.LazyFrame
    points: pl.LazyFrame
    as_of: dt.date
    specs: list[FeatureSpec]
    model_sha256: str
    where: str
    entity: Entity = Entity.PERSON

    @classmethod
    def of_folder(cls, folder: ModelFolder) -> Records:
        def scan(name: str) -> pl.LazyFrame:
            return pl.scan_parquet(folder.files[name].source())

        return cls(
            scan(SCORES_FILE),
            scan(FEATURES_FILE),
            scan(EVENTS_FILE),
            scan(POINTS_FILE),
            folder.as_of,
            folder.specs,
            model_sha256(folder),
            str(folder.path),
            folder.entity,
        )

    @classmethod
    def of_scored(
        cls, folder: ModelFolder, scored: Scored, prepared: Prepared, where: str
    ) -> Records:
        """Persons of a data folder scored with ``folder``'s model, with their
        per-feature points (``score_with(..., feature_points=True)``)."""
        return cls(
            scored.scores.lazy(),
            prepared.features.frame.lazy(),
            prepared.features.events.lazy(),
            scored.points.lazy(),
            prepared.as_of,
            folder.specs,
            model_sha256(folder),
            where,
            folder.entity,
        )


def _records(source: ModelFolder | Records) -> Records:
    return source if isinstance(source, Records) else Records.of_folder(source)


def absent_features(
    source: ModelFolder | Records, policy: Policy, products: Sequence[str] | None = None
) -> list[str]:
    """The features the rules of the products (all the policy's for None) read that
    the folder does not hold (a table was missing at build): every person then
    fails the rules that need them."""
    records = _records(source)
    _, held = _policy_view(records)
    names = set(held)
    shop = records.entity is Entity.MERCHANT
    needed: list[str] = []
    for p in policy.select(products):
        if p.min_tenure_days is not None:
            needed.append(TENURE)
        if p.min_orders_365d is not None:
            needed.append(ORDERS)
        if p.max_outstanding_to_income is not None:
            needed += [OWED, OWED_TO_INCOME]
    absent = [n for n in dict.fromkeys(needed) if n not in names]
    if shop:  # named as the shop's features the rules read
        absent = list(
            dict.fromkeys(SHOP_SOURCES.get(n, SHOP_SOURCES[SHOP_REVENUE]) for n in absent)
        )
    return absent


def _policy_view(records: Records) -> tuple[pl.LazyFrame, list[str]]:
    """The features the rules read, under the names of ``POLICY_FEATURES`` (Float64),
    and which of them the records hold. A shop's (DESIGN 10) come from its own:
    days open for tenure, orders received, the owner's credit outstanding as its
    debt, and its sales as its income (a month's: the last 12 months' / 12), so the
    capacity term of a loan is the shop's revenue."""
    names = records.features.collect_schema().names()
    if records.entity is Entity.PERSON:
        held: list[str] = [n for n in POLICY_FEATURES if n in names]
        columns = [pl.col(n).cast(pl.Float64) for n in held]
        return records.features.select(KEY, *columns), held
    exprs = {
        policy_name: pl.col(shop_name).cast(pl.Float64)
        for policy_name, shop_name in SHOP_SOURCES.items()
        if shop_name in names
    }
    if SHOP_REVENUE in exprs:
        revenue = exprs[SHOP_REVENUE]
        exprs[INCOME] = revenue / 12
        exprs[SHOPS] = pl.lit(1.0)
        if OWED in exprs:
            income = revenue / 12
            exprs[OWED_TO_INCOME] = pl.when(income > 0).then(exprs[OWED] / income)
    held = [str(n) for n in POLICY_FEATURES if n in exprs]
    return records.features.select(KEY, *(exprs[n].alias(n) for n in held)), held


def decide(
    source: ModelFolder | Records,
    policy: Policy,
    products: Sequence[str] | None = None,
    person_ids: Sequence[str] | None = None,
) -> pl.DataFrame:
    """The decisions (``DECISION_SCHEMA``) of everyone in the folder, or of those of
    ``person_ids`` it holds (an id it does not hold gives no row), for each product
    (all of the policy's when None): a row per person and product, persons in the
    folder's order, products in the order asked. The same folder and policy give
    the same frame, byte for byte."""
    records = _records(source)
    chosen = policy.select(products)
    people = _people(records, person_ids)
    parts = [
        _decisions(people, product).with_columns(pl.lit(i, pl.UInt32).alias("_product"))
        for i, product in enumerate(chosen)
    ]
    decided = pl.concat(parts).sort(["_row", "_product"])
    adverse = decided.filter(pl.col("decision") != APPROVE).get_column("person_id").unique()
    reasons = _reasons(records, adverse)
    out = decided.join(reasons, on="person_id", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("decision") != APPROVE).then(pl.col(c)).alias(c) for c in REASON_COLUMNS
    )
    return out.select(
        *(c for c in DECISION_COLUMNS if c not in ("as_of", "model_sha256", "policy_sha256")),
        pl.lit(records.as_of.isoformat(), pl.String).alias("as_of"),
        pl.lit(records.model_sha256, pl.String).alias("model_sha256"),
        pl.lit(policy.sha256, pl.String).alias("policy_sha256"),
    ).cast(DECISION_SCHEMA)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Said:
    """A reason code of a decision in words: what an adverse-action notice says."""

    code: str
    sentence: str
    points: float


def reasons_in_words(
    source: ModelFolder | Records, decisions: pl.DataFrame
) -> dict[str, dict[str, Said]]:
    """Per person of ``decisions`` (rows of :func:`decide`), the reason codes its
    rows name, with the card's sentences and points: only those features'
    columns of the points and features files are read, for only those persons."""
    from trustscore.features.registry import render_sentence

    records = _records(source)
    named = decisions.select("person_id", *REASON_COLUMNS).unpivot(
        index="person_id", value_name="code"
    )
    named = (
        named.filter(pl.col("code").is_not_null())
        .select("person_id", "code")
        .unique(maintain_order=True)
    )
    if named.height == 0:
        return {}
    by_code = {s.code: s for s in records.specs}
    specs = [by_code[c] for c in named.get_column("code").unique().sort() if c in by_code]
    ids = named.get_column("person_id").unique()
    columns = [s.name for s in specs]
    points = _rows_of(records, POINTS_FILE, records.points.select("person_id", *columns), ids)
    have = records.features.collect_schema().names()
    values = _rows_of(
        records,
        FEATURES_FILE,
        records.features.select("person_id", *(c for c in columns if c in have)),
        ids,
    )
    point_rows = {r["person_id"]: r for r in points.iter_rows(named=True)}
    value_rows = {r["person_id"]: r for r in values.iter_rows(named=True)}
    out: dict[str, dict[str, Said]] = {}
    for pid, code in named.iter_rows():
        spec = by_code.get(code)
        if spec is None or pid not in point_rows:
            continue
        value = value_rows.get(pid, {}).get(spec.name)
        out.setdefault(pid, {})[code] = Said(
            code, render_sentence(spec, value), round(float(point_rows[pid][spec.name]), 2)
        )
    return out


def strategy(folder: ModelFolder, policy: Policy, product: str) -> pl.DataFrame:
    """What the cut-off does, on the folder's holdout persons (known outcome, not
    trained on): for each cut-off (every 10 points of the scale, each band's
    lower edge, and the product's own min_score), with every other rule of the
    product as it is: how many are approved, the bad rate among the approved and
    the declined, and (loans) the limits approved: exposure, and the part of it
    lent to persons who went bad."""
    (chosen,) = policy.select([product])
    outcome = folder.outcome or {}
    if outcome.get("source") == "records":
        raise UsageError(
            "a strategy needs scores from before the outcomes, and this model's outcomes were "
            "derived from the records in the window before its as-of date, which its stored "
            "scores already see (every bad would sit below any cut-off)",
            where=str(folder.path),
            hint="judge cut-offs on a model built with a defaulted column, or on the outcomes "
            "of a later month (trustscore monitor)",
        )
    records = Records.of_folder(folder)
    scores = records.scores.collect_schema().names()
    if "split" not in scores or "defaulted" not in scores:
        raise ModelError("scores.parquet has no split or defaulted column", where=str(folder.path))
    people = _people(records, None, holdout=True)
    if people.height == 0:
        raise UsageError(
            "the model folder has no holdout persons with a known outcome",
            where=str(folder.path),
            hint="a strategy needs outcomes: build with a defaulted column or --label records",
        )
    judged = _judge(people, chosen, every_band=True)
    others_pass = ~_any([pl.col(f"_fail_{code}") for code in _hard_codes(chosen)])
    limit = pl.col("_limit") if chosen.kind == "loan" else pl.lit(None, pl.Int64)
    base = judged.select(
        pl.col("score"),
        (pl.col("defaulted") > 0).alias("bad"),
        others_pass.alias("eligible"),
        limit.alias("limit"),
    )
    low, high = BANDS[0].low, BANDS[-1].high
    edges = {b.low: b.name for b in BANDS}
    cutoffs = sorted({*range(low, high + 1, 10), *edges, chosen.min_score})
    total = base.height
    total_bad = int(base.get_column("bad").sum())
    rows = []
    for cut in cutoffs:
        approved = base.filter(pl.col("eligible") & (pl.col("score") >= cut))
        n = approved.height
        bad = int(approved.get_column("bad").sum())
        declined, declined_bad = total - n, total_bad - bad
        loan = chosen.kind == "loan"
        rows.append(
            (
                chosen.name,
                cut,
                n,
                _rate(n, total),
                _rate(bad, n),
                _rate(declined_bad, declined),
                int(approved.get_column("limit").sum()) if loan else None,
                int(approved.filter(pl.col("bad")).get_column("limit").sum()) if loan else None,
                edges.get(cut),
                cut == chosen.min_score,
                total,
            )
        )
    return pl.DataFrame(
        rows,
        schema={  # what a committee reads first, first: a terminal shows what fits
            "product": pl.String,
            "cutoff": pl.Int64,
            "approved": pl.Int64,
            "approval_rate": pl.Float64,
            "bad_rate_approved": pl.Float64,
            "bad_rate_declined": pl.Float64,
            "exposure": pl.Int64,
            "exposure_bad": pl.Int64,
            "band_edge": pl.String,
            "policy_cutoff": pl.Boolean,
            "persons": pl.Int64,
        },
        orient="row",
    )


def _rate(part: int, whole: int) -> float | None:
    """A share of holdout persons, to 4 decimals (a hundredth of a percentage point:
    more would be noise on a holdout); None of nobody."""
    return round(part / whole, 4) if whole else None


# ------------------------------------------------------------------ reading the records


def _collect(records: Records, name: str, lf: pl.LazyFrame) -> pl.DataFrame:
    try:
        return lf.collect()
    except pl.exceptions.PolarsError as exc:
        raise ModelError(f"{name} is corrupt: {exc}", where=records.where) from None


_FEW: Final = 10_000  # ids looked up in the Parquet file (its statistics skip row
# groups: one person in a million is read in a blink); more are read whole and
# joined, which for hundreds of thousands is several times faster


def _rows_of(records: Records, name: str, lf: pl.LazyFrame, ids: pl.Series | None) -> pl.DataFrame:
    """The rows of ``lf`` (a scan of ``name``) whose person_id is in ``ids`` (all for None)."""
    if ids is None:
        return _collect(records, name, lf)
    if len(ids) <= _FEW:
        return _collect(records, name, lf.filter(pl.col("person_id").is_in(ids.implode())))
    found = _collect(records, name, lf)
    return found.join(ids.to_frame(), on="person_id", how="semi", maintain_order="left")


def _people(
    records: Records, person_ids: Sequence[str] | None, *, holdout: bool = False
) -> pl.DataFrame:
    """One row per person: the score, band, outcome and everything the rules read,
    in the folder's order (``_row``)."""
    scores = records.scores
    names = scores.collect_schema().names()
    extra = [c for c in ("split", "defaulted") if c in names]
    scores = scores.select("person_id", "score", "band", *extra)
    if holdout:
        scores = scores.filter((pl.col("split") == "holdout") & pl.col("defaulted").is_not_null())
    wanted = None if person_ids is None else pl.Series(list(person_ids), dtype=pl.String).unique()
    # numbered after the filter: a row index taken first would make the reader
    # number (so read) every row, where the filter alone skips row groups
    people = _rows_of(records, SCORES_FILE, scores, wanted).with_row_index("_row")
    # everyone, or only those found (a strategy's holdout, the ids asked for)
    ids = None if person_ids is None and not holdout else people.get_column("person_id")

    features, held = _policy_view(records)
    as_of = records.as_of
    sold = _rows_of(
        records,
        EVENTS_FILE,
        records.events.filter((pl.col("event") == SOLD) & (pl.col("date") < as_of)),
        ids,
    )
    latest_sold = sold.group_by("person_id").agg(
        (pl.lit(as_of) - pl.col("date").max()).dt.total_days().alias(_SOLD_DAYS)
    )
    return (
        people.join(
            _rows_of(records, FEATURES_FILE, features, ids),
            on="person_id",
            how="left",
            maintain_order="left",
        )
        .join(latest_sold, on="person_id", how="left", maintain_order="left")
        .with_columns(pl.lit(None, pl.Float64).alias(n) for n in POLICY_FEATURES if n not in held)
        # debts not on record at all (no transactions table at build) cannot pass the
        # debt rule; a person with no debt on record (0) does
        .with_columns(pl.lit(OWED in held and OWED_TO_INCOME in held).alias(_DEBT_KNOWN))
    )


def _reasons(records: Records, ids: pl.Series) -> pl.DataFrame:
    points = _rows_of(records, POINTS_FILE, records.points, ids)
    return lowering_codes(points, records.specs, N_REASONS)


# ------------------------------------------------------------------ the rules


def _any(conditions: list[pl.Expr]) -> pl.Expr:
    return pl.any_horizontal(conditions) if conditions else pl.lit(False)


def _hard_codes(product: Product) -> list[str]:
    """The codes of the rules that decline whatever the score (all but min_score)."""
    return [r.code for r in product.rules() if r.code != MIN_SCORE]


def _limit(product: Product) -> pl.Expr:
    """The loan limit of each person's band and capacity (see policy.LoanLimit)."""
    spec = product.limit
    assert spec is not None
    base = pl.col("band").replace_strict(spec.base, default=0.0, return_dtype=pl.Float64)
    capacity = pl.col(INCOME)
    if spec.capacity == "income_or_shop":
        seller = (pl.col(SHOPS).fill_null(0) > 0) & pl.col(SHOP_REVENUE).is_not_null()
        capacity = pl.when(seller).then(pl.col(SHOP_REVENUE) / 12).otherwise(capacity)
    # base * capacity first, then / reference: 1000 * 900 / 3000 is exactly 300
    raw = (base * capacity / spec.reference).clip(base * spec.min_term, base * spec.max_term)
    raw = raw.fill_null(base * spec.min_term)
    # rounded down to the step; the relative hair absorbs the float error of the
    # product and quotient, so an exact multiple never falls a step short
    steps = (raw / spec.step * (1 + 1e-12)).floor()
    return (steps * spec.step).clip(upper_bound=spec.cap).cast(pl.Int64)


def _judge(people: pl.DataFrame, product: Product, *, every_band: bool = False) -> pl.DataFrame:
    """``people`` with a ``_fail_<code>`` column per rule, ``_limit`` and ``_waiver``.

    The limit and waiver rules judge the bands the product can approve or refer
    in, or every band (``every_band``: a strategy moves the cut-off)."""
    score = pl.col("score")
    reachable = pl.lit(True) if every_band else score >= product.lowest_reachable
    fails: dict[str, pl.Expr] = {MIN_SCORE: score < product.min_score}
    if product.no_counterfeit_sold_days is not None:
        fails[COUNTERFEIT_SOLD] = (
            pl.col(_SOLD_DAYS) <= product.no_counterfeit_sold_days
        ).fill_null(False)
    if product.min_tenure_days is not None:
        fails[MIN_TENURE] = (pl.col(TENURE) < product.min_tenure_days).fill_null(True)
    if product.min_orders_365d is not None:
        fails[MIN_ORDERS] = pl.col(ORDERS).fill_null(0) < product.min_orders_365d
    if product.max_outstanding_to_income is not None:
        owes = pl.col(OWED).fill_null(0) > 0
        fails[MAX_OUTSTANDING] = ~pl.col(_DEBT_KNOWN) | (
            pl.col(OWED_TO_INCOME) > product.max_outstanding_to_income
        ).fill_null(owes)
    extra: list[pl.Expr] = []
    if product.limit is not None:
        extra.append(_limit(product).alias("_limit"))
        fails[MIN_LIMIT] = reachable & (pl.col("_limit") < product.limit.minimum)
    else:
        extra.append(pl.lit(None, pl.Int64).alias("_limit"))
    if product.deposit_waived is not None:
        waiver = pl.col("band").replace_strict(
            product.deposit_waived, default="none", return_dtype=pl.String
        )
        extra.append(waiver.alias("_waiver"))
        fails[NO_WAIVER] = reachable & (pl.col("_waiver") == "none")
    else:
        extra.append(pl.lit(None, pl.String).alias("_waiver"))
    return people.with_columns(extra).with_columns(
        expr.alias(f"_fail_{code}") for code, expr in fails.items()
    )


def _decisions(people: pl.DataFrame, product: Product) -> pl.DataFrame:
    judged = _judge(people, product)
    codes = [r.code for r in product.rules()]
    hard = _any([pl.col(f"_fail_{c}") for c in _hard_codes(product)])
    score = pl.col("score")
    refer = product.refer
    in_refer = pl.lit(False) if refer is None else (score >= refer.low) & (score <= refer.high)
    decision = (
        pl.when(hard)
        .then(pl.lit(DECLINE))
        .when(score >= product.min_score)
        .then(pl.lit(APPROVE))
        .when(in_refer)
        .then(pl.lit(REFER))
        .otherwise(pl.lit(DECLINE))
    )
    failed = pl.concat_str(
        [pl.when(pl.col(f"_fail_{c}")).then(pl.lit(c)) for c in codes],
        separator=";",
        ignore_nulls=True,
    )
    offered = pl.col("decision") != DECLINE
    return judged.select(
        "_row",
        "person_id",
        pl.lit(product.name, pl.String).alias("product"),
        decision.alias("decision"),
        "score",
        "band",
        "_limit",
        "_waiver",
        pl.when(failed != "").then(failed).alias("failed_rules"),
    ).select(
        "_row",
        "person_id",
        "product",
        "decision",
        pl.when(offered).then(pl.col("_limit")).alias("limit"),
        pl.when(offered).then(pl.col("_waiver")).alias("deposit_waived"),
        "failed_rules",
        "score",
        "band",
    )
