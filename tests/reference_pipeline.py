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
  :func:`quarantine_counts` (including the informational unattributed-event rows,
  :func:`unattributed_event_counts`),
- :func:`unit_metric_values` (per unit and metric at one analysis date),
- :func:`arm_statistics` (every analysis date and slice),
- :func:`experiment_health` (the health checks per experiment and analysis date, without the SRM
  columns),
- :func:`run_reference` (all of the above).

Conventions (shared with the SQL marts so frames can be compared directly): timestamps and dates
are pandas ``datetime64`` (dates at midnight); quarantine rows of exposures without an experiment
id use experiment_id ``'(missing)'`` and metric-event rows use ``None``.
"""
from __future__ import annotations

import datetime as dt
import math
import re
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
    "invalid_exposed_at",
    "missing_exposed_at",
    "exposed_after_as_of_date",
    "exposed_outside_experiment_window",
)
EXPOSURE_UNIT_REASONS = ("internal_traffic", "bot_traffic", "multiple_variants")
# Informational (is_exclusion = false) rows of analysed units' valid events that no metric window
# counts, per experiment.
UNATTRIBUTED_EVENT_REASONS = ("event_after_attribution_window", "event_before_exposure")
HEALTH_COLUMNS = (
    "experiment_id",
    "analysis_date",
    "is_final_analysis",
    "n_units_exposed",
    "n_units_multiple_variants",
    "multiple_variant_share",
    "n_exposure_rows_on_date",
    "n_units_first_exposed_on_date",
    "last_exposure_date",
    "is_exposure_stopped",
    "n_events_before_exposure",
    "n_events_after_exposure",
    "events_before_exposure_share",
)
EVENT_ROW_REASONS = (
    "missing_unit_id",
    "missing_event_name",
    "invalid_event_at",
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
    return pd.Series([_clean_text(v) for v in series.tolist()], index=series.index, dtype=object)


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
        is_null = np.asarray([v is None or v is pd.NA or v is pd.NaT for v in series.tolist()], dtype=bool)
    parsed = np.full(len(series), math.nan)
    invalid = np.zeros(len(series), dtype=bool)
    for i, (value, null) in enumerate(zip(series.tolist(), is_null)):
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


# Text timestamps: ISO 8601 date, optional time ('T' or space), optional UTC offset / Z / UTC
# after a time. Naive text is UTC; an offset makes it an instant, converted to UTC.
_TIMESTAMP_TEXT = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?)?"
)


def _parse_timestamp_text(text: str):
    """A text timestamp as a naive UTC pd.Timestamp, or None when it cannot be parsed."""
    match = _TIMESTAMP_TEXT.fullmatch(text.strip(" "))
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
        )
    except ValueError:  # hour 25, February 30, ...
        return None
    if offset and offset not in ("Z", "z", "UTC"):
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if minutes >= 60:
            return None
        shift = dt.timedelta(hours=hours, minutes=minutes)
        moment = moment - shift if offset[0] == "+" else moment + shift
    return pd.Timestamp(moment)


def _parse_timestamps(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """A raw timestamp column as naive UTC datetime64[us] (NaT for NULL / unparseable) and a flag
    per row: present (not NULL) but unparseable. Timestamp columns are taken as they are (with a
    time zone: converted to UTC); text is parsed with :func:`_parse_timestamp_text`."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return series.astype("datetime64[us]"), np.zeros(len(series), dtype=bool)
    parsed, invalid = [], np.zeros(len(series), dtype=bool)
    for i, value in enumerate(series.astype(object)):
        if _is_missing(value):
            parsed.append(pd.NaT)
            continue
        if isinstance(value, str):
            moment = _parse_timestamp_text(value)
        else:
            moment = pd.Timestamp(value)
            if moment.tzinfo is not None:
                moment = moment.tz_convert("UTC").tz_localize(None)
        if moment is None:
            invalid[i] = True
            parsed.append(pd.NaT)
        else:
            parsed.append(moment)
    timestamps = pd.to_datetime(pd.Series(parsed, dtype=object, index=series.index)).astype("datetime64[us]")
    return timestamps, invalid


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
    rows["exposed_at"], bad_exposed_at = _parse_timestamps(exposures["exposed_at"])
    for column in DIMENSIONS:
        rows[column] = _clean_column(exposures[column]).map(lambda v: UNKNOWN if v is None else v)
    for column in ("is_internal", "is_bot"):
        rows[column] = [False if _is_missing(v) else bool(v) for v in exposures[column]]

    starts = dict(zip(registry.experiments["experiment_id"], registry.experiments["start_date"]))
    ends = {  # exclusive
        experiment_id: end_date + pd.Timedelta(days=1)
        for experiment_id, end_date in zip(registry.experiments["experiment_id"], registry.experiments["end_date"])
    }
    registered_variants = set(zip(registry.variants["experiment_id"], registry.variants["variant_id"]))
    cutoff = _as_of_cutoff(as_of_date)

    reasons = []
    for experiment_id, unit_id, variant_id, exposed_at, bad_time in zip(
        rows["experiment_id"].tolist(), rows["unit_id"].tolist(), rows["variant_id"].tolist(),
        rows["exposed_at"].tolist(), bad_exposed_at,
    ):
        if unit_id is None:
            reasons.append("missing_unit_id")
        elif experiment_id is None or experiment_id not in starts:
            reasons.append("unknown_experiment")
        elif (experiment_id, variant_id) not in registered_variants:
            reasons.append("unknown_variant")
        elif bad_time:
            reasons.append("invalid_exposed_at")
        elif pd.isna(exposed_at):
            reasons.append("missing_exposed_at")
        elif exposed_at >= cutoff:
            reasons.append("exposed_after_as_of_date")
        elif exposed_at < starts[experiment_id] or exposed_at >= ends[experiment_id]:
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


