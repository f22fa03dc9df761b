"""Synthetic data: a data folder of the four CSVs of DESIGN section 1.

The generative story
--------------------
Every person carries three latent traits, correlated standard normals:
*reliability* (keeps promises; rho = +0.3 with means, -0.35 with opportunism),
*means* (income and spending power) and *opportunism* (bends rules for gain),
plus a *credit appetite* that rises with opportunism and falls with means.
Nothing latent is written out; everything in the tables is drawn from these.

- Consumers. Sign-ups run from 2019-01-01 to 2025-12-31 and grow five-fold over
  the period. Identity and phone verification are likelier for the reliable
  (and identity for the well-off and long-standing). Employment and the
  declared monthly income follow means. People move: each moves a Poisson
  number of times in 2024-2025, more often when unreliable or opportunistic;
  ``address_since`` is the last move (or a date before 2024 for those who
  stayed), and each move opens a new ``address_id`` seen on later parcels.
  Some answers are missing, more often for the opportunistic.
- Shops. There are ``max(20, persons // 20)`` of them. About 3% of persons run
  one (``owner_id``), picked with a tilt towards the opportunistic; the rest
  are companies. A person's shop inherits its owner's traits: opportunistic
  owners sell counterfeits now and then (more in fashion, electronics,
  beauty, sports, toys and luxury), unreliable ones ship late. Companies are
  larger, older (opened before 2024) and almost always verified.
- Transactions. Each person places a Poisson number of orders whose rate is
  log-normal (heavy-tailed; about 20 per person over 2024-2025 on average),
  higher with means, spread uniformly over the time since sign-up (from
  2024-01-01). Shops are picked by popularity; the opportunistic more often
  shop in the pool weighted towards counterfeit sellers, which is how they
  knowingly buy fakes. Amounts are log-normal by category and means.
  Credit and instalments are chosen more by those with credit appetite (and
  rarely without a verified identity); the bill is due 30 days after the
  order and is repaid on time, late (by an exponential number of days that
  grows as reliability falls) or never.
- Parcels. Every order not cancelled before dispatch ships: shipped within a
  day or so, promised 3-5 days later, delivered around the promise (late
  for late shops). Parcels still on the road at the end of 2025 are
  ``in_transit``; a few are ``lost``. Opportunists refuse parcels at the
  door (the order is cancelled), return more on a whim, file counterfeit
  claims that inspection rejects (``claim_upheld`` false) and charge back.
  A counterfeit item that arrives is either returned as such (upheld) or,
  more often by opportunists, kept; either way the order is flagged
  ``counterfeit``.
- The label. ``defaulted`` is drawn from a logistic function of
  -reliability, opportunism, -means and credit appetite, calibrated to
  about 12% bad among the labelled, so it is learnable from the conduct
  above but not perfectly. About 10% of persons are unlabelled, mostly
  those who signed up in the last four months.

The shops' label (DESIGN 10). ``merchants.csv``'s ``defaulted`` (the shop's
business loan 30+ days late) is drawn last, from a stream of its own, so no
other byte depends on it: likelier for a shop whose owner is unreliable,
shady (the same shadiness that makes it sell counterfeits, ship late and
lose parcels) or of small means, for a small shop (few buyers: low sales)
and for an unverified one; companies carry a risk of their own, lower on
average. About a quarter of the labelled shops are bad; those opened in the
last 120 days are unlabelled. Its causes reach the tables through the
shop's conduct, sales and licence, and through its owner's repayments, so a
shop model learns it from them (holdout AUC about 0.8 on sample_data).

Drift (``drift`` X > 0, for ``monitor``): the whole population moves, as when
a platform opens to a new market: reliability X standard deviations lower,
means X/2 lower, opportunism X/2 higher. Everything drawn from the traits
follows (lower incomes, later repayments, more moves, refusals and
chargebacks, more defaults); the calendar, the shops' number and the draws
themselves stay, so X = 0 gives the same bytes as no drift.

Protected attributes: ``gender`` (independent of everything) and ``age``
(older for those longer at their current address) are drawn last, from a
stream of their own. They cause nothing in the story: no trait, order or
outcome depends on them, and the model never sees them (DESIGN 1). Yet
``age`` goes with a feature the model uses (days at the address, which
reliability drives), so ``audit`` can show how a score treats a group it
was kept from.

The calendar is fixed (independent of today's date); orders fall in
2024-01-01 .. 2025-12-31, so the natural as-of date is 2026-01-01. Due,
repaid and promised dates may fall after it, as in a real extract; a parcel
not delivered by then is in transit (and one not yet shipped has no
``shipped_at``).

Determinism: the same (persons, seed) give byte-identical files. Persons and
shops come from one seed stream; orders and parcels from one stream per
chunk of ``CHUNK_PERSONS`` persons, derived with ``SeedSequence``, so the
output depends on neither thread count nor machine (given the same numpy
and polars versions).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt
import polars as pl

from trustscore.schema import (
    EMPLOYMENT,
    PAYMENT_METHOD,
    RETURN_REASON,
    SHIPMENT_STATUS,
    TABLES,
    TXN_STATUS,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Progress = Callable[[str, int, int], None]

CHUNK_PERSONS = 50_000  # fixed, so the random streams never depend on the machine

_DAY = 86_400
_EPOCH = date(1970, 1, 1)


def _day(iso: str) -> int:
    return (date.fromisoformat(iso) - _EPOCH).days


_SIGNUP_FIRST = _day("2019-01-01")
_WINDOW_FIRST = _day("2024-01-01")
_END = _day("2026-01-01")  # exclusive: the last order is at 2025-12-31T23:59:59
_COMPANY_FIRST = _day("2008-01-01")
_COMPANY_LAST = _day("2023-06-30")
_WINDOW_S = _WINDOW_FIRST * _DAY
_END_S = _END * _DAY

_SIGNUP_GROWTH = 5.0  # sign-ups per day at the end of 2025 over those in early 2019
_TXN_RATE = 8.2  # orders per active year at median traits: ~20 per person overall
_TXN_SIGMA = 0.9  # log-normal spread of the order rate: the heavy tail
_TXN_CAP = 5_000
_SHOP_OWNER_SHARE = 0.03
_LABEL_OFFSET = -3.25  # sets the bad rate of the labelled to about 12%
_LABEL_SLOPE = 1.4
_SHOP_LABEL_OFFSET = -1.4  # sets the shops' bad rate to about 20%

# reliability, means, opportunism
_TRAIT_CORR = np.array([[1.0, 0.3, -0.35], [0.3, 1.0, 0.0], [-0.35, 0.0, 1.0]])
_TRAIT_CHOL = np.linalg.cholesky(_TRAIT_CORR)

CATEGORIES = (
    "fashion",
    "electronics",
    "beauty",
    "home",
    "grocery",
    "sports",
    "toys",
    "books",
    "health",
    "luxury",
)
_CATEGORY_CUM = np.cumsum([0.22, 0.12, 0.10, 0.14, 0.14, 0.07, 0.06, 0.05, 0.06, 0.04])
_CATEGORY_MEDIAN_AMOUNT = np.array([38.0, 160.0, 22.0, 55.0, 28.0, 48.0, 26.0, 14.0, 24.0, 320.0])
_COUNTERFEIT_PRONE = np.array([1, 1, 1, 0, 0, 1, 1, 0, 0, 1], dtype=np.float64)

# column codes, as positions in the schema's tuples of allowed values
_COMPLETED, _REFUNDED, _CANCELLED, _DISPUTED, _CHARGEBACK = range(5)
_BALANCE, _CARD, _CREDIT, _INSTALLMENT = range(4)
_DELIVERED, _IN_TRANSIT, _RETURNED, _REFUSED, _LOST = range(5)
_DAMAGED, _NOT_AS_DESCRIBED, _COUNTERFEIT, _CHANGED_MIND, _OTHER = range(5)
# the codes above break silently if the schema reorders its values, so say so loudly
assert TXN_STATUS == ("completed", "refunded", "cancelled", "disputed", "chargeback")
assert PAYMENT_METHOD == ("balance", "card", "credit", "installment")
assert SHIPMENT_STATUS == ("delivered", "in_transit", "returned", "refused", "lost")
assert RETURN_REASON == ("damaged", "not_as_described", "counterfeit", "changed_mind", "other")

_WIDTH = {"P": 7, "M": 6, "T": 9, "S": 9, "A": 7}  # digits of each id, widened if needed


# ---------------------------------------------------------------- helpers


def _sigmoid(x: Floats) -> Floats:
    out: Floats = 1.0 / (1.0 + np.exp(-x))
    return out


def _pick(rng: np.random.Generator, weights: Floats) -> Ints:
    """One category per row of ``weights`` (rows need not sum to 1)."""
    cum = np.cumsum(weights, axis=1)
    u = rng.random(len(weights)) * cum[:, -1]
    out: Ints = (u[:, None] >= cum[:, :-1]).sum(axis=1).astype(np.int64)
    return out


def _pick_by(rng: np.random.Generator, cum: Floats, n: int) -> Ints:
    """``n`` indices drawn with the weights whose cumulative sum is ``cum``."""
    out: Ints = np.minimum(
        np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(cum) - 1
    )
    return out


def _width(prefix: str, count: int) -> int:
    return max(_WIDTH[prefix], len(str(count)))


def _ids(prefix: str, width: int, numbers: npt.NDArray[np.int64]) -> pl.Series:
    """Fixed-width ids such as P0000001 for 1-based ``numbers``."""
    # adding 10**width and dropping the leading 1 is the cheapest zero padding in polars
    n = pl.Series(numbers.astype(np.int64) + 10**width)
    return pl.select(pl.lit(prefix) + n.cast(pl.String).str.slice(1)).to_series()


def _codes(values: Sequence[str], codes: Ints, keep: Bools | None = None) -> pl.Series:
    s = pl.Series(codes.astype(np.uint32))
    if keep is not None:
        s = _masked(s, keep)
    return s.cat.to(pl.Enum(list(values)))


def _masked(s: pl.Series, keep: Bools) -> pl.Series:
    """``s`` with null (an empty cell) where ``keep`` is false."""
    return pl.select(pl.when(pl.lit(pl.Series(keep))).then(pl.lit(s))).to_series()


def _dates(days: Ints, keep: Bools | None = None) -> pl.Series:
    s = pl.Series(days.astype(np.int32)).cast(pl.Date)
    return s if keep is None else _masked(s, keep)


def _stamps(seconds: Ints, keep: Bools | None = None) -> pl.Series:
    s = pl.Series(seconds.astype(np.int64) * 1000).cast(pl.Datetime("ms"))
    return s if keep is None else _masked(s, keep)


def _write(frame: pl.DataFrame, fh: IO[bytes], header: bool) -> None:
    frame.write_csv(
        fh,
        include_header=header,
        float_precision=2,
        datetime_format="%Y-%m-%dT%H:%M:%S",
        date_format="%Y-%m-%d",
        null_value="",
    )


# ---------------------------------------------------------------- persons


@dataclass(frozen=True)
class _Persons:
    reliability: Floats
    means: Floats
    opportunism: Floats
    credit_appetite: Floats
    identity_verified: Bools  # the truth; the file leaves some unknown
    signup: Ints  # day
    active_from: Ints  # second of sign-up, or of 2024-01-01 if earlier
    n_txn: Ints
    move_at: Ints  # seconds of every move, grouped by person, sorted in time
    move_start: Ints  # person i's moves are move_at[move_start[i]:move_start[i + 1]]
    first_address: Ints  # 0-based number of person i's first address
    frame: pl.DataFrame

    @property
    def count(self) -> int:
        return len(self.signup)

    @property
    def addresses(self) -> int:
        return len(self.move_at) + self.count


def _draw_persons(n: int, rng: np.random.Generator, drift: float = 0.0) -> _Persons:
    traits = rng.standard_normal((n, 3)) @ _TRAIT_CHOL.T
    rel, means, opp = (np.ascontiguousarray(traits[:, k]) for k in range(3))
    if drift:  # a shifted population; none leaves the draws (and the bytes) as they were
        rel = rel - drift
        means = means - 0.5 * drift
        opp = opp + 0.5 * drift
    credit = -0.45 * means + 0.45 * opp + 0.7 * rng.standard_normal(n)

    # exponential growth of sign-ups: invert the CDF of a density ~ G ** (t / span)
    span = _END - _SIGNUP_FIRST
    u = rng.random(n)
    signup = _SIGNUP_FIRST + np.floor(
        np.log1p(u * (_SIGNUP_GROWTH - 1.0)) / np.log(_SIGNUP_GROWTH) * span
    ).astype(np.int64)
    signup = np.minimum(signup, _END - 1)
    active_from = np.maximum(signup * _DAY + rng.integers(0, _DAY, n), _WINDOW_S)
    tenure_years = (_END - signup) / 365.25

    active_years = (_END_S - active_from) / (365.25 * _DAY)
    rate = _TXN_RATE * np.exp(0.35 * means + 0.2 * opp + _TXN_SIGMA * rng.standard_normal(n))
    n_txn = np.minimum(rng.poisson(rate * active_years), _TXN_CAP).astype(np.int64)

    identity = rng.random(n) < _sigmoid(0.9 + 0.9 * rel + 0.4 * means + 0.15 * tenure_years)
    phone = rng.random(n) < _sigmoid(2.2 + 0.7 * rel)

    # moves happen while on the platform; each opens a new address id
    n_moves = rng.poisson(np.exp(-1.0 - 0.5 * rel + 0.35 * opp)).astype(np.int64)
    move_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(n_moves, out=move_start[1:])
    mover = np.repeat(np.arange(n, dtype=np.int64), n_moves)
    from_s = active_from[mover]
    move_at = from_s + (rng.random(len(mover)) * (_END_S - from_s)).astype(np.int64)
    move_at = np.sort((mover << 32) | (move_at - _WINDOW_S)) & 0xFFFFFFFF
    move_at = move_at + _WINDOW_S
    first_address = move_start[:-1] + np.arange(n, dtype=np.int64)
    # at most 60 years at one address: the exponential's tail reached before 1900 (outside
    # the contract's dates) for a few of a million persons
    stayed_years = np.minimum(rng.exponential(np.exp(1.2 + 0.5 * rel)), 60.0)
    address_since = np.minimum(signup, _WINDOW_FIRST) - (stayed_years * 365.25).astype(np.int64)
    has_moved = n_moves > 0
    last_move = np.append(move_at, 0)[np.maximum(move_start[1:] - 1, 0)] // _DAY
    address_since = np.where(has_moved, last_move, address_since)

    employment = _pick(
        rng,
        np.exp(
            np.column_stack(
                [
                    1.6 + 0.5 * means + 0.3 * rel,  # employed
                    -0.4 + 0.3 * means + 0.4 * opp,  # self_employed
                    -1.0 - 0.4 * means,  # student
                    -1.8 - 0.8 * means - 0.4 * rel,  # unemployed
                    -1.6 + 0.0 * means,  # retired
                    -2.2 + 0.3 * opp,  # other
                ]
            )
        ),
    )
    income_factor = np.array([1.0, 1.1, 0.35, 0.25, 0.7, 0.8])[employment]
    income = np.exp(7.9 + 0.45 * means + 0.35 * rng.standard_normal(n)) * income_factor
    income = np.round(income / 50.0) * 50.0

    risk = -1.0 * rel + 0.5 * opp - 0.35 * means + 0.25 * credit
    bad = rng.random(n) < _sigmoid(_LABEL_OFFSET + _LABEL_SLOPE * risk)
    recent = signup >= _END - 120
    labelled = rng.random(n) >= np.where(recent, 0.8, 0.035)

    # unknowns: opportunists leave more of the optional answers blank
    def known(base: float) -> Bools:
        out: Bools = rng.random(n) >= _sigmoid(base + 0.5 * opp)
        return out

    frame = pl.DataFrame(
        [
            _ids("P", _width("P", n), np.arange(1, n + 1)).alias("person_id"),
            _dates(signup).alias("signup_date"),
            _masked(pl.Series(identity), known(-3.6)).alias("identity_verified"),
            _masked(pl.Series(phone), known(-3.9)).alias("phone_verified"),
            _dates(address_since, known(-2.8)).alias("address_since"),
            _codes(EMPLOYMENT, employment, known(-3.2)).alias("employment"),
            _masked(pl.Series(income), known(-2.6)).alias("monthly_income"),
            _masked(pl.Series(bad.astype(np.int8)), labelled).alias("defaulted"),
        ]
    )
    return _Persons(
        reliability=rel,
        means=means,
        opportunism=opp,
        credit_appetite=credit,
        identity_verified=identity,
        signup=signup,
        active_from=active_from,
        n_txn=n_txn,
        move_at=move_at,
        move_start=move_start,
        first_address=first_address,
        frame=frame,
    )


# ---------------------------------------------------------------- shops


@dataclass(frozen=True)
class _Shops:
    opened_s: Ints  # second the shop opened
    category: Ints
    counterfeit_rate: Floats
    popular: Floats  # cumulative popularity, for picking by inverse CDF
    shady: Floats  # cumulative popularity x counterfeit rate
    established: Ints  # shops open before 2024, always a valid pick
    established_cum: Floats
    handling_hours: Floats
    late_rate: Floats
    late_days: Floats
    lost_rate: Floats
    not_as_described: Floats
    frame: pl.DataFrame
    # what the shop's outcome is drawn from (``_shop_outcomes``)
    owned: Bools
    owner_rel: Floats  # the owner's reliability (0 for a company)
    owner_means: Floats
    shadiness: Floats
    popularity: Floats

    @property
    def count(self) -> int:
        return len(self.category)


def _draw_shops(p: _Persons, rng: np.random.Generator) -> _Shops:
    n = p.count
    m = max(20, n // 20)
    n_owned = min(round(_SHOP_OWNER_SHARE * n), int(0.6 * m))

    # opportunists are likelier to open a shop; the Gumbel trick samples by weight
    key = 1.0 * p.opportunism + 0.3 * p.means + rng.gumbel(size=n)
    key[p.signup >= _END - 90] = -np.inf
    owners = np.argsort(-key, kind="stable")[:n_owned]
    owner = np.full(m, -1, dtype=np.int64)
    owner[rng.permutation(m)[:n_owned]] = owners
    owned = owner >= 0
    who = np.maximum(owner, 0)
    rel = np.where(owned, p.reliability[who], 0.0)
    opp = np.where(owned, p.opportunism[who], 0.0)

    category = _pick_by(rng, _CATEGORY_CUM, m)
    start = np.where(owned, p.signup[who], _COMPANY_FIRST)
    stop = np.where(owned, _END - 60, _COMPANY_LAST)
    opened = start + (rng.random(m) * np.maximum(stop - start, 1)).astype(np.int64)

    shadiness = np.where(owned, opp + 0.5 * rng.standard_normal(m), -1.5)
    counterfeit_rate = np.where(
        owned, _sigmoid(-5.8 + 1.7 * shadiness + 1.0 * _COUNTERFEIT_PRONE[category]), 0.0
    )
    verified = rng.random(m) < np.where(
        owned, _sigmoid(0.4 + 0.8 * rel - 0.8 * shadiness), _sigmoid(np.full(m, 3.0))
    )
    popularity = rng.lognormal(0.0, 1.3, m) * np.where(owned, 1.0, 4.0) * np.where(verified, 1.5, 1)
    established = np.flatnonzero(opened < _WINDOW_FIRST)

    frame = pl.DataFrame(
        [
            _ids("M", _width("M", m), np.arange(1, m + 1)).alias("merchant_id"),
            p.frame["person_id"].gather(who).alias("owner_id"),
            _dates(opened).alias("opened_date"),
            _codes(CATEGORIES, category).cast(pl.String).alias("category"),
            _masked(pl.Series(verified), rng.random(m) >= 0.02).alias("verified"),
        ]
    ).with_columns(pl.when(pl.lit(pl.Series(owned))).then(pl.col("owner_id")).alias("owner_id"))
    return _Shops(
        opened_s=opened * _DAY,
        category=category,
        counterfeit_rate=counterfeit_rate,
        popular=np.cumsum(popularity),
        shady=np.cumsum(popularity * (counterfeit_rate + 1e-4)),
        established=established,
        established_cum=np.cumsum(popularity[established]),
        handling_hours=np.where(owned, np.exp(3.1 - 0.3 * rel), 16.0),
        late_rate=np.where(owned, _sigmoid(-2.0 - 0.8 * rel + 0.3 * shadiness), 0.05),
        late_days=np.where(owned, np.exp(1.0 - 0.3 * rel), 2.0),
        lost_rate=np.where(owned, 0.002 + 0.01 * _sigmoid(shadiness), 0.002),
        not_as_described=np.where(owned, 0.006 + 0.04 * _sigmoid(shadiness - 1.0), 0.005),
        frame=frame,
        owned=owned,
        owner_rel=rel,
        owner_means=np.where(owned, p.means[who], 0.0),
        shadiness=shadiness,
        popularity=popularity,
    )


def _shop_outcomes(s: _Shops, rng: np.random.Generator) -> pl.Series:
    """Each shop's ``defaulted``, drawn last from a stream of its own (the other
    columns' bytes do not depend on it): its business loan went 30+ days late,
    likelier for a shop run by an unreliable or shady owner of small means, for a
    small shop (few buyers), and for an unverified one. Shops opened in the last
    120 days are unlabelled (too young to have had a loan judged)."""
    m = s.count
    size = np.log(s.popularity)
    verified = s.frame.get_column("verified").fill_null(False).to_numpy()
    risk = (
        np.where(
            s.owned,
            -1.1 * s.owner_rel + 0.8 * (s.shadiness - 1.6) - 0.3 * s.owner_means,
            0.2,
        )
        - 0.45 * size
        + 0.6 * ~verified
        + 0.35 * rng.standard_normal(m)
    )
    bad = rng.random(m) < _sigmoid(_SHOP_LABEL_OFFSET + 1.3 * risk)
    young = s.opened_s >= (_END - 120) * _DAY
    return pl.Series("defaulted", np.where(bad, 1, 0), dtype=pl.Int8).scatter(
        np.flatnonzero(young), None
    )


# ---------------------------------------------------------------- orders and parcels


@dataclass(frozen=True)
class _Chunk:
    transactions: pl.DataFrame  # without txn_id, which needs the running offset
    logistics: pl.DataFrame  # without shipment_id and txn_id
    shipped_rows: Ints  # the transaction row (within the chunk) of each shipment


@dataclass
class _Orders:
    """One chunk's orders, drawn in time order per buyer, with the buyer's traits."""

    buyer: Ints
    ts: Ints
    merchant: Ints
    category: Ints
    fake: Bools
    amount: Floats
    method: Ints
    rel: Floats
    means: Floats
    opp: Floats

    @property
    def n(self) -> int:
        return len(self.buyer)


@dataclass
class _Journey:
    """What happened to each order's parcel."""

    pre_cancel: Bools
    shipped_at: Ints
    promised_at: Ints
    delivered_at: Ints
    refused: Bools
    lost: Bools
    moving: Bools
    arrived: Bools


