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
    experiment_id varchar,             -- null for metric events; '(missing)' when the row had none
    reason       varchar not null,     -- see docs/semantics.md (missing_unit_id, unknown_variant,
                                       -- internal_traffic, multiple_variants, invalid_value, ...)
    is_exclusion boolean not null,     -- false: informational (repeat_exposure_collapsed)
    n_rows       bigint  not null,
    n_units      bigint  not null      -- distinct units affected (0 for informational rows)
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
