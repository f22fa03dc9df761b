"""Build and score as plain functions: ingest -> features -> model -> penalties -> folder.

What the CLI calls. Progress reaches the screen only through the callbacks the
caller passes in; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import polars as pl

from trustscore import __version__
from trustscore.config import Config
from trustscore.data_tables import DataTables
from trustscore.entity import KEY, Entity
from trustscore.errors import DataError, ModelError, UsageError
from trustscore.features import (
    FeatureConfig,
    FeatureResult,
    NoAsOfError,
    compute_features,
    default_as_of,
)
from trustscore.features.spec import DIMENSIONS, Dimension, FeatureSpec
from trustscore.ingest import Report, read_folder
from trustscore.model_folder import (
    CONFIG_FILE,
    DIMENSION_COLUMNS,
    EVENTS_FILE,
    FEATURES_FILE,
    META_FILE,
    METRICS_FILE,
    MODEL_FILE,
    POINTS_FILE,
    SCORES_FILE,
    FolderWriter,
    ModelFolder,
    file_sha256,
)
from trustscore.notes import Note, merge
from trustscore.params import ModelParams
from trustscore.penalties import PenaltyPolicy, person_penalties

if TYPE_CHECKING:
    from trustscore.cluster import Cluster

Phase = Callable[[str], None]
Rounds = Callable[[int, int], None]


PERSON_ROW_GROUP: Final = 65_536  # 4x smaller than Polars' default: a one-person
# lookup in a 1M folder 20-35% faster, files 1% larger (benchmarks/README.md)


def _quiet_phase(_: str) -> None:
    return None


def _quiet_rounds(_: int, __: int) -> None:
    return None


# ------------------------------------------------------------------ inputs


@dataclass
class Prepared:
    tables: DataTables
    report: Report
    as_of: dt.date
    features: FeatureResult
    entity: Entity = Entity.PERSON
    owner_scores: pl.DataFrame | None = None  # shops: the owners' person scores
    owner_seal: str | None = None  # and the seal of the person model they came from
    cluster: Cluster | None = None  # where the features were computed (None: here)
    # read with --parts (parts.py): the orders and shipments were never held, so
    # ``tables`` holds them empty; the persons with an order before as-of instead
    active: pl.Series | None = None


def _features(
    tables: DataTables,
    as_of: dt.date,
    config: Config,
    *,
    entity: Entity,
    categories: dict[str, tuple[str, ...]] | None = None,
    owner_scores: pl.DataFrame | None = None,
    cluster: Cluster | None = None,
) -> FeatureResult:
    """The feature table of the entity: persons' or shops' (DESIGN 10); the persons'
    a partition at a time on the workers of ``cluster`` (DESIGN 9)."""
    if entity is Entity.PERSON:
        if cluster is not None:
            from trustscore.features.partition import compute_features_partitioned

            return compute_features_partitioned(
                tables,
                as_of,
                feature_config(config),
                categories,
                parts=cluster.parts,
                run=cluster.run_slices,
            )
        return compute_features(tables, as_of, feature_config(config), categories=categories)
    from trustscore.features.shop import compute_shop_features

    return compute_shop_features(
        tables, as_of, feature_config(config), categories, owner_scores=owner_scores
    )


def feature_config(config: Config) -> FeatureConfig:
    f = config.features
    return FeatureConfig(
        passthrough_dimension=Dimension(f.passthrough_dimension),
        passthrough_dimensions={k: Dimension(v) for k, v in f.passthrough_dimensions.items()},
        protected_words=tuple(f.protected_words),
        counterfeit_in_model=f.counterfeit_in_model,
        max_categories=f.max_categories,
    )


def _check_as_of(as_of: dt.date | None) -> None:
    """The as-of date lives in the contract's range of dates (the day after the
    last one included), so no date arithmetic after it can overflow."""
    from trustscore.schema import FIRST_DATE, LAST_DATE

    last = LAST_DATE + dt.timedelta(days=1)
    if as_of is not None and not FIRST_DATE <= as_of <= last:
        raise UsageError(
            f"--as-of {as_of.isoformat()} is outside the dates the contract allows",
            hint=f"give a date from {FIRST_DATE.isoformat()} to {last.isoformat()}",
        )


def prepare(
    data_dir: Path | str,
    *,
    config: Config,
    as_of: dt.date | None = None,
    lenient: bool = False,
    strict: bool = False,
    categories: dict[str, tuple[str, ...]] | None = None,
    phase: Phase = _quiet_phase,
    entity: Entity = Entity.PERSON,
    owner_model: Path | None = None,
    cluster: Cluster | None = None,
    parts: int | None = None,
    spool: Path | None = None,
) -> Prepared:
    """Read and check the folder, then compute every person's (or shop's) features
    as of ``as_of``. ``owner_model``: a person model folder whose scores give shops
    their owners' score. ``cluster``: a Dask cluster to compute persons' features on.
    ``parts``: read the large tables a piece at a time and compute the features in
    that many partitions, for data larger than memory (parts.py), spooling them
    in ``spool`` (default: the temporary folder)."""
    _check_as_of(as_of)
    if cluster is not None:
        check_cluster(entity)
    if parts is not None:
        check_parts(entity, cluster=cluster)
        return _prepare_in_parts(
            data_dir,
            parts,
            config=config,
            as_of=as_of,
            strict=strict,
            lenient=lenient,
            spool=spool,
            categories=categories,
            phase=phase,
        )
    owners = None
    if owner_model is not None:
        if entity is not Entity.MERCHANT:
            raise UsageError(
                "--owner-model gives shops their owners' scores",
                hint="use it with --entity merchant",
            )
        owners = ModelFolder.open(owner_model)
    phase("reading and validating")
    tables, report = read_folder(data_dir, lenient=lenient, strict=strict)
    if as_of is None:
        try:
            as_of = default_as_of(tables)
        except NoAsOfError as exc:
            raise UsageError(str(exc), hint="pass --as-of YYYY-MM-DD") from None
    owner_scores = None if owners is None else owner_scores_of(owners, as_of)
    phase("computing features")
    result = _features(
        tables,
        as_of,
        config,
        entity=entity,
        categories=categories,
        owner_scores=owner_scores,
        cluster=cluster,
    )
    seal = None if owners is None else owners.manifest.get("manifest_sha256")
    return Prepared(
        tables,
        report,
        as_of,
        result,
        entity,
        owner_scores,
        seal if isinstance(seal, str) else None,
        cluster,
    )


def check_parts(entity: Entity | None, *, cluster: object = None) -> None:
    """What --parts cannot be combined with (usage, exit 2)."""
    if entity is not None and entity is not Entity.PERSON:
        raise UsageError(
            "--parts computes persons' features; shops are scored whole",
            hint="drop --parts with --entity merchant",
        )
    if cluster is not None:
        raise UsageError(
            "--parts and --cluster are two ways past one machine's memory: pick one",
            hint="--cluster for a Dask cluster, --parts on one machine",
        )


def _prepare_in_parts(
    data_dir: Path | str,
    parts: int,
    *,
    config: Config,
    as_of: dt.date | None,
    strict: bool,
    lenient: bool,
    spool: Path | None,
    categories: dict[str, tuple[str, ...]] | None,
    phase: Phase,
) -> Prepared:
    from trustscore.parts import features_in_parts, read_in_parts

    phase("reading and validating, a piece at a time")
    read = read_in_parts(data_dir, parts, strict=strict, lenient=lenient, spool=spool)
    try:
        if as_of is None:
            as_of = read.default_as_of()
        if as_of is None:
            try:
                as_of = default_as_of(read.tables)
            except NoAsOfError as exc:
                raise UsageError(str(exc), hint="pass --as-of YYYY-MM-DD") from None
        phase(f"computing features, {parts} partition(s)")
        result, active = features_in_parts(read, as_of, feature_config(config), categories)
    finally:
        read.close()
    return Prepared(read.tables, read.report, as_of, result, active=active)


def check_cluster(entity: Entity) -> None:
    """A cluster computes persons' features: shops' run in one process (usage, exit 2)."""
    if entity is not Entity.PERSON:
        raise UsageError(
            "--cluster computes persons' features; shops are scored in one process",
            hint="drop --cluster with --entity merchant",
        )


def owner_scores_of(folder: ModelFolder, as_of: dt.date) -> pl.DataFrame:
    """The person scores of a person model folder, for shops as of ``as_of``: refused
    when the folder scores shops, or was built as of a later date (its scores would
    carry what the shops' as-of date may not know)."""
    if folder.entity is not Entity.PERSON:
        raise ModelError(
            "--owner-model must be a person model: this folder scores shops",
            where=str(folder.path),
            hint="give the model folder built from the persons (without --entity merchant)",
        )
    if folder.as_of > as_of:
        raise UsageError(
            f"the owner model is as of {folder.as_of.isoformat()}, after this as-of date "
            f"{as_of.isoformat()}: its scores know what the shops' features may not",
            hint="give a person model built as of this date or earlier",
        )
    # the score before penalties: a counterfeit sold at the shop is the shop's own
    # penalty, and must not reach its model a second time through the owner's
    return folder.frame(SCORES_FILE).select(KEY, pl.col("model_score").alias("score"))


def _held(prepared: Prepared) -> None:
    """Features computed again need the tables, which --parts never holds whole."""
    if prepared.active is not None:
        raise UsageError(
            "--parts computes the features once, as of one date; deriving outcomes from "
            "the repayment records takes the orders whole",
            hint="give consumers a defaulted column (--label column), or drop --parts",
        )


def at(prepared: Prepared, as_of: dt.date, config: Config) -> Prepared:
    """The same tables seen at another date (the observation date of derived outcomes)."""
    _held(prepared)
    result = _features(
        prepared.tables,
        as_of,
        config,
        entity=prepared.entity,
        owner_scores=prepared.owner_scores,
        cluster=prepared.cluster,
    )
    return dataclasses.replace(prepared, as_of=as_of, features=result)


def recategorise(prepared: Prepared, specs: list[FeatureSpec], config: Config) -> Prepared:
    """``prepared`` with its categorical features coded by ``specs``' levels (a model's)."""
    categories = {s.name: s.categories for s in specs if s.is_categorical}
    _held(prepared)
    if all(
        s.categories == categories.get(s.name) for s in prepared.features.specs if s.is_categorical
    ):
        return prepared
    result = _features(
        prepared.tables,
        prepared.as_of,
        config,
        entity=prepared.entity,
        categories=categories,
        owner_scores=prepared.owner_scores,
    )
    return dataclasses.replace(prepared, features=result)


# ------------------------------------------------------------------ scoring


@dataclass
class Scored:
    """Everyone's score and its exact parts."""

    scores: pl.DataFrame  # SCORE_COLUMNS
    points: pl.DataFrame  # person_id + one column of points per feature


def _round(x: np.ndarray[Any, Any], digits: int) -> np.ndarray[Any, Any]:
    # + 0.0 turns the -0.0 that rounding leaves into 0.0: data never says "-0.0"
    return np.round(np.asarray(x, dtype=np.float64), digits) + 0.0


def score_frame(
    model: Any,
    prepared: Prepared,
    policy: PenaltyPolicy,
    *,
    feature_points: bool = True,
) -> Scored:
    """Score everyone in ``prepared`` with a fitted TrustModel.

    The dimension points come from the trees' leaf values (exact, cheap); the
    per-feature points, when asked for, from exact TreeSHAP.
    """
    from trustscore.model import to_matrix
    from trustscore.scale import points as to_points

    specs: list[FeatureSpec] = list(model.specs)
    frame = prepared.features.frame
    X = to_matrix(frame, specs)
    scale = model.scale
    bias, groups = model.group_margins(X)
    base_points, group_points = to_points(scale, bias, groups)
    if model.params.additivity == "dimension":
        dim_points = group_points
    else:
        dim_points = np.zeros((X.shape[0], len(DIMENSIONS)))
        for j, spec in enumerate(specs):
            dim_points[:, DIMENSIONS.index(spec.dimension)] += group_points[:, j]
    model_score = base_points + dim_points.sum(axis=1)
    p_bad = scale.p_bad_from_margin(scale.margin_from_score(model_score))

    person = frame.get_column("person_id")
    pen = person_penalties(prepared.features.events, prepared.as_of, policy)
    penalty = (
        pl.DataFrame({"person_id": person})
        .join(pen.select("person_id", "penalty"), on="person_id", how="left", maintain_order="left")
        .get_column("penalty")
        .fill_null(0.0)
        .to_numpy()
    )
    from trustscore.scale import band_of, final_score

    final_rounded, clipping = final_score(model_score, penalty, scale)

    scores = pl.DataFrame(
        {
            "person_id": person,
            "score": final_rounded.astype(np.int64),
            "band": band_of(final_rounded),
            "model_score": _round(model_score, 2),
            "penalty": _round(penalty, 2),
            "p_bad": _round(p_bad, 6),
            "base_points": np.full(X.shape[0], round(base_points, 2)),
            **{name: _round(dim_points[:, i], 2) for i, name in enumerate(DIMENSION_COLUMNS)},
            "clipping": _round(clipping, 2),
        }
    )
    points = pl.DataFrame({"person_id": person})
    if feature_points:
        _, contribs = model.feature_contribs(X)
        fp = -scale.factor * contribs
        points = pl.DataFrame(
            {"person_id": person, **{s.name: _round(fp[:, j], 3) for j, s in enumerate(specs)}}
        )
    return Scored(scores, points)


# ------------------------------------------------------------------ build


@dataclass
class BuildResult:
    out: Path
    as_of: dt.date
    metrics: dict[str, Any]
    scores: pl.DataFrame
    report: Report
    notes: list[Note] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    warnings: list[Any] = field(default_factory=list)  # build_checks.BuildWarning


def _check_labels(y: np.ndarray[Any, Any], outcome: Any, entity: Entity = Entity.PERSON) -> None:
    known = y[~np.isnan(y)]
    noun = entity.noun
    if known.size == 0 and outcome.source == "records":
        raise DataError(
            "no person has a known outcome in the repayment records",
            hint="derived outcomes need credit bills due in the window; or give consumers.csv "
            "a 'defaulted' column",
        )
    if known.size == 0 and entity is Entity.MERCHANT:
        raise DataError(
            "no shop has a known outcome: merchants.csv needs a 'defaulted' column "
            "with 0 or 1 for the shops to learn from",
            hint="empty means not yet known; build needs some 0s and some 1s",
        )
    if known.size == 0:
        raise DataError(
            "no person has a known outcome: consumers.csv needs a 'defaulted' column "
            "with 0 or 1 for the persons to learn from",
            hint="empty means not yet known; build needs some 0s and some 1s, or derive the "
            "outcome from the repayment records: --label records",
        )
    bads = int(known.sum())
    if bads == 0 or bads == known.size:
        which = "defaulted (1)" if bads == 0 else "repaid (0)"
        raise DataError(
            f"every labelled {noun} has the same outcome: none {which} among {known.size:,}",
            hint="build needs both goods (0) and bads (1) to learn the difference",
        )
    if min(bads, known.size - bads) < 10:
        where = ""
        if outcome.source == "records":
            where = f" (derived from bills due {outcome.observation_date} to {outcome.due_until})"
        raise DataError(
            f"too few of one outcome to learn from: {bads} bad, {known.size - bads} good{where}",
            hint="build needs at least 10 of each"
            + (": try a longer --label-window" if outcome.source == "records" else ""),
        )


def _evaluate(y: np.ndarray[Any, Any], p: np.ndarray[Any, Any], bands: list[str]) -> dict[str, Any]:
    from trustscore import metrics

    return {
        "rows": int(y.size),
        "bads": int(y.sum()),
        "bad_rate": float(y.mean()),
        "auc": metrics.auc(y, p),
        "gini": metrics.gini(y, p),
        "ks": metrics.ks(y, p),
        "brier": metrics.brier(y, p),
        "log_loss": metrics.log_loss(y, p),
        "bands": [dict(r) for r in metrics.band_table(y, bands)],
    }


def _inputs(data_dir: Path | str, report: Report) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for t in report.tables:
        entry: dict[str, Any] = {"file": t.file, "rows": t.rows, "kept": t.kept}
        if str(data_dir) != "-":
            entry["sha256"] = file_sha256(Path(data_dir) / t.file)
        out.append(entry)
    return out


def _versions() -> dict[str, str]:
    import xgboost

    return {"trustscore": __version__, "xgboost": xgboost.__version__, "polars": pl.__version__}


def build(
    data_dir: Path | str,
    out: Path,
    *,
    config: Config,
    as_of: dt.date | None = None,
    seed: int | None = None,
    force: bool = False,
    lenient: bool = False,
    strict: bool = False,
    phase: Phase = _quiet_phase,
    rounds: Rounds = _quiet_rounds,
    entity: Entity = Entity.PERSON,
    owner_model: Path | None = None,
    cluster: Cluster | None = None,
    parts: int | None = None,
    spool: Path | None = None,
) -> BuildResult:
    """validate -> features -> train -> evaluate -> score everyone -> write the folder.

    ``entity``: persons (consumers.csv's rows and outcome) or shops (merchants.csv's,
    DESIGN 10); ``owner_model``: for shops, a person model whose scores become the
    ``owner_score`` feature. ``cluster``: compute the features and train on a Dask
    cluster (DESIGN 9).

    The folder is written whole or not at all (see :mod:`trustscore.model_folder`):
    the place is checked and reserved before any work, an existing ``out`` is
    replaced only when it is a model folder and ``force`` is given, and it
    survives any failure.
    """
    params = config.model
    seed = config.build.seed if seed is None else seed
    writer = FolderWriter(Path(out), force=force)
    try:
        return _build(
            data_dir,
            writer,
            params,
            config=config,
            as_of=as_of,
            seed=seed,
            lenient=lenient,
            strict=strict,
            phase=phase,
            rounds=rounds,
            entity=entity,
            owner_model=owner_model,
            cluster=cluster,
            parts=parts,
            spool=spool,
        )
    except BaseException:
        writer.abort()
        raise


@dataclass
class _Fitted:
    """A trained model and which labelled persons it learned from."""

    model: Any  # TrustModel
    labelled: np.ndarray[Any, Any]  # positions of the labelled persons
    y: np.ndarray[Any, Any]  # their outcomes
    dev: np.ndarray[Any, Any]  # positions into ``labelled``: development
    hold: np.ndarray[Any, Any]  # and holdout

    def split_names(self, persons: int) -> list[str]:
        split = np.full(persons, "unlabelled", dtype=object)
        split[self.labelled[self.dev]] = "development"
        split[self.labelled[self.hold]] = "holdout"
        return [str(x) for x in split]


def _train(
    result: FeatureResult,
    y: np.ndarray[Any, Any],
    params: ModelParams,
    config: Config,
    seed: int,
    rounds: Rounds,
    cluster: Cluster | None = None,
) -> _Fitted:
    """Split the labelled persons (development / holdout, then early stopping) and fit,
    here or with xgboost.dask on ``cluster``."""
    from trustscore.model import TrustModel, to_matrix
    from trustscore.splits import split_dev_holdout, split_es

    labelled = np.flatnonzero(~np.isnan(y))
    y_lab = y[labelled]
    dev, hold = split_dev_holdout(y_lab, seed, config.build.holdout)
    train, es = split_es(dev, y_lab, seed, params.es_fraction)
    X_lab = to_matrix(result.frame, result.specs)[labelled]
    model = TrustModel(result.specs, params, config.scale, seed=seed)
    model.fit(
        X_lab[train],
        y_lab[train],
        X_lab[es],
        y_lab[es],
        progress=rounds,
        trainer=None if cluster is None else cluster.train,
    )
    return _Fitted(model, labelled, y_lab, dev, hold)


def _evaluate_parts(
    judged: pl.DataFrame, scores: pl.DataFrame, y: np.ndarray[Any, Any], fitted: _Fitted
) -> dict[str, Any]:
    """Development and holdout metrics (bands by model score), and the final-score
    bands of everyone with the holdout's bad rates.

    ``judged`` are the scores the outcomes are judged against (as of the
    observation date for derived outcomes), ``scores`` everyone's as of the
    as-of date: the band counts are theirs.
    """
    from trustscore.scale import band_of

    p_all = judged.get_column("p_bad").to_numpy()
    model_bands = band_of(judged.get_column("model_score").to_numpy())

    def part(idx: np.ndarray[Any, Any]) -> dict[str, Any]:
        rows = fitted.labelled[idx]
        return _evaluate(fitted.y[idx], p_all[rows], [model_bands[i] for i in rows])

    return {
        "development": part(fitted.dev),
        "holdout": part(fitted.hold),
        "score_bands": _band_counts(
            scores.get_column("band").to_list(),
            judged.get_column("band").to_list(),
            y,
            fitted.labelled[fitted.hold],
        ),
    }


def _build(
    data_dir: Path | str,
    writer: FolderWriter,
    params: ModelParams,
    *,
    config: Config,
    as_of: dt.date | None,
    seed: int,
    lenient: bool,
    strict: bool,
    phase: Phase,
    rounds: Rounds,
    entity: Entity,
    owner_model: Path | None,
    cluster: Cluster | None,
    parts: int | None = None,
    spool: Path | None = None,
) -> BuildResult:
    from trustscore import outcomes

    prepared = prepare(
        data_dir,
        config=config,
        as_of=as_of,
        lenient=lenient,
        strict=strict,
        phase=phase,
        entity=entity,
        owner_model=owner_model,
        cluster=cluster,
        parts=parts,
        spool=spool,
    )
    if not prepared.features.specs:
        raise DataError("no features to learn from", hint="consumers.csv has no usable columns")
    if entity is Entity.MERCHANT:
        if config.build.label == "records":
            raise UsageError(
                "--label records derives persons' outcomes from their repayments; shops "
                "learn merchants.csv's defaulted column",
                hint="drop --label records (or set [build] label to auto or column)",
            )
        source: outcomes.Source = "column"
    else:
        source = outcomes.choose(config.build.label, prepared.tables)
    if source == "records":
        _held(prepared)
        phase("deriving outcomes from the repayment records")
        outcome = outcomes.from_records(
            prepared.tables,
            prepared.as_of,
            config.build.label_window_days,
            auto=config.build.label == "auto",
        )
        assert outcome.observation_date is not None
        learn = at(prepared, outcome.observation_date, config)
        prepared = recategorise(prepared, learn.features.specs, config)
    else:
        outcome = outcomes.from_column(
            prepared.tables, prepared.features.frame.get_column(KEY), entity.table
        )
        learn = prepared
    y = outcome.y
    _check_labels(y, outcome, entity)

    phase("training")
    fitted = _train(learn.features, y, params, config, seed, rounds, prepared.cluster)
    model = fitted.model

    phase("scoring everyone")
    scored = score_frame(model, prepared, config.penalties)
    # honest metrics score the features the outcome was learned against: as of T
    judged = (
        scored
        if learn is prepared
        else score_frame(model, learn, config.penalties, feature_points=False)
    )

    phase("evaluating")
    metrics = {
        "entity": entity.value,
        "as_of": prepared.as_of.isoformat(),
        "seed": seed,
        "additivity": params.additivity,
        "trees": model.n_trees,
        "best_iteration": model.best_iteration_,
        "features": len(prepared.features.specs),
        "persons": int(y.size),
        "labelled": int(fitted.labelled.size),
        "outcome": outcome.describe(),
        **_evaluate_parts(judged.scores, scored.scores, y, fitted),
    }
    from trustscore.build_checks import build_warnings

    warnings = build_warnings(metrics, scored.scores, learn, outcome, prepared.report)
    metrics["warnings"] = [w.as_dict() for w in warnings]
    # validate's warnings (rows legal but unlikely), each rule with its examples
    metrics["data_warnings"] = [w.as_record() for w in prepared.report.warnings]
    if strict and warnings:
        first = warnings[0]
        raise DataError(
            f"build --strict: {first.text}"
            + (f" (and {len(warnings) - 1} more warnings)" if len(warnings) > 1 else ""),
            hint="the model folder was not written; run without --strict to build anyway",
        )

    phase("writing the model folder")
    scores = scored.scores.with_columns(
        pl.Series("split", fitted.split_names(y.size), dtype=pl.String),
        pl.Series("defaulted", y, dtype=pl.Float64).fill_nan(None).cast(pl.Int8),
    )
    notes = merge(prepared.report.notes, prepared.features.notes)
    meta, booster = model.to_bytes()
    writer.add(MODEL_FILE, booster)
    writer.add(META_FILE, meta)
    # per-person files: row groups of PERSON_ROW_GROUP rows with statistics, so a
    # card or a decision reads (and decodes) one small group, not a quarter million rows
    by_person = {"statistics": True, "row_group_size": PERSON_ROW_GROUP}
    writer.add_parquet(SCORES_FILE, scores, **by_person)
    writer.add_parquet(POINTS_FILE, scored.points, **by_person)
    writer.add_parquet(FEATURES_FILE, prepared.features.frame, **by_person)
    writer.add_parquet(EVENTS_FILE, prepared.features.events, **by_person)
    writer.add_json(METRICS_FILE, metrics)
    writer.add_json(CONFIG_FILE, config.as_dict())
    out = writer.commit(
        {
            "entity": entity.value,
            **_owner_entry(owner_model, prepared.owner_seal),
            "versions": _versions(),
            "as_of": prepared.as_of.isoformat(),
            "seed": seed,
            "outcome": outcome.describe(),
            "inputs": _inputs(data_dir, prepared.report),
            "tables_missing": prepared.tables.missing(),
            "notes": [n.text for n in notes],
            "protected": prepared.features.protected,
            "dropped": {f"{f}:{r}": n for (f, r), n in prepared.report.drops.dropped.items()},
        }
    )
    return BuildResult(
        out=out,
        as_of=prepared.as_of,
        metrics=metrics,
        scores=scores,
        report=prepared.report,
        notes=notes,
        protected=prepared.features.protected,
        warnings=warnings,
    )


def _owner_entry(owner_model: Path | None, seal: str | None) -> dict[str, Any]:
    """The person model a shop model read its owners' scores from: where, and its
    seal, so scoring can find it again and say when it has changed."""
    if owner_model is None:
        return {}
    return {"owner_model": {"path": str(Path(owner_model).resolve()), "sha256": seal}}


def _band_counts(
    bands: list[str],
    judged_bands: list[str],
    y: np.ndarray[Any, Any],
    holdout: np.ndarray[Any, Any],
) -> list[dict[str, Any]]:
    """Everyone per final-score band, and the bad rate of the band's holdout persons:
    the honest figure (the development persons were trained on)."""
    from trustscore.bands import BAND_NAMES
    from trustscore.metrics import band_table

    counts = {b: 0 for b in BAND_NAMES}
    for b in bands:
        counts[b] += 1
    y_hold = np.full(y.size, np.nan)
    y_hold[holdout] = y[holdout]
    held = {r["band"]: r for r in band_table(y_hold, judged_bands)}
    return [
        {
            "band": b,
            "persons": counts[b],
            "holdout": held[b]["count"],
            "holdout_bad_rate": held[b]["bad_rate"],
        }
        for b in BAND_NAMES
    ]


# ------------------------------------------------------------------ a saved model


def _check_schema(model: Any, prepared: Prepared, folder: Path) -> None:
    """The data must give the model every feature it was built with."""
    have = {s.name: s for s in prepared.features.specs}
    missing = [s for s in model.specs if s.name not in have]
    if missing and prepared.tables.folder is None:
        tables = sorted({s.table for s in missing} - {"consumers"})
        if tables:
            raise UsageError(
                "standard input carries only consumers.csv, and this model was also built "
                "from " + ", ".join(f"{t}.csv" for t in tables),
                hint="give the data folder instead of -",
            )
    if missing:
        by_table: dict[str, list[str]] = {}
        for s in missing:
            by_table.setdefault(s.table, []).append(s.name)
        parts = []
        for table, names in by_table.items():
            more = ", ..." if len(names) > 3 else ""
            parts.append(f"{len(names)} from {table}.csv ({', '.join(names[:3])}{more})")
        raise ModelError(
            "the model was built with features these data cannot give: " + "; ".join(parts),
            where=str(folder),
            hint="score data laid out like the data the model was built from",
        )
    for s in model.specs:
        got = have[s.name]
        if got.is_categorical != s.is_categorical:
            if s.passthrough and not s.is_categorical:
                raise _text_in_numbers(prepared, s.name)
            kind = "categorical" if s.is_categorical else "numeric"
            raise ModelError(
                f"feature {s.name!r} is {kind} in the model but not in these data",
                where=str(folder),
            )


def _text_in_numbers(prepared: Prepared, feature: str) -> DataError:
    """A passthrough column the model learned as numbers holds text here: the data's
    problem (exit 3), named by its first cell that is no number."""
    consumers = prepared.tables.consumers
    column = next(
        (c for c in (feature, feature.removeprefix("consumers_")) if c in consumers.columns),
        feature,
    )
    values = consumers.get_column(column).cast(pl.String) if column in consumers.columns else None
    bad = None
    if values is not None:
        text = values.filter(values.is_not_null() & values.cast(pl.Float64, strict=False).is_null())
        bad = text[0] if text.len() else None
    return DataError(
        f"consumers.csv column {column!r} holds text"
        + (f" ({bad!r})" if bad is not None else "")
        + ", where the model learned numbers",
        hint="give numbers in that column (empty for unknown), as in the data the model "
        "was built from",
    )


def score(
    data_dir: Path | str,
    model_dir: Path,
    *,
    as_of: dt.date | None = None,
    lenient: bool = False,
    feature_points: bool = False,
    phase: Phase = _quiet_phase,
    entity: Entity | None = None,
    owner_model: Path | None = None,
    cluster: Cluster | None = None,
    parts: int | None = None,
    spool: Path | None = None,
) -> tuple[Scored, Prepared]:
    """Score everyone in ``data_dir`` with the model in ``model_dir``."""
    phase("loading the model")
    folder = ModelFolder.open(model_dir)
    return score_with(
        folder,
        data_dir,
        as_of=as_of,
        lenient=lenient,
        feature_points=feature_points,
        phase=phase,
        entity=entity,
        owner_model=owner_model,
        cluster=cluster,
        parts=parts,
        spool=spool,
    )


def score_with(
    folder: ModelFolder,
    data_dir: Path | str,
    *,
    as_of: dt.date | None = None,
    lenient: bool = False,
    feature_points: bool = False,
    phase: Phase = _quiet_phase,
    entity: Entity | None = None,
    owner_model: Path | None = None,
    cluster: Cluster | None = None,
    parts: int | None = None,
    spool: Path | None = None,
) -> tuple[Scored, Prepared]:
    """Score everyone in ``data_dir`` with an opened, verified model folder: the
    folder's entity (exit 5 when ``entity`` asks for the other)."""
    entity = folder.check_entity(entity)
    model = folder.load_model()
    categories = {s.name: s.categories for s in model.specs if s.is_categorical}
    prepared = prepare(
        data_dir,
        config=folder.config,
        as_of=as_of,
        lenient=lenient,
        categories=categories,
        phase=phase,
        entity=entity,
        owner_model=_owner_model(folder, model.specs, owner_model),
        cluster=cluster,
        parts=parts,
        spool=spool,
    )
    _check_schema(model, prepared, folder.path)
    recorded = folder.manifest.get("owner_model")
    built_with = recorded.get("sha256") if isinstance(recorded, dict) else None
    if prepared.owner_seal is not None and built_with not in (None, prepared.owner_seal):
        prepared.features.notes.append(
            Note(
                "owner_model_changed",
                "the owners' scores come from another person model than the one this shop "
                f"model was built with (seal {prepared.owner_seal[:12]}, built with "
                f"{str(built_with)[:12]}): owner_score may have moved",
                "merchants",
            )
        )
    phase("scoring")
    return score_frame(
        model, prepared, folder.config.penalties, feature_points=feature_points
    ), prepared


def _owner_model(
    folder: ModelFolder, specs: Sequence[FeatureSpec], given: Path | None
) -> Path | None:
    """The person model that gives a shop model its ``owner_score`` feature: the one
    given, else the one the build recorded; None when the model has no such feature."""
    from trustscore.features.shop import OWNER_SCORE

    if not any(s.name == OWNER_SCORE for s in specs):
        if given is not None:
            raise UsageError(
                "--owner-model: this model was built without the owners' scores",
                hint="drop --owner-model, or build the shop model with it",
            )
        return None
    if given is not None:
        return given
    recorded = folder.manifest.get("owner_model")
    path = recorded.get("path") if isinstance(recorded, dict) else None
    if isinstance(path, str) and Path(path).is_dir():
        return Path(path)
    raise UsageError(
        "this shop model scores the owners with a person model"
        + (f" that is no longer at {path}" if isinstance(path, str) else ""),
        hint="give the person model folder with --owner-model DIR",
    )
