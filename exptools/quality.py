"""Data-quality suites (Great Expectations) over the raw inputs and the result tables.

    python -m exptools.quality --database warehouse.duckdb [--report target/quality_report.md]
        [--as-of-date YYYY-MM-DD] [--max-staleness-days N] [--table NAME ...]

One GX ExpectationSuite per table (raw.exposures, raw.metric_events and the ten fct_* tables of
``schema.sql``), run in an ephemeral GX context. GX's SQL path does not work with DuckDB, so each
table is read from DuckDB through Arrow (only the ``schema.sql`` columns it needs, plus a few
derived columns computed in SQL) and validated as a pandas dataframe batch.

Prints a Markdown report (and writes it to ``--report``). Exit code 0 when every expectation
passes, 1 when any fails, 2 on usage / connection errors (missing database, table or GX).
What is checked and how to read the report: docs/data_quality.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from .arrow_io import read_arrow

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A problem with the invocation or the database (exit code 2), not with the data."""


# ---- allowed values: each enum comes from the code that produces the column -------------------
def python_enums() -> dict[str, tuple[str, ...]]:
    """Columns written by analysis_py (the Python marts): its own constants."""
    from analysis_py.decisions import VERDICTS
    from analysis_py.results import (
        AGGREGATIONS,
        ANALYSIS_METHODS,
        BAYESIAN_METHODS,
        DIRECTIONS,
        ESTIMATE_METHODS,
        GUARDRAIL_STATUSES,
        ROLES,
        SCALES,
        STATUSES,
        TEST_METHODS,
    )

    return {
        "status": STATUSES,
        "test_method": TEST_METHODS,
        "guardrail_status": GUARDRAIL_STATUSES,
        "metric_role": ROLES,
        "aggregation": AGGREGATIONS,
        "estimate_method": ESTIMATE_METHODS,
        "desired_direction": DIRECTIONS,
        "threshold_scale": SCALES,
        "decision": VERDICTS,
        "analysis_method": ANALYSIS_METHODS,
        "bayesian_method": BAYESIAN_METHODS,
    }


#: columns written by SQL models: the accepted_values of their dbt tests (the reasons and slices
#: of docs/semantics.md), read from the model yml at run time so the two lists cannot drift
DBT_ENUMS: dict[str, tuple[str, str]] = {
    "quarantine_reason": ("fct_quarantine", "reason"),
    "quarantine_source_table": ("fct_quarantine", "source_table"),
    "dimension_name": ("fct_arm_statistics", "dimension_name"),
    "anova_term": ("fct_factorial_anova", "term"),
}
MARTS_YML = Path("models") / "marts" / "_marts__models.yml"
#: the dbt project this module belongs to (override with --project-dir)
PROJECT_DIR = Path(__file__).resolve().parents[1]


def _load_yaml(text: str):
    try:
        import yaml
    except ImportError:  # great_expectations depends on ruamel.yaml
        from ruamel.yaml import YAML

        return YAML(typ="safe", pure=True).load(text)
    return yaml.safe_load(text)


def dbt_accepted_values(project_dir: Path, model: str, column: str) -> tuple[str, ...]:
    """The accepted_values of `model.column` in the marts yml of the dbt project."""
    path = project_dir / MARTS_YML
    try:
        spec = _load_yaml(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read the dbt model yml {path} (set --project-dir): {error}") from error
    for model_spec in spec.get("models") or []:
        if model_spec.get("name") != model:
            continue
        for column_spec in model_spec.get("columns") or []:
            if column_spec.get("name") != column:
                continue
            for test in column_spec.get("data_tests") or column_spec.get("tests") or []:
                if isinstance(test, dict) and "accepted_values" in test:
                    config = test["accepted_values"]
                    values = (config.get("arguments") or config).get("values")
                    if values:
                        return tuple(str(v) for v in values)
    raise UsageError(f"no accepted_values test on {model}.{column} in {path}")


def load_enums(project_dir: Path = PROJECT_DIR) -> dict[str, tuple[str, ...]]:
    enums = python_enums()
    for name, (model, column) in DBT_ENUMS.items():
        enums[name] = dbt_accepted_values(project_dir, model, column)
    return enums


RAW_SCHEMA = "raw"
REGISTRY_SCHEMA = "registry"
RESULT_SCHEMA = "main"

#: the columns each suite depends on (schema.sql today); extra columns in a table are ignored
CONTRACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "raw.exposures": (
        "experiment_id", "unit_id", "variant_id", "exposed_at",
        "platform", "country", "city", "is_internal", "is_bot",
    ),
    "raw.metric_events": ("unit_id", "event_name", "event_at", "value"),
    "fct_exposures": (
        "experiment_id", "unit_id", "variant_id", "first_exposed_at", "exposure_date",
        "platform", "country", "city", "n_exposure_rows",
    ),
    "fct_quarantine": ("source_table", "experiment_id", "reason", "is_exclusion", "n_rows", "n_units"),
    "fct_arm_statistics": (
        "experiment_id", "metric_id", "variant_id", "dimension_name", "dimension_value",
        "analysis_date", "n_units", "n_units_with_pre_period", "sum_num", "sum_num_sq",
        "sum_den", "sum_den_sq", "sum_num_den", "sum_pre_num", "sum_pre_num_sq", "sum_pre_den",
        "sum_pre_den_sq", "sum_pre_num_pre_den", "sum_num_pre_num", "sum_num_pre_den",
        "sum_den_pre_num", "sum_den_pre_den",
    ),
    "fct_srm_checks": (
        "experiment_id", "dimension_name", "dimension_value", "analysis_date", "n_units_total",
        "chi_square", "degrees_of_freedom", "srm_alpha", "srm_p_value", "is_srm",
    ),
    "fct_experiment_results": (
        "experiment_id", "metric_id", "metric_role", "aggregation", "control_variant_id",
        "treatment_variant_id", "dimension_name", "dimension_value", "analysis_date",
        "n_control", "n_treatment", "absolute_effect", "std_error", "p_value", "ci_lower",
        "ci_upper", "test_method", "estimate_method", "decision_effect", "decision_ci_lower",
        "decision_ci_upper", "decision_p_value", "cuped_p_value", "p_value_holm", "p_value_bh",
        "family_size", "adjusted_ci_lower", "adjusted_ci_upper", "non_inferiority_p_value",
        "pre_period_imbalance_p_value", "minimum_detectable_effect", "achieved_power",
        "prob_treatment_better", "expected_loss", "bayesian_method", "analysis_method",
        "information_fraction", "sequential_p_value", "sequential_ci_lower", "sequential_ci_upper",
        "sequential_boundary_z", "is_boundary_crossed", "msprt_mixing_sd", "alpha",
        "desired_direction", "threshold_scale", "guardrail_status", "status",
    ),
    "fct_decision_records": (
        "experiment_id", "analysis_date", "decision", "recommended_variant_id", "srm_p_value",
        "n_guardrail_breaches", "analysis_method", "health_warnings",
    ),
    "fct_decision_history": (
        "experiment_id", "analysis_date", "decision", "recommended_variant_id", "srm_p_value",
        "n_guardrail_breaches", "analysis_method", "recorded_as_of_date", "recorded_at", "is_backfilled",
    ),
    "fct_experiment_health": (
        "experiment_id", "analysis_date", "srm_chi_square", "n_slices_checked", "n_slices_with_srm",
        "n_units_exposed", "n_units_multiple_variants", "multiple_variant_share",
        "n_exposure_rows_on_date", "n_units_first_exposed_on_date", "last_exposure_date",
        "n_events_before_exposure", "n_events_after_exposure", "events_before_exposure_share",
    ),
    "fct_factorial_anova": (
        "experiment_id", "metric_id", "aggregation", "dimension_name", "dimension_value", "analysis_date",
        "term", "sum_sq", "df", "f_statistic", "p_value", "n_units", "n_cells",
    ),
    "fct_bandit_allocations": (
        "experiment_id", "metric_id", "analysis_date", "variant_id", "n_units", "conversions",
        "conversion_rate", "current_weight", "prob_best", "recommended_weight",
    ),
}
TABLES = tuple(CONTRACT_COLUMNS)

