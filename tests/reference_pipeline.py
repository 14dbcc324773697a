"""Independent reference implementation of docs/semantics.md in plain pandas / numpy.

It does not use the project's SQL (nor exptools / analysis_py): it is a second, deliberately
straightforward reading of the contract, used by the tests to check the dbt models. It favours
obviousness over speed (fine for the demo at scale ~0.05-0.1).

Entry points
------------
- :func:`load_registry` (seed CSVs -> :class:`Registry`),
  :func:`read_raw_duckdb` / :func:`read_raw_parquet` (raw tables -> DataFrames, keeping a NULL
  value distinct from NaN),
- :func:`validate_exposures`, :func:`kept_units`, :func:`validate_metric_events`,
  :func:`quarantine_counts`,
- :func:`unit_metric_values` (per unit and metric at one analysis date),
- :func:`arm_statistics` (every analysis date and slice),
- :func:`run_reference` (all of the above).

Conventions (shared with the SQL marts so frames can be compared directly): timestamps and dates
are pandas ``datetime64`` (dates at midnight); quarantine rows of exposures without an experiment
id use experiment_id ``'(missing)'`` and metric-event rows use ``None``.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"
UNKNOWN = "(unknown)"
MISSING_EXPERIMENT = "(missing)"
DIMENSIONS = ("platform", "country", "city")

EXPOSURE_ROW_REASONS = (
    "missing_unit_id",
    "unknown_experiment",
    "unknown_variant",
    "missing_exposed_at",
    "exposed_after_as_of_date",
    "exposed_outside_experiment_window",
)
EXPOSURE_UNIT_REASONS = ("internal_traffic", "bot_traffic", "multiple_variants")
EVENT_ROW_REASONS = (
    "missing_unit_id",
    "missing_event_name",
    "missing_event_at",
    "event_after_as_of_date",
    "invalid_value",
)
MOMENT_COLUMNS = (
    "n_units",
    "n_units_with_pre_period",
    "sum_num",
    "sum_num_sq",
    "sum_den",
    "sum_den_sq",
    "sum_num_den",
    "sum_pre_num",
    "sum_pre_num_sq",
    "sum_pre_den",
    "sum_pre_den_sq",
    "sum_pre_num_pre_den",
    "sum_num_pre_num",
    "sum_num_pre_den",
    "sum_den_pre_num",
    "sum_den_pre_den",
)
ARM_STATISTICS_COLUMNS = (
    "experiment_id",
    "metric_id",
    "variant_id",
    "dimension_name",
    "dimension_value",
    "analysis_date",
) + MOMENT_COLUMNS
UNIT_VALUE_COLUMNS = (
    "experiment_id",
    "unit_id",
    "variant_id",
    "metric_id",
    "analysis_date",
    "first_exposed_at",
    "platform",
    "country",
    "city",
    "num",
    "den",
    "pre_num",
    "pre_den",
    "has_pre_period_events",
)


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass
class Registry:
    experiments: pd.DataFrame
    variants: pd.DataFrame
    metrics: pd.DataFrame
    experiment_metrics: pd.DataFrame
    experiment_dimensions: pd.DataFrame


def load_registry(seeds_dir: str | Path = SEEDS_DIR) -> Registry:
    """Read the five registry seed CSVs (empty fields become None / NaN)."""
    seeds_dir = Path(seeds_dir)

    def read(name: str) -> pd.DataFrame:
        frame = pd.read_csv(seeds_dir / f"{name}.csv", dtype=str, keep_default_na=False)
        return frame.map(lambda v: None if v == "" else v).astype(object)

    experiments = read("experiments")
    for column in ("start_date", "end_date"):
        experiments[column] = pd.to_datetime(experiments[column])
    for column in ("alpha", "power", "srm_alpha"):
        experiments[column] = pd.to_numeric(experiments[column])
    experiments["use_cuped"] = experiments["use_cuped"].str.lower().eq("true")

    variants = read("variants")
    variants["traffic_weight"] = pd.to_numeric(variants["traffic_weight"])
    variants["is_control"] = variants["is_control"].str.lower().eq("true")

    metrics = read("metrics")
    for column in ("attribution_window_days", "pre_period_days", "winsorize_cap"):
        metrics[column] = pd.to_numeric(metrics[column])

    experiment_metrics = read("experiment_metrics")
    for column in ("practical_threshold", "guardrail_tolerance"):
        experiment_metrics[column] = pd.to_numeric(experiment_metrics[column])

    return Registry(experiments, variants, metrics, experiment_metrics, read("experiment_dimensions"))


def _arrow_to_pandas(table) -> pd.DataFrame:
    """Arrow -> pandas keeping `value` nullable (a NULL value stays distinct from NaN)."""
    frame = table.to_pandas()
    if "value" in table.column_names:
        frame["value"] = pd.Series(table.column("value").to_pandas(types_mapper=pd.ArrowDtype).array, index=frame.index)
    return frame


def read_raw_duckdb(database: str | Path, schema: str = "raw") -> tuple[pd.DataFrame, pd.DataFrame]:
    """raw.exposures and raw.metric_events of a DuckDB file as DataFrames."""
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        exposures = _arrow_to_pandas(connection.sql(f"select * from {schema}.exposures").to_arrow_table())
        events = _arrow_to_pandas(connection.sql(f"select * from {schema}.metric_events").to_arrow_table())
    return exposures, events


def read_raw_parquet(parquet_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """exposures.parquet and metric_events.parquet of a directory as DataFrames."""
    import pyarrow.parquet as pq

    parquet_dir = Path(parquet_dir)
    return (
        _arrow_to_pandas(pq.read_table(parquet_dir / "exposures.parquet")),
        _arrow_to_pandas(pq.read_table(parquet_dir / "metric_events.parquet")),
    )


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _is_missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _clean_text(value):
    """Trimmed text (spaces, like SQL trim); blank or missing -> None."""
    if _is_missing(value):
        return None
    text = str(value).strip(" ")
    return text if text else None


def _clean_column(series: pd.Series) -> pd.Series:
    return pd.Series([_clean_text(v) for v in series], index=series.index, dtype=object)


def _raw_values(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parsed values (NaN for NULL / invalid) and invalid flags of a raw `value` column.

    NULL is pd.NA / None (pyarrow-backed or object columns, see :func:`read_raw_duckdb`); a
    float NaN that is present is an invalid value, like +-inf or an unparseable string. A plain
    numpy float64 column cannot tell NULL from NaN: there NaN is read as NULL."""
    if isinstance(series.dtype, pd.ArrowDtype):
        is_null = series.isna().to_numpy()  # True for NULL only, not for NaN
    elif pd.api.types.is_float_dtype(series.dtype):
        is_null = np.isnan(series.to_numpy(dtype=float))  # cannot tell NULL from NaN
    else:
        is_null = np.asarray([v is None or v is pd.NA or v is pd.NaT for v in series.astype(object)], dtype=bool)
    parsed = np.full(len(series), math.nan)
    invalid = np.zeros(len(series), dtype=bool)
    for i, (value, null) in enumerate(zip(series.astype(object), is_null)):
        if null or value is None or value is pd.NA:
            continue
        if isinstance(value, str):
            try:
                number = float(value.strip(" "))
            except ValueError:
                invalid[i] = True
                continue
        else:
            number = float(value)
        if math.isfinite(number):
            parsed[i] = number
        else:
            invalid[i] = True
    return parsed, invalid


