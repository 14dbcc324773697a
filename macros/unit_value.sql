{#- A unit's metric value from its raw total: 0/1 for conversion, capped total when a
    winsorisation cap is set, else the total. Always DOUBLE (squared later). -#}
{% macro unit_value(raw_total, is_indicator, cap) -%}
    case
        when {{ is_indicator }} then case when {{ raw_total }} > 0 then 1.0 else 0.0 end
        when {{ cap }} is not null then least(cast({{ raw_total }} as double), {{ cap }})
        else cast({{ raw_total }} as double)
    end
{%- endmacro %}

{#- One int_unit_event_days row's measure (exact type), named by the metric definition's measure
    column: the event count, the sum of values or the count of non-null values. -#}
{% macro measure_value(event_days, component_measure) -%}
    case {{ component_measure }}
        when 'event_count' then {{ to_exact(event_days ~ '.event_count') }}
        when 'value_sum' then {{ event_days }}.value_sum
        when 'value_count' then {{ to_exact(event_days ~ '.value_count') }}
    end
{%- endmacro %}

{#- Sum over int_unit_event_days rows of one metric component's measure (exact type): the
    event count, the sum of values or the count of non-null values of the component's event,
    times the row's sign (a cancelled row and its sign -1 copy add up to zero). -#}
{% macro component_measure_sum(event_days, component_event, component_measure) -%}
    sum(
        case when {{ event_days }}.event_name = {{ component_event }} then
            {#- a negation, not a product: an integer times the exact decimal loses scale on Spark #}
            case when {{ event_days }}.sign < 0 then -({{ measure_value(event_days, component_measure) }})
            else {{ measure_value(event_days, component_measure) }} end
        else {{ to_exact(0) }} end
    )
{%- endmacro %}