#: the grain of each table: shown next to every unexpected example in the report
EXAMPLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "raw.exposures": ("experiment_id", "unit_id", "variant_id", "exposed_at"),
    "raw.metric_events": ("unit_id", "event_name", "event_at"),
    "fct_exposures": ("experiment_id", "unit_id"),
    "fct_quarantine": ("source_table", "experiment_id", "reason"),
    "fct_arm_statistics": ("experiment_id", "metric_id", "variant_id", "dimension_name", "dimension_value", "analysis_date"),
    "fct_srm_checks": ("experiment_id", "dimension_name", "dimension_value", "analysis_date"),
    "fct_experiment_results": (
        "experiment_id", "metric_id", "treatment_variant_id", "dimension_name", "dimension_value", "analysis_date",
    ),
    "fct_decision_records": ("experiment_id", "analysis_date"),
    "fct_decision_history": ("experiment_id", "analysis_date"),
    "fct_experiment_health": ("experiment_id", "analysis_date"),
    "fct_factorial_anova": (
        "experiment_id", "metric_id", "dimension_name", "dimension_value", "analysis_date", "term",
    ),
    "fct_bandit_allocations": ("experiment_id", "analysis_date", "variant_id"),
}

#: share of rows of a raw table that must have a usable key (dirty rows are quarantined by the
#: pipeline; these catch gross breakage such as a renamed or emptied column)
RAW_MOSTLY = 0.95
DEFAULT_MAX_STALENESS_DAYS = 1
EXAMPLES_PER_FAILURE = 5
#: slack for comparisons of values computed along different floating-point paths
#: (Benjamini-Hochberg's m * p / rank against Holm's (m - rank + 1) * p; weights summing to 1)
FLOAT_TOLERANCE = 1e-9
_ARM_SUM_COLUMNS = tuple(c for c in CONTRACT_COLUMNS["fct_arm_statistics"] if c.startswith("sum_"))
#: the p-value a result row enters its Holm / BH family with (docs/statistics.md section 4)
HOLM_FAMILY_P_SQL = (
    "case when metric_role = 'guardrail' then non_inferiority_p_value "
    "when analysis_method = 'msprt' then sequential_p_value else decision_p_value end"
)
HOLM_FAMILY_P_INPUTS = (
    "metric_role", "analysis_method", "non_inferiority_p_value", "sequential_p_value", "decision_p_value",
)


# ---- suite definitions --------------------------------------------------------------------------
@dataclass
class Check:
    description: str  # what the report calls it
    expectation: Any  # a great_expectations Expectation
    kind: str = ""    # 'freshness' adds the staleness in days to the report


@dataclass
class TableSuite:
    table: str
    relation: str                          # qualified DuckDB name
    #: derived column -> (SQL expression, the columns it reads); computed in DuckDB at read time
    derived: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)


@dataclass
class Facts:
    """Values read from the warehouse before the suites are built."""

    as_of_date: dt.date
    as_of_source: str
    max_staleness_days: int
    registered_variants: list[str]     # 'experiment_id / variant_id'
    registered_experiments: list[str]
    raw_exposure_rows: int | None
    analysed_experiment_days: int | None  # distinct overall (experiment, date) in results U srm
    enums: dict[str, tuple[str, ...]]


def _relation(table: str) -> str:
    return table if "." in table else f"{RESULT_SCHEMA}.{table}"


def _fmt_set(values) -> str:
    return "{" + ", ".join(values) + "}"