def _to_timestamp(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series).astype("datetime64[us]")


def _as_of_cutoff(as_of_date) -> pd.Timestamp:
    return pd.Timestamp(as_of_date).normalize() + pd.Timedelta(days=1)


# --------------------------------------------------------------------------------------------
# Exposures
# --------------------------------------------------------------------------------------------


def validate_exposures(exposures: pd.DataFrame, registry: Registry, as_of_date) -> pd.DataFrame:
    """Every raw exposure row, cleaned, with `rejection_reason` (None when the row is usable)."""
    rows = pd.DataFrame(index=exposures.index)
    for column in ("experiment_id", "unit_id", "variant_id"):
        rows[column] = _clean_column(exposures[column])
    rows["exposed_at"] = _to_timestamp(exposures["exposed_at"])
    for column in DIMENSIONS:
        rows[column] = _clean_column(exposures[column]).map(lambda v: UNKNOWN if v is None else v)
    for column in ("is_internal", "is_bot"):
        rows[column] = [False if _is_missing(v) else bool(v) for v in exposures[column]]

    experiments = registry.experiments.set_index("experiment_id")
    registered_variants = set(zip(registry.variants["experiment_id"], registry.variants["variant_id"]))
    cutoff = _as_of_cutoff(as_of_date)

    reasons = []
    for row in rows.itertuples(index=False):
        if row.unit_id is None:
            reasons.append("missing_unit_id")
        elif row.experiment_id is None or row.experiment_id not in experiments.index:
            reasons.append("unknown_experiment")
        elif (row.experiment_id, row.variant_id) not in registered_variants:
            reasons.append("unknown_variant")
        elif pd.isna(row.exposed_at):
            reasons.append("missing_exposed_at")
        elif row.exposed_at >= cutoff:
            reasons.append("exposed_after_as_of_date")
        else:
            start = experiments.at[row.experiment_id, "start_date"]
            end_exclusive = experiments.at[row.experiment_id, "end_date"] + pd.Timedelta(days=1)
            if row.exposed_at < start or row.exposed_at >= end_exclusive:
                reasons.append("exposed_outside_experiment_window")
            else:
                reasons.append(None)
    rows["rejection_reason"] = pd.Series(reasons, index=rows.index, dtype=object)
    return rows


