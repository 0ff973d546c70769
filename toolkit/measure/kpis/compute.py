"""The values of the KPIs: one tidy frame for every KPI, segment and period, each kind computed by
its own function, and n/a with a reason code where the data cannot measure it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats as sps

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError, ToolkitError
from toolkit.base.vocabulary import MISSING, Seed, seed_sequence, status_codes, status_prose
from toolkit.io.engagement import Engagement
from toolkit.measure.actions import action_yield
from toolkit.measure.cohorts import reached_phases
from toolkit.measure.funnel import (
    NEEDS_DATES,
    cohort_conversion,
    period_conversion,
    period_label,
    reached_at,
    reached_conversion,
    segment_columns,
    segment_values,
)
from toolkit.measure.funnel import win_rate as _win_rate
from toolkit.measure.kpis.definitions import KPI, KPI_COLUMNS, UNITS, kpis_from_config, target_status_codes
from toolkit.measure.survival import (
    converter_quantile,
    cumulative_incidence,
    transition_durations,
)


@shared_docs
def compute_kpis(engagement: Engagement, *, kpis: Sequence[KPI] | None = None,
                 by: str | Sequence[str] | None = None, period: str | None = None,
                 seed: Seed = 0) -> pd.DataFrame:
    """Compute KPIs into one tidy frame.

    Parameters
    ----------
    {shared.engagement}
    kpis : list of KPI, optional
        Default: the engagement's declared KPIs, or the set derived from the phase model.
    by : str or list of str, optional
        Segment attributes to split every KPI by (segment columns appear after `kind`).
    period : {'month', 'quarter', 'year', 'week'}, optional
        Split by cohort period; None gives one value per KPI over all (mature) data.
    {shared.seed}
        Here: the Monte Carlo interval of sales velocity (the only random part).

    Returns
    -------
    DataFrame with columns `kpi, label, kind, unit, <segment columns>, attribute, segment, period,
    n, successes, value, ci_low, ci_high, target, higher_is_better, status_vs_target,
    status_code, immature_n, open_n, owner, from_phase, to_phase`. A KPI per segment of one
    attribute (the cost per action) is long: `attribute` names it (`action`), `segment` the value.
    Rates are shares (0-1). Intervals are 95%: Wilson for rates, exact Poisson for volumes,
    Kaplan-Meier (log transform) for durations, t for mean deal size.
    A lead list without dates (`dated: false`) gets its conversions as shares of the records that
    reached the from-phase (no cohort window: period `NO_WINDOW`), its win rate and values; every
    KPI that needs dates (volume per month, durations, sales velocity, coverage, cost per
    period, the censoring-aware win rate) gets one row with period `NEEDS_DATES` and no value,
    and `period=` raises `NeedsDates`.
    Every KPI has at least one row: when there is nothing to measure (no record reached the
    phase, no deal is won, every record is still inside its window) the row has n = 0, no value
    and `status_vs_target` 'no data'. Won and pipeline value are a real 0 when records exist but
    none is won or open.
    """
    if period is not None:
        engagement.require_dates(f"KPIs by {period}")
    kpis = list(kpis) if kpis is not None else kpis_from_config(engagement)
    seg = segment_columns(engagement, by)
    context = _Context(engagement, seed=seed)
    compute = _COMPUTE if engagement.dated else _COMPUTE_WITHOUT_DATES
    frames = []
    for kpi in kpis:
        # a lead list without dates says "needs dates" first: that is what it lacks most
        reason = lacking(engagement, kpi) if compute[kpi.kind] is not _needs_dates else None
        frame = (_not_measured_row(kpi, seg, period, context, reason) if reason
                 else compute[kpi.kind](context, kpi, seg, period))
        if frame.empty:
            # Nobody reached the phase (or no record is won, open, ...): the KPI still gets its
            # row, with n = 0 and no value, so a reader sees "no data" instead of a missing line.
            frame = _no_data_row(kpi, seg, period, context)
        frame["kpi"], frame["label"], frame["kind"], frame["unit"] = (
            kpi.name, kpi.label or kpi.name, kpi.kind, _unit(kpi, engagement))
        frame["target"] = np.nan if kpi.target is None else kpi.target
        frame["higher_is_better"] = kpi.higher_is_better
        if "owner" in seg:  # the deal owner segment; `owner` of a KPI is its responsible function
            frame = frame.rename(columns={"owner": "_segment_owner"})
        frame["owner"] = kpi.owner
        frame["from_phase"] = kpi.from_phase or kpi.phase
        frame["to_phase"] = kpi.to_phase
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=KPI_COLUMNS[:4] + seg
                            + [c for c in KPI_COLUMNS[4:] if c not in seg])
    out = pd.concat([f.astype({c: float for c in _COUNTS if c in f}) for f in frames],
                    ignore_index=True)
    for col in ("n", "successes", "immature_n", "open_n", "ci_low", "ci_high", "value", "attribute",
                "segment", "missing_reason"):
        if col not in out:
            out[col] = np.nan
    codes = target_status_codes(out["value"], out["ci_low"], out["ci_high"], out["target"],
                                out["higher_is_better"])
    out["status_vs_target"] = status_prose(codes)
    out["status_code"] = status_codes(codes, index=out.index)
    columns = KPI_COLUMNS[:4] + seg + [c for c in KPI_COLUMNS[4:] if c not in seg]
    if "owner" in seg:
        # `--by owner` splits by the deal owner: the KPI's responsible function is `kpi_owner`.
        out = out.rename(columns={"owner": "kpi_owner", "_segment_owner": "owner"})
        columns.insert(columns.index("from_phase"), "kpi_owner")
    return out[columns]


_COUNTS = ("n", "successes", "immature_n", "open_n")


def _unit(kpi: KPI, engagement: Engagement) -> str:
    """The KPI's unit, a money unit in the engagement's `currency` (the defaults say EUR)."""
    currency = getattr(engagement.config, "currency", None) or "EUR"
    if kpi.unit == UNITS[kpi.kind] and "EUR" in kpi.unit:
        return kpi.unit.replace("EUR", currency)
    return kpi.unit


def has_time_of_day(engagement: Engagement) -> bool:
    """Whether any phase entry is stamped with a time of day (date-only stamps are midnight)."""
    at = engagement.events["entered_at"]
    return bool((at.notna() & (at != at.dt.normalize())).any())


@shared_docs
def lacking(engagement: Engagement, kpi: KPI) -> str | None:
    """The problem code of what `kpi` needs (:attr:`KPI.needs`) and the engagement's data lack
    as a whole, or None.

    (A step whose stamps are all one instant is found per transition, where the durations are
    measured.)

    Parameters
    ----------
    {shared.engagement}
    kpi : KPI
        The KPI.

    Returns
    -------
    str or None
        ``no_amounts``, ``no_lost_records``, ... (``toolkit.measure.kpis.NEEDS``); None when the
        data hold what it needs.

    Notes
    -----
    Amounts are lacking when no record has a value. Lost records are lacking when no record is
    lost, or when a snapshot places every lost record at its entry phase (no `lost_at_stage`)
    and the KPI counts from a later phase none of them reached: its win rate would be 100% by
    construction.
    """
    records = engagement.records
    if records.empty:  # no record at all: "no data" says it first
        return None
    if "amounts" in kpi.needs and not records["value"].notna().any():
        return "no_amounts"
    if "lost_records" in kpi.needs:
        lost = records["outcome"].eq("lost")
        if not lost.any():
            # won deals but never a lost one: the export cannot hold them (while nothing is
            # closed yet, "no closed deal yet" is the reason, said where it is computed)
            return "no_lost_records" if records["outcome"].eq("won").any() else None
        phase = kpi.from_phase if kpi.kind == "win_rate" else kpi.phase
        if phase is not None and not engagement.timing_known:
            reached = reached_at(engagement)[phase].notna()
            ids = records.loc[lost.to_numpy(), "record_id"]
            if not reached.reindex(ids).fillna(False).any():
                return "no_lost_records"
    return None


def _not_measured_row(kpi: KPI, seg: list[str], period: str | None, ctx: _Context,
                      reason: str) -> pd.DataFrame:
    """The one row of a KPI the data cannot measure: no value, no n (no record was measured,
    and "0 records" beside 40 won deals would read as none), and the reason's code."""
    row = _no_data_row(kpi, seg, period, ctx).assign(n=np.nan, missing_reason=reason)
    for c in seg:  # the row stands for every segment, none of them missing
        row[c] = "(all)"
    return row


