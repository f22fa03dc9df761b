"""Every built-in feature, in order: the blocks of each dimension's module.

The declarations live with their computations (``credit``, ``behaviour``,
``events``, ``capacity``, ``identity``, ``connections``); this module only
lists them, so the model's constraints, the card's reasons and the docs'
feature table all read the same specs.

Sentence convention. ``FeatureSpec.sentence`` is a ``str.format`` template
with one field, ``value``, carrying its own format spec; it states the
person's fact plainly, so it reads right for any value (an adverse-action
reason names the fact, the score says it counted against them). ``unit``
says what the number is and how the template formats it:

- ``share`` (in [0, 1]) and ``ratio`` (>= 0, may pass 1): ``{value:.0%}``
- ``money``: ``{value:,.2f}`` (``{value:,.0f}`` for declared income)
- counts (``bills``, ``orders``, ``months``, ``categories``, ``shops``,
  ``shipments``, ``addresses``, ``items``, ``claims``) and ``days``:
  ``{value:,.0f}`` (a mean of days: ``{value:,.1f}``), the noun after the
  number written in the plural
- ``flag`` (1/0): the template gets ``yes`` or ``no``
- ``category``: the template gets the level's text (the frame holds an
  Enum over ``FeatureSpec.categories``; the code is its index)
- ``value`` (a passthrough number): ``{value:,.6g}``

``render_sentence`` fills a template so that it reads true and right for 0,
1 and many (the rules live here, once, for every template):

- a percentage shows whole from 10% up, with one decimal below (0.4%, not
  0%), "<0.1%" for a share that is not zero but rounds to it, and one
  decimal near the top, ">99.9%" for a share just short of 1 (never 100%);
- any other number that is not zero but rounds to it shows as "<" the
  smallest step of its format ("<0.01", "<0.1"), never as zero;
- when the number reads exactly "1", the first plural noun of ``SINGULAR``
  within the three words after it becomes singular ("1 credit bill fell
  due", "Bought from 1 category"); a number followed by "of" is a part of
  something ("1 of the last 12 months") and left as it is;
- a value of 0 with an entry in ``WHEN_ZERO`` reads as that entry.

A missing value (None, NaN) reads as the feature's entry in ``WHEN_UNKNOWN``
(what an empty value means for it: "No late repayment on record"), or
"<feature>: no data" when it has none.
"""

from __future__ import annotations

import functools
import math
import re
import string

from trustscore.features import behaviour, capacity, connections, credit, events, identity
from trustscore.features.block import Block
from trustscore.features.spec import FeatureSpec

BLOCKS: tuple[Block, ...] = (
    *credit.BLOCKS,
    *behaviour.BLOCKS,
    *events.BLOCKS,
    *capacity.BLOCKS,
    *identity.BLOCKS,
    *connections.BLOCKS,
)

SHARED = connections.SHARED
"""Aggregates over every person's orders that blocks read through ``AsOfView.shared``
(a shop's totals, a buyer's totals): computed once over everyone when the persons
are taken a partition at a time (features/partition.py). Each needs the orders."""

COUNTERFEIT_FEATURES: frozenset[str] = frozenset(
    s.name for b in BLOCKS if b.counterfeit for s in b.specs
)
"""Features that are model inputs only with ``FeatureConfig.counterfeit_in_model``."""


def registry() -> list[FeatureSpec]:
    """All built-in features in order, counterfeit ones included (see COUNTERFEIT_FEATURES)."""
    return [s for b in BLOCKS for s in b.specs]


_NO_BILLS = "No credit bills fell due in the last 12 months"
_NO_BILLS_EVER = "No credit bill has fallen due yet"
_NO_ORDERS_EVER = "No orders yet"
_NO_ORDERS = "No orders in the last 12 months"
_NO_PARCELS = "No parcels in the last 12 months"
_NO_SHOP = "Runs no shop"
_NO_INCOME = "No monthly income declared"

