"""The build as users see it: idempotent, matching schema.sql, the same from parquet files,
and the Python step giving the same tables outside dbt."""

from __future__ import annotations

import shutil

import duckdb
import pytest

from exptools.analyze import run_on_duckdb

from .conftest import MART_TABLES, ROOT, generate_demo, run_dbt

pytestmark = pytest.mark.integration


def _table_differences(left_db, right_db, table: str) -> tuple[int, int, int]:
    """Rows only in left, rows only in right (multiset difference), and left row count."""
    with duckdb.connect() as connection:
        connection.execute(f"attach '{left_db}' as left_db (read_only)")
        connection.execute(f"attach '{right_db}' as right_db (read_only)")
        only_left = connection.execute(
            f"select count(*) from (select * from left_db.main.{table} "
            f"except all select * from right_db.main.{table})"
        ).fetchone()[0]
        only_right = connection.execute(
            f"select count(*) from (select * from right_db.main.{table} "
            f"except all select * from left_db.main.{table})"
        ).fetchone()[0]
        n_rows = connection.execute(f"select count(*) from left_db.main.{table}").fetchone()[0]
    return only_left, only_right, n_rows


def test_rebuild_gives_identical_tables(small_build, tmp_path):
    first = tmp_path / "first.duckdb"
    shutil.copy(small_build.database, first)
    run_dbt(["build"], small_build.database, small_build.target_dir)
    for table in MART_TABLES:
        only_first, only_second, n_rows = _table_differences(first, small_build.database, table)
        assert n_rows > 0, table
        assert (only_first, only_second) == (0, 0), table


def _contract_columns() -> dict[str, list[tuple[str, str]]]:
    """Column names and types of every table declared in schema.sql."""
    with duckdb.connect() as connection:
        connection.execute((ROOT / "schema.sql").read_text())
        tables = connection.execute(
            "select table_schema, table_name from information_schema.tables"
        ).fetchall()
        return {
            f"{schema}.{name}": [
                (row[0], row[1])
                for row in connection.execute(f'describe "{schema}"."{name}"').fetchall()
            ]
            for schema, name in tables
        }


def test_built_tables_match_schema_sql(small_build):
    contract = _contract_columns()
    for table in MART_TABLES:
        assert f"main.{table}" in contract, f"{table} is not documented in schema.sql"
    with duckdb.connect(str(small_build.database), read_only=True) as connection:
        for qualified, columns in contract.items():
            built = [
                (row[0], row[1])
                for row in connection.execute(f"describe {qualified}").fetchall()
            ]
            assert built == columns, qualified


def test_parquet_source_gives_the_same_results(small_build, tmp_path):
    parquet_dir = tmp_path / "raw"
    database = tmp_path / "from_parquet.duckdb"
    generate_demo(database, small_build.scale, small_build.seed, parquet_dir=parquet_dir)
    run_dbt(
        ["build"], database, tmp_path / "target",
        {
            "raw_source": "parquet",
            "raw_exposures_parquet": str(parquet_dir / "exposures.parquet"),
            "raw_metric_events_parquet": str(parquet_dir / "metric_events.parquet"),
        },
    )
    for table in MART_TABLES:
        only_duckdb, only_parquet, n_rows = _table_differences(
            small_build.database, database, table
        )
        assert n_rows > 0, table
        assert (only_duckdb, only_parquet) == (0, 0), table


def test_python_step_outside_dbt_matches_dbt(small_build, tmp_path):
    copy = tmp_path / "outside.duckdb"
    shutil.copy(small_build.database, copy)
    with duckdb.connect(str(copy)) as connection:
        for table in ("fct_experiment_results", "fct_srm_checks", "fct_decision_records", "fct_factorial_anova",
                      "fct_bandit_allocations"):
            connection.execute(f"drop table main.{table}")
    run_on_duckdb(str(copy))
    for table in ("fct_experiment_results", "fct_srm_checks", "fct_decision_records", "fct_factorial_anova",
                  "fct_bandit_allocations"):
        only_dbt, only_outside, n_rows = _table_differences(small_build.database, copy, table)
        assert n_rows > 0, table
        assert (only_dbt, only_outside) == (0, 0), table
