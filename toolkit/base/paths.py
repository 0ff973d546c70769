"""Where things live: defined once, used by the CLI, the notebooks and the tests."""

from __future__ import annotations

from pathlib import Path

__all__ = ["PROJECT_ROOT", "DEMO_DIR", "DEMO_ENGAGEMENT", "NOTEBOOKS_DIR", "CLIENTS_DIR",
           "REPORTS_DIR", "PACKAGE_DATA"]

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
# The toolkit is used from its checkout (`pip install -e .`): the demo, notebooks and client folders
# sit beside the package.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = PROJECT_ROOT / "data" / "demo"
DEMO_ENGAGEMENT = DEMO_DIR / "engagement.yaml"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
CLIENTS_DIR = PROJECT_ROOT / "data" / "clients"
REPORTS_DIR = PROJECT_ROOT / "reports"