def _draw_chunk(p: _Persons, s: _Shops, lo: int, hi: int, rng: np.random.Generator) -> _Chunk:
    # the draws happen in this order, so the same seed gives the same bytes
    o = _draw_orders(p, s, lo, hi, rng)
    j = _draw_journeys(o, s, rng)
    reason, returned, status = _draw_outcomes(o, s, j, rng)
    due, billed, repaid, has_repaid = _draw_bills(o, status, rng)
    transactions = pl.DataFrame(
        [
            p.frame["person_id"].gather(o.buyer).alias("buyer_id"),
            s.frame["merchant_id"].gather(o.merchant).alias("merchant_id"),
            _stamps(o.ts).alias("ts"),
            pl.Series("amount", o.amount),
            _codes(TXN_STATUS, status).alias("status"),
            _codes(PAYMENT_METHOD, o.method).alias("payment_method"),
            _codes(CATEGORIES, o.category).alias("category"),
            pl.Series("counterfeit", o.fake & j.arrived),
            _dates(due, billed).alias("due_date"),
            _dates(repaid, has_repaid).alias("repaid_date"),
        ]
    )
    rows, logistics = _logistics(p, lo, hi, o, j, reason, returned)
    return _Chunk(transactions, logistics, rows)


def _draw_orders(p: _Persons, s: _Shops, lo: int, hi: int, rng: np.random.Generator) -> _Orders:
    local = np.repeat(np.arange(hi - lo, dtype=np.int64), p.n_txn[lo:hi])
    n = len(local)
    start = p.active_from[lo:hi][local]
    offset = (start - _WINDOW_S) + (rng.random(n) * (_END_S - start)).astype(np.int64)
    # one sort orders each person's orders in time; offsets stay below 2**32
    key = np.sort((local << 32) | offset)
    buyer = lo + (key >> 32)
    ts = _WINDOW_S + (key & 0xFFFFFFFF)

    rel = p.reliability[buyer]
    means = p.means[buyer]
    opp = p.opportunism[buyer]

    shady_pool = rng.random(n) < _sigmoid(-3.6 + 1.4 * opp)
    u = rng.random(n)
    merchant = np.empty(n, dtype=np.int64)
    for pool, cum in ((shady_pool, s.shady), (~shady_pool, s.popular)):
        merchant[pool] = np.searchsorted(cum, u[pool] * cum[-1], side="right")
    np.minimum(merchant, s.count - 1, out=merchant)
    not_open = s.opened_s[merchant] > ts
    merchant[not_open] = s.established[_pick_by(rng, s.established_cum, int(not_open.sum()))]

    category = np.where(rng.random(n) < 0.85, s.category[merchant], _pick_by(rng, _CATEGORY_CUM, n))
    fake = rng.random(n) < s.counterfeit_rate[merchant]
    amount = _CATEGORY_MEDIAN_AMOUNT[category] * np.exp(
        0.75 * rng.standard_normal(n) + 0.25 * means
    )
    amount = np.maximum(np.round(np.where(fake, 0.6, 1.0) * amount, 2), 0.5)

    appetite = p.credit_appetite[buyer]
    no_id = np.where(p.identity_verified[buyer], 0.0, 1.5)
    method = _pick(
        rng,
        np.exp(
            np.column_stack(
                [
                    0.2 + 0.2 * means,
                    0.9 + 0.3 * means,
                    -0.4 + appetite - no_id,
                    -2.0 + appetite - no_id + 0.9 * np.log(amount / 50.0),
                ]
            )
        ),
    )
    return _Orders(buyer, ts, merchant, category, fake, amount, method, rel, means, opp)


