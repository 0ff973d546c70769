"""Issue 21 item 7: Simpson's paradox is reported from the decomposition: the rate effect and the
mix effect have opposite signs (the mix at least as large), the change within the segments is
demonstrated (CMH) and the mix shift is demonstrated, whether or not the overall change is
significant. Hand-made two-year funnels whose numbers were worked out by hand."""

from __future__ import annotations

import warnings

import pytest
from test_diagnosis import _two_periods

from toolkit.analysis.diagnosis import low_hanging_fruit


def _mixes(later: dict, earlier: dict | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fruit = low_hanging_fruit(_two_periods(later, earlier), draws=200)
    return fruit.mixes


def test_a_paradox_is_reported_when_the_overall_change_is_not_significant():
    # 2024: s1 160/200 (0.80), s2 40/200 (0.20): overall 0.50. 2025: s1 90/100 (0.90), s2
    # 90/300 (0.30): overall 0.45, -5 points, pooled p = 0.157 (not significant; the old rule
    # asked p < 0.01 after Holm and missed it). Rate effect: averaged weights (.375, .625) x
    # +0.10 each = +0.10; mix effect: averaged rates (.85, .25) x (-.25, +.25) = -0.15.
    # Within the segments (CMH) p = 0.0014, Holm over the two cohort definitions 0.0028; the
    # shares moved (chi-square p ~ 3e-13).
    mixes = _mixes({"s1": (100, 90), "s2": (300, 90)}, {"s1": (200, 160), "s2": (200, 40)})
    assert len(mixes) == 1
    m = mixes[0]
    assert (m.attribute, m.period_a, m.period_b) == ("channel", "2024", "2025")
    assert m.rate_effect == pytest.approx(0.10) and m.mix_effect == pytest.approx(-0.15)
    assert m.overall_test.p_value > 0.05
    assert m.stratified_test.p_value == pytest.approx(0.00142, rel=0.01)


def test_no_paradox_when_the_within_change_is_noise():
    # 2025: s1 145/180 (0.806), s2 45/220 (0.205): +0.6 and +0.5 points within (CMH p far
    # above 0.01), the shares moved from (.5, .5) to (.45, .55); overall 0.50 -> 0.475, pooled
    # p = 0.48: neither the within change nor an overall change is demonstrated.
    assert _mixes({"s1": (180, 145), "s2": (220, 45)}, {"s1": (200, 160), "s2": (200, 40)}) == []


def test_a_demonstrated_overall_change_made_by_the_mix_is_still_reported():
    # 2025: s1 81/100, s2 61/300 (0.81, 0.203): +1 and +0.3 points within (not demonstrated),
    # the shares moved from (.5, .5) to (.25, .75): overall 0.50 -> 0.355, pooled p < 0.001,
    # the mix effect (about -0.15) larger than the change: the fall is the mix's doing.
    mixes = _mixes({"s1": (100, 81), "s2": (300, 61)}, {"s1": (200, 160), "s2": (200, 40)})
    assert [m.attribute for m in mixes] == ["channel"]
    assert mixes[0].overall_test.p_value < 0.001


def test_no_paradox_when_the_mix_effect_is_smaller_than_the_rate_effect():
    # 2024: s1 160/200, s2 40/200. 2025: s1 60/100 (0.60), s2 10/100 (0.10): -20 and -10
    # points within (demonstrated), shares unchanged: mix 0, rate effect -0.15 = the overall
    # change. A plain fall, not a paradox.
    assert _mixes({"s1": (100, 60), "s2": (100, 10)}, {"s1": (200, 160), "s2": (200, 40)}) == []
