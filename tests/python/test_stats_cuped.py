import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from analysis_py.cuped import cuped_means, cuped_ratio, linearized_ratio_moments
from analysis_py.moments import ArmSums

RTOL = 1e-9


def _mean_arm(rng, n, shift, x_shift=0.0):
    x = rng.gamma(2.0, 1.0, n) + x_shift
    y = 1.0 + shift + 0.8 * x + rng.normal(0, 1, n)
    return y, x


def _sums(y, x):
    return (y.size, y.sum(), (y * y).sum(), x.sum(), (x * x).sum(), (x * y).sum())


@pytest.mark.parametrize("x_shift", [0.0, 0.7])
def test_cuped_means_equals_ols_coefficient(x_shift):
    rng = np.random.default_rng(1)
    yc, xc = _mean_arm(rng, 400, 0.0)
    yt, xt = _mean_arm(rng, 500, 0.3, x_shift)  # covariate imbalance: pooled-within theta still exact
    r = cuped_means(*_sums(yc, xc), *_sums(yt, xt))
    y = np.r_[yc, yt]
    X = sm.add_constant(np.c_[np.r_[np.zeros(400), np.ones(500)], np.r_[xc, xt]])
    ols = sm.OLS(y, X).fit()
    assert float(r.estimate) == pytest.approx(ols.params[1], rel=RTOL)
    assert float(r.theta) == pytest.approx(ols.params[2], rel=RTOL)
    # variance of each adjusted mean, from the rows
    th = float(r.theta)
    vc = np.var(yc - th * xc, ddof=1) / 400
    vt = np.var(yt - th * xt, ddof=1) / 500
    assert float(r.variance_control) == pytest.approx(vc, rel=RTOL)
    assert float(r.std_error) == pytest.approx(np.sqrt(vc + vt), rel=RTOL)
    unadj = yc.var(ddof=1) / 400 + yt.var(ddof=1) / 500
    assert float(r.variance_reduction) == pytest.approx(1 - (vc + vt) / unadj, rel=RTOL)
    assert 0.3 < float(r.variance_reduction) < 0.9
    xbar = np.r_[xc, xt].mean()
    assert float(r.mean_control) == pytest.approx(yc.mean() - th * (xc.mean() - xbar), rel=RTOL)
    assert float(r.ci_lower) < float(r.estimate) < float(r.ci_upper)


def test_cuped_zero_variance_covariate_gives_theta_zero():
    rng = np.random.default_rng(2)
    yc, yt = rng.normal(0, 1, 50), rng.normal(0.2, 1, 60)
    xc, xt = np.full(50, 3.0), np.full(60, 3.0)
    r = cuped_means(*_sums(yc, xc), *_sums(yt, xt))
    assert bool(r.zero_covariate_variance) and float(r.theta) == 0.0
    assert float(r.estimate) == pytest.approx(yt.mean() - yc.mean(), rel=RTOL)
    assert float(r.variance_reduction) == pytest.approx(0.0, abs=1e-12)


def test_cuped_degenerate_does_not_raise():
    with np.errstate(all="raise"):
        r = cuped_means(np.array([1.0, 0.0, 10.0]), np.array([1.0, 0.0, 5.0]), np.array([1.0, 0.0, 5.0]),
                        np.array([1.0, 0.0, np.nan]), np.array([1.0, 0.0, np.nan]), np.array([1.0, 0.0, np.nan]),
                        np.array([10.0, 10.0, 10.0]), np.array([5.0, 5.0, 5.0]), np.array([5.0, 5.0, 5.0]),
                        np.array([3.0, 3.0, 3.0]), np.array([3.0, 3.0, 3.0]), np.array([3.0, 3.0, 3.0]))
    assert not r.computable.any()
    assert np.all(np.isnan(r.p_value))


def _ratio_units(rng, n, lift):
    pre_den = rng.poisson(4, n).astype(float)
    pre_num = pre_den * rng.gamma(3.0, 1.0, n)
    den = np.maximum(pre_den + rng.integers(-1, 2, n), 0)
    num = den * (1 + lift) * rng.gamma(3.0, 1.0, n) * 0.5 + 0.4 * pre_num * (den > 0)
    return pd.DataFrame({"num": num, "den": den, "pre_num": pre_num, "pre_den": pre_den})


def _arm_sums(df):
    c = {"n_units": len(df)}
    cols = {"num": df.num, "den": df.den, "pre_num": df.pre_num, "pre_den": df.pre_den}
    for a in cols:
        c[f"sum_{a}"] = cols[a].sum()
    names = ["num", "den", "pre_num", "pre_den"]
    for i, a in enumerate(names):
        for b in names[i:]:
            key = f"sum_{a}_sq" if a == b else f"sum_{a}_{b}"
            c[key] = (cols[a] * cols[b]).sum()
    return ArmSums.from_mapping(c)


def test_cuped_ratio_matches_row_level_linearisation():
    rng = np.random.default_rng(3)
    dc, dt = _ratio_units(rng, 800, 0.0), _ratio_units(rng, 900, 0.05)
    r = cuped_ratio(_arm_sums(dc), _arm_sums(dt))
    lin = []
    for d, t in ((dc, 0.0), (dt, 1.0)):
        R = d.num.sum() / d.den.sum()
        Rx = d.pre_num.sum() / d.pre_den.sum()
        L = (d.num - R * d.den) / d.den.mean()
        Mx = (d.pre_num - Rx * d.pre_den) / d.pre_den.mean()
        lin.append(pd.DataFrame({"L": L, "M": Mx, "T": t, "R": R, "Rx": Rx}))
    both = pd.concat(lin, ignore_index=True)
    ols = sm.OLS(both.L, sm.add_constant(both[["T", "M"]])).fit()  # L, M centred within arm
    theta = ols.params["M"]
    Rc, Rt = lin[0].R[0], lin[1].R[0]
    Rxc, Rxt = lin[0].Rx[0], lin[1].Rx[0]
    assert float(r.theta) == pytest.approx(theta, rel=RTOL)
    assert float(r.estimate) == pytest.approx((Rt - Rc) - theta * (Rxt - Rxc), rel=RTOL)
    v = sum(np.var(x.L - theta * x.M, ddof=1) / len(x) for x in lin)
    assert float(r.std_error) == pytest.approx(np.sqrt(v), rel=RTOL)
    m = linearized_ratio_moments(_arm_sums(dc))
    assert float(m.cov_lm) == pytest.approx(np.cov(lin[0].L, lin[0].M)[0, 1], rel=RTOL)
    assert float(r.variance_reduction) > 0.05
