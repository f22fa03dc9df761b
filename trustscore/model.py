"""Train, save, load and predict; exact points per dimension (DESIGN sections 3 and 6).

The model is XGBoost ``binary:logistic`` on the ``hist`` tree method, with
interaction constraints that keep every tree inside one *group*: one dimension
(``additivity = "dimension"``, the default) or one feature (``"feature"``). The
margin is then a sum over trees, each tree belongs to one group, and so

    margin = bias + sum over groups of G[group],
    G[group] = sum over the group's trees of (leaf value - the tree's expected value),
    bias = base margin + sum over all trees of their expected values,

where a tree's expected value is the cover-weighted mean of its leaves, the same
quantity TreeSHAP starts from. Within a tree TreeSHAP is exact and additive (its
contributions sum to leaf value - expected value) and gives nothing to features the
tree does not split on, so G[group] is exactly the sum of ``pred_contribs`` over the
group's features, obtained from ``pred_leaf`` at a fraction of the cost.

xgboost is imported on first use, not at import time: it takes about half a second
and commands that never train or score should not pay for it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from trustscore.errors import ModelError
from trustscore.features.spec import (
    DIMENSIONS,
    FeatureSpec,
    spec_to_dict,
    specs_from_dicts,
)
from trustscore.forest import Forest, parse_forest
from trustscore.model_folder import META_FILE, MODEL_FILE, read_document
from trustscore.params import ModelParams, Scale
from trustscore.splits import check_labels

if TYPE_CHECKING:
    import xgboost as xgb

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[int, int], None]


class Trainer(Protocol):
    """Trains a booster as ``xgboost.train`` does, on arrays: here, or on a cluster.

    ``evals`` are (X, y, name); the log of each goes into ``history`` by name.
    """

    def __call__(
        self,
        params: dict[str, Any],
        X: npt.NDArray[np.float32],
        y: npt.NDArray[Any],
        feature_types: list[str],
        rounds: int,
        evals: list[tuple[npt.NDArray[np.float32], npt.NDArray[Any], str]],
        callbacks: list[Any],
        history: dict[str, dict[str, list[float]]],
    ) -> Any: ...


META_FORMAT: Final = "trustscore-model"
META_VERSION: Final = 1
# pred_leaf / pred_contribs answer (rows x trees) blocks; bound the cells per block so
# a million people never need gigabytes at once (~20 bytes a cell in flight)
_CHUNK_CELLS: Final = 1 << 22
# rows x trees of leaf indices held at once by the pattern path (256 MB of int64)
_PATTERN_CELLS: Final = 1 << 25
_HINT_BUILD: Final = "point --model at a folder written by `trustscore build`, or build one"


def _xgboost() -> ModuleType:
    import xgboost

    return xgboost


# ---------------------------------------------------------------------------- data


def to_matrix(frame: pl.DataFrame, specs: Sequence[FeatureSpec]) -> npt.NDArray[np.float32]:
    """The model's input: float32 (rows, features) in spec order, NaN for missing.

    A categorical feature becomes the index of its level in ``spec.categories``;
    an unknown level or null becomes NaN, which the trees treat as missing.
    """
    absent = [s.name for s in specs if s.name not in frame.columns]
    if absent:
        raise ModelError(
            f"the data lack feature column(s) the model was built with: {', '.join(absent)}",
            hint="score with the data layout (and config) the model was built from",
        )
    out = np.empty((frame.height, len(specs)), dtype=np.float32)
    for j, spec in enumerate(specs):
        column = frame.get_column(spec.name)
        if spec.is_categorical:
            codes = {level: float(i) for i, level in enumerate(spec.categories)}
            values = column.cast(pl.String).replace_strict(
                codes, default=None, return_dtype=pl.Float64
            )
        elif column.dtype.is_numeric() or column.dtype == pl.Boolean:
            values = column.cast(pl.Float64)
        else:
            raise ModelError(
                f"feature {spec.name!r} is {column.dtype} but the model expects a number"
            )
        out[:, j] = values.fill_null(math.nan).to_numpy()
    return out


# ---------------------------------------------------------------------------- model


class NotFittedError(RuntimeError):
    """A TrustModel was used before ``fit`` or ``load``: a programming error."""


class TrustModel:
    """The trust-score model: XGBoost with one group (dimension or feature) per tree.

    ``__init__`` only stores; ``fit`` or ``load`` sets the attributes ending in ``_``.
    """

    booster_: Any  # xgboost.Booster: the refit on all development rows, or the early-
    # stopped fit cut back to its best round (refit off)
    best_iteration_: int  # the booster's last round (n_trees - 1)
    best_score_: float  # early-stopping log loss at the early-stopped fit's best round
    es_best_iteration_: int  # that best round: where early stopping would have cut
    base_margin_: float  # the intercept, in margin units
    bias_: float  # base_margin_ + every tree's expected value: the margin of "average"
    tree_group_: IntArray  # group index per tree, -1 for a single-leaf tree
    tree_expected_: FloatArray

    def __init__(
        self, specs: Sequence[FeatureSpec], params: ModelParams, scale: Scale, seed: int = 0
    ) -> None:
        self.specs = tuple(specs)
        self.params = params
        self.scale = scale
        self.seed = seed

    # ----------------------------------------------------------------- groups

    @property
    def group_names(self) -> tuple[str, ...]:
        """The columns of ``group_margins``: the five dimensions in Dimension order,
        or the features in spec order."""
        if self.params.additivity == "dimension":
            return tuple(d.value for d in DIMENSIONS)
        return tuple(s.name for s in self.specs)

    @property
    def feature_group(self) -> IntArray:
        """The group index of each feature."""
        if self.params.additivity == "dimension":
            return np.asarray([DIMENSIONS.index(s.dimension) for s in self.specs], np.int64)
        return np.arange(len(self.specs), dtype=np.int64)

    def interaction_groups(self) -> list[list[int]]:
        """Feature indices per non-empty group: XGBoost's interaction constraints."""
        fg = self.feature_group
        return [np.flatnonzero(fg == g).tolist() for g in np.unique(fg).tolist()]

    def monotone_constraints(self) -> list[int]:
        """Per feature, XGBoost's monotone constraint on the margin (log-odds of bad).

        A spec's direction points towards risk, so it is the constraint as it
        stands; a categorical feature has no order and gets 0."""
        return [0 if s.is_categorical else int(np.sign(s.direction)) for s in self.specs]

    def _feature_types(self) -> list[str]:
        return ["c" if s.is_categorical else "q" for s in self.specs]

    # ----------------------------------------------------------------- fitting

    def _xgb_params(self) -> dict[str, Any]:
        p = self.params
        if p.learning_rate == "auto":
            raise ValueError("the learning rate is decided in fit(), by the size of the data")
        return {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "seed": self.seed,
            "max_depth": p.max_depth,
            "eta": p.learning_rate,
            "min_child_weight": p.min_child_weight,
            "subsample": p.subsample,
            "colsample_bytree": p.colsample_bytree,
            "lambda": p.reg_lambda,
            "max_bin": p.max_bin,
            "nthread": p.nthread,
            # strings, not lists: given a list, xgboost's Python layer reads the entries
            # as feature *names* and fails on indices when the data have no names
            "monotone_constraints": "(" + ",".join(map(str, self.monotone_constraints())) + ")",
            "interaction_constraints": json.dumps(self.interaction_groups()),
            # native messages below warning level are printed to stdout by xgboost's
            # log callback; warnings become Python warnings (stderr)
            "verbosity": 1,
        }

    def _dmatrix(self, X: npt.ArrayLike, y: npt.ArrayLike | None = None) -> xgb.DMatrix:
        xa = self._check_X(X)
        dmatrix: xgb.DMatrix = _xgboost().DMatrix(
            xa,
            label=None if y is None else np.asarray(y, dtype=np.float32),
            missing=np.nan,
            feature_types=self._feature_types(),
            # with numpy input, categorical columns come from feature_types 'c' (xgboost
            # 3.1+); the codes are used as they are, with no re-coding
            enable_categorical=True,
            nthread=self.params.nthread or -1,
        )
        return dmatrix

    def _local_trainer(
        self,
        params: dict[str, Any],
        X: npt.NDArray[np.float32],
        y: npt.NDArray[Any],
        feature_types: list[str],
        rounds: int,
        evals: list[tuple[npt.NDArray[np.float32], npt.NDArray[Any], str]],
        callbacks: list[Any],
        history: dict[str, dict[str, list[float]]],
    ) -> Any:
        sets = [(self._dmatrix(Xe, ye), name) for Xe, ye, name in evals]
        return _xgboost().train(
            params,
            self._dmatrix(X, y),
            num_boost_round=rounds,
            evals=sets,
            evals_result=history,
            callbacks=callbacks,
            verbose_eval=False,
        )

    def _check_X(self, X: npt.ArrayLike) -> npt.NDArray[np.float32]:
        xa = np.asarray(X, dtype=np.float32)
        if xa.ndim != 2 or xa.shape[1] != len(self.specs):
            raise ValueError(
                f"X must have shape (rows, {len(self.specs)}) in spec order, got {xa.shape}"
            )
        return xa

    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        X_es: npt.ArrayLike,
        y_es: npt.ArrayLike,
        progress: Progress | None = None,
        trainer: Trainer | None = None,
    ) -> TrustModel:
        """Train on (X, y), stopping early on (X_es, y_es) to learn how many rounds pay.

        With ``params.refit`` the model is then trained again on all the
        development rows, (X, y) and (X_es, y_es) together, for that many rounds
        scaled by how many more rows there are; otherwise the early-stopped fit is
        kept, cut back to its best round. On a few thousand persons the early-stopping
        rows are a fifth of what there is to learn from, and giving them back gains
        more than the rounds' estimate loses (benchmarks/bench_quality.py).

        ``trainer`` trains elsewhere (``cluster.Cluster.train``, xgboost.dask) under
        the same parameters and constraints; None trains here."""
        xgb_ = _xgboost()
        if not self.specs:
            raise ValueError("a model needs at least one feature")
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique")
        ya, ya_es = check_labels(y), check_labels(y_es)
        # "auto" settings are decided by the size of the data, and recorded decided
        self.params = self.params.resolved(ya.size + ya_es.size)
        if np.unique(ya).size < 2:
            raise ValueError("the training rows need both goods and bads")
        if ya_es.size == 0:
            raise ValueError("the early-stopping set is empty")
        train = self._local_trainer if trainer is None else trainer
        if trainer is not None:
            progress = None  # the rounds run on the workers

        total = self.params.n_estimators
        callbacks: list[Any] = []
        if progress is not None:
            callbacks.append(_progress_callback(xgb_, progress, 0, total))
        if self.params.early_stopping_rounds > 0:
            callbacks.append(
                xgb_.callback.EarlyStopping(
                    rounds=self.params.early_stopping_rounds,
                    metric_name="logloss",
                    data_name="es",
                    maximize=False,
                    save_best=False,  # sliced below, in one place for both cases
                )
            )
        history: dict[str, dict[str, list[float]]] = {}
        booster = train(
            self._xgb_params(),
            self._check_X(X),
            ya,
            self._feature_types(),
            total,
            [(self._check_X(X_es), ya_es, "es")],
            callbacks,
            history,
        )
        es_loss = history["es"]["logloss"]
        if self.params.early_stopping_rounds > 0:
            best = int(booster.best_iteration)
        else:
            best = booster.num_boosted_rounds() - 1
        if self.params.refit:
            ran = booster.num_boosted_rounds()
            # more rows support more rounds before overfitting; the ratio of the rows is
            # the usual estimate of how many more
            n_train, n_dev = ya.size, ya.size + ya_es.size
            rounds = min(total, max(1, math.floor((best + 1) * n_dev / n_train + 0.5)))
            callbacks = []
            if progress is not None:
                callbacks.append(_progress_callback(xgb_, progress, ran, ran + rounds))
            booster = train(
                self._xgb_params(),
                np.concatenate([self._check_X(X), self._check_X(X_es)]),
                np.concatenate([ya, ya_es]),
                self._feature_types(),
                rounds,
                [],
                callbacks,
                {},
            )
        else:
            # keep only the trees up to the best round, so predictions, leaf values and
            # the saved model all describe the same forest
            booster = booster[: best + 1]
        self._set_fitted(booster, booster.num_boosted_rounds() - 1, float(es_loss[best]), best)
        return self

    def _set_fitted(
        self, booster: Any, best_iteration: int, best_score: float, es_best_iteration: int
    ) -> None:
        try:
            forest = parse_forest(booster.save_raw("json"), self.feature_group)
        except ValueError as e:
            # the interaction constraints are what make the points exact; never go on without
            raise RuntimeError(f"xgboost broke an interaction constraint: {e}") from e
        self.booster_ = booster
        self.best_iteration_ = best_iteration
        self.best_score_ = best_score
        self.es_best_iteration_ = es_best_iteration
        self._adopt(forest)

    def _adopt(self, forest: Forest) -> None:
        self.base_margin_ = forest.base_margin
        self.tree_group_ = forest.tree_group
        self.tree_expected_ = forest.tree_expected
        self.bias_ = forest.base_margin + float(forest.tree_expected.sum())
        self._leaf_values = forest.leaf_values
        # trees sorted by group, so one reduceat sums every group; a lone leaf adds
        # exactly 0 (its value is its expected value, already in the bias) and is left out
        order = np.argsort(forest.tree_group, kind="stable")
        order = order[forest.tree_group[order] >= 0]
        sorted_groups = forest.tree_group[order]
        self._tree_order = order
        self._tree_offset = forest.node_offset[order]
        self._present_groups, self._group_start = np.unique(sorted_groups, return_index=True)
        self._group_expected = (
            np.add.reduceat(forest.tree_expected[order], self._group_start)
            if order.size
            else np.zeros(0)
        )

    def _fitted(self) -> Any:
        booster = getattr(self, "booster_", None)
        if booster is None:
            raise NotFittedError(
                "this TrustModel is not fitted yet: call fit() or TrustModel.load() first"
            )
        return booster

    @property
    def n_trees(self) -> int:
        return int(self._fitted().num_boosted_rounds())

    # ----------------------------------------------------------------- predicting

    def _chunks(self, n_rows: int, cells_per_row: int) -> list[slice]:
        step = max(1024, _CHUNK_CELLS // max(cells_per_row, 1))
        return [slice(i, min(i + step, n_rows)) for i in range(0, n_rows, step)]

    def margin(self, X: npt.ArrayLike) -> FloatArray:
        """The log-odds of bad, as XGBoost computes it (float32, widened)."""
        booster = self._fitted()
        out = booster.predict(self._dmatrix(X), output_margin=True, validate_features=False)
        return np.asarray(out, dtype=np.float64)

    def p_bad(self, X: npt.ArrayLike) -> FloatArray:
        return Scale.p_bad_from_margin(self.margin(X))

    def group_margins(self, X: npt.ArrayLike) -> tuple[float, FloatArray]:
        """(bias, G): bias + G.sum(1) == margin(X), G[:, g] the exact margin of group g
        (the sum of its features' TreeSHAP contributions), from leaf values alone."""
        booster = self._fitted()
        xa = self._check_X(X)
        n_trees = self.tree_group_.size
        out = np.zeros((xa.shape[0], len(self.group_names)), dtype=np.float64)
        if self._tree_order.size == 0:
            return self.bias_, out  # only lone leaves: everything is bias

        def chunk(rows: slice) -> None:
            d = self._dmatrix(xa[rows])
            leaf = np.asarray(booster.predict(d, pred_leaf=True, validate_features=False))
            node = leaf.reshape(-1, n_trees)[:, self._tree_order].astype(np.int64)
            node += self._tree_offset
            value = np.take(self._leaf_values, node)
            sums = np.add.reduceat(value, self._group_start, axis=1) - self._group_expected
            out[rows, self._present_groups] = sums

        chunks = self._chunks(xa.shape[0], n_trees)
        if len(chunks) == 1:
            chunk(chunks[0])
            return self.bias_, out
        # two chunks at a time: while XGBoost finds one chunk's leaves, numpy sums
        # another's (its gathers release the GIL); each chunk is computed exactly as
        # alone, so the points do not depend on it. Booster.predict is thread-safe.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=2) as pool:
            for done in pool.map(chunk, chunks):
                del done
        return self.bias_, out

    def feature_contribs(self, X: npt.ArrayLike) -> tuple[float, FloatArray]:
        """(bias, C): C[:, j] the exact TreeSHAP contribution of feature j to the margin.

        In feature mode these are the group margins (cheap); in dimension mode they
        need ``pred_contribs`` (exact TreeSHAP, far slower)."""
        if self.params.additivity == "feature":
            return self.group_margins(X)
        booster = self._fitted()
        xa = self._check_X(X)
        p = len(self.specs)
        fast = self._pattern_contribs(xa)
        if fast is not None:
            return self.bias_, fast
        out = np.empty((xa.shape[0], p), dtype=np.float64)
        for rows in self._chunks(xa.shape[0], p + 1):
            d = self._dmatrix(xa[rows])
            c = booster.predict(d, pred_contribs=True, validate_features=False)
            out[rows] = np.asarray(c, dtype=np.float64).reshape(-1, p + 1)[:, :p]
        return self.bias_, out

    def _pattern_contribs(self, xa: npt.NDArray[np.float32]) -> FloatArray | None:
        """pred_contribs' exact values the cheap way for shallow trees (see treeshap),
        or None when that path does not apply. Rows go in chunks so the leaf
        indices of a million rows never sit in memory at once."""
        from trustscore.treeshap import PatternExplainer, PatternMismatch

        booster = self._fitted()
        n_trees = self.tree_group_.size
        try:
            explainer = PatternExplainer(booster, len(self.specs), self._feature_types())
            out = np.empty((xa.shape[0], len(self.specs)), dtype=np.float64)
            step = max(65_536, _PATTERN_CELLS // max(n_trees, 1))
            for start in range(0, xa.shape[0], step):
                rows = slice(start, min(start + step, xa.shape[0]))
                leaf = booster.predict(
                    self._dmatrix(xa[rows]), pred_leaf=True, validate_features=False
                )
                leaves = np.asarray(leaf, dtype=np.int64).reshape(-1, n_trees)
                out[rows] = explainer.contribs(xa[rows], leaves)
            return out
        except PatternMismatch:
            return None

    # ----------------------------------------------------------------- persistence

    def to_bytes(self) -> tuple[bytes, bytes]:
        """(model_meta.json, model.json): the description and XGBoost's own JSON; never pickle."""
        booster = self._fitted()
        meta = {
            "format": META_FORMAT,
            "format_version": META_VERSION,
            "xgboost_version": _xgboost().__version__,
            "seed": self.seed,
            "params": self.params.to_dict(),
            "scale": asdict(self.scale),
            "specs": [spec_to_dict(s) for s in self.specs],
            "groups": list(self.group_names),
            "best_iteration": self.best_iteration_,
            "best_score": self.best_score_,
            "es_best_iteration": self.es_best_iteration_,
            "n_trees": self.n_trees,
            "base_margin": self.base_margin_,
            "tree_groups": self.tree_group_.tolist(),
        }
        text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
        return text.encode("utf-8"), bytes(booster.save_raw("json"))

    def save(self, folder: Path) -> None:
        """Write ``model.json`` and ``model_meta.json`` into ``folder`` (no manifest:
        a model folder is written by :mod:`trustscore.model_folder`)."""
        meta, raw = self.to_bytes()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MODEL_FILE).write_bytes(raw)
        (folder / META_FILE).write_bytes(meta)

    @classmethod
    def load(cls, folder: Path) -> TrustModel:
        """Read ``model.json`` and ``model_meta.json`` as :meth:`save` wrote them."""
        folder = Path(folder)
        if not folder.is_dir():
            raise ModelError("no model folder here", where=str(folder), hint=_HINT_BUILD)
        for name in (META_FILE, MODEL_FILE):
            if not (folder / name).is_file():
                raise ModelError(f"{name} is missing", where=str(folder), hint=_HINT_BUILD)
        return cls.from_bytes(
            (folder / META_FILE).read_bytes(), (folder / MODEL_FILE).read_bytes(), str(folder)
        )

    @classmethod
    def from_bytes(cls, meta_bytes: bytes, model_bytes: bytes, where: str) -> TrustModel:
        """The model from its description and booster; ModelError says what is wrong."""
        meta = _parse_meta(meta_bytes, where)
        meta_where = f"{where}/{META_FILE}"
        try:
            specs = specs_from_dicts(meta["specs"])
            params = ModelParams.from_dict(meta["params"])
            scale = Scale(**meta["scale"])
            seed = int(meta["seed"])
            best_iteration = int(meta["best_iteration"])
            best_score = float(meta["best_score"])
            # written since the refit; before it the booster was the early-stopped fit
            es_best_iteration = int(meta.get("es_best_iteration", best_iteration))
            n_trees = int(meta["n_trees"])
            tree_groups = [int(g) for g in meta["tree_groups"]]
        except KeyError as e:
            raise ModelError(
                f"model_meta.json is incomplete: no {e}", where=meta_where, hint=_HINT_BUILD
            ) from e
        except (TypeError, ValueError) as e:
            raise ModelError(
                f"model_meta.json is invalid: {e}", where=meta_where, hint=_HINT_BUILD
            ) from e
        model = cls(specs, params, scale, seed)

        xgb_ = _xgboost()
        booster = xgb_.Booster(params={"nthread": params.nthread})
        try:
            model_bytes.decode("utf-8")
            json.loads(model_bytes)
            booster.load_model(bytearray(model_bytes))
        except (UnicodeDecodeError, json.JSONDecodeError, xgb_.core.XGBoostError) as e:
            lines = str(e).strip().splitlines() or [type(e).__name__]
            # native messages start "[07:10:27] /workspace/src/...cc:409: "; keep what follows
            first = re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", lines[0])
            raise ModelError(
                f"model.json is not a readable XGBoost model: {first}",
                where=f"{where}/{MODEL_FILE}",
                hint=_HINT_BUILD,
            ) from e

        def mismatch(what: str) -> ModelError:
            return ModelError(
                f"model.json and model_meta.json disagree: {what}",
                where=where,
                hint=_HINT_BUILD,
            )

        if booster.num_features() != len(specs):
            raise mismatch(f"{booster.num_features()} features in the booster, {len(specs)} specs")
        if booster.num_boosted_rounds() != n_trees or n_trees != best_iteration + 1:
            raise mismatch(
                f"{booster.num_boosted_rounds()} trees, meta says {n_trees} "
                f"(best iteration {best_iteration})"
            )
        try:
            forest = parse_forest(booster.save_raw("json"), model.feature_group)
        except ValueError as e:
            raise mismatch(str(e)) from e
        except (KeyError, TypeError, IndexError) as e:
            raise ModelError(
                f"model.json has an unexpected layout: {e!r}", where=f"{where}/{MODEL_FILE}"
            ) from e
        if forest.objective != "binary:logistic":
            raise mismatch(f"objective {forest.objective}, expected binary:logistic")
        if forest.tree_group.tolist() != tree_groups:
            raise mismatch("the trees' groups differ from the recorded ones")
        model.booster_ = booster
        model.best_iteration_ = best_iteration
        model.best_score_ = best_score
        model.es_best_iteration_ = es_best_iteration
        model._adopt(forest)
        return model


def _progress_callback(xgb_: ModuleType, report: Progress, done: int, total: int) -> Any:
    """An xgboost TrainingCallback that reports (rounds done, most rounds) each round,
    counting on from ``done`` (the refit continues the early-stopped fit's count)."""

    class _Progress(xgb_.callback.TrainingCallback):  # type: ignore[misc,name-defined]
        def after_iteration(self, model: object, epoch: int, evals_log: object) -> bool:
            report(done + epoch + 1, total)
            return False  # never asks to stop

    return _Progress()


def _parse_meta(data: bytes, where: str) -> dict[str, Any]:
    return read_document(data, META_FILE, META_FORMAT, META_VERSION, f"{where}/{META_FILE}")
