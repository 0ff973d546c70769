"""One call per method step, each returning a StepResult; `open_engagement` opens one for them."""

from toolkit.steps.checks import check_engagement, open_engagement

__all__ = ["check_engagement", "open_engagement"]
