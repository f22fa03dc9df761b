"""Exact per-feature TreeSHAP for shallow trees, at a fraction of pred_contribs' cost.

A tree's (path-dependent) TreeSHAP values for a row depend on the row only
through the decisions it would take at every split of the tree: on its path
and off it. A depth-3 tree has at most 7 splits, so at most 128 decision
patterns, however many rows there are. So, per tree: evaluate every split for
every row (a few vectorised comparisons), ask XGBoost's own ``pred_contribs``
for one representative row per pattern that occurs (on that one tree), and
hand each row its pattern's values. The result is XGBoost's TreeSHAP, value
for value; the cost is a handful of numpy passes per tree instead of
TreeSHAP's per-row path walk (about 10x faster at depth 3).

Every pattern's leaf is checked against XGBoost's own ``pred_leaf``; if any
row disagrees (a split we evaluated differently), or a tree is too deep for
patterns to pay, the caller falls back to plain ``pred_contribs``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_SPLITS = 12  # 4,096 patterns at most per tree; deeper trees use pred_contribs

FloatArray = npt.NDArray[np.float64]


class PatternMismatch(Exception):
    """Our reading of a split disagreed with XGBoost's: use pred_contribs instead."""


def _reachable(left: npt.NDArray[np.int64], right: npt.NDArray[np.int64]) -> list[int]:
    order = [0]
    for node in order:
        if left[node] != -1:
            order.extend((int(left[node]), int(right[node])))
    return order


def feature_contribs(
    booster: Any,
    X: npt.NDArray[np.float32],
    leaves: npt.NDArray[np.int64],
    feature_types: list[str],
) -> FloatArray:
    """(rows, features) TreeSHAP contributions, without the bias column.

    ``leaves`` is ``pred_leaf`` for X (rows, trees). Raises PatternMismatch when
    the fast path cannot be trusted or does not pay; the caller falls back.
    """
    import xgboost as xgb

    n, p = X.shape
    out = np.zeros((n, p), dtype=np.float64, order="F")  # columns are added to
    trees = json.loads(booster.save_raw("json"))["learner"]["gradient_booster"]["model"]["trees"]
    if leaves.shape != (n, len(trees)):
        raise PatternMismatch("pred_leaf does not match the trees")
    columns = np.asfortranarray(X)  # one contiguous column per feature
    leaves_f = np.asfortranarray(leaves)
    missing: dict[int, npt.NDArray[np.bool_] | None] = {}

    def missing_of(j: int) -> npt.NDArray[np.bool_] | None:
        if j not in missing:
            m = np.isnan(columns[:, j])
            missing[j] = m if m.any() else None
        return missing[j]

    for t, tree in enumerate(trees):
        left = np.asarray(tree["left_children"], dtype=np.int64)
        right = np.asarray(tree["right_children"], dtype=np.int64)
        order = _reachable(left, right)
        splits = [node for node in order if left[node] != -1]
        if not splits:
            continue  # a single leaf gives every feature 0
        if len(splits) > MAX_SPLITS:
            raise PatternMismatch(f"tree {t} has {len(splits)} splits")
        feature = np.asarray(tree["split_indices"], dtype=np.int64)
        cond = np.asarray(tree["split_conditions"], dtype=np.float32)
        default_left = np.asarray(tree["default_left"], dtype=bool)
        split_type = np.asarray(tree.get("split_type", [0] * left.size), dtype=np.int64)
        cats = _categories(tree)
        pattern = np.zeros(n, dtype=np.uint16)  # MAX_SPLITS bits fit
        for bit, node in enumerate(splits):
            j = int(feature[node])
            x = columns[:, j]
            if split_type[node] == 1:
                # XGBoost sends the listed categories right, the rest left
                go_left = ~np.isin(x, cats.get(node, np.zeros(0, dtype=np.float32)))
                m = missing_of(j)
                if m is not None:
                    go_left[m] = default_left[node]
            else:
                go_left = x < cond[node]  # NaN compares False: missing goes right here
                m = missing_of(j)
                if m is not None and default_left[node]:
                    go_left |= m
            np.bitwise_or(
                pattern, np.left_shift(go_left.astype(np.uint16), np.uint16(bit)), out=pattern
            )
        size = 1 << len(splits)
        rep = np.full(size, -1, dtype=np.int64)
        rep[pattern] = np.arange(n)  # any row of a pattern stands for all of them
        present = np.flatnonzero(rep >= 0)
        # the leaf each pattern reaches, checked against XGBoost's own walk
        bit_of = {node: bit for bit, node in enumerate(splits)}
        leaf_of = np.empty(size, dtype=np.int64)
        for code in present.tolist():
            node = 0
            while left[node] != -1:
                node = int(left[node]) if (code >> bit_of[node]) & 1 else int(right[node])
            leaf_of[code] = node
        if not np.array_equal(leaf_of[pattern], leaves_f[:, t]):
            raise PatternMismatch(f"tree {t}: a split read differently from XGBoost")
        one = booster[t : t + 1]
        d = xgb.DMatrix(X[rep[present]], feature_types=feature_types, enable_categorical=True)
        table = np.zeros((size, p), dtype=np.float64)
        table[present] = np.asarray(
            one.predict(d, pred_contribs=True, validate_features=False), dtype=np.float64
        ).reshape(present.size, p + 1)[:, :p]
        for j in np.unique(feature[splits]).tolist():
            out[:, j] += table[pattern, j]
    return np.ascontiguousarray(out)


def _categories(tree: dict[str, Any]) -> dict[int, npt.NDArray[np.float32]]:
    nodes = tree.get("categories_nodes", [])
    segments = tree.get("categories_segments", [])
    sizes = tree.get("categories_sizes", [])
    flat = tree.get("categories", [])
    return {
        int(node): np.asarray(flat[int(seg) : int(seg) + int(size)], dtype=np.float32)
        for node, seg, size in zip(nodes, segments, sizes, strict=True)
    }
