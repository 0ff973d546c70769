"""Planted and null companies for calibrating the diagnosis, and the structure of real exports
(nested attributes, empty and all-or-nothing segments)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import gammaincinv

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import OptionError
from toolkit.base.vocabulary import check_seed
from toolkit.datasets.demo import (
    ACTIONS,
    COLD_CALLING,
    EVENT,
    GAMMA_SHAPE,
    LOST,
    NAT,
    NS_DAY,
    OPEN,
    OWNERS,
    PRODUCT_MEDIAN_EUR,
    PRODUCT_P,
    PRODUCTS,
    REGIONS,
    SUMMER_WEIGHT,
    VALUE_SIGMA,
    WON,
    as_timestamp,
    canonical_tables,
    check_arguments,
    labels_of,
    working_days,
    working_time,
)

#: The effects :func:`generate_planted_company` can plant, each at the size of the demo's answer key.
PLANTED_EFFECTS: tuple[str, ...] = (
    "low_step",        # one step converts at half the market's typical rate, all the time
    "worse_step",      # one step fell to 0.65x its rate from 55% of the history on
    "source",          # first step: event converts 1.65x, cold calling 0.45x the others
    "owner_leak",      # last step: one owner wins 0.4x the others' rate
    "simpson_mix",     # first step: regions differ (1.5x / 1x / 0.4x) and their mix moves towards
                       # the worst one after the first year, while every region converts 7% better
    "seasonal_dip",    # 40% fewer new records per working day in July-August; rates steady
    "process_change",  # a declared change raises the second step by 10 points from 60% of history
)
_CAL_PHASES = ("target", "lead", "opportunity", "proposal")
_CAL_BASE = (0.36, 0.50, 0.45, 0.50)
_CAL_CONVERT_DAYS = (10.0, 20.0, 30.0, 25.0)
_CAL_LOSS_DAYS = (15.0, 30.0, 40.0, 35.0)
_CAL_MIX = ((0.20, 0.35, 0.25, 0.20), (0.20, 0.35, 0.25, 0.20))
_CAL_REGION_P = ((0.30, 0.45, 0.25), (0.30, 0.45, 0.25))
_SIMPSON_REGION_P = ((0.50, 0.30, 0.20), (0.20, 0.30, 0.50))
_SIMPSON_REGION_X = (1.5, 1.0, 0.4)
_SIMPSON_WITHIN = 1.07
_JITTER = 0.10            # a company's own rates lie within +-10% of the market's typical rate


@dataclass(frozen=True)
class PlantedCompany:
    """A generated company with known planted effects (or none), for calibrating the diagnosis.

    Attributes
    ----------
    events, records, as_of, phases : as in :class:`DemoCompany` (attributes action, owner,
        region, product).
    effects : per planted effect its truth: ``{"low_step": {"transition": ("lead",
        "opportunity"), "half": "late"}, ...}``; empty for a null company.
    changes : the declared process changes (``date, description, step``), as under ``changes:``.
    benchmarks : the market's rates per step (``from_phase, to_phase, low, typical, high,
        source``); the company's own rates lie within +-10% of ``typical`` unless planted.
    converter_median_days : per step the median days to convert among the records drawn to
        convert there (also those converting after the as-of date): the converters' true median.
    """

    events: pd.DataFrame
    records: pd.DataFrame
    as_of: pd.Timestamp
    phases: tuple[str, ...]
    effects: dict
    changes: list
    benchmarks: pd.DataFrame
    converter_median_days: dict


def _planted_phases(n_phases: int) -> tuple[str, ...]:
    if isinstance(n_phases, bool) or not isinstance(n_phases, int | np.integer) or not (
            2 <= n_phases <= 5):
        raise OptionError(f"The value for `n_phases` must be a whole number from 2 to 5, but "
                           f"{n_phases!r} was passed.")
    return (*_CAL_PHASES[:n_phases - 1], "order")


def generate_planted_company(*, effects: Sequence[str] = (), n_records: int = 12_000,
                             n_phases: int = 5, seed: int = 0,
                             start: str | pd.Timestamp = "2024-01-01",
                             as_of: str | pd.Timestamp = "2026-10-31") -> PlantedCompany:
    """A company with the chosen planted effects (none: a null company), without export dirt.

    Parameters
    ----------
    effects : names from :data:`PLANTED_EFFECTS`.
    n_records : records created between `start` and `as_of` (the demo: 12,000).
    n_phases : 2 to 5 phases; the last one is the order.
    seed : the same seed gives the same company.
    start, as_of : the first creation day and the measurement date.

    Returns
    -------
    PlantedCompany
        The company's tables and the truth of what was planted (``effects``).

    Notes
    -----
    Each step k has the market's typical rate (0.36, 0.50, 0.45, 0.50 for target, lead,
    opportunity, proposal), times a company factor drawn uniformly within +-10%, times the planted
    effects. Every record starts at the first phase on a working day (uniform, or with the summer
    dip); at each phase it converts with its probability or is lost, after gamma(1.5) days with
    median 10/20/30/25 (converting) or 15/30/40/35 (lost); at or after `as_of` it is open. The
    effect sizes are those of the demo's answer key; the harness `benchmarks/calibrate_diagnosis.py`
    also runs them at half and double the company size.
    """
    unknown = [e for e in effects if e not in PLANTED_EFFECTS]
    if unknown:
        raise OptionError(f"The value for `effects` must name effects from {list(PLANTED_EFFECTS)}, "
                           f"but {unknown} was passed.")
    phases = _planted_phases(n_phases)
    steps = len(phases) - 1
    start_ts, as_of_ts = as_timestamp(start, "start"), as_timestamp(as_of, "as_of")
    n = check_arguments(n_records, start_ts, as_of_ts)
    rng = np.random.default_rng(check_seed(seed))
    effects = tuple(dict.fromkeys(effects))
    truth: dict = {}
    transitions = [(phases[k], phases[k + 1]) for k in range(steps)]
    # the diagnosis splits early/late at the lead phase: by default the second phase (these
    # phases name no output), the first in a funnel of one transition
    lead = min(1, steps - 1)

    days = pd.date_range(start_ts, as_of_ts - pd.Timedelta(days=1), freq="D", unit="ns")
    weights = np.where(working_days(days), 1.0, 0.0)
    if "seasonal_dip" in effects:
        weights[np.isin(days.month, (7, 8))] *= SUMMER_WEIGHT
        truth["seasonal_dip"] = {"months": (7, 8), "volume_index": SUMMER_WEIGHT}
    day_idx = np.sort(rng.choice(len(days), size=n, p=weights / weights.sum()))
    created = np.sort(working_time(days.asi8[day_idx], rng))
    year = pd.DatetimeIndex(created.view("datetime64[ns]")).year.to_numpy()
    era = (year > start_ts.year).astype(np.int64)
    span = as_of_ts.value - start_ts.value

    action = np.empty(n, dtype=np.int64)
    region = np.empty(n, dtype=np.int64)
    region_p = _SIMPSON_REGION_P if "simpson_mix" in effects else _CAL_REGION_P
    for e in (0, 1):
        sel = np.flatnonzero(era == e)
        action[sel] = rng.choice(len(ACTIONS), size=len(sel), p=_CAL_MIX[e])
        region[sel] = rng.choice(len(REGIONS), size=len(sel), p=region_p[e])
    owner = rng.integers(0, len(OWNERS), size=n)
    product = rng.choice(len(PRODUCTS), size=n, p=PRODUCT_P)
    value = np.maximum(np.round(np.exp(np.log(np.asarray(PRODUCT_MEDIAN_EUR)[product])
                                       + VALUE_SIGMA * rng.standard_normal(n)), -1), 500.0)

    base = np.asarray(_CAL_BASE[:steps - 1] + (_CAL_BASE[-1],) if steps < 4 else _CAL_BASE)
    base = base[:steps]
    own = base * rng.uniform(1 - _JITTER, 1 + _JITTER, size=steps)
    conv_days = np.asarray(_CAL_CONVERT_DAYS[:steps - 1] + (_CAL_CONVERT_DAYS[-1],))[:steps]
    loss_days = np.asarray(_CAL_LOSS_DAYS[:steps - 1] + (_CAL_LOSS_DAYS[-1],))[:steps]
    # one planted step effect per company: low_step and worse_step at a random step
    step_of = {}
    for name in ("low_step", "worse_step"):
        if name in effects:
            k = int(rng.integers(0, steps))
            step_of[name] = k
            truth[name] = {"transition": transitions[k],
                           "half": "early" if k < lead else "late"}
    worse_from = start_ts.value + int(0.55 * span)
    change_k = min(1, steps - 1)
    change_at = pd.Timestamp(start_ts.value + int(0.60 * span)).normalize()
    changes = []
    if "process_change" in effects:
        changes = [{"date": change_at.date(), "description": "planted process change",
                    "step": f"{transitions[change_k][0]} -> {transitions[change_k][1]}"}]
        truth["process_change"] = {"transition": transitions[change_k], "date": change_at,
                                   "uplift": 0.10}
    leaky = int(rng.integers(0, len(OWNERS)))
    if "owner_leak" in effects:
        truth["owner_leak"] = {"transition": transitions[-1], "attribute": "owner",
                               "segment": OWNERS[leaky], "direction": "worse"}
    if "source" in effects:
        truth["source"] = {"transition": transitions[0], "attribute": "action",
                           "segments": {EVENT: "better", COLD_CALLING: "worse"}}
    if "simpson_mix" in effects:
        truth["simpson_mix"] = {"transition": transitions[0], "attribute": "region",
                                "segments": {"Noord": "better", "Zuid": "worse"}}

    entered = np.full((n, steps + 1), NAT, dtype=np.int64)
    entered[:, 0] = created
    t_at = created.copy()
    outcome = np.full(n, OPEN, dtype=np.int8)
    closed = np.full(n, NAT, dtype=np.int64)
    lost_at = np.full(n, -1, dtype=np.int8)
    active = np.ones(n, dtype=bool)
    gamma_median = float(gammaincinv(GAMMA_SHAPE, 0.5))
    realised: list[float] = []
    for k in range(steps):
        idx = np.flatnonzero(active)
        p = np.full(len(idx), own[k])
        if step_of.get("low_step") == k:
            p *= 0.5
        if step_of.get("worse_step") == k:
            p = np.where(t_at[idx] >= worse_from, p * 0.65, p)
        if k == 0 and "source" in effects:
            p *= np.select([action[idx] == ACTIONS.index(EVENT),
                            action[idx] == ACTIONS.index(COLD_CALLING)], [1.65, 0.45], 1.0)
        if k == 0 and "simpson_mix" in effects:
            p *= np.asarray(_SIMPSON_REGION_X)[region[idx]] * np.where(era[idx] == 1,
                                                                        _SIMPSON_WITHIN, 1.0)
        if k == steps - 1 and "owner_leak" in effects:
            p = np.where(owner[idx] == leaky, p * 0.4, p)
        if k == change_k and "process_change" in effects:
            p = np.where(t_at[idx] >= change_at.value, p + 0.10, p)
        p = np.clip(p, 0.0, 0.97)
        converts = rng.random(len(idx)) < p
        median = np.where(converts, conv_days[k], loss_days[k])
        delay = rng.gamma(GAMMA_SHAPE, median / gamma_median)
        # the truth a duration estimate is judged by: every drawn conversion, also the ones
        # that happen after the as-of date (censored in the data)
        realised.append(float(np.median(delay[converts])) if converts.any() else float("nan"))
        when = t_at[idx] + (delay * NS_DAY).astype(np.int64)
        happened = when < as_of_ts.value
        moved = converts & happened
        rec = idx[moved]
        entered[rec, k + 1] = when[moved]
        t_at[rec] = when[moved]
        gone = ~converts & happened
        outcome[idx[gone]] = LOST
        closed[idx[gone]] = when[gone]
        lost_at[idx[gone]] = k
        active[idx[~moved]] = False
    won = entered[:, -1] != NAT
    outcome[won] = WON
    closed[won] = entered[won, -1]

    events, records = canonical_tables(
        phases, entered, created, outcome, closed, lost_at, value,
        {"action": (action, ACTIONS), "owner": (owner, OWNERS), "region": (region, REGIONS),
         "product": (product, PRODUCTS)},
        lambda rec_idx, ph: pd.Categorical.from_codes(ph, categories=list(phases)).astype(str))
    benchmarks = pd.DataFrame({"from_phase": [a for a, _ in transitions],
                               "to_phase": [b for _, b in transitions],
                               "low": base * 0.8, "typical": base, "high": base * 1.2,
                               "source": "calibration market"})
    medians = dict(zip(transitions, realised, strict=True))
    return PlantedCompany(events=events, records=records, as_of=as_of_ts, phases=phases,
                          effects=truth, changes=changes, benchmarks=benchmarks,
                          converter_median_days=medians)


#: Account managers per team in :func:`add_real_structure` (5 teams: 35 owners with small n).
OWNERS_PER_TEAM = 7
#: Offices of the teams in :func:`add_real_structure`: office is a lookup of the team.
TEAM_OFFICES = ("Noord", "Noord", "Zuid", "Zuid", "Oost")
SECTORS: tuple[str, ...] = tuple(f"Sector {k}" for k in range(1, 11))
_BLANK_SECTOR_SHARE = 0.05   # records without a sector, none of them won


@shared_docs
def add_real_structure(company: PlantedCompany, *, seed: int = 0) -> PlantedCompany:
    """The company as a real export looks where the generated one is tidy (issue 21): what the
    segment scan must judge without inventing findings.

    - ``owner``: each of the five owners' records spread at random over seven account managers
      (35 owners, small n at the late steps); the old owner becomes ``team`` and ``office`` a
      lookup of the team (:data:`TEAM_OFFICES`): attributes that are functions of another;
    - ``sector``: ten sectors at random, and a blank sector for 5% of the records that were not
      won, so its closed deals are all lost;
    - a first phase ``prospect`` that every record passes at creation (the undated prospects
      set aside): a transition every record passes by construction.

    The planted effects keep their truth: an owner leak is now a team leak (``attribute``
    ``team``; the team's account managers, ``owners``, and its ``office`` are worse too); a
    step's ``half`` is that of the longer funnel.

    Parameters
    ----------
    company : PlantedCompany
        A company of :func:`generate_planted_company`. Not modified.
    {shared.seed}

    Returns
    -------
    PlantedCompany
        The structured company.
    """
    rng = np.random.default_rng(check_seed(seed))
    records = company.records.copy()
    n = len(records)
    team = pd.Categorical(records["owner"].astype(str), categories=list(OWNERS))
    team_code = np.asarray(team.codes)
    seat = rng.integers(0, OWNERS_PER_TEAM, size=n)
    names = [f"{owner} {k + 1}" for owner in OWNERS for k in range(OWNERS_PER_TEAM)]
    records["owner"] = labels_of(team_code * OWNERS_PER_TEAM + seat, names)
    records["team"] = labels_of(team_code, [f"Team {owner}" for owner in OWNERS])
    offices = sorted(set(TEAM_OFFICES))
    records["office"] = labels_of(np.asarray([offices.index(o) for o in TEAM_OFFICES])[team_code],
                                offices)
    sector = rng.integers(0, len(SECTORS), size=n)
    not_won = np.flatnonzero(records["outcome"].astype(str).to_numpy() != "won")
    blank = rng.choice(not_won, size=int(round(_BLANK_SECTOR_SHARE * n)), replace=False) \
        if len(not_won) else np.array([], dtype=np.int64)
    sector[blank] = len(SECTORS)
    records["sector"] = pd.array(np.asarray([*SECTORS, None], dtype=object)[sector], dtype="str")

    phases = ("prospect", *company.phases)
    dtype = pd.CategoricalDtype(list(phases), ordered=True)
    first = company.events[company.events["phase"].astype(str) == company.phases[0]]
    entry = first.assign(source_stage="prospect")
    entry["phase"] = "prospect"
    events = pd.concat([entry, company.events], ignore_index=True)
    events["phase"] = pd.Categorical(events["phase"].astype(str), dtype=dtype)
    events["source_row"] = pd.array(np.arange(1, len(events) + 1), dtype="Int64")
    lost = records["lost_at_phase"].astype(object)
    records["lost_at_phase"] = pd.Categorical(lost.where(lost.notna()), dtype=dtype)

    effects = {name: dict(truth) for name, truth in company.effects.items()}
    half = (len(phases) - 1) // 2
    for truth in effects.values():
        if "half" in truth:
            step = phases.index(truth["transition"][0])
            truth["half"] = "early" if step < half else "late"
    if "owner_leak" in effects:
        leaky = OWNERS.index(effects["owner_leak"]["segment"])
        effects["owner_leak"].update({
            "attribute": "team", "segment": f"Team {OWNERS[leaky]}",
            "owners": names[leaky * OWNERS_PER_TEAM:(leaky + 1) * OWNERS_PER_TEAM],
            "office": TEAM_OFFICES[leaky]})
    return PlantedCompany(events=events, records=records, as_of=company.as_of, phases=phases,
                          effects=effects, changes=company.changes,
                          benchmarks=company.benchmarks,
                          converter_median_days=company.converter_median_days)


