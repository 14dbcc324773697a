"""Registry names reach SQL only as values or through validated identifiers (issue: "a test with
names containing quotes, semicolons and SQL keywords proves nothing breaks or executes").

Experiment, variant, metric and event names, free-text registry fields and raw dimension values
full of quotes, semicolons, SQL keywords, comment markers and Jinja go through a whole build: the
build succeeds, the raw and registry tables are intact, and every odd name comes out unchanged in
the result tables. Names that are not valid identifiers where one is required (dimension_name,
aggregation, analysis_method, metric_role) stop the build with the registry message naming the
row, and nothing executes.
"""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from exptools.summary import render

from .corpus_data import (
    Registry,
    experiment,
    experiment_metric,
    metric,
    registry_error_lines,
    scenario_runner,
    variant,
)

pytestmark = pytest.mark.integration

EXP = "exp'; drop table raw.exposures; --"
PLAIN = "exp_plain"
CONTROL = 'v"1'
TREATMENT = "select"
TREATMENT_2 = "'); delete from main.fct_exposures; --"
SUM_METRIC = "metric; delete from main.fct_exposures"
COUNT_METRIC = '"; drop schema main cascade; --'
JINJA_METRIC = "{{ exceptions.raise_compiler_error('jinja ran') }}"
RATIO_METRIC = 'ratio"); drop table registry.metrics; --'
PURCHASE = "purchase'); drop table raw.metric_events; --"
CLICK = "select * from raw.exposures"
JINJA_EVENT = "{% do run_query('drop table raw.exposures') %}"
ODD_TEXT = "Robert'); DROP TABLE Students;-- {{ 1/0 }} {% raise %} %s %(x)s \\' \"\" ;"
PLATFORM = "ios'; drop table raw.exposures; --"
COUNTRY = 'DE"; select 1; --'
CITY = "select"
ARMS = [CONTROL, TREATMENT, TREATMENT_2]
FINAL = "2026-10-25"


def injection_registry() -> Registry:
    return Registry(
        experiments=[
            experiment(EXP, experiment_name=ODD_TEXT, hypothesis=ODD_TEXT, owner="O'Brien; --"),
            experiment(PLAIN),
        ],
        variants=[
            variant(EXP, CONTROL, True, 0.5, variant_name=ODD_TEXT),
            variant(EXP, TREATMENT, False, 0.25, variant_name="select 1; --"),
            variant(EXP, TREATMENT_2, False, 0.25),
            variant(PLAIN, "control", True), variant(PLAIN, "treatment", False),
        ],
        metrics=[
            metric(SUM_METRIC, "sum", PURCHASE, metric_name=ODD_TEXT, description=ODD_TEXT),
            metric(COUNT_METRIC, "count", CLICK),
            metric(JINJA_METRIC, "conversion", JINJA_EVENT),
            metric(RATIO_METRIC, "ratio", "", numerator_metric_id=SUM_METRIC, denominator_metric_id=COUNT_METRIC),
        ],
        experiment_metrics=[
            experiment_metric(EXP, SUM_METRIC, "primary"),
            experiment_metric(EXP, COUNT_METRIC, "secondary"),
            experiment_metric(EXP, JINJA_METRIC, "guardrail"),
            experiment_metric(EXP, RATIO_METRIC, "secondary"),
            experiment_metric(PLAIN, SUM_METRIC, "primary"),
        ],
        experiment_dimensions=[
            {"experiment_id": EXP, "dimension_name": "platform"},
            {"experiment_id": EXP, "dimension_name": "country"},
            {"experiment_id": EXP, "dimension_name": "city"},
        ],
    )


def _x(experiment_id, unit_id, variant_id, day, platform=PLATFORM, country=COUNTRY, city=CITY):
    return (experiment_id, unit_id, variant_id, dt.datetime(2026, 10, day, 10), platform, country, city, None, None)


EXPOSURES = [
    _x(EXP, "u'1", CONTROL, 2),
    _x(EXP, "u;2", CONTROL, 2, platform="web"),
    _x(EXP, 'u"3', TREATMENT, 3),
    _x(EXP, "u--4", TREATMENT, 3),
    _x(EXP, "u5", TREATMENT_2, 4),
    _x(EXP, "u6", TREATMENT_2, 4, country="DE"),
    _x(EXP, "u7", "v'unknown", 4),                 # unknown_variant
    _x(PLAIN, "p1", "control", 2, "ios", "DE", "Berlin"),
    _x(PLAIN, "p2", "control", 2, "ios", "DE", "Berlin"),
    _x(PLAIN, "p3", "treatment", 2, "ios", "DE", "Berlin"),
    _x(PLAIN, "p4", "treatment", 2, "ios", "DE", "Berlin"),
]


