"""``compute_decisions``: one ship / iterate / stop / rerun / keep_running decision per
experiment x analysis date, from the overall-slice results and SRM checks.

Rules (documented in ``docs/statistics.md`` §Decisions), evaluated per treatment arm and then
combined:

1. SRM detected on the overall slice -> experiment ``rerun``.
2. Arm verdict ``rerun`` when the primary metric has no result for the arm, or its result has
   status ``missing_control`` / ``invalid_input``; with no primary metric configured every arm is
   ``rerun``.
3. Any guardrail ``breached`` for the arm -> ``stop`` (veto, even if the primary wins).
4. Primary statistically significant (Holm) in the harmful direction -> ``stop``.
5. Primary ``insufficient_data``: ``keep_running`` before the final analysis, ``rerun`` at it.
6. Before the final analysis (fixed horizon): ``keep_running`` (no ship / iterate on a peek).
7. Final analysis, primary in the desired direction: significant & practical -> ``ship``;
   significant xor practical -> ``iterate``; neither -> ``stop``.

Experiment: ``rerun`` if SRM or any arm is ``rerun`` (or there is no arm); else ``ship`` if any
arm ships (recommended = the shipping arm with the largest desired-direction decision_effect);
else ``keep_running`` if any; else ``iterate`` if any; else ``stop``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import _arrow as A
from .schemas import DECISIONS_SCHEMA

OVERALL = ("overall", "all")
VERDICTS = ("rerun", "stop", "ship", "keep_running", "iterate")
IMPLEMENTED_METHODS = ("fixed_horizon", "group_sequential", "msprt")
SEQUENTIAL_METHODS = ("group_sequential", "msprt")


def _overall(table: pa.Table) -> pa.Table:
    if table.num_rows == 0 or "dimension_name" not in table.column_names:
        return table
    mask = pc.and_(
        pc.equal(A.as_string(A.column(table, "dimension_name"), table.num_rows), OVERALL[0]),
        pc.equal(A.as_string(A.column(table, "dimension_value"), table.num_rows), OVERALL[1]),
    )
    return table.filter(pc.fill_null(mask, False))


def _frame(table: pa.Table, columns: dict[str, str]) -> pd.DataFrame:
    """pandas frame with the requested columns: kind 's' string (object), 'f' float, 'b' bool,
    'd' date as int days. Absent columns are all-null."""
    n = table.num_rows
    data = {}
    for name, kind in columns.items():
        arr = A.column(table, name)
        if kind == "s":
            data[name] = np.asarray(A.as_string(arr, n).to_numpy(zero_copy_only=False), dtype=object)
        elif kind == "f":
            data[name] = A.float_np(arr, n)
        elif kind == "b":
            data[name] = A.bool_np(arr, n)
        elif kind == "d":
            data[name] = A.date_days(arr, n)
    return pd.DataFrame(data)


def _fmt(x: pd.Series, spec: str) -> pd.Series:
    """Element-wise number formatting for the human-readable reasons ('n/a' for missing)."""
    return pd.Series([format(v, spec) if np.isfinite(v) else "n/a" for v in x.to_numpy(dtype=float)],
                     index=x.index, dtype=object)


def _day_str(days: pd.Series) -> pd.Series:
    d = days.to_numpy(dtype=float)
    ok = np.isfinite(d)
    arr = pc.cast(pc.cast(pa.array(np.where(ok, d, 0).astype(np.int32), mask=~ok), pa.date32()), pa.string())
    return pd.Series(arr.to_numpy(zero_copy_only=False), index=days.index, dtype=object).where(ok, "n/a")


def _s(x: pd.Series) -> pd.Series:
    return x.astype(object).where(x.notna(), "n/a").astype(str)


#: health-check warning thresholds (warnings are reported; they do not change the verdict)
MULTIPLE_VARIANT_SHARE_WARNING = 0.01
EVENTS_BEFORE_EXPOSURE_SHARE_WARNING = 0.20
PRE_PERIOD_IMBALANCE_ALPHA = 0.001


def _health_warnings(grid: pd.DataFrame, health, res: pd.DataFrame) -> np.ndarray:
    """One '; '-joined warning text per grid row ('' when healthy), vectorised per check."""
    keys = ["experiment_id", "analysis_date"]
    out = np.full(len(grid), "", dtype=object)

    def add(mask, text):
        nonlocal out
        mask = np.asarray(mask, dtype=bool)
        text = np.asarray(text, dtype=object) if not isinstance(text, str) else np.full(len(grid), text, dtype=object)
        out = np.where(mask & (out != ""), out + "; " + text.astype(str), np.where(mask, text, out))

    if health is not None:
        h = _frame(A.canonical_order(A.to_table(health), keys), {
            "experiment_id": "s", "analysis_date": "d", "n_slices_checked": "f", "n_slices_with_srm": "f",
            "multiple_variant_share": "f", "is_exposure_stopped": "b", "events_before_exposure_share": "f"})
        g = grid[keys].merge(h.drop_duplicates(keys), on=keys, how="left")
        add(g["n_slices_with_srm"].fillna(0) > 0,
            "health: SRM in " + _fmt(g["n_slices_with_srm"], ".0f") + " of " + _fmt(g["n_slices_checked"], ".0f")
            + " slices")
        add(g["multiple_variant_share"].fillna(0) > MULTIPLE_VARIANT_SHARE_WARNING,
            "health: " + _fmt(g["multiple_variant_share"], ".2%") + " of units were exposed to several arms (excluded)")
        add(g["is_exposure_stopped"].fillna(False).astype(bool), "health: no exposures on this date (exposure stopped?)")
        add(g["events_before_exposure_share"].fillna(0) > EVENTS_BEFORE_EXPOSURE_SHARE_WARNING,
            "health: " + _fmt(g["events_before_exposure_share"], ".1%")
            + " of metric events happened in the 24 hours before first exposure (late exposure logging?)")
    if len(res) and "pre_period_imbalance_p_value" in res:
        imb = res[res["pre_period_imbalance_p_value"] < PRE_PERIOD_IMBALANCE_ALPHA]
        if len(imb):
            imb = imb.assign(text="health: pre-period imbalance on " + _s(imb["metric_id"]) + " ("
                             + _s(imb["treatment_variant_id"]) + ", p=" + _fmt(imb["pre_period_imbalance_p_value"], ".2g") + ")")
            agg = imb.groupby(keys, sort=False)["text"].agg("; ".join).reset_index()
            g = grid[keys].merge(agg, on=keys, how="left")
            add(g["text"].notna().to_numpy(), g["text"].fillna("").to_numpy(dtype=object))
    return out


def compute_decisions(results, srm, metric_configs, health=None) -> pa.Table:
    """Decisions per experiment x analysis date (schema :data:`DECISIONS_SCHEMA`); inputs are
    the outputs of :func:`compute_results` and :func:`compute_srm`, the metric configs and,
    optionally, the health checks of ``fct_experiment_health`` (pandas DataFrames or pyarrow
    Tables). Only the ('overall', 'all') slice is used. Health warnings are reported in
    ``health_warnings`` and the reasons; they do not change the verdict (SRM overall does)."""
    res = _frame(A.canonical_order(_overall(A.to_table(results)), [
        "experiment_id", "analysis_date", "metric_id", "treatment_variant_id"]), {
        "experiment_id": "s", "metric_id": "s", "metric_role": "s", "control_variant_id": "s",
        "treatment_variant_id": "s", "analysis_date": "d", "decision_effect": "f", "decision_p_value": "f",
        "decision_relative_effect": "f", "decision_ci_lower": "f", "decision_ci_upper": "f",
        "p_value_holm": "f", "alpha": "f", "desired_direction": "s", "practical_threshold": "f",
        "threshold_scale": "s", "guardrail_tolerance": "f", "is_statistically_significant": "b",
        "is_practically_significant": "b", "guardrail_status": "s", "status": "s",
        "status_reason": "s", "estimate_method": "s", "pre_period_imbalance_p_value": "f"})
    srm_df = _frame(A.canonical_order(_overall(A.to_table(srm)), ["experiment_id", "analysis_date"]), {
        "experiment_id": "s", "analysis_date": "d", "srm_p_value": "f", "is_srm": "b", "srm_alpha": "f"})
    cfg = _frame(A.canonical_order(A.to_table(metric_configs), ["experiment_id", "metric_id"]), {
        "experiment_id": "s", "metric_id": "s", "metric_role": "s", "analysis_method": "s", "end_date": "d"})

    # ---- experiment-level configuration ----------------------------------------------------------
    exp_cfg = cfg.groupby("experiment_id", sort=False).agg(end_day=("end_date", "max")).reset_index()
    prim = cfg[cfg["metric_role"].str.lower() == "primary"].sort_values(["experiment_id", "metric_id"])
    prim_agg = prim.groupby("experiment_id", sort=False).agg(
        primary_metric_id=("metric_id", "first"), n_primary=("metric_id", "size"),
        primary_method=("analysis_method", "first")).reset_index()
    any_method = cfg.dropna(subset=["analysis_method"]).groupby("experiment_id", sort=False)["analysis_method"].first()
    exp_cfg = exp_cfg.merge(prim_agg, on="experiment_id", how="left")
    exp_cfg["analysis_method"] = exp_cfg["primary_method"].fillna(exp_cfg["experiment_id"].map(any_method))

    # ---- grid of experiment x analysis date -------------------------------------------------------
    keys = ["experiment_id", "analysis_date"]
    grid = pd.concat([res[keys], srm_df[keys]], ignore_index=True).dropna().drop_duplicates()
    srm_first = srm_df.drop_duplicates(keys)
    grid = grid.merge(srm_first, on=keys, how="left").merge(exp_cfg, on="experiment_id", how="left")
    grid["is_final_analysis"] = (grid["analysis_date"] >= grid["end_day"]).fillna(False).astype(bool)
    grid["srm_detected"] = grid["is_srm"].fillna(False).astype(bool)

    # ---- per-arm verdicts -------------------------------------------------------------------------
    res["sign"] = np.where(res["desired_direction"].str.lower() == "decrease", -1.0, 1.0)
    arm_keys = keys + ["treatment_variant_id"]
    arms = res[arm_keys + ["control_variant_id"]].drop_duplicates(arm_keys)
    arms = arms.merge(grid[keys + ["primary_metric_id", "is_final_analysis", "end_day", "analysis_method"]], on=keys,
                      how="left")
    prim_rows = res.merge(grid[keys + ["primary_metric_id"]], on=keys)
    prim_rows = prim_rows[prim_rows["metric_id"] == prim_rows["primary_metric_id"]].drop_duplicates(arm_keys)
    pcols = ["decision_effect", "decision_relative_effect", "decision_ci_lower", "decision_ci_upper",
             "p_value_holm", "alpha", "sign", "practical_threshold", "threshold_scale",
             "is_statistically_significant", "is_practically_significant", "status", "status_reason",
             "estimate_method"]
    arms = arms.merge(prim_rows[arm_keys + pcols], on=arm_keys, how="left")

    guard = res[(res["metric_role"].str.lower() == "guardrail") & (res["guardrail_status"] == "breached")].copy()
    guard["text"] = ("guardrail " + _s(guard["metric_id"]) + " breached: relative effect "
                     + _fmt(guard["decision_relative_effect"], "+.2%") + " vs tolerance "
                     + _fmt(guard["guardrail_tolerance"].fillna(0.0), ".2%") + ", p="
                     + _fmt(guard["decision_p_value"], ".3g"))
    g_agg = guard.groupby(arm_keys, sort=False).agg(n_breach=("metric_id", "size"), breach_text=("text", "; ".join))
    arms = arms.merge(g_agg.reset_index(), on=arm_keys, how="left")
    arms["n_breach"] = arms["n_breach"].fillna(0).astype(np.int64)

    final = arms["is_final_analysis"].fillna(False).astype(bool).to_numpy()
    has_primary = arms["status"].notna().to_numpy()
    status = arms["status"].fillna("").to_numpy()
    sig = arms["is_statistically_significant"].fillna(False).astype(bool).to_numpy()
    prac = arms["is_practically_significant"].fillna(False).astype(bool).to_numpy()
    directed = (arms["sign"] * arms["decision_effect"]).to_numpy(dtype=float)
    harmful_sig = sig & (directed < 0)
    good_sig = sig & (directed > 0)
    breach = arms["n_breach"].to_numpy() > 0
    bad_primary = np.isin(status, ["missing_control", "invalid_input"])
    insufficient = status == "insufficient_data"

    # sequential designs (always-valid mSPRT, group-sequential boundaries) may stop at an interim
    # look once the primary is significant; a fixed horizon never does
    sequential = arms["analysis_method"].isin(SEQUENTIAL_METHODS).to_numpy()
    early = sequential & ~final & sig
    conds = [
        ~has_primary, bad_primary, breach, harmful_sig, insufficient & ~final, insufficient & final,
        ~final & ~sequential, ~final & ~sig, good_sig & prac, good_sig & ~prac, ~sig & prac, np.ones(len(arms), bool),
    ]
    verdicts = ["rerun", "rerun", "stop", "stop", "keep_running", "rerun",
                "keep_running", "keep_running", "ship", "iterate", "iterate", "stop"]
    early_txt = np.where(early, " (sequential: stopped early at an interim look)", "")
    why = [
        "no result for the primary metric",
        "primary metric result is " + _s(arms["status"]) + " (" + _s(arms["status_reason"]) + ")",
        _s(arms["breach_text"]),
        "primary significantly in the harmful direction" + pd.Series(early_txt, index=arms.index),
        "insufficient data so far (" + _s(arms["status_reason"]) + ")",
        "insufficient data at the final analysis (" + _s(arms["status_reason"]) + ")",
        "interim look before the final analysis: no ship/iterate under a fixed horizon",
        "interim look: the primary has not reached sequential significance yet",
        "statistically and practically significant" + pd.Series(early_txt, index=arms.index),
        "statistically significant but below the practical threshold" + pd.Series(early_txt, index=arms.index),
        "exceeds the practical threshold but not statistically significant",
        "neither statistically nor practically significant",
    ]
    choice = np.select(conds, np.arange(len(conds)), default=len(conds) - 1) if len(arms) else np.zeros(0, int)
    arms["verdict"] = np.asarray(verdicts, dtype=object)[choice] if len(arms) else pd.Series(dtype=object)
    why_arr = np.empty(len(arms), dtype=object)
    for i, w in enumerate(why):  # loop over the 12 rules, not over rows
        sel = choice == i
        why_arr[sel] = (w.to_numpy()[sel] if isinstance(w, pd.Series) else w)
    scale_txt = np.where(arms["threshold_scale"].fillna("").str.lower() == "absolute", "", "%")
    thr = np.where(scale_txt == "%", _fmt(arms["practical_threshold"], ".2%"), _fmt(arms["practical_threshold"], ".4g"))
    primary_txt = (
        "primary " + _s(arms["primary_metric_id"]) + " effect " + _fmt(arms["decision_effect"], "+.4g")
        + " (" + _fmt(arms["decision_relative_effect"], "+.2%") + " relative, "
        + _fmt(1.0 - arms["alpha"], ".0%") + " CI [" + _fmt(arms["decision_ci_lower"], ".4g") + ", "
        + _fmt(arms["decision_ci_upper"], ".4g") + "], Holm p=" + _fmt(arms["p_value_holm"], ".3g")
        + ", alpha " + _fmt(arms["alpha"], ".3g") + ", practical threshold " + pd.Series(thr, index=arms.index)
        + ", " + _s(arms["estimate_method"]) + ")"
    )
    arms["text"] = (_s(arms["treatment_variant_id"]) + " vs " + _s(arms["control_variant_id"]) + ": "
                    + np.where(has_primary, primary_txt + "; ", "") + why_arr.astype(str) + " -> " + arms["verdict"])
    arms["score"] = np.where(arms["verdict"] == "ship", directed, -np.inf)

    # ---- experiment decision -------------------------------------------------------------------------
    flags = arms.assign(**{f"any_{v}": arms["verdict"] == v for v in VERDICTS}).groupby(keys, sort=False).agg(
        **{f"any_{v}": (f"any_{v}", "any") for v in VERDICTS},
        n_arms=("verdict", "size"), arm_text=("text", "; ".join),
        n_guardrail_breaches=("n_breach", "sum"))
    best = arms[arms["verdict"] == "ship"].sort_values("score", ascending=False).drop_duplicates(keys)
    flags = flags.reset_index().merge(best[keys + ["treatment_variant_id"]], on=keys, how="left")
    g = grid.merge(flags, on=keys, how="left")
    for v in VERDICTS:
        g[f"any_{v}"] = g[f"any_{v}"].fillna(False).astype(bool)
    g["n_arms"] = g["n_arms"].fillna(0).astype(np.int64)
    no_arms = g["n_arms"].to_numpy() == 0
    srm_det = g["srm_detected"].to_numpy()
    dec = np.select(
        [srm_det, no_arms, g["any_rerun"].to_numpy(), g["any_ship"].to_numpy(),
         g["any_keep_running"].to_numpy(), g["any_iterate"].to_numpy()],
        ["rerun", "rerun", "rerun", "ship", "keep_running", "iterate"], default="stop")
    g["decision"] = dec
    g["recommended_variant_id"] = g["treatment_variant_id"].where(g["decision"] == "ship", None)

    srm_alpha = g["srm_alpha"].fillna(0.001)
    srm_txt = np.where(
        g["srm_p_value"].isna(), "SRM check unavailable",
        np.where(srm_det, "SRM detected: p=" + _fmt(g["srm_p_value"], ".3g") + " < " + _fmt(srm_alpha, ".3g") + " -> rerun",
                 "no SRM (p=" + _fmt(g["srm_p_value"], ".3g") + ")"))
    parts = [pd.Series(srm_txt, index=g.index)]
    method = g["analysis_method"]
    parts.append(pd.Series(np.where(method.notna() & ~method.isin(IMPLEMENTED_METHODS),
                                    "analysis_method '" + _s(method) + "' not implemented: fixed-horizon rules applied", ""), index=g.index))
    parts.append(pd.Series(np.where(g["primary_metric_id"].isna(), "no primary metric configured", ""), index=g.index))
    parts.append(pd.Series(np.where(g["n_primary"].fillna(0) > 1,
                                    "several primary metrics configured: using " + _s(g["primary_metric_id"]), ""), index=g.index))
    parts.append(pd.Series(np.where(no_arms, "no treatment-arm results", ""), index=g.index))
    parts.append(pd.Series(np.where(g["is_final_analysis"], "final analysis",
                                    "interim analysis (final analysis on " + _day_str(g["end_day"]) + ")"),
                           index=g.index))
    parts.append(g["arm_text"].fillna(""))
    warnings = _health_warnings(g, health, res)
    parts.append(pd.Series(warnings, index=g.index))
    parts.append(pd.Series(np.where(dec == "ship", "ship " + _s(g["treatment_variant_id"]), ""), index=g.index))
    reasons = np.full(len(g), "", dtype=object)
    for part in parts:  # a fixed handful of columns, each combined vectorised
        pv = part.to_numpy(dtype=object).astype(str)
        nonempty = pv != ""
        reasons = np.where(nonempty & (reasons != ""), reasons + "; " + pv, np.where(nonempty, pv, reasons))
    n = len(g)
    days = g["analysis_date"].to_numpy(dtype=float)
    date_arr = pc.cast(pa.array(np.where(np.isfinite(days), days, 0).astype(np.int32), mask=~np.isfinite(days)), pa.date32())
    table = pa.Table.from_arrays([
        pa.array(g["experiment_id"].to_numpy(dtype=object), type=pa.string()),
        date_arr,
        A.bool_out(g["is_final_analysis"].to_numpy()),
        pa.array(g["decision"].to_numpy(dtype=object), type=pa.string()),
        pa.array(g["recommended_variant_id"].astype(object).where(g["recommended_variant_id"].notna(), None).to_numpy(dtype=object), type=pa.string()),
        pa.array(g["primary_metric_id"].astype(object).where(g["primary_metric_id"].notna(), None).to_numpy(dtype=object), type=pa.string()),
        A.float_out(g["srm_p_value"].to_numpy(dtype=float)),
        A.bool_out(srm_det),
        pa.array(g["n_guardrail_breaches"].fillna(0).to_numpy(dtype=np.int64), type=pa.int64()),
        pa.array(list(reasons), type=pa.string()),
        pa.array(g["analysis_method"].astype(object).where(g["analysis_method"].notna(), None).to_numpy(dtype=object), type=pa.string()),
        pa.array([w if w else None for w in warnings], type=pa.string()),
    ], schema=DECISIONS_SCHEMA)
    return table.sort_by([("experiment_id", "ascending"), ("analysis_date", "ascending")])
