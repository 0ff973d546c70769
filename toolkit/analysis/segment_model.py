"""The model behind the segment scan that says when it cannot judge: a Firth-penalised logistic fit
on grouped counts, which attributes are functions of another, and which blocks of a design can be
told apart.

Why Firth (Firth 1993; Heinze & Schemper 2002) and not plain maximum likelihood or a ridge:

- real segments are small and often all-or-nothing (an owner with 12 deals, a blank sector whose
  closed deals were all lost). Maximum likelihood then has no finite answer (separation): the
  fit stops after its iterations with coefficients of +-20 and standard errors of 10^4, and its
  Wald p-values and odds ratios ("0,00 (0,00-0,00)", "inf") are read as if they meant something.
  Firth's penalty (the Jeffreys prior, half the log-determinant of the information) keeps every
  estimate finite, and removes the first-order small-sample bias, which is what 30 owners with
  small n need;
- it is invariant under a linear reparametrisation of the design (the Jeffreys prior is): which
  level is the reference and in which order the dummy columns stand (both of which follow the
  pseudonyms of a keyed owner column) cannot change a fitted rate, a contrast or a Wald test. A
  ridge penalty shrinks towards the reference level, so its answer depends on that choice;
- on large segments it agrees with maximum likelihood (the penalty is O(1) against an O(n)
  likelihood), so the scan's calibration on large companies is kept.

A fit that does not reach its optimum is reported as not converged and is never read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

__all__ = ["PenalisedFit", "penalised_logistic", "functions_of", "dependent_blocks"]

_MAX_STEP = 5.0  # largest change of a coefficient in one Newton step (as R's logistf)


@dataclass(frozen=True)
class PenalisedFit:
    """A Firth-penalised binomial fit: ``params``, their covariance ``cov`` (the inverse Fisher
    information at the estimate), whether it ``converged`` and in how many ``iterations``."""

    params: np.ndarray
    cov: np.ndarray
    converged: bool
    iterations: int


def _penalised(x: np.ndarray, n: np.ndarray, design: np.ndarray, beta: np.ndarray
               ) -> tuple[float, np.ndarray, np.ndarray] | None:
    """Penalised log-likelihood, modified score and inverse information at `beta` (None when the
    information is singular)."""
    eta = design @ beta
    p = expit(eta)
    w = n * p * (1.0 - p)
    info = design.T @ (design * w[:, None])
    try:
        chol = np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        return None
    inverse = np.linalg.inv(info)
    # hat values of the weighted design: h_i = w_i x_i' I^-1 x_i
    hat = w * np.einsum("ij,jk,ik->i", design, inverse, design)
    score = design.T @ (x - n * p + hat * (0.5 - p))
    loglik = float(np.sum(x * log_expit(eta) + (n - x) * log_expit(-eta)))
    return loglik + float(np.log(np.diag(chol)).sum()), score, inverse


def penalised_logistic(successes: np.ndarray, trials: np.ndarray, design: np.ndarray, *,
                       max_iter: int = 100, tol: float = 1e-8) -> PenalisedFit:
    r"""Firth-penalised logistic regression of ``successes`` out of ``trials`` per row of
    ``design``.

    Parameters
    ----------
    successes, trials : ndarray
        Per row (a cell of the grouped data) the successes and the trials.
    design : ndarray
        The design matrix, full column rank, intercept first.
    max_iter : int, default 100
        The most Newton steps.
    tol : float, default 1e-8
        Converged when the largest change of a coefficient is below it.

    Returns
    -------
    PenalisedFit
        ``params``, their covariance ``cov`` (the inverse Fisher information at the estimate),
        whether it ``converged`` and in how many ``iterations``.

    Notes
    -----
    Maximises :math:`\ell(\beta) + \tfrac12 \log|X^T W X|`, :math:`W = \mathrm{diag}(n_i p_i
    (1-p_i))`, by Newton steps on the modified score :math:`X^T (y - n p + h (1/2 - p))` with
    the hat values :math:`h` of the weighted design, halving a step that lowers the penalised
    likelihood (Heinze & Schemper 2002, for grouped counts). For a saturated 2x2 table the
    estimate is the log odds ratio with 1/2 added to each cell.
    """
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    design = np.asarray(design, dtype=float)
    beta = np.zeros(design.shape[1])
    overall = (x.sum() + 0.5) / (n.sum() + 1.0)
    beta[0] = np.log(overall / (1.0 - overall))
    state = _penalised(x, n, design, beta)
    if state is None:
        return PenalisedFit(beta, np.full((len(beta), len(beta)), np.nan), False, 0)
    previous = None
    for iteration in range(1, max_iter + 1):
        value, score, inverse = state
        step = inverse @ score
        largest = np.max(np.abs(step)) if len(step) else 0.0
        if largest > _MAX_STEP:
            step *= _MAX_STEP / largest
        if previous is not None and step @ previous < 0:
            # Fisher scoring leaves out how the hat values change: for a segment of one or two
            # records it overshoots and swings around the optimum, where the likelihood is flat
            # to machine precision and step halving cannot see it. A swing back is halved.
            step *= 0.5
        for _ in range(30):  # step halving: never accept a lower penalised likelihood
            trial = _penalised(x, n, design, beta + step)
            if trial is not None and trial[0] >= value - 1e-12 * abs(value):
                break
            step /= 2.0
        else:
            return PenalisedFit(beta, inverse, False, iteration)
        beta = beta + step
        previous = step
        state = trial
        if np.max(np.abs(step)) < tol:
            return PenalisedFit(beta, state[2], True, iteration)
    return PenalisedFit(beta, state[2], False, max_iter)


def functions_of(codes: Mapping[str, np.ndarray]) -> dict[str, set[str]]:
    """For each attribute, the other attributes it is a function of: ``team`` is a function of
    ``owner`` when every owner has one team (a lookup on owner), whatever the labels.

    Attributes with fewer than two values are left out (a constant is a function of anything
    and has nothing to judge). Two attributes that are functions of each other are the same
    grouping under two names.

    Parameters
    ----------
    codes : mapping of str to ndarray
        Per attribute its integer codes, one per record.

    Returns
    -------
    dict of str to set of str
        Attribute -> the attributes it is a function of.
    """
    sizes = {name: int(c.max()) + 1 if len(c) else 0 for name, c in codes.items()}
    kept = [name for name in codes if len(np.unique(codes[name])) >= 2]
    out: dict[str, set[str]] = {name: set() for name in codes}
    for child in kept:
        for parent in kept:
            if parent == child:
                continue
            pairs = codes[parent].astype(np.int64) * sizes[child] + codes[child]
            if len(np.unique(pairs)) == len(np.unique(codes[parent])):
                out[child].add(parent)
    return out


def dependent_blocks(design: np.ndarray, blocks: Sequence[slice]) -> list[int]:
    """The blocks of columns that the other columns can (partly) reproduce.

    Block b is dependent when rank(X) - rank(X without b) is less than its width. Rank is a
    property of the set of columns, so the answer does not depend on their order.

    Parameters
    ----------
    design : ndarray
        The design matrix X.
    blocks : sequence of slice
        The columns of each block.

    Returns
    -------
    list of int
        The indices of the dependent blocks.
    """
    rank = np.linalg.matrix_rank(design)
    if rank == design.shape[1]:
        return []
    out = []
    for b, cols in enumerate(blocks):
        width = cols.stop - cols.start
        if width == 0:
            continue
        rest = np.delete(design, np.arange(cols.start, cols.stop), axis=1)
        if rank - np.linalg.matrix_rank(rest) < width:
            out.append(b)
    return out
