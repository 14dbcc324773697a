"""Explicit output schemas of the pipeline-level functions (fixed column order and types)."""
from __future__ import annotations

import pyarrow as pa

S, F, I, B, D = pa.string(), pa.float64(), pa.int64(), pa.bool_(), pa.date32()

RESULTS_SCHEMA = pa.schema([
    ("experiment_id", S),
    ("metric_id", S),
    ("metric_role", S),
    ("aggregation", S),
    ("control_variant_id", S),
    ("treatment_variant_id", S),
    ("dimension_name", S),
    ("dimension_value", S),
    ("analysis_date", D),
    ("n_control", I),
    ("n_treatment", I),
    ("mean_control", F),
    ("mean_treatment", F),
    ("absolute_effect", F),
    ("std_error", F),
    ("test_statistic", F),
    ("degrees_of_freedom", F),
    ("p_value", F),
    ("ci_lower", F),
    ("ci_upper", F),
    ("test_method", S),
    ("relative_effect", F),
    ("relative_ci_lower", F),
    ("relative_ci_upper", F),
    ("cuped_theta", F),
    ("cuped_absolute_effect", F),
    ("cuped_std_error", F),
    ("cuped_ci_lower", F),
    ("cuped_ci_upper", F),
    ("cuped_p_value", F),
    ("cuped_relative_effect", F),
    ("cuped_relative_ci_lower", F),
    ("cuped_relative_ci_upper", F),
    ("variance_reduction", F),
    ("estimate_method", S),
    ("decision_effect", F),
    ("decision_ci_lower", F),
    ("decision_ci_upper", F),
    ("decision_p_value", F),
    ("decision_relative_effect", F),
    ("decision_relative_ci_lower", F),
    ("decision_relative_ci_upper", F),
    ("p_value_holm", F),
    ("p_value_bh", F),
    ("family_size", I),
    ("adjusted_ci_lower", F),
    ("adjusted_ci_upper", F),
    ("non_inferiority_p_value", F),
    ("pre_period_imbalance_p_value", F),
    ("minimum_detectable_effect", F),
    ("achieved_power", F),
    ("prob_treatment_better", F),
    ("expected_loss", F),
    ("bayesian_method", S),
    ("analysis_method", S),
    ("information_fraction", F),
    ("sequential_p_value", F),
    ("sequential_ci_lower", F),
    ("sequential_ci_upper", F),
    ("sequential_boundary_z", F),
    ("is_boundary_crossed", B),
    ("msprt_mixing_sd", F),
    ("alpha", F),
    ("desired_direction", S),
    ("practical_threshold", F),
    ("threshold_scale", S),
    ("guardrail_tolerance", F),
    ("is_statistically_significant", B),
    ("is_practically_significant", B),
    ("guardrail_status", S),
    ("status", S),
    ("status_reason", S),
])

#: Columns compute_srm requires (cast to these types); every other input column is passed
#: through unchanged, then srm_p_value and is_srm are appended.
SRM_INPUT_SCHEMA = pa.schema([
    ("experiment_id", S),
    ("dimension_name", S),
    ("dimension_value", S),
    ("analysis_date", D),
    ("n_units_total", I),
    ("chi_square", F),
    ("degrees_of_freedom", I),
    ("srm_alpha", F),
])
SRM_ADDED_FIELDS = [pa.field("srm_p_value", F), pa.field("is_srm", B)]


def srm_output_schema(input_schema: pa.Schema) -> pa.Schema:
    """Schema of compute_srm's output for a given input schema."""
    fields = []
    for f in input_schema:
        if f.name in SRM_INPUT_SCHEMA.names:
            fields.append(SRM_INPUT_SCHEMA.field(f.name))
        elif f.name not in ("srm_p_value", "is_srm"):
            fields.append(f)
    return pa.schema(fields + SRM_ADDED_FIELDS)


DECISIONS_SCHEMA = pa.schema([
    ("experiment_id", S),
    ("analysis_date", D),
    ("is_final_analysis", B),
    ("decision", S),
    ("recommended_variant_id", S),
    ("primary_metric_id", S),
    ("srm_p_value", F),
    ("srm_detected", B),
    ("n_guardrail_breaches", I),
    ("decision_reasons", S),
    ("analysis_method", S),
    ("health_warnings", S),
])

ARM_STATS_KEY_COLUMNS = ("experiment_id", "metric_id", "variant_id", "dimension_name", "dimension_value", "analysis_date")
ARM_STATS_SUM_COLUMNS = (
    "sum_num", "sum_num_sq", "sum_den", "sum_den_sq", "sum_num_den",
    "sum_pre_num", "sum_pre_num_sq", "sum_pre_den", "sum_pre_den_sq", "sum_pre_num_pre_den",
    "sum_num_pre_num", "sum_num_pre_den", "sum_den_pre_num", "sum_den_pre_den",
)
METRIC_CONFIG_COLUMNS = (
    "experiment_id", "metric_id", "metric_role", "aggregation", "desired_direction",
    "practical_threshold", "threshold_scale", "guardrail_tolerance", "alpha", "use_cuped",
    "has_pre_period", "analysis_method", "start_date", "end_date",
)
VARIANT_COLUMNS = ("experiment_id", "variant_id", "is_control", "traffic_weight")