def _no_data_row(kpi: KPI, seg: list[str], period: str | None, ctx: _Context) -> pd.DataFrame:
    """The one row of a KPI that has nothing to measure: n = 0, no value, no interval."""
    if kpi.kind in ("value", "sales_velocity", "pipeline_coverage") and (
            kpi.kind != "value" or kpi.measure == "pipeline_value"):
        label = ctx.at_label
    elif kpi.kind == "volume" and period is None:
        label = "all (per month)"
    else:
        label = "all"
    row: dict[str, object] = {c: MISSING for c in seg}
    row.update({"period": label, "n": 0, "value": np.nan, "ci_low": np.nan, "ci_high": np.nan})
    if kpi.kind in ("conversion", "cumulative_conversion", "win_rate", "duration",
                    "sales_velocity"):
        row["successes"] = 0
    if kpi.kind in ("conversion", "cumulative_conversion"):
        row["immature_n"] = 0
    return pd.DataFrame([row])


class _Context:
    """Shared, computed-once inputs of the KPI functions."""

    def __init__(self, engagement: Engagement, *, seed: Seed = 0) -> None:
        self.engagement = engagement
        self.seed = seed_sequence(seed)
        self.model = engagement.phase_model

    @cached_property
    def as_of(self) -> pd.Timestamp:
        return self.engagement.as_of

    @property
    def at_label(self) -> str:
        """The period label of a stock (open pipeline): as of the measurement date, or 'at
        export' for a lead list without dates."""
        if not self.engagement.dated and self.engagement.config.as_of is None:
            return "at export"
        return "as of " + self.as_of.strftime("%Y-%m-%d")

    @property
    def reached(self) -> pd.DataFrame:
        return reached_at(self.engagement)  # cached on the engagement

    @cached_property
    def timed(self) -> bool:
        """Whether the stamps carry a time of day (so 0 days is the same instant, not the same
        date)."""
        return has_time_of_day(self.engagement)