#: docs/semantics.md, Exactness: |value| >= 1e13 is quarantined as value_out_of_range
MAX_EVENT_VALUE = 1e13


def validate_metric_events(metric_events: pd.DataFrame, as_of_date) -> pd.DataFrame:
    """Every raw event row, cleaned (value parsed), with `rejection_reason`."""
    rows = pd.DataFrame(index=metric_events.index)
    rows["unit_id"] = _clean_column(metric_events["unit_id"])
    rows["event_name"] = _clean_column(metric_events["event_name"])
    rows["event_at"], bad_event_at = _parse_timestamps(metric_events["event_at"])
    values, invalid = _raw_values(metric_events["value"])
    rows["value"] = values
    cutoff = _as_of_cutoff(as_of_date)
    reasons = []
    missing_at = rows["event_at"].isna().to_numpy()
    after_cutoff = (rows["event_at"] >= cutoff).to_numpy()  # False for NaT
    with np.errstate(invalid="ignore"):
        out_of_range = np.abs(np.asarray(values, dtype=float)) >= MAX_EVENT_VALUE  # False for NaN
    rows["value"] = np.where(out_of_range, np.nan, np.asarray(values, dtype=float))
    for unit_id, event_name, bad_time, missing, future, bad, huge in zip(
        rows["unit_id"].tolist(), rows["event_name"].tolist(), bad_event_at, missing_at, after_cutoff, invalid,
        out_of_range,
    ):
        if unit_id is None:
            reasons.append("missing_unit_id")
        elif event_name is None:
            reasons.append("missing_event_name")
        elif bad_time:
            reasons.append("invalid_event_at")
        elif missing:
            reasons.append("missing_event_at")
        elif future:
            reasons.append("event_after_as_of_date")
        elif bad:
            reasons.append("invalid_value")
        elif huge:
            reasons.append("value_out_of_range")
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

    valid_events = events[events["rejection_reason"].isna()][["unit_id", "event_name", "event_at", "value"]]
    analysed = units[units["exclusion_reason"].isna()]
    for row in unattributed_event_counts(analysed, valid_events, registry).itertuples(index=False):
        records.append(("metric_events", row.experiment_id, row.reason, False, row.n_rows, row.n_units))

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


