"""What a KPI is (its kind, phases, window, unit, target) and which KPIs an engagement has: the
defaults from the phase model plus the declared ones; each value's status against its target."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from toolkit.base.docstrings import shared_docs
from toolkit.base.exceptions import ConfigError
from toolkit.base.phases import PhaseModel
from toolkit.base.vocabulary import status_prose
from toolkit.io.engagement import Engagement
from toolkit.measure.cohorts import undated_phases

KIND = Literal["conversion", "cumulative_conversion", "volume", "duration", "win_rate", "value",
               "sales_velocity", "pipeline_coverage", "cost_per"]

KPI_COLUMNS = ["kpi", "label", "kind", "unit", "attribute", "segment", "period", "n", "successes",
               "value", "ci_low", "ci_high", "target", "higher_is_better", "status_vs_target",
               "status_code", "immature_n", "open_n", "owner", "from_phase", "to_phase",
               "missing_reason"]

#: What a KPI may need of the data, and the problem code (``toolkit.base.vocabulary.PROBLEMS``)
#: its value carries instead when the data lack it: missing is not zero, so a sum of no amounts is
#: n/a, not 0, a win rate without lost records n/a, not 100%, a median of one-instant stamps n/a,
#: not 0 days.
NEEDS = {"amounts": "no_amounts", "lost_records": "no_lost_records",
         "distinct_times": "no_distinct_times", "time_of_day": "no_time_of_day"}

UNITS = {"conversion": "%", "cumulative_conversion": "%", "volume": "records", "duration": "days",
          "win_rate": "%", "value": "EUR", "sales_velocity": "EUR/month", "pipeline_coverage": "x",
          "cost_per": "EUR"}


class KPI(BaseModel):
    """One KPI as management agrees it: what it measures, its target and who owns it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: KIND
    label: str = ""
    unit: str = ""
    target: float | None = None
    higher_is_better: bool = True
    owner: str = ""
    description: str = ""
    # kind-specific options
    from_phase: str | None = None
    to_phase: str | None = None
    phase: str | None = None
    window_days: int | None = None
    method: Literal["cohort", "period"] = "cohort"
    statistic: str = "median"  # duration: 'median' or 'p<NN>' (e.g. p90)
    measure: Literal["won_value", "average_deal_size", "pipeline_value"] = "won_value"
    censoring_aware: bool = False
    horizon_days: int = 180
    revenue_target: float | None = None
    action_attribute: str = "action"

    @model_validator(mode="after")
    def _fill(self) -> KPI:
        if not self.unit:
            self.unit = UNITS[self.kind]
        if self.kind == "duration" and self.statistic != "median" and not (
                self.statistic.startswith("p") and self.statistic[1:].isdigit()
                and 0 < int(self.statistic[1:]) < 100):
            raise ValueError(f"statistic must be 'median' or 'p<NN>' such as 'p90', but "
                             f"{self.statistic!r} was given")
        return self

    def quantile(self) -> float:
        return 0.5 if self.statistic == "median" else int(self.statistic[1:]) / 100

    @property
    def needs(self) -> tuple[str, ...]:
        """What the KPI needs of the data (keys of :data:`NEEDS`); without it, it is n/a."""
        return {"value": ("amounts",), "pipeline_coverage": ("amounts",),
                "win_rate": ("lost_records",), "duration": ("distinct_times",),
                "sales_velocity": ("amounts", "lost_records", "distinct_times")
                }.get(self.kind, ())


def _owner(model: PhaseModel, phase: str | None) -> str:
    if phase is None:
        return ""
    functions = model.phase(phase).functions
    return functions[0] if functions else ""


