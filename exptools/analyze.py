"""The Python step outside dbt: aggregates in, results / SRM checks / decisions out.

Inside `dbt build` on DuckDB the same functions run as dbt Python models. dbt-spark runs Python
models only on Databricks, so on Spark (or to re-run the statistics alone) build the SQL models
with `dbt build --exclude fct_experiment_results+ fct_srm_checks+ fct_factorial_anova
fct_bandit_allocations` (keeps fct_experiment_health, which is SQL) and run this step:

    python -m exptools.analyze --database warehouse.duckdb

`run_analysis` takes any reader / writer of Arrow tables, so other engines plug in the same way.
"""

from __future__ import annotations

import argparse
from typing import Callable

import pyarrow as pa

from analysis_py import compute_decisions, compute_results, compute_srm
from analysis_py.designs import compute_bandit_allocations, compute_factorial_anova

from .arrow_io import read_arrow

ReadTable = Callable[[str], pa.Table]
WriteTable = Callable[[str, pa.Table], None]


def run_analysis(read_table: ReadTable, write_table: WriteTable) -> dict[str, pa.Table]:
    """Compute the Python-built marts from the SQL-built aggregates and write them."""
    metric_configs = read_table("int_experiment_metrics_defined")
    arm_statistics = read_table("fct_arm_statistics")
    variants = read_table("stg_registry__variants")
    results = compute_results(arm_statistics, metric_configs, variants)
    srm_checks = compute_srm(read_table("int_srm_chi_square"))
    outputs = {
        "fct_experiment_results": results,
        "fct_srm_checks": srm_checks,
        "fct_factorial_anova": compute_factorial_anova(arm_statistics, metric_configs, variants),
        "fct_bandit_allocations": compute_bandit_allocations(arm_statistics, metric_configs, variants),
    }
    for name, table in outputs.items():
        write_table(name, table)
    # fct_experiment_health is SQL (built by dbt before this step): its warnings join the reasons
    outputs["fct_decision_records"] = compute_decisions(
        results, srm_checks, metric_configs, health=read_table("fct_experiment_health"))
    write_table("fct_decision_records", outputs["fct_decision_records"])
    return outputs


def run_on_duckdb(database: str, schema: str = "main") -> dict[str, pa.Table]:
    import duckdb

    with duckdb.connect(database) as connection:

        def read_table(name: str) -> pa.Table:
            return read_arrow(connection.table(f"{schema}.{name}"))

        def write_table(name: str, table: pa.Table) -> None:
            connection.register("analysis_output", table)
            connection.execute(
                f'create or replace table "{schema}"."{name}" as select * from analysis_output'
            )
            connection.unregister("analysis_output")

        return run_analysis(read_table, write_table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="DuckDB file built by dbt")
    parser.add_argument("--schema", default="main")
    args = parser.parse_args(argv)
    outputs = run_on_duckdb(args.database, args.schema)
    for name, table in outputs.items():
        print(f"{name}: {table.num_rows} rows")


if __name__ == "__main__":
    main()
