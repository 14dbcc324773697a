{#- The additive per-arm moments (docs/semantics.md): every one is a plain sum over units, so
    slices, days and arms can be added before any statistic is computed. -#}
{% macro arm_moment_columns() -%}
    {{ return([
        'n_units', 'n_units_with_pre_period',
        'sum_num', 'sum_num_sq', 'sum_den', 'sum_den_sq', 'sum_num_den',
        'sum_pre_num', 'sum_pre_num_sq', 'sum_pre_den', 'sum_pre_den_sq', 'sum_pre_num_pre_den',
        'sum_num_pre_num', 'sum_num_pre_den', 'sum_den_pre_num', 'sum_den_pre_den'
    ]) }}
{%- endmacro %}

{#- Moments that only exist for mean / ratio metrics (denominator). -#}
{% macro is_denominator_moment(column) -%}
    {{ return('den' in column) }}
{%- endmacro %}

{#- Moments that only exist when the metric has a pre-period covariate. -#}
{% macro is_pre_period_moment(column) -%}
    {{ return('pre' in column and column != 'n_units_with_pre_period') }}
{%- endmacro %}

{#- The values int_unit_metric_deltas stores per row (DOUBLE): the unit's transformed value after
    and before the row's day, and its pre-period covariates. -#}
{% macro unit_delta_value_columns() -%}
    {{ return(['num_value', 'previous_num_value', 'den_value', 'previous_den_value',
               'pre_num_value', 'pre_den_value']) }}
{%- endmacro %}

{#- One int_unit_metric_deltas row's contribution to an arm moment (n_units excepted: unit counts
    come from fct_exposures), in the exact sum type and signed: the change of the moment's
    per-unit term on the row's day (value rows), or the pre-period terms (pre_period rows, whose
    value change is zero). Rounded once per row, then summed exactly, so any grouping of the rows
    gives the same sums. -#}
{% macro unit_delta_moment(column, row) -%}
    {%- set num = row ~ '.num_value' -%}
    {%- set prev_num = row ~ '.previous_num_value' -%}
    {%- set den = row ~ '.den_value' -%}
    {%- set prev_den = row ~ '.previous_den_value' -%}
    {%- set pre_num = row ~ '.pre_num_value' -%}
    {%- set pre_den = row ~ '.pre_den_value' -%}
    {%- set entry = row ~ '.is_pre_period_entry = 1' -%}
    {%- set terms = {
        'sum_num': num ~ ' - ' ~ prev_num,
        'sum_num_sq': num ~ ' * ' ~ num ~ ' - ' ~ prev_num ~ ' * ' ~ prev_num,
        'sum_den': den ~ ' - ' ~ prev_den,
        'sum_den_sq': den ~ ' * ' ~ den ~ ' - ' ~ prev_den ~ ' * ' ~ prev_den,
        'sum_num_den': num ~ ' * ' ~ den ~ ' - ' ~ prev_num ~ ' * ' ~ prev_den,
        'sum_pre_num': 'case when ' ~ entry ~ ' then ' ~ pre_num ~ ' else 0 end',
        'sum_pre_num_sq': 'case when ' ~ entry ~ ' then ' ~ pre_num ~ ' * ' ~ pre_num ~ ' else 0 end',
        'sum_pre_den': 'case when ' ~ entry ~ ' then ' ~ pre_den ~ ' else 0 end',
        'sum_pre_den_sq': 'case when ' ~ entry ~ ' then ' ~ pre_den ~ ' * ' ~ pre_den ~ ' else 0 end',
        'sum_pre_num_pre_den': 'case when ' ~ entry ~ ' then ' ~ pre_num ~ ' * ' ~ pre_den ~ ' else 0 end',
        'sum_num_pre_num': pre_num ~ ' * (' ~ num ~ ' - ' ~ prev_num ~ ')',
        'sum_num_pre_den': pre_den ~ ' * (' ~ num ~ ' - ' ~ prev_num ~ ')',
        'sum_den_pre_num': pre_num ~ ' * (' ~ den ~ ' - ' ~ prev_den ~ ')',
        'sum_den_pre_den': pre_den ~ ' * (' ~ den ~ ' - ' ~ prev_den ~ ')',
    } -%}
    {%- if column == 'n_units_with_pre_period' -%}
        {{ row }}.sign * {{ row }}.is_pre_period_entry
    {%- elif column in terms -%}
        {{ row }}.sign * {{ to_exact(terms[column]) }}
    {%- else -%}
        {{ exceptions.raise_compiler_error('no per-unit delta for arm moment ' ~ column) }}
    {%- endif -%}
{%- endmacro %}
