import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from analysis_py import RESULTS_SCHEMA, compute_results, compute_srm
from analysis_py.schemas import srm_output_schema
from analysis_py.testing import arm_stats_from_units

RTOL = 1e-9
D1, D2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)
ARMS = {"A": 0.0, "B": 0.15, "C": -0.05}
METRICS = {  # metric_id: aggregation
    "conv": "conversion", "rev": "sum", "orders": "count", "aov": "mean", "rpv": "ratio",
}


def _units(seed=0, n=(400, 420, 380)):
    rng = np.random.default_rng(seed)
    rows = []
    for (arm, lift), n_arm in zip(ARMS.items(), n):
        platform = rng.choice(["ios", "web"], n_arm)
        day = np.where(rng.random(n_arm) < 0.5, 0, 1)
        pre = rng.gamma(2.0, 1.0, n_arm)
        for metric, agg in METRICS.items():
            if agg == "conversion":
                num = (rng.random(n_arm) < np.clip(0.2 + 0.05 * pre + lift * 0.2, 0, 1)).astype(float)
                pre_num, den, pre_den = (pre > 2).astype(float), np.nan, np.nan
            elif agg in ("sum", "count"):
                num = np.round(pre * (1 + lift) + rng.exponential(1.0, n_arm), 0 if agg == "count" else 6)
                pre_num, den, pre_den = np.round(pre, 0 if agg == "count" else 6), np.nan, np.nan
            else:
                den = rng.poisson(2.0, n_arm).astype(float) + (agg == "ratio")
                pre_den = rng.poisson(2.0, n_arm).astype(float) + 1
                num = den * (1 + lift) * rng.gamma(2.0, 1.0, n_arm) + 0.3 * pre * den
                pre_num = pre_den * pre
            rows.append(pd.DataFrame({
                "experiment_id": "exp1", "metric_id": metric, "variant_id": arm, "platform": platform,
                "day": day, "num": num, "den": den, "pre_num": pre_num, "pre_den": pre_den}))
    return pd.concat(rows, ignore_index=True)


def _arm_stats(units):
    """Cumulative dates (D1: day-0 units, D2: all) x slices (overall/all, platform/*)."""
    parts = []
    for date, maxday in ((D1, 0), (D2, 1)):
        u = units[units.day <= maxday]
        parts.append(u.assign(dimension_name="overall", dimension_value="all", analysis_date=date))
        parts.append(u.assign(dimension_name="platform", dimension_value=u.platform, analysis_date=date))
    return arm_stats_from_units(pd.concat(parts, ignore_index=True))


def _configs(**over):
    rows = []
    for m, agg in METRICS.items():
        rows.append({
            "experiment_id": "exp1", "metric_id": m, "metric_role": "primary" if m == "conv" else "secondary",
            "aggregation": agg, "desired_direction": "increase", "practical_threshold": 0.01,
            "threshold_scale": "relative", "guardrail_tolerance": None, "alpha": 0.05, "use_cuped": False,
            "has_pre_period": True, "analysis_method": "fixed_horizon", "start_date": D1, "end_date": D2})
    df = pd.DataFrame(rows)
    for k, v in over.items():
        df[k] = v
    return df


VARIANTS = pd.DataFrame({"experiment_id": "exp1", "variant_id": list(ARMS), "is_control": [True, False, False],
                         "traffic_weight": [1 / 3] * 3})


@pytest.fixture(scope="module")
def units():
    return _units()


@pytest.fixture(scope="module")
def results(units):
    return compute_results(_arm_stats(units), _configs(), VARIANTS).to_pandas()


def _row(res, metric, arm, date=D2, dim=("overall", "all")):
    r = res[(res.metric_id == metric) & (res.treatment_variant_id == arm) & (res.analysis_date == date)
            & (res.dimension_name == dim[0]) & (res.dimension_value == dim[1])]
    assert len(r) == 1
    return r.iloc[0]


def _rows(units, metric, arm, platform=None):
    u = units[(units.metric_id == metric) & (units.variant_id == arm)]
    return u if platform is None else u[u.platform == platform]


