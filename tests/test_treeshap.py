"""The pattern path gives XGBoost's own TreeSHAP values, with missing values,
a categorical feature and deeper trees; when it cannot apply, it says so."""

from __future__ import annotations

import json

import numpy as np
import numpy.typing as npt
import pytest

from tests.test_model import fit, make_data
from trustscore.model import TrustModel
from trustscore.treeshap import MAX_SPLITS, PatternMismatch, feature_contribs


def _reference(model: TrustModel, X: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    c = model.booster_.predict(model._dmatrix(X), pred_contribs=True)
    return np.asarray(c, dtype=np.float64)[:, :-1]


def _leaves(model: TrustModel, X: npt.NDArray[np.float32]) -> npt.NDArray[np.int64]:
    leaf = model.booster_.predict(model._dmatrix(X), pred_leaf=True)
    return np.asarray(leaf, dtype=np.int64).reshape(X.shape[0], -1)


@pytest.mark.parametrize("depth", [2, 3])
def test_patterns_equal_pred_contribs(depth: int) -> None:
    model = fit("dimension", max_depth=depth)
    X, _ = make_data(3000, seed=11)
    assert np.isnan(X).any()  # missing values take their default branch
    fast = feature_contribs(model.booster_, X, _leaves(model, X), model._feature_types())
    assert np.abs(fast - _reference(model, X)).max() < 1e-5


def test_model_uses_patterns_and_agrees() -> None:
    model = fit("dimension")
    X, _ = make_data(2000, seed=12)
    assert model._pattern_contribs(X) is not None
    _, contribs = model.feature_contribs(X)
    assert np.abs(contribs - _reference(model, X)).max() < 1e-5


def test_too_deep_trees_fall_back() -> None:
    model = fit("dimension", max_depth=6, min_child_weight=0.0)
    X, _ = make_data(2000, seed=13)
    leaves = _leaves(model, X)
    trees = json.loads(model.booster_.save_raw("json"))["learner"]["gradient_booster"]["model"]
    deep = any((np.asarray(t["left_children"]) != -1).sum() > MAX_SPLITS for t in trees["trees"])
    if deep:
        with pytest.raises(PatternMismatch):
            feature_contribs(model.booster_, X, leaves, model._feature_types())
    # either way the model's answer is exact
    _, contribs = model.feature_contribs(X)
    assert np.abs(contribs - _reference(model, X)).max() < 1e-5


def test_a_misread_split_is_caught() -> None:
    model = fit("dimension")
    X, _ = make_data(500, seed=14)
    leaves = _leaves(model, X)
    leaves[0, 0] = -7  # as if XGBoost had walked row 0 elsewhere
    with pytest.raises(PatternMismatch):
        feature_contribs(model.booster_, X, leaves, model._feature_types())