WHEN_UNKNOWN: dict[str, str] = {
    "on_time_share_365d": _NO_BILLS,
    "days_late_max_365d": _NO_BILLS,
    "days_late_mean_365d": _NO_BILLS,
    "days_since_late": "No late repayment on record",
    "on_time_share_lifetime": _NO_BILLS_EVER,
    "days_late_mean_lifetime": _NO_BILLS_EVER,
    "days_since_first_bill": _NO_BILLS_EVER,
    "avg_order_value_365d": "No completed orders in the last 12 months",
    "refund_rate_365d": _NO_ORDERS,
    "cancel_rate_lifetime": _NO_ORDERS_EVER,
    "dispute_rate_lifetime": _NO_ORDERS_EVER,
    "chargeback_rate_lifetime": _NO_ORDERS_EVER,
    "return_rate_365d": _NO_PARCELS,
    "changed_mind_return_rate_365d": _NO_PARCELS,
    "refused_delivery_rate_365d": "No deliveries in the last 12 months",
    "refused_delivery_rate_lifetime": "No deliveries yet",
    "monthly_income": _NO_INCOME,
    "employment": "Employment not stated",
    "spend_to_income_365d": _NO_INCOME,
    "outstanding_to_income": _NO_INCOME,
    "own_funds_share_365d": "No spending in the last 12 months",
    "shop_age_days": _NO_SHOP,
    "shop_on_time_share_365d": "No parcels from own shops in the last 12 months",
    "identity_verified": "Real-name identity check not on record",
    "phone_verified": "Phone check not on record",
    "tenure_days": "Signup date not on record",
    "days_at_address": "Moving-in date of the current address not on record",
    "verified_shop_share_365d": "No spending in the last 12 months",
    "shop_counterfeit_rate_365d": "No other buyers' orders at the shops used",
    "shop_chargeback_rate_365d": "No other buyers' orders at the shops used",
    "buyers_chargeback_rate_365d": "No buyers with orders elsewhere at own shops",
    # shops' features (features/shop.py), here so that a person's card never imports them
    "owner_on_time_share_365d": "No credit bills of the owner fell due in the last 12 months",
    "owner_days_late_max_365d": "No credit bills of the owner fell due in the last 12 months",
    "owner_bills_30plus_late_lifetime": "No owner's repayments on record (not run by a person)",
    "owner_credit_outstanding": "No owner's debts on record (not run by a person)",
    "sales_refund_rate_365d": "No orders in the last 12 months",
    "sales_cancel_rate_365d": "No orders in the last 12 months",
    "sales_dispute_rate_365d": "No orders in the last 12 months",
    "sales_chargeback_rate_365d": "No orders in the last 12 months",
    "parcels_on_time_share_365d": "No parcel promise judged in the last 12 months",
    "parcels_lost_rate_365d": "No parcels settled in the last 12 months",
    "parcels_returned_rate_365d": "No parcels settled in the last 12 months",
    "returns_not_as_described_rate_365d": "No parcels settled in the last 12 months",
    "revenue_growth": "No sales in the 12 months before the last 3",
    "sale_value_mean_365d": "No sales in the last 12 months",
    "repeat_buyer_revenue_share_365d": "No sales in the last 12 months",
    "licence_verified": "Licence check not on record",
    "days_open": "Opening date not on record",
    "shop_category": "Category not on record",
    "buyers_chargeback_elsewhere_365d": "No buyers with orders at other shops",
    "buyers_refused_elsewhere_365d": "No buyers with parcels from other shops",
    "owner_score": "Not run by a scored person",
}
"""What an empty value means, per feature (persons' and shops'): the card's sentence."""

_WINDOWS = {
    "_30d": " (last 30 days)",
    "_90d": " (last 90 days)",
    "_365d": " (last 12 months)",
    "_lifetime": " (whole history)",
}