def _rate_rows(frame: pd.DataFrame, seg: list[str]) -> pd.DataFrame:
    cols = seg + ["period", "n", "successes", "rate", "ci_low", "ci_high"]
    cols += [c for c in ("immature_n", "open") if c in frame]
    out = frame[cols].rename(columns={"rate": "value", "open": "open_n"})
    return out


def _conversion(ctx: _Context, kpi: KPI, seg: list[str], period: str | None) -> pd.DataFrame:
    if kpi.method == "period":
        frame = period_conversion(ctx.engagement, from_phase=kpi.from_phase,
                                  to_phase=kpi.to_phase, period=period or "all", by=seg or None)
    else:
        frame = cohort_conversion(ctx.engagement, from_phase=kpi.from_phase, to_phase=kpi.to_phase,
                                  window_days=kpi.window_days, period=period or "all",
                                  by=seg or None, reached=ctx.reached)
    return _rate_rows(frame, seg)


def _cumulative(ctx: _Context, kpi: KPI, seg: list[str], period: str | None) -> pd.DataFrame:
    keys = ctx.model.keys
    kpi = kpi.model_copy(update={"from_phase": kpi.from_phase or keys[0],
                                 "to_phase": kpi.to_phase or keys[-1],
                                 "window_days": kpi.window_days or 365})
    return _conversion(ctx, kpi, seg, period)


