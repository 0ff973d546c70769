"""The demo's answer key: what the planted truth says each step should find."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from toolkit.base.exceptions import ToolkitError
from toolkit.datasets.demo import (
    ACTIONS,
    COLD_CALLING,
    COMPANY_NAME,
    EVENT,
    LEAKY_OWNER,
    NAT,
    NS_DAY,
    OWNERS,
    DemoCompany,
    working_days,
)


@dataclass(frozen=True)
class AnswerKey:
    """The realised planted effects, computed from the canonical tables with plain pandas.

    Conversion k -> k+1 here is the share of *decided* records: among records that reached k
    (skip = passed) and are no longer open at k, the share that reached k+1. Open records at k are
    left out (they are reported as `open`). Cohort conversion with a window W (the toolkit's default
    KPI) gives slightly different numbers: it drops immature cohorts and counts records that
    converted after W days, or are still open, as not converted.

    Attributes
    ----------
    funnel : per phase: records that reached it, are still open there, were lost there.
    transitions : per transition: n (decided), successes, rate, open, reached_share (raw
        reached(k+1) / reached(k) including open records), median_days among direct converters.
    by_action : target -> lead per action, with the referrals that entered mid-funnel.
    by_owner : proposal -> order per owner.
    seasonality : new records per month, per working day.
    seasons : Jul-Aug, late December and the rest: new records per working day, its index against
        the rest, and the target -> lead rate.
    simpson : target -> lead per year (first two years) and action, with each action's share of
        the decided records; segment 'all' is the overall rate.
    decomposition : the overall change split into mix and rate effects (Kitagawa, averaged weights).
    values : deal value per product: n, median, missing, won, won_value.
    facts : the headline numbers as a flat dict.
    """

    funnel: pd.DataFrame
    transitions: pd.DataFrame
    by_action: pd.DataFrame
    by_owner: pd.DataFrame
    seasonality: pd.DataFrame
    seasons: pd.DataFrame
    simpson: pd.DataFrame
    decomposition: pd.DataFrame
    values: pd.DataFrame
    facts: dict

    @property
    def summary(self) -> pd.DataFrame:
        """The headline facts as a two-column table."""
        return pd.DataFrame({"fact": list(self.facts), "value": [str(v) for v in self.facts.values()]})

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False)


def _event_table(company: DemoCompany) -> tuple[np.ndarray, np.ndarray]:
    """Per record (aligned with `records`) and phase: the earliest entry (ns, NaT sentinel), and
    the code of the highest phase reached (-1 if none)."""
    ev = company.events
    rec = pd.Index(company.records["record_id"]).get_indexer(ev["record_id"])
    if (rec < 0).any():
        raise ToolkitError(
            f"{int((rec < 0).sum())} events have a `record_id` that is not in `records`; "
            "pass a DemoCompany whose tables belong together."
        )
    codes = ev["phase"].cat.codes.to_numpy().astype(np.int64)
    never = np.iinfo(np.int64).max
    entered = np.full((len(company.records), len(company.phases)), never, dtype=np.int64)
    np.minimum.at(entered, (rec, codes), ev["entered_at"].to_numpy("datetime64[ns]").view(np.int64))
    highest = np.full(len(company.records), -1, dtype=np.int64)
    np.maximum.at(highest, rec, codes)
    return np.where(entered == never, NAT, entered), highest


def highest_phase(company: DemoCompany) -> np.ndarray:
    """Code of the highest phase each record reached (-1 if none), aligned with `records`."""
    return _event_table(company)[1]


def _reached_at(entered: np.ndarray) -> np.ndarray:
    """reached_at[k] per record (ns, NaT sentinel): earliest entry among phases >= k."""
    never = np.iinfo(np.int64).max
    filled = np.where(entered == NAT, never, entered)
    reached = np.minimum.accumulate(filled[:, ::-1], axis=1)[:, ::-1]
    return np.where(reached == never, NAT, reached)


def _transition_counts(highest: np.ndarray, outcome: np.ndarray, lost_at: np.ndarray,
                       k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per record: reached k, decided at k (converted or lost there), converted past k."""
    reached = highest >= k
    success = highest >= k + 1
    decided = success | ((outcome == "lost") & (lost_at == k))
    return reached, decided & reached, success


def _rate_table(frame: pd.DataFrame, by: list[str], decided: str, success: str) -> pd.DataFrame:
    out = frame.groupby(by, observed=True, sort=True).agg(
        n=(decided, "sum"), successes=(success, "sum")).reset_index()
    out["rate"] = out["successes"] / out["n"]
    return out


