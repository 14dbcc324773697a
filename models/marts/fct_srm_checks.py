"""Sample-ratio-mismatch checks: the SQL chi-square (int_srm_chi_square) plus its p-value."""

from exptools.arrow_io import read_arrow
from analysis_py import compute_srm


def model(dbt, session):
    dbt.config(materialized="table")
    return compute_srm(read_arrow(dbt.ref("int_srm_chi_square")))
