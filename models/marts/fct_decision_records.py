"""Decision records: one row per experiment per analysis date (ship / iterate / stop / rerun /
keep_running) with the reasons, from the results and SRM checks."""

from exptools.arrow_io import read_arrow
from analysis_py import compute_decisions


def model(dbt, session):
    dbt.config(materialized="table")
    results = read_arrow(dbt.ref("fct_experiment_results"))
    srm_checks = read_arrow(dbt.ref("fct_srm_checks"))
    metric_configs = read_arrow(dbt.ref("int_experiment_metrics_defined"))
    health = read_arrow(dbt.ref("fct_experiment_health"))
    return compute_decisions(results, srm_checks, metric_configs, health=health)
