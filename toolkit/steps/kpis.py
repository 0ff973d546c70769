"""Step 3, the KPIs: the KPI set (declared in the YAML or derived from the phase model) and the KPI
tree from the management goal down to what each phase controls."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from toolkit.base.docstrings import shared_docs
from toolkit.base.findings import Finding
from toolkit.base.phases import PhaseModel
from toolkit.base.vocabulary import stream
from toolkit.io.engagement import Engagement
from toolkit.measure.kpis import KPI, compute_kpis, kpi_tree, kpis_from_config, tree_kpis
from toolkit.present import narrative
from toolkit.present import plotting as tp
from toolkit.present.format import formatter
from toolkit.steps.parts import Parts, figure, in_languages, sentences
from toolkit.steps.result import StepResult, summary_frame
from toolkit.steps.store import shared_step

__all__ = ["kpis", "kpi_set_table"]


def kpi_set_table(kpi_set: Sequence[KPI]) -> pd.DataFrame:
    """The KPI definitions as a table.

    Parameters
    ----------
    kpi_set : sequence of KPI
        The KPIs (``kpis_from_config`` or ``default_kpis``).

    Returns
    -------
    DataFrame
        ``kpi, kind, unit, target, higher_is_better, owner``: one row per KPI, in order.
    """
    return pd.DataFrame([{"kpi": k.name, "kind": k.kind, "unit": k.unit, "target": k.target,
                          "higher_is_better": k.higher_is_better, "owner": k.owner}
                         for k in kpi_set],
                        columns=["kpi", "kind", "unit", "target", "higher_is_better", "owner"])


@shared_step(3)
@shared_docs
def kpis(engagement: Engagement, *, seed: int = 0) -> StepResult:
    """Step 3: the KPI set with units, targets, directions and owners, every KPI's value over all
    mature data, and the KPI tree (revenue = orders x deal size; orders = entries x each step's
    conversion).

    Parameters
    ----------
    {shared.engagement}
    {shared.seed}
        Here: the Monte Carlo interval of sales velocity.

    Returns
    -------
    {shared.step_result}
        Tables: `kpi set`, `kpi values`, `kpi tree`. Figures: `kpi tree`. Results: `kpi_set`
        (the KPI definitions), `values`, `tree`.

    Raises
    ------
    ConfigError
        A KPI declared in the YAML is wrong (the error names the key and the fix).
    """
    parts = Parts()
    kpi_set = kpis_from_config(engagement)
    values = compute_kpis(engagement, kpis=kpi_set, seed=stream(seed, "kpis"))
    # The tree's nodes from the values just computed; only nodes the KPI set lacks are added.
    have = set(values["kpi"])
    missing = [k for k in tree_kpis(engagement) if k.name not in have]
    tree_values = (pd.concat([values, compute_kpis(engagement, kpis=missing, seed=stream(seed, "kpis"))],
                             ignore_index=True) if missing else values)
    tree = parts.attempt("kpi tree", lambda: kpi_tree(engagement, tree_values))
    tables = {"kpi set": kpi_set_table(kpi_set), "kpi values": values}
    figures = {}
    if tree is not None:
        tables["kpi tree"] = tree
        figures["kpi tree"] = figure(tp.plot_kpi_tree, tree)
        lines = in_languages(lambda language: _conclusions(tree, language,
                                                           engagement.phase_model))
    else:
        lines = parts.in_languages()
    return StepResult(
        step=3, key="kpis", tables=tables,
        results={"kpi_set": list(kpi_set), "values": values, "tree": tree},
        figures=figures, problems=parts.problems, summary=_summary(tree, tree_values),
        headline=_headline(tree), conclusions_by_language=lines)


def _summary(tree: pd.DataFrame | None, values: pd.DataFrame) -> pd.DataFrame:
    """One row per node of the tree, with the KPI's interval, n and status where it is a KPI."""
    if tree is None:
        return summary_frame()
    overall = values.drop_duplicates("kpi").set_index("kpi")
    rows = []
    for node in tree.itertuples(index=False):
        kpi = overall.loc[node.node] if node.node in overall.index else None
        rows.append({"measure": node.label, "value": node.value,
                     "ci_low": None if kpi is None else kpi["ci_low"],
                     "ci_high": None if kpi is None else kpi["ci_high"],
                     "n": None if kpi is None else kpi["n"],
                     "status": "implied" if kpi is None else kpi["status_vs_target"]})
    return summary_frame(rows)


def _conclusions(tree: pd.DataFrame, language: str, phases: PhaseModel) -> list[str]:
    lines = sentences(narrative.kpi_tree(tree, language, phases))
    if tree["target"].isna().all():
        lines.append(formatter(language).gettext(
            "No target is declared for any node of the tree: agree them with management, so that "
            "a shortfall can be traced to its phase. Write them under `targets:` in the "
            "engagement YAML."))
    return lines


def _headline(tree: pd.DataFrame | None) -> str:
    if tree is None or tree.empty:
        return "No KPI tree could be built."
    root = tree.iloc[0]
    if pd.isna(root["value"]):
        return "Too few mature records to fill the KPI tree yet."
    if pd.notna(root["target"]):
        return Finding("kpi_tree_root", {"label": root["label"], "value": float(root["value"]),
                                         "target": float(root["target"]),
                                         "gap": float(root["value"] / root["target"] - 1)})
    return Finding("kpi_tree_root_no_target", {"label": root["label"],
                                               "value": float(root["value"])})