def test_schema_and_grain(units):
    arm = _arm_stats(units)
    out = compute_results(arm, _configs(), VARIANTS)
    assert out.schema == RESULTS_SCHEMA
    # experiment x metric x 2 treatments x 3 slices x 2 dates
    assert out.num_rows == len(METRICS) * 2 * 3 * 2
    assert set(out.column("status").to_pylist()) == {"ok"}
    # pyarrow input gives the same table
    out2 = compute_results(pa.Table.from_pandas(arm), pa.Table.from_pandas(_configs()), pa.Table.from_pandas(VARIANTS))
    assert out2.equals(out)


def test_conversion_matches_statsmodels(results, units):
    for arm in ("B", "C"):
        for platform, dim in ((None, ("overall", "all")), ("ios", ("platform", "ios"))):
            r = _row(results, "conv", arm, dim=dim)
            c, t = _rows(units, "conv", "A", platform), _rows(units, "conv", arm, platform)
            stat, p = proportions_ztest([t.num.sum(), c.num.sum()], [len(t), len(c)])
            lo, hi = confint_proportions_2indep(t.num.sum(), len(t), c.num.sum(), len(c), method="wald", compare="diff")
            assert r.test_method == "two_proportion_z" and np.isnan(r.degrees_of_freedom)
            assert r.test_statistic == pytest.approx(stat, rel=RTOL)
            assert r.p_value == pytest.approx(p, rel=RTOL)
            assert r.ci_lower == pytest.approx(lo, rel=RTOL) and r.ci_upper == pytest.approx(hi, rel=RTOL)
            assert r.n_control == len(c) and r.n_treatment == len(t)
            assert r.relative_effect == pytest.approx(t.num.mean() / c.num.mean() - 1, rel=RTOL)


@pytest.mark.parametrize("metric", ["rev", "orders"])
def test_sum_and_count_match_scipy_welch(results, units, metric):
    for arm in ("B", "C"):
        r = _row(results, metric, arm)
        c, t = _rows(units, metric, "A"), _rows(units, metric, arm)
        ref = stats.ttest_ind(t.num, c.num, equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert r.test_method == "welch_t"
        assert r.test_statistic == pytest.approx(ref.statistic, rel=RTOL)
        assert r.p_value == pytest.approx(ref.pvalue, rel=RTOL)
        assert r.degrees_of_freedom == pytest.approx(ref.df, rel=RTOL)
        assert r.ci_lower == pytest.approx(ci.low, rel=RTOL) and r.ci_upper == pytest.approx(ci.high, rel=RTOL)
        assert r.mean_treatment == pytest.approx(t.num.mean(), rel=RTOL)


@pytest.mark.parametrize("metric", ["aov", "rpv"])
def test_mean_and_ratio_match_row_level_delta_method(results, units, metric):
    for arm in ("B", "C"):
        r = _row(results, metric, arm)
        est, var = [], []
        for d in (_rows(units, metric, "A"), _rows(units, metric, arm)):
            R = d.num.sum() / d.den.sum()
            est.append(R)
            var.append(((d.num - R * d.den) / d.den.mean()).var(ddof=1) / len(d))
        se = np.sqrt(sum(var))
        z = (est[1] - est[0]) / se
        assert r.test_method == "delta_method_z"
        assert r.mean_control == pytest.approx(est[0], rel=RTOL)
        assert r.std_error == pytest.approx(se, rel=RTOL)
        assert r.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-8)
        rel_se = np.sqrt(var[1] / est[0] ** 2 + est[1] ** 2 * var[0] / est[0] ** 4)
        assert r.relative_ci_upper == pytest.approx(est[1] / est[0] - 1 + stats.norm.ppf(0.975) * rel_se, rel=RTOL)


