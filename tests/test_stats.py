"""Tests of toolkit.stats against published reference values.

Every expected number carries its source beside it: an R call (base R, or the R package that
printed it), a paper and table, or a value worked out by hand in the comment. Values are compared
to the 4 decimals they were published with (``abs=5e-5``) unless more digits were published.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import special
from scipy import stats as sps

from toolkit import stats as S
from toolkit.base.exceptions import ConfigError, DataError, SmallSampleWarning, ToolkitError
from toolkit.stats import intervals

Z95 = sps.norm.isf(0.025)
DP4 = 5e-5  # "equal to 4 decimals", the precision of the published tables


def approx4(value):
    return pytest.approx(value, abs=DP4)


def r_array(values, strata):
    """An R ``array(values, dim = c(2, 2, K))`` (column-major) as K tables of shape (2, 2)."""
    return np.moveaxis(np.reshape(np.asarray(values, dtype=float), (2, 2, strata), order="F"),
                       -1, 0)


# ===================================================================================== rate_ci
class TestRateCiReferenceValues:
    def test_clopper_pearson_matches_r_binom_test(self):
        # R: binom.test(7, 20)$conf.int -> 0.1539092 0.5921885
        low, high = S.rate_ci(7, 20, method="clopper-pearson")
        assert (low, high) == (pytest.approx(0.1539092, abs=5e-8),
                               pytest.approx(0.5921885, abs=5e-8))

    def test_wilson_matches_r_prop_test(self):
        # R: prop.test(7, 20, correct = FALSE)$conf.int -> 0.1811918 0.5671457
        low, high = S.rate_ci(7, 20, method="wilson")
        assert (low, high) == (pytest.approx(0.1811918, abs=5e-8),
                               pytest.approx(0.5671457, abs=5e-8))

    def test_wilson_zero_of_ten_by_hand_and_r(self):
        # x = 0: the Wilson upper limit reduces to z^2 / (n + z^2) (hand), = 3.8415 / 13.8415;
        # R: prop.test(0, 10, correct = FALSE)$conf.int -> 0 0.2775328
        low, high = S.rate_ci(0, 10, method="wilson")
        assert low == 0.0
        assert high == pytest.approx(Z95**2 / (10 + Z95**2), rel=1e-12)
        assert high == pytest.approx(0.2775328, abs=5e-8)

    @pytest.mark.parametrize(("x", "n", "expected"), [
        (81, 263, (0.2553, 0.3662)),  # Newcombe 1998 (Stat Med 17:857) Table I, method 3
        (15, 148, (0.0624, 0.1605)),  # idem; also ratesci tests/testthat/test3.R wilsonci
        (0, 20, (0.0000, 0.1611)),    # idem
        (1, 29, (0.0061, 0.1718)),    # idem
        (13, 16, (0.5699, 0.9341)),   # contingencytables::Wilson_score_CI_1x2(13, 16)
    ])
    def test_wilson_matches_newcombe_table_i(self, x, n, expected):
        assert S.rate_ci(x, n, method="wilson") == (approx4(expected[0]), approx4(expected[1]))

    @pytest.mark.parametrize(("x", "n", "expected"), [
        (15, 148, (0.0578, 0.1617)),  # Newcombe 1998 (Stat Med 17:857) Table I, method 5 (exact)
        (0, 20, (0.0000, 0.1684)),    # idem; also ratesci test3.R exactci(midp = FALSE)
        (1, 29, (0.0009, 0.1776)),    # idem
        (13, 16, (0.5435, 0.9595)),   # contingencytables::ClopperPearson_exact_CI_1x2(13, 16)
    ])
    def test_clopper_pearson_matches_newcombe_table_i(self, x, n, expected):
        result = S.rate_ci(x, n, method="clopper-pearson")
        assert result == (approx4(expected[0]), approx4(expected[1]))

    def test_clopper_pearson_zero_of_ten_by_hand(self):
        # x = 0: upper = 1 - (alpha/2)^(1/n) = 1 - 0.025^0.1 = 0.3084971 (hand)
        assert S.rate_ci(0, 10, method="clopper-pearson") == (
            0.0, pytest.approx(1 - 0.025 ** 0.1, rel=1e-12))

    @pytest.mark.parametrize(("x", "n", "expected"), [
        (13, 16, (0.5792, 0.9442)),  # contingencytables::Jeffreys_CI_1x2(13, 16) (Fagerland,
                                     # Lydersen & Laake 2017, ch. 2)
        (18, 20, (0.7161467, 0.9786275)),  # R binom::binom.confint(18, 20) "bayes" (Jeffreys
        (4, 20, (0.0715201, 0.4082258)),   # prior), statsmodels results_proportion.py
    ])
    def test_jeffreys_reference_values(self, x, n, expected):
        assert S.rate_ci(x, n, method="jeffreys") == (approx4(expected[0]), approx4(expected[1]))

    @pytest.mark.parametrize(("x", "n", "expected"), [
        (18, 20, (0.6867561, 0.9843438)),  # R binom::binom.confint(18, 20) "agresti-coull"
        (4, 20, (0.0749115, 0.4217636)),   # R binom::binom.confint(4, 20)
        (4, 200, (0.0059920, 0.0520996)),  # R binom::binom.confint(4, 200)
        # (all as recorded in statsmodels stats/tests/results/results_proportion.py)
    ])
    def test_agresti_coull_matches_r_binom(self, x, n, expected):
        result = S.rate_ci(x, n, method="agresti-coull")
        assert result == (approx4(expected[0]), approx4(expected[1]))

    def test_agresti_coull_is_clipped_where_r_binom_overshoots(self):
        # R binom::binom.confint(1, 30) "agresti-coull" lower = -0.008305484 (not clipped);
        # a rate cannot be negative, so we clip to 0 and keep the upper 0.18091798.
        low, high = S.rate_ci(1, 30, method="agresti-coull")
        assert low == 0.0
        assert high == approx4(0.18091798)

    @pytest.mark.parametrize(("x", "n", "expected"), [
        (4, 20, (0.0246955, 0.3753045)),   # R binom::binom.confint(4, 20) "asymptotic"
        (18, 20, (0.7685216, 1.0)),        # R gives 1.0314784 for the upper; clipped to 1
    ])
    def test_wald_matches_r_binom(self, x, n, expected):
        assert S.rate_ci(x, n, method="wald") == (approx4(expected[0]), approx4(expected[1]))

    def test_confidence_level_is_used(self):
        # R cards::proportion_ci_wilson(5 of 10, conf.level = 0.9) -> 0.2692718 0.7307282
        low, high = S.rate_ci(5, 10, method="wilson", confidence=0.90)
        assert (low, high) == (approx4(0.2692718), approx4(0.7307282))

    def test_all_and_none_of_32_match_r(self):
        # R cards::proportion_ci_wilson on 32 TRUEs -> lower 0.8928208; on 32 FALSEs -> upper
        # 0.1071792 (tests/testthat/_snaps/proportion_ci.md)
        assert S.rate_ci(32, 32, method="wilson") == (approx4(0.8928208), 1.0)
        assert S.rate_ci(0, 32, method="wilson") == (0.0, approx4(0.1071792))


class TestRateCiBoundaries:
    @pytest.mark.parametrize("method", S.RATE_CI_METHODS)
    def test_zero_successes_have_lower_zero(self, method):
        low, high = S.rate_ci(0, 25, method=method)
        assert low == 0.0
        assert 0.0 <= high <= 1.0

    @pytest.mark.parametrize("method", S.RATE_CI_METHODS)
    def test_all_successes_have_upper_one(self, method):
        low, high = S.rate_ci(25, 25, method=method)
        assert high == 1.0
        assert 0.0 <= low <= 1.0

    def test_jeffreys_boundary_convention(self):
        # Brown, Cai & DasGupta (2001): lower limit 0 when x = 0 (statsmodels' proportion_confint
        # gives 4.8e-05 for 0/10 instead); the upper stays the Beta(1/2, n + 1/2) quantile.
        low, high = S.rate_ci(0, 10, method="jeffreys")
        assert low == 0.0
        assert high == pytest.approx(sps.beta.ppf(0.975, 0.5, 10.5), rel=1e-10)
        low, high = S.rate_ci(10, 10, method="jeffreys")
        assert high == 1.0
        assert low == pytest.approx(sps.beta.ppf(0.025, 10.5, 0.5), rel=1e-10)

    def test_wald_collapses_at_zero_which_is_why_it_is_not_the_default(self):
        assert S.rate_ci(0, 50, method="wald") == (0.0, 0.0)

    def test_one_trial_by_hand(self):
        # n = 1, x = 0: Wilson upper = z^2 / (1 + z^2) = 0.7934; x = 1: lower = 1 / (1 + z^2)
        assert S.rate_ci(0, 1) == (0.0, pytest.approx(Z95**2 / (1 + Z95**2)))
        assert S.rate_ci(1, 1) == (pytest.approx(1 / (1 + Z95**2)), 1.0)
        # Clopper-Pearson, n = 1, x = 0: upper = 1 - 0.025 = 0.975
        assert S.rate_ci(0, 1, method="clopper-pearson") == (0.0, pytest.approx(0.975))

    @pytest.mark.parametrize("method", S.RATE_CI_METHODS)
    def test_zero_trials_give_nan(self, method):
        low, high = S.rate_ci(0, 0, method=method)
        assert math.isnan(low) and math.isnan(high)

    @pytest.mark.parametrize("method", S.RATE_CI_METHODS)
    def test_huge_n_is_finite_and_tight(self, method):
        # n = 1e9, p = 0.5: every method is p +- z * sqrt(0.25 / n) = 0.5 +- 3.0990e-05
        low, high = S.rate_ci(5 * 10**8, 10**9, method=method)
        half = Z95 * math.sqrt(0.25 / 1e9)
        assert low == pytest.approx(0.5 - half, abs=1e-8)
        assert high == pytest.approx(0.5 + half, abs=1e-8)

    def test_nan_counts_give_nan_limits(self):
        low, high = S.rate_ci(np.array([np.nan, 3.0]), np.array([10.0, 10.0]))
        assert np.isnan(low[0]) and np.isnan(high[0])
        assert low[1] == pytest.approx(S.rate_ci(3, 10)[0])


class TestRateCiVectorised:
    @pytest.mark.parametrize("method", S.RATE_CI_METHODS)
    def test_arrays_equal_scalar_calls(self, method):
        x = np.array([0, 1, 5, 19, 20, 0, 37])
        n = np.array([20, 20, 20, 20, 20, 0, 100])
        low, high = S.rate_ci(x, n, method=method)
        assert isinstance(low, np.ndarray) and low.shape == x.shape
        for i in range(len(x)):
            expected = S.rate_ci(int(x[i]), int(n[i]), method=method)
            np.testing.assert_allclose([low[i], high[i]], expected, rtol=1e-12, equal_nan=True)

    def test_scalars_give_floats(self):
        low, high = S.rate_ci(3, 10)
        assert type(low) is float and type(high) is float

    def test_series_and_broadcast_trials(self):
        x = pd.Series([1, 2, 3], index=["a", "b", "c"])
        low, high = S.rate_ci(x, 10, method="jeffreys")
        assert isinstance(low, np.ndarray)
        assert low[2] == pytest.approx(S.rate_ci(3, 10, method="jeffreys")[0])

    def test_hundred_thousand_rows(self):
        rng = np.random.default_rng(7)
        n = rng.integers(0, 500, 100_000)
        x = rng.binomial(n, 0.3)
        for method in S.RATE_CI_METHODS:
            low, high = S.rate_ci(x, n, method=method)
            observed = n > 0
            assert np.all(low[observed] <= x[observed] / n[observed] + 1e-12)
            assert np.all(high[observed] >= x[observed] / n[observed] - 1e-12)
            assert np.isnan(low[~observed]).all()


class TestRateCiErrors:
    def test_more_successes_than_trials(self):
        with pytest.raises(DataError, match=r"`successes` must be at most `trials`.*12.*10"):
            S.rate_ci(12, 10)

    def test_negative_successes_names_argument_and_value(self):
        with pytest.raises(DataError, match=r"`successes` must be a count >= 0, but -1"):
            S.rate_ci(-1, 10)

    def test_negative_trials_in_array_names_position(self):
        with pytest.raises(DataError, match=r"`trials`.*-5.*position 1"):
            S.rate_ci([1, 0], [10, -5])

    def test_errors_are_also_value_errors(self):
        with pytest.raises(ValueError):
            S.rate_ci(12, 10)
        with pytest.raises(ToolkitError):
            S.rate_ci(1, 10, method="wilsen")

    def test_unknown_method_lists_the_allowed(self):
        with pytest.raises(ConfigError, match=r"`method` must be one of \['wilson', 'jeffreys',"
                                              r".*but 'wilsen' was passed"):
            S.rate_ci(1, 10, method="wilsen")

    @pytest.mark.parametrize("confidence", [0, 1, 95, -0.5, "0.95"])
    def test_bad_confidence(self, confidence):
        with pytest.raises(ConfigError, match="`confidence` must be a number strictly between"):
            S.rate_ci(1, 10, confidence=confidence)

    def test_mismatched_shapes(self):
        with pytest.raises(DataError, match="same length"):
            S.rate_ci([1, 2, 3], [10, 10])

    def test_infinite_counts(self):
        with pytest.raises(DataError, match="finite"):
            S.rate_ci(1, np.inf)


# ===================================================================================== diff_ci
# Newcombe (1998) Stat Med 17:873-890, Table II examples, as tabulated in the WUSS 2016 paper
# (lexjansen.com/wuss/2016/127) and asserted in R DescTools' tests of BinomDiffCI
# (methods "mn", "score", "ac", "wald"), plus example (d) from R ratesci tests/testthat/test3.R.
NEWCOMBE_TABLE_II = [
    # (x1, n1, x2, n2, method, low, high)
    (56, 70, 48, 80, "newcombe", 0.0524, 0.3339),
    (9, 10, 3, 10, "newcombe", 0.1705, 0.8090),
    (10, 10, 0, 20, "newcombe", 0.6791, 1.0000),
    (84, 101, 89, 105, "newcombe", -0.1177, 0.0851),
    (5, 56, 0, 29, "newcombe", -0.0381, 0.1926),
    (56, 70, 48, 80, "miettinen-nurminen", 0.0528, 0.3382),
    (9, 10, 3, 10, "miettinen-nurminen", 0.1700, 0.8406),
    (10, 10, 0, 20, "miettinen-nurminen", 0.7156, 1.0000),
    (84, 101, 89, 105, "miettinen-nurminen", -0.1191, 0.0860),
    (5, 56, 0, 29, "miettinen-nurminen", -0.0326, 0.1933),
    (56, 70, 48, 80, "agresti-caffo", 0.0525, 0.3358),
    (9, 10, 3, 10, "agresti-caffo", 0.1600, 0.8400),
    (10, 10, 0, 20, "agresti-caffo", 0.6922, 1.0000),
    (84, 101, 89, 105, "agresti-caffo", -0.1168, 0.0850),
    (56, 70, 48, 80, "wald", 0.0575, 0.3425),
    (9, 10, 3, 10, "wald", 0.2605, 0.9395),
    (10, 10, 0, 20, "wald", 1.0000, 1.0000),
    (84, 101, 89, 105, "wald", -0.1162, 0.0843),
]


class TestDiffCi:
    @pytest.mark.parametrize(("x1", "n1", "x2", "n2", "method", "low", "high"),
                             NEWCOMBE_TABLE_II)
    def test_published_values(self, x1, n1, x2, n2, method, low, high):
        assert S.diff_ci(x1, n1, x2, n2, method=method) == (approx4(low), approx4(high))

    @pytest.mark.parametrize(("method", "low", "high"), [
        ("miettinen-nurminen", 0.0270416, 0.3452912),  # R PropCIs::diffscoreci(7, 34, 1, 34, .95)
        ("agresti-caffo", 0.01161167, 0.32172166),  # PropCIs::wald2ci(7,34,1,34,.95,adjust="AC")
        ("wald", 0.02916942, 0.32377176),           # PropCIs::wald2ci(..., adjust = "Wald")
    ])
    def test_propcis_values(self, method, low, high):
        # as recorded in statsmodels stats/tests/test_proportion.py::test_confint_2indep_propcis
        result = S.diff_ci(7, 34, 1, 34, method=method)
        assert result == (pytest.approx(low, abs=5e-7), pytest.approx(high, abs=5e-7))

    def test_newcombe_with_no_events_is_the_two_wilson_limits(self):
        # 0/10 vs 0/20 (Newcombe 1998 example e): both rates 0, so by hand L = -u2 and U = u1,
        # with u1 = Wilson upper of 0/10 = 0.2775 and u2 = Wilson upper of 0/20 = 0.1611
        # (Newcombe 1998 Table I).
        low, high = S.diff_ci(0, 10, 0, 20, method="newcombe")
        assert (low, high) == (approx4(-0.1611), approx4(0.2775))

    def test_newcombe_agrees_with_statsmodels_on_a_grid(self):
        from statsmodels.stats.proportion import confint_proportions_2indep

        for x1, n1, x2, n2 in [(3, 17, 9, 21), (0, 5, 5, 5), (40, 300, 55, 280), (1, 2, 1, 3)]:
            expected = confint_proportions_2indep(x1, n1, x2, n2, compare="diff",
                                                  method="newcomb")
            np.testing.assert_allclose(S.diff_ci(x1, n1, x2, n2, method="newcombe"), expected,
                                       atol=1e-12)

    def test_miettinen_nurminen_limits_solve_the_score_equation(self):
        # At each limit the MN score statistic equals -+z (the definition of the interval).
        low, high = S.diff_ci(56, 70, 48, 80, method="miettinen-nurminen")
        args = (np.array(56 / 70), np.array(48 / 80), np.array(70.0), np.array(80.0))
        assert float(intervals._mn_score(*args, np.array(low))) == pytest.approx(Z95, abs=1e-9)
        assert float(intervals._mn_score(*args, np.array(high))) == pytest.approx(-Z95, abs=1e-9)

    @pytest.mark.parametrize("method", S.DIFF_CI_METHODS)
    def test_swapping_groups_mirrors_the_interval(self, method):
        low, high = S.diff_ci(7, 23, 15, 31, method=method)
        low_swapped, high_swapped = S.diff_ci(15, 31, 7, 23, method=method)
        assert low == pytest.approx(-high_swapped, abs=1e-12)
        assert high == pytest.approx(-low_swapped, abs=1e-12)

    @pytest.mark.parametrize("method", S.DIFF_CI_METHODS)
    def test_vectorised_equals_scalar_and_empty_group_is_nan(self, method):
        x1, n1 = np.array([0, 3, 10, 0, 2]), np.array([10, 17, 10, 0, 1000])
        x2, n2 = np.array([0, 9, 0, 2, 1]), np.array([20, 21, 20, 8, 1])
        low, high = S.diff_ci(x1, n1, x2, n2, method=method)
        assert np.isnan(low[3]) and np.isnan(high[3])
        for i in (0, 1, 2, 4):
            expected = S.diff_ci(int(x1[i]), int(n1[i]), int(x2[i]), int(n2[i]), method=method)
            np.testing.assert_allclose([low[i], high[i]], expected, atol=1e-12)
        assert np.all(low[~np.isnan(low)] >= -1) and np.all(high[~np.isnan(high)] <= 1)

    def test_miettinen_nurminen_is_fast_on_large_arrays(self):
        rng = np.random.default_rng(11)
        n1, n2 = rng.integers(1, 400, 20_000), rng.integers(1, 400, 20_000)
        x1, x2 = rng.binomial(n1, 0.2), rng.binomial(n2, 0.25)
        low, high = S.diff_ci(x1, n1, x2, n2, method="miettinen-nurminen")
        estimate = x1 / n1 - x2 / n2
        assert np.all(low <= estimate + 1e-12) and np.all(estimate <= high + 1e-12)

    def test_errors(self):
        with pytest.raises(DataError, match=r"`x2` must be at most `n2`"):
            S.diff_ci(1, 10, 11, 10)
        with pytest.raises(ConfigError, match=r"`method` must be one of \['newcombe'"):
            S.diff_ci(1, 10, 1, 10, method="newcomb")


# =============================================================================== two_rate_test
class TestTwoRateTest:
    def test_score_by_hand(self):
        # 15/50 vs 5/50: pooled p = 0.2, se = sqrt(0.2 * 0.8 * (2/50)) = 0.08,
        # z = (0.3 - 0.1) / 0.08 = 2.5 (hand); p = 2 * Phi(-2.5) = 0.0124193
        result = S.two_rate_test(15, 50, 5, 50, method="score")
        assert result.method == "score"
        assert result.statistic == pytest.approx(2.5, abs=1e-12)
        assert result.p_value == approx4(0.0124193)
        assert result.estimate == pytest.approx(0.2)

    def test_score_squared_is_pearson_chi_square(self):
        result = S.two_rate_test(83, 86, 70, 82, method="score")
        chi2 = sps.chi2_contingency([[83, 3], [70, 12]], correction=False)
        assert result.statistic ** 2 == pytest.approx(chi2.statistic, rel=1e-10)
        assert result.p_value == pytest.approx(chi2.pvalue, rel=1e-10)

    def test_fisher_tea_tasting(self):
        # R: fisher.test(matrix(c(3, 1, 1, 3), 2)) -> p-value = 0.4857 (R ?fisher.test,
        # TeaTasting). Statistic: the sample odds ratio 3 * 3 / (1 * 1) = 9 (hand); R reports the
        # conditional MLE 6.408309 instead.
        result = S.two_rate_test(3, 4, 1, 4, method="fisher")
        assert result.p_value == approx4(0.4857)
        assert result.statistic == pytest.approx(9.0)
        assert result.statistic_name == "odds_ratio"

    def test_fisher_convictions(self):
        # R: fisher.test(Convictions, conf.int = FALSE) -> p-value = 0.0005367 (R ?fisher.test):
        # Dizygotic 2 convicted of 17, Monozygotic 10 of 13. Odds ratio 2 * 3 / (15 * 10) = 0.04.
        result = S.two_rate_test(2, 17, 10, 13, method="fisher")
        assert result.p_value == pytest.approx(0.0005367, abs=5e-8)
        assert result.statistic == pytest.approx(0.04)

    def test_score_falls_back_to_fisher_with_small_expected_counts(self):
        # Tea tasting: every expected count is 2 < 5
        with pytest.warns(SmallSampleWarning, match=r"smallest expected count is 2.*Fisher"):
            result = S.two_rate_test(3, 4, 1, 4, method="score")
        assert result.method == "fisher"
        assert result.requested_method == "score"
        assert result.summary.loc[0, "requested_method"] == "score"
        assert result.p_value == approx4(0.4857)

    def test_no_warning_when_counts_are_large(self):
        with warnings.catch_warnings():
            warnings.simplefilter("error", SmallSampleWarning)
            assert S.two_rate_test(15, 50, 5, 50).method == "score"

    def test_boschloo_matches_scipy_documentation(self):
        # scipy.stats.boschloo_exact docs (job satisfaction, 74/117 professors vs 31/63
        # scientists; table [[74, 31], [43, 32]], one sample per column), alternative="greater"
        # -> statistic 0.0483, p-value 0.0355 (printed truncated: 0.03556). Two-sided is twice
        # the smaller one-sided p-value.
        result = S.two_rate_test(74, 117, 31, 63, method="boschloo")
        assert result.statistic == approx4(0.0483)
        assert result.p_value / 2 == pytest.approx(0.0355, abs=1e-4)

    @pytest.mark.parametrize("method", ["fisher", "boschloo"])
    def test_zero_events_in_both_groups(self, method):
        result = S.two_rate_test(0, 30, 0, 40, method=method)
        assert result.p_value == 1.0
        assert math.isnan(result.statistic)

    def test_zero_events_with_score_warns_and_gives_p_one(self):
        with pytest.warns(SmallSampleWarning):
            result = S.two_rate_test(0, 300, 0, 400, method="score")
        assert result.p_value == 1.0 and math.isnan(result.statistic)

    def test_all_successes_in_both_groups(self):
        result = S.two_rate_test(12, 12, 30, 30, method="fisher")
        assert result.p_value == 1.0

    def test_result_object(self):
        result = S.two_rate_test(15, 50, 5, 50)
        summary = result.summary
        assert list(summary.columns[:5]) == ["test", "method", "statistic_name", "statistic",
                                             "p_value"]
        assert summary.loc[0, "ci_low"] == pytest.approx(S.diff_ci(15, 50, 5, 50)[0])
        assert "two-rate test" in result._repr_html_()
        assert result.groups["rate"].tolist() == [0.3, 0.1]

    def test_errors(self):
        with pytest.raises(DataError, match=r"`x1` must be at most `n1`, but x1=11"):
            S.two_rate_test(11, 10, 1, 10)
        with pytest.raises(DataError, match=r"`n2` must be at least 1 here, but 0 was passed"):
            S.two_rate_test(1, 10, 0, 0)
        with pytest.raises(DataError, match="whole numbers"):
            S.two_rate_test(1.5, 10, 1, 10)
        with pytest.raises(ConfigError, match=r"`method` must be one of \['score', 'fisher', "
                                              r"'boschloo'\], but 'chi2' was passed"):
            S.two_rate_test(1, 10, 1, 10, method="chi2")
        with pytest.raises(DataError, match="single numbers"):
            S.two_rate_test([1, 2], [10, 10], 1, 10)


# ================================================================================= k_rate_test
SMOKERS = [83, 90, 129, 70]     # R ?prop.test / ?prop.trend.test example
PATIENTS = [86, 93, 136, 82]


class TestKRateTest:
    def test_r_prop_test_example(self):
        # R: prop.test(smokers, patients) -> X-squared = 12.6, df = 3, p-value = 0.005585
        with warnings.catch_warnings():
            # smallest expected count 82 * 25 / 397 = 5.16 (hand): no warning
            warnings.simplefilter("error", SmallSampleWarning)
            result = S.k_rate_test(SMOKERS, PATIENTS)
        assert result.statistic == pytest.approx(12.6, abs=5e-4)
        assert result.dof == 3
        assert result.p_value == pytest.approx(0.005585, abs=5e-7)

    def test_small_expected_counts_warn(self):
        # expected successes in the third group: 6 * 9 / 31 = 1.74 (hand)
        with pytest.warns(SmallSampleWarning, match="smallest expected count is 1.74"):
            S.k_rate_test([1, 2, 3], [10, 12, 9])

    def test_two_groups_equal_the_squared_z(self):
        k = S.k_rate_test([15, 5], [50, 50])
        two = S.two_rate_test(15, 50, 5, 50, method="score")
        assert k.statistic == pytest.approx(two.statistic ** 2, rel=1e-12)  # 6.25 (hand)
        assert k.p_value == pytest.approx(two.p_value, rel=1e-10)

    def test_no_successes_anywhere(self):
        with pytest.warns(SmallSampleWarning):
            result = S.k_rate_test([0, 0, 0], [10, 20, 30])
        assert math.isnan(result.statistic) and result.p_value == 1.0 and result.dof == 2

    def test_errors(self):
        with pytest.raises(DataError, match=r"at least one trial.*position 1"):
            S.k_rate_test([1, 0, 2], [10, 0, 10])
        with pytest.raises(DataError, match="at least 2 groups"):
            S.k_rate_test([1], [10])


# ============================================================================ adjust, pairwise
class TestAdjustP:
    P = [0.01, 0.04, 0.03, 0.005]

    def test_holm_by_hand(self):
        # sorted 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, 1*0.04 = .02, .03, .06, .04
        # -> running max .02, .03, .06, .06 -> back in input order:
        np.testing.assert_allclose(S.adjust_p(self.P, method="holm"), [0.03, 0.06, 0.06, 0.02])

    def test_benjamini_hochberg_by_hand(self):
        # m * p / rank: .005*4/1 = .02, .01*4/2 = .02, .03*4/3 = .04, .04*4/4 = .04 -> running
        # min from the top leaves them; back in input order:
        np.testing.assert_allclose(S.adjust_p(self.P, method="fdr_bh"), [0.02, 0.04, 0.04, 0.02])

    def test_nan_stays_out_and_series_keeps_index(self):
        p = pd.Series([0.01, np.nan, 0.04], index=["a", "b", "c"])
        adjusted = S.adjust_p(p, method="bonferroni")
        assert isinstance(adjusted, pd.Series) and list(adjusted.index) == ["a", "b", "c"]
        assert adjusted["a"] == pytest.approx(0.02) and np.isnan(adjusted["b"])

    def test_errors(self):
        with pytest.raises(DataError, match="between 0 and 1, but 1.5"):
            S.adjust_p([0.1, 1.5])
        with pytest.raises(ConfigError, match=r"`method` must be one of \['holm', 'fdr_bh'"):
            S.adjust_p([0.1], method="BH")


class TestPairwiseRateTests:
    @pytest.fixture
    def segments(self):
        return pd.DataFrame({"segment": ["web", "event", "partner"],
                             "successes": [60, 45, 20], "n": [300, 150, 160]})

    def test_rows_columns_and_values(self, segments):
        before = segments.copy()
        table = S.pairwise_rate_tests(segments, method="score")
        pd.testing.assert_frame_equal(segments, before)  # input not modified
        assert list(table.columns) == [
            "group_1", "group_2", "n_1", "successes_1", "n_2", "successes_2", "diff", "ci_low",
            "ci_high", "statistic", "p_value", "p_holm", "p_fdr_bh", "method"]
        assert list(zip(table["group_1"], table["group_2"], strict=True)) == [
            ("web", "event"), ("web", "partner"), ("event", "partner")]
        row = table.iloc[0]
        single = S.two_rate_test(60, 300, 45, 150, method="score")
        assert row["statistic"] == pytest.approx(single.statistic)
        assert row["p_value"] == pytest.approx(single.p_value)
        assert row["diff"] == pytest.approx(0.2 - 0.3)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(S.diff_ci(60, 300, 45, 150))
        np.testing.assert_allclose(table["p_holm"], S.adjust_p(table["p_value"], method="holm"))
        assert (table["p_holm"] >= table["p_value"]).all()

    def test_categorical_order_and_single_fallback_warning(self):
        data = pd.DataFrame({
            "channel": pd.Categorical(["b", "a", "c"], categories=["c", "b", "a"]),
            "won": [1, 2, 30], "deals": [8, 9, 100]})
        with pytest.warns(SmallSampleWarning, match=r"3 of 3 pairs") as record:
            table = S.pairwise_rate_tests(data, successes="won", trials="deals", group="channel",
                                          adjust="holm")
        assert len([w for w in record if w.category is SmallSampleWarning]) == 1
        assert table["group_1"].tolist() == ["c", "c", "b"]
        assert set(table["method"]) == {"fisher"}
        assert "p_holm" in table.columns and "p_fdr_bh" not in table.columns

    def test_errors(self, segments):
        with pytest.raises(DataError, match=r"appears in more than one row"):
            S.pairwise_rate_tests(pd.concat([segments, segments]))
        with pytest.raises(DataError, match=r"no column\(s\) \['trials'\]"):
            S.pairwise_rate_tests(segments, trials="trials")
        with pytest.raises(ConfigError, match=r"`adjust` must be one of"):
            S.pairwise_rate_tests(segments, adjust=("holm", "BH"))
        empty = segments.assign(n=[300, 0, 160], successes=[60, 0, 20])
        with pytest.raises(DataError, match=r"Group 'event' has no trials"):
            S.pairwise_rate_tests(empty)


# ==================================================================================== cmh_test
# R datasets::UCBAdmissions, array(dim = c(Admit, Gender, Dept)), column-major
UCB = [512, 313, 89, 19, 353, 207, 17, 8, 120, 205, 202, 391,
       138, 279, 131, 244, 53, 138, 94, 299, 22, 351, 24, 317]
# R ?mantelhaen.test "Rabbits" penicillin example, array(dim = c(2, 2, 5))
RABBITS = [0, 0, 6, 5, 3, 0, 3, 6, 6, 2, 0, 4, 5, 6, 1, 0, 2, 5, 0, 0]


class TestCmhTest:
    def test_ucb_admissions_matches_r(self):
        # R: mantelhaen.test(UCBAdmissions) -> Mantel-Haenszel X-squared = 1.4269, df = 1,
        # p-value = 0.2323; common odds ratio 0.9046968, 95% CI 0.7719074 1.0603298.
        # (The MH statistic and odds ratio do not change when each 2x2 table is transposed.)
        result = S.cmh_test(r_array(UCB, 6))
        assert result.statistic == approx4(1.4269)
        assert result.dof == 1
        assert result.p_value == approx4(0.2323)
        assert result.estimate == pytest.approx(0.9046968, abs=5e-8)
        assert (result.ci_low, result.ci_high) == (pytest.approx(0.7719074, abs=5e-8),
                                                   pytest.approx(1.0603298, abs=5e-8))

    def test_rabbits_matches_r(self):
        # R: mantelhaen.test(Rabbits) -> Mantel-Haenszel X-squared = 3.9286, df = 1,
        # p-value = 0.04747. MH odds ratio by hand: sum(ad/n) / sum(bc/n)
        # = (18/12 + 24/12) / (6/12) = 7.
        result = S.cmh_test(r_array(RABBITS, 5))
        assert result.statistic == approx4(3.9286)
        assert result.p_value == pytest.approx(0.04747, abs=5e-6)
        assert result.estimate == pytest.approx(7.0)
        assert "continuity" in result.method

    def test_without_correction_one_stratum_is_scaled_pearson(self):
        # Hand identity: for a single stratum, MH chi-square (no correction) = Pearson X^2 *
        # (N - 1) / N.
        table = np.array([[30.0, 70.0], [18.0, 92.0]])
        pearson = sps.chi2_contingency(table, correction=False).statistic
        result = S.cmh_test([table], correction=False)
        assert result.statistic == pytest.approx(pearson * (table.sum() - 1) / table.sum())

    def test_frame_input_equals_table_input(self):
        tables = r_array(UCB, 6)
        frame = pd.DataFrame([
            {"dept": d, "gender": g, "admitted": tables[d, g, 0], "applied": tables[d, g].sum()}
            for d in range(6) for g in range(2)])
        from_frame = S.cmh_test(frame, stratum="dept", group="gender", successes="admitted",
                                trials="applied")
        from_tables = S.cmh_test(tables)
        assert from_frame.statistic == pytest.approx(from_tables.statistic)
        assert from_frame.estimate == pytest.approx(from_tables.estimate)
        assert from_frame.extra["breslow_day_p_value"] == pytest.approx(
            from_tables.extra["breslow_day_p_value"])

    def test_stratum_with_one_group_is_left_out_and_noted(self):
        frame = pd.DataFrame({"region": ["n", "n", "s", "s", "e"], "channel": list("ababa"),
                              "successes": [10, 5, 8, 9, 3], "n": [40, 40, 30, 35, 10]})
        result = S.cmh_test(frame, stratum="region", group="channel")
        assert result.extra["strata"] == 2
        assert any("'e'" in note for note in result.notes)

    def test_errors(self):
        with pytest.raises(DataError, match=r"shape \(K, 2, 2\)"):
            S.cmh_test(np.ones((2, 3)))
        frame = pd.DataFrame({"r": [1, 1, 1], "g": ["a", "b", "c"], "successes": [1, 2, 3],
                              "n": [5, 5, 5]})
        with pytest.raises(DataError, match="exactly two groups"):
            S.cmh_test(frame, stratum="r", group="g")
        with pytest.raises(ConfigError, match="`stratum` and `group` must name its columns"):
            S.cmh_test(frame)


# ================================================================================== trend_test
class TestTrendTest:
    def test_r_prop_trend_test_example(self):
        # R: prop.trend.test(smokers, patients) -> X-squared = 8.2249, df = 1, p-value = 0.004132
        result = S.trend_test(SMOKERS, PATIENTS)
        assert result.statistic == approx4(8.2249)
        assert result.dof == 1
        assert result.p_value == pytest.approx(0.004132, abs=5e-7)
        assert result.extra["z"] < 0 and result.estimate < 0  # the rates fall over the groups

    def test_scores_are_invariant_to_linear_rescaling(self):
        default = S.trend_test(SMOKERS, PATIENTS)
        rescaled = S.trend_test(SMOKERS, PATIENTS, scores=[10, 20, 30, 40])
        assert rescaled.statistic == pytest.approx(default.statistic, rel=1e-12)
        assert rescaled.estimate == pytest.approx(default.estimate / 10)

    def test_two_groups_equal_the_two_rate_chi_square(self):
        # With two groups a linear trend is the only difference there is.
        trend = S.trend_test([15, 5], [50, 50])
        assert trend.statistic == pytest.approx(6.25)  # 2.5 ** 2 (see test_score_by_hand)

    def test_constant_rates_have_no_trend(self):
        result = S.trend_test([5, 10, 15], [50, 100, 150])
        assert result.statistic == pytest.approx(0.0, abs=1e-20)
        assert result.p_value == pytest.approx(1.0)

    def test_errors(self):
        with pytest.raises(DataError, match="`scores` must be 3 finite numbers"):
            S.trend_test([1, 2, 3], [10, 10, 10], scores=[1, 2])
        with pytest.raises(DataError, match="must not all be equal"):
            S.trend_test([1, 2, 3], [10, 10, 10], scores=[1, 1, 1])


# ======================================================================================= power
class TestPower:
    def test_r_power_prop_test_power(self):
        # R: power.prop.test(n = 50, p1 = .50, p2 = .75) -> power = 0.7401659
        assert S.power_two_rates(0.5, 0.75, n=50) == pytest.approx(0.7401659, abs=5e-8)

    def test_r_power_prop_test_sample_size(self):
        # R ?power.prop.test: power.prop.test(p1 = .50, p2 = .75, power = .90) "=> n = 76.7".
        # statsmodels NormalIndPower with Cohen's h gives 76.65294 instead (arcsine scale).
        n = S.power_two_rates(0.5, 0.75, power=0.9)
        assert n == pytest.approx(76.7, abs=0.05)
        # Closed form (Fleiss 1981, no continuity correction), worked out by hand:
        # n = ((z_.025 sqrt(2 * .625 * .375) + z_.10 sqrt(.25 + .1875)) / .25)^2 = 76.7069
        closed = ((Z95 * math.sqrt(2 * 0.625 * 0.375) + sps.norm.isf(0.1)
                   * math.sqrt(0.25 + 0.1875)) / 0.25) ** 2
        assert n == pytest.approx(closed, rel=1e-10)
        assert S.power_two_rates(0.5, 0.75, n=n) == pytest.approx(0.9, abs=1e-10)

    def test_unequal_groups_need_fewer_in_the_first_but_more_in_total(self):
        equal = S.power_two_rates(0.2, 0.25, power=0.8)
        double = S.power_two_rates(0.2, 0.25, power=0.8, ratio=2.0)
        assert double < equal  # the first group can be smaller ...
        assert double * 3 > 2 * equal  # ... but unequal groups cost more records in total
        assert S.power_two_rates(0.2, 0.25, n=double, ratio=2.0) == pytest.approx(0.8)

    def test_one_sided_needs_fewer(self):
        assert (S.power_two_rates(0.2, 0.25, power=0.8, alternative="one-sided")
                < S.power_two_rates(0.2, 0.25, power=0.8))

    def test_minimum_detectable_effect_matches_r(self):
        # R ?power.prop.test: power.prop.test(n = 50, p1 = .5, power = .90) "=> p2 = 0.8026"
        assert S.minimum_detectable_effect(0.5, 50, power=0.9) == approx4(0.3026)

    def test_minimum_detectable_effect_round_trip(self):
        # "How many leads do we need to see a 2-point improvement on 20%?" and back.
        n = S.power_two_rates(0.20, 0.22, power=0.8)
        assert 6000 < n < 6600
        assert S.minimum_detectable_effect(0.20, n, power=0.8) == pytest.approx(0.02, abs=1e-9)

    def test_errors(self):
        with pytest.raises(ConfigError, match="exactly one of `n` and `power`"):
            S.power_two_rates(0.2, 0.3)
        with pytest.raises(ConfigError, match="exactly one of `n` and `power`"):
            S.power_two_rates(0.2, 0.3, n=100, power=0.8)
        with pytest.raises(ConfigError, match="`p2` must be a number strictly between 0 and 1"):
            S.power_two_rates(0.2, 1.3, n=100)
        with pytest.raises(ConfigError, match="no sample size detects a zero difference"):
            S.power_two_rates(0.2, 0.2, power=0.8)
        with pytest.raises(ConfigError, match="increase `n`"):
            S.minimum_detectable_effect(0.5, 3, power=0.99)
        with pytest.raises(ConfigError, match=r"`alternative` must be one of"):
            S.power_two_rates(0.2, 0.3, n=100, alternative="larger")


# ============================================================================== prob_b_beats_a
def _closed_form_b_beats_a(a_a, b_a, a_b, b_b):
    """Exact P(p_B > p_A) for whole-number Beta parameters (Evan Miller's sum; Cook 2005)."""
    total = 0.0
    for i in range(int(a_b)):
        total += math.exp(special.betaln(a_a + i, b_a + b_b) - math.log(b_b + i)
                          - special.betaln(1 + i, b_b) - special.betaln(a_a, b_a))
    return total


class TestProbBBeatsA:
    def test_exact_equals_closed_form_and_monte_carlo_agrees(self):
        result = S.prob_b_beats_a(40, 200, 55, 210, seed=20240501)
        reference = _closed_form_b_beats_a(41, 161, 56, 156)
        assert result.prob_b_beats_a_exact == pytest.approx(reference, abs=1e-9)
        assert abs(result.prob_b_beats_a - reference) < 4 * result.mc_standard_error
        assert result.posterior_a == (41.0, 161.0) and result.posterior_b == (56.0, 156.0)

    def test_hand_case(self):
        # A: no data, uniform prior -> p_A ~ U(0, 1); B: 1 of 1 -> Beta(2, 1), density 2t.
        # P(p_B > p_A) = int_0^1 2t * t dt = 2/3 (hand).
        result = S.prob_b_beats_a(0, 0, 1, 1, seed=1)
        assert result.prob_b_beats_a_exact == pytest.approx(2 / 3, abs=1e-10)
        assert result.prob_b_beats_a == pytest.approx(2 / 3, abs=4 * result.mc_standard_error)
        # expected uplift = E[Beta(2, 1)] - E[U(0, 1)] = 2/3 - 1/2 (hand)
        assert result.expected_uplift == pytest.approx(1 / 6)

    def test_large_samples_are_integrated_where_the_mass_is(self):
        # 20 000 leads per arm: posteriors are needles; the integral must still find them.
        result = S.prob_b_beats_a(4000, 20_000, 4150, 20_000, seed=3)
        reference = _closed_form_b_beats_a(4001, 16001, 4151, 15851)
        assert result.prob_b_beats_a_exact == pytest.approx(reference, abs=1e-7)
        assert 0.9 < reference < 1.0

    def test_seed_reproduces_and_uplift_interval_contains_the_mean(self):
        first = S.prob_b_beats_a(30, 120, 42, 125, seed=9, draws=50_000)
        second = S.prob_b_beats_a(30, 120, 42, 125, seed=9, draws=50_000)
        assert first.prob_b_beats_a == second.prob_b_beats_a
        assert first.uplift_ci_low < first.expected_uplift < first.uplift_ci_high
        assert first.relative_uplift_ci_low < first.expected_relative_uplift
        assert list(first.summary.columns[:3]) == ["prob_b_beats_a", "prob_b_beats_a_exact",
                                                   "mc_standard_error"]
        assert "Bayesian" in first._repr_html_()

    def test_errors(self):
        with pytest.raises(ConfigError, match="`seed` must be a whole number >= 0"):
            S.prob_b_beats_a(1, 10, 2, 10, seed=None)
        with pytest.raises(ConfigError, match="`prior` must be two positive numbers"):
            S.prob_b_beats_a(1, 10, 2, 10, seed=1, prior=(0, 1))
        with pytest.raises(ConfigError, match="`draws` must be a whole number >= 1000"):
            S.prob_b_beats_a(1, 10, 2, 10, seed=1, draws=10)
        with pytest.raises(DataError, match=r"`x_b` must be at most `n_b`"):
            S.prob_b_beats_a(1, 10, 12, 10, seed=1)


def test_public_names_are_exported():
    for name in ["rate_ci", "diff_ci", "two_rate_test", "k_rate_test", "pairwise_rate_tests",
                 "adjust_p", "cmh_test", "trend_test", "power_two_rates",
                 "minimum_detectable_effect", "prob_b_beats_a"]:
        assert name in S.__all__ and callable(getattr(S, name))