def classify_units(validated: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment_id, unit_id) with valid rows: first exposure, its variant and
    dimensions, row count, and `exclusion_reason` (None when kept)."""
    keys = ["experiment_id", "unit_id"]
    valid = validated[validated["rejection_reason"].isna()]
    # The first exposure row: earliest exposed_at, ties broken by platform, country, city.
    ordered = valid.sort_values(keys + ["exposed_at", "platform", "country", "city"], kind="stable")
    first_rows = ordered.drop_duplicates(keys, keep="first").set_index(keys)
    summary = valid.groupby(keys).agg(
        n_exposure_rows=("exposed_at", "size"),
        has_internal=("is_internal", "any"),
        has_bot=("is_bot", "any"),
        n_variants=("variant_id", "nunique"),
        first_exposed_at=("exposed_at", "min"),
    )
    units = summary.join(first_rows[["variant_id", "platform", "country", "city"]]).reset_index()
    units["exclusion_reason"] = np.select(
        [units["has_internal"], units["has_bot"], units["n_variants"] > 1],
        ["internal_traffic", "bot_traffic", "multiple_variants"],
        default="",
    )
    units["exclusion_reason"] = units["exclusion_reason"].map(lambda v: v or None).astype(object)
    units["first_exposed_at"] = _to_timestamp(units["first_exposed_at"])
    units["exposure_date"] = units["first_exposed_at"].dt.normalize()
    units["n_exposure_rows"] = units["n_exposure_rows"].astype("int64")
    columns = [
        "experiment_id", "unit_id", "variant_id", "first_exposed_at", "exposure_date", "platform", "country",
        "city", "n_exposure_rows", "exclusion_reason",
    ]
    return units[columns]


def kept_units(exposures: pd.DataFrame, registry: Registry, as_of_date) -> pd.DataFrame:
    """The analysed units (rows of fct_exposures): experiment_id, unit_id, variant_id,
    first_exposed_at, exposure_date, platform, country, city, n_exposure_rows."""
    units = classify_units(validate_exposures(exposures, registry, as_of_date))
    kept = units[units["exclusion_reason"].isna()]
    columns = [
        "experiment_id", "unit_id", "variant_id", "first_exposed_at", "exposure_date", "platform", "country",
        "city", "n_exposure_rows",
    ]
    return kept[columns].sort_values(["experiment_id", "unit_id"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Metric events
# --------------------------------------------------------------------------------------------


def validate_metric_events(metric_events: pd.DataFrame, as_of_date) -> pd.DataFrame:
    """Every raw event row, cleaned (value parsed), with `rejection_reason`."""
    rows = pd.DataFrame(index=metric_events.index)
    rows["unit_id"] = _clean_column(metric_events["unit_id"])
    rows["event_name"] = _clean_column(metric_events["event_name"])
    rows["event_at"] = _to_timestamp(metric_events["event_at"])
    values, invalid = _raw_values(metric_events["value"])
    rows["value"] = values
    cutoff = _as_of_cutoff(as_of_date)
    reasons = []
    for unit_id, event_name, event_at, bad in zip(rows["unit_id"], rows["event_name"], rows["event_at"], invalid):
        if unit_id is None:
            reasons.append("missing_unit_id")
        elif event_name is None:
            reasons.append("missing_event_name")
        elif pd.isna(event_at):
            reasons.append("missing_event_at")
        elif event_at >= cutoff:
            reasons.append("event_after_as_of_date")
        elif bad:
            reasons.append("invalid_value")
        else:
            reasons.append(None)
    rows["rejection_reason"] = pd.Series(reasons, index=rows.index, dtype=object)
    return rows


def valid_metric_events(metric_events: pd.DataFrame, as_of_date) -> pd.DataFrame:
    """The usable events: unit_id, event_name, event_at, value (NaN = NULL value)."""
    rows = validate_metric_events(metric_events, as_of_date)
    return rows[rows["rejection_reason"].isna()][["unit_id", "event_name", "event_at", "value"]].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Quarantine
# --------------------------------------------------------------------------------------------


def quarantine_counts(
    exposures: pd.DataFrame, metric_events: pd.DataFrame, registry: Registry, as_of_date
) -> pd.DataFrame:
    """Rows of fct_quarantine: source_table, experiment_id, reason, is_exclusion, n_rows, n_units."""
    records = []
    validated = validate_exposures(exposures, registry, as_of_date)
    rejected = validated[validated["rejection_reason"].notna()].copy()
    rejected["experiment_key"] = rejected["experiment_id"].map(lambda v: MISSING_EXPERIMENT if v is None else v)
    for (experiment_id, reason), rows in rejected.groupby(["experiment_key", "rejection_reason"]):
        records.append(("exposures", experiment_id, reason, True, len(rows), rows["unit_id"].dropna().nunique()))

    units = classify_units(validated)
    excluded = units[units["exclusion_reason"].notna()]
    for (experiment_id, reason), rows in excluded.groupby(["experiment_id", "exclusion_reason"]):
        records.append(("exposures", experiment_id, reason, True, int(rows["n_exposure_rows"].sum()), len(rows)))
    kept = units[units["exclusion_reason"].isna() & (units["n_exposure_rows"] > 1)]
    for experiment_id, rows in kept.groupby("experiment_id"):
        records.append(
            ("exposures", experiment_id, "repeat_exposure_collapsed", False, int((rows["n_exposure_rows"] - 1).sum()), 0)
        )

    events = validate_metric_events(metric_events, as_of_date)
    for reason, rows in events[events["rejection_reason"].notna()].groupby("rejection_reason"):
        records.append(("metric_events", None, reason, True, len(rows), rows["unit_id"].dropna().nunique()))

    frame = pd.DataFrame.from_records(
        records, columns=["source_table", "experiment_id", "reason", "is_exclusion", "n_rows", "n_units"]
    )
    frame["experiment_id"] = pd.Series(
        [None if _is_missing(v) else v for v in frame["experiment_id"]], index=frame.index, dtype=object
    )
    frame["n_rows"] = frame["n_rows"].astype("int64")
    frame["n_units"] = frame["n_units"].astype("int64")
    frame["is_exclusion"] = frame["is_exclusion"].astype(bool)
    frame["_sort"] = frame["experiment_id"].fillna("")
    return frame.sort_values(["source_table", "_sort", "reason"]).drop(columns="_sort").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Metric definitions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """How one per-unit quantity is computed from the events of one name."""

    event_name: str
    measure: str  # 'indicator' (0/1), 'count' (events), 'value_sum', 'value_count'
    cap: float | None = None


@dataclass(frozen=True)
class MetricDefinition:
    metric_id: str
    aggregation: str
    num: Part
    den: Part | None
    window_days: int
    pre_period_days: int


def _component_part(metric: pd.Series) -> Part:
    """The per-unit numerator of a conversion / count / sum metric (used alone or in a ratio)."""
    cap = None if _is_missing(metric["winsorize_cap"]) else float(metric["winsorize_cap"])
    if metric["aggregation"] == "conversion":
        return Part(metric["source_event"], "indicator")
    if metric["aggregation"] == "count":
        return Part(metric["source_event"], "count", cap)
    if metric["aggregation"] == "sum":
        return Part(metric["source_event"], "value_sum", cap)
    raise ValueError(f"metric {metric['metric_id']} ({metric['aggregation']}) cannot be a ratio component")


def metric_definition(registry: Registry, metric_id: str) -> MetricDefinition:
    metrics = registry.metrics.set_index("metric_id", drop=False)
    metric = metrics.loc[metric_id]
    aggregation = metric["aggregation"]
    window = int(metric["attribution_window_days"]) if not _is_missing(metric["attribution_window_days"]) else 0
    pre = int(metric["pre_period_days"]) if not _is_missing(metric["pre_period_days"]) else 0
    if aggregation in ("conversion", "count", "sum"):
        num, den = _component_part(metric), None
    elif aggregation == "mean":
        num = Part(metric["source_event"], "value_sum")
        den = Part(metric["source_event"], "value_count")
    elif aggregation == "ratio":
        num = _component_part(metrics.loc[metric["numerator_metric_id"]])
        den = _component_part(metrics.loc[metric["denominator_metric_id"]])
    else:
        raise ValueError(f"unknown aggregation {aggregation!r}")
    return MetricDefinition(metric_id, aggregation, num, den, window, pre)


def _part_value(part: Part, events: pd.DataFrame, unit_ids: pd.Index) -> pd.Series:
    """Per-unit value of `part` over `events` (unit_id, event_name, value), 0 for no events."""
    mine = events[events["event_name"] == part.event_name]
    if part.measure in ("indicator", "count"):
        raw = mine.groupby("unit_id").size()
    elif part.measure == "value_sum":
        raw = mine.groupby("unit_id")["value"].sum(min_count=0)  # NaN (NULL) values are skipped
    elif part.measure == "value_count":
        raw = mine.groupby("unit_id")["value"].count()
    else:
        raise ValueError(part.measure)
    raw = raw.reindex(unit_ids, fill_value=0).astype(float)
    if part.measure == "indicator":
        return (raw > 0).astype(float)
    if part.cap is not None:
        return np.minimum(raw, part.cap)
    return raw


# --------------------------------------------------------------------------------------------
# Per-unit values
# --------------------------------------------------------------------------------------------


class _ExperimentMetric:
    """The kept units of one experiment joined to the events one metric reads, split into the
    post-period (attribution window) and pre-period, so any analysis date can be evaluated."""

    def __init__(self, units: pd.DataFrame, events: pd.DataFrame, definition: MetricDefinition):
        self.definition = definition
        self.units = units.set_index("unit_id", drop=False)
        names = {definition.num.event_name} | ({definition.den.event_name} if definition.den else set())
        joined = events[events["event_name"].isin(names)].merge(
            units[["unit_id", "first_exposed_at"]], on="unit_id", how="inner"
        )
        t0 = joined["first_exposed_at"]
        window_end = t0 + pd.to_timedelta(definition.window_days, unit="D")
        self.post = joined[(joined["event_at"] >= t0) & (joined["event_at"] < window_end)]
        if definition.pre_period_days > 0:
            pre_start = t0 - pd.to_timedelta(definition.pre_period_days, unit="D")
            self.pre = joined[(joined["event_at"] >= pre_start) & (joined["event_at"] < t0)]
        else:
            self.pre = joined.iloc[0:0]
        self.units_with_pre_events = set(self.pre["unit_id"])

    def values(self, analysis_date=None) -> pd.DataFrame:
        """Per-unit num / den / pre_num / pre_den of the units exposed by `analysis_date` (all
        units and the whole window when None)."""
        definition = self.definition
        units = self.units
        post = self.post
        if analysis_date is not None:
            day_end = pd.Timestamp(analysis_date).normalize() + pd.Timedelta(days=1)
            units = units[units["first_exposed_at"] < day_end]
            post = post[post["event_at"] < day_end]
        ids = pd.Index(units["unit_id"], name="unit_id")
        out = units.reset_index(drop=True).copy()
        out["num"] = _part_value(definition.num, post, ids).to_numpy()
        out["den"] = _part_value(definition.den, post, ids).to_numpy() if definition.den else np.nan
        if definition.pre_period_days > 0:
            out["pre_num"] = _part_value(definition.num, self.pre, ids).to_numpy()
            out["pre_den"] = _part_value(definition.den, self.pre, ids).to_numpy() if definition.den else np.nan
            out["has_pre_period_events"] = [u in self.units_with_pre_events for u in ids]
        else:
            out["pre_num"] = np.nan
            out["pre_den"] = np.nan
            out["has_pre_period_events"] = False
        return out


def _analysed_metrics(registry: Registry, experiment_id: str) -> list[str]:
    rows = registry.experiment_metrics[registry.experiment_metrics["experiment_id"] == experiment_id]
    return list(rows["metric_id"])


def unit_metric_values(
    units: pd.DataFrame, events: pd.DataFrame, registry: Registry, analysis_date=None
) -> pd.DataFrame:
    """Per (experiment, unit, metric) values at `analysis_date` (None: full windows).

    `units` is :func:`kept_units`, `events` is :func:`valid_metric_events`. Columns: experiment_id,
    unit_id, variant_id, metric_id, analysis_date, first_exposed_at, platform, country, city, num,
    den, pre_num, pre_den, has_pre_period_events. den is NaN for conversion / count / sum,
    pre_num / pre_den NaN when the metric has no pre-period.
    """
    frames = []
    for experiment_id, experiment_units in units.groupby("experiment_id", sort=True):
        for metric_id in _analysed_metrics(registry, experiment_id):
            joined = _ExperimentMetric(experiment_units, events, metric_definition(registry, metric_id))
            values = joined.values(analysis_date)
            values["metric_id"] = metric_id
            values["analysis_date"] = pd.NaT if analysis_date is None else pd.Timestamp(analysis_date).normalize()
            frames.append(values)
    if not frames:
        return pd.DataFrame(columns=list(UNIT_VALUE_COLUMNS))
    out = pd.concat(frames, ignore_index=True)
    out["analysis_date"] = out["analysis_date"].astype("datetime64[us]")
    return out[list(UNIT_VALUE_COLUMNS)].sort_values(["experiment_id", "metric_id", "unit_id"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Arm statistics
# --------------------------------------------------------------------------------------------


def analysis_dates(registry: Registry, experiment_id: str, as_of_date) -> list[pd.Timestamp]:
    """Daily from start_date to least(end_date, as_of_date)."""
    experiment = registry.experiments.set_index("experiment_id").loc[experiment_id]
    last = min(pd.Timestamp(experiment["end_date"]), pd.Timestamp(as_of_date).normalize())
    return list(pd.date_range(pd.Timestamp(experiment["start_date"]), last, freq="D"))


def experiment_slices(registry: Registry, experiment_id: str, units: pd.DataFrame) -> list[tuple[str, str]]:
    """('overall', 'all') plus (dimension, value) for each listed dimension and each value seen
    among the experiment's kept units."""
    slices = [("overall", "all")]
    dims = registry.experiment_dimensions
    for dimension in dims.loc[dims["experiment_id"] == experiment_id, "dimension_name"]:
        for value in sorted(units[dimension].unique()):
            slices.append((dimension, value))
    return slices


