"""KPI definitions and their computation: one tidy frame for every KPI of the engagement.

Step 3 of the method (*KPI's bepalen*) declares the KPIs; step 4 (*KPI's meetbaar maken*) measures
them properly. Each KPI has a kind:

========================= ====================================================================
kind                      what it measures
========================= ====================================================================
conversion                cohort (default) or period conversion from one phase to another
cumulative_conversion     first phase -> won phase, cohort-based with a long window
volume                    entries into a phase per period (Poisson interval)
duration                  days from phase to phase, median or percentile, open records censored
win_rate                  won / (won + lost), open count beside it; or censoring-aware (CIF)
value                     won value, average deal size, or open pipeline value
sales_velocity            open opportunities x win rate x average deal value / cycle length
pipeline_coverage         open pipeline value / revenue still needed for the year's target
cost_per                  cost of an action / entries it produced (needs `costs` in the YAML)
========================= ====================================================================

The computation entry point is `compute_kpis(engagement, *, kpis=None, by=None, period=None)`.

One module a job: `definitions` (the KPIs and their status against a target), `compute` (their
values), `tree` (the KPI tree), `durations` (time to convert). Import the names from the package.
"""

from toolkit.measure.funnel import NEEDS_DATES, NO_WINDOW
from toolkit.measure.kpis.compute import compute_kpis, lacking
from toolkit.measure.kpis.definitions import (
    KIND,
    KPI,
    KPI_COLUMNS,
    NEEDS,
    default_kpis,
    kpis_from_config,
    status_vs_target,
    target_status_codes,
)
from toolkit.measure.kpis.durations import step_incidence, time_to_convert
from toolkit.measure.kpis.tree import kpi_tree, tree_kpis

__all__ = ["KPI", "KIND", "NEEDS", "default_kpis", "kpis_from_config", "compute_kpis",
           "status_vs_target", "target_status_codes", "lacking",
           "kpi_tree", "tree_kpis", "time_to_convert", "step_incidence",
           "KPI_COLUMNS", "NEEDS_DATES", "NO_WINDOW"]