def _e(unit_id, event_name, day, value=None):
    return (unit_id, event_name, dt.datetime(2026, 10, day, 12), value)


EVENTS = [
    _e("u'1", PURCHASE, 2, 10.0), _e("u'1", CLICK, 2), _e("u'1", CLICK, 3), _e("u'1", JINJA_EVENT, 3),
    _e("u;2", PURCHASE, 3, 4.0), _e("u;2", CLICK, 3),
    _e('u"3', PURCHASE, 3, 7.5), _e('u"3', CLICK, 4), _e('u"3', JINJA_EVENT, 4),
    _e("u--4", CLICK, 5),
    _e("u5", PURCHASE, 4, 1.0), _e("u5", PURCHASE, 5, 2.0), _e("u5", CLICK, 5),
    _e("u6", CLICK, 5), _e("u6", JINJA_EVENT, 6),
    _e("p1", PURCHASE, 3, 1.0), _e("p3", PURCHASE, 3, 2.0), _e("p4", PURCHASE, 4, 3.0),
]


@pytest.fixture(scope="module")
def injected(tmp_path_factory):
    built = scenario_runner(tmp_path_factory).build("injection", injection_registry(), EXPOSURES, EVENTS)
    built.assert_succeeded()
    return built


def test_raw_and_registry_tables_are_intact(injected):
    assert injected.sql("select count(*) from raw.exposures") == [(len(EXPOSURES),)]
    assert injected.sql("select count(*) from raw.metric_events") == [(len(EVENTS),)]
    assert injected.sql("select count(*) from registry.experiments") == [(2,)]
    assert injected.sql("select count(*) from registry.metrics") == [(4,)]
    assert sorted(r[0] for r in injected.sql("select experiment_id from registry.experiments")) == sorted([EXP, PLAIN])
    assert injected.sql("select experiment_name, hypothesis, owner from registry.experiments where experiment_id = ?",
                        [EXP]) == [(ODD_TEXT, ODD_TEXT, "O'Brien; --")]


def test_every_result_table_is_built(injected):
    tables = {r[0] for r in injected.sql(
        "select table_name from information_schema.tables where table_schema = 'main'")}
    assert {"fct_exposures", "fct_quarantine", "fct_arm_statistics", "fct_srm_checks", "fct_experiment_results",
            "fct_decision_records", "fct_decision_history", "fct_experiment_health"} <= tables


def test_odd_ids_reach_fct_exposures_unchanged(injected):
    rows = injected.sql("select unit_id, variant_id, platform, country, city from main.fct_exposures "
                        "where experiment_id = ? order by unit_id", [EXP])
    expected = [(r[1], r[2], r[4], r[5], r[6]) for r in EXPOSURES if r[0] == EXP and r[2] in ARMS]
    assert rows == sorted(expected)
    assert injected.sql("select count(*) from main.fct_exposures where experiment_id = ?", [PLAIN]) == [(4,)]
    assert injected.sql("select n_rows from main.fct_quarantine where experiment_id = ? and reason = 'unknown_variant'",
                        [EXP]) == [(1,)]


def test_arm_statistics_of_odd_metric_and_variant_ids(injected):
    def stats(metric_id, dimension_name="overall", dimension_value="all"):
        return dict((r[0], r[1:]) for r in injected.sql(
            "select variant_id, n_units, sum_num, sum_den from main.fct_arm_statistics where experiment_id = ? "
            "and metric_id = ? and dimension_name = ? and dimension_value = ? and analysis_date = date '2026-10-25'",
            [EXP, metric_id, dimension_name, dimension_value]))

    assert stats(SUM_METRIC) == {CONTROL: (2, 14.0, None), TREATMENT: (2, 7.5, None), TREATMENT_2: (2, 3.0, None)}
    assert stats(COUNT_METRIC) == {CONTROL: (2, 3.0, None), TREATMENT: (2, 2.0, None), TREATMENT_2: (2, 2.0, None)}
    assert stats(JINJA_METRIC) == {CONTROL: (2, 1.0, None), TREATMENT: (2, 1.0, None), TREATMENT_2: (2, 1.0, None)}
    assert stats(RATIO_METRIC) == {CONTROL: (2, 14.0, 3.0), TREATMENT: (2, 7.5, 2.0), TREATMENT_2: (2, 3.0, 2.0)}
    assert stats(SUM_METRIC, "platform", PLATFORM) == {CONTROL: (1, 10.0, None), TREATMENT: (2, 7.5, None),
                                                       TREATMENT_2: (2, 3.0, None)}
    assert stats(SUM_METRIC, "country", COUNTRY) == {CONTROL: (2, 14.0, None), TREATMENT: (2, 7.5, None),
                                                     TREATMENT_2: (1, 3.0, None)}
    assert stats(SUM_METRIC, "city", CITY)[CONTROL] == (2, 14.0, None)


