"""Issue 21 item 4: quantities that differ are labelled as what they are. The what-if's orders
per month are simulated (not step 3's implied orders nor the orders counted); step 1's "weakest
step" is never contradicted by a lower step in the funnel table beside it."""

from __future__ import annotations

import warnings

import pandas as pd
from test_diagnosis import Builder

from toolkit.present.format import formatter
from toolkit.present.tables import display_table
from toolkit.steps import run_all


def test_the_what_if_orders_per_month_say_they_are_simulated():
    frame = pd.DataFrame({"measure": ["orders"], "period": ["month"]})
    nl = display_table(frame, ["measure_per"], fmt=formatter("nl"))
    en = display_table(frame, ["measure_per"], fmt=formatter("en"))
    assert nl.rows[0][0].text == "Orders per maand (gesimuleerd)"
    assert en.rows[0][0].text == "Orders per month (simulated)"


def test_step_1_names_a_lower_step_with_too_few_records_beside_the_weakest():
    # 200 records at a, 25 reach b (12.5%, n = 200), 2 reach c (8%, n = 25 < 30), both reach d.
    # The weakest step with at least 30 records is a -> b; b -> c converts lower on 25 records
    # and is named, so "weakest" is not contradicted by the funnel table.
    b = Builder("abcd")
    b.add(2, "d", start="2024-01-01", every=3)
    b.add(23, "b", start="2024-01-02", every=3)
    b.add(175, "a", start="2024-01-03", every=1)
    e = b.engagement(as_of="2026-01-01", cohort_window_days=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = run_all(e, steps=[1])[1]
    text = " ".join(one.conclusions_by_language["en"])
    assert "Among the steps with at least 30 records the weakest so far is A → B at 12%" in text
    assert "B → C converts 8% but on only 25 records" in text
    nl = " ".join(one.conclusions_by_language["nl"])
    assert "converteert 8%, maar op maar 25 records" in nl
