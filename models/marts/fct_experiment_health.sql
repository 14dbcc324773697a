-- Grain: one row per (experiment_id, analysis_date). Experiment health checks, computed in SQL
-- and surfaced in fct_decision_records (docs/semantics.md, "Health checks"):
--   * SRM overall and per slice (chi-square above its critical value, from int_srm_chi_square);
--   * share of units exposed to more than one arm (excluded, counted in fct_quarantine);
--   * exposure volume per day, and whether it dropped to zero while the experiment runs;
--   * share of metric events in the 24 hours before a unit's first exposure (events that
--     happened just before exposure suggest late exposure logging).
-- The pre-period imbalance test (CUPED covariate) is per metric, in fct_experiment_results.
with analysis_dates as (
    select * from {{ ref('int_experiment_analysis_dates') }}
),

classified_units as (
    select * from {{ ref('int_exposure_units_classified') }}
),

daily_exposure_rows as (
    -- valid exposure rows per day (int_exposure_rows_counted: not the exposure log itself)
    select
        valid_rows.experiment_id,
        valid_rows.exposure_date,
        sum(valid_rows.n_rows) as n_exposure_rows
    from {{ ref('int_exposure_rows_counted') }} as valid_rows
    where valid_rows.rejection_reason is null
    group by valid_rows.experiment_id, valid_rows.exposure_date
),

daily_units as (
    select
        classified_units.experiment_id,
        classified_units.exposure_date,
        count(*) as n_units_first_exposed,
        sum(case when classified_units.exclusion_reason = 'multiple_variants' then 1 else 0 end)
            as n_units_multiple_variants
    from classified_units
    group by classified_units.experiment_id, classified_units.exposure_date
),

daily_events as (
    -- post-exposure events by event day; events in the 24 hours before first exposure by
    -- exposure day (int_event_days_counted)
    -- (several rows per day where an incremental run appended corrections)
    select
        counted.experiment_id,
        counted.activity_date,
        sum(counted.n_events_post) as n_events_post,
        sum(counted.n_events_before_exposure) as n_events_before_exposure
    from {{ ref('int_event_days_counted') }} as counted
    group by counted.experiment_id, counted.activity_date
),

slice_srm as (
    -- SQL-only SRM flags (chi-square above the tabulated critical value at srm_alpha), so the health
    -- checks do not depend on the Python step; fct_srm_checks adds the exact p-values
    select
        srm.experiment_id,
        srm.analysis_date,
        max(case when srm.dimension_name = 'overall' then srm.chi_square end) as srm_chi_square,
        coalesce(max(case when srm.dimension_name = 'overall' and srm.is_srm_by_critical_value then 1 else 0 end), 0) = 1
            as is_srm,
        sum(case when srm.dimension_name <> 'overall' and srm.chi_square is not null then 1 else 0 end)
            as n_slices_checked,
        sum(case when srm.dimension_name <> 'overall' and srm.is_srm_by_critical_value then 1 else 0 end)
            as n_slices_with_srm
    from {{ ref('int_srm_chi_square') }} as srm
    group by srm.experiment_id, srm.analysis_date
),

per_date as (
    select
        analysis_dates.experiment_id,
        analysis_dates.analysis_date,
        analysis_dates.is_final_analysis,
        coalesce(daily_exposure_rows.n_exposure_rows, 0) as n_exposure_rows_on_date,
        coalesce(daily_units.n_units_first_exposed, 0) as n_units_first_exposed_on_date,
        coalesce(daily_units.n_units_multiple_variants, 0) as n_units_multiple_variants,
        coalesce(daily_events.n_events_post, 0) as n_events_post,
        coalesce(daily_events.n_events_before_exposure, 0) as n_events_before_exposure
    from analysis_dates
    left join daily_exposure_rows
        on analysis_dates.experiment_id = daily_exposure_rows.experiment_id
        and analysis_dates.analysis_date = daily_exposure_rows.exposure_date
    left join daily_units
        on analysis_dates.experiment_id = daily_units.experiment_id
        and analysis_dates.analysis_date = daily_units.exposure_date
    left join daily_events
        on analysis_dates.experiment_id = daily_events.experiment_id
        and analysis_dates.analysis_date = daily_events.activity_date
),

running as (
    select
        per_date.experiment_id,
        per_date.analysis_date,
        per_date.is_final_analysis,
        per_date.n_exposure_rows_on_date,
        per_date.n_units_first_exposed_on_date,
        {%- for column in ['n_units_multiple_variants', 'n_units_first_exposed_on_date', 'n_events_post', 'n_events_before_exposure'] %}
        sum(per_date.{{ column }}) over (
            partition by per_date.experiment_id
            order by per_date.analysis_date
            rows between unbounded preceding and current row
        ) as cumulative_{{ column }},
        {%- endfor %}
        max(case when per_date.n_exposure_rows_on_date > 0 then per_date.analysis_date end) over (
            partition by per_date.experiment_id
            order by per_date.analysis_date
            rows between unbounded preceding and current row
        ) as last_exposure_date
    from per_date
)

select
    running.experiment_id,
    running.analysis_date,
    running.is_final_analysis,
    slice_srm.srm_chi_square,
    coalesce(slice_srm.is_srm, false) as is_srm,
    cast(coalesce(slice_srm.n_slices_checked, 0) as bigint) as n_slices_checked,
    cast(coalesce(slice_srm.n_slices_with_srm, 0) as bigint) as n_slices_with_srm,
    cast(running.cumulative_n_units_first_exposed_on_date as bigint) as n_units_exposed,
    cast(running.cumulative_n_units_multiple_variants as bigint) as n_units_multiple_variants,
    cast(running.cumulative_n_units_multiple_variants as double)
        / nullif(running.cumulative_n_units_first_exposed_on_date, 0) as multiple_variant_share,
    cast(running.n_exposure_rows_on_date as bigint) as n_exposure_rows_on_date,
    cast(running.n_units_first_exposed_on_date as bigint) as n_units_first_exposed_on_date,
    running.last_exposure_date,
    -- exposures stopped: none on this date although the experiment had exposures before
    running.last_exposure_date is not null and running.n_exposure_rows_on_date = 0 as is_exposure_stopped,
    cast(running.cumulative_n_events_before_exposure as bigint) as n_events_before_exposure,
    cast(running.cumulative_n_events_post as bigint) as n_events_after_exposure,
    cast(running.cumulative_n_events_before_exposure as double)
        / nullif(running.cumulative_n_events_before_exposure + running.cumulative_n_events_post, 0)
        as events_before_exposure_share
from running
left join slice_srm
    on running.experiment_id = slice_srm.experiment_id
    and running.analysis_date = slice_srm.analysis_date
