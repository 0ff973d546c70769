"""One call per method step, each returning a StepResult (see toolkit/steps/result.py);
`open_engagement` opens an engagement for them."""

from toolkit.steps.checks import check_engagement, open_engagement
from toolkit.steps.result import STEP_KEYS, SUMMARY_COLUMNS, StepResult, summary_frame

__all__ = ["STEP_KEYS", "SUMMARY_COLUMNS", "StepResult", "check_engagement", "open_engagement",
           "summary_frame"]
