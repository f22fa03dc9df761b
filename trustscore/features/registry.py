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
  ``{value:,.0f}`` (a mean of days: ``{value:,.1f}``)
- ``flag`` (1/0): the template gets ``yes`` or ``no``
- ``category``: the template gets the level's text (the frame holds an
  Enum over ``FeatureSpec.categories``; the code is its index)
- ``value`` (a passthrough number): ``{value:,.6g}``

``render_sentence`` fills a template; a missing value (None, NaN) reads as
the feature's entry in ``WHEN_UNKNOWN`` (what an empty value means for it:
"No late repayment on record"), or "<feature>: no data" when it has none.
"""

from __future__ import annotations

import math

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

COUNTERFEIT_FEATURES: frozenset[str] = frozenset(
    s.name for b in BLOCKS if b.counterfeit for s in b.specs
)
"""Features that are model inputs only with ``FeatureConfig.counterfeit_in_model``."""


def registry() -> list[FeatureSpec]:
    """All built-in features in order, counterfeit ones included (see COUNTERFEIT_FEATURES)."""
    return [s for b in BLOCKS for s in b.specs]


_NO_BILLS = "No credit bills fell due in the last 12 months"
_NO_ORDERS = "No orders in the last 12 months"
_NO_PARCELS = "No parcels in the last 12 months"
_NO_SHOP = "Runs no shop"
_NO_INCOME = "No monthly income declared"

WHEN_UNKNOWN: dict[str, str] = {
    "on_time_share_365d": _NO_BILLS,
    "days_late_max_365d": _NO_BILLS,
    "days_late_mean_365d": _NO_BILLS,
    "days_since_late": "No late repayment on record",
    "avg_order_value_365d": "No completed orders in the last 12 months",
    "refund_rate_365d": _NO_ORDERS,
    "return_rate_365d": _NO_PARCELS,
    "changed_mind_return_rate_365d": _NO_PARCELS,
    "refused_delivery_rate_365d": "No deliveries in the last 12 months",
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
}
"""What an empty value means, per feature: the card's sentence for it."""

_WINDOWS = {"_30d": " (last 30 days)", "_90d": " (last 90 days)", "_365d": " (last 12 months)"}


def describe(spec: FeatureSpec) -> str:
    """The feature's name as words: ``on_time_share_365d`` -> "on time share (last 12 months)"."""
    name = spec.name
    if spec.passthrough:
        return name
    for suffix, words in _WINDOWS.items():
        if name.endswith(suffix):
            return name[: -len(suffix)].replace("_", " ") + words
    return name.replace("_", " ")


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


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
    try:
        return spec.sentence.format(value=shown)
    except (ValueError, TypeError):  # a value of an unexpected type: still say it
        return f"{describe(spec)}: {value}"