def test_multiple_testing_family_is_all_metrics_and_arms(results):
    """Holm and BH over every metric x treatment arm of (experiment, slice, date); guardrails enter
    with their one-sided non-inferiority p-value; Bonferroni-widened CIs at alpha / m."""
    sub = results[(results.dimension_name == "overall") & (results.analysis_date == D2)]
    family_p = np.where(sub.metric_role == "guardrail", sub.non_inferiority_p_value, sub.decision_p_value)
    ok = np.isfinite(family_p)
    np.testing.assert_allclose(sub.p_value_holm.to_numpy()[ok], multipletests(family_p[ok], method="holm")[1], rtol=RTOL)
    np.testing.assert_allclose(sub.p_value_bh.to_numpy()[ok], multipletests(family_p[ok], method="fdr_bh")[1], rtol=RTOL)
    assert (sub.family_size == ok.sum()).all() and ok.sum() >= 8
    assert (sub.is_statistically_significant == (sub.p_value_holm < 0.05)).all()
    m = ok.sum()
    for _, r in sub.iterrows():
        if r.test_method == "welch_t" and r.estimate_method == "unadjusted":
            crit = stats.t.ppf(1 - 0.05 / (2 * m), r.degrees_of_freedom)
            se = (r.decision_ci_upper - r.decision_ci_lower) / (2 * stats.t.ppf(0.975, r.degrees_of_freedom))
        else:
            crit = stats.norm.ppf(1 - 0.05 / (2 * m))
            se = (r.decision_ci_upper - r.decision_ci_lower) / (2 * stats.norm.ppf(0.975))
        assert r.adjusted_ci_lower == pytest.approx(r.decision_effect - crit * se, rel=1e-9, abs=1e-12)
        assert r.adjusted_ci_upper == pytest.approx(r.decision_effect + crit * se, rel=1e-9, abs=1e-12)


def test_cuped_matches_ols_and_becomes_decision_estimate(units):
    res = compute_results(_arm_stats(units), _configs(use_cuped=True), VARIANTS).to_pandas()
    for metric in ("conv", "rev"):
        r = _row(res, metric, "B")
        c, t = _rows(units, metric, "A"), _rows(units, metric, "B")
        y = np.r_[c.num, t.num]
        X = sm.add_constant(np.c_[np.r_[np.zeros(len(c)), np.ones(len(t))], np.r_[c.pre_num, t.pre_num]])
        ols = sm.OLS(y, X).fit()
        assert r.estimate_method == "cuped"
        assert r.cuped_absolute_effect == pytest.approx(ols.params[1], rel=RTOL)
        assert r.cuped_theta == pytest.approx(ols.params[2], rel=RTOL)
        assert r.decision_effect == r.cuped_absolute_effect and r.decision_p_value == r.cuped_p_value
        assert r.variance_reduction > 0
    r = _row(res, "rpv", "B")
    assert r.estimate_method == "cuped" and r.cuped_std_error < r.std_error
    # without pre-period: unadjusted
    res2 = compute_results(_arm_stats(units), _configs(use_cuped=True, has_pre_period=False), VARIANTS).to_pandas()
    r2 = _row(res2, "rev", "B")
    assert r2.estimate_method == "unadjusted" and np.isnan(r2.cuped_theta) and r2.decision_effect == r2.absolute_effect


def test_cuped_missing_pre_sums_falls_back_with_reason(units):
    arm = _arm_stats(units)
    for c in [c for c in arm.columns if "pre" in c and c != "n_units_with_pre_period"]:
        arm[c] = np.nan
    res = compute_results(arm, _configs(use_cuped=True), VARIANTS).to_pandas()
    r = _row(res, "rev", "B")
    assert r.status == "ok" and r.estimate_method == "unadjusted"
    assert "cuped_missing_pre_period_sums" in r.status_reason


def _agg_frame(rows):
    """Hand-built aggregates: rows of (variant, metric, n, sum_num, sum_num_sq[, sum_den, sum_den_sq, sum_num_den])."""
    recs = []
    for v, m, n, s, ss, *den in rows:
        rec = {"experiment_id": "e", "metric_id": m, "variant_id": v, "dimension_name": "overall",
               "dimension_value": "all", "analysis_date": D1, "n_units": n, "n_units_with_pre_period": 0,
               "sum_num": s, "sum_num_sq": ss}
        if den:
            rec.update(sum_den=den[0], sum_den_sq=den[1], sum_num_den=den[2])
        recs.append(rec)
    return pd.DataFrame(recs)


