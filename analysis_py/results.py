"""``compute_results``: per-arm sufficient statistics -> treatment-vs-control results.

Pure and vectorised: string keys are dictionary-encoded with pyarrow, rows are matched to their
control arm and metric configuration with integer codes, and every statistic is computed on
numpy arrays, one block per test method. Nothing raises on degenerate data: every row gets a
``status`` ('ok' | 'insufficient_data' | 'missing_control' | 'invalid_input') and a
``status_reason`` ('; '-joined codes, null when there is nothing to report). See
``docs/statistics.md`` for every formula and convention.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import _arrow as A
from .cuped import cuped_means, cuped_ratio
from .means import welch_p_value, welch_ttest, z_test_difference
from .moments import PRECISION_LOSS_CONDITION, ArmSums, inconsistent_sums, reciprocals, var_r
from ._common import critical_value, normal_p_value, normal_quantile
from .moments import variance_from_sums as var_from
from .bayesian import expected_loss_beta, normal_flat_prior_better_and_loss, prob_treatment_beats_control
from .multiple_testing import holm_and_benjamini_hochberg
from .power import achieved_power
from .proportions import two_proportion_ztest
from .ratio import ratio_delta_method
from .relative import FIELLER_UNBOUNDED, LOG_UNDEFINED, ZERO_CONTROL_MEAN, relative_lift
from .schemas import ARM_STATS_SUM_COLUMNS, RESULTS_SCHEMA
from .sequential import (
    always_valid,
    default_mixing_variance,
    group_sequential_boundaries,
    msprt_confidence_interval,
    msprt_p_value,
    sequential_crossing,
)

AGGREGATIONS = ("conversion", "count", "sum", "mean", "ratio")
ROLES = ("primary", "secondary", "guardrail")
DIRECTIONS = ("increase", "decrease")
SCALES = ("relative", "absolute")
TEST_METHODS = ("two_proportion_z", "welch_t", "delta_method_z")
ESTIMATE_METHODS = ("unadjusted", "cuped")
GUARDRAIL_STATUSES = ("breached", "non_inferior", "inconclusive")
STATUSES = ("ok", "insufficient_data", "missing_control", "invalid_input")
BAYESIAN_METHODS = ("normal", "beta_binomial")
ANALYSIS_METHODS = ("fixed_horizon", "group_sequential", "msprt")

#: default minimum number of units in each arm for any inference
MIN_UNITS_PER_ARM = 2

# --- status_reason codes: (name, category); category decides the status ----------------------
_INVALID, _MISSING, _INSUFF, _INFO = 3, 2, 1, 0
REASONS: tuple[tuple[str, int], ...] = (
    ("missing_metric_config", _INVALID),
    ("unknown_aggregation", _INVALID),
    ("invalid_desired_direction", _INVALID),
    ("invalid_alpha", _INVALID),
    ("unknown_variant", _INVALID),
    ("multiple_control_variants", _INVALID),
    ("duplicate_arm_rows", _INVALID),
    ("invalid_n_units", _INVALID),
    ("missing_sums", _INVALID),
    ("conversions_out_of_range", _INVALID),
    ("inconsistent_sums", _INVALID),
    ("invalid_practical_threshold", _INVALID),
    ("no_control_variant_registered", _MISSING),
    ("control_arm_missing", _MISSING),
    ("n_control_below_minimum", _INSUFF),
    ("n_treatment_below_minimum", _INSUFF),
    ("zero_denominator", _INSUFF),
    ("zero_variance", _INSUFF),
    ("relative_effect_undefined_zero_control_mean", _INFO),
    ("relative_ci_undefined", _INFO),
    ("cuped_missing_pre_period_sums", _INFO),
    ("cuped_zero_covariate_variance", _INFO),
    ("cuped_not_computable", _INFO),
    ("variance_precision_loss", _INFO),
    ("guardrail_tolerance_missing_assumed_0", _INFO),
    ("msprt_mixing_variance_undefined", _INFO),
)
_BIT = {name: np.int64(1) << np.int64(i) for i, (name, _) in enumerate(REASONS)}
_CAT_MASK = {
    cat: np.int64(sum(int(_BIT[n]) for n, c in REASONS if c == cat)) for cat in (_INVALID, _MISSING, _INSUFF, _INFO)
}


def _ext(a: np.ndarray, fill=np.nan) -> np.ndarray:
    """Append a fill value so that index -1 selects it."""
    return np.append(a, np.asarray([fill], dtype=a.dtype))


def _gather(a: np.ndarray, idx: np.ndarray, neg: np.ndarray | None) -> np.ndarray:
    """a[idx] with NaN where idx < 0 (``neg`` = idx < 0, or None when there is none)."""
    out = a.take(idx, mode="clip") if neg is not None else a[idx]
    if neg is not None:
        out[neg] = np.nan
    return out


#: rows per block of the per-method statistics (their temporaries then stay in the CPU cache)
BLOCK_ROWS = 32_768


def _blocks(rows: np.ndarray) -> list[np.ndarray]:
    """``rows`` in consecutive blocks of at most :data:`BLOCK_ROWS` (none when empty)."""
    return [rows[i:i + BLOCK_ROWS] for i in range(0, len(rows), BLOCK_ROWS)]


def _blockwise(f, *args: np.ndarray):
    """``f(*args)`` for an elementwise ``f`` of equal-length 1-d arrays returning an array or a
    tuple of arrays, evaluated in blocks of :data:`BLOCK_ROWS` rows (the same values)."""
    n = len(args[0])
    if n <= BLOCK_ROWS:
        return f(*args)
    parts = [f(*(a[i:i + BLOCK_ROWS] for a in args)) for i in range(0, n, BLOCK_ROWS)]
    if isinstance(parts[0], tuple):
        return tuple(np.concatenate(p) for p in zip(*parts))
    return np.concatenate(parts)


def _lookup(keys: np.ndarray, values: np.ndarray, query: np.ndarray, lo: int, hi: int, fill) -> np.ndarray:
    """``values[i]`` where ``query == keys[i]`` (``keys`` sorted, unique), else ``fill``; keys and
    queries lie in [lo, hi). A dense table when the range is small, else a binary search."""
    if hi - lo <= 4 * len(query) + 1024:
        table = np.full(hi - lo, fill, dtype=values.dtype)
        table[keys - lo] = values
        return table[query - lo]
    if not len(keys):
        return np.full(len(query), fill, dtype=values.dtype)
    pos = np.clip(np.searchsorted(keys, query), 0, len(keys) - 1)
    return np.where(keys[pos] == query, values[pos], fill)


def _precision_loss(n, s, ss, var) -> np.ndarray:
    """Σy²/SS > PRECISION_LOSS_CONDITION for a positive variance (see moments module)."""
    with np.errstate(invalid="ignore"):
        return (var > 0) & (np.abs(ss) > PRECISION_LOSS_CONDITION * var * (n - 1.0))


def _reason_strings(bits: np.ndarray) -> pa.Array:
    """The '; '-joined reason names of each row's bits (null when there is none)."""
    idx = np.full(len(bits), -1, dtype=np.int64)
    nz = np.flatnonzero(bits)  # rows with a reason (usually few)
    labels = []
    if nz.size:
        inv, uniq = pd.factorize(bits[nz])
        for u in uniq:  # loop over distinct bit patterns only (a handful), not rows
            names = [name for name, _ in REASONS if int(u) & int(_BIT[name])]
            labels.append("; ".join(names) if names else None)
        idx[nz] = inv
    return A.take_or_null(pa.array(labels, type=pa.string()), idx)


