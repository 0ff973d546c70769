"""One call per method step, each returning a StepResult (see toolkit/steps/result.py)."""
