"""Bandit experiments: Thompson-sampling traffic weights (posterior probability each arm is best)
per experiment x analysis date x variant. Thin wrapper around
analysis_py.compute_bandit_allocations (also run outside dbt by `python -m exptools.analyze`)."""

from exptools.arrow_io import read_arrow
from analysis_py.designs import compute_bandit_allocations


def model(dbt, session):
    dbt.config(materialized="table")
    return compute_bandit_allocations(
        read_arrow(dbt.ref("fct_arm_statistics")),
        read_arrow(dbt.ref("int_experiment_metrics_defined")),
        read_arrow(dbt.ref("stg_registry__variants")),
    )