def _draw_journeys(o: _Orders, s: _Shops, rng: np.random.Generator) -> _Journey:
    n, ts, merchant, rel, opp = o.n, o.ts, o.merchant, o.rel, o.opp
    pre_cancel = rng.random(n) < _sigmoid(-3.6 + 0.4 * opp - 0.2 * rel)
    shipped_at = ts + (
        3600 * np.exp(np.log(s.handling_hours[merchant]) + 0.5 * rng.standard_normal(n))
    ).astype(np.int64)
    promised_at = shipped_at + rng.integers(3, 6, n) * _DAY
    late = rng.random(n) < s.late_rate[merchant]
    drift = rng.normal(-0.7, 0.6, n) + late * rng.exponential(s.late_days[merchant])
    delivered_at = np.maximum(promised_at + (drift * _DAY).astype(np.int64), shipped_at + 6 * 3600)
    on_time = delivered_at < _END_S  # the parcel reached the door before the extract
    refused = ~pre_cancel & on_time & (rng.random(n) < _sigmoid(-5.0 + 0.9 * opp - 0.5 * rel))
    lost = ~pre_cancel & ~refused & (rng.random(n) < s.lost_rate[merchant])
    moving = ~pre_cancel & ~refused & ~lost & ~on_time
    arrived = ~pre_cancel & ~refused & ~lost & on_time
    return _Journey(
        pre_cancel, shipped_at, promised_at, delivered_at, refused, lost, moving, arrived
    )


