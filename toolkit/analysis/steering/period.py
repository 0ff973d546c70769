"""The period report: what management reads each period, headline, changes, alerts and the
scorecard."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from toolkit.analysis.steering.checks import (
    check_alpha,
    direction_known,
    is_rate_row,
    prepare_kpis,
    require_columns,
)
from toolkit.analysis.steering.scorecard import judgeable_of, scorecard
from toolkit.base.docstrings import shared_docs
from toolkit.base.drawing import draw
from toolkit.base.exceptions import DataError, OptionError
from toolkit.base.findings import Finding
from toolkit.base.vocabulary import (
    MIN_N,
    STATUS_ON_TARGET,
    STATUS_SIGNIFICANT,
    STATUS_UNJUDGED,
)

# Period report

@dataclass
class PeriodReport:
    """What management reads each period: headline, changes, alerts and the scorecard.

    Attributes
    ----------
    period
        The period reported on.
    previous_period
        The period it is compared with (per KPI the previous period with data; this is the
        most common one).
    what_changed
        ``kpi, previous_period, previous, period, current, change, significant, p_value,
        is_rate, higher_is_better`` per KPI: the month judged (the scorecard's, when one was
        passed) against the judgeable month before it.
    alerts
        The run-rule alerts that fired in ``period``.
    headline
        Plain-language sentences generated from the data.
    scorecard
        :func:`scorecard` for ``period`` (``None`` when ``higher_is_better`` is unknown).
    """

    period: Any
    previous_period: Any
    what_changed: pd.DataFrame
    alerts: pd.DataFrame
    headline: list[str]
    scorecard: pd.DataFrame | None = field(default=None)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per KPI: the change, its significance, the status and the number of alerts."""
        table = self.what_changed.copy()
        if self.scorecard is not None and len(self.scorecard):
            table = table.merge(self.scorecard[["kpi", "target", "status", "trend"]],
                                on="kpi", how="left")
        if "kpi" in self.alerts.columns:
            counts = self.alerts.groupby("kpi").size()
            table["alerts"] = table["kpi"].map(counts).fillna(0).astype(int)
        return table

    def plot(self, ax: Any = None, **options: Any) -> Any:
        """The period's scorecard: ``toolkit.present.plotting.plot_scorecard`` (a DataError
        when the report has no scorecard)."""
        if self.scorecard is None:
            raise DataError("this period report has no scorecard to draw (the KPIs do not say "
                            "whether higher is better)",
                            fix="pass `higher_is_better` to period_report")
        return draw("plot_scorecard", self.scorecard, ax=ax, **options)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(sentence)}</li>" for sentence in self.headline)
        parts = [f"<h4>Period report: {html.escape(str(self.period))}</h4>", f"<ul>{items}</ul>",
                 self.summary.to_html(index=False, float_format=lambda v: f"{v:.4g}")]
        if len(self.alerts):
            parts += ["<h5>Alerts</h5>",
                      self.alerts.to_html(index=False, float_format=lambda v: f"{v:.4g}")]
        return "\n".join(parts)

    def __repr__(self) -> str:
        lines = [f"PeriodReport({self.period})"] + [f"  - {s}" for s in self.headline]
        return "\n".join(lines)


