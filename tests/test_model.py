"""The model layer: constraints hold, the points are exact, fits repeat bit for bit,
and a model folder round-trips or fails with a ModelError that says why."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pytest
import xgboost as xgb

from trustscore.errors import ModelError
from trustscore.features.spec import DIMENSIONS, Dimension, FeatureSpec
from trustscore.model import (
    NotFittedError,
    TrustModel,
    to_matrix,
)
from trustscore.model_folder import META_FILE, MODEL_FILE
from trustscore.params import SMALL_DEVELOPMENT_ROWS, ModelParams, Scale
from trustscore.scale import points
from trustscore.splits import split_dev_holdout, split_es

EMPLOYMENT = ("employed", "self_employed", "student", "unemployed", "retired", "other")


def _spec(name: str, dim: Dimension, direction: int, **kw: Any) -> FeatureSpec:
    return FeatureSpec(name, dim, direction, unit="", sentence=f"{name} is {{value}}", **kw)


SPECS = (
    _spec("days_late_max_365d", Dimension.CREDIT_HISTORY, +1),
    _spec("repaid_on_time_share", Dimension.CREDIT_HISTORY, -1),
    _spec("orders_90d", Dimension.BEHAVIOUR, -1),
    _spec("refund_share", Dimension.BEHAVIOUR, +1),
    _spec("monthly_income", Dimension.CAPACITY, -1),
    _spec("employment", Dimension.CAPACITY, 0, categories=EMPLOYMENT),
    _spec("identity_verified", Dimension.IDENTITY, -1),
    _spec("address_years", Dimension.IDENTITY, 0),
    _spec("merchant_trust_mean", Dimension.CONNECTIONS, -1, table="transactions"),
)
CATEGORICAL = 5
# "retired" never occurs in the training data: scoring it must still be exact
UNSEEN_LEVEL = EMPLOYMENT.index("retired")


def make_data(n: int, seed: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """Synthetic people whose risk mixes dimensions (x0 * x4), to tempt the trees to."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, len(SPECS)), dtype=np.float32)
    X[:, 0] = rng.poisson(2.0, n)
    X[:, 1] = rng.beta(5, 1.5, n)
    X[:, 2] = rng.poisson(4.0, n)
    X[:, 3] = rng.beta(1, 8, n)
    X[:, 4] = rng.lognormal(8, 0.5, n)
    X[:, 5] = rng.choice([0, 1, 2, 3, 5], n)
    X[:, 6] = rng.random(n) < 0.7
    X[:, 7] = rng.exponential(3.0, n)
    X[:, 8] = rng.normal(0.8, 0.1, n)
    logit = (
        -2.0
        + 0.5 * X[:, 0]
        - 2.0 * X[:, 1]
        - 0.2 * X[:, 2]
        + 3.0 * X[:, 3]
        - 0.0002 * X[:, 4]
        + 0.00005 * X[:, 0] * X[:, 4]
        + np.where(X[:, 5] == 3, 1.0, 0.0)
        - 0.6 * X[:, 6]
        - 8.0 * (X[:, 8] - 0.8)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float64)
    # missing values, where a real data set would have them
    for j in (0, 4, 5, 7, 8):
        X[rng.random(n) < 0.08, j] = np.nan
    return X, y


FAST = {"n_estimators": 200, "learning_rate": 0.2, "early_stopping_rounds": 15, "nthread": 2}


def fit(additivity: str = "dimension", seed: int = 0, **params: Any) -> TrustModel:
    X, y = make_data(3000, seed=1)
    dev, _ = split_dev_holdout(y, seed=seed)
    train, es = split_es(dev, y, seed=seed, fraction=0.2)
    p = ModelParams.from_dict({**FAST, "additivity": additivity, **params})
    return TrustModel(SPECS, p, Scale(), seed=seed).fit(X[train], y[train], X[es], y[es])


@pytest.fixture(scope="module", params=["dimension", "feature"])
def model(request: pytest.FixtureRequest) -> TrustModel:
    return fit(request.param)


@pytest.fixture(scope="module")
def dim_model() -> TrustModel:
    return fit("dimension")


