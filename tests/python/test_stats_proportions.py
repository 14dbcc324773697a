import numpy as np
import pytest
from scipy.stats import chi2_contingency
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

from analysis_py.proportions import cohens_h, two_proportion_ztest

RTOL = 1e-9
CASES = [(30, 200, 45, 210), (1, 20, 7, 25), (500, 10_000, 560, 10_050), (0, 50, 3, 60), (10, 10, 9, 10)]


@pytest.mark.parametrize("alternative,sm_alt", [("two-sided", "two-sided"), ("greater", "larger"), ("less", "smaller")])
def test_statistic_and_p_match_statsmodels_pooled(alternative, sm_alt):
    xc, nc, xt, nt = (np.array(v, float) for v in zip(*CASES))
    r = two_proportion_ztest(xc, nc, xt, nt, alternative=alternative)
    for i, (a, b, c, d) in enumerate(CASES):
        stat, p = proportions_ztest([c, a], [d, b], alternative=sm_alt)
        assert r.statistic[i] == pytest.approx(stat, rel=RTOL)
        assert r.p_value[i] == pytest.approx(p, rel=RTOL, abs=1e-300)


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.2])
def test_ci_is_unpooled_wald_like_statsmodels(alpha):
    for a, b, c, d in CASES[:4]:
        r = two_proportion_ztest(a, b, c, d, alpha=alpha)
        lo, hi = confint_proportions_2indep(c, d, a, b, method="wald", compare="diff", alpha=alpha)
        assert float(r.ci_lower) == pytest.approx(lo, rel=RTOL, abs=1e-15)
        assert float(r.ci_upper) == pytest.approx(hi, rel=RTOL, abs=1e-15)
        assert float(r.estimate) == pytest.approx(c / d - a / b, rel=RTOL)


def test_continuity_correction_matches_yates_chi_square():
    for a, b, c, d in CASES[:3]:
        r = two_proportion_ztest(a, b, c, d, continuity_correction=True)
        chi2, p, _, _ = chi2_contingency([[a, b - a], [c, d - c]], correction=True)
        assert float(r.statistic) ** 2 == pytest.approx(chi2, rel=RTOL)
        assert float(r.p_value) == pytest.approx(p, rel=RTOL)
        r0 = two_proportion_ztest(a, b, c, d)
        assert float(r.ci_upper - r.ci_lower) > float(r0.ci_upper - r0.ci_lower)


def test_one_sided_ci_has_infinite_side():
    r = two_proportion_ztest(30, 200, 45, 210, alternative="greater")
    assert np.isinf(r.ci_upper) and np.isfinite(r.ci_lower)


def test_degenerate_inputs_do_not_raise():
    with np.errstate(all="raise"):
        r = two_proportion_ztest(np.array([0, 10, 5, 0]), np.array([0, 10, 10, 10]),
                                 np.array([0, 10, 5, 0]), np.array([5, 10, 0, 10]))
    assert np.all(np.isnan(r.p_value))  # n=0 / all converted / n=0 / none converted
    assert np.isnan(r.ci_lower[1])


def test_cohens_h():
    assert float(cohens_h(0.5, 0.5)) == 0.0
    assert float(cohens_h(0.1, 0.2)) == pytest.approx(2 * np.arcsin(np.sqrt(0.2)) - 2 * np.arcsin(np.sqrt(0.1)), rel=RTOL)
