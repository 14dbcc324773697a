{{ config(materialized='view') }}
-- Every raw exposure row with the first row-level reason it cannot be used (null when valid).
-- Order of checks is the contract in docs/semantics.md.
with exposures as (
    select * from {{ ref('stg_raw__exposures') }}
),

experiments as (
    select * from {{ ref('stg_registry__experiments') }}
),

variants as (
    select * from {{ ref('stg_registry__variants') }}
)

select
    exposures.experiment_id,
    exposures.unit_id,
    exposures.variant_id,
    exposures.exposed_at,
    exposures.platform,
    exposures.country,
    exposures.city,
    exposures.is_internal,
    exposures.is_bot,
    case
        when exposures.unit_id is null then 'missing_unit_id'
        when experiments.experiment_id is null then 'unknown_experiment'
        when variants.variant_id is null then 'unknown_variant'
        when exposures.exposed_at is null and exposures.has_exposed_at then 'invalid_exposed_at'
        when exposures.exposed_at is null then 'missing_exposed_at'
        when exposures.exposed_at >= {{ as_of_cutoff() }} then 'exposed_after_as_of_date'
        when exposures.exposed_at < cast(experiments.start_date as timestamp)
            or exposures.exposed_at >= {{ add_days('experiments.end_date', 1) }}
            then 'exposed_outside_experiment_window'
    end as rejection_reason
from exposures
left join experiments
    on exposures.experiment_id = experiments.experiment_id
left join variants
    on exposures.experiment_id = variants.experiment_id
    and exposures.variant_id = variants.variant_id
