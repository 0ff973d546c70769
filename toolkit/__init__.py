"""Commercial-process optimisation toolkit: phases, KPIs, diagnosis and steering."""

__version__ = "0.1.0"

from toolkit.base.phases import Phase, PhaseModel  # noqa: E402
from toolkit.io.engagement import Engagement  # noqa: E402

__all__ = ["Engagement", "Phase", "PhaseModel", "__version__"]
