-- =============================================================================================
-- The contract: DDL of the raw input tables and of every result table users query.
-- Dialect: DuckDB (the embedded default). On Spark the same columns exist with Spark types
-- (varchar -> string, double -> double, bigint -> bigint, timestamp -> timestamp).
-- Semantics (exclusion rules, windows, analysis dates, slices): docs/semantics.md.
-- Statistics (formulas, tests, decision rules): docs/statistics.md.
-- tests/integration checks that the built tables match this file column for column.
-- =============================================================================================


-- ---------------------------------------------------------------------------------------------
-- RAW INPUTS (schema raw, or parquet files with the same columns: var raw_source = 'parquet')
-- ---------------------------------------------------------------------------------------------

create schema if not exists raw;

-- One row per exposure: the moment a unit could experience a variant. Duplicates, repeats and
-- dirt are allowed; every row either reaches fct_exposures or is counted in fct_quarantine.
create table raw.exposures (
    experiment_id varchar,      -- registry experiment id (seeds/experiments.csv)
    unit_id       varchar,      -- the randomisation unit (e.g. customer id)
    variant_id    varchar,      -- registry variant id of that experiment
    exposed_at    timestamp,    -- UTC, without time zone
    platform      varchar,      -- optional context / slice dimensions (null -> '(unknown)')
    country       varchar,
    city          varchar,
    is_internal   boolean,      -- employee / test traffic: the unit is excluded (null = false)
    is_bot        boolean       -- bot traffic: the unit is excluded (null = false)
);

-- One row per metric event of a unit. Events are attributed to every experiment the unit is
-- exposed in, inside each metric's window after the first exposure (and its pre-period).
create table raw.metric_events (
    unit_id    varchar,
    event_name varchar,         -- matched to metrics.source_event
    event_at   timestamp,       -- UTC, without time zone
    value      double           -- optional (null for pure count events); a varchar column is
                                -- accepted too and parsed with try_cast (unparseable -> quarantine)
);


-- ---------------------------------------------------------------------------------------------
-- REGISTRY (dbt seeds, schema registry): experiments, variants, metrics, experiment_metrics,
-- experiment_dimensions. Columns and types: dbt_project.yml (seeds column_types); tests:
-- seeds/_registry__seeds.yml and tests/dbt/registry_*.sql.
-- ---------------------------------------------------------------------------------------------


-- ---------------------------------------------------------------------------------------------
-- RESULT TABLES (schema main)
-- ---------------------------------------------------------------------------------------------

-- Grain: (experiment_id, unit_id). The analysed units: first exposure, single variant,
-- dimensions at first exposure.
create table fct_exposures (
    experiment_id    varchar   not null,
    unit_id          varchar   not null,
    variant_id       varchar   not null,
    first_exposed_at timestamp not null,
    exposure_date    date      not null,
    platform         varchar   not null,
    country          varchar   not null,
    city             varchar   not null,
    n_exposure_rows  bigint    not null   -- raw rows collapsed into this unit
);

-- Grain: (source_table, experiment_id, reason). Every raw row that does not reach the analysis.
-- raw exposure rows = sum(fct_exposures.n_exposure_rows) + sum(n_rows where source_table =
-- 'exposures' and is_exclusion) (tested).
create table fct_quarantine (
    source_table varchar not null,     -- 'exposures' | 'metric_events'
    experiment_id varchar,             -- null for rejected metric events; '(missing)' when the row had none
    reason       varchar not null,     -- see docs/semantics.md (missing_unit_id, unknown_variant,
                                       -- internal_traffic, multiple_variants, invalid_value, ...)
    is_exclusion boolean not null,     -- false: informational, the rows are not lost
                                       -- (repeat_exposure_collapsed, event_after_attribution_window,
                                       -- event_before_exposure)
    n_rows       bigint  not null,
    n_units      bigint  not null      -- distinct units affected (0 for repeat_exposure_collapsed)
);

-- Grain: (experiment_id, metric_id, variant_id, dimension_name, dimension_value, analysis_date).
-- Sufficient statistics of each arm as of the end of analysis_date; sums over units of the
-- per-unit numerator (num), denominator (den: mean / ratio metrics only, else null) and the
-- pre-period covariates pre_num / pre_den (null when the metric has no pre-period).
create table fct_arm_statistics (
    experiment_id           varchar not null,
    metric_id               varchar not null,
    variant_id              varchar not null,
    dimension_name          varchar not null,   -- 'overall' | 'platform' | 'country' | 'city'
    dimension_value         varchar not null,   -- 'all' for overall
    analysis_date           date    not null,
    n_units                 bigint  not null,
    n_units_with_pre_period bigint  not null,   -- units with any pre-period event of the metric
    sum_num                 double  not null,
    sum_num_sq              double  not null,
    sum_den                 double,
    sum_den_sq              double,
    sum_num_den             double,
    sum_pre_num             double,
    sum_pre_num_sq          double,
    sum_pre_den             double,
    sum_pre_den_sq          double,
    sum_pre_num_pre_den     double,
    sum_num_pre_num         double,
    sum_num_pre_den         double,
    sum_den_pre_num         double,
    sum_den_pre_den         double
);

