-- Grain: one row per (experiment_id, analysis_date): every day from start_date to
-- least(end_date, as_of_date). Experiments longer than 4096 days are not supported.
with experiments as (
    select
        experiments.experiment_id,
        experiments.start_date,
        experiments.end_date,
        case
            when experiments.end_date < {{ as_of_date() }} then experiments.end_date
            else {{ as_of_date() }}
        end as last_analysis_date
    from {{ ref('stg_registry__experiments') }} as experiments
),

day_offsets as (
    {{ dbt.generate_series(4096) }}
),

dates as (
    select
        experiments.experiment_id,
        experiments.end_date,
        experiments.last_analysis_date,
        cast({{ dbt.dateadd('day', 'day_offsets.generated_number - 1', 'experiments.start_date') }} as date)
            as analysis_date
    from experiments
    cross join day_offsets
)

select
    dates.experiment_id,
    dates.analysis_date,
    dates.analysis_date = dates.end_date as is_final_analysis,
    dates.analysis_date = dates.last_analysis_date as is_latest_analysis
from dates
where dates.analysis_date <= dates.last_analysis_date
