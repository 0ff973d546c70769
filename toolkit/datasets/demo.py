"""The demo company's canonical layer: the truth, already in the toolkit's data model (`events`,
`records`), fully vectorised, with its planted problems."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import gammaincinv

from toolkit.base.exceptions import OptionError
from toolkit.base.vocabulary import check_seed

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
GAMMA_SHAPE = 1.5
SUMMER_WEIGHT = 0.60             # July and August: 40% fewer new suspects per working day
_LATE_DECEMBER_WEIGHT = 0.80      # 21-31 December, on top of the Christmas holidays
_HOLIDAYS = ((1, 1), (4, 27), (12, 25), (12, 26))   # fixed-date Dutch holidays (month, day)
_REGION_P = (0.30, 0.45, 0.25)
PRODUCT_P = (0.45, 0.35, 0.20)
PRODUCT_MEDIAN_EUR = (17_500.0, 7_500.0, 11_000.0)
VALUE_SIGMA = 0.65
_MISSING_VALUE_EARLY = 0.12       # first six months, before the CRM made `Bedrag` mandatory
_MISSING_VALUE_LATER = 0.01

NS_MINUTE = 60 * 10**9
NS_DAY = 24 * 60 * NS_MINUTE
NAT = np.iinfo(np.int64).min
OPEN, WON, LOST = 0, 1, 2


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


def check_arguments(n_records: object, start: pd.Timestamp, as_of: pd.Timestamp) -> int:
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


def as_timestamp(value: object, name: str) -> pd.Timestamp:
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


def working_days(days: pd.DatetimeIndex) -> np.ndarray:
    """Monday to Friday, except the fixed-date Dutch holidays."""
    working = np.asarray(days.day_of_week < 5)
    for month, day in _HOLIDAYS:
        working &= ~np.asarray((days.month == month) & (days.day == day))
    return working


def _day_weights(days: pd.DatetimeIndex) -> np.ndarray:
    """Relative volume of new suspects per calendar day: working days only, seasonal dips."""
    weights = np.where(working_days(days), 1.0, 0.0)
    weights[np.isin(days.month, (7, 8))] *= SUMMER_WEIGHT
    weights[(days.month == 12) & (days.day >= 21)] *= _LATE_DECEMBER_WEIGHT
    return weights


def working_time(day_ns: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random minute within office hours (08:00-18:00) on the given day."""
    return day_ns + rng.integers(8 * 60, 18 * 60, size=len(day_ns)) * NS_MINUTE


def _next_time(prev: np.ndarray, delay_days: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The moment of the next stage change: `delay_days` later, in office hours, on a weekday."""
    day = (prev + (delay_days * NS_DAY).astype(np.int64)) // NS_DAY * NS_DAY
    dow = (day // NS_DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    day = day + np.where(dow == 5, 2 * NS_DAY, np.where(dow == 6, NS_DAY, 0))
    moment = working_time(day, rng)
    # Same-day changes late in the day: a few minutes after the previous one keeps the order.
    later = prev + rng.integers(5, 120, size=len(prev)) * NS_MINUTE
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


def labels_of(codes: np.ndarray, names: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """A string column from integer codes into a small vocabulary, without a Python object per row
    (a million records must generate in seconds)."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(np.asarray(codes, dtype=np.int32)),
                                                pa.array(list(names), type=pa.large_string()))
    return pd.array(dictionary.cast(pa.large_string()), dtype="str")