def _poisson_ci(counts: np.ndarray, exposure: float | np.ndarray, confidence: float = 0.95
                ) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval of a Poisson rate: counts / exposure."""
    a = 1 - confidence
    counts = np.asarray(counts, dtype=float)
    low = np.where(counts > 0, sps.chi2.ppf(a / 2, 2 * counts) / 2, 0.0)
    high = sps.chi2.ppf(1 - a / 2, 2 * counts + 2) / 2
    return low / exposure, high / exposure


def _volume(ctx: _Context, kpi: KPI, seg: list[str], period: str | None) -> pd.DataFrame:
    phase = kpi.phase or ctx.model.first_phase
    has = ctx.reached[phase].notna().to_numpy()
    stamps = ctx.reached[phase][has]
    frame = pd.DataFrame({"period": period_label(stamps, period)}, index=stamps.index)
    segments = segment_values(ctx.engagement, ctx.reached, seg)
    for c in seg:
        frame[c] = segments[c].to_numpy()[has]
    counts = frame.groupby(seg + ["period"], dropna=False).size().rename("count").reset_index()
    if period is None:
        # one figure per month on average, over the whole months observed. Without a declared
        # `as_of` the measurement date is the latest date of any file (a closed-deals file may
        # run months past the lead file): the months counted then end at the phase's own last
        # entry, so the volume is not diluted by months the export does not cover.
        end = ctx.as_of
        if getattr(ctx.engagement.config, "as_of", None) is None and len(stamps):
            end = min(end, stamps.max())
        months = max(1, len(pd.period_range(stamps.min(), end, freq="M")) - 1) if len(
            stamps) else 1
        exposure = float(months)
        counts["period"] = "all (per month)"
    else:
        exposure = 1.0
    low, high = _poisson_ci(counts["count"].to_numpy(), exposure)
    counts["value"] = counts["count"] / exposure
    counts["ci_low"], counts["ci_high"] = low, high
    counts["n"] = counts["count"]
    return counts.drop(columns="count")


def _spells(ctx: _Context, kpi: KPI, seg: list[str]) -> pd.DataFrame:
    records = ctx.engagement.records
    keep = ["record_id", "outcome", "closed_at"] + seg
    if kpi.from_phase is None or kpi.to_phase is None:
        raise ConfigError(f"duration KPI {kpi.name!r} needs from_phase and to_phase",
                          fix="name the two phases the time is measured between")
    return transition_durations(ctx.reached, records[keep], from_phase=kpi.from_phase,
                                to_phase=kpi.to_phase, as_of=ctx.as_of)


def _duration(ctx: _Context, kpi: KPI, seg: list[str], period: str | None) -> pd.DataFrame:
    model = ctx.engagement.phase_model
    whole = (kpi.from_phase, kpi.to_phase) == (model.first_phase, model.won_phase)
    if not ctx.engagement.timing_known and not whole:
        # A snapshot knows when a record was created and when it was won, not when it passed the
        # phases between: a duration between them would be made up (0 days). Creation -> won is
        # real and measured below.
        only: dict[str, object] = {c: "(all)" for c in seg}
        only.update({"period": "n/a (snapshot: no phase dates)", "n": np.nan, "value": np.nan,
                     "missing_reason": "snapshot_timing"})
        return pd.DataFrame([only])
    spells = _spells(ctx, kpi, seg)
    rows = []
    q = kpi.quantile()
    if seg or period is not None:
        spells["period"] = period_label(spells["start"], period)
        groups = spells.groupby(seg + ["period"], dropna=False)
    else:  # one group: skip labelling a million rows 'all'
        groups = [(("all",), spells)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, object] = dict(zip(seg + ["period"], key, strict=True))
        converted = part["event"] == "converted"
        row.update({"n": len(part), "successes": int(converted.sum()),
                    "open_n": int((part["event"] == "censored").sum())})
        # Among records that convert (Aalen-Johansen, lost competing): always defined once one
        # record converted, where the Kaplan-Meier median with lost censored often is not.
        # (`event` passed as the categorical it is: its codes, not a million strings.)
        if converted.any() and not (part["duration_days"][converted] > 0).any():
            # Every conversion at the instant of its start (one bulk stamp for the whole step):
            # the data cannot tell how long it took, so no "0 days".
            row.update({"value": np.nan, "missing_reason": "no_distinct_times"})
            rows.append(row)
            continue
        value, low, high = converter_quantile(part["duration_days"].to_numpy(),
                                              part["event"], q=q)
        if value == 0 and ctx.timed:
            # stamps with a time of day, and the quantile falls on conversions stamped at the
            # very instant of their start: bulk stamps (or skips), not a speed
            row.update({"value": np.nan, "missing_reason": "no_distinct_times"})
            rows.append(row)
            continue
        row.update({"value": value, "ci_low": low, "ci_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


def _win_rate_kpi(ctx: _Context, kpi: KPI, seg: list[str], period: str | None) -> pd.DataFrame:
    if not kpi.censoring_aware:
        frame = _win_rate(ctx.engagement, by=seg or None, period=period, phase=kpi.from_phase)
        if period is not None and period != "all" and ctx.engagement.dated:
            frame = _with_immature_open(ctx, frame, seg, period, kpi.from_phase)
        return _rate_rows(frame, seg)
    # censoring-aware: share won within the horizon, lost competing, open censored
    first = kpi.from_phase or ctx.model.first_phase
    spells = _spells(ctx, kpi.model_copy(update={"from_phase": first,
                                                 "to_phase": ctx.model.won_phase}), seg)
    spells["period"] = period_label(spells["start"], period)
    rows = []
    for key, part in spells.groupby(seg + ["period"], dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        cif = cumulative_incidence(part["duration_days"].to_numpy(),
                                   part["event"],
                                   times=[kpi.horizon_days])
        won = cif[cif["outcome"] == "converted"].iloc[0]
        row = dict(zip(seg + ["period"], key, strict=True))
        row.update({"n": len(part), "successes": int((part["event"] == "converted").sum()),
                    "value": won["cif"], "ci_low": won["ci_low"], "ci_high": won["ci_high"],
                    "open_n": int((part["event"] == "censored").sum())})
        rows.append(row)
    return pd.DataFrame(rows)


def _with_immature_open(ctx: _Context, frame: pd.DataFrame, seg: list[str], period: str,
                        phase: str | None) -> pd.DataFrame:
    """The win rate by creation period with `immature_n`: its open records created less than the
    cohort window before the as-of date. Their deals have not had the window to close, and the
    quick losses close first, so a young month reads far too low (the demo's last month read 0%
    won of its closed deals); the scorecard judges only months without them, as for conversions."""
    records = ctx.engagement.records
    if phase is not None:
        reached = reached_phases(ctx.engagement)[phase]
        records = records[records["record_id"].map(reached).fillna(False).astype(bool).to_numpy()]
    window = pd.Timedelta(days=ctx.engagement.config.cohort_window_days)
    young = (records["outcome"] == "open") & (records["created_at"] > ctx.as_of - window)
    counts = pd.DataFrame({"period": period_label(records["created_at"], period),
                           "immature_n": young.to_numpy().astype(int)})
    for c in seg:
        counts[c] = records[c].astype("object").fillna(MISSING).to_numpy()
    counts = counts.groupby(seg + ["period"], dropna=False)["immature_n"].sum().reset_index()
    out = frame.merge(counts, on=seg + ["period"], how="left")
    out["immature_n"] = out["immature_n"].fillna(0).astype(int)
    return out


def _mean_ci(values: pd.Series) -> tuple[float, float, float]:
    values = values.dropna()
    if len(values) == 0:
        return np.nan, np.nan, np.nan
    mean = float(values.mean())
    if len(values) < 2:
        return mean, np.nan, np.nan
    half = sps.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return mean, mean - half, mean + half


def _value(ctx: _Context, kpi: KPI, seg: list[str], period: str | None) -> pd.DataFrame:
    rec = ctx.engagement.records
    frame = rec[seg + ["outcome", "value", "closed_at", "created_at"]].copy()
    for c in seg:
        frame[c] = frame[c].astype("object").fillna(MISSING)
    if kpi.measure == "pipeline_value":
        frame = frame[frame["outcome"] == "open"]
        frame["period"] = ctx.at_label
    else:
        frame = frame[frame["outcome"] == "won"]
        frame["period"] = period_label(frame["closed_at"], period)
    rows = []
    for key, part in frame.groupby(seg + ["period"], dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(seg + ["period"], key, strict=True))
        if kpi.measure == "average_deal_size":
            mean, low, high = _mean_ci(part["value"])
            row.update({"n": int(part["value"].notna().sum()), "value": mean, "ci_low": low,
                        "ci_high": high})
        else:
            row.update({"n": len(part), "value": float(part["value"].sum()),
                        "open_n": int(part["value"].isna().sum())})
        rows.append(row)
    if (not rows and kpi.measure != "average_deal_size" and not seg and len(rec)
            and (kpi.measure == "pipeline_value" or period is None)):
        # Records exist but none is won (or open): the sum is a real 0, not a missing value.
        label = ctx.at_label if kpi.measure == "pipeline_value" else "all"
        rows.append({"period": label, "n": 0, "value": 0.0, "open_n": 0})
    return pd.DataFrame(rows)


def _sales_velocity(ctx: _Context, kpi: KPI, seg: list[str], period: str | None) -> pd.DataFrame:
    """Monthly sales velocity with a seeded Monte Carlo interval (win rate Beta posterior, mean
    deal size normal)."""
    phase = kpi.phase or ctx.model.keys[len(ctx.model.keys) // 2]
    won_phase = ctx.model.won_phase
    rec = ctx.engagement.records.set_index("record_id")
    reached = ctx.reached[phase].notna().reindex(rec.index).fillna(False)
    frame = rec.loc[reached, seg + ["outcome", "value"]].copy()
    for c in seg:
        frame[c] = frame[c].astype("object").fillna(MISSING)
    spells = _spells(ctx, kpi.model_copy(update={"from_phase": phase, "to_phase": won_phase}), seg)
    rows = []
    rng = np.random.default_rng(ctx.seed)
    groups = frame.groupby(seg, dropna=False) if seg else [((), frame)]
    for key, part in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(seg, key, strict=True))
        row["period"] = "as of " + ctx.as_of.strftime("%Y-%m-%d")
        won = int((part["outcome"] == "won").sum())
        lost = int((part["outcome"] == "lost").sum())
        n_open = int((part["outcome"] == "open").sum())
        sp = spells
        for c, k in zip(seg, key, strict=True):
            sp = sp[sp[c].astype("object").fillna(MISSING) == k]
        converted = (sp["event"] == "converted").to_numpy()
        mean, low, high = _mean_ci(part.loc[part["outcome"] == "won", "value"])
        if won == 0 or converted.sum() == 0 or np.isnan(mean):
            row.update({"n": won + lost, "successes": won, "open_n": n_open, "value": np.nan})
            rows.append(row)
            continue
        cycle = converter_quantile(sp["duration_days"].to_numpy(),
                                   sp["event"])[0]
        if not cycle > 0:  # median not reached, or same-second bulk timestamps: no real cycle
            row.update({"n": won + lost, "successes": won, "open_n": n_open, "value": np.nan})
            if cycle == 0:
                row["missing_reason"] = "no_distinct_times"
            rows.append(row)
            continue
        value = n_open * won / (won + lost) * mean / cycle * 30.4375
        se = (high - mean) / sps.t.ppf(0.975, max(won - 1, 1)) if not np.isnan(high) else 0.0
        sims = (n_open * rng.beta(1 + won, 1 + lost, 4000) * rng.normal(mean, se, 4000)
                / cycle * 30.4375)
        row.update({"n": won + lost, "successes": won, "open_n": n_open, "value": value,
                    "ci_low": float(np.quantile(sims, 0.025)),
                    "ci_high": float(np.quantile(sims, 0.975))})
        rows.append(row)
    return pd.DataFrame(rows)


def _pipeline_coverage(ctx: _Context, kpi: KPI, seg: list[str], period: str | None
                       ) -> pd.DataFrame:
    rec = ctx.engagement.records
    target = kpi.revenue_target or ctx.engagement.config.targets.get("revenue_per_year")
    year_start = pd.Timestamp(year=ctx.as_of.year, month=1, day=1)
    won_ytd = rec.loc[(rec["outcome"] == "won") & (rec["closed_at"] >= year_start), "value"].sum()
    pipeline = rec.loc[rec["outcome"] == "open", "value"].sum()
    remaining = (target - won_ytd) if target else np.nan
    value = pipeline / remaining if remaining and remaining > 0 else np.nan
    return pd.DataFrame([{"period": "as of " + ctx.as_of.strftime("%Y-%m-%d"),
                          "n": int((rec["outcome"] == "open").sum()), "value": value}])


def _cost_per(ctx: _Context, kpi: KPI, seg: list[str], period: str | None) -> pd.DataFrame:
    """Cost per record brought to the phase, per action: `toolkit.measure.actions.action_yield`."""
    if not ctx.engagement.config.costs:
        raise ToolkitError(f"KPI {kpi.name!r} needs a cost table: add `costs:` to the engagement "
                           f"YAML (a list of {{action: ..., cost: ...}}).")
    attr = kpi.action_attribute
    table = action_yield(ctx.engagement, action=attr, phase=kpi.phase)
    return pd.DataFrame({"attribute": attr, "segment": table[attr].astype(str),
                         "period": table.get("period", pd.Series("all", index=table.index))
                         .fillna("all"),
                         "n": table["leads"], "value": table["cost_per_lead"]})


_COMPUTE = {
    "conversion": _conversion, "cumulative_conversion": _cumulative, "volume": _volume,
    "duration": _duration, "win_rate": _win_rate_kpi, "value": _value,
    "sales_velocity": _sales_velocity, "pipeline_coverage": _pipeline_coverage,
    "cost_per": _cost_per,
}


def _needs_dates(ctx: _Context, kpi: KPI, seg: list[str], period: str | None) -> pd.DataFrame:
    """A lead list without dates: the KPI's one row says it needs dates; nothing is invented."""
    row: dict[str, object] = {c: "(all)" for c in seg}
    row.update({"period": NEEDS_DATES, "n": np.nan, "value": np.nan,
                "missing_reason": "needs_dates"})
    return pd.DataFrame([row])


def _conversion_without_dates(ctx: _Context, kpi: KPI, seg: list[str], period: str | None
                              ) -> pd.DataFrame:
    keys = ctx.model.keys
    a = kpi.from_phase or keys[0]
    b = kpi.to_phase or (keys[-1] if kpi.kind == "cumulative_conversion" else None)
    return _rate_rows(reached_conversion(ctx.engagement, from_phase=a, to_phase=b,
                                         by=seg or None), seg)


def _win_rate_without_dates(ctx: _Context, kpi: KPI, seg: list[str], period: str | None
                            ) -> pd.DataFrame:
    if kpi.censoring_aware:  # the share won within a horizon of days
        return _needs_dates(ctx, kpi, seg, period)
    return _win_rate_kpi(ctx, kpi, seg, period)


_COMPUTE_WITHOUT_DATES = {
    **{kind: _needs_dates for kind in _COMPUTE},
    "conversion": _conversion_without_dates, "cumulative_conversion": _conversion_without_dates,
    "win_rate": _win_rate_without_dates, "value": _value,
}


