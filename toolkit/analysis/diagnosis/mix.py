"""Mix against rate: a change in conversion between two periods split into a rate effect and a mix
effect, Simpson's paradox flagged; and the screen that finds such changes for the ranked list."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.analysis.diagnosis.common import codes_for, html_of, scan_attributes
from toolkit.analysis.diagnosis.segments import transition_list
from toolkit.base.docstrings import shared_docs
from toolkit.base.drawing import draw
from toolkit.base.exceptions import (
    ConfigError,
    DataError,
    OptionError,
    SmallSampleWarning,
    ToolkitError,
)
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import check_option
from toolkit.io.engagement import Engagement
from toolkit.measure.actions import in_period, parse_period
from toolkit.measure.cohorts import NAT, Cohorts
from toolkit.stats import adjust_p, cmh_test, two_rate_test


@dataclass(frozen=True, eq=False)
class MixRateResult:
    """A change in conversion between two periods, split into rate and mix effects.

    Attributes
    ----------
    attribute, from_phase, to_phase, period_a, period_b : what was compared.
    rate_a, rate_b : the overall cohort rates; ``total_change`` = rate_b - rate_a.
    rate_effect, mix_effect : the two components; they add up to ``total_change``.
    by_segment : per segment ``segment, n_a, successes_a, rate_a, weight_a, n_b, successes_b,
        rate_b, weight_b, rate_change, weight_change, rate_effect, mix_effect, contribution``.
    simpsons_paradox : True when the overall change has the opposite sign to the change of the
        segment rates (all of them, or the segments holding most of the records).
    headline : the finding in one plain sentence.
    overall_test : two-rate test of rate_a vs rate_b (pooled).
    stratified_test : Cochran-Mantel-Haenszel test of period a vs b within segments (None when it
        could not be formed).
    """

    attribute: str
    from_phase: str
    to_phase: str
    period_a: str
    period_b: str
    rate_a: float
    rate_b: float
    total_change: float
    rate_effect: float
    mix_effect: float
    by_segment: pd.DataFrame
    simpsons_paradox: bool
    headline: str
    overall_test: Any = None
    stratified_test: Any = None
    notes: tuple[str, ...] = field(default_factory=tuple)
    cohort: str = "reached"

    @property
    def summary(self) -> pd.DataFrame:
        """Components: total, rate, mix, with the periods and the tests' p-values."""
        p_overall = self.overall_test.p_value if self.overall_test is not None else np.nan
        p_strat = self.stratified_test.p_value if self.stratified_test is not None else np.nan
        return pd.DataFrame({
            "component": ["total", "rate", "mix"],
            "value": [self.total_change, self.rate_effect, self.mix_effect],
            "from_phase": self.from_phase, "to_phase": self.to_phase,
            "attribute": self.attribute, "period_a": self.period_a, "period_b": self.period_b,
            "p_value": [p_overall, p_strat, np.nan],
            "test": ["two-rate (pooled)", "Cochran-Mantel-Haenszel (within segments)", ""],
        })

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """The rate and mix effect per segment: ``toolkit.present.plotting.plot_mix_vs_rate``."""
        return draw("plot_mix_vs_rate", self.by_segment, ax=ax, **options)

    def _repr_html_(self) -> str:
        return html_of(f"Mix vs rate: {self.attribute}, {self.from_phase} -> {self.to_phase}, "
                     f"{self.period_a} vs {self.period_b}", [self.headline, *self.notes],
                     [self.summary, self.by_segment])

    def __repr__(self) -> str:
        return (f"<MixRateResult total={self.total_change:+.4f} rate={self.rate_effect:+.4f} "
                f"mix={self.mix_effect:+.4f} simpsons_paradox={self.simpsons_paradox}>")