def _cfg(metric, agg, **kw):
    base = {"experiment_id": "e", "metric_id": metric, "metric_role": "secondary", "aggregation": agg,
            "desired_direction": "increase", "practical_threshold": 0.0, "threshold_scale": "relative",
            "guardrail_tolerance": None, "alpha": 0.05, "use_cuped": False, "has_pre_period": False,
            "analysis_method": "fixed_horizon", "start_date": D1, "end_date": D1}
    base.update(kw)
    return base


VAR2 = pd.DataFrame({"experiment_id": "e", "variant_id": ["A", "B"], "is_control": [True, False], "traffic_weight": 0.5})


def _one(rows, cfgs, variants=VAR2):
    with np.errstate(all="raise"):
        out = compute_results(_agg_frame(rows), pd.DataFrame(cfgs), variants)
    assert out.schema == RESULTS_SCHEMA
    return out.to_pandas().set_index("metric_id")


def test_degenerate_inputs_never_raise_and_get_status():
    rows = [
        ("A", "n0", 0, 0.0, 0.0), ("B", "n0", 10, 3.0, 3.0),                # empty control arm
        ("A", "n1", 1, 1.0, 1.0), ("B", "n1", 10, 3.0, 3.0),                # n = 1
        ("A", "allconv", 50, 50.0, 50.0), ("B", "allconv", 60, 60.0, 60.0),  # all conversions
        ("A", "const", 20, 60.0, 180.0), ("B", "const", 20, 80.0, 320.0),   # zero variance (3.0 vs 4.0)
        ("A", "nan", 20, np.nan, np.nan), ("B", "nan", 20, 5.0, 9.0),       # NULL sums with units
        ("A", "badconv", 10, 12.0, 12.0), ("B", "badconv", 10, 5.0, 5.0),   # conversions > n
        ("A", "zeroden", 10, 0.0, 0.0, 0.0, 0.0, 0.0), ("B", "zeroden", 10, 5.0, 9.0, 4.0, 4.0, 5.0),
        ("A", "zeromean", 30, 0.0, 0.0), ("B", "zeromean", 30, 4.0, 8.0),   # control mean 0, variance 0
        ("A", "nocfg", 30, 3.0, 3.0), ("B", "nocfg", 30, 4.0, 4.0),
        ("A", "badagg", 30, 3.0, 3.0), ("B", "badagg", 30, 4.0, 4.0),
    ]
    cfgs = [_cfg("n0", "conversion"), _cfg("n1", "count"), _cfg("allconv", "conversion"), _cfg("const", "sum"),
            _cfg("nan", "sum"), _cfg("badconv", "conversion"), _cfg("zeroden", "ratio"), _cfg("zeromean", "sum"),
            _cfg("badagg", "median")]
    r = _one(rows, cfgs)
    expect = {
        "n0": ("insufficient_data", "n_control_below_minimum"),
        "n1": ("insufficient_data", "n_control_below_minimum"),
        "allconv": ("insufficient_data", "zero_variance"),
        "const": ("insufficient_data", "zero_variance"),
        "nan": ("invalid_input", "missing_sums"),
        "badconv": ("invalid_input", "conversions_out_of_range"),
        "zeroden": ("insufficient_data", "zero_denominator"),
        "zeromean": ("ok", "relative_effect_undefined_zero_control_mean"),
        "nocfg": ("invalid_input", "missing_metric_config"),
        "badagg": ("invalid_input", "unknown_aggregation"),
    }
    for m, (status, reason) in expect.items():
        assert r.loc[m, "status"] == status, (m, r.loc[m, "status"], r.loc[m, "status_reason"])
        assert reason in r.loc[m, "status_reason"], (m, r.loc[m, "status_reason"])
        if status != "ok":
            assert np.isnan(r.loc[m, "p_value"]) and not r.loc[m, "is_statistically_significant"]
    assert r.loc["const", "absolute_effect"] == pytest.approx(1.0)  # point estimate still reported
    assert np.isnan(r.loc["zeromean", "relative_effect"]) and np.isfinite(r.loc["zeromean", "p_value"])


