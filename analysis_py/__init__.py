"""analysis_py: statistics for a warehouse-native A/B-testing pipeline.

Turns per-arm sufficient statistics (computed in SQL) into results and decisions. Never sees
row-level data. Low-level methods live in :mod:`moments`, :mod:`proportions`, :mod:`means`,
:mod:`ratio`, :mod:`relative`, :mod:`cuped`, :mod:`srm`, :mod:`multiple_testing`; the
pipeline-level functions are :func:`compute_results`, :func:`compute_srm` and
:func:`compute_decisions` (output schemas in :mod:`analysis_py.schemas`).
"""
from .cuped import cuped_from_moments, cuped_means, cuped_ratio, linearized_ratio_moments
from .anova import two_way_anova
from .bandit import thompson_allocation, thompson_allocation_long
from .bayesian import beta_binomial_ab_test, expected_loss_beta, normal_posterior_difference, prob_treatment_beats_control
from .decisions import compute_decisions
from .designs import compute_bandit_allocations, compute_factorial_anova
from .means import cohens_d, welch_ttest, z_test_difference
from .moments import (
    ArmSums,
    centered_cross_product,
    centered_sum_of_squares,
    covariance_from_sums,
    mean_from_sums,
    variance_condition,
    variance_from_sums,
)
from .multiple_testing import benjamini_hochberg, holm
from .power import (
    achieved_power,
    minimum_detectable_effect,
    power_curve,
    sample_size_means,
    sample_size_two_proportions,
)
from .proportions import cohens_h, two_proportion_ztest
from .ratio import ratio_delta_method
from .relative import relative_lift
from .results import compute_results
from .sequential import (
    always_valid,
    classic_obf_boundaries,
    group_sequential_boundaries,
    msprt_confidence_interval,
    msprt_p_value,
)
from .schemas import DECISIONS_SCHEMA, RESULTS_SCHEMA, SRM_INPUT_SCHEMA
from .srm import srm_p_value, srm_test
from .srm_results import compute_srm

__all__ = [
    "achieved_power", "always_valid", "beta_binomial_ab_test", "classic_obf_boundaries",
    "compute_bandit_allocations", "compute_factorial_anova", "expected_loss_beta", "group_sequential_boundaries",
    "minimum_detectable_effect", "msprt_confidence_interval", "msprt_p_value", "normal_posterior_difference",
    "power_curve", "prob_treatment_beats_control", "sample_size_means", "sample_size_two_proportions",
    "thompson_allocation", "thompson_allocation_long", "two_way_anova",
    "ArmSums", "DECISIONS_SCHEMA", "RESULTS_SCHEMA", "SRM_INPUT_SCHEMA",
    "benjamini_hochberg", "centered_cross_product", "centered_sum_of_squares", "cohens_d", "cohens_h",
    "compute_decisions", "compute_results", "compute_srm", "covariance_from_sums", "cuped_from_moments",
    "cuped_means", "cuped_ratio", "holm", "linearized_ratio_moments", "mean_from_sums",
    "ratio_delta_method", "relative_lift", "srm_p_value", "srm_test", "two_proportion_ztest",
    "variance_condition", "variance_from_sums", "welch_ttest", "z_test_difference",
]
