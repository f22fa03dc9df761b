"""The decision policy (DESIGN 8): a TOML file of named products and their rules.

A product is a loan (an amount lent up to a limit) or a rental (a deposit
waived). Its eligibility rules each carry a stable code and a sentence, like
the reason codes; a loan's limit is a base amount per score band times a
capacity term, rounded down to a step and capped; a rental waives all, half or
none of the deposit per band. An optional refer zone sends a range of scores
just below the minimum to a person instead of declining them.

Every key is checked: a key the program does not know, a value of the wrong
type or out of range, a band the limit forgets, a refer zone that overlaps the
approved scores are a UsageError (exit 2) naming the key. The policy's SHA-256
is that of the file's bytes (of ``DEFAULT_POLICY_TOML`` when no file is given),
so every decision can name the exact policy that made it.

The rules are evaluated in ``decide``; this module only reads and describes them.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import polars as pl

from trustscore.bands import BAND_NAMES, BANDS
from trustscore.errors import UsageError

DEFAULT_POLICY_TOML: Final = """\
# trustscore decision policy (DESIGN 8): trustscore decide --policy FILE.
# Each [products.NAME] is one product; decide gives, per person and product,
# approve, decline or refer. A key not listed here is refused, by name.

[products.micro_loan]
kind = "loan"                   # "loan": a limit; "rental": a deposit waived

[products.micro_loan.rules]     # each rule is optional but min_score; any failed rule declines
min_score = 600                 # P-MIN-SCORE: a final score of at least this
no_counterfeit_sold_days = 365  # P-COUNTERFEIT-SOLD: sold no confirmed counterfeit in N days
min_tenure_days = 90            # P-MIN-TENURE: a member for at least N days (signup date on record)
min_orders_365d = 3             # P-MIN-ORDERS: at least N orders in the last 12 months
max_outstanding_to_income = 1.0 # P-MAX-OUTSTANDING: owes on credit at most this many months of
                                # declared income (owing with no income declared fails)

[products.micro_loan.refer]     # optional: these scores go to a person instead of being
low = 570                       # declined, when every other rule passes; the zone must lie
high = 599                      # below min_score

[products.micro_loan.limit]
# limit = base[band] x capacity term, rounded down to a multiple of step, at most cap;
# capacity term = monthly capacity / reference, kept within min_term..max_term
# (min_term when the capacity is unknown). Every band a score can be approved or
# referred in needs a base amount.
base = { fair = 500, good = 1000, "very good" = 2000, excellent = 3000 }
capacity = "income_or_shop"     # "income": declared monthly income; "income_or_shop": for a
                                # person who runs a shop, its monthly revenue (last 12 months / 12)
reference = 3000                # the monthly capacity at which the base is lent as it is
min_term = 0.0
max_term = 2.0
step = 50
cap = 5000
minimum = 100                   # P-MIN-LIMIT: a limit below this declines

[products.rental_deposit]
kind = "rental"

[products.rental_deposit.rules]
min_score = 650
no_counterfeit_sold_days = 730
min_tenure_days = 180