def _draw_outcomes(
    o: _Orders, s: _Shops, j: _Journey, rng: np.random.Generator
) -> tuple[Ints, Bools, Ints]:
    """After arrival: kept, returned or claimed; then each order's status."""
    n, merchant, fake, method, rel, opp = o.n, o.merchant, o.fake, o.method, o.rel, o.opp
    arrived, lost, pre_cancel, refused = j.arrived, j.lost, j.pre_cancel, j.refused
    fake_returned = fake & arrived & (rng.random(n) >= _sigmoid(-0.3 + 1.6 * opp))
    reason = np.full(n, -1, dtype=np.int64)
    reason[fake_returned] = _COUNTERFEIT
    thresholds = np.cumsum(
        np.column_stack(
            [
                _sigmoid(-7.5 + 1.8 * opp),  # false counterfeit claim
                _sigmoid(-3.3 + 0.35 * opp),  # changed mind
                np.full(n, 0.012),  # damaged
                s.not_as_described[merchant],
                np.full(n, 0.004),  # other
            ]
        ),
        axis=1,
    )
    which = (rng.random(n)[:, None] >= thresholds).sum(axis=1)
    may_return = arrived & ~fake
    reason_of = np.array([_COUNTERFEIT, _CHANGED_MIND, _DAMAGED, _NOT_AS_DESCRIBED, _OTHER, -1])
    reason = np.where(may_return, reason_of[which], reason)
    false_claim = may_return & (which == 0)
    returned = reason >= 0

    card = method == _CARD
    u_status = rng.random(n)
    status = np.full(n, _COMPLETED, dtype=np.int64)
    kept = arrived & ~returned
    disputes = kept & (u_status < _sigmoid(-5.2 + 0.8 * opp))
    charges = kept & card & (rng.random(n) < _sigmoid(-6.0 + 1.2 * opp - 0.4 * rel))
    status[disputes] = _DISPUTED
    status[charges] = _CHARGEBACK
    status[returned] = _REFUNDED
    status[false_claim & (u_status < 0.3)] = _DISPUTED
    status[false_claim & (u_status >= 0.3)] = _COMPLETED
    lost_outcome = np.where(u_status < 0.6, _REFUNDED, np.where(card, _CHARGEBACK, _DISPUTED))
    status[lost] = lost_outcome[lost]
    status[pre_cancel | refused] = _CANCELLED
    return reason, returned, status


