"""The shortcuts of the vectorised pipeline give exactly (bit for bit) what the general code gives."""

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from scipy import special

from analysis_py import _arrow as A
from analysis_py._common import constant_head, normal_quantile, on_constant, t_p_value, t_quantile
from analysis_py.bayesian import normal_flat_prior_better_and_loss, normal_posterior_difference
from analysis_py.means import welch_p_value, welch_ttest
from analysis_py.multiple_testing import holm_and_benjamini_hochberg
from analysis_py.results import BLOCK_ROWS, _blockwise, _lookup


def _same(a, b):
    return np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True) and np.array_equal(
        np.signbit(a), np.signbit(b))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_sort_codes_and_permutation_match_arrow_sort(seed):
    rng = np.random.default_rng(seed)
    n = 6000
    runs = np.repeat(rng.integers(0, 7, n // 50), 50)  # long runs: the run-wise encoding
    cols = {
        "runs": pa.array([f"k{v}" for v in runs]),
        "random": pa.array([None if v < 0 else f"s{v}" for v in rng.integers(-1, 30, n)]),
        "dict": pc.dictionary_encode(pa.array([f"d{v}" for v in rng.integers(0, 5, n)])),
        "date": pa.array(rng.integers(19000, 19030, n).astype(np.int32)).cast(pa.date32()),
        "large": pa.array([f"L{v}" for v in rng.integers(0, 3, n)], pa.large_string()),
    }
    table = pa.table(cols)
    encoded = [A.sort_codes(table.column(k).combine_chunks()) for k in cols]
    for (codes, dictionary), k in zip(encoded, cols):
        values = table.column(k).combine_chunks()
        values = values.dictionary_decode() if pa.types.is_dictionary(values.type) else values
        assert A.take_or_null(dictionary, codes).equals(values)
        assert dictionary.equals(dictionary.take(pc.sort_indices(dictionary)))
    sortable = table.set_column(2, "dict", table.column("dict").combine_chunks().dictionary_decode())
    expected = pc.sort_indices(sortable, [(k, "ascending") for k in cols]).to_numpy()
    perm = A.sort_permutation([c for c, _ in encoded], [len(d) for _, d in encoded])
    assert np.array_equal(perm, expected)
    assert A.sort_permutation([np.arange(5)], [5]) is None  # already sorted


def test_sort_permutation_lexsort_fallback_for_wide_keys():
    rng = np.random.default_rng(3)
    codes = [rng.integers(-1, 5, 2000) for _ in range(4)]
    expected = np.lexsort([np.where(c < 0, 5, c) for c in codes][::-1])
    assert np.array_equal(A.sort_permutation(codes, [5, 2**30, 2**30, 5]), expected)
    assert np.array_equal(A.sort_permutation(codes, [5, 5, 5, 5]), expected)


def test_take_or_null_runs_and_nulls_match_plain_take():
    rng = np.random.default_rng(4)
    dictionary = pa.array(["a", None, "ccc", "dd"])
    for run in (1, 3, 40, 5000):
        idx = np.repeat(rng.integers(-1, 4, 20000 // run + 1), run)[:20000]
        neg = idx < 0
        expected = pc.take(dictionary, pa.array(np.where(neg, 0, idx), mask=neg))
        got = A.take_or_null(dictionary, idx)
        assert got.type == pa.string() and got.equals(expected)


def test_float_and_int_out_nulls():
    x = np.array([1.0, np.nan, -np.inf, 3.0, -0.0])
    assert A.float_out(x).to_pylist() == [1.0, None, None, 3.0, -0.0]
    assert A.int_out(x).to_pylist() == [1, None, None, 3, 0]
    assert A.float_out(np.arange(3.0)).null_count == 0


def test_on_constant_is_the_function_itself():
    p = np.full(1000, 0.975)
    assert constant_head(p) is not None and constant_head(np.r_[p, 0.5]) is None
    assert constant_head(np.r_[np.zeros(500), -np.zeros(500)]) is None  # bitwise, not ==
    assert _same(on_constant(special.ndtri, p), special.ndtri(p))
    assert _same(normal_quantile(p), special.ndtri(p))


def test_t_distribution_fast_paths_match_general_path():
    rng = np.random.default_rng(5)
    n = 100_000  # > 2 blocks of _t_to_z
    stat = rng.standard_normal(n) * 3
    df = 1000.0 + rng.random(n) * 5000
    mixed = df.copy()
    mixed[::7] = 50.0  # small df: exact scipy functions for those rows
    for d in (df, mixed):
        p_blocks = t_p_value(stat, d)
        p_rows = np.concatenate([t_p_value(stat[i:i + 1000], d[i:i + 1000]) for i in range(0, n, 1000)])
        assert _same(p_blocks, p_rows)
        q_const = t_quantile(np.full(n, 0.975), d)
        q_varied = t_quantile(np.r_[0.97, np.full(n - 1, 0.975)], d)
        assert _same(q_const[1:], q_varied[1:])


def test_welch_p_value_is_welch_ttest_p_value():
    rng = np.random.default_rng(6)
    n = 5000
    nc, nt = rng.integers(1, 3000, n).astype(float), rng.integers(1, 3000, n).astype(float)
    mc, mt = rng.standard_normal(n), rng.standard_normal(n)
    vc, vt = rng.random(n), rng.random(n)
    vc[::11] = 0.0
    assert _same(welch_p_value(mc, vc, nc, mt, vt, nt), welch_ttest(mc, vc, nc, mt, vt, nt).p_value)


def test_normal_flat_prior_matches_normal_posterior_difference():
    rng = np.random.default_rng(7)
    n = 20000
    est = np.r_[rng.standard_normal(n) * 10 ** rng.uniform(-8, 3, n), 0.0, -0.0, np.nan, np.inf, 1.0, 1.0]
    se = np.r_[np.abs(rng.standard_normal(n)) * 10 ** rng.uniform(-8, 3, n), 1.0, 1.0, 1.0, 1.0, 0.0, np.nan]
    with np.errstate(all="ignore"):
        post = normal_posterior_difference(est, se)
        prob, loss = normal_flat_prior_better_and_loss(est, se)
    assert _same(prob, post.prob_treatment_better)
    assert _same(loss, post.expected_loss_treatment)


def test_holm_bh_do_not_depend_on_group_numbering():
    rng = np.random.default_rng(8)
    n = 30000
    groups = rng.integers(0, 3000, n)
    p = np.round(rng.random(n), 3)  # ties
    p[rng.random(n) < 0.05] = np.nan
    dense = holm_and_benjamini_hochberg(p, groups)
    sparse = holm_and_benjamini_hochberg(p, groups * 97 + 5)  # mostly empty ids
    for a, b in zip(dense, sparse):
        assert _same(a, b)


def test_lookup_table_and_binary_search_agree():
    rng = np.random.default_rng(9)
    keys = np.unique(rng.integers(-5, 500, 100))
    values = rng.integers(0, 1000, keys.size)
    query = rng.integers(-5, 500, 10)
    small = _lookup(keys, values, query, -5, 500, -1)  # dense table
    large = _lookup(keys, values, query, -5, 10**9, -1)  # binary search
    expected = np.array([values[np.searchsorted(keys, q)] if q in keys else -1 for q in query])
    assert np.array_equal(small, expected) and np.array_equal(large, expected)


def test_blockwise_equals_whole_array_evaluation():
    rng = np.random.default_rng(10)
    x, y = rng.standard_normal(3 * BLOCK_ROWS + 5), rng.random(3 * BLOCK_ROWS + 5)
    assert _same(_blockwise(special.ndtr, x), special.ndtr(x))
    got = _blockwise(normal_flat_prior_better_and_loss, x, y)
    for a, b in zip(got, normal_flat_prior_better_and_loss(x, y)):
        assert _same(a, b)
