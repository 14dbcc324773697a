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
