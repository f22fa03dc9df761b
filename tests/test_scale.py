"""The points scale and the bands, against numbers worked out by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustscore.bands import BAND_NAMES, BANDS
from trustscore.params import Scale
from trustscore.scale import band_expr, band_of, final_score, points, round_score


def test_defaults_follow_the_design() -> None:
    s = Scale()
    assert s.factor == pytest.approx(72.13475204444817)  # 50 / ln 2
    assert s.offset == pytest.approx(600 - 72.13475204444817 * math.log(19))  # 387.6036...
    assert (s.low, s.high) == (350, 950)


def test_600_points_at_odds_19_and_50_more_for_double_the_odds() -> None:
    s = Scale()
    # odds of good 19:1 means p_bad 1/20, margin = ln(1/19)
    assert s.score_from_margin(np.array([-math.log(19)]))[0] == pytest.approx(600)
    assert s.score_from_margin(np.array([-math.log(38)]))[0] == pytest.approx(650)
    assert s.score_from_margin(np.array([-math.log(9.5)]))[0] == pytest.approx(550)
    assert s.score_from_margin(np.array([0.0]))[0] == pytest.approx(s.offset)


def test_a_higher_margin_is_a_lower_score() -> None:
    scores = Scale().score_from_margin(np.array([-3.0, 0.0, 3.0]))
    assert scores[0] > scores[1] > scores[2]


def test_the_model_score_is_not_clipped_but_the_final_score_is() -> None:
    s = Scale()
    raw = s.score_from_margin(np.array([-20.0, 20.0]))
    assert raw[0] > 950 and raw[1] < 350
    final, _ = final_score(raw, np.zeros(2), s)
    np.testing.assert_array_equal(final, [950, 350])


def test_margin_and_score_invert_each_other() -> None:
    s = Scale(points=500, odds=10, pdo=40)
    m = np.linspace(-6, 6, 25)
    np.testing.assert_allclose(s.margin_from_score(s.score_from_margin(m)), m, atol=1e-12)


def test_p_bad_is_the_logistic_and_never_overflows() -> None:
    p = Scale.p_bad_from_margin(np.array([0.0, math.log(3), -math.log(19), 1000.0, -1000.0]))
    np.testing.assert_allclose(p, [0.5, 0.75, 0.05, 1.0, 0.0], atol=1e-15)


def test_points_add_up_exactly() -> None:
    s = Scale()
    rng = np.random.default_rng(0)
    bias, G = -2.5, rng.normal(0, 0.5, size=(100, 5))
    base, P = points(s, bias, G)
    assert base == pytest.approx(s.offset + s.factor * 2.5)
    score = s.score_from_margin(bias + G.sum(axis=1))
    np.testing.assert_allclose(base + P.sum(axis=1), score, atol=1e-9)
    assert (np.sign(P) == -np.sign(G)).all()  # more risk, fewer points


def test_scale_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="pdo"):
        Scale(pdo=0)
    with pytest.raises(ValueError, match="low"):
        Scale(low=950, high=350)


# ----------------------------------------------------------------------------- bands


def test_bands_cover_350_to_950_without_gaps() -> None:
    assert BANDS[0].low == 350 and BANDS[-1].high == 950
    for a, b in itertools.pairwise(BANDS):
        assert b.low == a.high + 1
    assert BAND_NAMES == ("poor", "fair", "good", "very good", "excellent")


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (350, "poor"),
        (549, "poor"),
        (549.49, "poor"),
        (549.5, "fair"),  # prints as 550
        (550, "fair"),
        (599, "fair"),
        (600, "good"),
        (649.4, "good"),
        (650, "very good"),
        (699, "very good"),
        (699.5, "excellent"),
        (700, "excellent"),
        (950, "excellent"),
        (120, "poor"),  # an unclipped model score still has a band
        (1200, "excellent"),
    ],
)
def test_band_of(score: float, band: str) -> None:
    assert band_of(np.array([score])) == [band]


def test_round_score_rounds_half_up() -> None:
    np.testing.assert_array_equal(round_score([598.5, 599.5, 600.49]), [599, 600, 600])


def test_band_of_refuses_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        band_of(np.array([600, math.nan]))


def test_band_expr_agrees_with_band_of_and_keeps_nulls() -> None:
    scores = [349.0, 549.4, 549.5, 599.49, 600.0, 699.5, 700.0, 1000.0, None]
    out = pl.DataFrame({"s": scores}).select(band_expr("s")).to_series().to_list()
    assert out[-1] is None
    assert out[:-1] == band_of(np.array(scores[:-1], dtype=float))


@given(st.floats(min_value=200, max_value=1100, allow_nan=False))
def test_band_of_matches_the_table(score: float) -> None:
    rounded = math.floor(score + 0.5)
    clipped = min(max(rounded, 350), 950)
    (band,) = band_of(np.array([score]))
    assert [b.name for b in BANDS if b.low <= clipped <= b.high] == [band]
    df = pl.DataFrame({"s": [score]})
    assert df.select(band_expr(pl.col("s"))).item() == band
