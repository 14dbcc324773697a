{#- Project generic tests (dbt_utils is not a dependency: the package hub is not reachable). -#}

{% test unique_combination_of_columns(model, combination_of_columns) %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as n_rows
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}

{#- Weights within each group sum to 1 (within 1e-9). -#}
{% test weights_sum_to_one(model, group_by, weight_column) %}
select
    {{ group_by | join(', ') }},
    sum({{ weight_column }}) as total_weight
from {{ model }}
group by {{ group_by | join(', ') }}
having abs(sum({{ weight_column }}) - 1) > 1e-9
{% endtest %}

{#- True when a data test may check only the exposure units this run rebuilt
    (int_exposure_units_changed): an incremental run that rebuilt only the changed units (R after
    1900-01-01), not --full-refresh, and var('test_changed_units_only') not false. Such a run
    deletes and re-appends exactly those units' rows; every other row is as the previous run left
    it, and that run checked it. -#}
{% macro tests_changed_units_only() -%}
    {%- if not execute or flags.FULL_REFRESH -%}
        {{ return(false) }}
    {%- endif -%}
    {%- if (var('test_changed_units_only', true) | string | lower) in ['false', '0', 'no', 'none'] -%}
        {{ return(false) }}
    {%- endif -%}
    {{ return(recompute_from_date() != "cast('1900-01-01' as date)") }}
{%- endmacro %}

{#- The row checks of an exposure-unit table (grain experiment_id, unit_id; fct_exposures) in one
    scan instead of one test per column: a unit on more than one row, a required column null,
    n_exposure_rows below 1, an experiment or a variant not in the registry. Returns one row per
    problem. On an incremental run only the rebuilt units are checked (tests_changed_units_only:
    at L, day 30, the whole-table checks were about 5 s of a 50 s daily run and grew with the
    number of units); var test_changed_units_only: false checks every row. A unit lost or doubled
    anywhere in the table still fails the whole-table count checks arm_units_equal_exposed_units
    and exposure_rows_accounted_for (tests/dbt) on every run. -#}
{% test exposure_units_well_formed(model, required_columns) %}
-- depends_on: {{ ref('int_incremental_window') }}
-- depends_on: {{ ref('int_exposure_units_changed') }}
{%- set changed_only = tests_changed_units_only() %}
with checked as (
    select units.*
    from {{ model }} as units
    {%- if changed_only %}
    inner join {{ ref('int_exposure_units_changed') }} as changed_units
        on units.experiment_id = changed_units.experiment_id
        and units.unit_id = changed_units.unit_id
    {%- endif %}
),

row_problems as (
    select
        checked.experiment_id,
        checked.unit_id,
        case
            {%- for column in required_columns %}
            when checked.{{ column }} is null then '{{ column }} is null'
            {%- endfor %}
            when checked.n_exposure_rows < 1 then 'n_exposure_rows below 1'
            when experiments.experiment_id is null then 'experiment not in the registry'
            when variants.variant_id is null then 'variant not registered for the experiment'
        end as problem
    from checked
    left join {{ ref('stg_registry__experiments') }} as experiments
        on checked.experiment_id = experiments.experiment_id
    left join {{ ref('stg_registry__variants') }} as variants
        on checked.experiment_id = variants.experiment_id
        and checked.variant_id = variants.variant_id
),

duplicate_units as (
    select
        checked.experiment_id,
        checked.unit_id,
        'unit on ' || cast(count(*) as {{ dbt.type_string() }}) || ' rows' as problem
    from checked
    group by checked.experiment_id, checked.unit_id
    having count(*) > 1
)

select row_problems.* from row_problems where row_problems.problem is not null
union all
select duplicate_units.* from duplicate_units
{% endtest %}
