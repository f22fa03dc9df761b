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
patterns to pay, the caller falls back to plain ``pred_contribs``. Rows can
come in chunks: a pattern's values, once asked for, serve every later chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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


@dataclass
class _Tree:
    index: int
    splits: list[int]  # reachable split nodes; bit k of a pattern is splits[k]'s decision
    feature: npt.NDArray[np.int64]
    cond: npt.NDArray[np.float32]
    default_left: npt.NDArray[np.bool_]
    categorical: npt.NDArray[np.bool_]
    cats: dict[int, npt.NDArray[np.float32]]
    leaf_of: npt.NDArray[np.int64]  # the leaf each pattern reaches
    features: list[int]  # the features the tree splits on
    table: FloatArray = field(init=False)  # (patterns, features) once asked for
    known: npt.NDArray[np.bool_] = field(init=False)

    def __post_init__(self) -> None:
        size = 1 << len(self.splits)
        self.table = np.zeros((size, len(self.features)), dtype=np.float64)
        self.known = np.zeros(size, dtype=bool)


def _parse(tree: dict[str, Any], index: int) -> _Tree | None:
    left = np.asarray(tree["left_children"], dtype=np.int64)
    right = np.asarray(tree["right_children"], dtype=np.int64)
    splits = [node for node in _reachable(left, right) if left[node] != -1]
    if not splits:
        return None  # a single leaf gives every feature 0
    if len(splits) > MAX_SPLITS:
        raise PatternMismatch(f"tree {index} has {len(splits)} splits")
    feature = np.asarray(tree["split_indices"], dtype=np.int64)
    bit_of = {node: bit for bit, node in enumerate(splits)}
    leaf_of = np.empty(1 << len(splits), dtype=np.int64)
    for code in range(leaf_of.size):
        node = 0
        while left[node] != -1:
            node = int(left[node]) if (code >> bit_of[node]) & 1 else int(right[node])
        leaf_of[code] = node
    return _Tree(
        index=index,
        splits=splits,
        feature=feature,
        cond=np.asarray(tree["split_conditions"], dtype=np.float32),
        default_left=np.asarray(tree["default_left"], dtype=bool),
        categorical=np.asarray(tree.get("split_type", [0] * left.size), dtype=np.int64) == 1,
        cats=_categories(tree),
        leaf_of=leaf_of,
        features=sorted({int(feature[node]) for node in splits}),
    )


class PatternExplainer:
    """Per-feature TreeSHAP of a booster's rows, chunk by chunk (see the module)."""

    def __init__(self, booster: Any, n_features: int, feature_types: list[str]) -> None:
        model = json.loads(booster.save_raw("json"))
        raw = model["learner"]["gradient_booster"]["model"]["trees"]
        self.booster = booster
        self.n_features = n_features
        self.feature_types = feature_types
        self.n_trees = len(raw)
        self.trees = [t for i, tree in enumerate(raw) if (t := _parse(tree, i)) is not None]

    def contribs(self, X: npt.NDArray[np.float32], leaves: npt.NDArray[np.int64]) -> FloatArray:
        """(rows, features) contributions of X, whose ``pred_leaf`` is ``leaves``."""
        n = X.shape[0]
        if leaves.shape != (n, self.n_trees) or X.shape[1] != self.n_features:
            raise PatternMismatch("pred_leaf does not match the trees")
        out = np.zeros((n, self.n_features), dtype=np.float64, order="F")
        columns = np.asfortranarray(X)  # one contiguous column per feature
        missing: dict[int, npt.NDArray[np.bool_] | None] = {}

        def missing_of(j: int) -> npt.NDArray[np.bool_] | None:
            if j not in missing:
                m = np.isnan(columns[:, j])
                missing[j] = m if m.any() else None
            return missing[j]

        for tree in self.trees:
            pattern = np.zeros(n, dtype=np.uint16)  # MAX_SPLITS bits fit
            for bit, node in enumerate(tree.splits):
                j = int(tree.feature[node])
                x = columns[:, j]
                m = missing_of(j)
                if tree.categorical[node]:
                    # XGBoost sends the listed categories right, the rest left
                    cats = tree.cats.get(node, np.zeros(0, dtype=np.float32))
                    go_left = ~np.isin(x, cats)
                    if m is not None:
                        go_left[m] = tree.default_left[node]
                else:
                    go_left = x < tree.cond[node]  # NaN compares False: missing goes right
                    if m is not None and tree.default_left[node]:
                        go_left |= m
                np.bitwise_or(
                    pattern, np.left_shift(go_left.astype(np.uint16), np.uint16(bit)), out=pattern
                )
            if not np.array_equal(tree.leaf_of[pattern], leaves[:, tree.index]):
                raise PatternMismatch(f"tree {tree.index}: a split read differently")
            self._learn(tree, X, pattern)
            for k, j in enumerate(tree.features):
                out[:, j] += tree.table[pattern, k]
        return np.ascontiguousarray(out)

    def _learn(
        self, tree: _Tree, X: npt.NDArray[np.float32], pattern: npt.NDArray[np.uint16]
    ) -> None:
        """Ask XGBoost for the values of the patterns not seen before, one row each."""
        import xgboost as xgb

        rep = np.full(tree.known.size, -1, dtype=np.int64)
        rep[pattern] = np.arange(pattern.size)  # any row of a pattern stands for all
        new = np.flatnonzero((rep >= 0) & ~tree.known)
        if not new.size:
            return
        d = xgb.DMatrix(X[rep[new]], feature_types=self.feature_types, enable_categorical=True)
        one = self.booster[tree.index : tree.index + 1]
        c = np.asarray(one.predict(d, pred_contribs=True, validate_features=False))
        c = c.reshape(new.size, self.n_features + 1)
        tree.table[new] = c[:, tree.features]
        tree.known[new] = True


def feature_contribs(
    booster: Any,
    X: npt.NDArray[np.float32],
    leaves: npt.NDArray[np.int64],
    feature_types: list[str],
) -> FloatArray:
    """(rows, features) TreeSHAP contributions, without the bias column, in one go.

    Raises PatternMismatch when the fast path cannot be trusted or does not
    pay; the caller falls back to ``pred_contribs``.
    """
    return PatternExplainer(booster, X.shape[1], feature_types).contribs(X, leaves)


def _categories(tree: dict[str, Any]) -> dict[int, npt.NDArray[np.float32]]:
    nodes = tree.get("categories_nodes", [])
    segments = tree.get("categories_segments", [])
    sizes = tree.get("categories_sizes", [])
    flat = tree.get("categories", [])
    return {
        int(node): np.asarray(flat[int(seg) : int(seg) + int(size)], dtype=np.float32)
        for node, seg, size in zip(nodes, segments, sizes, strict=True)
    }
