"""`python -m exptools.quality` (Great Expectations suites) on the demo build and on broken copies.

The command must pass on the demo, fail (exit 1) naming the table and the expectation when the
data is corrupted, and stop with a usage error (exit 2) when a table or the database is missing.
Needs the `quality` extra (great_expectations).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from exptools import quality

from .conftest import ROOT, read_table

pytestmark = [pytest.mark.integration, pytest.mark.quality]

requires_gx = pytest.mark.skipif(
    __import__("importlib").util.find_spec("great_expectations") is None,
    reason="great_expectations is not installed: pip install -e '.[quality]'",
)

FAILURE_HEADING = re.compile(r"^### FAIL (\S+): (.+)$", re.MULTILINE)
TABLE_HEADING = re.compile(r"^## (\S+): (pass|FAIL) ", re.MULTILINE)


def run_quality(database: Path, *args: str, report: Path | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "exptools.quality", "--database", str(database), *args]
    if report is not None:
        command += ["--report", str(report)]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)


def failures(report: str) -> set[tuple[str, str]]:
    return set(FAILURE_HEADING.findall(report))


def table_results(report: str) -> dict[str, str]:
    return dict(TABLE_HEADING.findall(report))


def copy_database(source: Path, target_dir: Path, statements: list[str]) -> Path:
    target = target_dir / "warehouse.duckdb"
    shutil.copy(source, target)
    with duckdb.connect(str(target)) as connection:
        for statement in statements:
            connection.execute(statement)
    return target


# ---- the suites depend on the documented contract only ------------------------------------------
def _marts_accepted_values(model: str, column: str) -> list[str]:
    spec = yaml.safe_load((ROOT / "models" / "marts" / "_marts__models.yml").read_text())
    (model_spec,) = [m for m in spec["models"] if m["name"] == model]
    (column_spec,) = [c for c in model_spec["columns"] if c["name"] == column]
    (test,) = [t for t in column_spec["data_tests"] if isinstance(t, dict) and "accepted_values" in t]
    return list(test["accepted_values"]["arguments"]["values"])


def test_enums_come_from_the_code_that_writes_the_columns():
    from analysis_py.decisions import VERDICTS
    from analysis_py.results import ANALYSIS_METHODS, BAYESIAN_METHODS, GUARDRAIL_STATUSES, STATUSES, TEST_METHODS

    enums = quality.load_enums(ROOT)
    assert enums["status"] is STATUSES and enums["test_method"] is TEST_METHODS
    assert enums["guardrail_status"] is GUARDRAIL_STATUSES and enums["decision"] is VERDICTS
    assert enums["analysis_method"] is ANALYSIS_METHODS and enums["bayesian_method"] is BAYESIAN_METHODS
    assert set(enums["analysis_method"]) == {"fixed_horizon", "group_sequential", "msprt"}
    assert set(enums["bayesian_method"]) == {"normal", "beta_binomial"}
    assert set(enums["decision"]) == {"ship", "iterate", "stop", "rerun", "keep_running"}
    assert list(enums["quarantine_reason"]) == _marts_accepted_values("fct_quarantine", "reason")
    assert {"missing_unit_id", "internal_traffic", "repeat_exposure_collapsed", "invalid_value"} <= set(
        enums["quarantine_reason"]
    )
    assert list(enums["quarantine_source_table"]) == ["exposures", "metric_events"]
    assert list(enums["dimension_name"]) == _marts_accepted_values("fct_arm_statistics", "dimension_name")
    assert list(enums["anova_term"]) == _marts_accepted_values("fct_factorial_anova", "term")
    assert set(enums["anova_term"]) == {"factor_a", "factor_b", "interaction", "residual"}


def test_enums_need_the_dbt_project(tmp_path):
    with pytest.raises(quality.UsageError, match="cannot read the dbt model yml"):
        quality.load_enums(tmp_path)


def test_suites_use_only_schema_sql_columns():
    with duckdb.connect() as connection:
        connection.execute((ROOT / "schema.sql").read_text())
        contract = {
            (f"{schema}.{name}" if schema == "raw" else name): {
                row[0] for row in connection.execute(f'describe "{schema}"."{name}"').fetchall()
            }
            for schema, name in connection.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
    assert set(quality.TABLES) == set(contract)
    for table, columns in quality.CONTRACT_COLUMNS.items():
        assert set(columns) <= contract[table], (table, set(columns) - contract[table])
        assert set(quality.EXAMPLE_COLUMNS[table]) <= set(columns), table


@requires_gx
def test_derived_columns_read_only_contract_columns():
    import datetime as dt

    facts = quality.Facts(dt.date(2026, 10, 31), "test", 1, ["e / v"], ["e"], 1, 1, quality.load_enums(ROOT))
    suites = quality.build_suites(facts, quality.TABLES)
    assert [s.table for s in suites] == list(quality.TABLES)
    for suite in suites:
        for name, (_sql, inputs) in suite.derived.items():
            assert set(inputs) <= set(quality.CONTRACT_COLUMNS[suite.table]), (suite.table, name)
        minimum_rows = [c for c in suite.checks if c.description.startswith("row count >=")]
        # factorial and bandit marts have rows only for experiments with that registry design
        if suite.table in ("fct_factorial_anova", "fct_bandit_allocations", "fct_quarantine"):
            assert not minimum_rows, suite.table


# ---- the command ----------------------------------------------------------------------------------
@requires_gx
def test_demo_passes_every_suite(demo_build, tmp_path):
    report_path = tmp_path / "reports" / "quality_report.md"
    completed = run_quality(demo_build.database, report=report_path)
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    report = report_path.read_text()
    assert report == completed.stdout
    assert "**Result: PASS**" in report
    assert "as-of date | 2026-10-31 (newest analysis_date in fct_decision_records)" in report
    assert table_results(report) == {table: "pass" for table in quality.TABLES}
    assert failures(report) == set()
    assert "FAIL" not in report


@requires_gx
def test_corrupted_copy_fails_and_names_table_and_expectation(demo_build, tmp_path):
    database = copy_database(demo_build.database, tmp_path, [
        # out-of-range p-values
        "update main.fct_experiment_results set p_value = 1.5 "
        "where experiment_id = 'banner_color' and status = 'ok' and dimension_name = 'overall'",
        # a CI that does not contain its estimate
        "update main.fct_experiment_results set ci_lower = absolute_effect + 1 "
        "where experiment_id = 'search_autocomplete' and status = 'ok' and dimension_name = 'overall' "
        "and analysis_date = date '2026-10-20'",
        # a null p-value in an 'ok' row
        "update main.fct_experiment_results set p_value = null "
        "where experiment_id = 'push_reminder_timing' and status = 'ok' and dimension_name = 'overall' "
        "and analysis_date = date '2026-10-20' and metric_role = 'primary'",
        # a duplicated unit
        "insert into main.fct_exposures select * from main.fct_exposures "
        "where experiment_id = 'banner_color' order by unit_id limit 1",
        # an undocumented quarantine reason and an SRM p-value below 0
        "update main.fct_quarantine set reason = 'mystery' where reason = 'bot_traffic' "
        "and experiment_id = 'banner_color'",
        "update main.fct_srm_checks set srm_p_value = -0.1 where experiment_id = 'banner_color' "
        "and dimension_name = 'overall' and analysis_date = date '2026-10-05'",
        # an infinite sum in the arm statistics
        "update main.fct_arm_statistics set sum_num_sq = 'inf'::double where experiment_id = 'banner_color' "
        "and dimension_name = 'overall' and analysis_date = date '2026-10-10' and variant_id = 'treatment' "
        "and metric_id = (select min(metric_id) from main.fct_arm_statistics where experiment_id = 'banner_color')",
        # an unknown decision on a keep_running day (no recommended variant involved)
        "update main.fct_decision_records set decision = 'launch' where experiment_id = 'loyalty_badge' "
        "and analysis_date = date '2026-10-20'",
        # the event load stalled 12 days before the as-of date
        "delete from raw.metric_events where event_at >= timestamp '2026-10-20'",
        # an information fraction above 1 (an mSPRT look)
        "update main.fct_experiment_results set information_fraction = 1.5 "
        "where experiment_id = 'onboarding_msprt' and dimension_name = 'overall' "
        "and analysis_date = date '2026-10-20'",
        # bandit weights that no longer sum to 1 on one date (each one still in [0, 1])
        "update main.fct_bandit_allocations set recommended_weight = recommended_weight / 2 "
        "where experiment_id = 'recommendation_bandit' and analysis_date = date '2026-10-08'",
    ])
    report_path = tmp_path / "quality_report.md"
    completed = run_quality(database, report=report_path)
    assert completed.returncode == 1, completed.stdout[-6000:] + completed.stderr[-3000:]
    report = report_path.read_text()
    assert "**Result: FAIL**" in report

    enums = quality.load_enums(ROOT)
    got = {(table, description.split(" (")[0]) for table, description in failures(report)}
    assert got == {
        ("fct_experiment_results", "p_value in [0, 1]"),
        ("fct_experiment_results", "ci_lower <= absolute_effect"),
        ("fct_experiment_results", "p_value not null where status = 'ok'"),
        ("fct_exposures", "one row per"),
        ("fct_quarantine", f"reason in the {len(enums['quarantine_reason'])} accepted_values of fct_quarantine.reason"),
        ("fct_srm_checks", "srm_p_value in [0, 1]"),
        ("fct_arm_statistics", "the 14 sum_* columns are finite where set"),
        ("fct_decision_records", "decision in {" + ", ".join(enums["decision"]) + "}"),
        ("raw.metric_events", "newest event_at up to the as-of date 2026-10-31 is on or after 2026-10-30"),
        ("fct_experiment_results", "information_fraction in [0, 1]"),
        ("fct_bandit_allocations", "recommended_weight sums to 1"),
    }, report[:8000]
    assert table_results(report) == {
        "raw.exposures": "pass", "raw.metric_events": "FAIL", "fct_exposures": "FAIL",
        "fct_quarantine": "FAIL", "fct_arm_statistics": "FAIL", "fct_srm_checks": "FAIL",
        "fct_experiment_results": "FAIL", "fct_decision_records": "FAIL",
        "fct_decision_history": "pass", "fct_experiment_health": "pass", "fct_factorial_anova": "pass",
        "fct_bandit_allocations": "FAIL",
    }
    # the failures show what was found, with the rows' keys
    assert "p_value=1.5, experiment_id=banner_color" in report
    assert "decision=launch, experiment_id=loyalty_badge, analysis_date=2026-10-20" in report
    assert "reason=mystery" in report
    assert "srm_p_value=-0.1" in report
    assert "non_finite_sums=sum_num_sq=inf, experiment_id=banner_color" in report
    assert "observed: 2026-10-19 23:59:58 (12 day(s) before the as-of date)" in report
    n_exposures = int(read_table(demo_build.database, "select count(*) as n from main.fct_exposures")["n"][0])
    assert f"observed: 2 of {n_exposures + 1:,} rows unexpected" in report  # the unit and its duplicate
    assert "information_fraction=1.5, experiment_id=onboarding_msprt" in report
    assert "recommended_weight_total=0.5, experiment_id=recommendation_bandit, analysis_date=2026-10-08" in report
    assert "min_value=0.999999999, max_value=1.000000001" in report  # the tolerance, not a rounded 1


@requires_gx
def test_factorial_and_bandit_marts_may_be_empty(demo_build, tmp_path):
    # a registry without factorial or bandit experiments builds these marts empty
    database = copy_database(demo_build.database, tmp_path, [
        "delete from main.fct_factorial_anova", "delete from main.fct_bandit_allocations",
    ])
    completed = run_quality(database, "--table", "fct_factorial_anova", "--table", "fct_bandit_allocations")
    assert completed.returncode == 0, completed.stdout[-6000:] + completed.stderr[-3000:]
    assert table_results(completed.stdout) == {"fct_factorial_anova": "pass", "fct_bandit_allocations": "pass"}
    assert "| fct_factorial_anova | 0 |" in completed.stdout and "| fct_bandit_allocations | 0 |" in completed.stdout


@requires_gx
def test_freshness_is_measured_against_the_as_of_date(demo_build):
    raw = ["--table", "raw.exposures", "--table", "raw.metric_events", "--as-of-date", "2026-11-20"]
    stale = run_quality(demo_build.database, *raw)
    assert stale.returncode == 1, stale.stdout[-6000:] + stale.stderr[-3000:]
    assert {table for table, _ in failures(stale.stdout)} == {"raw.exposures", "raw.metric_events"}
    assert all("newest" in description for _, description in failures(stale.stdout))
    # rows after the as-of date (quarantined dirt) do not count as fresh data
    assert "2026-12-24" not in stale.stdout

    tolerant = run_quality(demo_build.database, *raw, "--max-staleness-days", "30")
    assert tolerant.returncode == 0, tolerant.stdout[-6000:] + tolerant.stderr[-3000:]
    assert table_results(tolerant.stdout) == {"raw.exposures": "pass", "raw.metric_events": "pass"}


@requires_gx
def test_missing_column_fails_but_extra_columns_are_ignored(demo_build, tmp_path):
    database = copy_database(demo_build.database, tmp_path, [
        "alter table main.fct_srm_checks drop column srm_p_value",
        "alter table main.fct_experiment_results add column some_new_column varchar default 'x'",
    ])
    completed = run_quality(database, "--table", "fct_srm_checks", "--table", "fct_experiment_results")
    assert completed.returncode == 1, completed.stdout[-6000:] + completed.stderr[-3000:]
    assert table_results(completed.stdout) == {"fct_srm_checks": "FAIL", "fct_experiment_results": "pass"}
    got = failures(completed.stdout)
    assert {description.split(" (")[0] for _, description in got} == {
        "has the 10 schema.sql columns the suite checks", "srm_p_value in [0, 1]",
    }
    assert "observed: missing: srm_p_value" in completed.stdout
    assert 'error: Error: The column "srm_p_value" in BatchData does not exist.' in completed.stdout


@requires_gx
def test_missing_table_is_a_usage_error(demo_build, tmp_path):
    database = copy_database(demo_build.database, tmp_path, ["drop table main.fct_srm_checks"])
    report_path = tmp_path / "quality_report.md"
    completed = run_quality(database, report=report_path)
    assert completed.returncode == 2, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "table main.fct_srm_checks not found in the database (run `dbt build` first)" in completed.stderr
    assert completed.stdout == ""
    assert not report_path.exists()


@requires_gx
def test_missing_database_is_a_usage_error(tmp_path):
    database = tmp_path / "nowhere.duckdb"
    completed = run_quality(database)
    assert completed.returncode == 2
    assert f"database file not found: {database}" in completed.stderr
    assert not database.exists()  # never created by the check


def test_bad_arguments_are_usage_errors(tmp_path):
    for args in (["--as-of-date", "2026-13-01"], ["--max-staleness-days", "-1"], ["--table", "nope"]):
        completed = run_quality(tmp_path / "x.duckdb", *args)
        assert completed.returncode == 2, args
        assert "error: argument" in completed.stderr, args
