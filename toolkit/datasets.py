"""The demo company: a seeded, realistic Dutch B2B CRM with documented, planted problems.

Van Dijk Installatietechniek B.V. is fictional. Trainers teach the method on it, the test-suite checks
the toolkit against its known answers, and the benchmark scales it to a million records.

Two layers:

- the **canonical layer** (`generate_company`): the truth, already in the toolkit's data model
  (`events`, `records`), fully vectorised;
- the **export layer** (`write_demo_exports`): what the client's CRM would hand over, a Dutch-locale
  stage-history CSV and an XLSX snapshot, with realistic dirt, plus the README that is the trainer's
  answer key (`answer_key`).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import yaml
from scipy.special import gammaincinv

from toolkit.base.exceptions import OptionError, ToolkitError
from toolkit.base.vocabulary import check_seed

__all__ = [
    "COMPANY_NAME",
    "PHASES",
    "PHASE_LABELS",
    "ACTIONS",
    "COLD_CALLING",
    "EVENT",
    "MAILING",
    "NETWORK",
    "OWNERS",
    "LEAKY_OWNER",
    "REGIONS",
    "PRODUCTS",
    "STAGE_MAPPING",
    "REPORT_CLAIMS",
    "DemoCompany",
    "AnswerKey",
    "generate_company",
    "answer_key",
    "write_demo_exports",
    "main",
    "PLANTED_EFFECTS",
    "PlantedCompany",
    "generate_planted_company",
    "add_real_structure",
    "SECTORS",
    "EXPORT_FAMILIES",
    "write_planted_export",
    "MIX_CHANGE_REGIONS",
    "MIX_CHANGE_DATE",
    "generate_mix_shift_change",
]

COMPANY_NAME = "Van Dijk Installatietechniek B.V."

PHASES: tuple[str, ...] = ("target", "lead", "opportunity", "proposal", "order")
PHASE_LABELS: dict[str, str] = {
    "target": "Target (suspects)",
    "lead": "Lead",
    "opportunity": "Kans (opportunity)",
    "proposal": "Offerte (proposal)",
    "order": "Order / Klant",
}
# The target phase's actions in the method's own words, as the CRM's `Actie` column records them.
ACTIONS: tuple[str, ...] = ("koud bellen", "uitnodigen op een evenement", "mailen",
                            "benaderen via het netwerk")
COLD_CALLING, EVENT, MAILING, NETWORK = ACTIONS
OWNERS: tuple[str, ...] = (
    "Sanne de Vries", "Ruud Hendriks", "Lotte Bakker", "Joost van den Berg", "Ingrid Visser",
)
LEAKY_OWNER = "Ruud Hendriks"
REGIONS: tuple[str, ...] = ("Noord", "Midden", "Zuid")
PRODUCTS: tuple[str, ...] = ("Installatie", "Onderhoud", "Advies")

# The CRM's own stage names and what they mean in the phase model (`won` is the last phase).
STAGE_MAPPING: dict[str, str] = {
    "Suspect": "target",
    "Lead": "lead",
    "Lead gekwalificeerd": "lead",
    "Potentieel": "opportunity",
    "Offerte uitgebracht": "proposal",
    "Onderhandeling": "proposal",
    "Gewonnen": "won",
    "Verloren": "lost",
    "Test": "ignore",
}

# What the answer key promises the demo's Dutch report shows, per page (the README lists it and
# tests/test_answer_key.py finds each phrase on the rendered pages).
REPORT_CLAIMS: dict[str, list[str]] = {
    "index.html": [
        "Eerst het lek: kansen vallen af vóór de order, en ook de startfasen wijken af",
        "1 Knelpunt : Kans (opportunity) → Offerte (proposal) converteert 23,6%",
        "2 Segment : Eigenaar ‘Ruud Hendriks’ converteert 21,3%",
        "3 Aantal leads : instroom in Lead 125,6 per maand",
    ],
    "01_baseline.html": [
        "De exports bevatten 31.816 rijen; 50 (0,2%) daarvan zijn met een reden apart gezet",
        "17 terug naar een eerdere fase (0,1%)", "120 heropend na verlies",
        "163 massale tijdstempels (imports)",
        "Ruwe trechter: 12.000 records stroomden in, 242 werden een order.",
    ],
    "02_process_model.html": [
        "Target (suspects) → Lead → Kans (opportunity) → Offerte (proposal) → Order / Klant",
        "koud bellen, uitnodigen op een evenement, mailen, benaderen via het netwerk",
    ],
    "04_measurement.html": [
        "De instroom is seizoensgebonden", "maar de conversie niet", "stuur op percentages",
    ],
    "05_diagnosis.html": [
        "Oordeel: Eerst het lek: kansen vallen af vóór de order",
        "Actie ‘koud bellen’ converteert 15,1% bij Target (suspects) → Lead",
        "Actie ‘uitnodigen op een evenement’ converteert 59,5% bij Target (suspects) → Lead",
        "Eigenaar ‘Ruud Hendriks’ converteert 21,3% bij Offerte (proposal) → Order / Klant",
        "paradox van Simpson",
    ],
    "06_improvement.html": [
        "Stijgt Kans (opportunity) → Offerte (proposal) van 24% naar 40%, dan gaan de orders van "
        "6,8 naar 11,6 per maand",
        "Er is geen proceswijziging opgegeven",
    ],
    "07_steering.html": [
        "In juli 2026 halen 2 van de 4 KPI's met een doel hun doel.",
        "Duidelijk onder het doel: Conversie Target (suspects) → Lead binnen 90 dagen.",
        "Geen signalen op de regelkaart: Conversie Kans (opportunity) → Offerte (proposal) binnen "
        "90 dagen beweegt binnen zijn grenzen.",
    ],
}

# --- the planted truth ---------------------------------------------------------------------------
# Index 0 is the first calendar year of the data ("before"), index 1 every later year ("after"):
# marketing cut the event budget and hired a cold-calling agency. Each action converts a little
# better afterwards, yet the overall target->lead rate falls (Simpson's paradox).
_MIX = np.array([[0.20, 0.35, 0.25, 0.20],     # cold calling, event, mailing, network
                 [0.45, 0.15, 0.22, 0.18]])
_TARGET_RATE = np.array([[0.135, 0.585, 0.285, 0.25],
                         [0.160, 0.610, 0.310, 0.295]])
# Network referrals arrive warm: this share of network records enters at lead or opportunity, so
# (with skip = passed) network's observed target->lead rate is 0.4 + 0.6 * p: about 0.55 and 0.57.
_REFERRAL_SHARE = 0.40
_REFERRAL_AT_OPPORTUNITY = 0.30
_LEAD_RATE = 0.50
_OPPORTUNITY_RATE = 0.22          # the bottleneck; skips from lead lift the observed rate to ~0.27
_PROPOSAL_RATE = 0.50
_LEAKY_PROPOSAL_RATE = 0.20
_SKIP = (0.03, 0.06, 0.0, 0.0)    # share of conversions that jump one phase (target->opp, lead->prop)
_CONVERT_MEDIAN_DAYS = (10.0, 20.0, 30.0, 25.0)
_LOSS_MEDIAN_DAYS = (15.0, 30.0, 40.0, 35.0)
_GAMMA_SHAPE = 1.5
_SUMMER_WEIGHT = 0.60             # July and August: 40% fewer new suspects per working day
_LATE_DECEMBER_WEIGHT = 0.80      # 21-31 December, on top of the Christmas holidays
_HOLIDAYS = ((1, 1), (4, 27), (12, 25), (12, 26))   # fixed-date Dutch holidays (month, day)
_REGION_P = (0.30, 0.45, 0.25)
_PRODUCT_P = (0.45, 0.35, 0.20)
_PRODUCT_MEDIAN_EUR = (17_500.0, 7_500.0, 11_000.0)
_VALUE_SIGMA = 0.65
_MISSING_VALUE_EARLY = 0.12       # first six months, before the CRM made `Bedrag` mandatory
_MISSING_VALUE_LATER = 0.01

_NS_MINUTE = 60 * 10**9
_NS_DAY = 24 * 60 * _NS_MINUTE
_NAT = np.iinfo(np.int64).min
_OPEN, _WON, _LOST = 0, 1, 2


@dataclass(frozen=True)
class DemoCompany:
    """The canonical demo data in the toolkit's data model.

    Attributes
    ----------
    events : one row per (record, phase entered): `record_id`, `phase` (ordered categorical),
        `entered_at`, `source_stage`, `source_row` (running 1-based number in record, phase order).
    records : one row per record: `record_id, created_at, outcome, closed_at, lost_at_phase, value,
        action, owner, region, product`.
    as_of : the moment the data was extracted; nothing happens at or after it.
    phases : the phase keys in order; the last one is the won outcome.
    """

    events: pd.DataFrame
    records: pd.DataFrame
    as_of: pd.Timestamp
    phases: tuple[str, ...] = field(default=PHASES)


# --- canonical layer -------------------------------------------------------------------------------

def _check_arguments(n_records: object, start: pd.Timestamp, as_of: pd.Timestamp) -> int:
    if isinstance(n_records, bool) or not isinstance(n_records, int | np.integer) or n_records < 1:
        raise OptionError(
            f"The value for `n_records` must be a positive integer, but {n_records!r} was passed."
        )
    if as_of - start < pd.Timedelta(days=120):
        raise OptionError(
            f"The value for `as_of` must be at least 120 days after `start` so every phase can be "
            f"reached, but start={start.date()} and as_of={as_of.date()} were passed."
        )
    return int(n_records)


def _timestamp(value: object, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise OptionError(
            f"The value for `{name}` must be a date such as '2024-01-01', but {value!r} was passed."
        ) from exc
    if stamp.tzinfo is not None:
        raise OptionError(
            f"The value for `{name}` must be time-zone naive (the engagement's local time), but "
            f"{value!r} was passed. Drop the time zone, e.g. pd.Timestamp(x).tz_localize(None)."
        )
    return stamp.normalize()


def _working_days(days: pd.DatetimeIndex) -> np.ndarray:
    """Monday to Friday, except the fixed-date Dutch holidays."""
    working = np.asarray(days.day_of_week < 5)
    for month, day in _HOLIDAYS:
        working &= ~np.asarray((days.month == month) & (days.day == day))
    return working


def _day_weights(days: pd.DatetimeIndex) -> np.ndarray:
    """Relative volume of new suspects per calendar day: working days only, seasonal dips."""
    weights = np.where(_working_days(days), 1.0, 0.0)
    weights[np.isin(days.month, (7, 8))] *= _SUMMER_WEIGHT
    weights[(days.month == 12) & (days.day >= 21)] *= _LATE_DECEMBER_WEIGHT
    return weights


def _working_time(day_ns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random minute within office hours (08:00-18:00) on the given day."""
    return day_ns + rng.integers(8 * 60, 18 * 60, size=len(day_ns)) * _NS_MINUTE


