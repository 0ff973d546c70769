"""Coverage of the 95% rate intervals, computed exactly (no simulation).

For a true rate p and n trials the coverage of an interval method is
sum over x = 0..n of P(X = x | n, p) * [low(x) <= p <= high(x)], X ~ Binomial(n, p):
deterministic, exact and fast. Brown, Cai & DasGupta (2001, Statistical Science 16:101-133)
plot exactly this quantity; their conclusions are what the assertions check.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from scipy import stats as sps

from toolkit import stats as S

N_GRID = (20, 50, 100, 300, 1000)
P_GRID = np.round(np.linspace(0.05, 0.50, 10), 2)


def coverage(method: str, n: int, p: float, confidence: float = 0.95) -> float:
    x = np.arange(n + 1)
    low, high = S.rate_ci(x, n, method=method, confidence=confidence)
    covered = (low <= p) & (p <= high)
    return float(sps.binom.pmf(x, n, p)[covered].sum())


def coverage_grid(method: str) -> np.ndarray:
    return np.array([[coverage(method, n, p) for p in P_GRID] for n in N_GRID])


@pytest.fixture(scope="module")
def grids() -> dict[str, np.ndarray]:
    start = time.perf_counter()
    result = {method: coverage_grid(method) for method in S.RATE_CI_METHODS}
    result["seconds"] = np.array(time.perf_counter() - start)
    return result


def test_coverage_helper_on_a_hand_case():
    # n = 1, p = 0.5 (hand): Wald gives [0, 0] and [1, 1], so it never covers 0.5; Wilson gives
    # [0, 0.7935] and [0.2065, 1], which both cover it.
    assert coverage("wald", 1, 0.5) == 0.0
    assert coverage("wilson", 1, 0.5) == pytest.approx(1.0)


def test_wilson_covers_95_percent_on_average(grids):
    mean = grids["wilson"].mean()
    assert 0.94 <= mean <= 0.96, mean


def test_wilson_never_drops_far_below_nominal_on_the_grid(grids):
    # Brown, Cai & DasGupta (2001): Wilson's coverage oscillates around 95% with occasional
    # dips near p = 0.05 for small n; on this grid it stays above 92%.
    assert grids["wilson"].min() >= 0.92


def test_clopper_pearson_never_covers_less_than_nominal(grids):
    # The "exact" interval guarantees coverage >= 95% for every n and p, hence its width.
    assert grids["clopper-pearson"].min() >= 0.95 - 1e-12
    assert grids["clopper-pearson"].mean() > grids["wilson"].mean()


def test_wald_under_covers(grids):
    # The reason the Wald interval is not the default: mean coverage well below 95% and single
    # points (n = 20, p = 0.05) far below it.
    assert grids["wald"].mean() < 0.94
    assert grids["wald"].min() < 0.70
    assert grids["wald"].mean() < grids["wilson"].mean()


@pytest.mark.parametrize("method", ["jeffreys", "agresti-coull"])
def test_recommended_alternatives_are_close_to_nominal(grids, method):
    assert 0.94 <= grids[method].mean() <= 0.96


def test_whole_grid_is_fast(grids):
    assert float(grids["seconds"]) < 5.0
