{#- A unit's metric value from its raw total: 0/1 for conversion, capped total when a
    winsorisation cap is set, else the total. Always DOUBLE (squared later). -#}
{% macro unit_value(raw_total, is_indicator, cap) -%}
    case
        when {{ is_indicator }} then case when {{ raw_total }} > 0 then 1.0 else 0.0 end
        when {{ cap }} is not null then least(cast({{ raw_total }} as double), {{ cap }})
        else cast({{ raw_total }} as double)
    end
{%- endmacro %}