def _mix(fun: Cohorts, attribute: str, i: int, j: int, period_a: str | int | pd.Period,
         period_b: str | int | pd.Period, *,
         start: np.ndarray | None = None, cohort: str = "reached") -> MixRateResult:
    pa, pb = parse_period(period_a, "period_a"), parse_period(period_b, "period_b")
    if pa.start_time <= pb.end_time and pb.start_time <= pa.end_time:
        raise OptionError(f"The periods `period_a` ({pa}) and `period_b` ({pb}) overlap; the two "
                          f"groups must be different records. Fix: pass non-overlapping periods "
                          f"such as '2024' and '2025'.")
    coded = codes_for(fun, attribute)
    if coded is None:
        raise ToolkitError("`value_band` needs deal values in `records.value`, but none are known.")
    codes, labels = coded
    start = fun.reached[:, i] if start is None else start
    frames = {}
    immature = {}
    has, mature, _ = fun.cohort(i, j)
    for tag, p in (("a", pa), ("b", pb)):
        within = in_period(start, p)
        n, x = fun.counts(i, j, codes, len(labels), within=within)
        frames[tag] = (n.astype(float), x.astype(float))
        immature[tag] = int((within & has & ~mature).sum())
    (na, xa), (nb, xb) = frames["a"], frames["b"]
    if na.sum() == 0 or nb.sum() == 0:
        empty = pa if na.sum() == 0 else pb
        raise DataError(f"No mature records reached {fun.keys[i]} in period {empty}, so there "
                        f"is nothing to compare", fix="choose periods with records whose "
                        f"{fun.window}-day window has closed before the as-of date "
                        f"{fun.as_of:%Y-%m-%d}")
    keep = (na > 0) | (nb > 0)
    seg = [label for label, k in zip(labels, keep, strict=True) if k]
    na, xa, nb, xb = na[keep], xa[keep], nb[keep], xb[keep]
    wa, wb = na / na.sum(), nb / nb.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        ra, rb = xa / na, xb / nb
    # A segment present in one period only: its rate there is undefined. Its weight there is 0,
    # so any value keeps the identity; taking the other period's rate puts its whole
    # contribution in the mix effect.
    ra_f = np.where(na > 0, ra, rb)
    rb_f = np.where(nb > 0, rb, ra)
    rate_eff = (wa + wb) / 2 * (rb_f - ra_f)
    mix_eff = (ra_f + rb_f) / 2 * (wb - wa)
    total_a, total_b = xa.sum() / na.sum(), xb.sum() / nb.sum()
    total = total_b - total_a
    by = pd.DataFrame({"segment": seg, "n_a": na.astype(int), "successes_a": xa.astype(int),
                       "rate_a": ra, "weight_a": wa, "n_b": nb.astype(int),
                       "successes_b": xb.astype(int), "rate_b": rb, "weight_b": wb,
                       "rate_change": rb - ra, "weight_change": wb - wa,
                       "rate_effect": rate_eff, "mix_effect": mix_eff,
                       "contribution": rate_eff + mix_eff})

    both = (na > 0) & (nb > 0)
    avg_w = ((wa + wb) / 2)[both]
    change = (rb - ra)[both]
    up, down = avg_w[change > 0].sum(), avg_w[change < 0].sum()
    compared = avg_w.sum()
    seg_sign = 1 if up > compared / 2 else -1 if down > compared / 2 else 0
    paradox = bool(seg_sign != 0 and total != 0 and np.sign(total) == -seg_sign)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        overall = two_rate_test(int(xb.sum()), int(nb.sum()), int(xa.sum()), int(na.sum()),
                                method="score")
    notes = []
    stratified = None
    table = pd.DataFrame({"segment": seg * 2, "period": [str(pb)] * len(seg) + [str(pa)] * len(seg),
                          "successes": np.concatenate([xb, xa]), "n": np.concatenate([nb, na])})
    table = table[table["n"] > 0]
    try:
        stratified = cmh_test(table, stratum="segment", group="period", successes="successes",
                              trials="n")
    except ConfigError:  # a wrong argument (OptionError) raises, never a note
        raise
    except (DataError, ValueError) as error:
        notes.append(Finding("mix_no_stratified_test", {"error": str(error)}))
    if immature["a"] or immature["b"]:
        notes.append(Finding("mix_immature", {"window": int(fun.window), "n_a": int(immature["a"]),
                                              "period_a": str(pa), "n_b": int(immature["b"]),
                                              "period_b": str(pb)}))

    values = {"from_phase": fun.keys[i], "to_phase": fun.keys[j], "by_creation": cohort == "created",
              "word": "rose" if total > 0 else "fell" if total < 0 else "stayed",
              "rate_a": float(total_a), "rate_b": float(total_b), "period_a": str(pa),
              "period_b": str(pb), "total": float(total), "rate_effect": float(rate_eff.sum()),
              "mix_effect": float(mix_eff.sum())}
    head = Finding("mix_decomposition", values)  # written by toolkit.present.findings
    if paradox:
        share = up if seg_sign > 0 else down
        mover = int(np.argmax(np.abs(wb - wa)))
        head = Finding("simpsons_paradox", {
            **values, "attribute": attribute, "share": float(share / compared),
            "direction": "better" if seg_sign > 0 else "worse", "segment": seg[mover],
            "share_a": float(wa[mover]), "share_b": float(wb[mover])})
    return MixRateResult(
        attribute=attribute, from_phase=fun.keys[i], to_phase=fun.keys[j], period_a=str(pa),
        period_b=str(pb), rate_a=float(total_a), rate_b=float(total_b), total_change=float(total),
        rate_effect=float(rate_eff.sum()), mix_effect=float(mix_eff.sum()), by_segment=by,
        simpsons_paradox=paradox, headline=head, overall_test=overall,
        stratified_test=stratified, notes=tuple(notes), cohort=cohort)


