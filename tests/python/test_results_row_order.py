"""The pipeline functions depend on the set of input rows, not their order: a warehouse returns
rows in no particular order, and re-runs must give byte-identical tables."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from analysis_py import compute_decisions, compute_results, compute_srm
from analysis_py.bench import synthetic_inputs


def _shuffled(table: pa.Table, seed: int) -> pa.Table:
    order = np.random.default_rng(seed).permutation(table.num_rows)
    return table.take(pa.array(order))


def test_outputs_do_not_depend_on_input_row_order():
    arm_stats, metric_configs, variants = synthetic_inputs(
        n_experiments=4, n_metrics=3, n_arms=3, n_slices=3, n_dates=5, seed=11
    )
    arm_stats, metric_configs, variants = (pa.table(t) if not isinstance(t, pa.Table) else t
                                           for t in (arm_stats, metric_configs, variants))
    baseline = compute_results(arm_stats, metric_configs, variants)
    shuffled = compute_results(
        _shuffled(arm_stats, 1), _shuffled(metric_configs, 2), _shuffled(variants, 3)
    )
    assert shuffled.equals(baseline)

    srm_input = pa.table({
        "experiment_id": ["b", "a", "a", "b"],
        "dimension_name": ["overall"] * 4,
        "dimension_value": ["all"] * 4,
        "analysis_date": pa.array([1, 1, 2, 2], pa.int32()).cast(pa.date32()),
        "n_units_total": [100, 200, 210, 120],
        "chi_square": [1.5, 0.2, 12.0, 3.0],
        "degrees_of_freedom": [1, 2, 2, 1],
        "srm_alpha": [0.001] * 4,
    })
    srm = compute_srm(srm_input)
    assert compute_srm(_shuffled(srm_input, 4)).equals(srm)

    decisions = compute_decisions(baseline, srm, metric_configs)
    assert compute_decisions(_shuffled(baseline, 5), _shuffled(srm, 6), _shuffled(metric_configs, 7)).equals(decisions)
