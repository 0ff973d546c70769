"""Commercial-process optimisation toolkit: phases, KPIs, diagnosis and steering."""

from toolkit.base.phases import Phase, PhaseModel
from toolkit.base.version import VERSION as __version__
from toolkit.io.engagement import Engagement
from toolkit.present import findings as _findings  # noqa: F401  (writes every Finding's English)

__all__ = ["Engagement", "Phase", "PhaseModel", "__version__"]