[products.rental_deposit.deposit_waived]  # per band: "full", "half" or "none"; every band a
"very good" = "half"                      # score can be approved in is listed; "none" declines
excellent = "full"                        # (P-NO-WAIVER)
"""

KINDS: Final = ("loan", "rental")
WAIVERS: Final = ("full", "half", "none")
CAPACITY_SOURCES: Final = ("income", "income_or_shop")
SCALE: Final = (BANDS[0].low, BANDS[-1].high)

# rule codes: stable, the words a decision's failed_rules carry
MIN_SCORE: Final = "P-MIN-SCORE"
COUNTERFEIT_SOLD: Final = "P-COUNTERFEIT-SOLD"
MIN_TENURE: Final = "P-MIN-TENURE"
MIN_ORDERS: Final = "P-MIN-ORDERS"
MAX_OUTSTANDING: Final = "P-MAX-OUTSTANDING"
MIN_LIMIT: Final = "P-MIN-LIMIT"
NO_WAIVER: Final = "P-NO-WAIVER"

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
_MAX_BYTES: Final = 1 << 20


@dataclass(frozen=True)
class Rule:
    """One eligibility rule of a product, as ``--explain-policy`` lists it."""

    code: str
    key: str  # where the policy sets it: products.NAME.rules.min_score
    sentence: str  # what it asks for, in words


@dataclass(frozen=True)
class Refer:
    """Scores from ``low`` to ``high`` (inclusive) go to a person instead of declined."""

    low: int
    high: int


@dataclass(frozen=True)
class LoanLimit:
    """limit = min(cap, floor(base[band] x term / step) x step), where
    term = clip(capacity / reference, min_term, max_term)."""

    base: dict[str, float]  # per band; a band no score can reach is absent (0)
    capacity: str  # one of CAPACITY_SOURCES
    reference: float
    min_term: float
    max_term: float
    step: int
    cap: int
    minimum: int


@dataclass(frozen=True)
class Product:
    name: str
    kind: str  # one of KINDS
    min_score: int
    no_counterfeit_sold_days: int | None = None
    min_tenure_days: int | None = None
    min_orders_365d: int | None = None
    max_outstanding_to_income: float | None = None
    refer: Refer | None = None
    limit: LoanLimit | None = None  # loans
    deposit_waived: dict[str, str] | None = None  # rentals: band -> one of WAIVERS

    @property
    def lowest_reachable(self) -> int:
        """The lowest score this product can approve or refer."""
        return self.min_score if self.refer is None else min(self.min_score, self.refer.low)

    def rules(self, shop: bool = False) -> list[Rule]:
        """The product's rules in the order they are checked and listed; ``shop``:
        worded for a shop (DESIGN 10: days open, orders received, the owner's debt
        against a month's sales)."""
        at = f"products.{self.name}"
        refer = "" if self.refer is None else f" ({self.refer.low}-{self.refer.high} referred)"
        rules = [
            Rule(
                MIN_SCORE,
                f"{at}.rules.min_score",
                f"A final score of at least {self.min_score}{refer}",
            )
        ]
        if self.no_counterfeit_sold_days is not None:
            rules.append(
                Rule(
                    COUNTERFEIT_SOLD,
                    f"{at}.rules.no_counterfeit_sold_days",
                    "No confirmed counterfeit item sold in the last "
                    + _count(self.no_counterfeit_sold_days, "day"),
                )
            )
        if self.min_tenure_days is not None:
            rules.append(
                Rule(
                    MIN_TENURE,
                    f"{at}.rules.min_tenure_days",
                    ("Open" if shop else "A member")
                    + f" for at least {_count(self.min_tenure_days, 'day')}",
                )
            )
        if self.min_orders_365d is not None:
            rules.append(
                Rule(
                    MIN_ORDERS,
                    f"{at}.rules.min_orders_365d",
                    f"At least {_count(self.min_orders_365d, 'order')}"
                    + (" received" if shop else "")
                    + " in the last 12 months",
                )
            )
        if self.max_outstanding_to_income is not None:
            rules.append(
                Rule(
                    MAX_OUTSTANDING,
                    f"{at}.rules.max_outstanding_to_income",
                    ("The owner owes" if shop else "Owes")
                    + f" on credit at most {self.max_outstanding_to_income:.0%} "
                    + ("of a month's sales" if shop else "of a month's declared income"),
                )
            )
        if self.limit is not None:
            rules.append(
                Rule(
                    MIN_LIMIT,
                    f"{at}.limit.minimum",
                    f"A loan limit of at least {self.limit.minimum:,} "
                    "(the band's base amount times the capacity term)",
                )
            )
        if self.deposit_waived is not None:
            waived = ", ".join(
                f"{band}: {w}" for band, w in self.deposit_waived.items() if w != "none"
            )
            rules.append(
                Rule(
                    NO_WAIVER,
                    f"{at}.deposit_waived",
                    f"A score band whose deposit is waived ({waived or 'none is'})",
                )
            )
        return rules


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


@dataclass(frozen=True)
class Policy:
    products: dict[str, Product]
    sha256: str  # of the file's bytes (the default's text when there is no file)
    source: str  # the file, or "default policy"

    def select(self, names: Sequence[str] | None = None) -> list[Product]:
        """The products asked for, in the order asked (all, in the policy's order,
        for None); UsageError naming an unknown one."""
        if names is None:
            return list(self.products.values())
        chosen: list[Product] = []
        for name in dict.fromkeys(names):
            if name not in self.products:
                close = difflib.get_close_matches(name, list(self.products), n=1)
                raise UsageError(
                    f"the policy has no product {name!r}",
                    where=self.source,
                    hint=(f"did you mean {close[0]!r}? " if close else "")
                    + "products: "
                    + ", ".join(self.products),
                )
            chosen.append(self.products[name])
        return chosen


def explain(policy: Policy) -> pl.DataFrame:
    """Every product's rules as rows: product, kind, code, sentence, key
    (``decide --explain-policy``)."""
    rows = [
        (p.name, p.kind, r.code, r.sentence, r.key)
        for p in policy.products.values()
        for r in p.rules()
    ]
    return pl.DataFrame(
        rows,
        schema={n: pl.String for n in ("product", "kind", "code", "sentence", "key")},
        orient="row",
    )


# ------------------------------------------------------------------ reading


def default_policy() -> Policy:
    return parse(DEFAULT_POLICY_TOML.encode("utf-8"), "default policy")


def load(path: Path | str | None) -> Policy:
    """The policy in the file at ``path``; the default policy when None."""
    if path is None:
        return default_policy()
    where = str(path)
    file = Path(path)
    if not file.exists():
        raise UsageError(f"no policy file {where!r}")
    if not file.is_file():
        raise UsageError(f"the policy {where!r} is not a file", hint="give a TOML file")
    try:
        with file.open("rb") as fh:
            data = fh.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"the policy {where!r} cannot be read: {exc.strerror}") from None
    if len(data) > _MAX_BYTES:
        raise UsageError(f"the policy {where!r} is far too large for a policy (over 1 MB)")
    return parse(data, where)


