"""The Bayesian comparison of two variants: the probability that B converts better than A."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import integrate, stats

from toolkit.base.exceptions import OptionError
from toolkit.base.vocabulary import Seed, random_generator
from toolkit.stats.checks import check_probability, scalar_counts

__all__ = [
    "prob_b_beats_a",
    "BayesComparison",
]


# ------------------------------------------------------------------------------ Bayesian A/B
@dataclass(frozen=True, eq=False, repr=False)
class BayesComparison:
    """Posterior comparison of two rates under independent beta priors.

    Attributes
    ----------
    prob_b_beats_a
        Monte Carlo estimate of :math:`P(p_B > p_A \\mid data)`.
    prob_b_beats_a_exact
        The same probability by numerical integration.
    mc_standard_error
        Monte Carlo standard error of ``prob_b_beats_a``.
    expected_uplift, uplift_ci_low, uplift_ci_high
        Posterior mean of :math:`p_B - p_A` (exact) and its equal-tailed credible interval
        (from the draws).
    expected_relative_uplift, relative_uplift_ci_low, relative_uplift_ci_high
        The same for :math:`p_B / p_A - 1` (from the draws).
    posterior_a, posterior_b
        Beta parameters (alpha, beta) of each posterior.
    draws, seed, credibility
        How the Monte Carlo part was run.
    """

    prob_b_beats_a: float
    prob_b_beats_a_exact: float
    mc_standard_error: float
    expected_uplift: float
    uplift_ci_low: float
    uplift_ci_high: float
    expected_relative_uplift: float
    relative_uplift_ci_low: float
    relative_uplift_ci_high: float
    posterior_a: tuple[float, float]
    posterior_b: tuple[float, float]
    draws: int
    seed: Any
    credibility: float

    @property
    def summary(self) -> pd.DataFrame:
        """One-row tidy frame of the comparison."""
        return pd.DataFrame([{
            "prob_b_beats_a": self.prob_b_beats_a,
            "prob_b_beats_a_exact": self.prob_b_beats_a_exact,
            "mc_standard_error": self.mc_standard_error,
            "expected_uplift": self.expected_uplift,
            "uplift_ci_low": self.uplift_ci_low,
            "uplift_ci_high": self.uplift_ci_high,
            "expected_relative_uplift": self.expected_relative_uplift,
            "relative_uplift_ci_low": self.relative_uplift_ci_low,
            "relative_uplift_ci_high": self.relative_uplift_ci_high,
            "draws": self.draws,
        }])

    def _repr_html_(self) -> str:
        return ("<p><b>Bayesian comparison of two rates</b> (beta-binomial)</p>\n"
                + self.summary.to_html(index=False))

    def __repr__(self) -> str:
        return (f"<BayesComparison P(B > A)={self.prob_b_beats_a:.4f} "
                f"(exact {self.prob_b_beats_a_exact:.4f}), uplift={self.expected_uplift:.4g} "
                f"[{self.uplift_ci_low:.4g}, {self.uplift_ci_high:.4g}]>")


def _prob_b_beats_a_exact(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    dist_a, dist_b = stats.beta(a_a, b_a), stats.beta(a_b, b_b)
    # Integrate only where the posteriors have mass: with thousands of trials they are needles
    # that an integration over all of [0, 1] can step over.
    tail = 1e-15
    lower = max(0.0, min(dist_a.ppf(tail), dist_b.ppf(tail)))
    upper = min(1.0, max(dist_a.isf(tail), dist_b.isf(tail)))
    points = sorted({float(np.clip(v, lower, upper)) for v in (dist_a.mean(), dist_b.mean())})
    value, _ = integrate.quad(lambda t: dist_b.pdf(t) * dist_a.cdf(t), lower, upper,
                              points=points, limit=500, epsabs=1e-13, epsrel=1e-11)
    return float(np.clip(value, 0.0, 1.0))


def prob_b_beats_a(x_a: int, n_a: int, x_b: int, n_b: int, *,
                   prior: tuple[float, float] = (1.0, 1.0), draws: int = 200_000,
                   seed: Seed, credibility: float = 0.95
                   ) -> BayesComparison:
    """Posterior probability that variant B converts better than variant A, with the uplift.

    Parameters
    ----------
    x_a, n_a, x_b, n_b
        Successes and trials of variant A (the current way) and variant B (the change).
    prior
        Beta(alpha, beta) prior for each rate; (1, 1) is uniform. Use an informative prior only
        when it is agreed before seeing the data.
    draws
        Monte Carlo draws from each posterior.
    seed
        A whole number >= 0, a ``SeedSequence`` or a ``Generator`` (the toolkit's one seed rule,
        ``toolkit.base.vocabulary.seed_sequence``): required, so results reproduce.
    credibility
        Level of the equal-tailed credible intervals of the uplift.

    Returns
    -------
    BayesComparison

    Notes
    -----
    Posteriors :math:`p_A \\sim \\mathrm{Beta}(\\alpha + x_A, \\beta + n_A - x_A)` and likewise
    for B. :math:`P(p_B > p_A) = \\int_0^1 f_B(t) F_A(t)\\,dt` is computed exactly with
    ``scipy.integrate.quad`` and by Monte Carlo (standard error
    :math:`\\sqrt{P(1-P)/\\text{draws}}`, about 0.001 at the default). The expected uplift is
    :math:`E[p_B] - E[p_A]`; its credible interval and the relative uplift come from the draws.
    "P(B beats A) = 0.97" is not a p-value and says nothing about *how much* better: read the
    uplift interval too. Do not stop an experiment the first time the probability crosses a
    threshold; decide the sample size in advance (:func:`power_two_rates`).
    """
    # No trials is allowed here: the posterior is then the prior.
    a_count, a_trials = scalar_counts(x_a, n_a, ("x_a", "n_a"), minimum_trials=0)
    b_count, b_trials = scalar_counts(x_b, n_b, ("x_b", "n_b"), minimum_trials=0)
    try:
        alpha0, beta0 = (float(v) for v in prior)
    except (TypeError, ValueError) as error:
        raise OptionError(f"The value for `prior` must be two positive numbers (alpha, beta), "
                           f"but {prior!r} was passed.") from error
    if not (alpha0 > 0 and beta0 > 0 and math.isfinite(alpha0) and math.isfinite(beta0)):
        raise OptionError(f"The value for `prior` must be two positive numbers (alpha, beta), "
                           f"but {prior!r} was passed.")
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1000:
        raise OptionError(f"The value for `draws` must be a whole number >= 1000, but {draws!r} "
                           "was passed.")
    rng = random_generator(seed)
    level = check_probability("credibility", credibility)
    post_a = (alpha0 + a_count, beta0 + a_trials - a_count)
    post_b = (alpha0 + b_count, beta0 + b_trials - b_count)
    sample_a = rng.beta(*post_a, size=int(draws))
    sample_b = rng.beta(*post_b, size=int(draws))
    wins = float(np.mean(sample_b > sample_a))
    uplift = sample_b - sample_a
    relative = sample_b / sample_a - 1.0
    tails = [(1.0 - level) / 2.0, 1.0 - (1.0 - level) / 2.0]
    u_low, u_high = np.quantile(uplift, tails)
    r_low, r_high = np.quantile(relative, tails)
    mean_a = post_a[0] / (post_a[0] + post_a[1])
    mean_b = post_b[0] / (post_b[0] + post_b[1])
    return BayesComparison(
        prob_b_beats_a=wins,
        prob_b_beats_a_exact=_prob_b_beats_a_exact(*post_a, *post_b),
        mc_standard_error=math.sqrt(max(wins * (1.0 - wins), 0.0) / draws),
        expected_uplift=mean_b - mean_a,
        uplift_ci_low=float(u_low), uplift_ci_high=float(u_high),
        expected_relative_uplift=float(np.mean(relative)),
        relative_uplift_ci_low=float(r_low), relative_uplift_ci_high=float(r_high),
        posterior_a=post_a, posterior_b=post_b, draws=int(draws), seed=seed, credibility=level,
    )