@shared_docs
def default_kpis(engagement: Engagement) -> list[KPI]:
    """The KPI set derived from the phase model when the YAML declares none.

    Parameters
    ----------
    {shared.engagement}

    Returns
    -------
    list of KPI
        Every step's cohort conversion, the volumes, durations, win rate and value KPIs the
        phase model allows, with the YAML's targets.
    """
    model = engagement.phase_model
    window = engagement.config.cohort_window_days
    keys = model.keys
    dated = getattr(engagement, "dated", True)
    # a snapshot has no entry date for the phases after its entry phase: no window from them
    undated = undated_phases(engagement)
    out: list[KPI] = []
    for a, b in model.transitions():
        # a windowed conversion says its window: 8.6% within 90 days is not the 10.5% ever
        out.append(KPI(name=f"conversion_{a}_{b}", kind="conversion", from_phase=a, to_phase=b,
                       label=f"Conversion {model.label(a)} → {model.label(b)}"
                             + (f" within {window} days" if dated and a not in undated else ""),
                       window_days=window, owner=_owner(model, a),
                       description=(f"Share of records reaching {model.label(b)} within {window} "
                                    f"days of reaching {model.label(a)} (mature cohorts only)."
                                    if dated and a not in undated else
                                    f"Share of the records that reached {model.label(a)} that "
                                    f"reached {model.label(b)} (a snapshot has no date for "
                                    f"{model.label(a)}: no window; cohorts by creation date)."
                                    if dated else
                                    f"Share of the records that reached {model.label(a)} that "
                                    f"reached {model.label(b)} (no dates: no cohort window).")))
    out.append(KPI(name="cumulative_conversion", kind="cumulative_conversion", from_phase=keys[0],
                   to_phase=keys[-1], window_days=max(365, window),
                   label=f"Conversion {model.label(keys[0])} → {model.label(keys[-1])}" + (
                       f" within {max(365, window)} days" if dated else ""),
                   description=("Share of first-phase records that become an order within a year."
                                if dated else "Share of the records that became an order (no "
                                              "dates: no window).")))
    for phase in keys[:2]:
        out.append(KPI(name=f"volume_{phase}", kind="volume", phase=phase,
                       label=f"Entries into {model.label(phase)}", owner=_owner(model, phase),
                       description="Records entering the phase per month (seasonal: steer on "
                                   "conversion, watch volume)."))
    for a, b in model.transitions():
        out.append(KPI(name=f"duration_{a}_{b}", kind="duration", from_phase=a, to_phase=b,
                       label=f"Median days {model.label(a)} → {model.label(b)}",
                       higher_is_better=False, owner=_owner(model, a),
                       description="Median days among records that convert (cumulative "
                                   "incidence with lost records competing, open records censored "
                                   "at the as-of date)."))
    # The phase a sales team counts its win rate from: the middle one, and never the last (the
    # won phase itself) so a two-phase funnel (lead -> order) counts from its first phase.
    mid = keys[min(len(keys) // 2, len(keys) - 2)]
    out += [
        # Over every closed record: a win rate from a later phase cannot hold the lost records of
        # a snapshot that does not say where they were lost (they sit at the entry phase), and
        # would read 100% by construction. A team's own variant is declared under `kpis:`.
        KPI(name="win_rate", kind="win_rate", label="Win rate (won / closed)",
            description="won / (won + lost) over all closed records; open deals reported beside "
                        "it, not counted as lost."),
        KPI(name="won_value", kind="value", measure="won_value", label="Won value",
            description="Sum of the value of won records, by close date."),
        KPI(name="average_deal_size", kind="value", measure="average_deal_size",
            label="Average deal size (won)", description="Mean value of won records."),
        KPI(name="pipeline_value", kind="value", measure="pipeline_value",
            label="Open pipeline value", description="Value of records open at the as-of date."),
    ]
    out.append(KPI(name="sales_velocity", kind="sales_velocity", phase=mid,
                   label=f"Sales velocity from {model.label(mid)}",
                   description="open records at the phase x win rate from it x average deal "
                               "value / median days to order, per month."))
    targets = engagement.config.targets
    if "revenue_per_year" in targets:
        out.append(KPI(name="pipeline_coverage", kind="pipeline_coverage",
                       revenue_target=targets["revenue_per_year"], label="Pipeline coverage",
                       description="Open pipeline / revenue still needed this year."))
    if engagement.config.costs:
        out.append(KPI(name=f"cost_per_{keys[1]}", kind="cost_per", phase=keys[1],
                       label=f"Cost per {model.label(keys[1])}", higher_is_better=False,
                       description="Cost of each action / records it brought to the phase."))
    for kpi in out:
        if kpi.target is None and kpi.name in targets:
            kpi.target = targets[kpi.name]
    return out


@shared_docs
def kpis_from_config(engagement: Engagement) -> list[KPI]:
    """The engagement's KPI set.

    Its declared KPIs (validated, phase keys checked) and the default set, but for the defaults
    a declared KPI of the same name replaces; with ``kpis: {replace: true, list: [...]}`` the
    declared KPIs only.

    Parameters
    ----------
    {shared.engagement}

    Returns
    -------
    list of KPI
        The declared KPIs first, then the defaults.

    Raises
    ------
    ConfigError
        A declared KPI is wrong (its key, the value and the fix).
    """
    declared = engagement.config.kpis
    if not declared:
        return default_kpis(engagement)
    own = _declared_kpis(engagement)
    if getattr(engagement.config, "kpis_replace", False):
        return own
    names = {k.name for k in own}
    # the declared first: the KPIs the engagement names lead its tables and headline
    return own + [k for k in default_kpis(engagement) if k.name not in names]


def _declared_kpis(engagement: Engagement) -> list[KPI]:
    declared = engagement.config.kpis
    model = engagement.phase_model
    out = []
    for i, spec in enumerate(declared or []):
        try:
            kpi = KPI.model_validate(spec)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise ConfigError(err["msg"].removeprefix("Value error, "),
                              file=str(engagement.path), key=f"kpis[{i}].{key}",
                              value=err.get("input") if not isinstance(err.get("input"), dict)
                              else None,
                              fix="see the KPIs in the YAML reference, docs/yaml.md") from None
        for field in ("from_phase", "to_phase", "phase"):
            value = getattr(kpi, field)
            if value is not None and value not in model.keys:
                raise ConfigError(f"{field} must be a phase key {model.keys}",
                                  file=str(engagement.path), key=f"kpis[{i}].{field}",
                                  value=value, fix="use one of the phase keys")
        if kpi.target is None and kpi.name in engagement.config.targets:
            kpi.target = engagement.config.targets[kpi.name]
        out.append(kpi)
    return out


def target_status_codes(value: ArrayLike, ci_low: ArrayLike, ci_high: ArrayLike,
                        target: ArrayLike, higher_is_better: ArrayLike) -> np.ndarray:
    """The status code of each KPI value against its target.

    Parameters
    ----------
    value, ci_low, ci_high : array_like of float
        Each KPI value and its interval (NaN: no value).
    target : array_like of float
        Each KPI's target (NaN: none).
    higher_is_better : array_like of bool
        Each KPI's direction.

    Returns
    -------
    ndarray of str
        ``on_target``, ``off_target_not_significant``, ``off_target``, ``no_target`` or
        ``no_data`` per KPI (their sentences are ``toolkit.base.vocabulary.STATUSES``; the KPI
        table words both directions alike).

    Notes
    -----
    Meeting the target on the point estimate is on target. Missing it while the interval still
    includes the target is not a significant shortfall: with this n the data cannot tell. A
    missing value (n = 0, or a median that is not reached) is 'no data', target or not.
    """
    value, low, high, target = (np.asarray(a, dtype=float) for a in (value, ci_low, ci_high, target))
    hib = np.asarray(higher_is_better, dtype=bool)
    meets = np.where(hib, value >= target, value <= target)
    covers = (low <= target) & (target <= high)
    out = np.where(meets, "on_target",
                   np.where(covers | np.isnan(low), "off_target_not_significant", "off_target"))
    out = np.where(np.isnan(target), "no_target", out)
    # No value (nobody reached the phase, no mature cohort, no won deal) is "no data" whether or
    # not a target is set: the absence of data is what the reader must see first.
    return np.where(np.isnan(value), "no_data", out)


def status_vs_target(value: ArrayLike, ci_low: ArrayLike, ci_high: ArrayLike,
                     target: ArrayLike, higher_is_better: ArrayLike) -> np.ndarray:
    """'on target' / 'off target, not significant' / 'significantly off target' / 'no target' /
    'no data': the sentences of :func:`target_status_codes`.

    Parameters
    ----------
    value, ci_low, ci_high : array_like of float
        Each KPI value and its interval (NaN: no value).
    target : array_like of float
        Each KPI's target (NaN: none).
    higher_is_better : array_like of bool
        Each KPI's direction.

    Returns
    -------
    ndarray of str
        One sentence per KPI.
    """
    codes = target_status_codes(value, ci_low, ci_high, target, higher_is_better)
    return np.array(status_prose(codes.ravel()), dtype=object).reshape(codes.shape)