def test_missing_control_and_registration_problems():
    rows = [("B", "m", 30, 3.0, 3.0)]
    r = _one(rows, [_cfg("m", "conversion")])
    assert r.loc["m", "status"] == "missing_control" and r.loc["m", "status_reason"] == "control_arm_missing"
    assert r.loc["m", "control_variant_id"] == "A" and pd.isna(r.loc["m", "n_control"])
    no_ctrl = VAR2.assign(is_control=False)
    r = _one([("A", "m", 30, 3.0, 3.0), ("B", "m", 30, 4.0, 4.0)], [_cfg("m", "conversion")], no_ctrl)
    assert (r["status"] == "missing_control").all() and len(r) == 2
    assert (r["status_reason"] == "no_control_variant_registered").all()
    r = _one([("A", "m", 30, 3.0, 3.0), ("X", "m", 30, 4.0, 4.0)], [_cfg("m", "conversion")])
    assert r.loc["m", "status"] == "invalid_input" and "unknown_variant" in r.loc["m", "status_reason"]
    two = VAR2.assign(is_control=True)
    r = _one([("A", "m", 30, 3.0, 3.0), ("B", "m", 30, 4.0, 4.0)], [_cfg("m", "conversion")], two)
    assert len(r) == 1 and r.loc["m", "status"] == "invalid_input"
    assert "multiple_control_variants" in r.loc["m", "status_reason"] and r.loc["m", "control_variant_id"] == "A"


def test_empty_input():
    out = compute_results(_agg_frame([]).reindex(columns=["experiment_id", "metric_id", "variant_id", "dimension_name",
                                                          "dimension_value", "analysis_date", "n_units", "sum_num",
                                                          "sum_num_sq"]), pd.DataFrame([_cfg("m", "sum")]), VAR2)
    assert out.num_rows == 0 and out.schema == RESULTS_SCHEMA


def _welch_rows(metric, mean_c, mean_t, sd=1.0, n=10_000):
    """Sums of n units with the given mean and SD in each arm."""
    def arm(m):
        s = n * m
        return s, (n - 1) * sd**2 + s * s / n
    return [("A", metric, n, *arm(mean_c)), ("B", metric, n, *arm(mean_t))]


def test_practical_significance_scales_and_directions():
    rows = (_welch_rows("up_rel", 10.0, 10.3) + _welch_rows("up_small", 10.0, 10.05) + _welch_rows("down", 10.0, 9.7)
            + _welch_rows("abs", 10.0, 10.3) + _welch_rows("wrongway", 10.0, 10.3))
    cfgs = [_cfg("up_rel", "sum", practical_threshold=0.02), _cfg("up_small", "sum", practical_threshold=0.02),
            _cfg("down", "sum", desired_direction="decrease", practical_threshold=0.02),
            _cfg("abs", "sum", threshold_scale="absolute", practical_threshold=0.25),
            _cfg("wrongway", "sum", desired_direction="decrease", practical_threshold=0.0)]
    r = _one(rows, cfgs)
    assert r.loc["up_rel", "is_practically_significant"] and r.loc["up_rel", "is_statistically_significant"]
    assert not r.loc["up_small", "is_practically_significant"] and r.loc["up_small", "is_statistically_significant"]
    assert r.loc["down", "is_practically_significant"]
    assert r.loc["abs", "is_practically_significant"]
    assert not r.loc["wrongway", "is_practically_significant"]
    assert r["guardrail_status"].isna().all()