@shared_docs
def mix_vs_rate(engagement: Engagement, *, attribute: str, from_phase: str, to_phase: str,
                period_a: str | int | pd.Period, period_b: str | int | pd.Period,
                window_days: int | None = None, cohort: str = "reached") -> MixRateResult:
    """Split the change in a cohort conversion between two periods into a rate and a mix effect.

    Parameters
    ----------
    {shared.engagement}
    {shared.window_days}
    attribute
        The segment attribute whose mix may have moved (e.g. ``'action'``), or ``'value_band'``.
    from_phase, to_phase
        The transition.
    period_a, period_b
        The earlier and later period, as labels pandas reads as a period: ``'2024'`` or ``2024``
        (a year), ``'2024Q3'`` (a quarter), ``'2024-03'`` (a month), or ``pd.Period`` objects.
        Records belong to the period in which they reached ``from_phase``
        (``cohort='reached'``) or were created (``cohort='created'``: the creation cohort). The
        periods must not overlap.
    cohort : {'reached', 'created'}
        Which date puts a record in a period (``by`` names segment columns only).

    Returns
    -------
    MixRateResult

    Notes
    -----
    Kitagawa's shift-share decomposition with averaged weights. With segment weights
    :math:`w_{s}` (share of the period's mature records) and rates :math:`r_s` in periods a
    and b, the overall rate is :math:`R = \\sum_s w_s r_s` and

    .. math:: R_b - R_a = \\underbrace{\\sum_s \\tfrac{w_{a,s}+w_{b,s}}{2}(r_{b,s}-r_{a,s})}_
              {\\text{rate effect}} + \\underbrace{\\sum_s \\tfrac{r_{a,s}+r_{b,s}}{2}
              (w_{b,s}-w_{a,s})}_{\\text{mix effect}}

    exactly (expand the products). A segment present in one period only gets the other period's
    rate, so it contributes to the mix effect only. ``simpsons_paradox``: the segments with a
    rate in both periods are split by the sign of their rate change; if those going one way hold
    more than half of the averaged weight, and the overall change has the opposite sign, the
    paradox is flagged. The flag reads signs, not significance: look at ``overall_test`` (pooled
    two-rate score test, b vs a) and ``stratified_test`` (CMH, "do the periods differ within
    segments?") before telling the client. Do not use it with periods whose cohorts are still
    largely immature.
    """
    engagement.require_dates("Mix versus rate (by creation cohort)")
    fun = Cohorts(engagement, window_days)
    i, j = transition_list(fun, [(from_phase, to_phase)])[0]
    if attribute != "value_band":
        fun.attribute(attribute)
    check_option("cohort", cohort, ["reached", "created"])
    start = (fun.records["created_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
             if cohort == "created" else None)
    return _mix(fun, attribute, i, j, period_a, period_b, start=start, cohort=cohort)


def _by_year(fun: Cohorts, codes: np.ndarray, size: int, i: int, j: int,
             year_codes: np.ndarray, years: int) -> tuple[np.ndarray, np.ndarray]:
    """Mature n and successes per (segment code, year code): one count for every pair of years
    the screen compares (year code < 0: no year, left out)."""
    joint = np.where(year_codes >= 0, codes * years + year_codes, -1)
    n, x = fun.counts(i, j, joint, size * years)
    return n.reshape(size, years), x.reshape(size, years)


def _mix_screen(counted: tuple[np.ndarray, np.ndarray], size: int, a: int, b: int) -> bool:
    """Cheap first look (counts only): could this attribute show a Simpson's paradox between the
    years with codes a and b? `counted`: `_by_year` of the attribute."""
    na, xa = (v[:, a].astype(float) for v in counted)
    nb, xb = (v[:, b].astype(float) for v in counted)
    if na.sum() == 0 or nb.sum() == 0:
        return False
    both = (na > 0) & (nb > 0)
    wa, wb = na / na.sum(), nb / nb.sum()
    change = np.divide(xb, nb, out=np.zeros(size), where=nb > 0) - np.divide(
        xa, na, out=np.zeros(size), where=na > 0)
    total = xb.sum() / nb.sum() - xa.sum() / na.sum()
    rate_effect = float(((wa + wb) / 2 * change)[both].sum())
    # the overall change does not show the change within the segments (hidden or reversed)
    return rate_effect != 0 and np.sign(total) != np.sign(rate_effect)


def _years(start: np.ndarray) -> tuple[list[int], np.ndarray]:
    """The calendar years of int64-nanosecond times (sorted) and each time's position among them
    (-1: no time)."""
    has = start != NAT
    years = np.full(len(start), -1, dtype=np.int64)
    years[has] = start[has].view("datetime64[ns]").astype("datetime64[Y]").astype(np.int64) + 1970
    labels = np.unique(years[has]).tolist()
    return labels, np.where(has, np.searchsorted(np.asarray(labels), years), -1)


def mix_findings(fun: Cohorts, *, min_n: int, alpha: float
                  ) -> tuple[list[MixRateResult], list[MixRateResult]]:
    """Simpson's paradoxes between consecutive calendar years, by creation cohort and by period
    of reaching the phase, and those that hold.

    Every (step, pair of years, cohort definition) is screened on counts for every attribute;
    the full decomposition (:func:`mix_vs_rate`, with its CMH test) is made where the overall
    change does not show the rate effect (it hides or reverses it). A paradox holds (DESIGN.md
    "Mix") when the rate effect and the mix effect have opposite signs and the mix effect is at
    least as large (the overall change does not go the rate effect's way), the within-segment
    change is demonstrated in the rate effect's direction (CMH), and the mix shift itself is
    demonstrated (chi-square of the segment shares between the years): both p-values
    Holm-adjusted across the decompositions made, under `alpha`. Whether the overall change is
    significant does not matter: a paradox that cancels the change hides it. It also holds when
    a demonstrated overall change is the mix's doing (see :func:`_paradox_by_mix`), though the
    change within the segments is too small to demonstrate. Returns (the decompositions made,
    those that hold).
    """
    results: list[MixRateResult] = []
    names = list(scan_attributes(fun, None))
    created = fun.records["created_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    overall: dict[tuple, float] = {}
    by_year: dict[tuple, tuple] = {}  # the creation years serve every transition
    for i, j in fun.transitions:
        for cohort in ("created", "reached"):
            start = created if cohort == "created" else fun.reached[:, i]
            key = ("created",) if cohort == "created" else ("reached", i)
            if key not in by_year:
                by_year[key] = _years(start)
            labels, codes = by_year[key]
            if not labels:
                continue
            counted: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            n, x = fun.counts(i, j, codes, len(labels))
            usable = [k for k, m in enumerate(n) if m >= min_n]
            for a, b in zip(usable[:-1], usable[1:], strict=True):
                if labels[b] != labels[a] + 1:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", SmallSampleWarning)
                    test = two_rate_test(int(x[b]), int(n[b]), int(x[a]), int(n[a]),
                                         method="score")
                overall[(cohort, i, j, labels[a])] = test.p_value
                for name in names:
                    coded = codes_for(fun, name)
                    if coded is None:
                        continue
                    if name not in counted:  # every pair of years from one count
                        counted[name] = _by_year(fun, coded[0], len(coded[1]), i, j, codes,
                                                 len(labels))
                    if not _mix_screen(counted[name], len(coded[1]), a, b):
                        continue
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        results.append(_mix(fun, name, i, j, str(labels[a]), str(labels[b]),
                                            start=start, cohort=cohort))
    holds = {id(r) for r in _paradox_by_mix(fun, results, overall, alpha)}
    candidates = [r for r in results if _mix_masks_rate(r)]
    if candidates:
        within = adjust_p(np.array([r.stratified_test.p_value for r in candidates]),
                          method="holm")
        shift = adjust_p(np.array([_mix_shift_p(r.by_segment) for r in candidates]),
                         method="holm")
        holds |= {id(r) for r, p_w, p_s in zip(candidates, within, shift, strict=True)
                  if p_w < alpha and p_s < alpha}
    kept: dict[tuple, MixRateResult] = {}
    for r in results:
        if id(r) not in holds:
            continue
        # the same paradox seen by both cohort definitions is reported once
        slot = (r.attribute, r.from_phase, r.to_phase, r.period_a)
        if slot not in kept or r.overall_test.p_value < kept[slot].overall_test.p_value:
            kept[slot] = r
    return results, list(kept.values())


def _paradox_by_mix(fun: Cohorts, results: list[MixRateResult], overall: dict[tuple, float],
                    alpha: float) -> list[MixRateResult]:
    """The demonstrated overall change that the mix made: the overall change significant (Holm
    across every pair of years, step and cohort definition compared), the mix effect larger
    than it, the segments holding most records moved against it, and no significant change in
    its direction within the segments (CMH)."""
    if not overall:
        return []
    keys = list(overall)
    adjusted = dict(zip(keys, adjust_p(np.array([overall[k] for k in keys]), method="holm"),
                        strict=True))
    out = []
    for r in results:
        key = (r.cohort, fun.index(r.from_phase), fun.index(r.to_phase), int(r.period_a))
        if not (r.simpsons_paradox and adjusted[key] < alpha):
            continue
        if not abs(r.mix_effect) > abs(r.total_change):
            continue
        test = r.stratified_test
        if test is not None and test.estimate and test.estimate > 0:
            same_way = np.sign(np.log(test.estimate)) == np.sign(r.total_change)
            if same_way and test.p_value < alpha:
                continue
        out.append(r)
    return out


def _mix_masks_rate(r: MixRateResult) -> bool:
    """The mix effect opposes the rate effect and is at least as large, and the within-segment
    (CMH) change goes the rate effect's way: the Mantel-Haenszel odds ratio of b against a,
    above 1 when the segments converted better in b."""
    if r.stratified_test is None or not np.isfinite(r.stratified_test.p_value):
        return False
    if not (r.rate_effect * r.mix_effect < 0 and abs(r.mix_effect) >= abs(r.rate_effect)):
        return False
    by = r.by_segment
    total = (by["n_a"] + by["n_b"]).to_numpy(float)
    xa, xb = by["successes_a"].to_numpy(float), by["successes_b"].to_numpy(float)
    fa, fb = by["n_a"].to_numpy(float) - xa, by["n_b"].to_numpy(float) - xb
    up = float(np.sum(np.divide(xb * fa, total, out=np.zeros(len(total)), where=total > 0)))
    down = float(np.sum(np.divide(xa * fb, total, out=np.zeros(len(total)), where=total > 0)))
    return (up > down) if r.rate_effect > 0 else (up < down)


def _mix_shift_p(by_segment: pd.DataFrame) -> float:
    """Pearson chi-square p-value of 'the segments' shares are the same in both periods'."""
    counts = by_segment[["n_a", "n_b"]].to_numpy(float)
    counts = counts[counts.sum(axis=1) > 0]
    if len(counts) < 2:
        return 1.0
    return float(stats.chi2_contingency(counts, correction=False)[1])
