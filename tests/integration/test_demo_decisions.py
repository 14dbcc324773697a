"""The README demo at full size: planted effects are detected, the planted SRM and guardrail
breach produce the expected decisions, every verdict path appears, and the dirt is counted."""

from __future__ import annotations

import pytest

from exptools import demo_data
from exptools.summary import render
from tests import reference_pipeline as reference

from .conftest import AS_OF_DATE, read_table

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
            # Several arms can be equally good (checkout_factorial: express_only and
            # express_and_saved_cards both carry +8%): any arm of ship_variants is correct.
            acceptable = planted.get("ship_variants", [planted["ship_variant"]])
            assert record["recommended_variant_id"] in acceptable, (experiment_id, record["recommended_variant_id"])
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


def _quarantine_rows(demo_build) -> list[dict]:
    built = read_table(
        demo_build.database,
        "select * from fct_quarantine order by source_table, experiment_id nulls first, reason",
    )
    return [
        {
            key: (None if (value != value) else value)  # NaN -> None for the events' experiment_id
            for key, value in row.items()
        }
        for row in built.to_dict("records")
    ]


def _quarantine_key(row):
    return (row["source_table"], row["experiment_id"] or "", row["reason"])


def test_quarantine_counts_are_exactly_the_planted_dirt(demo_build):
    rows = _quarantine_rows(demo_build)
    expected = demo_data.expected_quarantine(demo_build.scale)
    planted = [row for row in rows if demo_data.is_planted_dirt(row)]
    assert sorted(planted, key=_quarantine_key) == sorted(expected, key=_quarantine_key)
    # Everything else is an unattributed-event row (checked against the reference below).
    others = {
        (row["source_table"], row["reason"], row["is_exclusion"]) for row in rows if not demo_data.is_planted_dirt(row)
    }
    assert others == {("metric_events", reason, False) for reason in demo_data.UNATTRIBUTED_EVENT_REASONS}


def test_unattributed_event_rows_match_the_reference(demo_build):
    """The informational rows the demo does not predict: recomputed from the raw rows by the
    independent reference (tests/reference_pipeline.py)."""
    exposures, events = reference.read_raw_duckdb(demo_build.database)
    registry = reference.load_registry()
    units = reference.kept_units(exposures, registry, AS_OF_DATE)
    valid = reference.valid_metric_events(events, AS_OF_DATE)
    expected = [
        {
            "source_table": "metric_events",
            "experiment_id": row.experiment_id,
            "reason": row.reason,
            "is_exclusion": False,
            "n_rows": int(row.n_rows),
            "n_units": int(row.n_units),
        }
        for row in reference.unattributed_event_counts(units, valid, registry).itertuples(index=False)
    ]
    actual = [row for row in _quarantine_rows(demo_build) if not demo_data.is_planted_dirt(row)]
    assert sorted(actual, key=_quarantine_key) == sorted(expected, key=_quarantine_key)
    # The demo plants late events in every experiment.
    late = {row["experiment_id"] for row in actual if row["reason"] == "event_after_attribution_window"}
    assert late == set(demo_data.planted_truth())


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
