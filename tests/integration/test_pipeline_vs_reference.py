"""The pipeline's tables against independent computations on the raw rows.

The reference (tests/reference_pipeline.py) re-implements docs/semantics.md in pandas without the
project's SQL; the statistics are recomputed here from per-unit rows with scipy / statsmodels.
Agreement is required to 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
import statsmodels.api as sm

from tests import reference_pipeline as reference

from .conftest import AS_OF_DATE, read_table

pytestmark = pytest.mark.integration

RTOL = 1e-9


@pytest.fixture(scope="module")
def ref(small_build):
    """Reference computations on the raw rows of the small build."""
    exposures, events = reference.read_raw_duckdb(small_build.database)
    registry = reference.load_registry()
    units = reference.kept_units(exposures, registry, AS_OF_DATE)
    valid_events = reference.valid_metric_events(events, AS_OF_DATE)
    return {
        "registry": registry,
        "exposures": exposures,
        "events": events,
        "units": units,
        "valid_events": valid_events,
    }


def _assert_frames_close(actual: pd.DataFrame, expected: pd.DataFrame, keys: list[str]):
    assert len(actual) == len(expected)
    actual = actual.sort_values(keys).reset_index(drop=True)
    expected = expected.sort_values(keys).reset_index(drop=True)
    for column in expected.columns:
        left, right = actual[column], expected[column]
        if pd.api.types.is_numeric_dtype(right) and not pd.api.types.is_bool_dtype(right):
            np.testing.assert_allclose(
                left.astype(float).to_numpy(), right.astype(float).to_numpy(),
                rtol=RTOL, atol=1e-9, equal_nan=True, err_msg=column,
            )
        else:
            assert left.astype(str).tolist() == right.astype(str).tolist(), column


def test_exposures_match_reference(small_build, ref):
    built = read_table(small_build.database, "select * from fct_exposures")
    expected = ref["units"]
    columns = ["experiment_id", "unit_id", "variant_id", "platform", "country", "city"]
    _assert_frames_close(built[columns], expected[columns], ["experiment_id", "unit_id"])
    merged = built.merge(expected, on=["experiment_id", "unit_id"], suffixes=("", "_ref"))
    assert (
        pd.to_datetime(merged["first_exposed_at"]) == pd.to_datetime(merged["first_exposed_at_ref"])
    ).all()


def test_quarantine_matches_reference(small_build, ref):
    built = read_table(small_build.database, "select * from fct_quarantine")
    expected = reference.quarantine_counts(ref["exposures"], ref["events"], ref["registry"], AS_OF_DATE)
    keys = ["source_table", "experiment_id", "reason"]
    built = built.fillna({"experiment_id": "<null>"})
    expected = expected.fillna({"experiment_id": "<null>"})
    _assert_frames_close(built[expected.columns], expected, keys)
    assert set(built["reason"]) >= {
        "internal_traffic", "bot_traffic", "multiple_variants", "unknown_variant",
        "missing_unit_id", "event_after_as_of_date", "invalid_value",
        "event_after_attribution_window", "event_before_exposure",
    }


def test_health_matches_reference(small_build, ref):
    built = read_table(small_build.database, "select * from fct_experiment_health")
    expected = reference.experiment_health(ref["exposures"], ref["events"], ref["registry"], AS_OF_DATE)
    for frame in (built, expected):
        for column in ("analysis_date", "last_exposure_date"):
            frame[column] = pd.to_datetime(frame[column])
    _assert_frames_close(built[expected.columns], expected, ["experiment_id", "analysis_date"])
    # The checks are exercised, not all zero.
    assert (expected["n_units_multiple_variants"] > 0).any()
    assert (expected["n_events_before_exposure"] > 0).any()
    assert expected["n_exposure_rows_on_date"].gt(0).any()
    # Health counts agree with the other marts: units exposed = kept + excluded units.
    final = expected.groupby("experiment_id").tail(1).set_index("experiment_id")
    kept = ref["units"].groupby("experiment_id").size()
    quarantine = read_table(
        small_build.database,
        "select experiment_id, sum(n_units) as n from fct_quarantine where source_table = 'exposures' "
        "and reason in ('internal_traffic', 'bot_traffic', 'multiple_variants') group by 1",
    ).set_index("experiment_id")["n"]
    for experiment_id, row in final.iterrows():
        assert row["n_units_exposed"] == kept.get(experiment_id, 0) + quarantine.get(experiment_id, 0), experiment_id


def test_arm_statistics_match_reference(small_build, ref):
    built = read_table(small_build.database, "select * from fct_arm_statistics")
    expected = reference.arm_statistics(ref["units"], ref["valid_events"], ref["registry"], AS_OF_DATE)
    built["analysis_date"] = pd.to_datetime(built["analysis_date"])
    expected["analysis_date"] = pd.to_datetime(expected["analysis_date"])
    keys = ["experiment_id", "metric_id", "variant_id", "dimension_name", "dimension_value", "analysis_date"]
    _assert_frames_close(built[expected.columns], expected, keys)


# ---------------------------------------------------------------------------------------------
# Statistics on per-unit rows (latest analysis date, overall slice)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def latest(small_build, ref):
    results = read_table(
        small_build.database,
        "select r.* from fct_experiment_results r join int_experiment_analysis_dates d "
        "using (experiment_id, analysis_date) where d.is_latest_analysis "
        "and r.dimension_name = 'overall'",
    )
    frames = []
    for analysis_date, date_results in results.groupby("analysis_date"):
        experiments = set(date_results["experiment_id"])
        units = ref["units"][ref["units"]["experiment_id"].isin(experiments)]
        frames.append(
            reference.unit_metric_values(units, ref["valid_events"], ref["registry"], analysis_date)
        )
    values = pd.concat(frames, ignore_index=True)
    return results, values


def _pairs(latest):
    results, values = latest
    for row in results.itertuples(index=False):
        rows = values[(values["experiment_id"] == row.experiment_id) & (values["metric_id"] == row.metric_id)]
        control = rows[rows["variant_id"] == row.control_variant_id]
        treatment = rows[rows["variant_id"] == row.treatment_variant_id]
        yield row, control, treatment


def _close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-12, err_msg=what)


def test_every_metric_type_is_checked(latest):
    results, _ = latest
    assert set(results["aggregation"]) == {"conversion", "count", "sum", "mean", "ratio"}
    assert (results["status"] == "ok").all()


def test_conversion_matches_statsmodels(latest):
    checked = 0
    for row, control, treatment in _pairs(latest):
        if row.aggregation != "conversion":
            continue
        counts = np.array([treatment["num"].sum(), control["num"].sum()])
        nobs = np.array([len(treatment), len(control)])
        statistic, p_value = proportions_ztest(counts, nobs)
        low, high = confint_proportions_2indep(
            counts[0], nobs[0], counts[1], nobs[1], method="wald", compare="diff", alpha=row.alpha
        )
        _close(row.mean_control, control["num"].mean(), "mean_control")
        _close(row.mean_treatment, treatment["num"].mean(), "mean_treatment")
        _close(row.absolute_effect, treatment["num"].mean() - control["num"].mean(), "effect")
        _close(row.test_statistic, statistic, "z")
        _close(row.p_value, p_value, "p")
        _close([row.ci_lower, row.ci_upper], [low, high], "ci")
        checked += 1
    assert checked >= 5


def test_count_and_sum_match_scipy_welch(latest):
    checked = 0
    for row, control, treatment in _pairs(latest):
        if row.aggregation not in ("count", "sum"):
            continue
        welch = stats.ttest_ind(treatment["num"], control["num"], equal_var=False)
        interval = welch.confidence_interval(confidence_level=1 - row.alpha)
        _close(row.mean_control, control["num"].mean(), "mean_control")
        _close(row.test_statistic, welch.statistic, "t")
        _close(row.p_value, welch.pvalue, "p")
        _close(row.degrees_of_freedom, welch.df, "df")
        _close([row.ci_lower, row.ci_upper], [interval.low, interval.high], "ci")
        checked += 1
    assert checked >= 4


def _ratio_and_variance(frame: pd.DataFrame) -> tuple[float, float]:
    """Delta method by linearisation on the unit rows: Var(R) = Var(num - R den) / (n mean(den)^2)."""
    ratio = frame["num"].sum() / frame["den"].sum()
    linear = frame["num"] - ratio * frame["den"]
    return ratio, linear.var(ddof=1) / (len(frame) * frame["den"].mean() ** 2)


def test_mean_and_ratio_match_delta_method_on_rows(latest):
    checked = 0
    for row, control, treatment in _pairs(latest):
        if row.aggregation not in ("mean", "ratio"):
            continue
        ratio_c, var_c = _ratio_and_variance(control)
        ratio_t, var_t = _ratio_and_variance(treatment)
        effect = ratio_t - ratio_c
        se = np.sqrt(var_c + var_t)
        z = stats.norm.isf(row.alpha / 2)
        _close([row.mean_control, row.mean_treatment], [ratio_c, ratio_t], "ratios")
        _close(row.std_error, se, "se")
        _close(row.p_value, 2 * stats.norm.sf(abs(effect / se)), "p")
        _close([row.ci_lower, row.ci_upper], [effect - z * se, effect + z * se], "ci")
        relative_se = np.sqrt(var_t / ratio_c**2 + ratio_t**2 * var_c / ratio_c**4)
        relative = ratio_t / ratio_c - 1
        _close(
            [row.relative_effect, row.relative_ci_lower, row.relative_ci_upper],
            [relative, relative - z * relative_se, relative + z * relative_se],
            "relative",
        )
        checked += 1
    assert checked >= 4


def test_cuped_matches_ols_on_rows(latest):
    checked = 0
    for row, control, treatment in _pairs(latest):
        if row.aggregation not in ("count", "sum", "conversion") or pd.isna(row.cuped_theta):
            continue
        both = pd.concat([control, treatment])
        design = pd.DataFrame({
            "const": 1.0,
            "treated": (both["variant_id"] == row.treatment_variant_id).astype(float),
            "covariate": both["pre_num"].astype(float),
        })
        fit = sm.OLS(both["num"].astype(float).to_numpy(), design).fit()
        theta = fit.params["covariate"]
        _close(row.cuped_theta, theta, "theta")
        _close(row.cuped_absolute_effect, fit.params["treated"], "cuped effect")
        adjusted_var = sum(
            (arm["num"] - theta * arm["pre_num"]).var(ddof=1) / len(arm) for arm in (control, treatment)
        )
        _close(row.cuped_std_error, np.sqrt(adjusted_var), "cuped se")
        checked += 1
    assert checked >= 2
