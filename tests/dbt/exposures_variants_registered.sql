-- Every analysed unit's variant is registered for its experiment.
select exposures.experiment_id, exposures.variant_id, count(*) as n_units
from {{ ref('fct_exposures') }} as exposures
left join {{ ref('stg_registry__variants') }} as variants
    on exposures.experiment_id = variants.experiment_id
    and exposures.variant_id = variants.variant_id
where variants.variant_id is null
group by exposures.experiment_id, exposures.variant_id