@shared_docs
def period_report(
    kpis: pd.DataFrame,
    alerts: pd.DataFrame | None,
    *,
    period_label: Any = None,
    alpha: float = 0.05,
    higher_is_better: bool | Mapping[str, bool] | None = None,
    min_n: int = MIN_N,
    card: pd.DataFrame | None = None,
) -> PeriodReport:
    """The periodic steering report: what changed, which alerts fired, in plain sentences.

    Parameters
    ----------
    {shared.kpi_frame}
    alerts
        Alerts from :func:`run_rules` (with a ``kpi`` column when several KPIs are charted), or
        ``None``.
    period_label
        The label of the period to report on (a value of the ``period`` column); default the
        latest period in ``kpis``.
    alpha
        Significance level for "significant" changes.
    higher_is_better
        As in :func:`scorecard`; when neither it nor the column is available the report leaves
        the scorecard out.
    min_n
        Fewest trials for a period to be judged (as in :func:`scorecard`): a change is tested
        only between two judgeable periods (mature, at least ``min_n`` trials).
    card
        The scorecard the report stands beside (:func:`scorecard`): each KPI's change is then
        measured at the month the scorecard judged it (never a month it rejected), and the
        headline counts its statuses. Default: every KPI at ``period_label``.

    Returns
    -------
    PeriodReport

    Notes
    -----
    Change from the previous period with data, per KPI. For rates with counts in both periods
    the change is tested with the two-sided pooled score (z) test for two proportions, or
    Fisher's exact test when an expected count is below 5. For other KPIs the standard errors
    are read back from the 95% intervals, se = (ci_high - ci_low)/(2·1.96), and
    z = change/sqrt(se1² + se2²); this assumes roughly symmetric intervals and is missing when
    an interval is. Reporting every KPI every period is many tests: expect about one in twenty
    unchanged KPIs to show a "significant" change by chance, and look at the control chart and
    the trend before acting on one.
    """
    check_alpha(alpha)
    know_direction = direction_known(kpis, higher_is_better)
    frame = prepare_kpis(kpis, higher_is_better=higher_is_better if know_direction else True,
                          argument="kpis")
    if len(frame) == 0:
        raise DataError("the KPI frame has no rows", fix="pass the output of compute_kpis")
    if period_label is None:
        period_label = frame["period"].max()
    elif not (frame["period"] == period_label).any():
        raise OptionError(
            f"The value for `period_label` must be one of the periods in `kpis`, but {period_label!r} was "
            "passed", fix=f"use e.g. {frame['period'].max()!r} (the latest)")

    changes = []
    previous_periods = []
    for kpi, history in frame.groupby("kpi", sort=False):
        history = history.sort_values("period", kind="stable").reset_index(drop=True)
        month = period_label
        if card is not None:
            judged_in = card.loc[card["kpi"] == kpi, "period"]
            if not len(judged_in):
                continue
            month = judged_in.iloc[0]
        matches = np.flatnonzero((history["period"] == month).to_numpy())
        if len(matches) == 0:
            continue
        position = int(matches[0])
        current = history.iloc[position]
        earlier = history.iloc[:position]
        # a change is only claimed between judgeable periods (mature, n >= min_n)
        earlier = earlier[judgeable_of(earlier, min_n)]
        previous = earlier.iloc[-1] if len(earlier) else None
        if previous is not None:
            previous_periods.append(previous["period"])
        judged = bool(judgeable_of(history.iloc[[position]], min_n).iloc[0])
        p_value = (_change_p(previous, current) if previous is not None and judged
                   else float("nan"))
        changes.append({
            "kpi": kpi,
            "previous_period": previous["period"] if previous is not None else None,
            "previous": previous["value"] if previous is not None else np.nan,
            "period": current["period"],
            "current": current["value"],
            "change": current["value"] - previous["value"] if previous is not None else np.nan,
            "significant": (pd.NA if math.isnan(p_value) else bool(p_value < alpha)),
            "p_value": p_value,
            "is_rate": is_rate_row(current),
            "higher_is_better": bool(current["higher_is_better"]),
        })
    what_changed = pd.DataFrame(changes, columns=[
        "kpi", "previous_period", "previous", "period", "current", "change", "significant",
        "p_value", "is_rate", "higher_is_better"])
    what_changed["significant"] = what_changed["significant"].astype("boolean")

    if alerts is None:
        fired = pd.DataFrame(columns=["period", "rule", "description", "direction", "severity"])
    else:
        require_columns(alerts, ["period", "rule", "description"], argument="alerts")
        fired = alerts[alerts["period"] == period_label].reset_index(drop=True)

    if card is None:
        card = (scorecard(frame, alpha=alpha, period_label=period_label, min_n=min_n)
                if know_direction else None)
    previous_period = (pd.Series(previous_periods).mode().iloc[0] if previous_periods else None)
    # the sentences name KPIs by their labels: a reader does not know the keys
    labels = (dict(zip(frame["kpi"].astype(str), frame["label"].astype(str), strict=True))
              if "label" in frame else {})
    headline = _headline(period_label, what_changed, fired, card, labels)
    return PeriodReport(
        period=period_label,
        previous_period=previous_period,
        what_changed=what_changed,
        alerts=fired,
        headline=headline,
        scorecard=card,
    )