-- Grain: (experiment_id, dimension_name, dimension_value, analysis_date). Sample-ratio mismatch:
-- observed units per variant against the configured weights. Built by the Python step from the
-- SQL chi-square (int_srm_chi_square); is_srm_by_critical_value is the SQL-only flag.
create table fct_srm_checks (
    experiment_id             varchar,
    dimension_name            varchar,
    dimension_value           varchar,
    analysis_date             date,
    n_units_total             bigint,
    observed_units            varchar,   -- 'control=20000, treatment=19000'
    chi_square                double,    -- Pearson, sum((o - e)^2 / e); null with no units
    degrees_of_freedom        bigint,    -- registered variants - 1
    srm_alpha                 double,    -- alarm threshold (registry, default 0.001)
    chi_square_critical_value double,    -- chi2 upper quantile at srm_alpha (tabulated seed)
    is_srm_by_critical_value  boolean,   -- chi_square > critical value (SQL only)
    srm_p_value               double,    -- see docs/statistics.md (chi-square; exact for small n)
    is_srm                    boolean    -- srm_p_value < srm_alpha
);

-- Grain: (experiment_id, metric_id, treatment_variant_id, dimension_name, dimension_value,
-- analysis_date): each treatment arm against the experiment's control. Formulas and decision
-- rules: docs/statistics.md. Degenerate input gives a row with status <> 'ok' and a reason.
create table fct_experiment_results (
    experiment_id                varchar,
    metric_id                    varchar,
    metric_role                  varchar,   -- primary | secondary | guardrail
    aggregation                  varchar,   -- conversion | count | sum | mean | ratio
    control_variant_id           varchar,
    treatment_variant_id         varchar,
    dimension_name               varchar,
    dimension_value              varchar,
    analysis_date                date,
    n_control                    bigint,
    n_treatment                  bigint,
    mean_control                 double,    -- arm mean per unit (mean / ratio: sum num / sum den)
    mean_treatment               double,
    absolute_effect              double,    -- mean_treatment - mean_control (unadjusted)
    std_error                    double,
    test_statistic               double,
    degrees_of_freedom           double,    -- Welch-Satterthwaite df; null for z tests
    p_value                      double,    -- two-sided, unadjusted
    ci_lower                     double,    -- (1 - alpha) CI of absolute_effect
    ci_upper                     double,
    test_method                  varchar,   -- two_proportion_z | welch_t | delta_method_z
    relative_effect              double,    -- mean_treatment / mean_control - 1
    relative_ci_lower            double,    -- delta-method CI of relative_effect
    relative_ci_upper            double,
    cuped_theta                  double,    -- CUPED coefficient (null without a pre-period)
    cuped_absolute_effect        double,
    cuped_std_error              double,
    cuped_ci_lower               double,
    cuped_ci_upper               double,
    cuped_p_value                double,
    cuped_relative_effect        double,
    cuped_relative_ci_lower      double,
    cuped_relative_ci_upper      double,
    variance_reduction           double,    -- 1 - Var(CUPED effect) / Var(unadjusted effect)
    estimate_method              varchar,   -- cuped | unadjusted: which estimate decides
    decision_effect              double,    -- the deciding estimate (absolute) and its CI / p
    decision_ci_lower            double,
    decision_ci_upper            double,
    decision_p_value             double,
    decision_relative_effect     double,
    decision_relative_ci_lower   double,
    decision_relative_ci_upper   double,
    p_value_holm                 double,    -- Holm over the family: every metric x treatment arm of
                                            -- (experiment, slice, date); guardrails enter with
                                            -- non_inferiority_p_value, mSPRT metrics with sequential_p_value
    p_value_bh                   double,    -- Benjamini-Hochberg over the same family
    family_size                  bigint,    -- m: tests in the family
    adjusted_ci_lower            double,    -- Bonferroni-widened CI of decision_effect (alpha / m)
    adjusted_ci_upper            double,
    non_inferiority_p_value      double,    -- guardrails: one-sided, H0 relative harm >= tolerance
    pre_period_imbalance_p_value double,    -- Welch test of the pre-period covariate (health check)
    minimum_detectable_effect    double,    -- absolute MDE at the registry power with this SE
    achieved_power               double,    -- power to detect the practical threshold with this SE
    prob_treatment_better        double,    -- Bayesian P(treatment better in the desired direction)
    expected_loss                double,    -- Bayesian expected loss of shipping the treatment
    bayesian_method              varchar,   -- beta_binomial (conversion, overall, latest date) | normal
    analysis_method              varchar,   -- fixed_horizon | group_sequential | msprt
    information_fraction         double,    -- sequential: elapsed share of the planned duration
    sequential_p_value           double,    -- msprt: always-valid p-value (running minimum)
    sequential_ci_lower          double,    -- msprt: always-valid CI (running intersection)
    sequential_ci_upper          double,
    sequential_boundary_z        double,    -- group_sequential: |z| efficacy boundary on look dates
    is_boundary_crossed          boolean,   -- group_sequential: crossed at this or an earlier look
    msprt_mixing_sd              double,    -- msprt: tau of the normal mixing distribution used
    alpha                        double,
    desired_direction            varchar,   -- increase | decrease
    practical_threshold          double,
    threshold_scale              varchar,   -- relative | absolute
    guardrail_tolerance          double,    -- relative harm tolerated (guardrails only)
    is_statistically_significant boolean,   -- p_value_holm < alpha (group_sequential: boundary crossed)
    is_practically_significant   boolean,   -- moved in the desired direction by >= threshold
    guardrail_status             varchar,   -- breached | non_inferior | inconclusive (guardrails)
    status                       varchar,   -- ok | insufficient_data | missing_control | invalid_input
    status_reason                varchar
);