def unattributed_event_counts(units: pd.DataFrame, events: pd.DataFrame, registry: Registry) -> pd.DataFrame:
    """The informational quarantine rows of analysed units' valid events that no metric window
    counts: experiment_id, reason, n_rows, n_units (distinct units), only where n_rows > 0.

    - ``event_after_attribution_window``: period 'after_window' of :func:`event_periods` (at or
      after first exposure + the longest window of the event's metrics in the experiment);
    - ``event_before_exposure``: period 'before_exposure' (the 24 hours before first exposure).
    """
    periods = event_periods(units, events, registry)
    reasons = {"after_window": "event_after_attribution_window", "before_exposure": "event_before_exposure"}
    records = []
    for (experiment_id, period), rows in periods[periods["period"].isin(list(reasons))].groupby(
        ["experiment_id", "period"]
    ):
        records.append((experiment_id, reasons[period], len(rows), rows["unit_id"].nunique()))
    frame = pd.DataFrame.from_records(records, columns=["experiment_id", "reason", "n_rows", "n_units"])
    return frame.sort_values(["experiment_id", "reason"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Event periods (unattributed events, health checks)
# --------------------------------------------------------------------------------------------


def counting_windows(registry: Registry) -> pd.DataFrame:
    """One row per (experiment_id, event_name) that one of the experiment's metrics reads (the
    numerator or the denominator event; for a ratio, its components' events with the ratio's
    window): window_days = the longest attribution window among those metrics. (The pre-period
    plays no part in what is counted, so the tie-break on it does not matter here.)"""
    records = []
    experiments = set(registry.experiments["experiment_id"])
    for experiment_id in sorted(set(registry.experiment_metrics["experiment_id"]) & experiments):
        for metric_id in _analysed_metrics(registry, experiment_id):
            definition = metric_definition(registry, metric_id)
            for part in (definition.num, definition.den):
                if part is not None:
                    records.append((experiment_id, part.event_name, definition.window_days))
    frame = pd.DataFrame.from_records(records, columns=["experiment_id", "event_name", "window_days"])
    return frame.groupby(["experiment_id", "event_name"], as_index=False)["window_days"].max()


def event_periods(units: pd.DataFrame, events: pd.DataFrame, registry: Registry) -> pd.DataFrame:
    """Every valid event of an analysed unit whose name one of the unit's experiment's metrics
    reads, once per experiment, with its period relative to the unit's first exposure t0 and the
    longest window W of :func:`counting_windows`:

    - 'post': t0 <= event_at < t0 + W (attributed);
    - 'after_window': t0 + W <= event_at;
    - 'before_exposure': t0 - 1 day <= event_at < t0;
    - None: earlier.

    Columns: experiment_id, unit_id, event_name, event_at, first_exposed_at, exposure_date,
    window_days, period."""
    windows = counting_windows(registry)
    joined = (
        units[["experiment_id", "unit_id", "first_exposed_at"]]
        .merge(windows, on="experiment_id", how="inner")
        .merge(events[["unit_id", "event_name", "event_at"]], on=["unit_id", "event_name"], how="inner")
    )
    t0 = joined["first_exposed_at"]
    window_end = t0 + pd.to_timedelta(joined["window_days"], unit="D")
    period = np.select(
        [
            (joined["event_at"] >= t0) & (joined["event_at"] < window_end),
            joined["event_at"] >= window_end,
            (joined["event_at"] >= t0 - pd.Timedelta(days=1)) & (joined["event_at"] < t0),
        ],
        ["post", "after_window", "before_exposure"],
        default="",
    )
    joined["period"] = pd.Series([v or None for v in period.tolist()], index=joined.index, dtype=object)
    joined["exposure_date"] = t0.dt.normalize()
    columns = [
        "experiment_id", "unit_id", "event_name", "event_at", "first_exposed_at", "exposure_date", "window_days",
        "period",
    ]
    return joined[columns].sort_values(["experiment_id", "unit_id", "event_at"]).reset_index(drop=True)


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
# Health checks (fct_experiment_health without the SRM columns)
# --------------------------------------------------------------------------------------------


def _count_until(sorted_dates: np.ndarray, day: np.datetime64) -> int:
    """How many of `sorted_dates` are on or before `day`."""
    return int(np.searchsorted(sorted_dates, day, side="right"))


def experiment_health(
    exposures: pd.DataFrame, metric_events: pd.DataFrame, registry: Registry, as_of_date
) -> pd.DataFrame:
    """One row per experiment and analysis date D (columns :data:`HEALTH_COLUMNS`):

    - n_units_exposed: units with a valid exposure row first exposed by the end of D (excluded
      units included); n_units_multiple_variants: those of them excluded as multiple_variants;
      multiple_variant_share = the ratio (NaN when no unit);
    - n_exposure_rows_on_date: valid exposure rows (of kept or excluded units) on D;
      n_units_first_exposed_on_date: units (kept or excluded) first exposed on D;
    - last_exposure_date: the last date <= D with a valid exposure row (NaT if none);
      is_exposure_stopped: there was one, and there is none on D;
    - n_events_before_exposure: events of analysed units in the 24 hours before first exposure
      (:func:`event_periods` 'before_exposure'), of units first exposed by the end of D;
      n_events_after_exposure: attributed events ('post') with event_at < D + 1 day;
      events_before_exposure_share = before / (before + after) (NaN when both are 0).
    """
    validated = validate_exposures(exposures, registry, as_of_date)
    valid_rows = validated[validated["rejection_reason"].isna()]
    units = classify_units(validated)
    analysed = units[units["exclusion_reason"].isna()]
    events = valid_metric_events(metric_events, as_of_date)
    periods = event_periods(analysed, events, registry)

    def sorted_days(frame: pd.DataFrame, column: str, experiment_id: str) -> np.ndarray:
        days = frame.loc[frame["experiment_id"] == experiment_id, column].dt.normalize()
        return np.sort(days.to_numpy(dtype="datetime64[us]"))

    post = periods[periods["period"] == "post"]
    before = periods[periods["period"] == "before_exposure"]
    multiple = units[units["exclusion_reason"] == "multiple_variants"]
    experiments = registry.experiments.set_index("experiment_id")
    records = []
    for experiment_id in sorted(registry.experiments["experiment_id"]):
        row_days = sorted_days(valid_rows, "exposed_at", experiment_id)
        unit_days = sorted_days(units, "first_exposed_at", experiment_id)
        multiple_days = sorted_days(multiple, "first_exposed_at", experiment_id)
        post_days = sorted_days(post, "event_at", experiment_id)
        before_days = sorted_days(before, "first_exposed_at", experiment_id)
        end_date = pd.Timestamp(experiments.at[experiment_id, "end_date"])
        for analysis_date in analysis_dates(registry, experiment_id, as_of_date):
            day = np.datetime64(analysis_date, "us")
            n_units = _count_until(unit_days, day)
            n_multiple = _count_until(multiple_days, day)
            rows_until = _count_until(row_days, day)
            rows_on = rows_until - int(np.searchsorted(row_days, day, side="left"))
            units_on = n_units - int(np.searchsorted(unit_days, day, side="left"))
            last = pd.Timestamp(row_days[rows_until - 1]) if rows_until else pd.NaT
            n_before = _count_until(before_days, day)
            n_after = _count_until(post_days, day)
            records.append(
                {
                    "experiment_id": experiment_id,
                    "analysis_date": analysis_date,
                    "is_final_analysis": analysis_date == end_date,
                    "n_units_exposed": n_units,
                    "n_units_multiple_variants": n_multiple,
                    "multiple_variant_share": n_multiple / n_units if n_units else math.nan,
                    "n_exposure_rows_on_date": rows_on,
                    "n_units_first_exposed_on_date": units_on,
                    "last_exposure_date": last,
                    "is_exposure_stopped": bool(rows_until) and rows_on == 0,
                    "n_events_before_exposure": n_before,
                    "n_events_after_exposure": n_after,
                    "events_before_exposure_share": (
                        n_before / (n_before + n_after) if n_before + n_after else math.nan
                    ),
                }
            )
    frame = pd.DataFrame.from_records(records, columns=list(HEALTH_COLUMNS))
    for column in ("analysis_date", "last_exposure_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[us]")
    for column in HEALTH_COLUMNS:
        if column.startswith("n_"):
            frame[column] = frame[column].astype("int64")
    for column in ("is_final_analysis", "is_exposure_stopped"):
        frame[column] = frame[column].astype(bool)
    for column in ("multiple_variant_share", "events_before_exposure_share"):
        frame[column] = frame[column].astype("float64")
    return frame.sort_values(["experiment_id", "analysis_date"]).reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Everything
# --------------------------------------------------------------------------------------------


@dataclass
class ReferenceResult:
    units: pd.DataFrame
    quarantine: pd.DataFrame
    events: pd.DataFrame
    arm_statistics: pd.DataFrame | None
    health: pd.DataFrame | None = None


def run_reference(
    exposures: pd.DataFrame,
    metric_events: pd.DataFrame,
    registry: Registry | None = None,
    as_of_date: dt.date | str = "2026-10-31",
    *,
    with_arm_statistics: bool = True,
    with_health: bool = True,
) -> ReferenceResult:
    """The whole contract on raw DataFrames: kept units, quarantine, valid events, arm stats,
    health checks."""
    registry = registry if registry is not None else load_registry()
    units = kept_units(exposures, registry, as_of_date)
    events = valid_metric_events(metric_events, as_of_date)
    quarantine = quarantine_counts(exposures, metric_events, registry, as_of_date)
    stats = arm_statistics(units, events, registry, as_of_date) if with_arm_statistics else None
    health = experiment_health(exposures, metric_events, registry, as_of_date) if with_health else None
    return ReferenceResult(units=units, quarantine=quarantine, events=events, arm_statistics=stats, health=health)
