-- depends_on: {{ ref('int_registry_problems') }}
-- (a registry with problems stops the build before any model reads it)
select
    experiments.experiment_id,
    experiments.experiment_name,
    experiments.hypothesis,
    experiments.owner,
    experiments.start_date,
    experiments.end_date,
    experiments.randomization_unit,
    experiments.alpha,
    experiments.power,
    experiments.analysis_method,
    coalesce(experiments.use_cuped, false) as use_cuped,
    coalesce(experiments.srm_alpha, 0.001) as srm_alpha,
    coalesce(experiments.design, 'ab') as design,
    experiments.sequential_looks,
    experiments.msprt_mixing_sd
from {{ ref('experiments') }} as experiments