def canonical_tables(phases: Sequence[str], entered: np.ndarray, created: np.ndarray,
                      outcome: np.ndarray, closed: np.ndarray, lost_at: np.ndarray,
                      value: np.ndarray, attributes: dict,
                     stages: Callable[[np.ndarray, np.ndarray], Any]) -> tuple[pd.DataFrame,
                                                                            pd.DataFrame]:
    """`events` and `records` in the toolkit's data model from the generator's arrays
    (`entered`: records x phases, NaT where not reached; `attributes`: name -> (codes, labels);
    `stages(rec_idx, ph)`: the CRM stage name of each event)."""
    ids = _record_ids(len(created))
    phase_dtype = pd.CategoricalDtype(list(phases), ordered=True)
    rec_idx, ph = np.nonzero(entered != NAT)
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
        "outcome": labels_of(outcome, ("open", "won", "lost")),
        "closed_at": closed.view("datetime64[ns]"),
        "lost_at_phase": pd.Categorical.from_codes(lost_at, dtype=phase_dtype),
        "value": value,
        **{name: labels_of(codes, labels) for name, (codes, labels) in attributes.items()},
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
    start_ts = as_timestamp(start, "start")
    as_of_ts = as_timestamp(as_of, "as_of")
    n = check_arguments(n_records, start_ts, as_of_ts)
    rng = np.random.default_rng(check_seed(seed))
    as_of_ns = as_of_ts.value

    # Creation: working days weighted by season, office-hour times, IDs in creation order.
    days = pd.date_range(start_ts, as_of_ts - pd.Timedelta(days=1), freq="D", unit="ns")
    weights = _day_weights(days)
    day_idx = np.sort(rng.choice(len(days), size=n, p=weights / weights.sum()))
    day_ns = days.asi8[day_idx]
    created = np.sort(working_time(day_ns, rng))  # sorting again orders same-day times
    year = pd.DatetimeIndex(created.view("datetime64[ns]")).year.to_numpy()
    era = (year > start_ts.year).astype(np.int64)

    action = np.empty(n, dtype=np.int64)
    for e in (0, 1):
        sel = np.flatnonzero(era == e)
        action[sel] = rng.choice(len(ACTIONS), size=len(sel), p=_MIX[e])
    owner = rng.integers(0, len(OWNERS), size=n)
    region = rng.choice(len(REGIONS), size=n, p=_REGION_P)
    product = rng.choice(len(PRODUCTS), size=n, p=PRODUCT_P)
    value = np.exp(np.log(np.asarray(PRODUCT_MEDIAN_EUR)[product])
                   + VALUE_SIGMA * rng.standard_normal(n))
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

    entered = np.full((n, len(PHASES)), NAT, dtype=np.int64)
    entered[np.arange(n), phase_at] = created
    t_at = created.copy()
    outcome = np.full(n, OPEN, dtype=np.int8)
    closed = np.full(n, NAT, dtype=np.int64)
    lost_at = np.full(n, -1, dtype=np.int8)
    active = np.ones(n, dtype=bool)
    gamma_median = float(gammaincinv(GAMMA_SHAPE, 0.5))

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
        delay = rng.gamma(GAMMA_SHAPE, median / gamma_median)
        when = _next_time(t_at[idx], delay, rng)
        happened = when < as_of_ns

        moved = converts & happened
        rec, to = idx[moved], k + step[moved]
        entered[rec, to] = when[moved]
        phase_at[rec] = to
        t_at[rec] = when[moved]

        gone = ~converts & happened
        rec = idx[gone]
        outcome[rec] = LOST
        closed[rec] = when[gone]
        lost_at[rec] = k
        active[idx[~happened]] = False  # still open at k on the as-of date
        active[rec] = False

    won = phase_at == len(PHASES) - 1
    outcome[won] = WON
    closed[won] = entered[won, -1]

    def demo_stages(rec_idx: np.ndarray, ph: np.ndarray) -> pd.api.extensions.ExtensionArray:
        # Referrals entering at lead come in qualified; every other entry uses the phase's first
        # stage.
        stage_code = np.where((ph == 1) & (entered[rec_idx, 1] == created[rec_idx]), 5, ph)
        return labels_of(stage_code, ("Suspect", "Lead", "Potentieel", "Offerte uitgebracht",
                                    "Gewonnen", "Lead gekwalificeerd"))

    events, records = canonical_tables(
        PHASES, entered, created, outcome, closed, lost_at, value,
        {"action": (action, ACTIONS), "owner": (owner, OWNERS), "region": (region, REGIONS),
         "product": (product, PRODUCTS)}, demo_stages)
    return DemoCompany(events=events, records=records, as_of=as_of_ts, phases=PHASES)


HISTORY_HEADER = ("Deal ID", "Fase", "Datum wijziging", "Bedrag", "Actie", "Eigenaar", "Regio",
                   "Product", "Aangemaakt op", "Contactpersoon")