def parse(data: bytes, where: str = "policy") -> Policy:
    """The policy in ``data`` (TOML as UTF-8 bytes), checked whole."""
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"the policy is not valid TOML: {exc}", where=where) from None
    _keys("the policy's top level", doc, {"products"}, where)
    products = doc.get("products")
    if not isinstance(products, dict) or not products:
        raise UsageError(
            "the policy names no products",
            where=where,
            hint="add a table [products.NAME] with a kind and rules (see the README's Decisions)",
        )
    parsed: dict[str, Product] = {}
    for name, table in products.items():
        if not _NAME.fullmatch(name):
            raise UsageError(
                f"products.{name!r}: a product's name is letters, digits, _ . and - "
                "(at most 64), starting with a letter, digit or _",
                where=where,
            )
        parsed[name] = _product(name, table, where)
    return Policy(parsed, hashlib.sha256(data).hexdigest(), where)


def _keys(section: str, data: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise UsageError(
                f"unknown key {key!r} in [{section}]",
                where=where,
                hint="allowed: " + ", ".join(sorted(allowed)),
            )


def _table(value: Any, at: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UsageError(f"{at} must be a table of keys, not {value!r}", where=where)
    return value


def _int(value: Any, at: str, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{at} must be a whole number, not {value!r}", where=where)
    if not low <= value <= high:
        raise UsageError(f"{at} = {value} is out of range", where=where, hint=f"{low}..{high}")
    return value


def _num(value: Any, at: str, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"{at} must be a number, not {value!r}", where=where)
    if not low <= float(value) <= high:  # also refuses nan and inf
        raise UsageError(
            f"{at} = {value!r} is out of range", where=where, hint=f"{low:g}..{high:g}"
        )
    return float(value)


def _choice(value: Any, at: str, where: str, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise UsageError(
            f"{at} must be one of {', '.join(repr(c) for c in choices)}, not {value!r}",
            where=where,
        )
    return value


_DAYS: Final = 36_500  # a hundred years: beyond it a rule in days means nothing
_MONEY: Final = 1e12  # the contract's amounts (DESIGN 1)


def _product(name: str, value: Any, where: str) -> Product:
    at = f"products.{name}"
    table = _table(value, f"[{at}]", where)
    _keys(at, table, {"kind", "rules", "refer", "limit", "deposit_waived"}, where)
    if "kind" not in table:
        raise UsageError(f"{at}.kind is missing", where=where, hint='"loan" or "rental"')
    kind = _choice(table["kind"], f"{at}.kind", where, KINDS)
    if "rules" not in table:
        raise UsageError(
            f"[{at}.rules] is missing", where=where, hint="it needs min_score at least"
        )
    rules = _table(table["rules"], f"[{at}.rules]", where)
    _keys(
        f"{at}.rules",
        rules,
        {
            "min_score",
            "no_counterfeit_sold_days",
            "min_tenure_days",
            "min_orders_365d",
            "max_outstanding_to_income",
        },
        where,
    )
    if "min_score" not in rules:
        raise UsageError(
            f"{at}.rules.min_score is missing", where=where, hint=f"{SCALE[0]}..{SCALE[1]}"
        )
    min_score = _int(rules["min_score"], f"{at}.rules.min_score", where, *SCALE)

    def optional_int(key: str, low: int, high: int) -> int | None:
        v = rules.get(key)
        return None if v is None else _int(v, f"{at}.rules.{key}", where, low, high)

    ratio = rules.get("max_outstanding_to_income")
    refer = _refer(table.get("refer"), at, min_score, where)
    product = Product(
        name=name,
        kind=kind,
        min_score=min_score,
        no_counterfeit_sold_days=optional_int("no_counterfeit_sold_days", 1, _DAYS),
        min_tenure_days=optional_int("min_tenure_days", 0, _DAYS),
        min_orders_365d=optional_int("min_orders_365d", 0, 1_000_000),
        max_outstanding_to_income=None
        if ratio is None
        else _num(ratio, f"{at}.rules.max_outstanding_to_income", where, 0.0, 1e6),
        refer=refer,
    )
    reachable = [b.name for b in BANDS if b.high >= product.lowest_reachable]
    if kind == "loan":
        if "deposit_waived" in table:
            raise UsageError(
                f"{at}.deposit_waived is for a rental; a loan has a [{at}.limit]", where=where
            )
        if "limit" not in table:
            raise UsageError(f"[{at}.limit] is missing: a loan needs a limit", where=where)
        limit = _limit(table["limit"], f"{at}.limit", reachable, where)
        return dataclasses.replace(product, limit=limit)
    if "limit" in table:
        raise UsageError(
            f"{at}.limit is for a loan; a rental has a [{at}.deposit_waived]", where=where
        )
    if "deposit_waived" not in table:
        raise UsageError(
            f"[{at}.deposit_waived] is missing: a rental waives a deposit per band", where=where
        )
    waived = _per_band(table["deposit_waived"], f"{at}.deposit_waived", reachable, where)
    deposit = {
        b: _choice(v, f'{at}.deposit_waived."{b}"', where, WAIVERS) for b, v in waived.items()
    }
    return dataclasses.replace(product, deposit_waived=deposit)


def _refer(value: Any, at: str, min_score: int, where: str) -> Refer | None:
    if value is None:
        return None
    table = _table(value, f"[{at}.refer]", where)
    _keys(f"{at}.refer", table, {"low", "high"}, where)
    for key in ("low", "high"):
        if key not in table:
            raise UsageError(f"{at}.refer.{key} is missing", where=where)
    low = _int(table["low"], f"{at}.refer.low", where, *SCALE)
    high = _int(table["high"], f"{at}.refer.high", where, *SCALE)
    if low > high:
        raise UsageError(f"{at}.refer.low ({low}) is above {at}.refer.high ({high})", where=where)
    if high >= min_score:
        raise UsageError(
            f"{at}.refer.high = {high} overlaps the approved scores "
            f"({at}.rules.min_score = {min_score}): a score cannot be both approved and referred",
            where=where,
            hint=f"the refer zone ends below min_score: high = {min_score - 1} at most",
        )
    return Refer(low, high)


def _per_band(value: Any, at: str, reachable: list[str], where: str) -> dict[str, Any]:
    """A table keyed by band, in the bands' order; every reachable band present."""
    table = _table(value, f"[{at}]", where)
    for band in table:
        if band not in BAND_NAMES:
            raise UsageError(
                f"{at} names no band {band!r}",
                where=where,
                hint="bands: " + ", ".join(f'"{b}"' for b in BAND_NAMES),
            )
    for band in reachable:
        if band not in table:
            low, high = next((b.low, b.high) for b in BANDS if b.name == band)
            raise UsageError(
                f'{at} has no entry for band "{band}" ({low}-{high}), '
                "where this product can approve or refer",
                where=where,
                hint=f'add "{band}" = ... to {at}',
            )
    return {b: table[b] for b in BAND_NAMES if b in table}


def _limit(value: Any, at: str, reachable: list[str], where: str) -> LoanLimit:
    table = _table(value, f"[{at}]", where)
    allowed = {"base", "capacity", "reference", "min_term", "max_term", "step", "cap", "minimum"}
    _keys(at, table, allowed, where)
    for key in ("base", "reference", "step", "cap"):
        if key not in table:
            raise UsageError(f"{at}.{key} is missing", where=where)
    base = {
        b: _num(v, f'{at}.base."{b}"', where, 0.0, _MONEY)
        for b, v in _per_band(table["base"], f"{at}.base", reachable, where).items()
    }
    min_term = _num(table.get("min_term", 0.0), f"{at}.min_term", where, 0.0, 1000.0)
    max_term = _num(table.get("max_term", 1.0), f"{at}.max_term", where, 0.0, 1000.0)
    if min_term > max_term:
        raise UsageError(
            f"{at}.min_term ({min_term:g}) is above {at}.max_term ({max_term:g})", where=where
        )
    cap = _int(table["cap"], f"{at}.cap", where, 1, int(_MONEY))
    minimum = _int(table.get("minimum", 0), f"{at}.minimum", where, 0, int(_MONEY))
    if minimum > cap:
        raise UsageError(
            f"{at}.minimum ({minimum}) is above {at}.cap ({cap}): no loan could be approved",
            where=where,
        )
    return LoanLimit(
        base=base,
        capacity=_choice(
            table.get("capacity", "income"), f"{at}.capacity", where, CAPACITY_SOURCES
        ),
        reference=_num(table["reference"], f"{at}.reference", where, 0.01, _MONEY),
        min_term=min_term,
        max_term=max_term,
        step=_int(table["step"], f"{at}.step", where, 1, int(_MONEY)),
        cap=cap,
        minimum=minimum,
    )
