"""Commercial-process optimisation toolkit: phases, KPIs, diagnosis and steering."""

__version__ = "0.1.0"