def test_guardrail_statuses():
    rows = (_welch_rows("breach", 10.0, 9.0) + _welch_rows("small_harm", 10.0, 9.9) + _welch_rows("fine", 10.0, 10.0)
            + _welch_rows("noisy", 10.0, 9.9, sd=50.0) + _welch_rows("lat", 100.0, 110.0, sd=5.0))
    g = dict(metric_role="guardrail", guardrail_tolerance=0.05)
    cfgs = [_cfg("breach", "sum", **g), _cfg("small_harm", "sum", **g), _cfg("fine", "sum", **g), _cfg("noisy", "sum", **g),
            _cfg("lat", "sum", desired_direction="decrease", **g)]
    r = _one(rows, cfgs)
    assert r.loc["breach", "guardrail_status"] == "breached"       # -10%, significant, beyond 5%
    assert r.loc["small_harm", "guardrail_status"] == "non_inferior"  # -1% significant but CI within 5%
    assert r.loc["fine", "guardrail_status"] == "non_inferior"
    assert r.loc["noisy", "guardrail_status"] == "inconclusive"
    assert r.loc["lat", "guardrail_status"] == "breached"          # +10% latency, lower is better
    # non-inferiority p-value: one-sided z of (tolerance - relative harm) over the delta-method SE
    for name in ("small_harm", "fine", "noisy"):
        row = r.loc[name]
        harm = -row.decision_relative_effect
        se = (row.decision_relative_ci_upper - row.decision_relative_ci_lower) / (2 * stats.norm.ppf(0.975))
        assert row.non_inferiority_p_value == pytest.approx(stats.norm.sf((0.05 - harm) / se), rel=1e-9)
    assert (r.loc[["small_harm", "fine"], "non_inferiority_p_value"] < 0.05).all()
    assert r.loc["noisy", "non_inferiority_p_value"] > 0.05


def test_negative_control_mean_orientation():
    rows = _welch_rows("neg", -10.0, -9.0)  # treatment is higher (better for 'increase')
    r = _one(rows, [_cfg("neg", "sum", practical_threshold=0.05)])
    assert r.loc["neg", "absolute_effect"] > 0 and r.loc["neg", "relative_effect"] < 0
    assert r.loc["neg", "is_practically_significant"]


def test_relative_ci_methods_option(units):
    arm = _arm_stats(units)
    for method in ("log", "fieller"):
        res = compute_results(arm, _configs(), VARIANTS, relative_ci_method=method).to_pandas()
        r = _row(res, "rpv", "B")
        assert r.relative_ci_lower < r.relative_effect < r.relative_ci_upper


def test_compute_srm_keeps_columns_and_flags():
    df = pd.DataFrame({
        "experiment_id": ["e", "e", "f", "g"], "dimension_name": "overall", "dimension_value": "all",
        "analysis_date": [D1, D2, D1, D1], "n_units_total": [1000, 2000, 0, 10],
        "chi_square": [0.5, 40.0, None, 3.0], "degrees_of_freedom": [1, 1, 1, 1], "srm_alpha": [0.001, 0.001, 0.001, None],
        "expected_json": ["x", "y", "z", "w"]})
    out = compute_srm(df)
    assert out.schema == srm_output_schema(pa.Table.from_pandas(df, preserve_index=False).schema)
    assert out.column_names[:-2] == list(df.columns)
    p = out.column("srm_p_value").to_pylist()
    assert p[0] == pytest.approx(stats.chi2.sf(0.5, 1), rel=RTOL) and p[2] is None
    assert out.column("is_srm").to_pylist() == [False, True, False, False]
    assert out.column("expected_json").to_pylist() == ["x", "y", "z", "w"]


def test_threaded_partitioning_gives_identical_rows(units, monkeypatch):
    import analysis_py.results as R

    arm = _arm_stats(units)
    arm2 = pd.concat([arm, arm.assign(experiment_id="exp2"), arm.assign(experiment_id="exp3")], ignore_index=True)
    cfg = pd.concat([_configs(use_cuped=True).assign(experiment_id=e) for e in ("exp1", "exp2", "exp3")])
    var = pd.concat([VARIANTS.assign(experiment_id=e) for e in ("exp1", "exp2", "exp3")])
    single = compute_results(arm2, cfg, var, n_threads=1)
    monkeypatch.setattr(R, "PARALLEL_MIN_ROWS", 0)
    multi = compute_results(arm2, cfg, var, n_threads=2)
    keys = [(c, "ascending") for c in ("experiment_id", "metric_id", "treatment_variant_id", "dimension_name",
                                       "dimension_value", "analysis_date")]
    assert multi.schema == RESULTS_SCHEMA
    assert single.sort_by(keys).equals(multi.sort_by(keys))


