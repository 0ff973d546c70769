"""The KPI tree: from the management goal (revenue, orders) down to the phase conversions, volumes,
durations and value that drive it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.io.engagement import Engagement
from toolkit.measure.kpis.compute import compute_kpis
from toolkit.measure.kpis.definitions import KPI, default_kpis, kpis_from_config


@shared_docs
def tree_kpis(engagement: Engagement) -> list[KPI]:
    """The KPIs the nodes of :func:`kpi_tree` show.

    Parameters
    ----------
    {shared.engagement}

    Returns
    -------
    list of KPI
        The engagement's own (declared ones keep their agreed windows), plus the default KPIs
        of the nodes the declared set lacks.
    """
    model = engagement.phase_model
    declared = kpis_from_config(engagement)
    have = {k.name for k in declared}
    needed = {f"volume_{model.first_phase}", "average_deal_size"} | {
        f"conversion_{a}_{b}" for a, b in model.transitions()}
    return [k for k in declared if k.name in needed] + [
        k for k in default_kpis(engagement) if k.name in needed - have]


@shared_docs
def kpi_tree(engagement: Engagement, kpis: pd.DataFrame | None = None) -> pd.DataFrame:
    """The KPI tree from management's goal down to what the phases control.

    revenue per month = orders per month x average deal size; orders per month = entries into
    the first phase per month x the product of the step conversions. Each node carries its value
    and target, so a shortfall at the top can be traced to the phase that causes it.

    Parameters
    ----------
    {shared.engagement}
    kpis : DataFrame, optional
        The KPI values of :func:`tree_kpis` (``compute_kpis``) when the caller has them;
        computed here without them.

    Returns
    -------
    DataFrame
        ``node, parent, label, value, unit, target`` (the root has parent None).

    Notes
    -----
    The orders and revenue nodes are *implied* by the current volume and cohort rates (a steady
    state), not the orders counted last month: the tree explains, the scorecard counts.
    """
    model = engagement.phase_model
    if kpis is None:
        kpis = compute_kpis(engagement, kpis=tree_kpis(engagement))
    overall = kpis.drop_duplicates("kpi").set_index("kpi")["value"]
    targets = engagement.config.targets
    first = model.first_phase
    # A node whose KPI was not computed (a declared KPI set without it) or has no data stays NaN,
    # and so does everything implied from it: the tree never fills a gap with a guess.
    volume = float(overall.get(f"volume_{first}", np.nan))
    steps = [(f"conversion_{a}_{b}", a, b) for a, b in model.transitions()]
    rates = [float(overall.get(name, np.nan)) for name, _, _ in steps]
    orders = volume * float(np.prod(rates))
    deal = float(overall.get("average_deal_size", np.nan))
    rows = [
        {"node": "revenue", "parent": None, "label": "Revenue per month (implied)",
         "value": orders * deal, "unit": engagement.config.currency,
         "target": targets.get("revenue_per_year", np.nan) / 12},
        {"node": "orders", "parent": "revenue", "label": "Orders per month (implied)",
         "value": orders, "unit": "orders", "target": targets.get("orders_per_month", np.nan)},
        {"node": "average_deal_size", "parent": "revenue", "label": "Average deal size",
         "value": deal, "unit": engagement.config.currency,
         "target": targets.get("average_deal_size", np.nan)},
        {"node": f"volume_{first}", "parent": "orders",
         "label": f"Entries into {model.label(first)} per month", "value": volume,
         "unit": "records", "target": targets.get(f"volume_{first}", np.nan)},
    ]
    for (name, a, b), rate in zip(steps, rates, strict=True):
        rows.append({"node": name, "parent": "orders",
                     "label": f"{model.label(a)} → {model.label(b)}", "value": rate, "unit": "%",
                     "target": targets.get(name, np.nan)})
    tree = pd.DataFrame(rows)
    # a node the data cannot measure (no amounts for the deal size) keeps its KPI's reason
    reasons = (kpis.drop_duplicates("kpi").set_index("kpi")["missing_reason"]
               if "missing_reason" in kpis else pd.Series(dtype=object))
    tree["missing_reason"] = tree["node"].map(reasons.dropna()).astype(object)
    # revenue is orders x deal size: without amounts it is n/a for the same reason
    revenue = tree["node"] == "revenue"
    tree.loc[revenue, "missing_reason"] = reasons.get("average_deal_size", None)
    tree.loc[tree["value"].notna(), "missing_reason"] = None
    return tree