def build_suites(facts: Facts, tables: tuple[str, ...]) -> list[TableSuite]:
    """The expectations of every selected table (GX objects; needs great_expectations)."""
    import great_expectations.expectations as gxe
    from great_expectations.expectations.row_conditions import Column

    enums = facts.enums
    ok = Column("status") == "ok"
    not_ok = Column("status") != "ok"

    def contract(table: str) -> list[Check]:
        columns = list(CONTRACT_COLUMNS[table])
        return [Check(
            f"has the {len(columns)} schema.sql columns the suite checks (extra columns allowed)",
            gxe.ExpectTableColumnsToMatchSet(column_set=columns, exact_match=False),
        )]

    def rows_at_least(n: int) -> Check:
        return Check(f"row count >= {n}", gxe.ExpectTableRowCountToBeBetween(min_value=n))

    def not_null(column: str, mostly: float = 1.0, where=None, where_text: str = "") -> Check:
        text = f"{column} not null" + (f" in >= {mostly:.0%} of rows" if mostly < 1 else "") + where_text
        kwargs = {"mostly": mostly} if mostly < 1 else {}
        if where is not None:
            kwargs["row_condition"] = where
        return Check(text, gxe.ExpectColumnValuesToNotBeNull(column=column, **kwargs))

    def null_where(column: str, where, where_text: str) -> Check:
        return Check(f"{column} null{where_text}", gxe.ExpectColumnValuesToBeNull(column=column, row_condition=where))

    def in_set(column: str, values, name: str | None = None, mostly: float = 1.0, source: str = "") -> Check:
        values = list(values)
        if name:
            label = f"registered {name}"
        elif source and len(values) > 8:  # the full list is in the failure's expectation line
            label = f"the {len(values)} {source}"
        else:
            label = _fmt_set(values)
        text = f"{column} in {label}" + (f" for >= {mostly:.0%} of rows" if mostly < 1 else "")
        kwargs = {"mostly": mostly} if mostly < 1 else {}
        return Check(text, gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values, **kwargs))

    def between(column: str, lo=None, hi=None, where=None, where_text: str = "", text: str = "") -> Check:
        if not text:
            if lo is not None and hi is not None:
                text = f"{column} in [{lo}, {hi}]"
            elif lo is not None:
                text = f"{column} >= {lo}"
            else:
                text = f"{column} <= {hi}"
        kwargs = {"row_condition": where} if where is not None else {}
        return Check(
            text + where_text,
            gxe.ExpectColumnValuesToBeBetween(column=column, min_value=lo, max_value=hi, **kwargs),
        )

    def a_ge_b(a: str, b: str, where=None, where_text: str = "") -> Check:
        kwargs = {"row_condition": where} if where is not None else {}
        return Check(
            f"{b} <= {a}{where_text} (rows where both are set)",
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=a, column_B=b, or_equal=True, ignore_row_if="either_value_is_missing", **kwargs
            ),
        )

    def same_as(a: str, b: str, text: str) -> Check:
        return Check(text, gxe.ExpectColumnPairValuesToBeEqual(
            column_A=a, column_B=b, ignore_row_if="either_value_is_missing"))

    def non_empty(column: str) -> Check:
        return Check(f"{column} not an empty string where set (null means none)",
                     gxe.ExpectColumnValueLengthsToBeBetween(column=column, min_value=1))

    def unique(columns: list[str]) -> Check:
        return Check(
            "one row per (" + ", ".join(columns) + ")",
            gxe.ExpectCompoundColumnsToBeUnique(column_list=columns),
        )

    def fresh(column: str) -> Check:
        # rows after the as-of date are quarantined dirt (or tomorrow's data): they must not make
        # a stalled load look fresh, so the newest value is taken up to the end of the as-of date
        since = dt.datetime.combine(facts.as_of_date - dt.timedelta(days=facts.max_staleness_days), dt.time())
        until = dt.datetime.combine(facts.as_of_date + dt.timedelta(days=1), dt.time())
        return Check(
            f"newest {column} up to the as-of date {facts.as_of_date} is on or after {since:%Y-%m-%d} "
            f"(at most {facts.max_staleness_days} day(s) stale)",
            gxe.ExpectColumnMaxToBeBetween(column=column, min_value=since, row_condition=Column(column) < until),
            kind="freshness",
        )

    def no_non_finite(column: str, sources: tuple[str, ...]) -> Check:
        return Check(
            f"the {len(sources)} sum_* columns are finite where set (derived column {column} names the non-finite ones)",
            gxe.ExpectColumnValuesToBeNull(column=column),
        )

    where_ok, where_not_ok = " where status = 'ok'", " where status <> 'ok'"
    suites: dict[str, TableSuite] = {}

    # -- raw inputs: catch gross breakage, not the dirt the pipeline quarantines -----------------
    s = TableSuite("raw.exposures", "raw.exposures")
    s.checks += contract(s.table) + [
        rows_at_least(1),
        not_null("unit_id", RAW_MOSTLY),
        not_null("experiment_id", RAW_MOSTLY),
        not_null("variant_id", RAW_MOSTLY),
        not_null("exposed_at", RAW_MOSTLY),
        in_set("experiment_id", facts.registered_experiments, "experiments (registry.experiments)", RAW_MOSTLY),
        fresh("exposed_at"),
    ]
    suites[s.table] = s

    s = TableSuite("raw.metric_events", "raw.metric_events")
    s.checks += contract(s.table) + [
        rows_at_least(1),
        not_null("unit_id", RAW_MOSTLY),
        not_null("event_name", RAW_MOSTLY),
        not_null("event_at", RAW_MOSTLY),
        fresh("event_at"),
    ]
    suites[s.table] = s

    # -- result tables -----------------------------------------------------------------------------
    s = TableSuite("fct_exposures", _relation("fct_exposures"),
                   derived={"experiment_variant": ("experiment_id || ' / ' || variant_id", ("experiment_id", "variant_id"))})
    raw_rows = facts.raw_exposure_rows
    s.checks += contract(s.table) + [
        Check(
            "row count between 1 and the raw.exposures row count" + (f" ({raw_rows:,})" if raw_rows is not None else ""),
            gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=raw_rows),
        ),
        unique(["experiment_id", "unit_id"]),
        *[not_null(c) for c in CONTRACT_COLUMNS["fct_exposures"]],
        in_set("experiment_id", facts.registered_experiments, "experiments (registry.experiments)"),
        Check(
            "experiment_id / variant_id registered in registry.variants",
            gxe.ExpectColumnValuesToBeInSet(column="experiment_variant", value_set=facts.registered_variants),
        ),
        between("n_exposure_rows", lo=1),
    ]
    suites[s.table] = s

    s = TableSuite("fct_quarantine", _relation("fct_quarantine"))
    s.checks += contract(s.table) + [
        unique(["source_table", "experiment_id", "reason"]),
        not_null("source_table"), not_null("reason"), not_null("is_exclusion"),
        not_null("n_rows"), not_null("n_units"),
        in_set("source_table", enums["quarantine_source_table"]),
        in_set("reason", enums["quarantine_reason"],
               source="accepted_values of fct_quarantine.reason (models/marts/_marts__models.yml)"),
        between("n_rows", lo=1),  # a group exists only when rows fell into it
        between("n_units", lo=0),
    ]
    suites[s.table] = s

    s = TableSuite("fct_arm_statistics", _relation("fct_arm_statistics"))
    s.derived["non_finite_sums"] = (
        "nullif(concat_ws(', ', " + ", ".join(
            f"case when not isfinite({c}) then '{c}=' || cast({c} as varchar) end" for c in _ARM_SUM_COLUMNS
        ) + "), '')",
        _ARM_SUM_COLUMNS,
    )
    keys = list(EXAMPLE_COLUMNS["fct_arm_statistics"])
    s.checks += contract(s.table) + [
        rows_at_least(1),
        unique(keys),
        *[not_null(c) for c in keys + ["n_units", "n_units_with_pre_period", "sum_num", "sum_num_sq"]],
        in_set("dimension_name", enums["dimension_name"]),
        between("n_units", lo=0),
        between("n_units_with_pre_period", lo=0),
        a_ge_b("n_units", "n_units_with_pre_period"),
        between("sum_num_sq", lo=0),
        no_non_finite("non_finite_sums", _ARM_SUM_COLUMNS),
    ]
    suites[s.table] = s

    s = TableSuite("fct_srm_checks", _relation("fct_srm_checks"))
    keys = list(EXAMPLE_COLUMNS["fct_srm_checks"])
    s.checks += contract(s.table) + [
        rows_at_least(1),
        unique(keys),
        *[not_null(c) for c in keys],
        in_set("dimension_name", enums["dimension_name"]),
        between("srm_p_value", 0, 1),
        between("srm_alpha", 0, 1),
        between("n_units_total", lo=0),
        between("chi_square", lo=0),
        between("degrees_of_freedom", lo=1),
    ]
    suites[s.table] = s

    s = TableSuite("fct_experiment_results", _relation("fct_experiment_results"))
    # docs/statistics.md section 4: the p-value each row enters its Holm / BH family with
    s.derived["holm_family_p_value"] = (HOLM_FAMILY_P_SQL, HOLM_FAMILY_P_INPUTS)
    # the larger of (family p - p_value_bh) and (p_value_bh - p_value_holm): <= 0 up to rounding
    s.derived["p_value_bh_order_error"] = (
        f"greatest(({HOLM_FAMILY_P_SQL}) - p_value_bh, p_value_bh - p_value_holm)",
        HOLM_FAMILY_P_INPUTS + ("p_value_bh", "p_value_holm"),
    )
    # an empty running intersection of the mSPRT intervals implies a running p-value <= alpha
    s.derived["sequential_p_value_above_alpha"] = (
        "sequential_p_value > alpha", ("sequential_p_value", "alpha"),
    )
    keys = list(EXAMPLE_COLUMNS["fct_experiment_results"])
    family_p = Column("holm_family_p_value")
    holm_set = Column("p_value_holm").is_not_null()
    method = Column("analysis_method")
    fixed, msprt, group_seq = method == "fixed_horizon", method == "msprt", method == "group_sequential"
    where_fixed, where_msprt = " where analysis_method = 'fixed_horizon'", " where analysis_method = 'msprt'"
    where_group_seq = " where analysis_method = 'group_sequential'"
    s.checks += contract(s.table) + [
        rows_at_least(1),
        unique(keys),
        *[not_null(c) for c in keys + ["control_variant_id", "status", "analysis_method"]],
        in_set("status", enums["status"]),
        in_set("test_method", enums["test_method"]),
        in_set("guardrail_status", enums["guardrail_status"]),
        in_set("metric_role", enums["metric_role"]),
        in_set("aggregation", enums["aggregation"]),
        in_set("estimate_method", enums["estimate_method"]),
        in_set("desired_direction", enums["desired_direction"]),
        in_set("threshold_scale", enums["threshold_scale"]),
        in_set("bayesian_method", enums["bayesian_method"]),
        in_set("analysis_method", enums["analysis_method"]),
        *[between(c, 0, 1) for c in (
            "p_value", "p_value_holm", "p_value_bh", "decision_p_value", "cuped_p_value",
            "non_inferiority_p_value", "pre_period_imbalance_p_value", "sequential_p_value",
            "achieved_power", "prob_treatment_better", "information_fraction", "alpha",
        )],
        # docs/statistics.md section 9: with status 'ok' the test was computed ...
        *[not_null(c, where=ok, where_text=where_ok) for c in (
            "p_value", "decision_p_value", "absolute_effect", "std_error",
            "ci_lower", "ci_upper", "decision_effect", "decision_ci_lower", "decision_ci_upper",
            "adjusted_ci_lower", "adjusted_ci_upper", "minimum_detectable_effect",
            "prob_treatment_better", "expected_loss", "bayesian_method",
        )],
        # ... and otherwise the inferential columns are null (the sequential ones only describe
        # the look when it is 'ok'; information_fraction, boundaries and crossings stay set)
        *[null_where(c, not_ok, where_not_ok) for c in (
            "p_value", "p_value_holm", "p_value_bh", "ci_lower", "ci_upper",
            "adjusted_ci_lower", "adjusted_ci_upper", "non_inferiority_p_value",
            "pre_period_imbalance_p_value", "minimum_detectable_effect", "achieved_power",
            "prob_treatment_better", "expected_loss", "bayesian_method",
            "sequential_p_value", "sequential_ci_lower", "sequential_ci_upper",
        )],
        # section 4: a row is in its Holm / BH family exactly when its family p-value is set
        # (guardrails: non_inferiority_p_value; msprt: sequential_p_value; else decision_p_value)
        not_null("p_value_holm", where=family_p.is_not_null(),
                 where_text=" where the row's family p-value is set (derived column holm_family_p_value)"),
        null_where("p_value_holm", family_p.is_null(),
                   " where the row's family p-value is null (derived column holm_family_p_value)"),
        not_null("p_value_bh", where=holm_set, where_text=" where p_value_holm is set"),
        null_where("p_value_bh", Column("p_value_holm").is_null(), " where p_value_holm is null"),
        # Holm only raises p-values; BH lies between the family p-value and Holm
        a_ge_b("p_value_holm", "holm_family_p_value"),
        between("p_value_bh_order_error", hi=FLOAT_TOLERANCE,
                text=f"family p-value <= p_value_bh <= p_value_holm (to {FLOAT_TOLERANCE:g}; "
                     "derived column p_value_bh_order_error is the larger excess)"),
        between("family_size", lo=0),
        between("family_size", lo=1, where=holm_set, where_text=" where p_value_holm is set"),
        a_ge_b("absolute_effect", "ci_lower"),
        a_ge_b("ci_upper", "absolute_effect"),
        a_ge_b("decision_effect", "decision_ci_lower"),
        a_ge_b("decision_ci_upper", "decision_effect"),
        a_ge_b("decision_effect", "adjusted_ci_lower"),
        a_ge_b("adjusted_ci_upper", "decision_effect"),
        between("n_control", lo=0),
        between("n_treatment", lo=0),
        between("std_error", lo=0),
        between("minimum_detectable_effect", lo=0),
        between("expected_loss", lo=0),
        # section 11: the sequential columns belong to their method
        *[null_where(c, fixed, where_fixed) for c in (
            "information_fraction", "sequential_p_value", "sequential_ci_lower", "sequential_ci_upper",
            "sequential_boundary_z", "is_boundary_crossed", "msprt_mixing_sd",
        )],
        not_null("information_fraction", where=method != "fixed_horizon",
                 where_text=" where analysis_method <> 'fixed_horizon'"),
        *[null_where(c, msprt, where_msprt) for c in ("sequential_boundary_z", "is_boundary_crossed")],
        *[null_where(c, group_seq, where_group_seq) for c in (
            "sequential_p_value", "sequential_ci_lower", "sequential_ci_upper", "msprt_mixing_sd",
        )],
        not_null("is_boundary_crossed", where=group_seq, where_text=where_group_seq),
        between("sequential_boundary_z", lo=0),
        between("msprt_mixing_sd", lo=0),
        # section 11.2: the running intersection can be empty only when the running p <= alpha
        a_ge_b("sequential_ci_upper", "sequential_ci_lower",
               where=Column("sequential_p_value_above_alpha") == True,  # noqa: E712 (a GX row condition)
               where_text=" where sequential_p_value > alpha (an empty always-valid interval implies "
                          "sequential_p_value <= alpha)"),
    ]
    suites[s.table] = s

    s = TableSuite("fct_decision_records", _relation("fct_decision_records"))
    is_ship = Column("decision") == "ship"
    n_days = facts.analysed_experiment_days
    s.checks += contract(s.table) + [
        rows_at_least(1),
        unique(["experiment_id", "analysis_date"]),
        not_null("experiment_id"), not_null("analysis_date"), not_null("decision"),
        in_set("decision", enums["decision"]),
        not_null("recommended_variant_id", where=is_ship, where_text=" where decision = 'ship'"),
        null_where("recommended_variant_id", Column("decision") != "ship", " where decision <> 'ship'"),
        between("srm_p_value", 0, 1),
        between("n_guardrail_breaches", lo=0),
        in_set("analysis_method", enums["analysis_method"]),
        non_empty("health_warnings"),
    ]
    if n_days is not None:
        s.checks.append(Check(
            f"one row per analysed (experiment, date): {n_days:,} rows (distinct overall-slice "
            "pairs of fct_experiment_results and fct_srm_checks)",
            gxe.ExpectTableRowCountToEqual(value=n_days),
        ))
    suites[s.table] = s

    s = TableSuite("fct_decision_history", _relation("fct_decision_history"))
    # the trail of fct_decision_records: each date as first recorded (re-runs of the as-of date
    # replace it); rows recorded by older runs are kept, so no row count is tied to today's build
    s.derived["is_recorded_after_analysis_date"] = (
        "analysis_date < recorded_as_of_date", ("analysis_date", "recorded_as_of_date"),
    )
    s.checks += contract(s.table) + [
        rows_at_least(1),
        unique(["experiment_id", "analysis_date"]),
        *[not_null(c) for c in ("experiment_id", "analysis_date", "decision", "recorded_as_of_date", "recorded_at")],
        in_set("decision", enums["decision"]),
        not_null("recommended_variant_id", where=is_ship, where_text=" where decision = 'ship'"),
        null_where("recommended_variant_id", Column("decision") != "ship", " where decision <> 'ship'"),
        between("srm_p_value", 0, 1),
        between("n_guardrail_breaches", lo=0),
        in_set("analysis_method", enums["analysis_method"]),
        a_ge_b("recorded_as_of_date", "analysis_date"),
        same_as("is_backfilled", "is_recorded_after_analysis_date",
                "is_backfilled = (analysis_date < recorded_as_of_date) "
                "(derived column is_recorded_after_analysis_date)"),
    ]
    suites[s.table] = s

    s = TableSuite("fct_experiment_health", _relation("fct_experiment_health"))
    counts = (
        "n_slices_checked", "n_slices_with_srm", "n_units_exposed", "n_units_multiple_variants",
        "n_exposure_rows_on_date", "n_units_first_exposed_on_date", "n_events_before_exposure",
        "n_events_after_exposure",
    )
    s.checks += contract(s.table) + [
        rows_at_least(1),
        unique(["experiment_id", "analysis_date"]),
        not_null("experiment_id"), not_null("analysis_date"),
        in_set("experiment_id", facts.registered_experiments, "experiments (registry.experiments)"),
        between("multiple_variant_share", 0, 1),
        between("events_before_exposure_share", 0, 1),
        *[between(c, lo=0) for c in counts],
        between("srm_chi_square", lo=0),
        a_ge_b("n_slices_checked", "n_slices_with_srm"),
        a_ge_b("n_units_exposed", "n_units_multiple_variants"),
        a_ge_b("n_units_exposed", "n_units_first_exposed_on_date"),
        a_ge_b("analysis_date", "last_exposure_date"),
    ]
    suites[s.table] = s

    # factorial and bandit marts exist only for experiments with that registry design: may be empty
    s = TableSuite("fct_factorial_anova", _relation("fct_factorial_anova"))
    keys = list(EXAMPLE_COLUMNS["fct_factorial_anova"])
    residual = Column("term") == "residual"
    s.checks += contract(s.table) + [
        unique(keys),
        *[not_null(c) for c in keys],
        in_set("experiment_id", facts.registered_experiments, "experiments (registry.experiments)"),
        in_set("term", enums["anova_term"], source="accepted_values of fct_factorial_anova.term"),
        in_set("dimension_name", enums["dimension_name"]),
        in_set("aggregation", enums["aggregation"]),
        between("p_value", 0, 1),
        between("sum_sq", lo=0),
        between("df", lo=0),
        between("f_statistic", lo=0),
        between("n_units", lo=0),
        between("n_cells", lo=0),
        # the residual row is the F tests' denominator: it has no test of its own
        null_where("f_statistic", residual, " where term = 'residual'"),
        null_where("p_value", residual, " where term = 'residual'"),
    ]
    suites[s.table] = s

    s = TableSuite("fct_bandit_allocations", _relation("fct_bandit_allocations"))
    keys = list(EXAMPLE_COLUMNS["fct_bandit_allocations"])
    s.derived["experiment_variant"] = ("experiment_id || ' / ' || variant_id", ("experiment_id", "variant_id"))
    s.derived["recommended_weight_total"] = (
        "sum(recommended_weight) over (partition by experiment_id, analysis_date)",
        ("experiment_id", "analysis_date", "recommended_weight"),
    )
    s.checks += contract(s.table) + [
        unique(keys),
        *[not_null(c) for c in keys + ["metric_id", "n_units"]],
        Check(
            "experiment_id / variant_id registered in registry.variants",
            gxe.ExpectColumnValuesToBeInSet(column="experiment_variant", value_set=facts.registered_variants),
        ),
        between("n_units", lo=0),
        between("conversions", lo=0),
        a_ge_b("n_units", "conversions"),
        *[between(c, 0, 1) for c in ("conversion_rate", "prob_best", "recommended_weight")],
        between("current_weight", lo=0),
        between("recommended_weight_total", 1 - FLOAT_TOLERANCE, 1 + FLOAT_TOLERANCE,
                text=f"recommended_weight sums to 1 (to {FLOAT_TOLERANCE:g}) per (experiment_id, analysis_date) "
                     "(derived column recommended_weight_total)"),
    ]
    suites[s.table] = s

    return [suites[t] for t in tables]