@pytest.fixture(scope="module")
def X_test() -> npt.NDArray[np.float32]:
    X, _ = make_data(1500, seed=7)
    X[:40, CATEGORICAL] = UNSEEN_LEVEL
    X[40:60, :] = np.nan  # someone we know nothing about
    return X


# ----------------------------------------------------------------------------- constraints


def _split_features(node: dict[str, Any]) -> Iterator[int]:
    if "split" in node:
        yield int(str(node["split"]).removeprefix("f"))
        for child in node["children"]:
            yield from _split_features(child)


def test_every_tree_stays_inside_one_group(model: TrustModel) -> None:
    # read the trees through xgboost's own dump, not through the code under test
    group_of = model.feature_group
    groups_seen: set[int] = set()
    dumps = model.booster_.get_dump(dump_format="json")
    assert len(dumps) == model.n_trees
    for t, text in enumerate(dumps):
        groups = {int(group_of[f]) for f in _split_features(json.loads(text))}
        assert len(groups) <= 1, f"tree {t} mixes groups {groups}"
        groups_seen |= groups
        assert model.tree_group_[t] == (groups.pop() if groups else -1)
    # the check above must have had something to check
    assert len(groups_seen) >= 4


def test_the_categorical_feature_is_split_natively(dim_model: TrustModel) -> None:
    trees = json.loads(dim_model.booster_.save_raw("json"))["learner"]["gradient_booster"]
    split_types = [t for tree in trees["model"]["trees"] for t in tree["split_type"]]
    assert 1 in split_types  # 1 = categorical split


def test_monotone_directions_hold(model: TrustModel, X_test: npt.NDArray[np.float32]) -> None:
    rows = X_test[60:260]
    for j, spec in enumerate(SPECS):
        if spec.direction == 0:
            continue
        grid = np.nanquantile(X_test[:, j], np.linspace(0, 1, 9))
        margins = []
        for v in grid:
            Xv = rows.copy()
            Xv[:, j] = v
            margins.append(model.margin(Xv))
        steps = np.diff(np.stack(margins), axis=0) * spec.direction
        # more of a +1 feature never lowers the log-odds of bad; -1 never raises it
        assert steps.min() >= -1e-6, spec.name
        assert steps.max() > 0, f"{spec.name} has no effect; the test proves nothing"


# ----------------------------------------------------------------------------- exactness


def test_group_margins_add_up_to_the_margin(
    model: TrustModel, X_test: npt.NDArray[np.float32]
) -> None:
    bias, G = model.group_margins(X_test)
    assert G.shape == (len(X_test), len(model.group_names))
    assert np.abs(bias + G.sum(axis=1) - model.margin(X_test)).max() < 1e-4


def test_group_margins_equal_treeshap_per_group(
    model: TrustModel, X_test: npt.NDArray[np.float32]
) -> None:
    d = xgb.DMatrix(X_test, feature_types=["c" if s.categories else "q" for s in SPECS])
    contribs = model.booster_.predict(d, pred_contribs=True)
    bias, G = model.group_margins(X_test)
    assert abs(contribs[:, -1].mean() - bias) < 1e-4  # base score handled right
    per_group = np.zeros_like(G)
    for j, g in enumerate(model.feature_group):
        per_group[:, g] += contribs[:, j]
    assert np.abs(per_group - G).max() < 1e-4
    assert np.abs(G).max() > 0.1  # not trivially zero


def test_dimension_mode_columns_are_the_five_dimensions(dim_model: TrustModel) -> None:
    assert dim_model.group_names == tuple(d.value for d in DIMENSIONS)


def test_feature_contribs_are_exact_and_sum_to_the_groups(
    model: TrustModel, X_test: npt.NDArray[np.float32]
) -> None:
    bias, C = model.feature_contribs(X_test)
    _, G = model.group_margins(X_test)
    assert C.shape == (len(X_test), len(SPECS))
    assert np.abs(bias + C.sum(axis=1) - model.margin(X_test)).max() < 1e-4
    summed = np.zeros_like(G)
    for j, g in enumerate(model.feature_group):
        summed[:, g] += C[:, j]
    assert np.abs(summed - G).max() < 1e-4


