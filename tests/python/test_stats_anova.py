import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.anova import anova_lm

from analysis_py.anova import two_way_anova

RTOL = 1e-8


def _rows(seed, levels_a=("a0", "a1", "a2"), levels_b=("b0", "b1"), n=500, pa=None, pb=None, offset=10.0):
    rng = np.random.default_rng(seed)
    a = rng.choice(levels_a, n, p=pa)
    b = rng.choice(levels_b, n, p=pb)
    ia = np.searchsorted(np.sort(levels_a), a)
    ib = np.searchsorted(np.sort(levels_b), b)
    y = offset + 0.4 * ia + 0.3 * ib + 0.25 * ia * ib * (seed % 2) + rng.normal(0.0, 1.0 + 0.2 * ia, n)
    return pd.DataFrame({"a": a, "b": b, "y": y})


def _cells(df, split=1):
    """Cell aggregates (n, Σy, Σy²); ``split > 1`` spreads every cell over several rows (e.g. days)."""
    df = df.assign(part=np.arange(len(df)) % split)
    g = df.groupby(["a", "b", "part"], sort=False)["y"]
    out = pd.DataFrame({"n": g.size(), "s": g.sum(), "ss": g.apply(lambda v: float(np.sum(v.to_numpy() ** 2)))}).reset_index()
    return out.sample(frac=1.0, random_state=0)  # row order must not matter


def _statsmodels_typ2(df):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return anova_lm(smf.ols("y ~ C(a) * C(b)", data=df).fit(), typ=2)


def _compare(table, ref, rtol=RTOL):
    ours = table.to_pandas()
    for col in ("sum_sq", "df", "F", "PR(>F)"):
        np.testing.assert_allclose(ours[col].to_numpy(), ref[col].to_numpy(), rtol=rtol, equal_nan=True, err_msg=col)


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_matches_statsmodels_type2_unbalanced(seed):
    specs = [
        dict(levels_a=("a0", "a1", "a2"), levels_b=("b0", "b1"), pa=[0.5, 0.3, 0.2], pb=[0.7, 0.3]),
        dict(levels_a=("a0", "a1", "a2", "a3"), levels_b=("b0", "b1", "b2"), pa=[0.4, 0.3, 0.2, 0.1], pb=[0.2, 0.5, 0.3]),
        dict(levels_a=(0, 1, 2, 3, 4), levels_b=(10, 20), pa=None, pb=[0.85, 0.15]),
    ]
    spec = specs[seed % 3]
    df = _rows(seed, n=300 + 100 * seed, **spec)
    ref = _statsmodels_typ2(df)
    c = _cells(df)
    t = two_way_anova(c.a, c.b, c.n, c.s, c.ss)
    _compare(t, ref)
    assert t.reasons == () and t.status_reason is None
    assert t.n_units == len(df) and t.n_cells == df.groupby(["a", "b"]).ngroups
    # the same cells split over several rows (e.g. daily sums) give the same table
    c3 = _cells(df, split=3)
    _compare(two_way_anova(c3.a, c3.b, c3.n, c3.s, c3.ss), ref)


def test_balanced_design_type2_equals_type1_and_names():
    rng = np.random.default_rng(0)
    a = np.repeat(["x", "y", "z"], 40)
    b = np.tile(np.repeat(["p", "q"], 20), 3)
    df = pd.DataFrame({"a": a, "b": b, "y": rng.normal(size=120) + (a == "z")})
    c = _cells(df)
    t = two_way_anova(c.a, c.b, c.n, c.s, c.ss, factor_names=("color", "size"))
    assert t.term == ("color", "size", "color:size", "Residual")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        typ1 = anova_lm(smf.ols("y ~ C(a) * C(b)", data=df).fit(), typ=1)
    np.testing.assert_allclose(t.sum_sq, typ1["sum_sq"].to_numpy(), rtol=RTOL)
    tbl = t.to_arrow()
    assert tbl.column_names == ["term", "sum_sq", "df", "F", "p_value"]
    assert tbl.column("F").null_count == 1  # residual row


def test_large_mean_offset_precision():
    # Σy² − (Σy)²/n cancels: mean 1e4 with sd ~1 keeps ~1e-8 relative accuracy (ε·ȳ²/s²)
    df = _rows(7, n=800, offset=1e4)
    c = _cells(df)
    _compare(two_way_anova(c.a, c.b, c.n, c.s, c.ss), _statsmodels_typ2(df), rtol=1e-6)