# ---- reading the warehouse ----------------------------------------------------------------------
def connect(database: Path) -> duckdb.DuckDBPyConnection:
    if not database.is_file():
        raise UsageError(f"database file not found: {database}")
    try:
        return duckdb.connect(str(database), read_only=True)
    except duckdb.Error as error:
        raise UsageError(f"cannot open {database} read-only: {error}") from error


def _columns(connection, relation: str) -> list[str] | None:
    schema, name = relation.split(".")
    rows = connection.execute(
        "select column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema = ? and table_name = ? "
        "order by ordinal_position",
        [schema, name],
    ).fetchall()
    return [r[0] for r in rows] or None


def _require(connection, relation: str, hint: str) -> list[str]:
    columns = _columns(connection, relation)
    if columns is None:
        raise UsageError(f"table {relation} not found in the database ({hint})")
    return columns


def _scalar(connection, sql: str):
    return connection.execute(sql).fetchone()[0]


def read_facts(
    connection, tables: tuple[str, ...], as_of_date: dt.date | None, max_staleness_days: int,
    enums: dict[str, tuple[str, ...]],
) -> Facts:
    build_hint = "run `dbt build` first"
    for table in tables:
        hint = "load the raw tables (schema.sql)" if table.startswith(RAW_SCHEMA + ".") else build_hint
        _require(connection, _relation(table), hint)
    registry_hint = "the registry seeds are loaded by `dbt build` / `dbt seed`"
    for name in ("experiments", "variants"):
        _require(connection, f"{REGISTRY_SCHEMA}.{name}", registry_hint)

    if as_of_date is not None:
        source = "--as-of-date"
    elif _columns(connection, "main.fct_decision_records") is not None and (
        newest := _scalar(connection, "select max(analysis_date) from main.fct_decision_records")
    ) is not None:
        as_of_date, source = newest, "newest analysis_date in fct_decision_records"
    else:
        as_of_date, source = dt.datetime.now(dt.timezone.utc).date(), "today (UTC): no analysis dates found"

    experiments = [r[0] for r in connection.execute(
        f"select distinct experiment_id from {REGISTRY_SCHEMA}.experiments where experiment_id is not null order by 1"
    ).fetchall()]
    variants = [r[0] for r in connection.execute(
        f"select distinct experiment_id || ' / ' || variant_id from {REGISTRY_SCHEMA}.variants "
        "where experiment_id is not null and variant_id is not null order by 1"
    ).fetchall()]
    raw_rows = (
        _scalar(connection, "select count(*) from raw.exposures")
        if _columns(connection, "raw.exposures") is not None else None
    )
    analysed = None
    if _columns(connection, "main.fct_experiment_results") and _columns(connection, "main.fct_srm_checks"):
        analysed = _scalar(connection, """
            select count(*) from (
                select experiment_id, analysis_date from main.fct_experiment_results
                where dimension_name = 'overall' and dimension_value = 'all'
                union
                select experiment_id, analysis_date from main.fct_srm_checks
                where dimension_name = 'overall' and dimension_value = 'all'
            )""")
    return Facts(as_of_date, source, max_staleness_days, variants, experiments, raw_rows, analysed, enums)


