"""The "what we concluded" text of each step, written from the results, never hard-coded.

Each function takes the step's results and returns Markdown bullets. When the data cannot carry a
conclusion (too few records, immature cohorts) it says so instead of claiming one.

Every value that comes from the client's data or the YAML (phase and KPI labels, attribute values,
the sentences other modules build from them) passes through :func:`text` where it meets the
Markdown: a CRM value is never markup, so `<img onerror=...>`, `![x](secret.csv)` or
`[c](javascript:...)` typed into a CRM field shows as those characters and does nothing.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from toolkit.base.vocabulary import MIN_N, MISSING, STATUS_SIGNIFICANT, STATUS_TOO_FEW, STATUS_UNJUDGED
from toolkit.measure.funnel import weakest_step

__all__ = ["text", "bullets", "baseline", "process_model", "kpi_tree", "measurement", "diagnosis",
           "improvement", "steering"]

# What Markdown (mistune, as nbconvert renders it) could read as syntax inside a line: emphasis,
# code, links and images (`[`), strikethrough, tables, math, a backslash itself. `&`, `<` and `>`
# become HTML entities, so no tag and no autolink `<...>` survives; `://` is broken up so that no
# bare `https://...` in a value turns into a link.
# An underscore between two letters or digits (lead_source) is never emphasis: left as typed.
_INLINE_SYNTAX = re.compile(r"([\\`*\[\]$~|]|(?<![^\W_])_|_(?![^\W_]))")
_HTML_SYNTAX = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# At the start of a line: a heading, a list item, a quote, a setext underline.
_LINE_START = re.compile(r"^(\s*)(#|[-+=]|\d+(?=[.)]))")
# Line breaks would start a new Markdown block (a heading, raw HTML); other control characters
# have no business in a sentence.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def text(value: object) -> str:
    """`value` as literal Markdown text: it shows as its characters and is never markup.

    For values from the client's data or the engagement YAML, and for sentences other modules
    build from them, wherever they meet the Markdown of a conclusion.
    """
    out = _CONTROL.sub(" ", str(value))
    out = _INLINE_SYNTAX.sub(r"\\\1", out).replace("://", "\\://")
    out = "".join(_HTML_SYNTAX.get(ch, ch) for ch in out)
    match = _LINE_START.match(out)
    if match:  # `1.` -> `1\.`, `# x` -> `\# x`: shown as written, not as a list or heading
        lead, mark = match.groups()
        rest = out[match.end():]
        out = lead + ("\\" + mark if not mark[0].isdigit() else mark + "\\") + rest
    return out


def bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines if line)


def _pct(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0%}"


def _ci(row) -> str:
    if pd.isna(row["ci_low"]):
        return ""
    return f" (95% interval {row['ci_low']:.0%}–{row['ci_high']:.0%})"


def baseline(engagement, funnel_frame: pd.DataFrame, audit, estimate) -> str:
    """Step 1: what the data holds, how clean it is, the raw funnel and the duration estimate."""
    rec = engagement.reconciliation
    rows_in, rows_q = int(rec["rows_in"].sum()), int(rec["rows_quarantined"].sum())
    # a lead list without dates has no as-of date unless the YAML sets one
    until = (f" up to {engagement.as_of:%d-%m-%Y}" if engagement.dated or engagement.config.as_of
             else " (without dates)")
    lines = [
        f"The exports hold {rows_in:,} rows; {rows_q:,} ({rows_q / max(rows_in, 1):.1%}) were set "
        f"aside with a reason, the rest give {len(engagement.records):,} records{until}.",
        text(audit.headline),
    ]
    if len(engagement.records) == 0:
        lines.append("No record could be used, so nothing can be concluded: see the quarantine "
                     "reasons above and correct the export or the engagement YAML.")
    weakest = weakest_step(funnel_frame, min_n=MIN_N)
    if weakest is None:
        lines.append("Too few records to conclude anything about conversion yet.")
    else:
        lines.append(
            f"Raw funnel: {int(funnel_frame['reached'].iloc[0]):,} records entered, "
            f"{int(funnel_frame['reached'].iloc[-1]):,} became an order. The weakest step so far "
            f"is {text(weakest['from_phase'])} → {text(weakest['phase'])} at {_pct(weakest['rate'])}"
            f"{_ci(weakest)}; step 4 measures it per cohort.")
    lines.append(f"Estimated engagement duration: {estimate.total_weeks:.0f} weeks (range "
                 f"{estimate.total_weeks_low:.0f}–{estimate.total_weeks_high:.0f}).")
    return bullets(lines)


def process_model(engagement, funnel_frame: pd.DataFrame) -> str:
    """Step 2: the phases and which CRM stages feed them."""
    model = engagement.phase_model
    mapped = set(model.normalised_mapping().values())  # `won` resolved to the last phase
    unmapped_phases = [p.key for p in model.phases if p.key not in mapped]
    lines = [f"The process has {len(model.phases)} phases: "
             + " → ".join(text(p.label) for p in model.phases) + "."]
    if unmapped_phases:
        lines.append(f"No CRM stage maps to {text(unmapped_phases)}: records pass these phases only by "
                     f"the skip rule, so their entry dates are not measured.")
    no_roles = [p.label for p in model.phases if not p.functions]
    if no_roles:
        lines.append(f"Phases without an owning function: {text(no_roles)}. Agree who owns them before "
                     f"KPIs get owners in step 3.")
    return bullets(lines)


def kpi_tree(tree: pd.DataFrame) -> str:
    """Step 3: where the goal is missed, traced down the tree."""
    lines = []
    root = tree.iloc[0]
    if pd.notna(root["target"]) and pd.notna(root["value"]):
        gap = root["value"] / root["target"] - 1
        lines.append(f"{text(root['label'])}: {root['value']:,.0f} against a target of "
                     f"{root['target']:,.0f} ({gap:+.0%}).")
    rates = tree[(tree["unit"] == "%") & tree["target"].notna() & tree["value"].notna()]
    if len(rates):
        short = rates.assign(ratio=rates["value"] / rates["target"]).sort_values("ratio")
        worst = short.iloc[0]
        lines.append(f"Furthest below its target: {text(worst['label'])} at {_pct(worst['value'])} "
                     f"against {_pct(worst['target'])}.")
    if pd.isna(root["value"]):
        empty = tree.loc[tree["value"].isna() & ~tree["node"].isin(["revenue", "orders"]),
                         "label"].tolist()
        lines.append("Too few mature records to fill the tree yet: "
                     + (f"no value for {text(', '.join(empty))} " if empty else "")
                     + "(nobody reached the phase, no deal won, or the records are still inside "
                       "their window; see step 4), so the implied orders and revenue cannot be "
                       "computed.")
    return bullets(lines)


def measurement(kpis: pd.DataFrame, seasonal, ttc: pd.DataFrame | None = None) -> str:
    """Step 4: the measured conversions, what is immature, and seasonality."""
    conv = kpis[kpis["kind"] == "conversion"]
    lines = []
    if conv["n"].fillna(0).max() < MIN_N:
        lines.append(f"Too few mature records to conclude (largest cohort n = "
                     f"{int(conv['n'].fillna(0).max())}; {int(conv['immature_n'].fillna(0).sum())} "
                     f"records are still inside their window).")
    else:
        for row in conv.itertuples():
            immature = 0 if pd.isna(row.immature_n) else int(row.immature_n)
            if pd.isna(row.value):
                continue  # named below, with the reason there is no value
            small = (f" — too few records to conclude (fewer than {MIN_N})"
                     if row.n < MIN_N else f" — {text(row.status_vs_target)}")
            lines.append(f"{text(row.label)}: {_pct(row.value)} (n = {int(row.n):,}, 95% interval "
                         f"{_pct(row.ci_low)}–{_pct(row.ci_high)}; {immature:,} too recent to "
                         f"count){small}.")
    nobody = conv[conv["n"].fillna(0).eq(0) & conv["immature_n"].fillna(0).eq(0)]
    if len(nobody):
        lines.append(f"No data for {text(', '.join(nobody['label']))}: no record reached the starting "
                     f"phase, so these conversions cannot be measured.")
    waiting = conv[conv["n"].fillna(0).eq(0) & conv["immature_n"].fillna(0).gt(0)]
    if len(waiting):
        lines.append(f"Not measurable yet: {text(', '.join(waiting['label']))} (every record is still "
                     f"inside its window).")
    if seasonal is not None:
        lines.append(text(seasonal.headline))
    usable = ttc[ttc["converted"] >= MIN_N] if ttc is not None and len(ttc) else None
    if usable is not None and len(usable):
        slow = usable.sort_values("median_days", ascending=False).iloc[0]
        if pd.notna(slow["median_days"]):
            shares = ", ".join(f"{_pct(slow[f'cif_{h}d'])} by day {h}" for h in (30, 90, 180)
                               if f"cif_{h}d" in slow and pd.notna(slow[f"cif_{h}d"]))
            lines.append(f"Slowest transition: {text(slow['transition'])} with a median of "
                         f"{slow['median_days']:.0f} days among records that convert (lost "
                         f"records competing, open records censored, not dropped)"
                         + (f"; converted {shares}." if shares else "."))
    return bullets(lines)


def diagnosis(fruit) -> str:
    """Step 5: the verdict and the top of the ranked low-hanging fruit."""
    lines = [f"Verdict: **{text(fruit.verdict.case)}**. {text(fruit.verdict.headline)}"]
    if fruit.verdict.advice:
        lines.append(text(fruit.verdict.advice))
    table = fruit.table
    sized = table[table["extra_orders"].notna()] if "extra_orders" in table else table.iloc[:0]
    for row in sized.head(3).itertuples():
        lines.append(f"**{text(row.rank)}.** {text(row.area)}: {text(row.finding)} — about "
                     f"{row.extra_orders:.0f} extra orders a year (range {row.extra_orders_low:.0f}–"
                     f"{row.extra_orders_high:.0f}).")
    others = table[table["extra_orders"].isna()] if "extra_orders" in table else table
    for row in others.head(3).itertuples():
        lines.append(f"{text(row.area)}: {text(row.finding)}")
    lines += _scan_lines(fruit.scan)
    if len(table) == 0:
        lines.append("No finding is strong enough to act on with this data.")
    return bullets(lines)


def _scan_lines(scan: pd.DataFrame) -> list[str]:
    """What the segment scan could and could not compare, what it refused and why."""
    refused = [] if scan is None else [
        f"Segment scan: `{attr}` is not scanned: {why}." for attr, why in
        scan.attrs.get("refused", {}).items()]
    missing = [] if scan is None or len(scan) == 0 else _missing_lines(scan)
    return refused + missing + _compared_lines(scan)


def _missing_lines(scan: pd.DataFrame) -> list[str]:
    """'(missing)' is a data-quality finding: how many records lack the attribute."""
    lines = []
    rows = scan[scan["segment"] == MISSING]
    for attr, part in rows.groupby("attribute", sort=True):
        first = part.iloc[0]
        total = first["n"] + first["rest_n"]
        if total and first["n"]:
            lines.append(f"Data quality: {attr} is blank for {first['n']:,} of {total:,} mature "
                         f"records at {first['from_phase']} -> {first['to_phase']} "
                         f"({first['n'] / total:.0%}); a blank is not a segment to act on.")
    return lines


def _compared_lines(scan: pd.DataFrame) -> list[str]:
    if scan is None or len(scan) == 0:
        return ["Segment scan: no segment could be compared (no records, or no segment "
                "attributes declared)."]
    lines = []
    # One value only when the scan holds one segment of the attribute: an empty "rest" can also
    # mean that no other segment has mature records yet (ten LeadSource values, young data).
    single = [(attr, str(part["segment"].iloc[0])) for attr, part in scan.groupby("attribute")
              if part["segment"].nunique() == 1 and part["rest_n"].eq(0).all()]
    for attr, value in single:
        lines.append(f"Segment scan: every record has {text(attr)} = {text(value)}, so there is "
                     f"no other {text(attr)} to compare it with.")
    rest = scan[~scan["attribute"].isin([a for a, _ in single])]
    if len(rest) and rest["p_adjusted"].isna().all():
        lines.append(f"Segment scan: too few records to conclude for any segment (at least "
                     f"{MIN_N} mature records are needed in the segment and in the rest).")
    elif len(rest) and not rest["flagged"].any():
        lines.append("Segment scan: no segment differs clearly from the rest after "
                     "multiple-testing control.")
    return lines


def improvement(plan) -> str:
    """Step 6: what the chosen improvement is worth, what it takes, and how to test it."""
    lines = []
    if plan.scenario is not None:
        orders = plan.scenario.outcomes[plan.scenario.outcomes["measure"] == "orders"].iloc[0]
        top = plan.bottleneck
        lines.append(f"Raising {text(top['from_phase'])} → {text(top['to_phase'])} from "
                     f"{_pct(top['rate'])} to {_pct(top['reference_rate'])} changes orders from "
                     f"{orders['baseline']:.1f} to {orders['scenario']:.1f} per "
                     f"{text(orders['period'])} (change {orders['change_ci_low']:+.1f} to "
                     f"{orders['change_ci_high']:+.1f}).")
    else:
        lines.append("No scenario: " + text(plan.explain("scenario")))
    if plan.required is not None and len(plan.required):
        first = plan.required[plan.required["phase"] == plan.required["phase"].iloc[0]]
        need, have = first["required_entries"].sum(), first["current_entries"].sum()
        lines.append(f"To meet the order target at current conversion the first phase needs "
                     f"{need:,.0f} entries a year against {have:,.0f} now.")
    exp = plan.experiment
    if exp is not None:
        wait = getattr(exp, "weeks_until_readable", float("nan"))
        sentence = (f"A test of a {exp.uplift * 100:.0f}-point improvement needs "
                    f"{exp.total_records:,} records")
        if wait == wait and wait > 52:
            sentence += (f"; at the current inflow that takes about {wait / 52:.0f} years, so a "
                         f"controlled test cannot show a change this small: test a bolder change, "
                         f"pool phases, or evaluate before/after.")
        elif wait == wait:
            sentence += (f"; at the current inflow it can be read after about {wait:.0f} weeks "
                         f"(window included).")
        lines.append(sentence + ("" if sentence.endswith(".") else "."))
    for change in getattr(plan, "changes", None) or ([plan.change] if plan.change else []):
        what = f"{text(change.description)} ({change.change_date:%d-%m-%Y}): " if getattr(
            change, "description", "") else ""
        lines.append(what + text(change.headline))
    if plan.explain("change"):
        lines.append(text(plan.explain("change")))
    return bullets(lines)


def steering(view) -> str:
    """Step 7: the scorecard in a sentence, the alerts and the period's headline."""
    lines = []
    card = view.card
    # KPIs by their labels (the monthly KPI frame has them): a reader does not know the keys
    monthly = getattr(view, "monthly", None)
    names = (dict(zip(monthly["kpi"].astype(str), monthly["label"].astype(str), strict=True))
             if monthly is not None and {"kpi", "label"} <= set(monthly.columns) else {})

    def label(key: object) -> str:
        return names.get(str(key), str(key))

    if card is None:
        return bullets(["No scorecard: " + text(view.explain("card"))])
    code = card["status_code"]
    judged = card[~code.isin(STATUS_UNJUDGED)]
    bad = judged[judged["status_code"].isin(STATUS_SIGNIFICANT)]
    if len(judged) == 0:
        no_data, no_target = int((code == "no_data").sum()), int((code == "no_target").sum())
        lines.append(f"No KPI can be judged against a target yet ({no_target} without a target, "
                     f"{no_data} without data): agree targets in step 3 and collect more history.")
    else:
        lines.append(f"{len(judged)} KPIs judged against target; {len(bad)} significantly off "
                     f"target" + (f": {text(', '.join(bad['kpi'].map(label)))}." if len(bad)
                                  else "."))
    few = judged[judged["status_code"].isin(STATUS_TOO_FEW)]
    if len(few):
        lines.append(f"{len(few)} of them rest on too few records to conclude.")
    if view.chart is None:
        lines.append("No control chart: " + text(view.explain("chart")))
    elif len(view.alerts):
        lines.append(f"{len(view.alerts)} control-chart alert(s) on {text(label(view.steer_on))}.")
    else:
        lines.append(f"No control-chart alerts: {text(label(view.steer_on))} moves within its limits.")
    if view.report is not None:
        lines += [text(line) for line in view.report.headline]
    return bullets(lines)
