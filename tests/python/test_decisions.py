import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analysis_py import DECISIONS_SCHEMA, compute_decisions, compute_results, compute_srm

END = dt.date(2024, 5, 10)
INTERIM = dt.date(2024, 5, 3)


def _res_row(treat="B", metric="primary_m", role="primary", effect=0.05, p_holm=0.001, prac=True,
             guardrail_status=None, status="ok", direction="increase", date=END, rel=None, dim=("overall", "all")):
    return {
        "experiment_id": "e", "metric_id": metric, "metric_role": role, "control_variant_id": "A",
        "treatment_variant_id": treat, "dimension_name": dim[0], "dimension_value": dim[1], "analysis_date": date,
        "decision_effect": effect, "decision_relative_effect": effect if rel is None else rel,
        "decision_ci_lower": effect - 0.01, "decision_ci_upper": effect + 0.01, "p_value_holm": p_holm,
        "alpha": 0.05, "desired_direction": direction, "practical_threshold": 0.01, "threshold_scale": "relative",
        "guardrail_tolerance": 0.05 if role == "guardrail" else None,
        "is_statistically_significant": bool(p_holm < 0.05) if status == "ok" else False,
        "is_practically_significant": prac if status == "ok" else False,
        "guardrail_status": guardrail_status if role == "guardrail" else None, "status": status,
        "status_reason": None if status == "ok" else "n_control_below_minimum", "estimate_method": "unadjusted",
    }


def _srm(p=0.5, date=END):
    return compute_srm(pd.DataFrame({"experiment_id": ["e"], "dimension_name": ["overall"], "dimension_value": ["all"],
                                     "analysis_date": [date], "n_units_total": [1000], "chi_square": [0.0],
                                     "degrees_of_freedom": [1], "srm_alpha": [0.001]}).assign(
        chi_square=lambda d: __import__("scipy").stats.chi2.isf(p, 1)))


CFG = pd.DataFrame({
    "experiment_id": "e", "metric_id": ["primary_m", "guard_m", "sec_m"],
    "metric_role": ["primary", "guardrail", "secondary"], "aggregation": "sum", "desired_direction": "increase",
    "practical_threshold": 0.01, "threshold_scale": "relative", "guardrail_tolerance": [None, 0.05, None],
    "alpha": 0.05, "use_cuped": False, "has_pre_period": False, "analysis_method": "fixed_horizon",
    "start_date": dt.date(2024, 5, 1), "end_date": END})


def _decide(rows, srm_p=0.5, cfg=CFG, date=END):
    out = compute_decisions(pd.DataFrame(rows), _srm(srm_p, date), cfg)
    assert out.schema == DECISIONS_SCHEMA
    assert out.num_rows == 1
    return out.to_pylist()[0]


def test_ship_when_significant_and_practical_at_final():
    d = _decide([_res_row()])
    assert d["decision"] == "ship" and d["recommended_variant_id"] == "B" and d["is_final_analysis"]
    assert d["primary_metric_id"] == "primary_m" and not d["srm_detected"] and d["n_guardrail_breaches"] == 0
    assert "B vs A" in d["decision_reasons"] and "primary_m" in d["decision_reasons"]
    assert d["analysis_method"] == "fixed_horizon"


def test_srm_forces_rerun():
    d = _decide([_res_row()], srm_p=1e-6)
    assert d["decision"] == "rerun" and d["srm_detected"] and d["recommended_variant_id"] is None
    assert "SRM detected" in d["decision_reasons"]


def test_guardrail_breach_vetoes_a_winning_primary():
    d = _decide([_res_row(), _res_row(metric="guard_m", role="guardrail", effect=-0.1, guardrail_status="breached")])
    assert d["decision"] == "stop" and d["n_guardrail_breaches"] == 1
    assert "guard_m breached" in d["decision_reasons"]


def test_primary_significantly_harmful_stops_even_at_interim():
    d = _decide([_res_row(effect=-0.05, prac=False, date=INTERIM)], date=INTERIM)
    assert d["decision"] == "stop" and not d["is_final_analysis"]
    assert "harmful" in d["decision_reasons"]


def test_interim_never_ships():
    d = _decide([_res_row(date=INTERIM)], date=INTERIM)
    assert d["decision"] == "keep_running" and d["recommended_variant_id"] is None


@pytest.mark.parametrize("p_holm,prac,expected", [(0.001, False, "iterate"), (0.3, True, "iterate"), (0.3, False, "stop")])
def test_final_two_by_two(p_holm, prac, expected):
    assert _decide([_res_row(p_holm=p_holm, prac=prac, effect=0.001 if not prac else 0.05)])["decision"] == expected