def test_empty_cell_is_model_comparison():
    df = _rows(3, levels_a=("a0", "a1", "a2"), levels_b=("b0", "b1"), n=600)
    df = df[~((df.a == "a2") & (df.b == "b1"))]
    c = _cells(df)
    # an explicit n = 0 row for the missing combination changes nothing
    c = pd.concat([c, pd.DataFrame({"a": ["a2"], "b": ["b1"], "part": [0], "n": [0], "s": [0.0], "ss": [0.0]})])
    t = two_way_anova(c.a, c.b, c.n, c.s, c.ss)
    assert "empty_cells" in t.reasons and t.n_cells == 5

    def fit(formula):
        return smf.ols(formula, data=df).fit()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m_a, m_b, m_ab, m_full = fit("y ~ C(a)"), fit("y ~ C(b)"), fit("y ~ C(a) + C(b)"), fit("y ~ C(a) * C(b)")
    expect_ss = [m_b.ssr - m_ab.ssr, m_a.ssr - m_ab.ssr, m_ab.ssr - m_full.ssr, m_full.ssr]
    expect_df = [m_b.df_resid - m_ab.df_resid, m_a.df_resid - m_ab.df_resid, m_ab.df_resid - m_full.df_resid, m_full.df_resid]
    np.testing.assert_allclose(t.sum_sq, expect_ss, rtol=1e-8)
    np.testing.assert_allclose(t.df, expect_df)
    assert t.df[2] == 1.0  # (3−1)(2−1) = 2 interaction df minus the missing cell
    f = np.array(expect_ss[:3]) / np.array(expect_df[:3]) / (m_full.ssr / m_full.df_resid)
    np.testing.assert_allclose(t.F[:3], f, rtol=1e-8)
    # the interaction F equals the nested-model F test of statsmodels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cmp = anova_lm(m_ab, m_full)
    assert t.F[2] == pytest.approx(cmp["F"].iloc[1], rel=1e-8)
    assert t.p_value[2] == pytest.approx(cmp["Pr(>F)"].iloc[1], rel=1e-8)


def test_single_level_factor():
    df = _rows(4, levels_a=("only",), levels_b=("b0", "b1", "b2"), n=200)
    c = _cells(df)
    with np.errstate(all="raise"):
        t = two_way_anova(c.a, c.b, c.n, c.s, c.ss)
    assert "single_level_a" in t.reasons
    assert t.df[0] == 0 and t.df[2] == 0 and np.isnan(t.F[[0, 2]]).all() and np.isnan(t.p_value[[0, 2]]).all()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_way = anova_lm(smf.ols("y ~ C(b)", data=df).fit(), typ=2)
    np.testing.assert_allclose([t.sum_sq[1], t.df[1], t.F[1], t.p_value[1]], one_way.iloc[0].to_numpy(), rtol=RTOL)
    np.testing.assert_allclose([t.sum_sq[3], t.df[3]], one_way.iloc[1][["sum_sq", "df"]].to_numpy(), rtol=RTOL)


def test_zero_residual_df_and_zero_variance():
    # one unit per cell: no within-cell variation, df_res = 0
    a = np.array(["x", "x", "y", "y", "z", "z"])
    b = np.array(["p", "q", "p", "q", "p", "q"])
    y = np.array([1.0, 2.0, 2.5, 3.0, 5.0, 4.0])
    with np.errstate(all="raise"):
        t = two_way_anova(a, b, np.ones(6), y, y ** 2)
    assert "zero_residual_df" in t.reasons and t.df[3] == 0
    assert np.isnan(t.F).all() and np.isnan(t.p_value).all()
    # (statsmodels' anova_lm fails on a saturated model; compare with nested-model RSS differences)
    d = pd.DataFrame({"a": a, "b": b, "y": y})
    ssr = {f: smf.ols(f, data=d).fit().ssr for f in ("y ~ C(a)", "y ~ C(b)", "y ~ C(a) + C(b)")}
    expect = [ssr["y ~ C(b)"] - ssr["y ~ C(a) + C(b)"], ssr["y ~ C(a)"] - ssr["y ~ C(a) + C(b)"], ssr["y ~ C(a) + C(b)"]]
    np.testing.assert_allclose(t.sum_sq[:3], expect, rtol=1e-8)
    # constant within every cell (two units each): residual SS exactly 0
    with np.errstate(all="raise"):
        t0 = two_way_anova(a, b, np.full(6, 2.0), 2 * y, 2 * y ** 2)
    assert "zero_residual_variance" in t0.reasons and t0.sum_sq[3] == 0.0 and np.isnan(t0.F).all()


def test_disconnected_design():
    # cells only on the diagonal: A and B are completely confounded
    rng = np.random.default_rng(1)
    a = np.repeat(["x", "y", "z"], 2)
    b = np.repeat(["p", "q", "r"], 2)
    yv = rng.normal(size=(6, 30))
    with np.errstate(all="raise"):
        t = two_way_anova(a, b, np.full(6, 30.0), yv.sum(1), (yv ** 2).sum(1))
    assert "disconnected_design" in t.reasons and "empty_cells" in t.reasons
    np.testing.assert_array_equal(t.df, [0.0, 0.0, 0.0, 177.0])
    assert np.isnan(t.F).all()


def test_invalid_and_empty_input():
    with np.errstate(all="raise"):
        bad = two_way_anova(["x", "y"], ["p", "p"], [3.0, -1.0], [1.0, 2.0], [1.0, 5.0])
        nan_sum = two_way_anova(["x", "y"], ["p", "p"], [3.0, 2.0], [np.nan, 2.0], [1.0, 5.0])
        empty = two_way_anova(["x"], ["p"], [0.0], [0.0], [0.0])
        incons = two_way_anova(["x", "y"], ["p", "p"], [3.0, 2.0], [3.0, 2.0], [1.0, 5.0])
    assert bad.reasons == ("invalid_input",) and np.isnan(bad.sum_sq).all()
    assert nan_sum.reasons == ("invalid_input",)
    assert empty.reasons == ("no_data",) and empty.n_units == 0
    assert incons.reasons == ("inconsistent_sums",) and np.isnan(incons.F).all()
    with pytest.raises(ValueError):
        two_way_anova(["x"], ["p", "q"], [1.0], [1.0], [1.0])