def _unit_moments(values: pd.DataFrame) -> pd.DataFrame:
    """Each unit's contribution to every arm moment (the moments are plain sums over units)."""
    num, den = values["num"], values["den"]
    pre_num, pre_den = values["pre_num"], values["pre_den"]
    return pd.DataFrame(
        {
            "n_units": 1,
            "n_units_with_pre_period": values["has_pre_period_events"].astype(int),
            "sum_num": num,
            "sum_num_sq": num * num,
            "sum_den": den,
            "sum_den_sq": den * den,
            "sum_num_den": num * den,
            "sum_pre_num": pre_num,
            "sum_pre_num_sq": pre_num * pre_num,
            "sum_pre_den": pre_den,
            "sum_pre_den_sq": pre_den * pre_den,
            "sum_pre_num_pre_den": pre_num * pre_den,
            "sum_num_pre_num": num * pre_num,
            "sum_num_pre_den": num * pre_den,
            "sum_den_pre_num": den * pre_num,
            "sum_den_pre_den": den * pre_den,
        },
        index=values.index,
    )


def _null_moments(has_den: bool, has_pre: bool) -> set[str]:
    """Moments that are NULL for a metric: den ones without a denominator, pre ones without a
    pre-period."""
    null = set()
    for column in MOMENT_COLUMNS[2:]:
        if "den" in column and not has_den:
            null.add(column)
        if "pre" in column and not has_pre:
            null.add(column)
    return null