#: inputs with at least this many arm rows are split by experiment across threads
PARALLEL_MIN_ROWS = 200_000

#: the arm-statistics key columns, in the canonical (sort) order of the rows
ARM_KEYS = ("experiment_id", "metric_id", "dimension_name", "dimension_value", "analysis_date", "variant_id")


@dataclass
class _ArmInput:
    """The arm statistics as numpy arrays, in the *input* row order (rows are never reordered:
    each partition is a permutation ``rows`` into these arrays). Keys are int64 codes (-1 null)
    into string dictionaries (for string key columns: in the order Arrow sorts them)."""
    codes: dict[str, np.ndarray]  #: experiment_id, metric_id, variant_id, dimension_name / _value
    dicts: dict[str, pa.Array]
    date: pa.Array  #: analysis_date as date32
    days: np.ndarray  #: analysis_date as float days since epoch (NaN for null)
    n_units: np.ndarray
    sums: dict[str, np.ndarray]


def _string_codes(codes: np.ndarray, dictionary: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes into the dictionary cast to strings, merging values whose string forms coincide
    (only possible for non-string key columns), so that equal strings share one code."""
    s = A.as_string(dictionary, len(dictionary))
    if pa.types.is_string(dictionary.type) or len(pc.unique(s)) == len(s):
        return codes, s
    enc = pc.dictionary_encode(s)
    remap = _ext(enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), -1)
    return remap[codes], enc.dictionary


def _arm_input(arm: pa.Table, map_columns) -> tuple[_ArmInput, list[np.ndarray], list[int]]:
    """Encode the arm statistics once; also return the sort codes / sizes of the canonical keys
    present (Arrow's order of the raw column values, for :func:`A.sort_permutation`)."""
    N = arm.num_rows
    present = [k for k in ARM_KEYS if k in arm.column_names]
    raw_date = A.column(arm, "analysis_date")
    date = A.as_date32(raw_date, N)
    days = A.date_days(date, N)
    # a date32 column without nulls: its day numbers already sort like the dates
    day_codes = raw_date is not None and raw_date.type == pa.date32() and not raw_date.null_count and N > 0
    to_encode = [k for k in present if not (k == "analysis_date" and day_codes)]
    encoded = dict(zip(to_encode, map_columns(lambda k: A.sort_codes(A.column(arm, k)), to_encode)))
    sizes = {k: len(d) for k, (_, d) in encoded.items()}
    if day_codes:
        lo = days.min()
        encoded["analysis_date"] = ((days - lo).astype(np.int64), None)
        sizes["analysis_date"] = int(days.max() - lo) + 1
    codes, dicts = {}, {}
    for k in ARM_KEYS:
        if k == "analysis_date":
            continue
        if k in encoded:
            codes[k], dicts[k] = _string_codes(*encoded[k])
        else:
            codes[k], dicts[k] = np.full(N, -1, dtype=np.int64), pa.array([], type=pa.string())
    sums = {c: A.float_np(A.column(arm, c), N) for c in ARM_STATS_SUM_COLUMNS}
    inp = _ArmInput(codes, dicts, date, days, A.float_np(A.column(arm, "n_units"), N), sums)
    return inp, [encoded[k][0] for k in present], [sizes[k] for k in present]


def compute_results(
    arm_stats,
    metric_configs,
    variants,
    *,
    relative_ci_method: str = "delta",
    continuity_correction: bool = False,
    min_units_per_arm: int = MIN_UNITS_PER_ARM,
    n_threads: int | None = None,
) -> pa.Table:
    """Treatment-vs-control results for every experiment x metric x treatment arm x slice x
    analysis date of ``arm_stats`` (pandas DataFrame or pyarrow Table; columns as in
    ``fct_arm_statistics``), given ``metric_configs`` (one row per experiment_id, metric_id) and
    ``variants`` (experiment_id, variant_id, is_control, traffic_weight).

    Returns a pyarrow Table with schema :data:`analysis_py.schemas.RESULTS_SCHEMA`.
    ``relative_ci_method`` is 'delta' | 'log' | 'fieller'; ``continuity_correction`` applies to
    the two-proportion z-test. Large inputs are partitioned by experiment (every statistic,
    including the Holm family, lives within one experiment) and the partitions are processed in
    ``n_threads`` threads (default: CPU count, at most 8; numpy / pyarrow release the GIL). The
    result does not depend on the partitioning; rows come out grouped by partition.
    """
    kw = dict(relative_ci_method=relative_ci_method, continuity_correction=continuity_correction,
              min_units_per_arm=min_units_per_arm)
    arm_t = A.to_table(arm_stats)
    cfg = A.canonical_order(A.to_table(metric_configs), ["experiment_id", "metric_id"])
    var = A.canonical_order(A.to_table(variants), ["experiment_id", "variant_id"])
    if n_threads is None:
        n_threads = min(os.cpu_count() or 1, 8)
    parallel = n_threads > 1 and arm_t.num_rows >= PARALLEL_MIN_ROWS
    with ThreadPoolExecutor(max_workers=n_threads if parallel else 1) as pool:
        mapper = (lambda f, xs: list(pool.map(f, xs))) if parallel else (lambda f, xs: [f(x) for x in xs])
        arm, sort_codes, sort_sizes = _arm_input(arm_t, mapper)
        # canonical row order (A.canonical_order's, without moving the table): rows sorted by the
        # key columns, so that every output is a function of the set of input rows alone
        order = A.sort_permutation(sort_codes, sort_sizes)
        rows = np.arange(arm_t.num_rows) if order is None else order
        if not parallel:
            return _compute_results(arm, rows, cfg, var, **kw)
        # partition k: the experiments whose code (rank of experiment_id, null -> 0) is k mod n_parts;
        # the partitions are contiguous slices of the (stably) re-sorted row order
        codes = arm.codes["experiment_id"][rows]
        n_parts = min(n_threads, int(codes.max(initial=0)) + 2)
        part = np.where(codes < 0, 0, codes) % n_parts
        by_part = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[by_part], np.arange(n_parts + 1))
        rows = rows[by_part]
        tables = mapper(lambda k: _compute_results(arm, rows[bounds[k]:bounds[k + 1]], cfg, var, **kw), range(n_parts))
    return pa.concat_tables(tables)


def _compute_results(
    arm: _ArmInput,
    rows: np.ndarray,
    cfg: pa.Table,
    var: pa.Table,
    *,
    relative_ci_method: str = "delta",
    continuity_correction: bool = False,
    min_units_per_arm: int = MIN_UNITS_PER_ARM,
) -> pa.Table:
    """Single-partition implementation of :func:`compute_results`: the arm rows ``rows`` (indices
    into ``arm``, in canonical order)."""
    N, NC, NV = len(rows), cfg.num_rows, var.num_rows
    col = lambda t, c: A.column(t, c)  # noqa: E731

    # ---- keys -------------------------------------------------------------------------------
    e_codes, e_dict = arm.codes["experiment_id"][rows], arm.dicts["experiment_id"]
    m_codes, m_dict = arm.codes["metric_id"][rows], arm.dicts["metric_id"]
    v_codes, v_dict = arm.codes["variant_id"][rows], arm.dicts["variant_id"]
    dn_codes, dn_dict = arm.codes["dimension_name"][rows], arm.dicts["dimension_name"]
    dv_codes = arm.codes["dimension_value"][rows]
    days = arm.days[rows]
    if N and not np.isnan(days).any():
        t_codes = (days - days.min()).astype(np.int64)
    else:  # null dates -> -1
        lo = np.nanmin(days) if N and np.isfinite(days).any() else 0
        t_codes = np.where(np.isnan(days), -1, days - lo).astype(np.int64)
    key = A.combine_codes(e_codes, m_codes, dn_codes, dv_codes, t_codes) if N else np.zeros(0, np.int64)
    G = int(key.max()) + 1 if N else 0
    E, V, M = len(e_dict), len(v_dict), len(m_dict)

    # ---- variants: which arm rows are the control -----------------------------------------
    ve = A.lookup(col(var, "experiment_id"), e_dict, NV)
    vv = A.lookup(col(var, "variant_id"), v_dict, NV)
    vctrl = A.bool_np(col(var, "is_control"), NV)
    vok = ve >= 0
    n_ctrl_exp = np.bincount(ve[vok & vctrl], minlength=E) if E else np.zeros(0, np.int64)
    ctrl_rows_var = np.flatnonzero(vok & vctrl)
    ctrl_var_row_exp = np.full(E, NV, dtype=np.int64)
    np.minimum.at(ctrl_var_row_exp, ve[ctrl_rows_var], ctrl_rows_var)  # first registered control
    ctrl_var_row_exp[ctrl_var_row_exp == NV] = -1
    reg = vok & (vv >= 0)
    reg_pairs = np.unique(ve[reg] * (V + 1) + vv[reg])
    # pair keys lie in [-(V + 2), E * (V + 1)) (codes >= -1)
    known = _lookup(reg_pairs, np.ones(len(reg_pairs), bool), e_codes * (V + 1) + v_codes,
                    -(V + 2), E * (V + 1), False)
    # the control arm is the first registered control of the experiment; further "controls"
    # are analysed as treatments and flagged invalid (multiple_control_variants)
    ctrl_vcode_exp = _ext(vv, -1)[ctrl_var_row_exp] if E else np.zeros(0, np.int64)
    is_ctrl = known & (v_codes == _ext(ctrl_vcode_exp, -2)[e_codes]) & (v_codes >= 0)

    crow = np.flatnonzero(is_ctrl)
    ctrl_count = np.bincount(key[crow], minlength=G)
    ctrl_of_key = np.full(G, -1, dtype=np.int64)
    ctrl_of_key[key[crow]] = crow
    T = np.flatnonzero(~is_ctrl)
    R = len(T)
    keyT = key[T]
    C = ctrl_of_key[keyT] if R else np.zeros(0, np.int64)
    daysT, dnT = days[T], dn_codes[T]
    eT = e_codes[T]
    bits = np.zeros(R, dtype=np.int64)

    def flag(mask, name, where=None):
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():  # most reasons apply to no row
            return
        if where is None:
            np.bitwise_or(bits, _BIT[name], out=bits, where=mask)
        else:
            bits[where[mask]] |= _BIT[name]

    flag(~known[T], "unknown_variant")
    n_ctrl_T = _ext(n_ctrl_exp.astype(np.int64), 0)[eT]
    flag(n_ctrl_T > 1, "multiple_control_variants")
    flag((C < 0) & (n_ctrl_T == 0), "no_control_variant_registered")
    flag((C < 0) & (n_ctrl_T > 0), "control_arm_missing")
    if R:
        tkey = keyT * (V + 1) + (v_codes[T] + 1)
        dup_t = np.zeros(R, bool)
        if bool(np.all(tkey[1:] >= tkey[:-1])):  # the usual canonical order: duplicates are adjacent
            same = tkey[1:] == tkey[:-1]
            dup_t[1:] |= same
            dup_t[:-1] |= same
        elif len(pd.unique(tkey)) < R:  # rare: only then find which rows are duplicated
            dup_t = pd.Series(tkey).duplicated(keep=False).to_numpy()
        dup_c = _ext(ctrl_count.astype(np.int64), 0)[np.where(C < 0, -1, keyT)] > 1
        flag(dup_t | (dup_c & (n_ctrl_T <= 1)), "duplicate_arm_rows")

    # ---- metric configuration per result row -------------------------------------------------
    ce = A.lookup(col(cfg, "experiment_id"), e_dict, NC)
    cm = A.lookup(col(cfg, "metric_id"), m_dict, NC)
    cok = (ce >= 0) & (cm >= 0)
    crows = np.flatnonzero(cok)
    cp_sorted, first = np.unique(ce[crows] * (M + 1) + cm[crows], return_index=True)
    cp_first = crows[first]  # first config row of each (experiment, metric)
    tpair = eT * (M + 1) + m_codes[T]
    # pair keys lie in [-(M + 2), E * (M + 1)) (codes >= -1)
    cfg_idx = _lookup(cp_sorted, cp_first.astype(np.int64), tpair, -(M + 2), E * (M + 1), -1)
    has_cfg = cfg_idx >= 0
    flag(~has_cfg, "missing_metric_config")

    def cfg_code(name, labels):
        arr = col(cfg, name)
        if arr is None:
            return np.full(R, -1, dtype=np.int64)
        s = pc.utf8_lower(pc.utf8_trim_whitespace(A.as_string(arr, NC)))
        codes = A.lookup(s, pa.array(labels, type=pa.string()), NC)
        return _ext(codes, -1)[cfg_idx]

    def cfg_float(name):
        return _ext(A.float_np(col(cfg, name), NC))[cfg_idx]

    def cfg_days(name):
        arr = col(cfg, name)
        if arr is None:
            return np.full(R, np.nan)
        return _ext(A.date_days(A.as_date32(arr, NC), NC))[cfg_idx]

    def cfg_bool(name):
        return _ext(A.bool_np(col(cfg, name), NC), False)[cfg_idx]

    agg = cfg_code("aggregation", AGGREGATIONS)
    role = cfg_code("metric_role", ROLES)
    direction = cfg_code("desired_direction", DIRECTIONS)
    scale = cfg_code("threshold_scale", SCALES)
    alpha = cfg_float("alpha")
    threshold = cfg_float("practical_threshold")
    tolerance = cfg_float("guardrail_tolerance")
    use_cuped = cfg_bool("use_cuped") & cfg_bool("has_pre_period")
    flag(has_cfg & (agg < 0), "unknown_aggregation")
    flag(has_cfg & (direction < 0), "invalid_desired_direction")
    flag(has_cfg & ~((alpha > 0) & (alpha < 1)), "invalid_alpha")
    flag(has_cfg & (threshold < 0), "invalid_practical_threshold")
    threshold = np.where(np.isnan(threshold), 0.0, threshold)
    is_guard = role == 2
    flag(is_guard & np.isnan(tolerance), "guardrail_tolerance_missing_assumed_0")
    tolerance = np.where(np.isnan(tolerance), 0.0, tolerance)
    sign = np.where(direction == 1, -1.0, 1.0)
    alpha_safe = np.where((alpha > 0) & (alpha < 1), alpha, 0.05)

    # ---- arm sufficient statistics (treatment rows T, control rows C; C=-1 -> NaN) -------------
    # input-row indices of each result's treatment and control arm (gathered straight from the
    # unsorted input arrays: the partition's rows are never materialised)
    cneg = C < 0
    cneg = cneg if cneg.any() else None
    rT = rows[T]
    rC = rows.take(C, mode="clip") if cneg is not None else rows[C]
    sums_all = arm.sums
    nT = arm.n_units[rT]
    nC = _gather(arm.n_units, rC, cneg)
    bad_n = lambda n: ~(n >= 0) | (n != np.floor(n))  # noqa: E731
    flag(bad_n(nT) | ((C >= 0) & bad_n(nC)), "invalid_n_units")
    flag((nC < min_units_per_arm), "n_control_below_minimum")
    flag((nT < min_units_per_arm), "n_treatment_below_minimum")

    out = {name: np.full(R, np.nan) for name in (
        "mean_control", "mean_treatment", "absolute_effect", "std_error", "test_statistic",
        "degrees_of_freedom", "p_value", "ci_lower", "ci_upper", "relative_effect",
        "relative_ci_lower", "relative_ci_upper", "cuped_theta", "cuped_absolute_effect",
        "cuped_std_error", "cuped_ci_lower", "cuped_ci_upper", "cuped_p_value",
        "cuped_relative_effect", "cuped_relative_ci_lower", "cuped_relative_ci_upper",
        "variance_reduction", "cuped_mean_control")}
    test_method = np.full(R, -1, dtype=np.int64)
    cuped_usable = np.zeros(R, dtype=bool)

    def arm_sums(sel, names):
        t, c = rT[sel], rC[sel]
        neg = cneg[sel] if cneg is not None else None
        neg = neg if neg is not None and neg.any() else None
        tr = {k: sums_all[k][t] for k in names}
        cr = {k: _gather(sums_all[k], c, neg) for k in names}
        return cr, tr

    def put(sel, **kw):
        for k, v in kw.items():
            out[k][sel] = v

    def rel_flags(sel, flags):
        flag(flags == ZERO_CONTROL_MEAN, "relative_effect_undefined_zero_control_mean", sel)
        flag((flags == LOG_UNDEFINED) | (flags == FIELLER_UNBOUNDED), "relative_ci_undefined", sel)

    def missing_sums(sel, n_c, n_t, cr, tr, names):
        miss_t = np.zeros(len(sel), bool)
        miss_c = np.zeros(len(sel), bool)
        for k in names:
            miss_t |= np.isnan(tr[k])
            miss_c |= np.isnan(cr[k])
        flag(((n_t > 0) & miss_t) | ((n_c > 0) & miss_c), "missing_sums", sel)

    # conversion: two-proportion z ------------------------------------------------------------
    for sel in _blocks(np.flatnonzero(agg == 0)):
        names = ("sum_num",)
        cr, tr = arm_sums(sel, names)
        n_c, n_t = nC[sel], nT[sel]
        missing_sums(sel, n_c, n_t, cr, tr, names)
        xc, xt = cr["sum_num"], tr["sum_num"]
        flag((xc < 0) | (xc > n_c) | (xt < 0) | (xt > n_t), "conversions_out_of_range", sel)
        r = two_proportion_ztest(xc, n_c, xt, n_t, alpha=alpha_safe[sel], continuity_correction=continuity_correction)
        flag(~(r.std_error_pooled > 0) & (n_c > 0) & (n_t > 0), "zero_variance", sel)
        with np.errstate(invalid="ignore", divide="ignore"):
            vc = r.p_control * (1 - r.p_control) / n_c
            vt = r.p_treatment * (1 - r.p_treatment) / n_t
        rl = relative_lift(r.p_control, vc, r.p_treatment, vt, alpha=alpha_safe[sel], method=relative_ci_method)
        rel_flags(sel, rl.flag)
        put(sel, mean_control=r.p_control, mean_treatment=r.p_treatment, absolute_effect=r.estimate,
            std_error=r.std_error, test_statistic=r.statistic, p_value=r.p_value, ci_lower=r.ci_lower,
            ci_upper=r.ci_upper, relative_effect=rl.estimate, relative_ci_lower=rl.ci_lower,
            relative_ci_upper=rl.ci_upper)
        test_method[sel] = 0

    # count / sum: Welch t ----------------------------------------------------------------------
    for sel in _blocks(np.flatnonzero((agg == 1) | (agg == 2))):
        names = ("sum_num", "sum_num_sq")
        cr, tr = arm_sums(sel, names)
        n_c, n_t = nC[sel], nT[sel]
        missing_sums(sel, n_c, n_t, cr, tr, names)
        flag(inconsistent_sums(n_c, cr["sum_num"], cr["sum_num_sq"]) | inconsistent_sums(n_t, tr["sum_num"], tr["sum_num_sq"]),
             "inconsistent_sums", sel)
        ic, icm1 = reciprocals(n_c)
        it, itm1 = reciprocals(n_t)
        mc = cr["sum_num"] * ic
        mt = tr["sum_num"] * it
        vc = var_r(cr["sum_num"], cr["sum_num_sq"], ic, icm1)
        vt = var_r(tr["sum_num"], tr["sum_num_sq"], it, itm1)
        flag(_precision_loss(n_c, cr["sum_num"], cr["sum_num_sq"], vc) | _precision_loss(n_t, tr["sum_num"], tr["sum_num_sq"], vt),
             "variance_precision_loss", sel)
        w = welch_ttest(mc, vc, n_c, mt, vt, n_t, alpha=alpha_safe[sel])
        flag(~(w.std_error > 0) & (n_c >= 2) & (n_t >= 2), "zero_variance", sel)
        with np.errstate(invalid="ignore", divide="ignore"):
            rl = relative_lift(mc, vc * ic, mt, vt * it, alpha=alpha_safe[sel], method=relative_ci_method,
                               crit=w.critical_value)
        rel_flags(sel, rl.flag)
        put(sel, mean_control=mc, mean_treatment=mt, absolute_effect=w.estimate, std_error=w.std_error,
            test_statistic=w.statistic, degrees_of_freedom=w.df, p_value=w.p_value, ci_lower=w.ci_lower,
            ci_upper=w.ci_upper, relative_effect=rl.estimate, relative_ci_lower=rl.ci_lower,
            relative_ci_upper=rl.ci_upper)
        test_method[sel] = 1

    # mean / ratio: delta method z ---------------------------------------------------------------
    for sel in _blocks(np.flatnonzero((agg == 3) | (agg == 4))):
        names = ("sum_num", "sum_num_sq", "sum_den", "sum_den_sq", "sum_num_den")
        cr, tr = arm_sums(sel, names)
        n_c, n_t = nC[sel], nT[sel]
        missing_sums(sel, n_c, n_t, cr, tr, names)
        incons = np.zeros(sel.size, bool)
        for a, nn in ((cr, n_c), (tr, n_t)):
            incons |= inconsistent_sums(nn, a["sum_num"], a["sum_num_sq"]) | inconsistent_sums(nn, a["sum_den"], a["sum_den_sq"])
        flag(incons, "inconsistent_sums", sel)
        rc = ratio_delta_method(n_c, cr["sum_num"], cr["sum_num_sq"], cr["sum_den"], cr["sum_den_sq"], cr["sum_num_den"])
        rt = ratio_delta_method(n_t, tr["sum_num"], tr["sum_num_sq"], tr["sum_den"], tr["sum_den_sq"], tr["sum_num_den"])
        zero_den = ((n_c > 0) & (cr["sum_den"] == 0)) | ((n_t > 0) & (tr["sum_den"] == 0))
        flag(zero_den, "zero_denominator", sel)
        z = z_test_difference(rc.ratio, rc.variance, rt.ratio, rt.variance, alpha=alpha_safe[sel])
        flag(~(z.std_error > 0) & (n_c >= 2) & (n_t >= 2) & ~zero_den, "zero_variance", sel)
        rl = relative_lift(rc.ratio, rc.variance, rt.ratio, rt.variance, alpha=alpha_safe[sel], method=relative_ci_method)
        rel_flags(sel, rl.flag)
        put(sel, mean_control=rc.ratio, mean_treatment=rt.ratio, absolute_effect=z.estimate, std_error=z.std_error,
            test_statistic=z.statistic, p_value=z.p_value, ci_lower=z.ci_lower, ci_upper=z.ci_upper,
            relative_effect=rl.estimate, relative_ci_lower=rl.ci_lower, relative_ci_upper=rl.ci_upper)
        test_method[sel] = 2

    # ---- status of the unadjusted analysis ----------------------------------------------------
    def status_of(b):
        out = np.zeros(len(b), dtype=np.int64)
        nz = np.flatnonzero(b)  # rows with any reason (usually few)
        if nz.size:
            b = b[nz]
            out[nz] = np.where(b & _CAT_MASK[_INVALID], 3, np.where(b & _CAT_MASK[_MISSING], 2,
                                                                      np.where(b & _CAT_MASK[_INSUFF], 1, 0)))
        return out

    ok_unadj = status_of(bits) == 0

    # ---- CUPED ------------------------------------------------------------------------------------
    cuped_groups = ((False, (agg >= 0) & (agg <= 2)), (True, (agg == 3) | (agg == 4)))
    for ratio_like, sel in [(ratio_like, sel) for ratio_like, mask in cuped_groups
                            for sel in _blocks(np.flatnonzero(mask & use_cuped & ok_unadj))]:
        if ratio_like:
            names = ARM_STATS_SUM_COLUMNS
            pre_names = ("sum_pre_num", "sum_pre_num_sq", "sum_pre_den", "sum_pre_den_sq", "sum_pre_num_pre_den",
                         "sum_num_pre_num", "sum_num_pre_den", "sum_den_pre_num", "sum_den_pre_den")
        else:
            names = ("sum_num", "sum_num_sq", "sum_pre_num", "sum_pre_num_sq", "sum_num_pre_num")
            pre_names = ("sum_pre_num", "sum_pre_num_sq", "sum_num_pre_num")
        cr, tr = arm_sums(sel, names)
        n_c, n_t = nC[sel], nT[sel]
        miss = np.zeros(sel.size, bool)
        for k in pre_names:
            miss |= np.isnan(cr[k]) | np.isnan(tr[k])
        if ratio_like:
            cu = cuped_ratio(ArmSums.from_mapping({"n_units": n_c, **cr}), ArmSums.from_mapping({"n_units": n_t, **tr}),
                             alpha=alpha_safe[sel])
        else:
            cu = cuped_means(n_c, cr["sum_num"], cr["sum_num_sq"], cr["sum_pre_num"], cr["sum_pre_num_sq"], cr["sum_num_pre_num"],
                             n_t, tr["sum_num"], tr["sum_num_sq"], tr["sum_pre_num"], tr["sum_pre_num_sq"], tr["sum_num_pre_num"],
                             alpha=alpha_safe[sel])
        flag(miss, "cuped_missing_pre_period_sums", sel)
        flag(~miss & cu.zero_covariate_variance, "cuped_zero_covariate_variance", sel)
        usable = cu.computable & ~cu.zero_covariate_variance & (cu.std_error > 0)
        flag(~miss & ~cu.zero_covariate_variance & ~usable, "cuped_not_computable", sel)
        rl = relative_lift(cu.mean_control, cu.variance_control, cu.mean_treatment, cu.variance_treatment,
                           alpha=alpha_safe[sel], method=relative_ci_method)
        put(sel, cuped_theta=cu.theta, cuped_absolute_effect=cu.estimate, cuped_std_error=cu.std_error,
            cuped_ci_lower=cu.ci_lower, cuped_ci_upper=cu.ci_upper, cuped_p_value=cu.p_value,
            cuped_relative_effect=rl.estimate, cuped_relative_ci_lower=rl.ci_lower,
            cuped_relative_ci_upper=rl.ci_upper, variance_reduction=cu.variance_reduction,
            cuped_mean_control=cu.mean_control)
        cuped_usable[sel] = usable

    # ---- final status; blank out what cannot be trusted ------------------------------------------
    status = status_of(bits)
    not_ok = status != 0
    invalid = status == 3
    inferential = ("std_error", "test_statistic", "degrees_of_freedom", "p_value", "ci_lower", "ci_upper",
                   "relative_ci_lower", "relative_ci_upper", "cuped_theta", "cuped_absolute_effect",
                   "cuped_std_error", "cuped_ci_lower", "cuped_ci_upper", "cuped_p_value", "cuped_relative_effect",
                   "cuped_relative_ci_lower", "cuped_relative_ci_upper", "variance_reduction", "cuped_mean_control")
    for k in inferential:
        out[k][not_ok] = np.nan
    for k in ("mean_control", "mean_treatment", "absolute_effect", "relative_effect"):
        out[k][invalid] = np.nan
    cuped_usable &= ~not_ok

    # ---- decision estimate ------------------------------------------------------------------------
    cu_ = cuped_usable
    d_eff = np.where(cu_, out["cuped_absolute_effect"], out["absolute_effect"])
    d_lo = np.where(cu_, out["cuped_ci_lower"], out["ci_lower"])
    d_hi = np.where(cu_, out["cuped_ci_upper"], out["ci_upper"])
    d_p = np.where(cu_, out["cuped_p_value"], out["p_value"])
    d_rel = np.where(cu_, out["cuped_relative_effect"], out["relative_effect"])
    d_rlo = np.where(cu_, out["cuped_relative_ci_lower"], out["relative_ci_lower"])
    d_rhi = np.where(cu_, out["cuped_relative_ci_upper"], out["relative_ci_upper"])
    d_se = np.where(cu_, out["cuped_std_error"], out["std_error"])

    # orient the relative effect like the absolute one (matters only for negative control means)
    ref_mean = np.where(cu_, out["cuped_mean_control"], out["mean_control"])
    neg = ref_mean < 0
    o_rel = np.where(neg, -d_rel, d_rel)
    o_rlo = np.where(neg, -d_rhi, d_rlo)
    o_rhi = np.where(neg, -d_rlo, d_rhi)

    # ---- the multiple-testing family: every metric x treatment arm of an experiment, slice and
    # date. Primary / secondary metrics enter with their two-sided p-value, guardrails with the
    # one-sided non-inferiority p-value against their tolerance (H0: relative harm >= tolerance).
    family = A.combine_codes(eT, dnT, dv_codes[T], t_codes[T]) if R else np.zeros(0, np.int64)
    z_crit = normal_quantile(1.0 - alpha_safe / 2.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        harm_rel = -sign * o_rel
        rel_se = (o_rhi - o_rlo) / (2.0 * z_crit)  # delta-method SE of the relative effect
        ni_z = (tolerance - harm_rel) / rel_se
    ni_p = np.full(R, np.nan)
    guard_rows = np.flatnonzero(is_guard & ~not_ok & (rel_se > 0))
    ni_p[guard_rows] = normal_p_value(ni_z[guard_rows], "greater")
    family_p = np.where(is_guard, ni_p, d_p)

    # ---- sequential analyses (registry analysis_method; docs/statistics.md, Sequential) ------------
    # computed on the sequential rows only (every input is per row or per sequence of looks)
    method = cfg_code("analysis_method", ANALYSIS_METHODS)
    sq = np.flatnonzero(method >= 1)
    seq = _Sequential.empty(method, shared=not sq.size)
    if sq.size:
        # group-sequential alpha is split over the whole family, fixed-horizon members included
        fam_size = np.zeros(sq.size)
        if np.any(method == 1):
            fam_size = np.bincount(family, weights=np.isfinite(family_p).astype(float),
                                   minlength=int(family.max()) + 1)[family][sq]
        Tq = T[sq]
        seq.scatter(sq, _sequential(
            method=method[sq], group=A.combine_codes(eT[sq], m_codes[Tq], v_codes[Tq], dn_codes[Tq], dv_codes[Tq]),
            days=daysT[sq], d_eff=d_eff[sq], d_se=d_se[sq], ok=~not_ok[sq], alpha=alpha_safe[sq],
            effect_of_interest=(np.where(is_guard, tolerance, threshold) * np.where(
                (scale == 1) & ~is_guard, 1.0, np.abs(ref_mean)))[sq],
            mixing_sd=cfg_float("msprt_mixing_sd")[sq], looks=cfg_float("sequential_looks")[sq],
            start_day=cfg_days("start_date")[sq], end_day=cfg_days("end_date")[sq], family_size=fam_size))
    flag(seq.mixing_undefined, "msprt_mixing_variance_undefined")
    # mSPRT: the always-valid p-value replaces the fixed-horizon one in the family (an always-valid
    # p-value is a valid p-value at any look, so Holm / BH apply unchanged)
    family_p = np.where((seq.method == 2) & ~is_guard, seq.p_value, family_p)
    p_holm, p_bh = holm_and_benjamini_hochberg(family_p, family) if R else (np.zeros(0), np.zeros(0))
    family_size = (np.bincount(family, weights=np.isfinite(family_p).astype(float), minlength=int(family.max()) + 1)[family]
                   if R else np.zeros(0))
    # Bonferroni-widened (simultaneous) intervals at alpha / m: the CI that matches the family-wise
    # error rate Holm controls (Holm has no compatible intervals of its own)
    welch_unadj = (test_method == 1) & ~cu_
    with np.errstate(invalid="ignore", divide="ignore"):
        m_eff = np.maximum(family_size, 1.0)
        crit_adj = normal_quantile(1.0 - alpha_safe / (2.0 * m_eff))
        w = np.flatnonzero(welch_unadj)
        if w.size:  # t quantiles only where the CI is a Welch t interval
            crit_adj[w] = critical_value(alpha_safe[w] / m_eff[w], df=out["degrees_of_freedom"][w])
        half = crit_adj * d_se
    adj_lo, adj_hi = d_eff - half, d_eff + half

    with np.errstate(invalid="ignore"):
        stat_sig = (p_holm < alpha) & ~not_ok & ~is_guard
        # group-sequential: significant once the efficacy boundary (Bonferroni-split over the
        # family) has been crossed at a planned look
        stat_sig = np.where(seq.method == 1, seq.crossed & ~not_ok & ~is_guard, stat_sig)
        moved = np.where(scale == 1, sign * d_eff, sign * o_rel)
        prac_sig = (moved >= threshold) & (moved > 0) & ~not_ok
        # breach: the harm is statistically significant (two-sided, unadjusted: a veto errs on the
        # side of caution) and its estimate exceeds the tolerance
        breached = (d_p < alpha) & ~not_ok & (sign * d_eff < 0) & (harm_rel > tolerance)
        non_inf = (p_holm < alpha) & ~not_ok
    g_status = np.where(is_guard, np.where(breached, 0, np.where(non_inf, 1, 2)), -1)

    # ---- pre-period imbalance: Welch test of the pre-period covariate (CUPED x) between arms; a
    # small p-value flags a randomisation or covariate problem (a health check)
    pre_p = np.full(R, np.nan)
    # (overall slice only: an experiment-level check, and slices would multiply the cost by ten)
    has_pre = cfg_bool("has_pre_period")
    overall_dn = next((i for i, name in enumerate(dn_dict.to_pylist()) if name == "overall"), -2)
    for sel in _blocks(np.flatnonzero(has_pre & ~not_ok & (dnT == overall_dn)) if R else np.zeros(0, np.int64)):
        cr, tr = arm_sums(sel, ("sum_pre_num", "sum_pre_num_sq"))
        with np.errstate(invalid="ignore", divide="ignore"):
            vc = var_from(nC[sel], cr["sum_pre_num"], cr["sum_pre_num_sq"])
            vt = var_from(nT[sel], tr["sum_pre_num"], tr["sum_pre_num_sq"])
            p = welch_p_value(cr["sum_pre_num"] / nC[sel], vc, nC[sel], tr["sum_pre_num"] / nT[sel], vt, nT[sel])
        pre_p[sel] = np.where((vc + vt) > 0, p, np.nan)

    # ---- power: MDE at the registry power and the power to detect the practical threshold, both
    # with the observed standard error of the decision estimate (not post-hoc power at the
    # observed effect, which is a function of the p-value: Hoenig & Heisey 2001)
    target_power = cfg_float("power")
    target_power = np.where((target_power > 0) & (target_power < 1), target_power, 0.8)
    with np.errstate(all="ignore"):
        mde = (normal_quantile(1.0 - alpha_safe / 2.0) + normal_quantile(target_power)) * d_se
        # guardrails: the tolerated harm (relative); others: the practical threshold
        effect_of_interest = np.where(is_guard, tolerance * np.abs(ref_mean),
                                      np.where(scale == 1, threshold, threshold * np.abs(ref_mean)))
        power_at_threshold = np.where((effect_of_interest > 0) & ~not_ok,
                                      _blockwise(achieved_power, effect_of_interest, d_se, alpha_safe), np.nan)
    mde = np.where(~not_ok, mde, np.nan)

    # ---- Bayesian summary in the desired direction: P(treatment better) and the expected loss of
    # shipping the treatment (absolute units). Normal model with a flat prior on the decision
    # estimate for every row; the exact Beta-Binomial (Beta(1, 1) priors) for conversion metrics on
    # the overall slice of each experiment's latest analysis date, the row decisions are read from.
    with np.errstate(all="ignore"):  # tails underflow to exactly 0 / 1
        prob_better, loss = _blockwise(normal_flat_prior_better_and_loss, sign * d_eff, d_se)
    prob_better = np.where(~not_ok, prob_better, np.nan)
    loss = np.where(~not_ok, loss, np.nan)
    bayes_method = np.where(~not_ok, 0, -1)
    if R:
        last_day = np.full(E + 1, -np.inf)
        np.maximum.at(last_day, eT, np.where(np.isfinite(daysT), daysT, -np.inf))
        overall_code = -1
        for i, name in enumerate(dn_dict.to_pylist()):
            if name == "overall":
                overall_code = i
        exact = np.flatnonzero((agg == 0) & ~not_ok & (dnT == overall_code))
        exact = exact[daysT[exact] == last_day[eT[exact]]]
        if exact.size:
            cr, tr = arm_sums(exact, ("sum_num",))
            xc, xt, ncs, nts = cr["sum_num"], tr["sum_num"], nC[exact], nT[exact]
            a_t, b_t, a_c, b_c = xt + 1.0, nts - xt + 1.0, xc + 1.0, ncs - xc + 1.0
            with np.errstate(all="ignore"):
                p_t = prob_treatment_beats_control(a_t, b_t, a_c, b_c)
                loss_t, loss_c = expected_loss_beta(a_t, b_t, a_c, b_c)
            up = sign[exact] > 0
            prob_better[exact] = np.where(up, p_t, 1.0 - p_t)
            # shipping the treatment loses E[max(p_C - p_T, 0)] when higher is better, else E[max(p_T - p_C, 0)]
            loss[exact] = np.where(up, loss_t, loss_c)
            bayes_method[exact] = 1

    # ---- assemble ---------------------------------------------------------------------------------
    # control variant: the control arm row's variant, else the experiment's registered control
    # (one take from the two dictionaries side by side)
    var_vid = A.as_string(col(var, "variant_id"), NV)
    ctrl_v = _ext(v_codes, -1)[C] if R else np.zeros(0, np.int64)
    reg_row = _ext(ctrl_var_row_exp, -1)[eT] if R else np.zeros(0, np.int64)
    ctrl_vid = A.take_or_null(pa.concat_arrays([v_dict, var_vid]),
                              np.where(ctrl_v >= 0, ctrl_v, np.where(reg_row >= 0, len(v_dict) + reg_row, -1)))
    cfg_str = lambda name: A.take_or_null(A.as_string(col(cfg, name), NC), cfg_idx)  # noqa: E731
    F = A.float_out
    tcol = lambda name: A.take_or_null(arm.dicts[name], arm.codes[name][rT])  # noqa: E731
    cols = {
        "experiment_id": tcol("experiment_id"),
        "metric_id": tcol("metric_id"),
        "metric_role": cfg_str("metric_role"),
        "aggregation": cfg_str("aggregation"),
        "control_variant_id": ctrl_vid,
        "treatment_variant_id": tcol("variant_id"),
        "dimension_name": tcol("dimension_name"),
        "dimension_value": tcol("dimension_value"),
        "analysis_date": arm.date.take(pa.array(rT)),
        "n_control": A.int_out(nC),
        "n_treatment": A.int_out(nT),
        "test_method": A.labels_out(test_method, TEST_METHODS),
        "estimate_method": A.labels_out(np.where(cuped_usable, 1, 0), ESTIMATE_METHODS),
        "decision_effect": F(d_eff),
        "decision_ci_lower": F(d_lo),
        "decision_ci_upper": F(d_hi),
        "decision_p_value": F(d_p),
        "decision_relative_effect": F(d_rel),
        "decision_relative_ci_lower": F(d_rlo),
        "decision_relative_ci_upper": F(d_rhi),
        "p_value_holm": F(p_holm),
        "p_value_bh": F(p_bh),
        "family_size": A.int_out(family_size),
        "adjusted_ci_lower": F(adj_lo),
        "adjusted_ci_upper": F(adj_hi),
        "non_inferiority_p_value": F(ni_p),
        "pre_period_imbalance_p_value": F(pre_p),
        "minimum_detectable_effect": F(mde),
        "achieved_power": F(power_at_threshold),
        "prob_treatment_better": F(prob_better),
        "expected_loss": F(loss),
        "bayesian_method": A.labels_out(bayes_method, BAYESIAN_METHODS),
        "analysis_method": A.labels_out(seq.method, ANALYSIS_METHODS),
        "information_fraction": F(seq.information_fraction),
        "sequential_p_value": F(seq.p_value),
        "sequential_ci_lower": F(seq.ci_lower),
        "sequential_ci_upper": F(seq.ci_upper),
        "sequential_boundary_z": F(seq.boundary),
        "is_boundary_crossed": A.bool_out(seq.crossed, null_mask=seq.method != 1),
        "msprt_mixing_sd": F(seq.mixing_sd),
        "alpha": F(alpha),
        "desired_direction": cfg_str("desired_direction"),
        "practical_threshold": F(cfg_float("practical_threshold")),
        "threshold_scale": cfg_str("threshold_scale"),
        "guardrail_tolerance": F(cfg_float("guardrail_tolerance")),
        "is_statistically_significant": A.bool_out(stat_sig),
        "is_practically_significant": A.bool_out(prac_sig),
        "guardrail_status": A.labels_out(g_status, GUARDRAIL_STATUSES),
        "status": A.labels_out(status, STATUSES),
        "status_reason": _reason_strings(bits),
    }
    for k, v in out.items():
        if k != "cuped_mean_control":
            cols[k] = F(v)
    arrays = []
    for f in RESULTS_SCHEMA:
        a = cols[f.name]
        if isinstance(a, pa.ChunkedArray):
            a = a.combine_chunks()
        if a.type != f.type:
            a = pc.cast(a, f.type)
        arrays.append(a)
    return pa.Table.from_arrays(arrays, schema=RESULTS_SCHEMA)


@dataclass
class _Sequential:
    method: np.ndarray  #: 0 fixed_horizon, 1 group_sequential, 2 msprt, -1 unknown
    information_fraction: np.ndarray
    p_value: np.ndarray  #: mSPRT always-valid p-value
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    boundary: np.ndarray  #: group-sequential |z| boundary on look dates
    crossed: np.ndarray  #: group-sequential boundary crossed at this or an earlier look
    mixing_sd: np.ndarray
    mixing_undefined: np.ndarray

    @classmethod
    def empty(cls, method: np.ndarray, shared: bool = False) -> "_Sequential":
        """Results for rows without a sequential analysis (NaN / False). ``shared``: one read-only
        array for all fields (when nothing will be scattered into them)."""
        R = len(method)
        if shared:
            nan, false = np.full(R, np.nan), np.zeros(R, bool)
            nan.flags.writeable = false.flags.writeable = False
            return cls(method=method, information_fraction=nan, p_value=nan, ci_lower=nan, ci_upper=nan,
                       boundary=nan, crossed=false, mixing_sd=nan, mixing_undefined=false)
        new = lambda: np.full(R, np.nan)  # noqa: E731
        return cls(method=method, information_fraction=new(), p_value=new(), ci_lower=new(), ci_upper=new(),
                   boundary=new(), crossed=np.zeros(R, bool), mixing_sd=new(), mixing_undefined=np.zeros(R, bool))

    def scatter(self, rows: np.ndarray, sub: "_Sequential") -> None:
        """Write the results ``sub`` of the subset ``rows`` into these (full-length) results."""
        for name in ("information_fraction", "p_value", "ci_lower", "ci_upper", "boundary", "crossed",
                     "mixing_sd", "mixing_undefined"):
            getattr(self, name)[rows] = getattr(sub, name)


def _first_look_value(group, days, value, valid):
    """Per row, ``value`` at its group's earliest valid row (NaN if none)."""
    out = np.full(len(group), np.nan)
    if not len(group):
        return out
    g = pd.factorize(group)[0]
    first = np.full(g.max() + 1, np.inf)
    np.minimum.at(first, g[valid], days[valid])
    at_first = valid & (days == first[g])
    base = np.full(g.max() + 1, np.nan)
    base[g[at_first]] = value[at_first]
    return base[g]


def _sequential(*, method, group, days, d_eff, d_se, ok, alpha, effect_of_interest, mixing_sd, looks,
                start_day, end_day, family_size) -> _Sequential:
    """mSPRT (Johari et al. 2017) and Lan-DeMets O'Brien-Fleming group-sequential results per row;
    rows of other methods get NaN. ``group`` identifies one experiment x metric x arm x slice across
    analysis dates (the sequence of looks); ``family_size`` is the row's multiple-testing family size
    (used by group-sequential rows)."""
    res = _Sequential.empty(method)
    with np.errstate(all="ignore"):
        duration = end_day - start_day + 1.0
        elapsed = days - start_day + 1.0
        res.information_fraction = np.where(method >= 1, np.clip(elapsed / duration, 0.0, 1.0), np.nan)

    # mSPRT: tau fixed per sequence at its first valid look (registry msprt_mixing_sd, else the
    # practical effect / guardrail tolerance on the absolute scale, from the control mean then)
    m = np.flatnonzero(method == 2)
    if m.size:
        valid = ok[m] & np.isfinite(d_se[m]) & (d_se[m] > 0)
        effect_first = _first_look_value(group[m], days[m], effect_of_interest[m], valid & (effect_of_interest[m] > 0))
        with np.errstate(all="ignore"):
            tau2 = default_mixing_variance(practical_effect=np.where(effect_first > 0, effect_first, np.nan),
                                           alpha=alpha[m], mixing_sd=mixing_sd[m])
            p = msprt_p_value(d_eff[m], d_se[m], tau2)
            lo, hi = msprt_confidence_interval(d_eff[m], d_se[m], tau2, alpha[m])
        usable = valid & np.isfinite(tau2)
        p, lo, hi = (np.where(usable, x, np.nan) for x in (p, lo, hi))
        av = always_valid(group[m], days[m], p, lo, hi)
        # a look that is not ok itself reports nothing (the running values resume at the next ok look)
        res.p_value[m], res.ci_lower[m], res.ci_upper[m] = (np.where(ok[m], x, np.nan) for x in (
            av.p_value, av.ci_lower, av.ci_upper))
        res.mixing_sd[m] = np.sqrt(tau2)
        res.mixing_undefined[m] = valid & ~np.isfinite(tau2)

    # group-sequential: K planned looks equally spaced in calendar time (look k on day
    # ceil(k * D / K) of a D-day experiment), two-sided Lan-DeMets O'Brien-Fleming spending at
    # alpha / m (Bonferroni over the m members of the multiple-testing family)
    gsel = np.flatnonzero(method == 1)
    if gsel.size:
        size = family_size
        k_looks = looks[gsel]
        dur, el = duration[gsel], elapsed[gsel]
        with np.errstate(all="ignore"):
            k_row = np.ceil(el * k_looks / dur)
            is_look = (k_looks >= 1) & (k_row >= 1) & (k_row <= k_looks) & (np.ceil(k_row * dur / k_looks) == el)
            alpha_eff = alpha[gsel] / np.maximum(size[gsel], 1.0)
        boundary = np.full(gsel.size, np.inf)
        keys = np.flatnonzero(is_look)
        if keys.size:
            combos = pd.DataFrame({"K": k_looks[keys], "a": alpha_eff[keys], "k": k_row[keys]})
            for (K, a), rows in combos.groupby(["K", "a"], sort=True).groups.items():  # few designs
                design = group_sequential_boundaries(np.arange(1, int(K) + 1) / K, alpha=a, spending="obf")
                idx = keys[np.asarray(rows)]
                boundary[idx] = np.asarray(design.boundaries)[k_row[idx].astype(int) - 1]
        with np.errstate(all="ignore"):
            z = np.where(ok[gsel] & (d_se[gsel] > 0), d_eff[gsel] / d_se[gsel], np.nan)
        crossing = sequential_crossing(group[gsel], days[gsel], np.where(np.isfinite(z), z, 0.0), boundary)
        res.crossed[gsel] = np.asarray(crossing.crossed, bool)
        res.boundary[gsel] = np.where(np.isfinite(boundary), boundary, np.nan)
    return res
