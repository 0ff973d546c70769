"""Tests of toolkit.measure.survival: hand-worked cases, R reference values and invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from toolkit.base.exceptions import DataError, ToolkitError
from toolkit.measure.survival import (
    EVENTS,
    converter_quantile,
    cumulative_incidence,
    kaplan_meier,
    logrank_test,
    time_to_convert_summary,
    transition_durations,
)

# R's `aml` data (survival package), time in weeks, status 1 = relapse, 0 = censored.
AML_MAINTAINED_T = [9, 13, 13, 18, 23, 28, 31, 34, 45, 48, 161]
AML_MAINTAINED_E = [1, 1, 0, 1, 1, 0, 1, 1, 0, 1, 0]
AML_NONMAINTAINED_T = [5, 5, 8, 8, 12, 16, 23, 27, 30, 33, 43, 45]
AML_NONMAINTAINED_E = [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1]


# --- Kaplan-Meier: hand-worked --------------------------------------------------------------------


def test_km_steps_worked_by_hand():
    # durations 2, 3, 3+, 5, 8+ ("+" = censored)
    # t=2: at risk 5, 1 event          -> S = 4/5           = 0.8
    # t=3: at risk 4 (the 3+ is still at risk at 3: censor after events), 1 event
    #                                   -> S = 0.8 * 3/4     = 0.6
    # t=5: at risk 2, 1 event          -> S = 0.6 * 1/2     = 0.3
    # Greenwood at t=2: Var = 0.8^2 * 1/(5*4) = 0.032 -> se 0.178885;
    # log interval: 0.8 * exp(-1.959964 * 0.178885 / 0.8) = 0.8 * exp(-0.438264) = 0.5161
    km = kaplan_meier([2, 3, 3, 5, 8], [True, True, False, True, False])
    s = km.survival_
    assert list(s.columns) == ["time", "at_risk", "events", "survival", "ci_low", "ci_high"]
    np.testing.assert_allclose(s["time"], [2, 3, 5])
    np.testing.assert_array_equal(s["at_risk"], [5, 4, 2])
    np.testing.assert_array_equal(s["events"], [1, 1, 1])
    np.testing.assert_allclose(s["survival"], [0.8, 0.6, 0.3], atol=1e-12)
    expected_low = 0.8 * np.exp(-norm.ppf(0.975) * np.sqrt(0.032) / 0.8)
    assert s["ci_low"].iloc[0] == pytest.approx(expected_low, abs=1e-10)
    assert s["ci_low"].iloc[0] == pytest.approx(0.5161, abs=1e-4)
    assert s["ci_high"].iloc[0] == 1.0  # capped at 1, as R does
    assert km.median_ == 5  # first time with S <= 0.5
    np.testing.assert_allclose(km.survival_at([0, 2, 2.5, 3, 6, 8]), [1, 0.8, 0.8, 0.6, 0.3, 0.3])
    assert np.isnan(km.survival_at(9)[0])  # past the end of follow-up (8) with S > 0: unknown
    assert (km.n_, km.events_, km.censored_) == (5, 3, 2)


def test_open_records_censored_at_as_of_lengthen_the_median_instead_of_shortening_it():
    # Converted after 10, 20, 40 days; two records still open, 30 days old at the as-of date.
    # Censored correctly:
    #   t=10: at risk 5 -> S = 4/5 = 0.8;  t=20: at risk 4 -> S = 0.8 * 3/4 = 0.6
    #   t=30: two censorings, no step;   t=40: at risk 1 -> S = 0.
    #   median = first S <= 0.5 = 40 days.
    # Dropping the open records: S = 2/3, 1/3, 0 at 10, 20, 40 -> median 20 days.
    # The naive mean of the closed records: (10 + 20 + 40) / 3 = 23.3 days.
    durations = [10, 20, 40, 30, 30]
    converted = [True, True, True, False, False]
    km = kaplan_meier(durations, converted)
    assert km.median_ == 40
    closed_only = kaplan_meier([10, 20, 40], [True, True, True])
    assert closed_only.median_ == 20
    assert np.mean([10, 20, 40]) == pytest.approx(23.333, abs=1e-3)
    assert km.median_ > closed_only.median_
    # ... and an open record is never counted as lost.
    cif = cumulative_incidence(durations, ["converted"] * 3 + ["censored"] * 2)
    assert (cif.loc[cif["outcome"] == "lost", "cif"] == 0).all()


def test_mean_of_closed_records_is_wrong_when_most_are_still_open():
    # 10 opportunities: 4 converted after 5, 10, 15, 20 days; 6 open for 60 days at the as-of date.
    # Naive mean of the closed: (5+10+15+20)/4 = 12.5 days, suggesting "half convert in ~12 days".
    # KM: S = 0.9, 0.8, 0.7, 0.6 at 5, 10, 15, 20 (at risk 10, 9, 8, 7), then only censorings:
    #   S never reaches 0.5, so the median is not reached after 60 days of follow-up.
    #   percentile(0.3): first S <= 0.7 -> 15 days (0.9 * 8/9 * 7/8 = 0.7 exactly).
    durations = [5, 10, 15, 20] + [60] * 6
    converted = [True] * 4 + [False] * 6
    km = kaplan_meier(durations, converted)
    assert np.mean([5, 10, 15, 20]) == 12.5
    assert np.isnan(km.median_)
    assert km.percentile(0.3)[0] == 15
    assert km.percentile(0.1)[0] == 5
    np.testing.assert_allclose(km.survival_["survival"], [0.9, 0.8, 0.7, 0.6], atol=1e-12)


def test_percentile_on_an_exact_step_takes_the_start_of_the_flat():
    # Events at 1, 2, 3, 4: S = 0.75, 0.5, 0.25, 0. With 1 - S(t) >= q read literally the median
    # is 2 (S(2) = 0.5). R prints 2.5 (midpoint rule) and SAS/statsmodels 3 (strict <).
    km = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert km.median_ == 2
    assert km.percentile(0.75)[0] == 3
    assert km.percentile(0.8)[0] == 4


def test_km_without_events_has_no_median():
    km = kaplan_meier([3, 5, 8], [False, False, False])
    assert km.survival_.empty
    assert np.isnan(km.median_) and all(np.isnan(km.median_ci_))
    assert km.summary.loc[0, "n"] == 3
    assert "Kaplan-Meier" in km._repr_html_()


# --- Kaplan-Meier: R reference values --------------------------------------------------------------


def test_km_matches_r_aml_maintained():
    # R: summary(survfit(Surv(time, status) ~ 1, data = aml[aml$x == "Maintained", ]))
    #  time n.risk n.event survival std.err lower 95% CI upper 95% CI
    #     9     11       1    0.909  0.0867       0.7541        1.000
    #    13     10       1    0.818  0.1163       0.6192        1.000
    #    18      8       1    0.716  0.1397       0.4884        1.000
    #    23      7       1    0.614  0.1526       0.3769        0.999
    #    31      5       1    0.491  0.1642       0.2549        0.946
    #    34      4       1    0.368  0.1627       0.1549        0.875
    #    48      2       1    0.184  0.1535       0.0359        0.944
    # survival to 4 decimals from the exact products 10/11, 9/11, 9/11*7/8, ... (R prints 3).
    km = kaplan_meier(AML_MAINTAINED_T, AML_MAINTAINED_E)
    s = km.survival_
    np.testing.assert_allclose(s["time"], [9, 13, 18, 23, 31, 34, 48])
    np.testing.assert_array_equal(s["at_risk"], [11, 10, 8, 7, 5, 4, 2])
    np.testing.assert_allclose(
        s["survival"], [0.9091, 0.8182, 0.7159, 0.6136, 0.4909, 0.3682, 0.1841], atol=1e-4)
    np.testing.assert_allclose(
        s["ci_low"], [0.7541, 0.6192, 0.4884, 0.3769, 0.2549, 0.1549, 0.0359], atol=1e-4)
    np.testing.assert_allclose(
        s["ci_high"], [1.000, 1.000, 1.000, 0.999, 0.946, 0.875, 0.944], atol=1e-3)
    # R: print(survfit(Surv(time, status) ~ x, data = aml)): Maintained median 31, 0.95LCL 18,
    # 0.95UCL NA (not reached).
    assert km.median_ == 31
    assert km.median_ci_[0] == 18
    assert np.isnan(km.median_ci_[1])


def test_km_matches_r_aml_nonmaintained_including_the_zero_step():
    # R: summary(survfit(Surv(time, status) ~ x, data = aml)), x=Nonmaintained
    #     5     12       2   0.8333  0.1076       0.6470        1.000
    #     8     10       2   0.6667  0.1361       0.4468        0.995
    #    12      8       1   0.5833  0.1423       0.3616        0.941
    #    23      6       1   0.4861  0.1481       0.2675        0.883
    #    27      5       1   0.3889  0.1470       0.1854        0.816
    #    30      4       1   0.2917  0.1387       0.1148        0.741
    #    33      3       1   0.1944  0.1219       0.0569        0.664
    #    43      2       1   0.0972  0.0919       0.0153        0.620
    #    45      1       1   0.0000     NaN           NA           NA
    # print(survfit(...)): median 23, 0.95LCL 8, 0.95UCL NA.
    km = kaplan_meier(AML_NONMAINTAINED_T, AML_NONMAINTAINED_E)
    s = km.survival_
    np.testing.assert_allclose(
        s["survival"],
        [0.8333, 0.6667, 0.5833, 0.4861, 0.3889, 0.2917, 0.1944, 0.0972, 0.0], atol=1e-4)
    np.testing.assert_allclose(
        s["ci_low"].iloc[:-1],
        [0.6470, 0.4468, 0.3616, 0.2675, 0.1854, 0.1148, 0.0569, 0.0153], atol=1e-4)
    assert np.isnan(s["ci_low"].iloc[-1]) and np.isnan(s["ci_high"].iloc[-1])
    assert km.median_ == 23
    assert km.median_ci_[0] == 8
    # statsmodels' SurvfuncRight.quantile_ci(0.5, method="log") says 45 here; R says NA because
    # the band is undefined where S = 0. We follow R.
    assert np.isnan(km.median_ci_[1])


def test_km_matches_r_aml_pooled_to_six_digits():
    # R 4.5.1, survival 3.8.3: km <- survfit(Surv(time, status) ~ 1, data = aml);
    # km$surv, km$lower, km$upper at the event times (censor-only times 16, 28, 161 omitted),
    # summary(km)$table: median 27, 0.95LCL 18, 0.95UCL 45.
    time = AML_MAINTAINED_T + AML_NONMAINTAINED_T
    status = AML_MAINTAINED_E + AML_NONMAINTAINED_E
    km = kaplan_meier(time, status)
    s = km.survival_
    np.testing.assert_allclose(s["time"], [5, 8, 9, 12, 13, 18, 23, 27, 30, 31, 33, 34, 43, 45, 48])
    np.testing.assert_allclose(s["survival"], [
        0.913043478261, 0.826086956522, 0.782608695652, 0.739130434783, 0.695652173913,
        0.645962732919, 0.546583850932, 0.496894409938, 0.441683919945, 0.386473429952,
        0.331262939959, 0.276052449965, 0.220841959972, 0.165631469979, 0.0828157349896,
    ], rtol=1e-6)
    np.testing.assert_allclose(s["ci_low"], [
        0.804854797783, 0.684839468072, 0.6309579106, 0.579799217968, 0.530878341628,
        0.475257724706, 0.372078087249, 0.32401654569, 0.271675995392, 0.222515297747,
        0.176520182581, 0.133822195629, 0.0947332405633, 0.0598407178101, 0.0148346082548,
    ], rtol=1e-6)
    np.testing.assert_allclose(s["ci_high"], [
        1, 0.996466605023, 0.970708759208, 0.942246527232, 0.9115684501, 0.877982262317,
        0.802933352802, 0.762010637765, 0.718078477475, 0.671242442974, 0.621657726531,
        0.569449296312, 0.514826379784, 0.458446770886, 0.462327406565,
    ], rtol=1e-6)
    assert (km.median_, *km.median_ci_) == (27, 18, 45)


def test_km_matches_statsmodels_r_derived_values():
    # statsmodels/duration/tests/test_survfunc.py (test_survfunc1), values from R:
    # ti1 = c(3, 1, 2, 3, 2, 1, 5, 3); st1 = c(0, 1, 1, 1, 0, 0, 1, 0); survfit(Surv(ti1, st1) ~ 1)
    # surv 0.8750000, 0.7291667, 0.5468750, 0.0000000 at 1, 2, 3, 5; n.risk 8, 6, 4, 1.
    km = kaplan_meier([3, 1, 2, 3, 2, 1, 5, 3], [0, 1, 1, 1, 0, 0, 1, 0])
    np.testing.assert_allclose(km.survival_["time"], [1, 2, 3, 5])
    np.testing.assert_allclose(km.survival_["survival"], [0.8750, 0.7292, 0.5469, 0.0], atol=1e-4)
    np.testing.assert_array_equal(km.survival_["at_risk"], [8, 6, 4, 1])


def test_km_rejects_bad_input_with_a_fix():
    with pytest.raises(DataError, match="negative"):
        kaplan_meier([1, -2, 3], [1, 1, 0])
    with pytest.raises(ToolkitError, match="`observed` must have one entry per duration"):
        kaplan_meier([1, 2], [1])
    with pytest.raises(ToolkitError, match="`observed` must be booleans"):
        kaplan_meier([1, 2, 3], [1, 2, 0])
    with pytest.raises(ToolkitError, match=r"`confidence` must be .* but 95 was passed"):
        kaplan_meier([1, 2], [1, 0], confidence=95)
    with pytest.raises(ToolkitError, match="`q` must be a share"):
        kaplan_meier([1, 2], [1, 0]).percentile(50)


# --- cumulative incidence --------------------------------------------------------------------------

# Durations and outcomes with ties across outcomes and with censorings tied to events.
TIED_T = [1, 1, 1, 1, 2, 2, 3, 4]
TIED_E = ["converted", "converted", "lost", "censored", "lost", "censored", "converted", "censored"]


def test_cif_hand_worked_with_ties():
    # t=1: at risk 8 (the record censored at 1 still counts), 2 converted + 1 lost together:
    #   F_conv = 1 * 2/8 = 0.25, F_lost = 1 * 1/8 = 0.125, S_all = 1 - 3/8 = 0.625.
    #   4 leave (3 events, 1 censoring) -> 4 remain.
    # t=2: at risk 4, 1 lost (+1 censored): F_lost = 0.125 + 0.625 * 1/4 = 0.28125,
    #   S_all = 0.625 * 3/4 = 0.46875. 2 remain.
    # t=3: at risk 2, 1 converted: F_conv = 0.25 + 0.46875 * 1/2 = 0.484375, S_all = 0.234375.
    # Check: 0.484375 + 0.28125 + 0.234375 = 1.
    # (Censoring before the tied events would give at risk 7 at t=1 and F_conv = 2/7.)
    out = cumulative_incidence(TIED_T, TIED_E)
    assert list(out.columns) == ["time", "outcome", "cif", "ci_low", "ci_high", "at_risk"]
    conv = out[out["outcome"] == "converted"]
    lost = out[out["outcome"] == "lost"]
    np.testing.assert_allclose(conv["time"], [1, 2, 3])
    np.testing.assert_allclose(conv["cif"], [0.25, 0.25, 0.484375], atol=1e-12)
    np.testing.assert_allclose(lost["cif"], [0.125, 0.28125, 0.28125], atol=1e-12)
    np.testing.assert_array_equal(conv["at_risk"], [8, 4, 2])
    assert (conv["ci_low"] < conv["cif"]).all() and (conv["cif"] < conv["ci_high"]).all()

    at = cumulative_incidence(TIED_T, TIED_E, times=[0.5, 1, 2.5, 4, 5])
    conv_at = at[at["outcome"] == "converted"]
    np.testing.assert_allclose(conv_at["cif"].iloc[:4], [0.0, 0.25, 0.25, 0.484375])
    # Beyond the last follow-up (4) with 23% unresolved nothing is known.
    assert np.isnan(conv_at["cif"].iloc[4])
    np.testing.assert_array_equal(conv_at["at_risk"], [8, 8, 2, 1, 0])


def test_cif_matches_r_cmprsk_and_stata_stcompet_values():
    # statsmodels/duration/tests/test_survfunc.py (test_incidence):
    #   ftime = c(1, 1, 2, 4, 4, 4, 6, 6, 7, 8, 9, 9, 9, 1, 2, 2, 4, 4)
    #   fstat = c(1, 1, 1, 2, 2, 2, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    #   estimates from R cmprsk::cuminc(ftime, fstat); standard errors agree with Stata
    #   (stset ftime failure(fstat==1); stcompet ci=ci, compet1(2)), i.e. the delta method.
    ftime = [1, 1, 2, 4, 4, 4, 6, 6, 7, 8, 9, 9, 9, 1, 2, 2, 4, 4]
    fstat = [1, 1, 1, 2, 2, 2, 3, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    names = {0: "open", 1: "a", 2: "b", 3: "c"}
    out = cumulative_incidence(ftime, [names[s] for s in fstat], outcomes=("a", "b", "c"),
                               censored="open")
    expected_cif = {  # at the event times 1, 2, 4, 6, 7
        "a": [0.11111111, 0.17037037, 0.17037037, 0.17037037, 0.17037037],
        "b": [0.0, 0.0, 0.20740741, 0.20740741, 0.20740741],
        "c": [0.0, 0.0, 0.0, 0.17777778, 0.26666667],
    }
    expected_se = {
        "a": [0.07407407, 0.08976251, 0.08976251, 0.08976251, 0.08976251],
        "b": [0.0, 0.0, 0.10610391, 0.10610391, 0.10610391],
        "c": [0.0, 0.0, 0.0, 0.11196147, 0.12787781],
    }
    z = norm.ppf(0.975)
    for outcome, cif in expected_cif.items():
        part = out[out["outcome"] == outcome]
        np.testing.assert_allclose(part["time"], [1, 2, 4, 6, 7])
        np.testing.assert_allclose(part["cif"], cif, atol=1e-7)
        # the log(-log) interval implied by the reference standard errors
        f, se = np.asarray(cif), np.asarray(expected_se[outcome])
        pos = f > 0
        half = z * se[pos] / np.abs(f[pos] * np.log(f[pos]))
        np.testing.assert_allclose(part["ci_low"].to_numpy()[pos], f[pos] ** np.exp(half),
                                   atol=1e-6)
        np.testing.assert_allclose(part["ci_high"].to_numpy()[pos], f[pos] ** np.exp(-half),
                                   atol=1e-6)
        assert part["ci_low"].to_numpy()[~pos].tolist() == [] or np.isnan(
            part["ci_low"].to_numpy()[~pos]).all()


def test_cif_equals_statsmodels_cumincidenceright_where_it_is_defined():
    # Issue 22 asked for statsmodels' CumIncidenceRight behind cumulative_incidence. Measured
    # equal (cif to 1e-15, variance to 1e-17 on 200,000 tied records), except where every record
    # still at risk has an outcome (n_j = d_j, the last time of a cohort that fully resolved):
    # there statsmodels divides by n_j - d_j = 0 and its variance is NaN from then on, while the
    # term d_j / (n_j (n_j - d_j)) multiplies F_k(t) - F_k(t_j) = 0 and is left out here, so the
    # interval stays defined. That is why the estimator stays our own; this pins the equality.
    import warnings

    from statsmodels.duration.survfunc import CumIncidenceRight

    rng = np.random.default_rng(22)
    n = 3000
    durations = rng.integers(0, 90, n).astype(float)  # whole days: many ties
    status = rng.integers(0, 3, n)  # 0 open, 1 converted, 2 lost
    labels = np.array(["censored", "converted", "lost"])[status]
    ours = cumulative_incidence(durations, labels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = CumIncidenceRight(durations, status)
    for k, outcome in enumerate(("converted", "lost")):
        part = ours[ours["outcome"] == outcome]
        at = np.searchsorted(ref.times, part["time"].to_numpy())
        np.testing.assert_array_equal(ref.times[at], part["time"].to_numpy())
        np.testing.assert_allclose(part["cif"], np.asarray(ref.cinc[k])[at], atol=1e-14)
        z = norm.ppf(0.975)
        f, se = part["cif"].to_numpy(), np.asarray(ref.cinc_se[k])[at]
        inner = (f > 0) & (f < 1) & np.isfinite(se)
        half = z * se[inner] / np.abs(f[inner] * np.log(f[inner]))
        np.testing.assert_allclose(part["ci_low"].to_numpy()[inner], f[inner] ** np.exp(half),
                                   rtol=1e-9)

    # The one difference, by hand: 2 records, both converted at day 5 (n = d = 2). F = 1 - 0 = 1
    # at day 5 and the variance is 0 (nothing uncertain once all have converted); statsmodels: NaN.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = CumIncidenceRight(np.array([5.0, 5.0]), np.array([1, 1]))
    assert np.isnan(ref.cinc_se[0][-1])
    from toolkit.measure.survival.incidence import Incidence

    inc = Incidence(np.array([5.0, 5.0]), np.array([0, 0]), 1)
    assert inc.cif[0, -1] == 1.0 and inc.variance[0, -1] == 0.0


def test_cif_plus_survival_is_one_at_every_time():
    rng = np.random.default_rng(20240601)
    n = 400
    durations = rng.integers(0, 60, n).astype(float)  # whole days: many ties
    event = rng.choice(EVENTS, n, p=[0.4, 0.35, 0.25])
    out = cumulative_incidence(durations, event)
    conv = out[out["outcome"] == "converted"].set_index("time")["cif"]
    lost = out[out["outcome"] == "lost"].set_index("time")["cif"]
    any_outcome = kaplan_meier(durations, event != "censored")
    s_all = any_outcome.survival_at(conv.index.to_numpy())
    np.testing.assert_allclose(conv.to_numpy() + lost.to_numpy() + s_all, 1.0, atol=1e-12)
    assert (np.diff(conv.to_numpy()) >= -1e-15).all()


def test_cif_without_competing_outcome_equals_one_minus_km():
    rng = np.random.default_rng(7)
    n = 300
    durations = rng.exponential(30, n).round(0)
    converted = rng.random(n) < 0.6
    event = np.where(converted, "converted", "censored")
    out = cumulative_incidence(durations, event, outcomes=("converted",))
    km = kaplan_meier(durations, converted)
    np.testing.assert_allclose(out["time"], km.survival_["time"])
    np.testing.assert_allclose(out["cif"], 1 - km.survival_["survival"], atol=1e-12)


def test_cif_rejects_unknown_labels():
    with pytest.raises(DataError, match="'won'"):
        cumulative_incidence([1, 2], ["won", "lost"])
    with pytest.raises(ToolkitError, match="`outcomes` must be distinct"):
        cumulative_incidence([1, 2], ["lost", "censored"], outcomes=("lost", "censored"))


# --- the report table ------------------------------------------------------------------------------


def test_time_to_convert_summary_hand_worked():
    # Segment A: the tied case above. KM of conversion (lost + open censored):
    #   t=1: at risk 8, 2 converted -> S = 0.75; t=3: at risk 2, 1 converted -> S = 0.375;
    #   median 3. The conversion CIF ends at 0.484375 with 23% still open: not reached.
    # Segment B: converted at 1, 2, 4; lost at 3 (no one open).
    #   CIF: t=1 1/4 = 0.25; t=2 0.25 + 0.75 * 1/3 = 0.5 -> CIF median 2 days.
    # Segment C: lost at 1, 2, 3; converted at 4.
    #   CIF of conversion ends at 0.25 * 1/1 = 0.25 with nobody open: it can never reach 50%,
    #   although KM (losses censored) has S(4) = 0 and so a "median" of 4 days: the
    #   hypothetical no-loss world.
    data = pd.DataFrame({
        "duration_days": TIED_T + [1, 2, 3, 4] + [1, 2, 3, 4],
        "event": TIED_E + ["converted", "converted", "lost", "converted"]
        + ["lost", "lost", "lost", "converted"],
        "channel": ["A"] * 8 + ["B"] * 4 + ["C"] * 4,
    })
    out = time_to_convert_summary(data, by="channel", horizons=(1, 3, 10)).set_index("channel")
    assert out.loc["A", ["n", "converted", "lost", "censored"]].tolist() == [8, 3, 2, 3]
    assert out.loc["A", "km_median_days"] == 3
    assert out.loc["A", "cif_1d"] == pytest.approx(0.25)
    assert out.loc["A", "cif_3d"] == pytest.approx(0.484375)
    assert np.isnan(out.loc["A", "cif_10d"])  # past follow-up with records still open
    assert np.isnan(out.loc["A", "cif_median_days"])
    assert out.loc["A", "cif_median_reason"].startswith("not reached within follow-up")

    assert out.loc["B", "cif_median_days"] == 2
    assert out.loc["B", "km_median_days"] == 2
    assert out.loc["B", "cif_10d"] == pytest.approx(0.75)  # all resolved: 3 of 4 converted
    assert pd.isna(out.loc["B", "cif_median_reason"])

    assert out.loc["C", "km_median_days"] == 4
    assert out.loc["C", "cif_10d"] == pytest.approx(0.25)
    assert np.isnan(out.loc["C", "cif_median_days"])
    assert out.loc["C", "cif_median_reason"].startswith("cannot reach 50%")
    for col in ("cif_3d_ci_low", "cif_3d_ci_high", "km_median_ci_low", "km_median_ci_high"):
        assert col in out.columns

    overall = time_to_convert_summary(data)
    assert len(overall) == 1 and overall.loc[0, "n"] == 16


def test_time_to_convert_summary_names_a_wrong_segment_column():
    data = pd.DataFrame({"duration_days": [1.0], "event": ["converted"], "channel": ["web"]})
    with pytest.raises(ToolkitError, match=r"`by` must be one of \['channel'\]"):
        time_to_convert_summary(data, by="chanel")


# --- log-rank --------------------------------------------------------------------------------------


def test_logrank_matches_r_survdiff_aml():
    # R: survdiff(Surv(time, status) ~ x, data = aml)
    #                  N Observed Expected (O-E)^2/E (O-E)^2/V
    # x=Maintained    11        7    10.69      1.27       3.4
    # x=Nonmaintained 12       11     7.31      1.86       3.4
    #  Chisq= 3.4  on 1 degrees of freedom, p= 0.07
    # More digits (R 4.5.1, survival 3.8.3): chisq 3.39638869898, p 0.0653393220405,
    # expected 10.6893359923, 7.3106640077. (A chisq of 3.39605 would give p = 0.06535.)
    time = AML_MAINTAINED_T + AML_NONMAINTAINED_T
    status = np.array(AML_MAINTAINED_E + AML_NONMAINTAINED_E, dtype=bool)
    groups = ["Maintained"] * 11 + ["Nonmaintained"] * 12
    res = logrank_test(time, status, groups)
    assert res.statistic == pytest.approx(3.3964, abs=1e-4)
    assert res.p_value == pytest.approx(0.0653, abs=1e-4)
    assert res.dof == 1
    g = res.groups_.set_index("segment")
    assert g.loc["Maintained", ["n", "observed"]].tolist() == [11, 7]
    assert g.loc["Maintained", "expected"] == pytest.approx(10.6893, abs=1e-4)
    assert g.loc["Nonmaintained", "expected"] == pytest.approx(7.3107, abs=1e-4)
    assert res.summary.loc[0, "p_value"] == res.p_value
    assert "Log-rank" in res._repr_html_()


def test_logrank_needs_two_groups():
    with pytest.raises(DataError, match="at least two groups"):
        logrank_test([1, 2, 3], [1, 1, 0], ["a", "a", "a"])


# --- transition_durations --------------------------------------------------------------------------

PHASES = ["target", "lead", "opportunity", "proposal", "order"]
AS_OF = pd.Timestamp("2024-03-31")


def _funnel() -> tuple[pd.DataFrame, pd.DataFrame]:
    nat = pd.NaT
    rows = {
        #     target        lead          opportunity   proposal      order
        "A": [nat, "2024-01-01", "2024-01-11", nat, nat],             # open, converted
        "B": [nat, "2024-01-01", nat, nat, nat],                      # lost 2024-01-21
        "C": [nat, "2024-03-01", nat, nat, nat],                      # open
        # skipped opportunity: the caller filled it with the proposal date (skip = passed)
        "D": [nat, "2024-02-01", "2024-02-15", "2024-02-15", nat],
        "E": ["2024-01-05", nat, nat, nat, nat],                      # never a lead
        "F": [nat, "2024-04-10", nat, nat, nat],                      # lead after as_of
        "G": [nat, "2024-01-01", "2024-04-05", nat, nat],             # converts after as_of
        "H": [nat, "2024-01-31", nat, nat, nat],                      # lost after as_of
        "I": [nat, "2024-01-01", "2024-02-01", "2024-03-01", "2024-03-01"],  # won
        "J": [nat, "2024-02-10", "2024-02-05", nat, nat],             # bad data: to < from
        "K": [nat, "2024-01-10", "2024-01-20", "2024-01-20", nat],    # lost later, at proposal
    }
    reached_at = pd.DataFrame.from_dict(rows, orient="index", columns=PHASES).apply(pd.to_datetime)
    reached_at.index.name = "record_id"
    records = pd.DataFrame({
        "record_id": list(rows),
        "created_at": pd.to_datetime(["2024-01-01"] * len(rows)),
        "outcome": ["open", "lost", "open", "open", "open", "open", "open", "lost", "won", "open",
                    "lost"],
        "closed_at": pd.to_datetime([None, "2024-01-21", None, None, None, None, None,
                                     "2024-05-01", "2024-03-01", None, "2024-02-01"]),
        "lost_at_phase": [None, "lead", None, None, None, None, None, "lead", None, None,
                          "proposal"],
        "channel": ["web", "web", "event", "call", "web", "web", "event", "call", "web", "call",
                    "event"],
    })
    return reached_at, records


def test_transition_durations_hand_made_funnel():
    reached_at, records = _funnel()
    before = (reached_at.copy(), records.copy())
    out = transition_durations(reached_at, records, from_phase="lead", to_phase="opportunity",
                               as_of=AS_OF)
    pd.testing.assert_frame_equal(reached_at, before[0])  # caller's frames untouched
    pd.testing.assert_frame_equal(records, before[1])
    assert list(out.columns) == ["record_id", "start", "duration_days", "event", "data_issue",
                                 "channel"]
    got = out.set_index("record_id")
    # E never reached lead; F reached it after the as-of date.
    assert sorted(got.index) == ["A", "B", "C", "D", "G", "H", "I", "J", "K"]
    expected = {
        "A": ("converted", 10.0),   # Jan 1 -> Jan 11
        "B": ("lost", 20.0),        # Jan 1 -> lost Jan 21
        "C": ("censored", 30.0),    # Mar 1 -> as_of Mar 31, open: censored, not lost
        "D": ("converted", 14.0),   # Feb 1 -> Feb 15 (skip rule filled by the caller)
        "G": ("censored", 90.0),    # Jan 1 -> Mar 31 (31 + 29 + 30): conversion is after as_of
        "H": ("censored", 60.0),    # Jan 31 -> Mar 31 (29 + 31): lost only after as_of
        "I": ("converted", 31.0),   # Jan 1 -> Feb 1
        "J": ("converted", 0.0),    # Feb 10 -> Feb 5: clipped to 0 and flagged
        "K": ("converted", 10.0),   # reached (by skip) opportunity before being lost
    }
    for rid, (event, days) in expected.items():
        assert got.loc[rid, "event"] == event, rid
        assert got.loc[rid, "duration_days"] == pytest.approx(days), rid
    assert got.loc["J", "data_issue"] == "to_phase_before_start"
    assert got.drop(index="J")["data_issue"].isna().all()
    assert got.loc["B", "channel"] == "web"
    assert got.loc["C", "start"] == pd.Timestamp("2024-03-01")
    assert list(out["event"].cat.categories) == list(EVENTS)


def test_transition_durations_intraday_precision_and_fallback_for_won():
    reached_at = pd.DataFrame(
        {"lead": pd.to_datetime(["2024-01-01 06:00", "2024-01-01 00:00"]),
         "order": pd.to_datetime(["2024-01-02 18:00", None])},
        index=pd.Index(["x", "y"], name="record_id"))
    records = pd.DataFrame({"record_id": ["y", "x"], "outcome": ["won", "won"],
                            "closed_at": pd.to_datetime(["2024-01-05 00:00", "2024-01-02 18:00"])})
    out = transition_durations(reached_at, records, from_phase="lead", to_phase="order",
                               as_of="2024-02-01").set_index("record_id")
    assert out.loc["x", "duration_days"] == pytest.approx(1.5)  # 36 hours
    # won without a reached_at for the won phase: counted converted at closed_at, flagged
    assert out.loc["y", "event"] == "converted"
    assert out.loc["y", "duration_days"] == pytest.approx(4.0)
    assert out.loc["y", "data_issue"] == "won_without_to_phase"


def test_transition_durations_errors_name_the_fix():
    reached_at, records = _funnel()
    with pytest.raises(ToolkitError, match=r"`from_phase` must be one of \['target'"):
        transition_durations(reached_at, records, from_phase="leed", to_phase="order",
                             as_of=AS_OF)
    with pytest.raises(ToolkitError, match="must come after `from_phase`"):
        transition_durations(reached_at, records, from_phase="proposal", to_phase="lead",
                             as_of=AS_OF)
    with pytest.raises(DataError, match="no row in `records`.*'C'"):
        transition_durations(reached_at, records[records["record_id"] != "C"],
                             from_phase="lead", to_phase="opportunity", as_of=AS_OF)
    undated = records.copy()
    undated.loc[undated["record_id"] == "B", "closed_at"] = pd.NaT
    with pytest.raises(DataError, match="no `closed_at`.*'B'"):
        transition_durations(reached_at, undated, from_phase="lead", to_phase="opportunity",
                             as_of=AS_OF)
    odd = records.copy()
    odd.loc[odd["record_id"] == "A", "outcome"] = "Closed Won"
    with pytest.raises(DataError, match="Closed Won"):
        transition_durations(reached_at, odd, from_phase="lead", to_phase="opportunity",
                             as_of=AS_OF)


def test_transition_durations_feed_the_estimators():
    reached_at, records = _funnel()
    spells = transition_durations(reached_at, records, from_phase="lead", to_phase="opportunity",
                                  as_of=AS_OF)
    table = time_to_convert_summary(spells, by="channel")
    assert table["n"].sum() == len(spells) == 9
    assert table["censored"].sum() == 3  # C, G, H: open at the as-of date, none counted lost
    assert table["lost"].sum() == 1      # B


def test_converters_median_is_read_off_the_incidence_divided_by_its_plateau():
    # Segment B of the hand-worked case: converted at 1, 2, 4, lost at 3. CIF 0.25, 0.5, 0.5,
    # 0.75: plateau 0.75, half of it 0.375 is first reached at day 2 = the median of {1, 2, 4}.
    days, low, high = converter_quantile([1, 2, 3, 4], ["converted", "converted", "lost",
                                                        "converted"])
    assert days == 2
    assert low <= days <= high or np.isnan(high)
    # Segment C: lost at 1, 2, 3, converted at 4. The CIF never reaches 50% (cif_median is NaN),
    # yet the one converter took 4 days: the converters' median exists and is 4.
    assert converter_quantile([1, 2, 3, 4], ["lost", "lost", "lost", "converted"])[0] == 4
    assert np.isnan(converter_quantile([1, 2], ["lost", "censored"])[0])


def test_converters_median_is_not_the_km_median_with_lost_censored():
    # What was seen: "Offerte -> Order median 86 days among records that convert" where the
    # converters' median was 23.6 days. 60% lost fast, 40% convert after gamma(1.5) days with
    # median 25; KM with lost censored inflates, the converters' median does not.
    rng = np.random.default_rng(11)
    n = 4000
    converts = rng.random(n) < 0.4
    shape = 1.5
    from scipy.special import gammaincinv
    scale = 25.0 / gammaincinv(shape, 0.5)
    conv_days = rng.gamma(shape, scale, n)
    lost_days = rng.gamma(shape, 35.0 / gammaincinv(shape, 0.5), n)
    days = np.where(converts, conv_days, lost_days)
    event = np.where(converts, "converted", "lost")
    open_ = rng.random(n) < 0.05  # a few still open, censored part-way
    days = np.where(open_, days * rng.random(n), days)
    event = np.where(open_, "censored", event)
    out = time_to_convert_summary(pd.DataFrame({"duration_days": days, "event": event}))
    true = float(np.median(conv_days[converts]))
    assert abs(out.loc[0, "median_days"] / true - 1) < 0.1
    assert out.loc[0, "km_median_days"] > 1.5 * true   # the wrong answer stays visibly wrong
    assert out.loc[0, "converted_share"] == pytest.approx(0.4, abs=0.03)