def arm_statistics(units: pd.DataFrame, events: pd.DataFrame, registry: Registry, as_of_date) -> pd.DataFrame:
    """fct_arm_statistics: one row per experiment, metric, registered variant, slice and
    analysis date (every combination, n_units = 0 when empty). den moments are NaN (NULL) for
    conversion / count / sum metrics, pre moments NaN when pre_period_days = 0."""
    records = []
    for experiment_id in sorted(registry.experiments["experiment_id"]):
        experiment_units = units[units["experiment_id"] == experiment_id]
        variants = list(registry.variants.loc[registry.variants["experiment_id"] == experiment_id, "variant_id"])
        slices = experiment_slices(registry, experiment_id, experiment_units)
        dates = analysis_dates(registry, experiment_id, as_of_date)
        for metric_id in _analysed_metrics(registry, experiment_id):
            definition = metric_definition(registry, metric_id)
            null = _null_moments(definition.den is not None, definition.pre_period_days > 0)
            joined = _ExperimentMetric(experiment_units, events, definition)
            for analysis_date in dates:
                values = joined.values(analysis_date)
                contributions = _unit_moments(values)
                values["overall"] = "all"
                sums_by_dimension = {
                    dimension: contributions.groupby([values["variant_id"], values[dimension]]).sum()
                    for dimension in {name for name, _ in slices}
                }
                for dimension_name, dimension_value in slices:
                    sums = sums_by_dimension[dimension_name]
                    for variant_id in variants:
                        if (variant_id, dimension_value) in sums.index:
                            moments = sums.loc[(variant_id, dimension_value)].to_dict()
                        else:
                            moments = dict.fromkeys(MOMENT_COLUMNS, 0)
                        for column in null:
                            moments[column] = None
                        records.append(
                            {
                                "experiment_id": experiment_id,
                                "metric_id": metric_id,
                                "variant_id": variant_id,
                                "dimension_name": dimension_name,
                                "dimension_value": dimension_value,
                                "analysis_date": analysis_date,
                                **moments,
                            }
                        )
    frame = pd.DataFrame.from_records(records, columns=list(ARM_STATISTICS_COLUMNS))
    frame["analysis_date"] = frame["analysis_date"].astype("datetime64[us]")
    for column in ("n_units", "n_units_with_pre_period"):
        frame[column] = frame[column].astype("int64")
    for column in MOMENT_COLUMNS[2:]:
        frame[column] = frame[column].astype("float64")  # None -> NaN (NULL)
    keys = ["experiment_id", "metric_id", "variant_id", "dimension_name", "dimension_value", "analysis_date"]
    return frame.sort_values(keys).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Everything
# --------------------------------------------------------------------------------------------


@dataclass
class ReferenceResult:
    units: pd.DataFrame
    quarantine: pd.DataFrame
    events: pd.DataFrame
    arm_statistics: pd.DataFrame


def run_reference(
    exposures: pd.DataFrame,
    metric_events: pd.DataFrame,
    registry: Registry | None = None,
    as_of_date: dt.date | str = "2026-10-31",
    *,
    with_arm_statistics: bool = True,
) -> ReferenceResult:
    """The whole contract on raw DataFrames: kept units, quarantine, valid events, arm stats."""
    registry = registry if registry is not None else load_registry()
    units = kept_units(exposures, registry, as_of_date)
    events = valid_metric_events(metric_events, as_of_date)
    quarantine = quarantine_counts(exposures, metric_events, registry, as_of_date)
    stats = arm_statistics(units, events, registry, as_of_date) if with_arm_statistics else None
    return ReferenceResult(units=units, quarantine=quarantine, events=events, arm_statistics=stats)