def _change_p(previous: pd.Series, current: pd.Series) -> float:
    if pd.isna(previous["value"]) or pd.isna(current["value"]):
        return float("nan")
    if is_rate_row(previous) and is_rate_row(current):
        return _two_rate_p(previous["successes"], previous["n"],
                           current["successes"], current["n"])
    halfwidths = []
    for row in (previous, current):
        if pd.isna(row["ci_low"]) or pd.isna(row["ci_high"]):
            return float("nan")
        halfwidths.append((row["ci_high"] - row["ci_low"]) / (2 * stats.norm.ppf(0.975)))
    se = math.hypot(*halfwidths)
    change = current["value"] - previous["value"]
    if se == 0:
        return 1.0 if change == 0 else 0.0
    return float(2 * stats.norm.sf(abs(change) / se))


def _two_rate_p(x1: float, n1: float, x2: float, n2: float) -> float:
    """Two-sided p-value for p1 = p2: pooled score z test, Fisher's exact for small counts."""
    x1, n1, x2, n2 = (int(round(v)) for v in (x1, n1, x2, n2))
    pooled = (x1 + x2) / (n1 + n2)
    expected = [n * pooled for n in (n1, n2)] + [n * (1 - pooled) for n in (n1, n2)]
    if min(expected) < 5:
        return float(stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (x2 / n2 - x1 / n1) / se
    return float(2 * stats.norm.sf(abs(z)))


def _headline(period: Any, changes: pd.DataFrame, fired: pd.DataFrame,
              card: pd.DataFrame | None, labels: Mapping[str, str]) -> list[str]:
    """The period's headline as findings (``toolkit.present.findings`` writes them): the KPIs on
    target, each significant change, the quiet KPIs, each alert, or nothing to report."""
    sentences: list[str] = []
    if card is not None and len(card):
        with_target = card[~card["status_code"].isin(STATUS_UNJUDGED)]
        if len(with_target):
            on = int(with_target["status_code"].isin(STATUS_ON_TARGET).sum())
            off = with_target[with_target["status_code"].isin(STATUS_SIGNIFICANT)]
            keys = [str(k) for k in off["kpi"].astype(str)]
            sentences.append(Finding("period_on_target", {
                "period": str(period), "on": on, "n": len(with_target),
                "off": [labels.get(k, k) for k in keys], "off_kpis": keys}))
    significant = changes[changes["significant"].fillna(False).astype(bool)]
    significant = significant.sort_values("p_value", kind="stable")
    for _, row in significant.iterrows():
        sentences.append(_change_sentence(row, labels))
    tested = int(changes["significant"].notna().sum())
    quiet = tested - len(significant)
    if tested and quiet:
        sentences.append(Finding("period_quiet", {"count": quiet,
                                                  "others": bool(len(significant))}))
    for _, alert in fired.iterrows():
        sentences.append(Finding("period_alert", {
            "severity": str(alert.get("severity", "alert")),
            "kpi": str(alert["kpi"]) if "kpi" in fired.columns else None,
            "description": str(alert["description"])}))
    if not sentences:
        sentences.append(Finding("period_nothing", {"period": str(period)}))
    return sentences


def _change_sentence(row: pd.Series, labels: Mapping[str, str]) -> str:
    """A significant change of a KPI between two periods: written from its values
    (``toolkit.present.findings``)."""
    return Finding("kpi_change", {
        "kpi": labels.get(str(row["kpi"]), row["kpi"]), "kpi_key": str(row["kpi"]),
        "previous": float(row["previous"]),
        "current": float(row["current"]), "is_rate": bool(row["is_rate"]),
        "higher_is_better": bool(row["higher_is_better"]), "p_value": float(row["p_value"])})