def _draw_bills(
    o: _Orders, status: Ints, rng: np.random.Generator
) -> tuple[Ints, Bools, Ints, Bools]:
    """The bill of a credit or instalment purchase: due date, repayment."""
    n, ts, method, rel, means, opp = o.n, o.ts, o.method, o.rel, o.means, o.opp
    ts_day = ts // _DAY
    billed = ((method == _CREDIT) | (method == _INSTALLMENT)) & (status != _CANCELLED)
    due = ts_day + 30
    paid_late = rng.random(n) < _sigmoid(-2.2 - 1.1 * rel + 0.3 * opp - 0.3 * means)
    days_late = np.ceil(rng.exponential(np.exp(2.2 - 0.5 * rel + 0.2 * opp))).astype(np.int64)
    repaid = np.where(paid_late, due + days_late, ts_day + rng.integers(0, 31, n))
    never = rng.random(n) < _sigmoid(-5.0 - 1.3 * rel + 0.5 * opp - 0.4 * means)
    refunded = status == _REFUNDED
    # a refund clears the bill
    repaid = np.where(refunded, np.minimum(ts_day + rng.integers(2, 26, n), due), repaid)
    has_repaid = billed & (refunded | ~never)
    return due, billed, repaid, has_repaid


def _logistics(
    p: _Persons,
    lo: int,
    hi: int,
    o: _Orders,
    j: _Journey,
    reason: Ints,
    returned: Bools,
) -> tuple[Ints, pl.DataFrame]:
    """One shipment per order that was not cancelled before shipping."""
    buyer, ts, fake = o.buyer, o.ts, o.fake
    pre_cancel, shipped_at, promised_at, delivered_at = (
        j.pre_cancel,
        j.shipped_at,
        j.promised_at,
        j.delivered_at,
    )
    arrived, refused, lost, moving = j.arrived, j.refused, j.lost, j.moving
    rows = np.flatnonzero(~pre_cancel)
    ship_status = np.select(
        [arrived & ~returned, arrived & returned, refused, lost, moving],
        [_DELIVERED, _RETURNED, _REFUSED, _LOST, _IN_TRANSIT],
        default=_IN_TRANSIT,
    )[rows]
    # the address a parcel went to: the buyer's moves before the order
    sb = buyer[rows]
    mover = np.repeat(np.arange(lo, hi, dtype=np.int64), np.diff(p.move_start[lo : hi + 1]))
    keys = (mover << 32) | (p.move_at[p.move_start[lo] : p.move_start[hi]] - _WINDOW_S)
    moves_before = np.searchsorted(keys, (sb << 32) | (ts[rows] - _WINDOW_S), side="right")
    moves_before -= p.move_start[sb] - p.move_start[lo]
    address = p.first_address[sb] + moves_before
    sent = shipped_at[rows] < _END_S
    logistics = pl.DataFrame(
        [
            _stamps(shipped_at[rows], sent).alias("shipped_at"),
            _stamps(promised_at[rows]).alias("promised_at"),
            _stamps(delivered_at[rows], arrived[rows]).alias("delivered_at"),
            _codes(SHIPMENT_STATUS, ship_status).alias("status"),
            _codes(RETURN_REASON, np.maximum(reason[rows], 0), returned[rows]).alias(
                "return_reason"
            ),
            _masked(pl.Series(fake[rows]), reason[rows] == _COUNTERFEIT).alias("claim_upheld"),
            _ids("A", _width("A", p.addresses), address + 1).alias("address_id"),
        ]
    )
    return rows, logistics