def read_table(connection, suite: TableSuite):
    """The suite's contract columns that exist (+ derived columns) as a pandas DataFrame."""
    present = set(_columns(connection, suite.relation) or ())
    columns = [c for c in CONTRACT_COLUMNS[suite.table] if c in present]
    derived = [
        f"{sql} as {name}" for name, (sql, inputs) in suite.derived.items() if present.issuperset(inputs)
    ]
    select = ", ".join([f'"{c}"' for c in columns] + derived) or "1 as no_contract_columns"
    table = read_arrow(connection.sql(f"select {select} from {suite.relation}"))
    return table.to_pandas()


# ---- running GX -------------------------------------------------------------------------------
@dataclass
class CheckResult:
    table: str
    check: Check
    success: bool
    result: dict
    error: str | None


@dataclass
class TableResult:
    table: str
    n_rows: int
    seconds: float
    checks: list[CheckResult]

    @property
    def n_failed(self) -> int:
        return sum(not c.success for c in self.checks)


def _exception_message(info) -> str | None:
    """First raised exception message in GX's (possibly per-metric, nested) exception_info."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "exception")
    for value in info.values():
        message = _exception_message(value)
        if message:
            return message
    return None


def run_suites(connection, suites: list[TableSuite]) -> list[TableResult]:
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    datasource = context.data_sources.add_pandas(name="warehouse")
    out = []
    for suite in suites:
        started = time.perf_counter()
        frame = read_table(connection, suite)
        asset = datasource.add_dataframe_asset(name=suite.table)
        batch_definition = asset.add_batch_definition_whole_dataframe(name=f"{suite.table} (whole table)")
        # all expectations at once: suite.add_expectation re-serialises the whole suite each time
        expectations = []
        for index, check in enumerate(suite.checks):
            check.expectation.description = check.description
            check.expectation.meta = {"check_index": index}
            expectations.append(check.expectation)
        gx_suite = context.suites.add(
            gx.ExpectationSuite(name=f"{suite.table} suite", expectations=expectations)
        )
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite.table} validation", data=batch_definition, suite=gx_suite)
        )
        examples = [c for c in EXAMPLE_COLUMNS[suite.table] if c in frame.columns]
        result_format = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES_PER_FAILURE}
        if examples:
            result_format["unexpected_index_column_names"] = examples
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            validation_result = validation.run(batch_parameters={"dataframe": frame}, result_format=result_format)
        results = {}
        for r in validation_result.results:
            index = (r.expectation_config.meta or {}).get("check_index")
            results[index] = r
        checks = []
        for index, check in enumerate(suite.checks):
            r = results.get(index)
            if r is None:  # GX dropped it (should not happen): report as a failure, never pass
                checks.append(CheckResult(suite.table, check, False, {}, "no result returned by GX"))
                continue
            error = _exception_message(r.exception_info)
            checks.append(CheckResult(suite.table, check, bool(r.success) and error is None, dict(r.result or {}), error))
        out.append(TableResult(suite.table, len(frame), time.perf_counter() - started, checks))
        del frame
    return out


# ---- the report -------------------------------------------------------------------------------
def _value(v) -> str:
    import numpy as np
    import pandas as pd

    if v is None:
        return "null"
    try:
        if pd.isna(v) is True:  # NaN, NaT, pd.NA (scalars only)
            return "null"
    except (TypeError, ValueError):
        pass
    if isinstance(v, (list, tuple)):
        return "(" + ", ".join(_value(x) for x in v) + ")"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if isinstance(v, (float, np.floating, int, np.integer)):
        f = float(v)
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return f"{f:.6g}"
    if isinstance(v, pd.Timestamp):
        return str(v)
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _gx_call(check: Check) -> str:
    config = check.expectation.configuration
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    if kwargs.get("row_condition") is not None:
        kwargs["row_condition"] = repr(check.expectation.row_condition)
    args = ", ".join(f"{k}={_arg(v)}" for k, v in kwargs.items() if v is not None)
    return f"{config.type}({args})"


def _arg(v) -> str:
    """An expectation argument: numbers at full precision (a bound like 1 + 1e-9 must not print as 1)."""
    if isinstance(v, str):
        return v
    if isinstance(v, float) and not v.is_integer():
        return repr(v)
    return _value(v)


def _observed(c: CheckResult, as_of: dt.date) -> str:
    if c.error:
        return f"error: {c.error}"
    r = c.result
    if "observed_value" in r:
        observed = r["observed_value"]
        text = ", ".join(observed) if isinstance(observed, list) and all(isinstance(x, str) for x in observed) else _value(observed)
        if c.check.kind == "freshness":
            if _value(observed) == "null":
                text = "no rows up to the as-of date"
            else:
                import pandas as pd

                days = (as_of - pd.Timestamp(observed).date()).days
                text += f" ({days} day(s) before the as-of date)"
        if c.check.expectation.expectation_type == "expect_table_columns_to_match_set":
            missing = ((r.get("details") or {}).get("mismatched") or {}).get("missing")
            text = "missing: " + ", ".join(missing) if missing else "all present"
        elif isinstance(observed, int):
            text = f"{observed:,}"
        return text
    if "unexpected_count" in r:
        n, of = r.get("unexpected_count") or 0, r.get("element_count") or 0
        pct = r.get("unexpected_percent")
        text = f"{n:,} of {of:,} rows unexpected"
        if n and pct is not None:
            text += f" ({pct:.3g}%)"
        if r.get("missing_count"):
            text += f"; {r['missing_count']:,} null (ignored)"
        return text
    return ""


def _examples(c: CheckResult) -> list[str]:
    rows = c.result.get("partial_unexpected_index_list") or []
    if rows and isinstance(rows[0], dict):
        return [", ".join(f"{k}={_value(v)}" for k, v in row.items()) for row in rows[:EXAMPLES_PER_FAILURE]]
    values = c.result.get("partial_unexpected_list") or []
    return [_value(v) for v in values[:EXAMPLES_PER_FAILURE]]


def render_report(results: list[TableResult], facts: Facts, database: Path, seconds: float, gx_version: str) -> str:
    n_checks = sum(len(t.checks) for t in results)
    n_failed = sum(t.n_failed for t in results)
    failed_tables = [t.table for t in results if t.n_failed]
    verdict = "PASS" if not n_failed else "FAIL"
    lines = [
        "# Data quality report",
        "",
        f"**Result: {verdict}**: {n_checks - n_failed} of {n_checks} expectations passed"
        + (f"; failing tables: {', '.join(failed_tables)}." if failed_tables else "."),
        "",
        "| | |",
        "|---|---|",
        f"| database | `{database}` |",
        f"| as-of date | {facts.as_of_date} ({facts.as_of_source}) |",
        f"| freshness | newest raw exposure / event at most {facts.max_staleness_days} day(s) before the as-of date |",
        f"| generated | {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC in {seconds:.1f} s, great_expectations {gx_version} |",
        "",
        "## Summary",
        "",
        "| table | rows | expectations | failed | result |",
        "|---|---:|---:|---:|---|",
    ]
    for t in results:
        lines.append(f"| {t.table} | {t.n_rows:,} | {len(t.checks)} | {t.n_failed} | {'FAIL' if t.n_failed else 'pass'} |")
    if n_failed:
        lines += ["", "## Failures", ""]
        for t in results:
            for c in t.checks:
                if c.success:
                    continue
                lines.append(f"### FAIL {t.table}: {c.check.description}")
                lines.append("")
                lines.append(f"- expectation: `{_gx_call(c.check)}`")
                lines.append(f"- observed: {_observed(c, facts.as_of_date)}")
                examples = _examples(c)
                if examples:
                    lines.append("- examples:")
                    lines += [f"  - {e}" for e in examples]
                lines.append("")
    for t in results:
        lines += [
            "",
            f"## {t.table}: {'FAIL' if t.n_failed else 'pass'} "
            f"({len(t.checks) - t.n_failed}/{len(t.checks)} passed, {t.n_rows:,} rows, {t.seconds:.1f} s)",
            "",
            "| result | expectation | GX expectation | observed |",
            "|---|---|---|---|",
        ]
        for c in t.checks:
            lines.append(
                f"| {'pass' if c.success else '**FAIL**'} | {_cell(c.check.description)} | "
                f"`{_cell(c.check.expectation.expectation_type)}` | {_cell(_observed(c, facts.as_of_date))} |"
            )
    return "\n".join(lines) + "\n"


# ---- command line -------------------------------------------------------------------------------
def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from error


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from error
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m exptools.quality",
        description="Great Expectations suites over the raw inputs and the result tables "
        "(docs/data_quality.md). Exit 0: all pass; 1: an expectation failed; 2: usage / connection error.",
    )
    parser.add_argument("--database", required=True, type=Path, help="the DuckDB file built by dbt")
    parser.add_argument("--report", type=Path, help="also write the Markdown report to this file")
    parser.add_argument(
        "--as-of-date", type=_date,
        help="date the freshness checks are measured against (default: the newest analysis_date "
        "in fct_decision_records, i.e. the as-of date the build used, capped at the experiments' end dates)",
    )
    parser.add_argument(
        "--max-staleness-days", type=_non_negative, default=DEFAULT_MAX_STALENESS_DAYS,
        help="the newest raw exposure and event may be at most this many days before the as-of date "
        f"(default {DEFAULT_MAX_STALENESS_DAYS})",
    )
    parser.add_argument(
        "--project-dir", type=Path, default=PROJECT_DIR,
        help="the dbt project whose model yml lists the allowed quarantine reasons, slices and ANOVA terms "
        "(default: the project exptools belongs to)",
    )
    parser.add_argument(
        "--table", action="append", choices=TABLES, dest="tables",
        help="validate only this table (repeatable; default: all)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tables = tuple(t for t in TABLES if t in set(args.tables or TABLES))
    started = time.perf_counter()
    try:
        connection = connect(args.database)
        try:
            enums = load_enums(args.project_dir)
            facts = read_facts(connection, tables, args.as_of_date, args.max_staleness_days, enums)
            try:
                import great_expectations as gx
            except ImportError as error:
                raise UsageError(
                    f"great_expectations is not installed ({error}); pip install -e '.[quality]'"
                ) from error
            suites = build_suites(facts, tables)
            results = run_suites(connection, suites)
        finally:
            connection.close()
    except UsageError as error:
        print(f"exptools.quality: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except duckdb.Error as error:
        print(f"exptools.quality: error: reading {args.database} failed: {error}", file=sys.stderr)
        return EXIT_USAGE
    except Exception:  # a crash must not look like "an expectation failed" (exit 1)
        traceback.print_exc()
        print("exptools.quality: error: internal error, the data was not validated", file=sys.stderr)
        return EXIT_USAGE
    report = render_report(results, facts, args.database, time.perf_counter() - started, gx.__version__)
    sys.stdout.write(report)
    if args.report is not None:
        try:
            args.report.parent.mkdir(parents=True, exist_ok=True)
            args.report.write_text(report, encoding="utf-8")
        except OSError as error:
            print(f"exptools.quality: error: cannot write the report to {args.report}: {error}", file=sys.stderr)
            return EXIT_USAGE
    return EXIT_FAILED if any(t.n_failed for t in results) else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