def describe(spec: FeatureSpec) -> str:
    """The feature's name as words: ``on_time_share_365d`` -> "on time share (last 12 months)"."""
    name = spec.name
    if spec.passthrough:
        return name
    for suffix, words in _WINDOWS.items():
        if name.endswith(suffix):
            return name[: -len(suffix)].replace("_", " ") + words
    return name.replace("_", " ")


WHEN_ZERO: dict[str, str] = {
    # 0 days since last behind: the person is behind on the as-of date itself
    "days_since_late": "Behind on a credit bill on the as-of date",
}
"""What a value of exactly 0 means, per feature, where the template would mislead."""

SINGULAR: dict[str, str] = {
    "addresses": "address",
    "bills": "bill",
    "categories": "category",
    "chargebacks": "chargeback",
    "claims": "claim",
    "days": "day",
    "items": "item",
    "months": "month",
    "orders": "order",
    "parcels": "parcel",
    "shipments": "shipment",
    "shops": "shop",
}
"""The plural nouns that follow a count in the templates, and their singulars."""

_WORD = re.compile(r"[A-Za-z]+")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _percent(value: float) -> str:
    whole = f"{value:.0%}"
    if value <= 0 or value >= 1:
        return whole
    tenth = f"{value:.1%}"
    if tenth == "0.0%":
        return "<0.1%"
    if tenth == "100.0%":
        return ">99.9%"
    if whole == "100%" or (value < 0.1 and tenth != "10.0%"):
        return tenth
    return whole


def _number(value: float, spec: str) -> str:
    """``value`` formatted by ``spec``; a value that is not zero never reads as zero."""
    if spec.endswith("%"):
        return _percent(value)
    text = format(value, spec)
    if value == 0 or any(ch in "123456789" for ch in text) or not spec.endswith("f"):
        return text
    step = format(10.0 ** -int(spec.rsplit(".", 1)[-1][:-1] or 0), spec)  # "0.01"
    return f"<{step}" if value > 0 else f">-{step}"


def _singular(rest: str) -> str:
    """``rest`` (the text after a number that reads "1") with its noun made singular."""
    for i, match in enumerate(_WORD.finditer(rest)):
        word = match.group()
        if i >= 3 or word == "of":
            break
        if word in SINGULAR:
            return rest[: match.start()] + SINGULAR[word] + rest[match.end() :]
    return rest


@functools.lru_cache(maxsize=1024)
def _parsed(template: str) -> tuple[tuple[str, str | None, str], ...]:
    """The template as (literal text, field name or None, format spec) pieces."""
    return tuple(
        (literal, name, spec or "") for literal, name, spec, _ in string.Formatter().parse(template)
    )


def render_sentence(spec: FeatureSpec, value: object) -> str:
    """The spec's sentence with the person's value filled in (see the convention above)."""
    if _missing(value):
        return WHEN_UNKNOWN.get(spec.name, f"{describe(spec)}: no data")
    shown: object = value
    if spec.is_categorical:
        if isinstance(value, int) and not isinstance(value, bool):
            shown = spec.categories[value] if 0 <= value < len(spec.categories) else str(value)
        else:
            shown = str(value)
    elif spec.unit == "flag":
        shown = "yes" if value else "no"
    elif isinstance(value, int | float):
        shown = float(value)
        if shown == 0 and spec.name in WHEN_ZERO:
            return WHEN_ZERO[spec.name]
    try:
        pieces = _parsed(spec.sentence)
        out: list[str] = []
        one = False
        for literal, name, fmt in pieces:
            out.append(_singular(literal) if one else literal)
            one = False
            if name is None:
                continue
            if name != "value":
                raise KeyError(name)
            if isinstance(shown, float):
                text = _number(shown, fmt)
                one = text == "1"
            else:
                text = format(shown, fmt)
            out.append(text)
        return "".join(out)
    except (ValueError, TypeError, KeyError):  # a value of an unexpected type: still say it
        return f"{describe(spec)}: {value}"
