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