def test_odd_ids_reach_results_and_decisions_unchanged(injected):
    results = injected.sql(
        "select metric_id, control_variant_id, treatment_variant_id, status from main.fct_experiment_results "
        f"where experiment_id = ? and dimension_name = 'overall' and analysis_date = date '{FINAL}'", [EXP])
    assert sorted(r[:3] for r in results) == sorted(
        (m, CONTROL, t) for m in (SUM_METRIC, COUNT_METRIC, JINJA_METRIC, RATIO_METRIC) for t in (TREATMENT, TREATMENT_2))
    slices = {r[0] for r in injected.sql(
        "select distinct dimension_value from main.fct_experiment_results where experiment_id = ?", [EXP])}
    assert slices == {"all", PLATFORM, "web", COUNTRY, "DE", CITY}
    decisions = injected.sql(
        "select experiment_id, count(*), max(primary_metric_id) from main.fct_decision_records group by 1")
    assert sorted(decisions) == sorted([(EXP, 25, SUM_METRIC), (PLAIN, 25, SUM_METRIC)])
    recommended = {r[0] for r in injected.sql(
        "select recommended_variant_id from main.fct_decision_records where experiment_id = ?", [EXP])}
    assert recommended <= {None, TREATMENT, TREATMENT_2}
    srm = injected.sql("select observed_units from main.fct_srm_checks where experiment_id = ? "
                       f"and dimension_name = 'overall' and analysis_date = date '{FINAL}'", [EXP])
    assert srm == [(", ".join(f"{v}=2" for v in sorted(ARMS)),)]


def test_summary_prints_odd_names_verbatim(injected):
    with duckdb.connect(str(injected.database), read_only=True) as connection:
        text = render(connection)
    for name in (EXP, ODD_TEXT, SUM_METRIC, COUNT_METRIC, JINJA_METRIC, RATIO_METRIC):
        assert name in text


# ---- invalid names stop the build with the registry message, nothing executes ------------------

BAD_DIMENSION = "platform; drop table raw.exposures; --"
BAD_AGGREGATION = "sum'); drop table raw.exposures; --"
BAD_METHOD = "fixed_horizon'; drop table raw.metric_events; --"
BAD_ROLE = "primary' or '1'='1"


def invalid_name_registry() -> Registry:
    registry = injection_registry()
    registry.experiments[1]["analysis_method"] = BAD_METHOD
    registry.experiment_dimensions.append({"experiment_id": EXP, "dimension_name": BAD_DIMENSION})
    registry.metrics.append(metric("bad_aggregation", BAD_AGGREGATION, PURCHASE))
    registry.experiment_metrics[-1]["metric_role"] = BAD_ROLE
    return registry


@pytest.fixture(scope="module")
def invalid_names(tmp_path_factory):
    return scenario_runner(tmp_path_factory).build("injection_invalid_names", invalid_name_registry(), EXPOSURES, EVENTS)


def test_invalid_names_fail_with_the_registry_message(invalid_names):
    assert invalid_names.returncode != 0
    assert registry_error_lines(invalid_names) == sorted([
        f"experiment_dimensions (experiment_id={EXP}, dimension_name={BAD_DIMENSION}): dimension_name is not "
        "one of platform, country, city or experiment_id unknown",
        f"experiment_metrics (experiment_id={PLAIN}): has 0 primary metrics, needs exactly 1",
        f"experiment_metrics (experiment_id={PLAIN}, metric_id={SUM_METRIC}): metric_role '{BAD_ROLE}' is not one "
        "of primary, secondary, guardrail",
        f"experiments (experiment_id={PLAIN}): analysis_method '{BAD_METHOD}' is not one of fixed_horizon, "
        "group_sequential, msprt",
        f"metrics (metric_id=bad_aggregation): aggregation '{BAD_AGGREGATION}' is not one of conversion, count, "
        "sum, mean, ratio",
    ])


def test_invalid_names_execute_nothing(invalid_names):
    assert invalid_names.sql("select count(*) from raw.exposures") == [(len(EXPOSURES),)]
    assert invalid_names.sql("select count(*) from raw.metric_events") == [(len(EVENTS),)]
    assert invalid_names.sql("select count(*) from registry.metrics") == [(5,)]
    assert invalid_names.sql("select count(*) from registry.experiment_dimensions") == [(4,)]
