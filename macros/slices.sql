{#- The exposure dimensions an experiment can be sliced by (columns of fct_exposures). -#}
{% macro dimension_columns() -%}
    {{ return(['platform', 'country', 'city']) }}
{%- endmacro %}

{#-
  Roll rows at the finest (platform, country, city) grain up to slices: ('overall', 'all') for
  every experiment plus (dimension, value) for each dimension the experiment lists in the
  registry. Additive measures only.
-#}
{% macro rollup_slices(relation, key_columns, measure_columns, dimensions_relation) -%}
    {%- for dimension in [none] + dimension_columns() %}
    select
        {%- for key in key_columns %}
        rows_to_slice.{{ key }},
        {%- endfor %}
        '{{ dimension if dimension else "overall" }}' as dimension_name,
        {{ 'rows_to_slice.' ~ dimension if dimension else "'all'" }} as dimension_value,
        {%- for measure in measure_columns %}
        sum(rows_to_slice.{{ measure }}) as {{ measure }}{{ "," if not loop.last }}
        {%- endfor %}
    from {{ relation }} as rows_to_slice
    {%- if dimension %}
    inner join {{ dimensions_relation }} as sliced_dimensions
        on rows_to_slice.experiment_id = sliced_dimensions.experiment_id
        and sliced_dimensions.dimension_name = '{{ dimension }}'
    {%- endif %}
    group by
        {%- for key in key_columns %}
        rows_to_slice.{{ key }}{{ "," if not loop.last or dimension }}
        {%- endfor %}
        {%- if dimension %}
        rows_to_slice.{{ dimension }}
        {%- endif %}
    {{ "union all" if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- Analysed units per (experiment, variant, finest slice, exposure date), from fct_exposures:
    the unit counts of fct_arm_statistics and of the SRM checks. -#}
{% macro exposed_units_by_day() -%}
    select
        exposures.experiment_id,
        exposures.variant_id,
        exposures.platform,
        exposures.country,
        exposures.city,
        exposures.exposure_date as activity_date,
        count(*) as n_units
    from {{ ref('fct_exposures') }} as exposures
    group by
        exposures.experiment_id,
        exposures.variant_id,
        exposures.platform,
        exposures.country,
        exposures.city,
        exposures.exposure_date
{%- endmacro %}