def test_decrease_direction_and_best_arm_recommended():
    rows = [_res_row(treat="B", effect=-0.05, direction="decrease"), _res_row(treat="C", effect=-0.08, direction="decrease"),
            _res_row(treat="D", effect=0.02, p_holm=0.5, prac=False, direction="decrease")]
    d = _decide(rows)
    assert d["decision"] == "ship" and d["recommended_variant_id"] == "C"


def test_mixed_arms_ship_beats_stop_and_iterate_beats_stop():
    d = _decide([_res_row(treat="B"), _res_row(treat="C", effect=0.0, p_holm=0.9, prac=False)])
    assert d["decision"] == "ship" and d["recommended_variant_id"] == "B"
    d = _decide([_res_row(treat="B", p_holm=0.3), _res_row(treat="C", effect=0.0, p_holm=0.9, prac=False)])
    assert d["decision"] == "iterate"
    d = _decide([_res_row(treat="B", date=INTERIM),
                 _res_row(treat="C", date=INTERIM, metric="guard_m", role="guardrail", guardrail_status="breached"),
                 _res_row(treat="C", date=INTERIM)], date=INTERIM)
    assert d["decision"] == "keep_running" and d["n_guardrail_breaches"] == 1


def test_missing_primary_or_control_reruns():
    d = _decide([_res_row(metric="sec_m", role="secondary")])
    assert d["decision"] == "rerun" and "no result for the primary metric" in d["decision_reasons"]
    d = _decide([_res_row(status="missing_control")])
    assert d["decision"] == "rerun" and "missing_control" in d["decision_reasons"]
    d = _decide([_res_row()], cfg=CFG[CFG.metric_role != "primary"])
    assert d["decision"] == "rerun" and d["primary_metric_id"] is None
    assert "no primary metric configured" in d["decision_reasons"]


def test_insufficient_data_keeps_running_then_reruns():
    assert _decide([_res_row(status="insufficient_data", date=INTERIM)], date=INTERIM)["decision"] == "keep_running"
    assert _decide([_res_row(status="insufficient_data")])["decision"] == "rerun"


def test_only_overall_slice_is_used_and_missing_srm_is_reported():
    rows = [_res_row(), _res_row(effect=-0.5, dim=("platform", "ios"))]
    d = _decide(rows)
    assert d["decision"] == "ship"
    out = compute_decisions(pd.DataFrame([_res_row()]), _srm().slice(0, 0), CFG).to_pylist()[0]
    assert out["srm_p_value"] is None and not out["srm_detected"] and "SRM check unavailable" in out["decision_reasons"]


def test_end_to_end_from_aggregates():
    """compute_results -> compute_srm -> compute_decisions on hand-built aggregates."""
    n = 20_000

    def arm(v, m, mean, sd=1.0):
        s = n * mean
        return {"experiment_id": "e", "metric_id": m, "variant_id": v, "dimension_name": "overall",
                "dimension_value": "all", "analysis_date": END, "n_units": n, "n_units_with_pre_period": 0,
                "sum_num": s, "sum_num_sq": (n - 1) * sd**2 + s * s / n}

    arms = pd.DataFrame([arm("A", "primary_m", 10.0), arm("B", "primary_m", 10.5), arm("C", "primary_m", 10.6),
                         arm("A", "guard_m", 5.0), arm("B", "guard_m", 5.0), arm("C", "guard_m", 4.0),
                         arm("A", "sec_m", 1.0), arm("B", "sec_m", 1.0), arm("C", "sec_m", 1.0)])
    variants = pd.DataFrame({"experiment_id": "e", "variant_id": ["A", "B", "C"], "is_control": [True, False, False],
                             "traffic_weight": 1 / 3})
    res = compute_results(arms, CFG, variants)
    d = compute_decisions(res, _srm(0.4), CFG).to_pylist()[0]
    assert d["decision"] == "ship" and d["recommended_variant_id"] == "B"  # C wins more but breaches guard_m
    assert d["n_guardrail_breaches"] == 1
    assert "C vs A" in d["decision_reasons"] and "-> stop" in d["decision_reasons"]


def test_empty_inputs():
    empty = compute_decisions(pd.DataFrame([_res_row()]).iloc[:0], _srm().slice(0, 0), CFG)
    assert empty.num_rows == 0 and empty.schema == DECISIONS_SCHEMA