def test_timestamp_and_string_dates_accepted(units):
    arm = _arm_stats(units)
    ref = compute_results(arm, _configs(), VARIANTS)
    for conv in (lambda s: pd.to_datetime(s), lambda s: s.astype(str)):
        out = compute_results(arm.assign(analysis_date=conv(arm.analysis_date)), _configs(), VARIANTS)
        assert out.column("analysis_date").equals(ref.column("analysis_date"))


@pytest.mark.parametrize("metric", ["conv", "rev", "orders", "aov"])
def test_pre_period_imbalance_matches_welch_on_pre_rows(results, units, metric):
    for arm in ("B", "C"):
        r = _row(results, metric, arm)
        c, t = _rows(units, metric, "A"), _rows(units, metric, arm)
        ref = stats.ttest_ind(t.pre_num, c.pre_num, equal_var=False)
        assert r.pre_period_imbalance_p_value == pytest.approx(ref.pvalue, rel=RTOL)


def test_bayesian_columns_against_numerical_integration(results, units):
    """Conversion on the overall slice of the latest date: exact Beta-Binomial with Beta(1,1)
    priors, checked by quadrature; other rows: normal model with a flat prior."""
    from scipy import integrate
    r = _row(results, "conv", "B")
    assert r.bayesian_method == "beta_binomial"
    c, t = _rows(units, "conv", "A"), _rows(units, "conv", "B")
    at, bt = t.num.sum() + 1, len(t) - t.num.sum() + 1
    ac, bc = c.num.sum() + 1, len(c) - c.num.sum() + 1
    prob = integrate.quad(lambda x: stats.beta.pdf(x, at, bt) * stats.beta.cdf(x, ac, bc), 0, 1, epsabs=1e-13, limit=200)[0]
    assert r.prob_treatment_better == pytest.approx(prob, abs=1e-8)
    loss = integrate.dblquad(lambda y, x: max(x - y, 0) * stats.beta.pdf(x, ac, bc) * stats.beta.pdf(y, at, bt),
                             0, 1, 0, 1, epsabs=1e-12)[0]
    assert r.expected_loss == pytest.approx(loss, rel=1e-4, abs=1e-9)
    for metric in ("rev", "aov"):
        r = _row(results, metric, "B")
        assert r.bayesian_method == "normal"
        se = (r.decision_ci_upper - r.decision_ci_lower) / (2 * (stats.t.ppf(0.975, r.degrees_of_freedom)
                                                                  if r.test_method == "welch_t" and r.estimate_method == "unadjusted"
                                                                  else stats.norm.ppf(0.975)))
        assert r.prob_treatment_better == pytest.approx(stats.norm.cdf(r.decision_effect / se), rel=1e-9)
        loss = integrate.quad(lambda d: max(-d, 0) * stats.norm.pdf(d, r.decision_effect, se),
                              r.decision_effect - 12 * se, r.decision_effect + 12 * se, epsabs=1e-14)[0]
        assert r.expected_loss == pytest.approx(loss, rel=1e-6, abs=1e-12)


def test_power_columns(results):
    """MDE = (z_{1-a/2} + z_power) * SE; achieved power at the practical threshold from the
    normal power function (both tails), as statsmodels NormalIndPower computes it."""
    from statsmodels.stats.power import NormalIndPower
    for metric in ("conv", "rev", "aov"):
        r = _row(results, metric, "B")
        se = r.minimum_detectable_effect / (stats.norm.ppf(0.975) + stats.norm.ppf(0.8))
        effect = 0.01 * abs(r.mean_control)
        ref = NormalIndPower().power(effect_size=effect / se, nobs1=1, alpha=0.05, ratio=0)  # z = effect / SE
        if r.estimate_method == "unadjusted":
            assert r.achieved_power == pytest.approx(ref, rel=1e-8)
        assert 0 < r.achieved_power < 1