def _next_time(prev: np.ndarray, delay_days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The moment of the next stage change: `delay_days` later, in office hours, on a weekday."""
    day = (prev + (delay_days * _NS_DAY).astype(np.int64)) // _NS_DAY * _NS_DAY
    dow = (day // _NS_DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    day = day + np.where(dow == 5, 2 * _NS_DAY, np.where(dow == 6, _NS_DAY, 0))
    moment = _working_time(day, rng)
    # Same-day changes late in the day: a few minutes after the previous one keeps the order.
    later = prev + rng.integers(5, 120, size=len(prev)) * _NS_MINUTE
    return np.where(moment <= prev, later, moment)


def _systematic_draw(p: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bernoulli(p) draws whose number of successes per group is fixed to within one.

    Records are put in random order within each group and a systematic sample is taken along the
    cumulated probabilities (a random start u in [0, 1), a hit every time the running sum crosses an
    integer). Each record keeps its marginal probability p, but a group's success count equals its
    expected count up to rounding, so the planted rates are realised almost exactly even in small
    samples (a +2.5-point change must not drown in binomial noise). Sub-groups that are not part of
    `groups` (region, product) keep ordinary sampling noise.
    """
    m = len(p)
    if m == 0:
        return np.zeros(0, dtype=bool)
    _, g = np.unique(groups, return_inverse=True)
    order = np.lexsort((rng.random(m), g))
    gs, ps = g[order], p[order]
    cs = np.cumsum(ps)
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    before = cs[starts] - ps[starts]
    u = rng.random(len(starts))
    within = cs - before[gs] + u[gs]
    hit = np.floor(within) > np.floor(within - ps)
    out = np.empty(m, dtype=bool)
    out[order] = hit
    return out


def _record_ids(n: int) -> pa.Array:
    width = max(6, len(str(n + 10)))
    # built as `string` and cast: Arrow converts a NumPy text array to `large_string` directly
    # only from pyarrow 20 on
    return pa.array(np.char.add("D", np.char.zfill(np.arange(1, n + 1).astype(str), width))
                    ).cast(pa.large_string())


def _labels(codes: np.ndarray, names: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """A string column from integer codes into a small vocabulary, without a Python object per row
    (a million records must generate in seconds)."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int32)),
                                                pa.array(list(names), type=pa.large_string()))
    return pd.array(dictionary.cast(pa.large_string()), dtype="str")


def _canonical_tables(phases: Sequence[str], entered: np.ndarray, created: np.ndarray,
                      outcome: np.ndarray, closed: np.ndarray, lost_at: np.ndarray,
                      value: np.ndarray, attributes: dict, stages) -> tuple[pd.DataFrame,
                                                                            pd.DataFrame]:
    """`events` and `records` in the toolkit's data model from the generator's arrays
    (`entered`: records x phases, NaT where not reached; `attributes`: name -> (codes, labels);
    `stages(rec_idx, ph)`: the CRM stage name of each event)."""
    ids = _record_ids(len(created))
    phase_dtype = pd.CategoricalDtype(list(phases), ordered=True)
    rec_idx, ph = np.nonzero(entered != _NAT)
    events = pd.DataFrame({
        "record_id": pd.array(ids.take(pa.array(rec_idx)), dtype="str"),
        "phase": pd.Categorical.from_codes(ph, dtype=phase_dtype),
        "entered_at": entered[rec_idx, ph].view("datetime64[ns]"),
        "source_stage": stages(rec_idx, ph),
        "source_row": pd.array(np.arange(1, len(ph) + 1), dtype="Int64"),
    })
    records = pd.DataFrame({
        "record_id": pd.array(ids, dtype="str"),
        "created_at": created.view("datetime64[ns]"),
        "outcome": _labels(outcome, ("open", "won", "lost")),
        "closed_at": closed.view("datetime64[ns]"),
        "lost_at_phase": pd.Categorical.from_codes(lost_at, dtype=phase_dtype),
        "value": value,
        **{name: _labels(codes, labels) for name, (codes, labels) in attributes.items()},
    })
    return events, records


def generate_company(*, n_records: int = 12_000, seed: int = 2024,
                     start: str | pd.Timestamp = "2024-01-01",
                     as_of: str | pd.Timestamp = "2026-10-31") -> DemoCompany:
    """Generate the demo company's canonical CRM data with the planted effects.

    Parameters
    ----------
    n_records : number of records (suspects and referrals) created between `start` and `as_of`.
    seed : seed of the random generator; the same seed gives the same company.
    start : first creation date.
    as_of : extraction date; every event and closure happens before it.

    Returns
    -------
    DemoCompany
        `events`, `records`, `as_of`, `phases` in the toolkit's data model.

    Notes
    -----
    Records are created on working days with weights 1, 0.6 in July-August and 0.8 on 21-31
    December. Most start at `target`; 40% of network records are referrals entering at `lead` (70%)
    or `opportunity` (30%). At phase k a record eventually converts with probability p_k (depending
    on action and year at target, on the owner at proposal) or is lost; the time to either is
    gamma(shape 1.5) with medians 10/20/30/25 days (conversions) and 15/30/40/35 days (losses), moved
    into office hours on weekdays. If that moment lies at or after `as_of` the record is open at k.
    3% of target and 6% of lead conversions skip a phase. Decisions are drawn with a systematic
    sample per (phase, year, action, owner) cell so the planted rates hold almost exactly; see
    `answer_key` for the realised numbers. This is a teaching data set, not a model of any real
    company: do not use its rates as benchmarks.
    """
    start_ts = _timestamp(start, "start")
    as_of_ts = _timestamp(as_of, "as_of")
    n = _check_arguments(n_records, start_ts, as_of_ts)
    rng = np.random.default_rng(check_seed(seed))
    as_of_ns = as_of_ts.value

    # Creation: working days weighted by season, office-hour times, IDs in creation order.
    days = pd.date_range(start_ts, as_of_ts - pd.Timedelta(days=1), freq="D", unit="ns")
    weights = _day_weights(days)
    day_idx = np.sort(rng.choice(len(days), size=n, p=weights / weights.sum()))
    day_ns = days.asi8[day_idx]
    created = np.sort(_working_time(day_ns, rng))  # sorting again orders same-day times
    year = pd.DatetimeIndex(created.view("datetime64[ns]")).year.to_numpy()
    era = (year > start_ts.year).astype(np.int64)

    action = np.empty(n, dtype=np.int64)
    for e in (0, 1):
        sel = np.flatnonzero(era == e)
        action[sel] = rng.choice(len(ACTIONS), size=len(sel), p=_MIX[e])
    owner = rng.integers(0, len(OWNERS), size=n)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_P)
    product = rng.choice(len(PRODUCTS), size=n, p=_PRODUCT_P)
    value = np.exp(np.log(np.asarray(_PRODUCT_MEDIAN_EUR)[product])
                   + _VALUE_SIGMA * rng.standard_normal(n))
    value = np.maximum(np.round(value, -1), 500.0)
    early = created < (start_ts + pd.DateOffset(months=6)).value
    missing = rng.random(n) < np.where(early, _MISSING_VALUE_EARLY, _MISSING_VALUE_LATER)
    value[missing] = np.nan

    # Calendar year, not era, so each year's rates are fixed on their own (Simpson compares years).
    cell = (year - year.min()) * 100 + action * 10 + owner
    network = np.flatnonzero(action == ACTIONS.index(NETWORK))
    referral = np.zeros(n, dtype=bool)
    referral[network] = _systematic_draw(np.full(len(network), _REFERRAL_SHARE), cell[network], rng)
    phase_at = np.zeros(n, dtype=np.int64)
    phase_at[referral] = np.where(rng.random(int(referral.sum())) < _REFERRAL_AT_OPPORTUNITY, 2, 1)

    entered = np.full((n, len(PHASES)), _NAT, dtype=np.int64)
    entered[np.arange(n), phase_at] = created
    t_at = created.copy()
    outcome = np.full(n, _OPEN, dtype=np.int8)
    closed = np.full(n, _NAT, dtype=np.int64)
    lost_at = np.full(n, -1, dtype=np.int8)
    active = np.ones(n, dtype=bool)
    gamma_median = float(gammaincinv(_GAMMA_SHAPE, 0.5))

    for k in range(len(PHASES) - 1):
        idx = np.flatnonzero(active & (phase_at == k))
        if k == 0:
            p = _TARGET_RATE[era[idx], action[idx]]
        elif k == 1:
            p = np.full(len(idx), _LEAD_RATE)
        elif k == 2:
            p = np.full(len(idx), _OPPORTUNITY_RATE)
        else:
            p = np.where(owner[idx] == OWNERS.index(LEAKY_OWNER), _LEAKY_PROPOSAL_RATE,
                         _PROPOSAL_RATE)
        converts = _systematic_draw(p, cell[idx], rng)
        step = 1 + (converts & (rng.random(len(idx)) < _SKIP[k]))
        median = np.where(converts, _CONVERT_MEDIAN_DAYS[k], _LOSS_MEDIAN_DAYS[k]) * (
            np.where(step == 2, 1.5, 1.0))
        delay = rng.gamma(_GAMMA_SHAPE, median / gamma_median)
        when = _next_time(t_at[idx], delay, rng)
        happened = when < as_of_ns

        moved = converts & happened
        rec, to = idx[moved], k + step[moved]
        entered[rec, to] = when[moved]
        phase_at[rec] = to
        t_at[rec] = when[moved]

        gone = ~converts & happened
        rec = idx[gone]
        outcome[rec] = _LOST
        closed[rec] = when[gone]
        lost_at[rec] = k
        active[idx[~happened]] = False  # still open at k on the as-of date
        active[rec] = False

    won = phase_at == len(PHASES) - 1
    outcome[won] = _WON
    closed[won] = entered[won, -1]

    def demo_stages(rec_idx: np.ndarray, ph: np.ndarray) -> pd.api.extensions.ExtensionArray:
        # Referrals entering at lead come in qualified; every other entry uses the phase's first
        # stage.
        stage_code = np.where((ph == 1) & (entered[rec_idx, 1] == created[rec_idx]), 5, ph)
        return _labels(stage_code, ("Suspect", "Lead", "Potentieel", "Offerte uitgebracht",
                                    "Gewonnen", "Lead gekwalificeerd"))

    events, records = _canonical_tables(
        PHASES, entered, created, outcome, closed, lost_at, value,
        {"action": (action, ACTIONS), "owner": (owner, OWNERS), "region": (region, REGIONS),
         "product": (product, PRODUCTS)}, demo_stages)
    return DemoCompany(events=events, records=records, as_of=as_of_ts, phases=PHASES)


# --- the answer key --------------------------------------------------------------------------------

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
    return np.where(entered == never, _NAT, entered), highest


def _highest_phase(company: DemoCompany) -> np.ndarray:
    """Code of the highest phase each record reached (-1 if none), aligned with `records`."""
    return _event_table(company)[1]


def _reached_at(entered: np.ndarray) -> np.ndarray:
    """reached_at[k] per record (ns, NaT sentinel): earliest entry among phases >= k."""
    never = np.iinfo(np.int64).max
    filled = np.where(entered == _NAT, never, entered)
    reached = np.minimum.accumulate(filled[:, ::-1], axis=1)[:, ::-1]
    return np.where(reached == never, _NAT, reached)


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
        direct = success & (reached_at[:, k] != _NAT) & (reached_at[:, k + 1] != _NAT)
        days = (reached_at[direct, k + 1] - reached_at[direct, k]) / _NS_DAY
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
    started_at_target = entered[:, 0] != _NAT
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
    work = pd.Series(_working_days(days), index=days)
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


# --- export layer ----------------------------------------------------------------------------------

_FIRST_NAMES = (
    "José", "Zoë", "Chloë", "Noël", "René", "Anaïs", "Inès", "André", "Joëlle", "Rémy", "Jan",
    "Pieter", "Annelies", "Femke", "Sven", "Mohammed", "Fatma", "Kees", "Willemijn", "Daan", "Eva",
    "Thijs", "Sophie", "Lucas", "Marloes", "Bart", "Yvonne", "Hélène", "Maarten", "Ilse",
)
_LAST_NAMES = (
    "Brouwer", "de Jong", "Jansen", "de Boer", "Mulder", "Smit", "Meijer", "van der Linden", "Kok",
    "Bos", "Öztürk", "Çelik", "Müller", "Verhoeven", "van Rijn", "Dekker", "Kuiper", "de Wit",
    "Hoekstra", "Postma", "Claessens", "Lefèvre", "Gómez", "van Dijk", "Peeters", "Schröder",
)
_HISTORY_HEADER = ("Deal ID", "Fase", "Datum wijziging", "Bedrag", "Actie", "Eigenaar", "Regio",
                   "Product", "Aangemaakt op", "Contactpersoon")
_SNAPSHOT_HEADER = ("Deal ID", "Huidige fase", "Fase bij verlies", "Aangemaakt op", "Sluitdatum",
                    "Bedrag", "Actie", "Eigenaar", "Regio", "Product", "Contactpersoon")
_BULK_ROWS = 300
_EXACT_DUPLICATES = 30
_BLANK_DATE_ROWS = 10
_IMPOSSIBLE_DATES = ("31-02-2025", "30-02-2026", "31-04-2025")
_TEST_DEALS = 4
_BLANK_ID_ROWS = 3
_SERIAL_DATE_CELLS = 20
_MESSY_STAGE_SHARE = 0.02
_REGRESSION_SHARE = 0.03
_REOPEN_SHARE = 0.01
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def _phase_code_of_stage(stages: np.ndarray) -> np.ndarray:
    """Phase code of a clean CRM stage name: 0..4, -1 for Verloren."""
    table = {s: PHASES.index(t) for s, t in STAGE_MAPPING.items() if t in PHASES}
    table["Gewonnen"] = len(PHASES) - 1
    table["Verloren"] = -1
    return pd.Series(stages).map(table).to_numpy(np.int64)


def _inserted(a: np.ndarray, b: np.ndarray, low: float, high: float,
              rng: np.random.Generator) -> np.ndarray:
    """A whole-minute moment a fraction in [low, high) of the way from a to b."""
    frac = rng.uniform(low, high, size=len(a))
    return (a + ((b - a) * frac).astype(np.int64)) // _NS_MINUTE * _NS_MINUTE


def _history_rows(company: DemoCompany, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Every genuine stage change of the CRM, in true time order; plus counts of what was planted.

    Returns rows with `rec` (record position), `stage`, `t` (ns) and `seq` (order within record).
    """
    rec = company.records
    n, k_last = len(rec), len(PHASES) - 1
    ev = company.events
    ev_rec = pd.Index(rec["record_id"]).get_indexer(ev["record_id"])
    ev_ph = ev["phase"].cat.codes.to_numpy()
    ev_t = ev["entered_at"].to_numpy("datetime64[ns]").view(np.int64)
    entered = np.full((n, len(PHASES)), _NAT, dtype=np.int64)
    entered[ev_rec, ev_ph] = ev_t
    first_stage = np.full((n, len(PHASES)), "", dtype=object)
    first_stage[ev_rec, ev_ph] = ev["source_stage"].to_numpy(str)
    outcome = rec["outcome"].to_numpy(str)
    closed = rec["closed_at"].to_numpy("datetime64[ns]").view(np.int64)
    as_of_ns = company.as_of.value

    # End of the stay in each phase: the next phase's entry, else the loss, else the as-of date.
    end = np.full((n, len(PHASES)), _NAT, dtype=np.int64)
    following = np.where(outcome == "lost", closed, np.where(outcome == "open", as_of_ns, _NAT))
    for k in range(k_last, -1, -1):
        end[:, k] = following
        following = np.where(entered[:, k] != _NAT, entered[:, k], following)
    has = entered != _NAT
    gap = np.where(has, end - entered, 0)

    parts = [pd.DataFrame({"rec": ev_rec, "stage": ev["source_stage"].to_numpy(str), "t": ev_t})]
    lost = np.flatnonzero(outcome == "lost")
    parts.append(pd.DataFrame({"rec": lost, "stage": "Verloren", "t": closed[lost]}))

    # A second CRM stage within lead and proposal ("Lead gekwalificeerd", "Onderhandeling").
    counts: dict[str, int] = {}
    negotiated = np.zeros(n, dtype=bool)
    for k, first, second, share in ((1, "Lead", "Lead gekwalificeerd", 0.6),
                                    (3, "Offerte uitgebracht", "Onderhandeling", 0.5)):
        ok = has[:, k] & (gap[:, k] >= _NS_DAY) & (first_stage[:, k] == first)
        pick = np.flatnonzero(ok & (rng.random(n) < share))
        parts.append(pd.DataFrame({"rec": pick, "stage": second,
                                   "t": _inserted(entered[pick, k], end[pick, k], 0.2, 0.4, rng)}))
        counts[f"substage_{second}"] = len(pick)
        if k == 3:
            negotiated[pick] = True

    # Regressions: back from proposal to Potentieel, then forward to proposal again.
    ok = np.flatnonzero(has[:, 3] & (gap[:, 3] >= 3 * _NS_DAY))
    size = min(len(ok), int(round(_REGRESSION_SHARE * has[:, 3].sum())))
    pick = np.sort(rng.choice(ok, size=size, replace=False))
    back = _inserted(entered[pick, 3], end[pick, 3], 0.5, 0.6, rng)
    again = _inserted(entered[pick, 3], end[pick, 3], 0.7, 0.8, rng)
    parts.append(pd.DataFrame({"rec": pick, "stage": "Potentieel", "t": back}))
    parts.append(pd.DataFrame({"rec": pick, "stage": np.where(
        negotiated[pick], "Onderhandeling", "Offerte uitgebracht"), "t": again}))
    counts["regression_records"] = len(pick)

    # Re-opened after lost: Verloren while at opportunity, then Potentieel again and on as before.
    ok = np.flatnonzero(has[:, 2] & (gap[:, 2] >= 4 * _NS_DAY))
    size = min(len(ok), int(round(_REOPEN_SHARE * n)))
    pick = np.sort(rng.choice(ok, size=size, replace=False))
    parts.append(pd.DataFrame({"rec": pick, "stage": "Verloren",
                               "t": _inserted(entered[pick, 2], end[pick, 2], 0.4, 0.5, rng)}))
    parts.append(pd.DataFrame({"rec": pick, "stage": "Potentieel",
                               "t": _inserted(entered[pick, 2], end[pick, 2], 0.55, 0.65, rng)}))
    counts["reopened_records"] = len(pick)
    final = outcome[pick]
    for state in ("won", "lost", "open"):
        counts[f"reopened_then_{state}"] = int((final == state).sum())

    rows = pd.concat(parts, ignore_index=True)
    rows = rows.sort_values(["rec", "t"], kind="stable", ignore_index=True)
    rows["seq"] = rows.groupby("rec").cumcount()
    return rows, counts


def _format_amount(value: pd.Series) -> pd.Series:
    """Dutch decimal comma, two decimals, no thousands separator; blank when missing."""
    cents = (value * 100).round()
    text = (cents // 100).astype("Int64").astype(str) + "," + (cents % 100).astype(
        "Int64").astype(str).str.zfill(2)
    return text.where(value.notna(), "")


def _messy(stage: pd.Series, rng: np.random.Generator) -> pd.Series:
    variants = (lambda s: " " + s.lower(), lambda s: s + " ", lambda s: s.upper(),
                lambda s: "  " + s, lambda s: s.lower())
    choice = rng.integers(0, len(variants), size=len(stage))
    return pd.Series([variants[c](s) for c, s in zip(choice, stage, strict=True)],
                     index=stage.index, dtype=object)


def _build_exports(company: DemoCompany, seed: int) -> tuple[bytes, pd.DataFrame, dict]:
    """The history CSV bytes, the snapshot table and the planted-dirt manifest."""
    rng = np.random.default_rng([seed, 1])
    rec = company.records
    n = len(rec)
    rows, counts = _history_rows(company, rng)
    first = rng.integers(0, len(_FIRST_NAMES), size=n)
    last = rng.integers(0, len(_LAST_NAMES), size=n)
    contact = np.char.add(np.char.add(np.asarray(_FIRST_NAMES)[first], " "),
                          np.asarray(_LAST_NAMES)[last])

    # Bulk timestamp: deals carried over from the old Excel tracker got the migration moment as the
    # date of every stage change before it.
    first_month = rec["created_at"].min().to_period("M").start_time
    migration = first_month + pd.DateOffset(months=2) + pd.Timedelta(hours=9)
    shown_t = rows["t"].to_numpy().copy()
    before = rows["t"].to_numpy() < migration.value
    per_record = pd.Series(before).groupby(rows["rec"]).sum()
    # A stage entered twice before the migration would become an exact duplicate row once
    # stamped; only the planted duplicates may be exact duplicates.
    repeated = rows[before & rows.duplicated(["rec", "stage"])]["rec"].unique()
    candidates = per_record[(per_record > 0) & ~per_record.index.isin(repeated)]
    order = rng.permutation(len(candidates))
    cum = candidates.to_numpy()[order].cumsum()
    chosen = candidates.index.to_numpy()[order][cum <= _BULK_ROWS]
    bulk = before & np.isin(rows["rec"].to_numpy(), chosen)
    if migration >= company.as_of:
        bulk[:] = False
    shown_t[bulk] = migration.value
    counts["bulk_timestamp"] = migration.strftime("%d-%m-%Y %H:%M")
    counts["bulk_timestamp_rows"] = int(bulk.sum())
    counts["bulk_timestamp_records"] = int(len(np.unique(rows["rec"].to_numpy()[bulk])))

    r = rows["rec"].to_numpy()
    table = pd.DataFrame({
        "Deal ID": rec["record_id"].to_numpy(str)[r],
        "Fase": rows["stage"].astype(object),
        "Datum wijziging": pd.Series(shown_t.view("datetime64[ns]")).dt.strftime("%d-%m-%Y %H:%M"),
        "Bedrag": _format_amount(rec["value"]).to_numpy()[r],
        "Actie": rec["action"].to_numpy(str)[r],
        "Eigenaar": rec["owner"].to_numpy(str)[r],
        "Regio": rec["region"].to_numpy(str)[r],
        "Product": rec["product"].to_numpy(str)[r],
        "Aangemaakt op": rec["created_at"].dt.strftime("%d-%m-%Y").to_numpy()[r],
        "Contactpersoon": contact[r],
    })
    table["_key"] = np.lexsort((rows["seq"].to_numpy(), r, shown_t)).argsort().astype(float)
    counts["genuine_rows"] = len(table)

    messy = np.sort(rng.choice(len(table), size=round(_MESSY_STAGE_SHARE * len(table)),
                               replace=False))
    table.loc[messy, "Fase"] = _messy(table.loc[messy, "Fase"], rng).to_numpy()
    counts["messy_stage_rows"] = len(messy)

    extra = []
    dup = table.iloc[np.sort(rng.choice(len(table), size=_EXACT_DUPLICATES, replace=False))].copy()
    dup["_key"] += 0.5  # right after the original, as a join in the export would put it
    extra.append(dup)
    blank = table.iloc[rng.choice(len(table), size=_BLANK_DATE_ROWS, replace=False)].copy()
    blank["Datum wijziging"] = ""
    blank["_key"] = rng.uniform(0, len(table), size=len(blank))
    extra.append(blank)
    bad = table.iloc[rng.choice(len(table), size=len(_IMPOSSIBLE_DATES), replace=False)].copy()
    bad["Datum wijziging"] = [f"{d} {t[-5:]}" for d, t in
                              zip(_IMPOSSIBLE_DATES, bad["Datum wijziging"], strict=True)]
    bad["_key"] = rng.uniform(0, len(table), size=len(bad))
    extra.append(bad)
    noid = table.iloc[rng.choice(len(table), size=_BLANK_ID_ROWS, replace=False)].copy()
    noid["Deal ID"] = ""
    noid["_key"] = rng.uniform(0, len(table), size=len(noid))
    extra.append(noid)

    width = len(rec["record_id"].iloc[0]) - 1
    test_ids = [f"D{n + i:0{width}d}" for i in range(1, _TEST_DEALS + 1)]
    test_created = np.sort(company.as_of.value - rng.integers(5, 60, size=_TEST_DEALS) * _NS_DAY
                           + rng.integers(8 * 60, 18 * 60, size=_TEST_DEALS) * _NS_MINUTE)
    test_created_ts = pd.Series(test_created.view("datetime64[ns]"))
    tests = pd.DataFrame({
        "Deal ID": test_ids, "Fase": "Test",
        "Datum wijziging": test_created_ts.dt.strftime("%d-%m-%Y %H:%M"),
        "Bedrag": "1,00", "Actie": "", "Eigenaar": np.asarray(OWNERS)[[0, 2, 0, 4]],
        "Regio": "", "Product": "", "Aangemaakt op": test_created_ts.dt.strftime("%d-%m-%Y"),
        "Contactpersoon": "Test Gebruiker",
        "_key": np.searchsorted(np.sort(shown_t), test_created) - 0.25,
    })
    extra.append(tests)
    history = pd.concat([table, *extra], ignore_index=True)
    history = history.sort_values("_key", kind="stable").drop(columns="_key")
    counts.update({
        "exact_duplicate_rows": _EXACT_DUPLICATES, "blank_date_rows": _BLANK_DATE_ROWS,
        "impossible_date_rows": len(_IMPOSSIBLE_DATES), "blank_deal_id_rows": _BLANK_ID_ROWS,
        "test_deals": _TEST_DEALS, "test_rows": _TEST_DEALS, "rows_total": len(history),
        "records_without_bedrag": int(rec["value"].isna().sum()),
    })
    buffer = io.StringIO()
    history.to_csv(buffer, sep=";", index=False, lineterminator="\r\n")
    csv_bytes = buffer.getvalue().encode("cp1252")

    # Snapshot: the deal table as the CRM shows it today.
    genuine = rows.assign(code=_phase_code_of_stage(rows["stage"].to_numpy()))
    last_row = genuine.groupby("rec").tail(1).set_index("rec")
    current = last_row["stage"].reindex(range(n)).to_numpy(object)
    highest = _highest_phase(company)
    in_highest = genuine[genuine["code"].to_numpy() == highest[genuine["rec"].to_numpy()]]
    highest_stage = in_highest.groupby("rec").tail(1).set_index("rec")["stage"].reindex(range(n))
    outcome = rec["outcome"].to_numpy(str)
    created_day = rec["created_at"].dt.normalize()
    created_cells = np.array(created_day.dt.date, dtype=object)
    serial = rng.choice(n, size=min(_SERIAL_DATE_CELLS, n), replace=False)
    created_cells[serial] = [int((created_day.iloc[i] - _EXCEL_EPOCH).days) for i in serial]
    closed_day = rec["closed_at"].dt.normalize()
    snapshot = pd.DataFrame({
        "Deal ID": rec["record_id"].to_numpy(str),
        "Huidige fase": current,
        "Fase bij verlies": np.where(outcome == "lost", highest_stage.to_numpy(object), None),
        "Aangemaakt op": created_cells,
        "Sluitdatum": np.asarray([None if pd.isna(d) else d.date() for d in closed_day],
                                 dtype=object),
        "Bedrag": rec["value"].astype(object).where(rec["value"].notna(), None).to_numpy(),
        "Actie": rec["action"].to_numpy(str),
        "Eigenaar": rec["owner"].to_numpy(str),
        "Regio": rec["region"].to_numpy(str),
        "Product": rec["product"].to_numpy(str),
        "Contactpersoon": contact,
    })
    snapshot_tests = pd.DataFrame({
        "Deal ID": test_ids, "Huidige fase": "Test", "Fase bij verlies": None,
        "Aangemaakt op": list(test_created_ts.dt.date), "Sluitdatum": None, "Bedrag": 1.0,
        "Actie": None, "Eigenaar": np.asarray(OWNERS)[[0, 2, 0, 4]], "Regio": None,
        "Product": None, "Contactpersoon": "Test Gebruiker",
    })
    snapshot = pd.concat([snapshot, snapshot_tests], ignore_index=True)
    counts["snapshot_rows"] = len(snapshot)
    counts["snapshot_serial_date_cells"] = len(serial)
    counts["snapshot_test_deals"] = _TEST_DEALS
    return csv_bytes, snapshot, counts


def _fixed_zip(data: bytes, moment: pd.Timestamp) -> bytes:
    """Rewrite an XLSX zip with fixed entry times and fixed document timestamps."""
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            content = zin.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<3>", content)
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            zout.writestr(fixed, content)
    return out.getvalue()


def _xlsx_bytes(snapshot: pd.DataFrame, moment: pd.Timestamp) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    wb.properties.creator = f"CRM export {COMPANY_NAME}"
    wb.properties.created = wb.properties.modified = moment.to_pydatetime()
    ws = wb.create_sheet("Deals")
    ws.append(list(_SNAPSHOT_HEADER))
    date_cols = {_SNAPSHOT_HEADER.index("Aangemaakt op"), _SNAPSHOT_HEADER.index("Sluitdatum")}
    amount_col = _SNAPSHOT_HEADER.index("Bedrag")
    for values in snapshot.itertuples(index=False, name=None):
        row = []
        for j, v in enumerate(values):
            if v is None or (isinstance(v, float) and np.isnan(v)):
                row.append(None)
            elif j in date_cols and not isinstance(v, int):
                cell = WriteOnlyCell(ws, value=v)
                cell.number_format = "dd-mm-yyyy"
                row.append(cell)
            elif j == amount_col:
                cell = WriteOnlyCell(ws, value=float(v))
                cell.number_format = "#,##0.00"
                row.append(cell)
            else:
                row.append(v)
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return _fixed_zip(buffer.getvalue(), moment)


def _md_table(frame: pd.DataFrame, digits: dict[str, int] | None = None) -> str:
    digits = digits or {}

    def cell(col: str, v: object) -> str:
        if isinstance(v, float | np.floating):
            if np.isnan(v):
                return ""
            return f"{v:,.{digits.get(col, 3)}f}"
        return str(v)

    head = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(c, v) for c, v in zip(frame.columns, row, strict=True)) + " |"
            for row in frame.itertuples(index=False, name=None)]
    return "\n".join([head, rule, *body])


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _readme(company: DemoCompany, key: AnswerKey, manifest: dict, seed: int) -> str:
    f = key.facts
    t = key.transitions.set_index("from_phase")
    y0 = int(f["simpson_years"][:4])
    simpson = key.simpson.copy()
    simpson_before = simpson[simpson["period"] == y0].set_index("segment")
    simpson_after = simpson[simpson["period"] == y0 + 1].set_index("segment")
    mapping = "\n".join(f"| `{stage}` | `{target}` |" for stage, target in STAGE_MAPPING.items())
    dirt = json.dumps(manifest, indent=2, ensure_ascii=False)
    start = company.records["created_at"].min().strftime("%d-%m-%Y")
    files_rows = "\n".join([
        f"| `crm_fasehistorie.csv` | stage history, one row per stage change "
        f"({manifest['rows_total']:,} rows) | cp1252, `;`, decimal comma in `Bedrag`, "
        "`dd-mm-yyyy HH:MM`, CRLF; dirt below |",
        f"| `crm_deals.xlsx` (sheet `Deals`) | snapshot, one row per deal "
        f"({manifest['snapshot_rows']:,} rows) | Excel dates `dd-mm-yyyy`; "
        f"{manifest['snapshot_serial_date_cells']} `Aangemaakt op` cells are plain serial "
        f"numbers; {manifest['snapshot_test_deals']} Test deals |",
    ])
    return f"""# Demo company: {COMPANY_NAME}

*Generated by `python -m toolkit.datasets data/demo` (seed {seed}, {f['records']:,} records,
as-of date {company.as_of:%d-%m-%Y}). Do not edit by hand: change `toolkit/datasets.py` and
regenerate. Same seed, same bytes.*

This is the **trainer's answer key**. The company is fictional; its problems were planted on purpose
and every number below was computed from the generated data (`toolkit.datasets.answer_key`).

## The story

{COMPANY_NAME} installs and maintains climate and electrical installations for businesses across
the Netherlands (regions Noord, Midden, Zuid). It sells three products: *Installatie* (large
projects), *Onderhoud* (maintenance contracts) and *Advies* (consultancy). Marketing finds suspects
by **cold calling**, **events**, **mailings** and the **network**, in the method's words *koud
bellen*, *uitnodigen op een evenement*, *mailen* and *benaderen via het netwerk*: the target phase's
actions in `engagement.yaml` and the values of the CRM's `Actie` column; five account managers
({", ".join(OWNERS)}) take them from lead to order. The CRM holds every deal since {start}
(the first two months were migrated from the old Excel tracker on {manifest['bulk_timestamp']}).
In {y0 + 1} the event budget was cut and a cold-calling agency was hired. Management says "we
need more leads"; the data says something else.

## Files

| file | what | quirks |
|---|---|---|
{files_rows}
| `engagement.yaml` | the demo engagement (written by hand) | |

CSV header: `{";".join(_HISTORY_HEADER)}`. `Contactpersoon` is personal data (fake names with
accents, e.g. "José Brouwer"): the loader must pseudonymise it. Both files describe the same deals:
the reached-per-phase counts from either file equal the table in *Baseline* below.

### Planted dirt in the history CSV

- **Stage names with stray spaces or case** (e.g. ` offerte uitgebracht`, `LEAD`):
  {manifest['messy_stage_rows']} rows (~2%). Normalise (trim, collapse spaces, case-fold) before mapping.
- **Regressions**: {manifest['regression_records']} records went back from an Offerte stage to
  `Potentieel` and forward again. They never un-reach a phase; count them in the audit.
- **Re-opened after lost**: {manifest['reopened_records']} records have `Verloren` followed by
  `Potentieel` again; the final state is the outcome (won {manifest['reopened_then_won']},
  lost {manifest['reopened_then_lost']}, open {manifest['reopened_then_open']}).
- **Bulk timestamp**: {manifest['bulk_timestamp_rows']} rows of {manifest['bulk_timestamp_records']}
  early records carry exactly `{manifest['bulk_timestamp']}` (the migration from the old Excel
  tracker stamped their earlier stage changes). Their true times are in the canonical layer; durations
  of these records are not trustworthy.
- **Exact duplicate rows**: {manifest['exact_duplicate_rows']}, each right after its original.
- **Blank `Datum wijziging`**: {manifest['blank_date_rows']} rows, each repeating a stage the record
  already has (dropping them loses nothing).
- **Impossible dates** (`31-02-2025`, `30-02-2026`, `31-04-2025`): {manifest['impossible_date_rows']}
  rows, again repeating an existing stage.
- **Test deals**: {manifest['test_deals']} deals with only the stage `Test` (ignore them).
- **Blank `Deal ID`**: {manifest['blank_deal_id_rows']} rows (copies of real rows).
- **Missing `Bedrag`**: {manifest['records_without_bedrag']} deals, mostly from the first six months
  ({_pct(f['value_missing_share'])} of deals).
- Two CRM stages per phase for lead (`Lead`, `Lead gekwalificeerd`: {manifest['substage_Lead gekwalificeerd']}
  extra rows) and proposal (`Offerte uitgebracht`, `Onderhandeling`: {manifest['substage_Onderhandeling']}
  extra rows); referrals enter directly as `Lead gekwalificeerd` or `Potentieel`.

Machine-readable counts (rows are CSV data rows, excluding the header):

```json
{dirt}
```

## Phase model and stage mapping

| # | key | label |
|---|---|---|
""" + "\n".join(f"| {i + 1} | `{p}` | {PHASE_LABELS[p]} |" for i, p in enumerate(PHASES)) + f"""

The last phase (`order`) is the won outcome. **Lost is an exit, not a phase** (`Verloren`).
In the method potentials (suspects) become leads and leads become opportunities, so the third phase
is a *Kans* (opportunity); the CRM calls that stage `Potentieel`, a client's word the stage mapping
translates (a trainee should notice it, not copy it).

| CRM stage | maps to |
|---|---|
{mapping}

## The canonical truth

`toolkit.datasets.generate_company(seed={seed}, n_records={f['records']})` returns the clean tables
(`events`, `records`) the loader should reproduce (apart from the bulk-stamped times). Records:
{f['records']:,}; won {f['won']:,}, lost {f['lost']:,}, open {f['open']:,};
{f['referrals_mid_funnel']:,} network referrals entered mid-funnel (at lead or opportunity). Rates
below are **successes / decided records** (records still open at the phase are left out); skipping a
phase counts as passing it. The toolkit's cohort conversion with a window gives slightly different
numbers (immature cohorts dropped, slow converters counted as not converted): expect the same picture,
not the same decimals.

## What the trainee should find, step by step

### 1 Baseline (Nulmeting)

The data audit finds the dirt listed above (with these counts) and the reconciliation
`rows_in == rows_used + rows_quarantined`. The raw funnel (reached = highest phase ever reached):

{_md_table(key.funnel)}

### 2 Process model

Five phases; the mapping above (two CRM stages each for lead and proposal, `Verloren` = exit,
`Test` = ignore). Target: marketing selects suspects and approaches them by cold calling, events,
mailings or the network. The KPIs on the arrows are the four conversions below.

### 3 KPIs

Management's goal is orders and revenue: orders = suspects x the four conversions, revenue = orders x
average value. Won value in the data: EUR {f['won_value_total']:,.0f}; median deal value EUR
{f['median_value']:,.0f}. Values by product:

{_md_table(key.values, {"median": 0, "won_value": 0})}

### 4 Measurement (KPI's meetbaar maken)

Conversion per transition (decided records; `reached_share` = raw reached(k+1)/reached(k) incl. open;
`median_days` = median time between the phases among direct converters):

{_md_table(key.transitions, {"median_days": 1})}

Time to convert must be measured with lost deals competing and open deals censored (the median
among records that convert, from the cumulative incidence; not a Kaplan-Meier median with lost
deals censored, which is several times longer); the planted medians are about 10 / 20 / 30 / 25
days (plus weekend shifts).

**Seasonality (effect d).** New records per working day dip in July-August (index
{f['summer_volume_index']:.2f}, planted 0.60) and, less, in late December 21-31 (index
{f['late_december_volume_index']:.2f}, planted 0.80; Christmas and New Year's Day are not working
days, so per calendar day the dip looks deeper); the rates do not:

{_md_table(key.seasons)}

Absolute numbers move with the seasons, percentages do not: this is why the method steers on
percentages.

### 5 Diagnosis (Analyse en prioriteren)

**a. Bottleneck: {f['verdict']}.** The lowest conversion is **{f['bottleneck']}** at
{_pct(f['bottleneck_rate'])} (target->lead {_pct(t.loc['target', 'rate'])}, lead->opportunity
{_pct(t.loc['lead', 'rate'])}, proposal->order {_pct(t.loc['proposal', 'rate'])}).
Opportunities drop out before an offer is made. Verdict: **{f['verdict']} first**: more leads is
not the *first* fruit. The early phases are off too: the report counts leads at the lead phase
(the output of Target, qualified leads) and measures their volume against what the order target
needs at today's conversions (10 orders a month need more inflow than the CRM shows), so "Aantal
leads" is a demonstrated gap as well, ranked third on the index after the leak and the owner: the
gain decides what comes first, and the leak gains most.

**b. Action scan (target -> lead).** Event {_pct(f['event_rate'])} vs cold calling
{_pct(f['cold_calling_rate'])}: clearly significant after multiple-testing control. Network looks
good partly because referrals enter mid-funnel and so pass target by definition
(`rate_started_at_target` shows the rate for network suspects that started at target):

{_md_table(key.by_action)}

**c. Owner scan (proposal -> order).** {LEAKY_OWNER} wins {_pct(f['leaky_owner_rate'])} of
{f['leaky_owner_n']} decided proposals against {_pct(f['other_owners_rate'])} for the others: a late
leak at one person (coaching, not marketing). Region and product carry no planted effect; any
"finding" there should not survive the multiple-testing control.

{_md_table(key.by_owner)}

**e. Mix vs rate (Simpson's paradox).** The overall target->lead rate fell from
{_pct(f['simpson_overall_before'])} in {y0} to {_pct(f['simpson_overall_after'])} in {y0 + 1}, yet
every action converted better ({100 * f['simpson_min_action_rise']:+.1f} to
{100 * f['simpson_max_action_rise']:+.1f} points). The cause is the mix: events' share of decided
suspects went from {_pct(simpson_before.loc[EVENT, 'share'])} to
{_pct(simpson_after.loc[EVENT, 'share'])}, cold calling's from
{_pct(simpson_before.loc[COLD_CALLING, 'share'])} to {_pct(simpson_after.loc[COLD_CALLING, 'share'])}.
Decomposition (averaged weights): total {100 * f['mix_effect'] + 100 * f['rate_effect']:+.1f}
points = mix {100 * f['mix_effect']:+.1f} + rate {100 * f['rate_effect']:+.1f}.

{_md_table(key.simpson)}

### 6 Improvement

The ranked low-hanging fruit (the index's top three and step 5's table): (1) the opportunity ->
proposal leak (qualify opportunities, make the offer sooner); (2) coach {LEAKY_OWNER} on closing
(bringing him to a typical owner's rate); (3) the lead volume against the order target; further
down, move budget back from cold calling to events. Step 6's scenario raises the bottleneck to its
target (40%): orders go from about 6.8 to 11.6 a month. (On the canonical truth, raising it by 10
points gives about {f['extra_orders_if_bottleneck_plus_10_points']:.0f} extra orders over the
period at the current proposal -> order rate: the same order of size.) Step 6 also sizes a test of
a 2-point improvement (too slow to read at this inflow: test a bigger change or evaluate
before/after) and says how to declare a change under `changes:`; the demo declares none.

### 7 Steering

A scorecard on the conversions with their intervals: in July 2026 two of the four KPIs with a target
meet it, and target -> lead is significantly below. The control chart is drawn for the conversion
step 5 ranks first (opportunity -> proposal) and stays within its limits: the rates do not follow
the season. The volume's seasonal dip is shown in step 4 (volume and conversion per month), not as
an alarm in step 7: do not raise volume alarms for the season. Step 7 has no owner-level alert:
{LEAKY_OWNER}'s late leak is found in step 5's segment scan and is the second action of the plan.

## The report's claims

What a trainee finds on the demo's Dutch report pages (`funnel run data/demo/engagement.yaml`), per
page, as it reads there; `tests/test_answer_key.py` renders the pages and finds each phrase.

```json
{json.dumps(REPORT_CLAIMS, indent=2, ensure_ascii=False)}
```
"""


