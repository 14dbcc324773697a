"""Factorial experiments: two-way ANOVA (Type II, with interaction) from the cell aggregates, one
row per experiment x metric x slice x analysis date x term. Thin wrapper around
analysis_py.compute_factorial_anova (also run outside dbt by `python -m exptools.analyze`)."""

from exptools.arrow_io import read_arrow
from analysis_py.designs import compute_factorial_anova


def model(dbt, session):
    dbt.config(materialized="table")
    return compute_factorial_anova(
        read_arrow(dbt.ref("fct_arm_statistics")),
        read_arrow(dbt.ref("int_experiment_metrics_defined")),
        read_arrow(dbt.ref("stg_registry__variants")),
    )
