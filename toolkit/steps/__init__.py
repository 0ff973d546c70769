"""One call per method step, each returning a StepResult (see toolkit/steps/result.py)."""

from toolkit.steps.result import STEP_KEYS, SUMMARY_COLUMNS, StepResult, summary_frame

__all__ = ["STEP_KEYS", "SUMMARY_COLUMNS", "StepResult", "summary_frame"]