def test_points_add_up_to_the_model_score(
    model: TrustModel, X_test: npt.NDArray[np.float32]
) -> None:
    scale = Scale()
    bias, G = model.group_margins(X_test)
    base, P = points(scale, bias, G)
    score = scale.score_from_margin(model.margin(X_test))
    assert np.abs(base + P.sum(axis=1) - score).max() < 1e-2  # 1e-4 margin * ~72 pts
    assert 550 < base < 750


def test_single_leaf_trees_go_to_the_bias(X_test: npt.NDArray[np.float32]) -> None:
    # a half sample's root holds ~60 units of hessian: enough for a leaf of its own
    # (min_child_weight 45) but not for two children, so every tree is a lone leaf;
    # sampling also keeps the root gradients from cancelling, so the leaves are not 0
    m = fit(n_estimators=5, early_stopping_rounds=0, min_child_weight=45, subsample=0.5)
    assert (m.tree_group_ == -1).all()
    bias, G = m.group_margins(X_test)
    assert not G.any()
    assert np.abs(bias - m.margin(X_test)).max() < 1e-5
    assert abs(bias - m.base_margin_) > 1e-4  # the leaves did move the margin, into the bias


def _fit_with_rounds(**params: Any) -> tuple[TrustModel, list[tuple[int, int]]]:
    rounds: list[tuple[int, int]] = []
    X, y = make_data(3000, seed=1)
    dev, _ = split_dev_holdout(y, seed=0)
    train, es = split_es(dev, y, seed=0, fraction=0.2)
    p = ModelParams.from_dict({**FAST, "learning_rate": 0.5, "early_stopping_rounds": 5, **params})
    m = TrustModel(SPECS, p, Scale()).fit(
        X[train], y[train], X[es], y[es], progress=lambda i, n: rounds.append((i, n))
    )
    return m, rounds


def test_without_refit_only_the_best_iteration_is_kept() -> None:
    m, rounds = _fit_with_rounds(refit=False)
    assert m.n_trees == m.best_iteration_ + 1
    assert m.es_best_iteration_ == m.best_iteration_
    # training ran on past the best round until patience ran out, then was cut back
    assert [i for i, _ in rounds] == list(range(1, m.best_iteration_ + 1 + 5 + 1))
    assert {n for _, n in rounds} == {200}


def test_the_refit_learns_from_every_development_row() -> None:
    m, rounds = _fit_with_rounds(refit=True)
    kept, _ = _fit_with_rounds(refit=False)
    es_rounds = m.es_best_iteration_ + 1
    assert m.es_best_iteration_ == kept.best_iteration_ and m.best_score_ == kept.best_score_
    # 1920 training rows stopped early, then 2400 development rows: 5/4 of the rounds
    assert m.n_trees == m.best_iteration_ + 1 == math.floor(es_rounds * 2400 / 1920 + 0.5)

    # the first tree's root covers every row: a quarter more rows than the early-stopped fit
    def root_cover(model: TrustModel) -> float:
        trees = json.loads(model.booster_.save_raw("json"))["learner"]["gradient_booster"]
        return float(trees["model"]["trees"][0]["sum_hessian"][0])

    assert 1.2 < root_cover(m) / root_cover(kept) < 1.3
    # progress counts on through the refit and ends where it says it will
    ran = es_rounds + 5
    assert [i for i, _ in rounds] == list(range(1, ran + m.n_trees + 1))
    assert {n for _, n in rounds[:ran]} == {200}
    assert {n for _, n in rounds[ran:]} == {ran + m.n_trees}


def test_the_refit_never_passes_the_most_rounds() -> None:
    m, _ = _fit_with_rounds(refit=True, n_estimators=8, early_stopping_rounds=0)
    assert m.es_best_iteration_ == 7 and m.n_trees == 8


def test_early_stopping_off_keeps_every_round() -> None:
    m = fit(n_estimators=25, early_stopping_rounds=0)
    assert m.n_trees == 25 and m.best_iteration_ == 24


# ----------------------------------------------------------------------------- determinism