-- Grain: (experiment_id, analysis_date). The decision trail: what the analysis of each day says
-- to do, and why.
create table fct_decision_records (
    experiment_id          varchar,
    analysis_date          date,
    is_final_analysis      boolean,   -- analysis_date is the experiment's end_date
    decision               varchar,   -- ship | iterate | stop | rerun | keep_running
    recommended_variant_id varchar,   -- the arm to ship (ship only)
    primary_metric_id      varchar,
    srm_p_value            double,
    srm_detected           boolean,
    n_guardrail_breaches   bigint,
    decision_reasons       varchar,   -- human-readable, '; '-separated
    analysis_method        varchar,   -- fixed_horizon | group_sequential | msprt
    health_warnings        varchar    -- '; '-separated health-check warnings (null: none)
);

-- Grain: (experiment_id, analysis_date). The decision trail that survives `dbt build
-- --full-refresh`: each date's decision as first recorded (the current as-of date is re-recorded
-- by re-runs of that date, never duplicated). Columns of fct_decision_records plus:
create table fct_decision_history (
    experiment_id          varchar,
    analysis_date          date,
    is_final_analysis      boolean,
    decision               varchar,
    recommended_variant_id varchar,
    primary_metric_id      varchar,
    srm_p_value            double,
    srm_detected           boolean,
    n_guardrail_breaches   bigint,
    decision_reasons       varchar,
    analysis_method        varchar,
    health_warnings        varchar,
    recorded_as_of_date    date,        -- as-of date of the run that recorded the row
    recorded_at            timestamp,   -- start of that run (UTC)
    dbt_invocation_id      varchar,
    is_backfilled          boolean      -- recorded after its analysis date (first build)
);

-- Grain: (experiment_id, analysis_date). Experiment health checks (docs/semantics.md).
create table fct_experiment_health (
    experiment_id                varchar,
    analysis_date                date,
    is_final_analysis            boolean,
    srm_chi_square               double,    -- overall slice
    is_srm                       boolean,   -- chi-square above the critical value at srm_alpha
    n_slices_checked             bigint,
    n_slices_with_srm            bigint,
    n_units_exposed              bigint,    -- units first exposed so far (incl. excluded)
    n_units_multiple_variants    bigint,
    multiple_variant_share       double,
    n_exposure_rows_on_date      bigint,    -- valid exposure rows dated analysis_date
    n_units_first_exposed_on_date bigint,
    last_exposure_date           date,
    is_exposure_stopped          boolean,   -- no exposure rows on this date after earlier ones
    n_events_before_exposure     bigint,    -- metric events in the 24 h before first exposure
    n_events_after_exposure      bigint,    -- attributed metric events (post-period)
    events_before_exposure_share double
);

-- Grain: (experiment_id, metric_id, dimension_name, dimension_value, analysis_date, term).
-- Factorial experiments (design = factorial): two-way ANOVA with interaction, Type II sums of
-- squares, from the cell aggregates (conversion, count and sum metrics).
create table fct_factorial_anova (
    experiment_id   varchar,
    metric_id       varchar,
    aggregation     varchar,
    dimension_name  varchar,
    dimension_value varchar,
    analysis_date   date,
    term            varchar,   -- factor_a | factor_b | interaction | residual
    sum_sq          double,
    df              double,
    f_statistic     double,
    p_value         double,
    n_units         bigint,
    n_cells         bigint,
    status_reason   varchar
);

-- Grain: (experiment_id, analysis_date, variant_id). Bandit experiments (design = bandit):
-- Thompson-sampling traffic weights from the primary conversion metric (overall slice).
create table fct_bandit_allocations (
    experiment_id      varchar,
    metric_id          varchar,
    analysis_date      date,
    variant_id         varchar,
    n_units            bigint,
    conversions        double,
    conversion_rate    double,
    current_weight     double,    -- registry traffic_weight
    prob_best          double,    -- posterior P(arm has the highest rate), Beta(1, 1) priors
    recommended_weight double     -- prob_best with a 1% floor per arm
);