# ---------------------------------------------------------------- the folder


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def _drawn_chunks(p: _Persons, s: _Shops, seed: int) -> Iterator[_Chunk]:
    """The chunks in order, each from its own stream; the next is drawn in a
    worker thread while the caller writes this one (numpy and polars release
    the GIL, so the two cores overlap)."""
    bounds = [(lo, min(lo + CHUNK_PERSONS, p.count)) for lo in range(0, p.count, CHUNK_PERSONS)]

    def draw(k: int) -> _Chunk:
        lo, hi = bounds[k]
        return _draw_chunk(p, s, lo, hi, _rng(seed, 2, k))

    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(draw, 0)
        for k in range(len(bounds)):
            chunk = ahead.result()
            if k + 1 < len(bounds):
                ahead = pool.submit(draw, k + 1)
            yield chunk


def _protected(consumers: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """The protected attributes, drawn last from a stream of their own (the other
    columns' bytes do not depend on them): ``gender``, independent of everything;
    ``age``, older for those longer at their address. Neither causes anything: no
    trait, table or outcome is drawn from them, and the model never sees them."""
    n = consumers.height
    female = rng.random(n) < 0.5
    gender = np.where(female, "female", "male").astype(object)
    gender[rng.random(n) < 0.02] = None
    since = consumers.get_column("address_since").cast(pl.Int64).to_numpy()  # days
    known = ~consumers.get_column("address_since").is_null().to_numpy()
    years = np.where(known, (_END - np.where(known, since, 0)) / 365.25, rng.exponential(4.0, n))
    age = np.clip(np.round(21.0 + 0.9 * years + rng.normal(0.0, 7.0, n)), 18, 90)
    return pl.DataFrame(
        {
            "gender": pl.Series(gender.tolist(), dtype=pl.String),
            "age": pl.Series(age.astype(np.int64)),
        }
    )


def generate(
    out_dir: Path,
    persons: int = 5000,
    seed: int = 0,
    progress: Progress | None = None,
    drift: float = 0.0,
) -> dict[str, int]:
    """Write consumers.csv, merchants.csv, transactions.csv, logistics.csv into out_dir
    (created if missing). Returns rows written per table name.
    progress(table, done, total) optional.

    Transactions and logistics are written together, one chunk of persons at a
    time; their progress counts transaction rows (known in advance) and
    logistics reports once, when done. Each file is written under a temporary
    name and renamed into place only when all four are complete.
    """
    if persons < 1:
        raise ValueError("persons must be at least 1")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report: Progress = progress or (lambda table, done, total: None)

    if not 0.0 <= drift <= 3.0:
        raise ValueError("drift must be between 0 and 3")
    p = _draw_persons(persons, _rng(seed, 0), drift)
    s = _draw_shops(p, _rng(seed, 1))

    temp = {name: out_dir / f".{t.filename}.partial" for name, t in TABLES.items()}
    rows: dict[str, int] = {}
    try:
        # the contract's columns, then the protected attributes (passthrough columns)
        consumers = pl.concat(
            [p.frame.select(TABLES["consumers"].names), _protected(p.frame, _rng(seed, 3))],
            how="horizontal",
        )
        merchants = s.frame.with_columns(_shop_outcomes(s, _rng(seed, 4))).select(
            TABLES["merchants"].names
        )
        for name, frame in (("consumers", consumers), ("merchants", merchants)):
            with temp[name].open("wb") as fh:
                _write(frame, fh, header=True)
            rows[name] = frame.height
            report(name, frame.height, frame.height)

        total = int(p.n_txn.sum())
        txn_width = _width("T", total)
        n_txn = n_ship = 0
        with temp["transactions"].open("wb") as tf, temp["logistics"].open("wb") as lf:
            for k, chunk in enumerate(_drawn_chunks(p, s, seed)):
                height = chunk.transactions.height
                txn_ids = _ids("T", txn_width, np.arange(n_txn + 1, n_txn + height + 1))
                n_new = len(chunk.shipped_rows)
                ship_ids = _ids("S", _width("S", total), np.arange(n_ship + 1, n_ship + n_new + 1))
                _write(
                    chunk.transactions.with_columns(txn_ids.alias("txn_id")).select(
                        TABLES["transactions"].names
                    ),
                    tf,
                    header=k == 0,
                )
                _write(
                    chunk.logistics.with_columns(
                        ship_ids.alias("shipment_id"),
                        txn_ids.gather(chunk.shipped_rows).alias("txn_id"),
                    ).select(TABLES["logistics"].names),
                    lf,
                    header=k == 0,
                )
                n_txn += height
                n_ship += n_new
                report("transactions", n_txn, total)
        rows["transactions"] = n_txn
        rows["logistics"] = n_ship
        report("logistics", n_ship, n_ship)
        for name in TABLES:
            os.replace(temp[name], out_dir / TABLES[name].filename)
    finally:
        for path in temp.values():
            path.unlink(missing_ok=True)
    return rows
