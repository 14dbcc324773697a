{#- Joins event-day rows (alias event_days_alias, from int_unit_event_days) to their event's
    counting window (int_experiment_event_windows.is_counting_window): the one window per event
    in which events after the window and before exposure are counted, so each event counts once. -#}
{% macro join_counting_window(event_days_alias) -%}
    inner join {{ ref('int_experiment_event_windows') }} as counting_windows
        on {{ event_days_alias }}.experiment_id = counting_windows.experiment_id
        and {{ event_days_alias }}.event_name = counting_windows.event_name
        and {{ event_days_alias }}.attribution_window_days = counting_windows.attribution_window_days
        and {{ event_days_alias }}.pre_period_days = counting_windows.pre_period_days
        and counting_windows.is_counting_window
{%- endmacro %}
