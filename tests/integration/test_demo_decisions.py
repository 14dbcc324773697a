"""The README demo at full size: planted effects are detected, the planted SRM and guardrail
breach produce the expected decisions, every verdict path appears, and the dirt is counted."""

from __future__ import annotations

import pytest

from exptools import demo_data
from exptools.summary import render

from .conftest import read_table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def latest_decisions(demo_build):
    frame = read_table(
        demo_build.database,
        "select d.* from fct_decision_records d join int_experiment_analysis_dates a "
        "using (experiment_id, analysis_date) where a.is_latest_analysis",
    )
    return frame.set_index("experiment_id")


def test_final_decisions_match_planted_truth(latest_decisions):
    truth = demo_data.planted_truth()
    assert set(latest_decisions.index) == set(truth)
    for experiment_id, planted in truth.items():
        record = latest_decisions.loc[experiment_id]
        assert record["decision"] == planted["expected_decision"], (experiment_id, record["decision_reasons"])
        if planted["expected_decision"] == "ship":
            assert record["recommended_variant_id"] == planted["ship_variant"]
        assert bool(record["srm_detected"]) == planted["srm"], experiment_id


def test_every_verdict_path_is_shown(demo_build):
    decisions = read_table(demo_build.database, "select distinct decision from fct_decision_records")
    assert set(decisions["decision"]) == {"ship", "iterate", "stop", "rerun", "keep_running"}


def test_planted_effects_are_detected(demo_build):
    results = read_table(
        demo_build.database,
        "select r.* from fct_experiment_results r join int_experiment_analysis_dates a "
        "using (experiment_id, analysis_date) where a.is_latest_analysis and r.dimension_name = 'overall'",
    )
    for experiment_id, planted in demo_data.planted_truth().items():
        for metric_id, arms in planted["effects"].items():
            for variant_id, effect in arms.items():
                row = results[
                    (results["experiment_id"] == experiment_id)
                    & (results["metric_id"] == metric_id)
                    & (results["treatment_variant_id"] == variant_id)
                ].iloc[0]
                if effect == 0:
                    continue
                # A planted effect is detected, and the truth lies inside the interval.
                assert row["decision_p_value"] < 0.05, (experiment_id, metric_id, variant_id)
                assert row["decision_relative_ci_lower"] <= effect <= row["decision_relative_ci_upper"], (
                    experiment_id, metric_id, variant_id, effect,
                )


def test_guardrail_breach_vetoes_the_arm(demo_build):
    truth = demo_data.planted_truth()
    results = read_table(
        demo_build.database,
        "select r.* from fct_experiment_results r join int_experiment_analysis_dates a "
        "using (experiment_id, analysis_date) where a.is_latest_analysis "
        "and r.dimension_name = 'overall' and r.metric_role = 'guardrail'",
    )
    breached = results[results["guardrail_status"] == "breached"]
    expected = {
        (experiment_id, variant_id, metric_id)
        for experiment_id, planted in truth.items()
        for variant_id, metrics in planted.get("guardrail_breaches", {}).items()
        for metric_id in metrics
    }
    assert set(zip(breached["experiment_id"], breached["treatment_variant_id"], breached["metric_id"])) == expected


def test_quarantine_counts_are_exactly_the_planted_dirt(demo_build):
    built = read_table(
        demo_build.database,
        "select * from fct_quarantine order by source_table, experiment_id nulls first, reason",
    )
    expected = demo_data.expected_quarantine(demo_build.scale)
    actual = [
        {
            key: (None if (value != value) else value)  # NaN -> None for the events' experiment_id
            for key, value in row.items()
        }
        for row in built.to_dict("records")
    ]
    key = lambda row: (row["source_table"], row["experiment_id"] or "", row["reason"])  # noqa: E731
    assert sorted(actual, key=key) == sorted(expected, key=key)


def test_kept_units_per_experiment(demo_build):
    built = read_table(
        demo_build.database, "select experiment_id, count(*) as n from fct_exposures group by 1"
    )
    assert dict(zip(built["experiment_id"], built["n"])) == demo_data.expected_kept_units(demo_build.scale)


def test_summary_prints_every_experiment(demo_build):
    import duckdb

    with duckdb.connect(str(demo_build.database), read_only=True) as connection:
        text = render(connection)
    for experiment_id in demo_data.planted_truth():
        assert experiment_id in text
    assert "DECISION: SHIP treatment_1" in text
    assert "SRM: MISMATCH" in text