def answer_key(company: DemoCompany) -> AnswerKey:
    """Compute the trainer's answer key (the realised planted effects) from the canonical tables.

    Parameters
    ----------
    company : the output of `generate_company`.

    Returns
    -------
    AnswerKey
        Tidy tables per effect and a dict of headline `facts`.

    Notes
    -----
    Rates are successes / decided records (see `AnswerKey`); no windows, no intervals. Use it to
    check what the toolkit's proper measurements should approximately show, not as the measurement.
    """
    rec = company.records
    phases = company.phases
    entered, highest = _event_table(company)
    outcome = rec["outcome"].to_numpy(object)
    lost_at = rec["lost_at_phase"].cat.codes.to_numpy()
    reached_at = _reached_at(entered)
    created = rec["created_at"]
    last = len(phases) - 1

    funnel = pd.DataFrame({
        "phase": phases,
        "n": [int((highest >= k).sum()) for k in range(len(phases))],
        "open": [int(((highest == k) & (outcome == "open")).sum()) for k in range(len(phases))],
        "lost": [int(((outcome == "lost") & (lost_at == k)).sum()) for k in range(len(phases))],
    })

    rows = []
    for k in range(last):
        reached, decided, success = _transition_counts(highest, outcome, lost_at, k)
        direct = success & (reached_at[:, k] != NAT) & (reached_at[:, k + 1] != NAT)
        days = (reached_at[direct, k + 1] - reached_at[direct, k]) / NS_DAY
        days = days[days > 0]  # referrals entering at k+1 "pass" k in zero time
        rows.append({
            "from_phase": phases[k], "to_phase": phases[k + 1],
            "n": int(decided.sum()), "successes": int(success.sum()),
            "rate": success.sum() / decided.sum() if decided.any() else np.nan,
            "open": int((reached & ~decided).sum()),
            "reached_share": success.sum() / reached.sum() if reached.any() else np.nan,
            "median_days": float(np.median(days)) if len(days) else float("nan"),
        })
    transitions = pd.DataFrame(rows)

    _, decided0, success0 = _transition_counts(highest, outcome, lost_at, 0)
    started_at_target = entered[:, 0] != NAT
    frame = pd.DataFrame({
        "segment": rec["action"].to_numpy(object), "owner": rec["owner"].to_numpy(object),
        "period": created.dt.year.to_numpy(), "decided": decided0, "success": success0,
        "referral": ~started_at_target,
    })
    by_action = _rate_table(frame, ["segment"], "decided", "success")
    by_action["referrals"] = frame.groupby("segment")["referral"].sum().reindex(
        by_action["segment"]).to_numpy()
    own = frame[~frame["referral"]]
    started = _rate_table(own, ["segment"], "decided", "success")
    by_action["rate_started_at_target"] = started.set_index("segment")["rate"].reindex(
        by_action["segment"]).to_numpy()
    by_action.insert(1, "from_phase", phases[0])
    by_action.insert(2, "to_phase", phases[1])

    k_prop = last - 1
    _, decided3, success3 = _transition_counts(highest, outcome, lost_at, k_prop)
    frame["decided3"], frame["success3"] = decided3, success3
    by_owner = _rate_table(frame.rename(columns={"segment": "action", "owner": "segment"}),
                           ["segment"], "decided3", "success3")
    by_owner.insert(1, "from_phase", phases[k_prop])
    by_owner.insert(2, "to_phase", phases[last])

    # Seasonality: new records per month and per working day (Mon-Fri) of that month.
    first, stop = created.min().normalize(), company.as_of
    days = pd.date_range(first, stop - pd.Timedelta(days=1), freq="D")
    work = pd.Series(working_days(days), index=days)
    months = created.dt.to_period("M")
    seasonality = months.value_counts().sort_index().rename("n").to_frame()
    seasonality["working_days"] = work.groupby(days.to_period("M")).sum().reindex(
        seasonality.index).to_numpy()
    seasonality["per_working_day"] = seasonality["n"] / seasonality["working_days"]
    seasonality = seasonality.reset_index(names="period")
    seasonality["period"] = seasonality["period"].astype(str)

    def season_of(ts: pd.Series | pd.DatetimeIndex) -> np.ndarray:
        month = np.asarray(ts.month)
        day = np.asarray(ts.day)
        return np.where(np.isin(month, (7, 8)), "Jul-Aug",
                        np.where((month == 12) & (day >= 21), "late December", "rest"))

    frame["season"] = season_of(created.dt)
    seasons = frame.groupby("season").agg(n=("segment", "size"), decided=("decided", "sum"),
                                          successes=("success", "sum"))
    seasons["working_days"] = work.groupby(season_of(days)).sum().reindex(seasons.index)
    seasons["per_working_day"] = seasons["n"] / seasons["working_days"]
    seasons["volume_index"] = seasons["per_working_day"] / seasons.loc["rest", "per_working_day"]
    seasons["rate"] = seasons["successes"] / seasons["decided"]
    seasons = seasons.reindex(["Jul-Aug", "late December", "rest"]).reset_index(names="segment")
    seasons = seasons.rename(columns={"decided": "n_decided"})

    # Simpson's paradox: first two calendar years, target -> lead per action.
    y0 = int(created.dt.year.min())
    two = frame[frame["period"].isin((y0, y0 + 1))]
    simpson = _rate_table(two, ["period", "segment"], "decided", "success")
    simpson["share"] = simpson["n"] / simpson.groupby("period")["n"].transform("sum")
    overall = _rate_table(two, ["period"], "decided", "success")
    overall["segment"], overall["share"] = "all", 1.0
    simpson = pd.concat([simpson, overall[simpson.columns]], ignore_index=True)
    simpson = simpson.sort_values(["period", "segment"], kind="stable", ignore_index=True)

    piv = simpson[simpson["segment"] != "all"].pivot(index="segment", columns="period")
    years = [y0, y0 + 1]  # a data set shorter than two calendar years gives NaN here
    shares = piv["share"].reindex(columns=years)
    rates = piv["rate"].reindex(columns=years)
    s0, s1, r0, r1 = shares[y0], shares[y0 + 1], rates[y0], rates[y0 + 1]
    mix = float(((s1 - s0) * (r0 + r1) / 2).sum(min_count=1))
    rate_effect = float(((r1 - r0) * (s0 + s1) / 2).sum(min_count=1))
    decomposition = pd.DataFrame({
        "component": ["total", "mix", "rate"],
        "value": [mix + rate_effect, mix, rate_effect],
    })

    vals = pd.DataFrame({"segment": rec["product"].to_numpy(object), "value": rec["value"],
                         "won": outcome == "won"})
    vals["won_value"] = vals["value"].where(vals["won"], 0.0)
    values = vals.groupby("segment").agg(
        n=("value", "size"), median=("value", "median"),
        missing=("value", lambda v: int(v.isna().sum())), won=("won", "sum"),
        won_value=("won_value", "sum")).reset_index()

    lowest = transitions.loc[transitions["rate"].fillna(np.inf).idxmin()]
    # The method's rule: a bottleneck at the first transition means too few qualified leads
    # (shortage); anywhere later, leads are there but drop out (leak).
    verdict = "shortage" if lowest["from_phase"] == phases[0] else "leak"
    act = by_action.set_index("segment")["rate"].reindex(list(ACTIONS))
    own_rate = by_owner.set_index("segment").reindex(list(OWNERS))
    own_rate[["n", "successes"]] = own_rate[["n", "successes"]].fillna(0)
    others = own_rate.drop(index=LEAKY_OWNER)
    all_rows = simpson[simpson["segment"] == "all"].set_index("period")["rate"].reindex(years)
    season_index = seasons.set_index("segment")["volume_index"]
    deltas = (r1 - r0)
    won_value = vals.loc[vals["won"], "value"]
    prop_rate = float(transitions.loc[last - 1, "rate"])
    reached_opp = int(funnel.loc[2, "n"])
    facts = {
        "company": COMPANY_NAME,
        "records": int(len(rec)),
        "events": int(len(company.events)),
        "won": int((outcome == "won").sum()),
        "lost": int((outcome == "lost").sum()),
        "open": int((outcome == "open").sum()),
        "referrals_mid_funnel": int(frame["referral"].sum()),
        "bottleneck": f"{lowest['from_phase']} -> {lowest['to_phase']}",
        "bottleneck_rate": round(float(lowest["rate"]), 4),
        "verdict": verdict,
        "best_action": str(act.fillna(-1).idxmax()), "best_action_rate": round(float(act.max()), 4),
        "event_rate": round(float(act[EVENT]), 4),
        "cold_calling_rate": round(float(act[COLD_CALLING]), 4),
        "leaky_owner": LEAKY_OWNER,
        "leaky_owner_rate": round(float(own_rate.loc[LEAKY_OWNER, "rate"]), 4),
        "leaky_owner_n": int(own_rate.loc[LEAKY_OWNER, "n"]),
        "other_owners_rate": round(float(others["successes"].sum() / others["n"].sum()), 4)
        if others["n"].sum() else np.nan,
        "summer_volume_index": round(float(season_index["Jul-Aug"]), 4),
        "late_december_volume_index": round(float(season_index["late December"]), 4),
        "simpson_years": f"{y0} -> {y0 + 1}",
        "simpson_overall_before": round(float(all_rows[y0]), 4),
        "simpson_overall_after": round(float(all_rows[y0 + 1]), 4),
        "simpson_min_action_rise": round(float(deltas.min()), 4),
        "simpson_max_action_rise": round(float(deltas.max()), 4),
        "mix_effect": round(mix, 4),
        "rate_effect": round(rate_effect, 4),
        "median_value": round(float(rec["value"].median()), 2),
        "value_missing_share": round(float(rec["value"].isna().mean()), 4),
        "won_value_total": round(float(won_value.sum()), 2),
        "extra_orders_if_bottleneck_plus_10_points": round(reached_opp * 0.10 * prop_rate, 1),
    }
    return AnswerKey(funnel=funnel, transitions=transitions, by_action=by_action,
                     by_owner=by_owner, seasonality=seasonality, seasons=seasons, simpson=simpson,
                     decomposition=decomposition, values=values, facts=facts)


