"""Steering on the KPIs after the engagement: control charts, alerts, the scorecard and the report.

Step 7 of the method (*Sturen en borgen*): management looks at the KPIs every period and must tell
a real change from noise. This module turns the tidy KPI frame into

- :func:`control_chart`: a p chart or Laney p' chart of a conversion rate per period;
- :func:`run_rules`: the Western Electric / Nelson rules on that chart, as a tidy alert table;
- :func:`scorecard`: one row per KPI with its status against target, taking uncertainty into
  account, and its recent trend;
- :func:`period_report`: what changed this period, the alerts that fired and plain-language
  headline sentences.

The parameters the functions share (the tidy KPI frame ``kpis``, ``alpha``: 0.05 by default)
are described once, in ``toolkit.base.docstrings``, and read the same in each function's
docstring.

One module a job: ``checks`` (the KPI tables a caller passes in), ``control`` (control charts and
run rules), ``scorecard``, ``period`` (the period report), ``view`` (step 7 in one object).
Import the names from the package.
"""

from __future__ import annotations

from toolkit.analysis.steering.control import CHART_TYPES, LANEY_THRESHOLD, RULES, control_chart, run_rules
from toolkit.analysis.steering.period import PeriodReport, period_report
from toolkit.analysis.steering.scorecard import scorecard
from toolkit.analysis.steering.view import SteeringView, monthly_kpis, steering_view

__all__ = [
    "control_chart",
    "run_rules",
    "scorecard",
    "period_report",
    "PeriodReport",
    "CHART_TYPES",
    "RULES",
    "LANEY_THRESHOLD",
    "monthly_kpis",
    "steering_view",
    "SteeringView",
]
