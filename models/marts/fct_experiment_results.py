"""Experiment results: one row per experiment x metric x treatment-vs-control x slice x date.

A thin dbt wrapper: the statistics are pure functions of analysis_py over the per-arm
aggregates in fct_arm_statistics (no row-level data crosses into Python). The same function
runs outside dbt through `python -m exptools.analyze`.
"""

from exptools.arrow_io import read_arrow
from analysis_py import compute_results


def model(dbt, session):
    dbt.config(materialized="table")
    arm_statistics = read_arrow(dbt.ref("fct_arm_statistics"))
    metric_configs = read_arrow(dbt.ref("int_experiment_metrics_defined"))
    variants = read_arrow(dbt.ref("stg_registry__variants"))
    return compute_results(arm_statistics, metric_configs, variants)
