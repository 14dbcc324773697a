-- Nothing silently lost: raw exposure rows = rows behind analysed units + quarantined rows.
with raw_rows as (
    select count(*) as n_rows from {{ ref('stg_raw__exposures') }}
),

analysed as (
    select coalesce(sum(n_exposure_rows), 0) as n_rows from {{ ref('fct_exposures') }}
),

quarantined as (
    select coalesce(sum(n_rows), 0) as n_rows
    from {{ ref('fct_quarantine') }}
    where source_table = 'exposures' and is_exclusion
)

select raw_rows.n_rows as raw_rows, analysed.n_rows as analysed_rows, quarantined.n_rows as quarantined_rows
from raw_rows cross join analysed cross join quarantined
where raw_rows.n_rows <> analysed.n_rows + quarantined.n_rows