def write_demo_exports(out_dir: str | Path, *, seed: int = 2024,
                       n_records: int = 12_000) -> dict[str, Path]:
    """Write the demo company's CRM exports and its answer-key README.

    Parameters
    ----------
    out_dir : directory to write into (created if missing).
    seed : seed of the canonical layer and of the export dirt; same seed gives identical bytes.
    n_records : number of records.

    Returns
    -------
    dict[str, Path]
        `history` (crm_fasehistorie.csv), `snapshot` (crm_deals.xlsx), `readme` (README.md).

    Notes
    -----
    The dirt counts are absolute (30 duplicates, 10 blank dates, ...) so they stay recognisable at
    any size; the README lists the counts actually planted. XLSX bytes are made reproducible by
    fixing the document timestamps and the zip entry times.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    company = generate_company(n_records=n_records, seed=seed)
    csv_bytes, snapshot, manifest = _build_exports(company, seed)
    paths = {"history": out / "crm_fasehistorie.csv", "snapshot": out / "crm_deals.xlsx",
             "readme": out / "README.md"}
    paths["history"].write_bytes(csv_bytes)
    paths["snapshot"].write_bytes(_xlsx_bytes(snapshot, company.as_of))
    text = _readme(company, answer_key(company), manifest, seed)
    paths["readme"].write_bytes(text.encode("utf-8"))
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: `python -m toolkit.datasets OUT_DIR [--seed S] [--records N]`."""
    parser = argparse.ArgumentParser(prog="python -m toolkit.datasets",
                                     description=f"Generate the demo company ({COMPANY_NAME}).")
    parser.add_argument("out_dir", help="directory to write the exports into, e.g. data/demo")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--records", type=int, default=12_000)
    args = parser.parse_args(argv)
    paths = write_demo_exports(args.out_dir, seed=args.seed, n_records=args.records)
    for name, path in paths.items():
        print(f"{name:9s} {path}  ({path.stat().st_size / 1024:,.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


# --- planted and null companies for calibrating the diagnosis --------------------------------------

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
    start_ts, as_of_ts = _timestamp(start, "start"), _timestamp(as_of, "as_of")
    n = _check_arguments(n_records, start_ts, as_of_ts)
    rng = np.random.default_rng(check_seed(seed))
    effects = tuple(dict.fromkeys(effects))
    truth: dict = {}
    transitions = [(phases[k], phases[k + 1]) for k in range(steps)]
    # the diagnosis splits early/late at the lead phase: by default the second phase (these
    # phases name no output), the first in a funnel of one transition
    lead = min(1, steps - 1)

    days = pd.date_range(start_ts, as_of_ts - pd.Timedelta(days=1), freq="D", unit="ns")
    weights = np.where(_working_days(days), 1.0, 0.0)
    if "seasonal_dip" in effects:
        weights[np.isin(days.month, (7, 8))] *= _SUMMER_WEIGHT
        truth["seasonal_dip"] = {"months": (7, 8), "volume_index": _SUMMER_WEIGHT}
    day_idx = np.sort(rng.choice(len(days), size=n, p=weights / weights.sum()))
    created = np.sort(_working_time(days.asi8[day_idx], rng))
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
    product = rng.choice(len(PRODUCTS), size=n, p=_PRODUCT_P)
    value = np.maximum(np.round(np.exp(np.log(np.asarray(_PRODUCT_MEDIAN_EUR)[product])
                                       + _VALUE_SIGMA * rng.standard_normal(n)), -1), 500.0)

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

    entered = np.full((n, steps + 1), _NAT, dtype=np.int64)
    entered[:, 0] = created
    t_at = created.copy()
    outcome = np.full(n, _OPEN, dtype=np.int8)
    closed = np.full(n, _NAT, dtype=np.int64)
    lost_at = np.full(n, -1, dtype=np.int8)
    active = np.ones(n, dtype=bool)
    gamma_median = float(gammaincinv(_GAMMA_SHAPE, 0.5))
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
        delay = rng.gamma(_GAMMA_SHAPE, median / gamma_median)
        # the truth a duration estimate is judged by: every drawn conversion, also the ones
        # that happen after the as-of date (censored in the data)
        realised.append(float(np.median(delay[converts])) if converts.any() else float("nan"))
        when = t_at[idx] + (delay * _NS_DAY).astype(np.int64)
        happened = when < as_of_ts.value
        moved = converts & happened
        rec = idx[moved]
        entered[rec, k + 1] = when[moved]
        t_at[rec] = when[moved]
        gone = ~converts & happened
        outcome[idx[gone]] = _LOST
        closed[idx[gone]] = when[gone]
        lost_at[idx[gone]] = k
        active[idx[~moved]] = False
    won = entered[:, -1] != _NAT
    outcome[won] = _WON
    closed[won] = entered[won, -1]

    events, records = _canonical_tables(
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


# -------------------------------------------------------------- the structure of real exports
#: Account managers per team in :func:`add_real_structure` (5 teams: 35 owners with small n).
OWNERS_PER_TEAM = 7
#: Offices of the teams in :func:`add_real_structure`: office is a lookup of the team.
TEAM_OFFICES = ("Noord", "Noord", "Zuid", "Zuid", "Oost")
SECTORS: tuple[str, ...] = tuple(f"Sector {k}" for k in range(1, 11))
_BLANK_SECTOR_SHARE = 0.05   # records without a sector, none of them won


def add_real_structure(company: PlantedCompany, *, seed: int = 0) -> PlantedCompany:
    """The company as a real export looks where the generated one is tidy (issue 21): what the
    segment scan must judge without inventing findings.

    - ``owner``: each of the five owners' records spread at random over seven account managers
      (35 owners, small n at the late steps); the old owner becomes ``team`` and ``office`` a
      lookup of the team (:data:`TEAM_OFFICES`): attributes that are functions of another;
    - ``sector``: ten sectors at random, and a blank sector for 5% of the records that were not
      won, so its closed deals are all lost;
    - a first phase ``prospect`` that every record passes at creation (the undated prospects set
      aside): a transition every record passes by construction.

    The planted effects keep their truth: an owner leak is now a team leak (``attribute``
    ``team``; the team's account managers, ``owners``, and its ``office`` are worse too); a
    step's ``half`` is that of the longer funnel.
    """
    rng = np.random.default_rng(check_seed(seed))
    records = company.records.copy()
    n = len(records)
    team = pd.Categorical(records["owner"].astype(str), categories=list(OWNERS))
    team_code = np.asarray(team.codes)
    seat = rng.integers(0, OWNERS_PER_TEAM, size=n)
    names = [f"{owner} {k + 1}" for owner in OWNERS for k in range(OWNERS_PER_TEAM)]
    records["owner"] = _labels(team_code * OWNERS_PER_TEAM + seat, names)
    records["team"] = _labels(team_code, [f"Team {owner}" for owner in OWNERS])
    offices = sorted(set(TEAM_OFFICES))
    records["office"] = _labels(np.asarray([offices.index(o) for o in TEAM_OFFICES])[team_code],
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


# ------------------------------------------------------- the shapes of real exports (issue 21)
#: The export families :func:`write_planted_export` writes a planted company in: the tidy stage
#: history, and the shapes real CRM exports take where the generated company is tidy.
EXPORT_FAMILIES: tuple[str, ...] = (
    "history",          # a stage history with times of day and amounts
    "no amounts",       # no amount column at all
    "no lost records",  # the CRM never records a loss: lost deals stay open in their last stage
    "one instant",      # every history row of a record stamped at one instant (a migration)
    "date only",        # times truncated to the day
    "snapshot",         # one row per record: current stage, status, created and close date
)
_LOST_STAGE = "Lost"
_HISTORY_COLUMNS = {"record_id": "Deal", "stage": "Stage", "changed_at": "Changed"}


def _export_phase_names(company: PlantedCompany) -> dict[str, str]:
    """The CRM's stage name of each phase (the last one is the order: won)."""
    return {phase: phase.capitalize() for phase in company.phases}


def _attribute_columns(company: PlantedCompany) -> list[str]:
    fixed = {"record_id", "created_at", "outcome", "closed_at", "lost_at_phase", "value"}
    return [c for c in company.records.columns if c not in fixed]


def write_planted_export(company: PlantedCompany, folder: str | Path, *,
                         family: str = "history", settings: dict | None = None) -> Path:
    """Write `company` as a CRM export of one of :data:`EXPORT_FAMILIES` with its
    ``engagement.yaml`` in `folder`; return the path of the YAML.

    The families carry no planted effect of their own: what the company holds is what the export
    can still show. ``no amounts`` drops the amount column; ``no lost records`` leaves every lost
    deal open in the last stage it reached (no loss row); ``one instant`` stamps every history row
    of a record at its creation instant (a migration that rewrote the history); ``date only``
    writes dates without a time of day; ``snapshot`` writes one row per record with the stage it
    reached last, its status (won, lost, open), its creation date and its close date.
    The declared changes and the segments go into the YAML, and `settings` (more top-level
    keys, e.g. ``{"targets": ...}``) too.
    """
    if family not in EXPORT_FAMILIES:
        raise OptionError(f"The value for `family` must be one of {list(EXPORT_FAMILIES)}, but "
                          f"{family!r} was passed.")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = _export_phase_names(company)
    attributes = _attribute_columns(company)
    records = company.records.set_index("record_id")
    timed = "%Y-%m-%d" if family == "date only" else "%Y-%m-%d %H:%M:%S"
    mapping = {name: phase for phase, name in names.items()}
    mapping[names[company.phases[-1]]] = "won"
    source: dict = {"name": "crm", "path": "export.csv", "date_format": "ymd"}
    if family == "snapshot":
        frame = _snapshot_rows(company, names, records)
        source.update(shape="snapshot", columns={
            "record_id": "Deal", "current_stage": "Stage", "status": "Status",
            "created_at": "Created", "closed_at": "Closed"})
        for column in ("Created", "Closed"):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    else:
        frame = _history_rows_of(company, names, records, family)
        frame["Changed"] = frame["Changed"].dt.strftime(timed)
        source.update(shape="history", columns=dict(_HISTORY_COLUMNS))
        if family != "no lost records":
            mapping[_LOST_STAGE] = "lost"
    if family != "no amounts":
        frame["Amount"] = records.loc[frame["Deal"], "value"].to_numpy()
        source["columns"]["value"] = "Amount"
    for attribute in attributes:
        frame[attribute] = records.loc[frame["Deal"], attribute].to_numpy()
    source["attributes"] = {a: a for a in attributes}
    frame.to_csv(folder / "export.csv", index=False)
    doc = {"name": f"planted company ({family})", "language": "en",
           "as_of": str(company.as_of.date()),
           "phases": [{"key": p, "label": p} for p in company.phases],
           "stage_mapping": mapping, "sources": [source], "segments": attributes,
           "changes": [{**c, "date": str(c["date"])} for c in company.changes],
           **(settings or {})}
    path = folder / "engagement.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _history_rows_of(company: PlantedCompany, names: dict, records: pd.DataFrame,
                     family: str) -> pd.DataFrame:
    """One row per stage a record entered (and one `Lost` row per loss, unless the CRM never
    records one), in the order the CRM logged them."""
    events = company.events
    rows = pd.DataFrame({"Deal": events["record_id"].astype(str).to_numpy(),
                         "Stage": events["phase"].astype(str).map(names).to_numpy(),
                         "Changed": pd.to_datetime(events["entered_at"]).to_numpy()})
    if family != "no lost records":
        lost = records[records["outcome"].astype(str) == "lost"]
        rows = pd.concat([rows, pd.DataFrame({"Deal": lost.index.astype(str).to_numpy(),
                                              "Stage": _LOST_STAGE,
                                              "Changed": lost["closed_at"].to_numpy()})],
                         ignore_index=True)
    if family == "one instant":
        rows["Changed"] = records.loc[rows["Deal"], "created_at"].to_numpy()
    return rows.sort_values(["Changed", "Deal"], kind="stable", ignore_index=True)


def _snapshot_rows(company: PlantedCompany, names: dict, records: pd.DataFrame) -> pd.DataFrame:
    last = (company.events.assign(rank=company.events["phase"].cat.codes)
            .sort_values("rank").groupby("record_id", observed=True)["phase"].last())
    outcome = records["outcome"].astype(str)
    return pd.DataFrame({"Deal": records.index.astype(str),
                         "Stage": last.reindex(records.index).astype(str).map(names).to_numpy(),
                         "Status": outcome.to_numpy(),
                         "Created": pd.to_datetime(records["created_at"]).to_numpy(),
                         "Closed": pd.to_datetime(records["closed_at"]).to_numpy()})


#: The declared change under a mix shift (issue 21, item 6): regions' rates at the first step
#: before the change, and their mix before and after it (towards the weakest region).
MIX_CHANGE_REGIONS: tuple[str, ...] = ("Noord", "Midden", "Zuid")
_MIX_CHANGE_RATE = (0.60, 0.45, 0.20)
_MIX_CHANGE_BEFORE = (0.5, 0.3, 0.2)
_MIX_CHANGE_AFTER = (0.2, 0.3, 0.5)
MIX_CHANGE_DATE = pd.Timestamp("2025-07-01")


def generate_mix_shift_change(seed: int, *, n: int = 6000, uplift: float = 0.08,
                              untouched: Sequence[str] = (),
                              mix_after: Sequence[float] = _MIX_CHANGE_AFTER) -> PlantedCompany:
    """A declared change that raised the step a -> b by `uplift` in every region but `untouched`
    while the mix moved to the weakest region (phases a, b, c; the attribute ``region``).

    Records are created on days from 2024-01-01 to 2026-06-30 at 10:00; at the change date
    (2025-07-01) the mix moves to Zuid. Pooled, the step falls from .5 x .60 + .3 x .45 + .2 x .20
    = 0.475 to .2 x .68 + .3 x .53 + .5 x .28 = 0.435 with the planted +8 points: a before/after
    that ignores the mix reads "lowered". Half of those reaching b win (c), 12 days after creation;
    the others are lost 20 days after creation. ``effects['mix_change']`` holds the truth.
    """
    rng = np.random.default_rng(check_seed(seed))
    start, end = pd.Timestamp("2024-01-01"), pd.Timestamp("2026-06-30")
    days = rng.integers(0, (end - start).days, size=n)
    created = start + pd.to_timedelta(np.sort(days), unit="D") + pd.Timedelta(hours=10)
    after = np.asarray(created >= MIX_CHANGE_DATE)
    region = np.where(after, rng.choice(3, size=n, p=mix_after),
                      rng.choice(3, size=n, p=_MIX_CHANGE_BEFORE))
    lift = np.array([0.0 if r in untouched else uplift for r in MIX_CHANGE_REGIONS])
    to_b = rng.random(n) < np.asarray(_MIX_CHANGE_RATE)[region] + after * lift[region]
    to_c = to_b & (rng.random(n) < 0.5)
    ids = np.asarray([f"R{k:05d}" for k in range(n)])
    created = created.to_numpy()
    # the events in the order the old per-record loop wrote them: a, b, c of each record in turn
    reached = np.column_stack([np.ones(n, dtype=bool), to_b, to_c])
    rec, phase = np.nonzero(reached)
    offset = np.asarray([0, 5, 12], dtype="timedelta64[D]")
    events = pd.DataFrame({"record_id": ids[rec], "phase": np.asarray(["a", "b", "c"])[phase],
                           "entered_at": created[rec] + offset[phase]})
    events["source_stage"] = events["phase"]
    events["source_row"] = range(2, len(events) + 2)
    top = np.where(to_c, "c", np.where(to_b, "b", "a"))
    records = pd.DataFrame({
        "record_id": ids, "created_at": created,
        "outcome": np.where(to_c, "won", "lost"),
        "closed_at": created + np.where(to_c, 12, 20).astype("timedelta64[D]"),
        "lost_at_phase": pd.Series(top, dtype=object).where(~to_c, None).to_numpy(),
        "value": 1000.0, "region": np.asarray(MIX_CHANGE_REGIONS)[region]})
    changes = [{"date": MIX_CHANGE_DATE.date(), "description": "new script", "step": "a -> b"}]
    truth = {"mix_change": {"transition": ("a", "b"), "date": MIX_CHANGE_DATE,
                            "uplift": uplift, "attribute": "region",
                            "untouched": tuple(untouched)}} if uplift else {}
    pooled = float(np.dot(_MIX_CHANGE_RATE, _MIX_CHANGE_BEFORE))
    benchmarks = pd.DataFrame({"from_phase": ["a", "b"], "to_phase": ["b", "c"],
                               "low": [pooled * 0.8, 0.4], "typical": [pooled, 0.5],
                               "high": [pooled * 1.2, 0.6], "source": "calibration market"})
    return PlantedCompany(events=events, records=records, as_of=pd.Timestamp("2026-10-31"),
                          phases=("a", "b", "c"), effects=truth, changes=changes,
                          benchmarks=benchmarks, converter_median_days={})
