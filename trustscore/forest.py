"""The booster's trees as flat arrays: what the exact decomposition needs.

``parse_forest`` reads XGBoost's own JSON (``Booster.save_raw("json")``): each
tree's leaf values, its cover-weighted expected value (where TreeSHAP starts)
and the one group (dimension or feature) its splits stay in.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Forest:
    """What the decomposition needs from the booster's JSON, as flat arrays."""

    base_margin: float
    tree_group: IntArray  # group per tree; -1 for a single-leaf tree
    tree_expected: FloatArray  # cover-weighted mean leaf value per tree
    leaf_values: FloatArray  # every tree's nodes, end to end; NaN for split nodes
    node_offset: IntArray  # where each tree's nodes start in leaf_values
    objective: str


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def parse_forest(raw: bytes | bytearray, feature_group: IntArray) -> Forest:
    """Read leaf values, covers and split features from ``Booster.save_raw("json")``.

    Raises ValueError when a tree splits on features of more than one group: the
    interaction constraints failed and the points would no longer be exact.
    """
    model = json.loads(raw)
    learner = model["learner"]
    # xgboost 3 estimates the intercept and writes it as a vector, e.g. "[2.2461231E-1]",
    # a probability for binary:logistic; the margin it adds is its logit
    base_score = str(learner["learner_model_param"]["base_score"]).strip("[]").split(",")
    if len(base_score) != 1:
        raise ValueError(f"expected one base score, got {len(base_score)}")
    trees = learner["gradient_booster"]["model"]["trees"]
    n = len(trees)
    tree_group = np.full(n, -1, dtype=np.int64)
    tree_expected = np.empty(n, dtype=np.float64)
    offsets = np.zeros(n, dtype=np.int64)
    values: list[FloatArray] = []
    start = 0
    for t, tree in enumerate(trees):
        left = np.asarray(tree["left_children"], dtype=np.int64)
        right = np.asarray(tree["right_children"], dtype=np.int64)
        # a leaf's value sits in split_conditions (already scaled by the learning rate)
        cond = np.asarray(tree["split_conditions"], dtype=np.float64)
        cover = np.asarray(tree["sum_hessian"], dtype=np.float64)
        feature = np.asarray(tree["split_indices"], dtype=np.int64)
        # walk from the root so pruned, unreachable nodes never count
        order = [0]
        for node in order:
            if left[node] != -1:
                order.extend((int(left[node]), int(right[node])))
        reach = np.asarray(order, dtype=np.int64)
        is_split = left[reach] != -1
        groups = np.unique(feature_group[feature[reach[is_split]]])
        if groups.size > 1:
            raise ValueError(f"tree {t} splits on features of {groups.size} groups")
        if groups.size == 1:
            tree_group[t] = groups[0]
        # TreeSHAP's expected value: bottom-up, each node the cover-weighted mean of
        # its children (children come after their parent in the walk)
        mean = np.where(left == -1, cond, np.nan)
        for node in reversed(order):
            if left[node] != -1:
                a, b = left[node], right[node]
                mean[node] = (mean[a] * cover[a] + mean[b] * cover[b]) / cover[node]
        tree_expected[t] = mean[0]
        values.append(np.where(left == -1, cond, np.nan))
        offsets[t] = start
        start += left.size
    return Forest(
        base_margin=_logit(float(base_score[0])),
        tree_group=tree_group,
        tree_expected=tree_expected,
        leaf_values=np.concatenate(values) if values else np.zeros(0),
        node_offset=offsets,
        objective=str(learner["objective"]["name"]),
    )
