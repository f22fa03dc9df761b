"""Metrics against small cases worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trustscore.metrics import auc, average_ranks, band_table, brier, gini, ks, log_loss


def test_average_ranks_share_ties() -> None:
    np.testing.assert_array_equal(
        average_ranks(np.array([10.0, 20.0, 10.0, 30.0, 20.0, 20.0])), [1.5, 4, 1.5, 6, 4, 4]
    )


def test_auc_perfect_reversed_and_half() -> None:
    y = [0, 0, 1, 1]
    assert auc(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert auc(y, [0.9, 0.8, 0.2, 0.1]) == 0.0
    assert auc(y, [0.5, 0.5, 0.5, 0.5]) == 0.5


def test_auc_by_hand() -> None:
    # pairs (bad, good): bads 0.4, 0.8; goods 0.1, 0.4, 0.6
    # 0.4 vs 0.1 win, vs 0.4 tie (1/2), vs 0.6 loss; 0.8 beats all three -> 4.5 / 6
    y = [0, 1, 0, 1, 0]
    p = [0.1, 0.4, 0.4, 0.8, 0.6]
    assert auc(y, p) == pytest.approx(0.75)
    assert gini(y, p) == pytest.approx(0.5)


def test_auc_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both goods and bads"):
        auc([0, 0], [0.1, 0.2])


def test_labels_must_be_binary() -> None:
    with pytest.raises(ValueError, match="only 0"):
        auc([0, 2], [0.1, 0.2])


def _auc_by_pairs(y: list[int], p: list[float]) -> float:
    bads = [pi for yi, pi in zip(y, p, strict=True) if yi == 1]
    goods = [pi for yi, pi in zip(y, p, strict=True) if yi == 0]
    wins = sum((b > g) + 0.5 * (b == g) for b in bads for g in goods)
    return wins / (len(bads) * len(goods))


@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 5).map(float)), min_size=2, max_size=40
    ).filter(lambda rows: len({r[0] for r in rows}) == 2)
)
def test_auc_equals_the_pair_count(rows: list[tuple[int, float]]) -> None:
    y = [r[0] for r in rows]
    p = [r[1] for r in rows]
    assert auc(y, p) == pytest.approx(_auc_by_pairs(y, p))


def test_ks_by_hand() -> None:
    # goods at 0.1 0.2 0.3, bads at 0.25 0.35 0.9: below 0.3 (inclusive) 3/3 goods and
    # 1/3 bads -> gap 2/3
    y = [0, 0, 0, 1, 1, 1]
    p = [0.1, 0.2, 0.3, 0.25, 0.35, 0.9]
    assert ks(y, p) == pytest.approx(2 / 3)
    assert ks([0, 1], [0.2, 0.8]) == 1.0


def test_ks_cannot_split_a_tie() -> None:
    # every score equal: no threshold separates anyone
    assert ks([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.0
    # goods 0.1 0.5, bads 0.5 0.9: at 0.1 gap 1/2; at 0.5 (all of the tie) 1 - 1/2
    assert ks([0, 0, 1, 1], [0.1, 0.5, 0.5, 0.9]) == pytest.approx(0.5)


def test_brier_by_hand() -> None:
    assert brier([0, 1], [0.2, 0.6]) == pytest.approx((0.04 + 0.16) / 2)


def test_log_loss_by_hand_and_clipped() -> None:
    assert log_loss([0, 1], [0.2, 0.6]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    # a certain miss costs -ln(eps), not infinity
    assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-15))
    assert math.isfinite(log_loss([0, 1], [1.0, 0.0]))


def test_band_table_counts_labelled_rows_only() -> None:
    y = [0, 1, 1, np.nan, 0, 0, 1]
    bands = ["poor", "poor", "poor", "poor", "good", "excellent", "mystery"]
    rows = band_table(y, bands)
    assert rows == [
        {"band": "poor", "count": 3, "bads": 2, "bad_rate": pytest.approx(2 / 3)},
        {"band": "fair", "count": 0, "bads": 0, "bad_rate": None},
        {"band": "good", "count": 1, "bads": 0, "bad_rate": 0.0},
        {"band": "very good", "count": 0, "bads": 0, "bad_rate": None},
        {"band": "excellent", "count": 1, "bads": 0, "bad_rate": 0.0},
        {"band": "mystery", "count": 1, "bads": 1, "bad_rate": 1.0},
    ]


def test_band_table_checks_its_input() -> None:
    with pytest.raises(ValueError, match="bands has 1"):
        band_table([0, 1], ["poor"])
    with pytest.raises(ValueError, match="NaN \\(unknown\\)"):
        band_table([2], ["poor"])
