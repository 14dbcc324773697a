"""Print a readable summary of the latest analysis of every experiment.

    python -m exptools.summary --database warehouse.duckdb

Per experiment: the decision and its reasons, the SRM check, and every metric's lift (overall
slice, each treatment vs control) with its confidence interval and p-value.
"""

from __future__ import annotations

import argparse
import math

import duckdb

LATEST_DECISIONS = """
select d.*, e.experiment_name, e.start_date, e.end_date
from fct_decision_records as d
inner join registry.experiments as e on d.experiment_id = e.experiment_id
where d.analysis_date = (
    select max(analysis_date) from fct_decision_records as latest
    where latest.experiment_id = d.experiment_id
)
order by d.experiment_id
"""

LATEST_RESULTS = """
select r.*
from fct_experiment_results as r
where r.dimension_name = 'overall'
  and r.analysis_date = (
    select max(analysis_date) from fct_experiment_results as latest
    where latest.experiment_id = r.experiment_id
  )
order by r.experiment_id,
  case r.metric_role when 'primary' then 0 when 'guardrail' then 1 else 2 end,
  r.metric_id, r.treatment_variant_id
"""

LATEST_SRM = """
select s.experiment_id, s.observed_units, s.chi_square, s.srm_p_value, s.is_srm
from fct_srm_checks as s
where s.dimension_name = 'overall'
  and s.analysis_date = (
    select max(analysis_date) from fct_srm_checks as latest
    where latest.experiment_id = s.experiment_id
  )
"""


LATEST_BANDIT = """
select b.* from fct_bandit_allocations as b
where b.analysis_date = (
    select max(analysis_date) from fct_bandit_allocations as latest where latest.experiment_id = b.experiment_id
)
order by b.experiment_id, b.variant_id
"""

LATEST_ANOVA = """
select a.* from fct_factorial_anova as a
where a.dimension_name = 'overall'
  and a.analysis_date = (
    select max(analysis_date) from fct_factorial_anova as latest where latest.experiment_id = a.experiment_id
  )
order by a.experiment_id, a.metric_id, case a.term when 'factor_a' then 0 when 'factor_b' then 1
    when 'interaction' then 2 else 3 end
"""


def _fmt_pct(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "   n/a"
    return f"{100 * value:+6.2f}%"


def _fmt_p(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "<1e-300"  # below double precision
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def render(connection: duckdb.DuckDBPyConnection) -> str:
    decisions = _rows(connection, LATEST_DECISIONS)
    results = _rows(connection, LATEST_RESULTS)
    srm = {row["experiment_id"]: row for row in _rows(connection, LATEST_SRM)}
    bandit = _rows(connection, LATEST_BANDIT)
    anova = _rows(connection, LATEST_ANOVA)
    lines: list[str] = []
    for decision in decisions:
        experiment_id = decision["experiment_id"]
        lines.append("=" * 100)
        lines.append(f"{experiment_id}: {decision['experiment_name']}")
        lines.append(
            f"  analysed through {decision['analysis_date']} "
            f"(runs {decision['start_date']} to {decision['end_date']}"
            f"{', final analysis' if decision['is_final_analysis'] else ', still running'})"
        )
        check = srm.get(experiment_id)
        if check is not None:
            status = "MISMATCH" if check["is_srm"] else "ok"
            lines.append(
                f"  SRM: {status} (units {check['observed_units']}; "
                f"chi-square {check['chi_square'] or 0:.2f}, p = {_fmt_p(check['srm_p_value'])})"
            )
        lines.append(f"  analysis method: {decision['analysis_method']}")
        lines.append(
            f"  {'metric':<26}{'role':<10}{'arm':<14}{'control':>11}{'treatment':>11}"
            f"{'lift':>9}  {'95% CI (relative)':<21}{'p':>8}{'Holm p':>8}{'P(better)':>10}  method"
        )
        for row in (r for r in results if r["experiment_id"] == experiment_id):
            lines.append(
                f"  {row['metric_id']:<26}{row['metric_role']:<10}{row['treatment_variant_id']:<14}"
                f"{_num(row['mean_control']):>11}{_num(row['mean_treatment']):>11}"
                f"{_fmt_pct(row['decision_relative_effect']):>9}  "
                f"[{_fmt_pct(row['decision_relative_ci_lower'])}, "
                f"{_fmt_pct(row['decision_relative_ci_upper'])}]"
                f"{_fmt_p(row['decision_p_value']):>8}{_fmt_p(row['p_value_holm']):>8}"
                f"{_fmt_prob(row['prob_treatment_better']):>10}  {row['estimate_method']}"
                + _sequential_text(row)
                + (f"  guardrail: {row['guardrail_status']}" if row["guardrail_status"] else "")
                + (f"  [{row['status']}: {row['status_reason']}]" if row["status"] != "ok" else "")
            )
        for row in (r for r in bandit if r["experiment_id"] == experiment_id):
            lines.append(
                f"  bandit {row['variant_id']:<22} rate {row['conversion_rate']:.4f}  P(best) {row['prob_best']:.4f}"
                f"  traffic {row['current_weight']:.3f} -> recommended {row['recommended_weight']:.3f}"
            )
        for row in (r for r in anova if r["experiment_id"] == experiment_id and r["term"] != "residual"):
            lines.append(
                f"  ANOVA {row['metric_id']:<24} {row['term']:<12} F = {_num(row['f_statistic']):>8}"
                f"  p = {_fmt_p(row['p_value'])}"
            )
        if decision.get("health_warnings"):
            lines.append(f"  HEALTH: {decision['health_warnings']}")
        recommended = decision.get("recommended_variant_id")
        lines.append(
            f"  DECISION: {decision['decision'].upper()}"
            + (f" {recommended}" if recommended else "")
        )
        lines.append(f"  because: {decision['decision_reasons']}")
    return "\n".join(lines)


def _fmt_prob(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}"


def _sequential_text(row: dict) -> str:
    if row.get("metric_role") == "guardrail":  # guardrails: non-inferiority, not the efficacy boundary
        return ""
    if row.get("analysis_method") == "msprt" and row.get("sequential_p_value") is not None:
        return f"  always-valid p = {_fmt_p(row['sequential_p_value'])}"
    if row.get("analysis_method") == "group_sequential" and row.get("is_boundary_crossed") is not None:
        return "  boundary crossed" if row["is_boundary_crossed"] else "  boundary not crossed"
    return ""


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4g}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Summarise the latest experiment decisions.")
    parser.add_argument("--database", required=True)
    args = parser.parse_args(argv)
    with duckdb.connect(args.database, read_only=True) as connection:
        print(render(connection))


if __name__ == "__main__":
    main()