def test_same_inputs_same_model_bit_for_bit(
    X_test: npt.NDArray[np.float32], tmp_path: Path
) -> None:
    a, b = fit(seed=3), fit(seed=3)
    assert np.array_equal(a.margin(X_test), b.margin(X_test))
    assert np.array_equal(a.group_margins(X_test)[1], b.group_margins(X_test)[1])
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    for name in (MODEL_FILE, META_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_another_seed_gives_another_model(X_test: npt.NDArray[np.float32]) -> None:
    # subsample is 0.8, so the seed matters; if it did not, the test above proves little
    assert not np.array_equal(fit(seed=3).margin(X_test), fit(seed=4).margin(X_test))


# ----------------------------------------------------------------------------- unfitted


def test_an_unfitted_model_says_so(X_test: npt.NDArray[np.float32], tmp_path: Path) -> None:
    m = TrustModel(SPECS, ModelParams(), Scale())
    for call in (
        lambda: m.margin(X_test),
        lambda: m.group_margins(X_test),
        lambda: m.feature_contribs(X_test),
        lambda: m.save(tmp_path),
    ):
        with pytest.raises(NotFittedError, match="not fitted"):
            call()


def test_wrong_width_is_refused(dim_model: TrustModel) -> None:
    with pytest.raises(ValueError, match=r"shape \(rows, 9\)"):
        dim_model.margin(np.zeros((3, 8), dtype=np.float32))


# ----------------------------------------------------------------------------- save / load


def test_save_load_round_trip(
    model: TrustModel, X_test: npt.NDArray[np.float32], tmp_path: Path
) -> None:
    model.save(tmp_path / "m")
    back = TrustModel.load(tmp_path / "m")
    assert np.array_equal(back.margin(X_test), model.margin(X_test))
    bias, G = back.group_margins(X_test)
    assert bias == model.bias_
    assert np.array_equal(G, model.group_margins(X_test)[1])
    assert back.specs == model.specs
    assert back.params == model.params
    assert back.scale == model.scale
    assert back.best_iteration_ == model.best_iteration_
    assert back.es_best_iteration_ == model.es_best_iteration_
    assert np.array_equal(back.tree_group_, model.tree_group_)
    assert not list(tmp_path.glob("m/*.pkl"))


@pytest.fixture
def saved(dim_model: TrustModel, tmp_path: Path) -> Path:
    folder = tmp_path / "model"
    dim_model.save(folder)
    return folder


def _edit_meta(folder: Path, **changes: Any) -> None:
    meta = json.loads((folder / META_FILE).read_text())
    meta.update(changes)
    (folder / META_FILE).write_text(json.dumps(meta))


def test_load_of_no_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model folder"):
        TrustModel.load(tmp_path / "nowhere")


def test_load_without_meta(saved: Path) -> None:
    (saved / META_FILE).unlink()
    with pytest.raises(ModelError, match=r"model_meta\.json is missing"):
        TrustModel.load(saved)


def test_load_of_corrupt_meta(saved: Path) -> None:
    (saved / META_FILE).write_text('{"format": "trustscore-model", ')
    with pytest.raises(ModelError, match="is corrupt"):
        TrustModel.load(saved)


def test_load_of_another_format_version(saved: Path) -> None:
    _edit_meta(saved, format_version=99)
    with pytest.raises(ModelError, match="format 99"):
        TrustModel.load(saved)


def test_load_with_an_incomplete_meta(saved: Path) -> None:
    meta = json.loads((saved / META_FILE).read_text())
    del meta["specs"]
    (saved / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=r"incomplete: no 'specs'"):
        TrustModel.load(saved)


def test_load_without_booster(saved: Path) -> None:
    (saved / MODEL_FILE).unlink()
    with pytest.raises(ModelError, match=r"model\.json is missing"):
        TrustModel.load(saved)


def test_load_of_corrupt_booster(saved: Path) -> None:
    text = (saved / MODEL_FILE).read_text()
    (saved / MODEL_FILE).write_text(text[: len(text) // 2])
    with pytest.raises(ModelError, match="not a readable XGBoost model"):
        TrustModel.load(saved)


def test_load_with_a_tree_count_mismatch(saved: Path) -> None:
    meta = json.loads((saved / META_FILE).read_text())
    _edit_meta(saved, n_trees=meta["n_trees"] + 1)
    with pytest.raises(ModelError, match=r"disagree.*trees"):
        TrustModel.load(saved)


def test_load_with_a_feature_count_mismatch(saved: Path) -> None:
    meta = json.loads((saved / META_FILE).read_text())
    _edit_meta(saved, specs=meta["specs"][:-1])
    with pytest.raises(ModelError, match=r"disagree.*8 specs"):
        TrustModel.load(saved)


def test_load_with_specs_moved_to_another_dimension(saved: Path, tmp_path: Path) -> None:
    # every feature in one dimension: the recorded tree groups no longer match
    meta = json.loads((saved / META_FILE).read_text())
    specs = [{**s, "dimension": "identity"} for s in meta["specs"]]
    _edit_meta(saved, specs=specs)
    with pytest.raises(ModelError, match="groups differ"):
        TrustModel.load(saved)


def test_load_of_a_meta_from_before_the_refit(saved: Path) -> None:
    meta = json.loads((saved / META_FILE).read_text())
    del meta["es_best_iteration"]
    (saved / META_FILE).write_text(json.dumps(meta))
    back = TrustModel.load(saved)
    assert back.es_best_iteration_ == back.best_iteration_ == meta["best_iteration"]


def test_load_of_a_model_folder_copy_works(saved: Path, tmp_path: Path) -> None:
    shutil.copytree(saved, tmp_path / "copy")
    assert TrustModel.load(tmp_path / "copy").n_trees > 0


# ----------------------------------------------------------------------------- params


def test_params_from_dict_refuses_unknown_keys() -> None:
    with pytest.raises(ValueError, match="unknown model setting 'max_dept'"):
        ModelParams.from_dict({"max_dept": 4})


def test_params_from_dict_checks_types_and_values() -> None:
    assert ModelParams.from_dict({"learning_rate": 1, "max_depth": 4}).learning_rate == 1.0
    with pytest.raises(ValueError, match="'max_depth' must be int"):
        ModelParams.from_dict({"max_depth": 3.5})
    with pytest.raises(ValueError, match="'nthread' must be int"):
        ModelParams.from_dict({"nthread": True})
    with pytest.raises(ValueError, match="additivity must be 'dimension' or 'feature'"):
        ModelParams.from_dict({"additivity": "tree"})
    with pytest.raises(ValueError, match="es_fraction"):
        ModelParams.from_dict({"es_fraction": 1.5})
    assert ModelParams.from_dict({"refit": False}).refit is False
    for wrong in ("false", 0):
        with pytest.raises(ValueError, match="'refit' must be bool"):
            ModelParams.from_dict({"refit": wrong})


def test_auto_settings_follow_the_size_of_the_data() -> None:
    auto = ModelParams(learning_rate="auto", refit="auto")
    small, large = auto.resolved(SMALL_DEVELOPMENT_ROWS - 1), auto.resolved(SMALL_DEVELOPMENT_ROWS)
    assert (small.learning_rate, small.refit) == (0.05, True)
    assert (large.learning_rate, large.refit) == (0.1, False)
    given = ModelParams(learning_rate=0.3, refit=False).resolved(10)
    assert (given.learning_rate, given.refit) == (0.3, False)
    assert ModelParams.from_dict({"learning_rate": "auto", "refit": "auto"}) == auto
    with pytest.raises(ValueError, match="'learning_rate' must be float or 'auto'"):
        ModelParams.from_dict({"learning_rate": "fast"})
    with pytest.raises(ValueError, match="'max_depth' must be int, got 'auto'"):
        ModelParams.from_dict({"max_depth": "auto"})


def test_a_fitted_model_records_what_auto_was() -> None:
    m = fit(learning_rate="auto", refit="auto")
    assert (m.params.learning_rate, m.params.refit) == (0.05, True)
    meta = json.loads(m.to_bytes()[0])
    assert (meta["params"]["learning_rate"], meta["params"]["refit"]) == (0.05, True)


def test_params_round_trip_through_a_dict() -> None:
    p = ModelParams(max_depth=4, additivity="feature")
    assert ModelParams.from_dict(p.to_dict()) == p


def test_monotone_constraints_follow_the_specs() -> None:
    m = TrustModel(SPECS, ModelParams(), Scale())
    assert m.monotone_constraints() == [1, -1, -1, 1, -1, 0, -1, 0, -1]
    assert m.interaction_groups() == [[0, 1], [2, 3], [4, 5], [6, 7], [8]]
    f = TrustModel(SPECS, ModelParams(additivity="feature"), Scale())
    assert f.interaction_groups() == [[j] for j in range(len(SPECS))]


# ----------------------------------------------------------------------------- to_matrix


def test_to_matrix() -> None:
    specs = [
        _spec("income", Dimension.CAPACITY, -1),
        _spec("verified", Dimension.IDENTITY, -1),
        _spec("employment", Dimension.CAPACITY, 0, categories=("employed", "student")),
    ]
    frame = pl.DataFrame(
        {
            "employment": ["student", None, "astronaut", "employed"],
            "income": [1200, None, 0, 3],
            "verified": [True, False, None, True],
            "other": ["x", "y", "z", "w"],
        }
    )
    X = to_matrix(frame, specs)
    assert X.dtype == np.float32 and X.shape == (4, 3)
    nan = math.nan
    expected = [[1200, 1, 1], [nan, 0, nan], [0, nan, nan], [3, 1, 0]]
    np.testing.assert_array_equal(X, np.asarray(expected, dtype=np.float32))


def test_to_matrix_reads_a_categorical_column_too() -> None:
    specs = [_spec("employment", Dimension.CAPACITY, 0, categories=("employed", "student"))]
    frame = pl.DataFrame({"employment": ["student", "employed"]}).cast(pl.Categorical)
    np.testing.assert_array_equal(to_matrix(frame, specs), [[1], [0]])


def test_to_matrix_names_missing_and_mistyped_columns() -> None:
    specs = [_spec("income", Dimension.CAPACITY, -1), _spec("age_x", Dimension.IDENTITY, 0)]
    with pytest.raises(ModelError, match=r"lack feature column.*income, age_x"):
        to_matrix(pl.DataFrame({"other": [1]}), specs)
    with pytest.raises(ModelError, match="'income' is String"):
        to_matrix(pl.DataFrame({"income": ["1"], "age_x": [1]}), specs)


# ----------------------------------------------------------------------------- splits


def test_split_dev_holdout_is_stratified_and_deterministic() -> None:
    y = np.r_[np.zeros(900), np.ones(100)]
    dev, hold = split_dev_holdout(y, seed=5, holdout=0.2)
    assert len(hold) == 200 and y[hold].sum() == 20
    assert np.array_equal(np.sort(np.r_[dev, hold]), np.arange(1000))
    assert np.array_equal(hold, np.sort(hold))
    again = split_dev_holdout(y, seed=5, holdout=0.2)
    assert np.array_equal(hold, again[1]) and np.array_equal(dev, again[0])
    assert not np.array_equal(hold, split_dev_holdout(y, seed=6)[1])


def test_split_es_is_stratified_within_dev() -> None:
    y = np.r_[np.zeros(900), np.ones(100)]
    dev, _ = split_dev_holdout(y, seed=5)
    train, es = split_es(dev, y, seed=5, fraction=0.25)
    assert len(es) == 200 and y[es].sum() == 20
    assert np.array_equal(np.sort(np.r_[train, es]), dev)


def test_split_keeps_a_lonely_bad_on_each_side() -> None:
    y = np.r_[np.zeros(20), np.ones(2)]
    dev, hold = split_dev_holdout(y, seed=0, holdout=0.1)
    assert y[dev].sum() == 1 and y[hold].sum() == 1


def test_split_refuses_unlabelled_rows() -> None:
    with pytest.raises(ValueError, match="0 \\(good\\) or 1 \\(bad\\)"):
        split_dev_holdout(np.array([0, 1, np.nan]), seed=0)
