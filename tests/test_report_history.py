"""The report history (toolkit.analysis.history): one line per run, a KPI a run did not have is
missing (never 0), and the trend over runs is each value's difference to the run before."""

from __future__ import annotations

import pytest

from toolkit.analysis.history import HISTORY_FILE, append_history, history_path, read_history, scorecard_trend
from toolkit.base.exceptions import ConfigError


def _state(as_of, **values):
    return {"as_of": as_of, "run_at": as_of + "T12:00:00+00:00",
            "scorecard": [{"kpi": k, "value": v, "period": as_of[:7]} for k, v in values.items()]}


def test_one_line_per_run_and_the_trend(tmp_path):
    path = history_path(tmp_path / "2026-01-31")
    assert path == tmp_path.resolve() / HISTORY_FILE
    append_history(path, _state("2026-01-31", conv_a_b=0.30), report="2026-01-31")
    append_history(path, _state("2026-02-28", conv_a_b=0.35, win_rate=0.2), report="2026-02-28")
    append_history(path, _state("2026-03-31", conv_a_b=0.25), report="2026-03-31")
    history = read_history(path)
    assert list(history["report"]) == ["2026-01-31", "2026-02-28", "2026-03-31"]
    # a KPI the first and last run did not have is missing there, not 0
    assert history["win_rate"].isna().tolist() == [True, False, True]
    trend = scorecard_trend(path)
    conv = trend[trend["kpi"] == "conv_a_b"]
    assert conv["value"].tolist() == pytest.approx([0.30, 0.35, 0.25])
    # 0.35 - 0.30 and 0.25 - 0.35; the first run has no run before it
    assert conv["change"].tolist()[1:] == pytest.approx([0.05, -0.10])
    assert conv["period"].tolist() == ["2026-01", "2026-02", "2026-03"]
    assert len(trend[trend["kpi"] == "win_rate"]) == 1


def test_a_file_that_is_no_history_is_refused_with_the_fix(tmp_path):
    path = tmp_path / HISTORY_FILE
    path.write_text("name,email\nx,y\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no report history"):
        append_history(path, _state("2026-01-31", k=0.1), report="r")
