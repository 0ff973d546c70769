"""Where things live: defined once, used by the CLI, the notebooks and the tests."""

from __future__ import annotations

import os
import re
from datetime import date as Date
from pathlib import Path

from toolkit.base.exceptions import ToolkitError

__all__ = ["PROJECT_ROOT", "DEMO_DIR", "DEMO_ENGAGEMENT", "NOTEBOOKS_DIR", "CLIENTS_DIR",
           "REPORTS_DIR", "PACKAGE_DATA", "NOTEBOOK_DEFAULT", "ENGAGEMENT_ENV",
           "notebook_engagement", "file_name", "report_folder"]

PACKAGE_DATA = Path(__file__).resolve().parents[1] / "data"
# The toolkit is used from its checkout (`pip install -e .`): the demo, notebooks and client folders
# sit beside the package.
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_DIR = PROJECT_ROOT / "data" / "demo"
DEMO_ENGAGEMENT = DEMO_DIR / "engagement.yaml"
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
CLIENTS_DIR = PROJECT_ROOT / "data" / "clients"
REPORTS_DIR = PROJECT_ROOT / "reports"

#: The notebooks' default `engagement` parameter: the demo, written relative to `notebooks/`.
NOTEBOOK_DEFAULT = "../data/demo/engagement.yaml"
#: The environment variable that replaces that default (a copied notebook, a scheduled run).
ENGAGEMENT_ENV = "FUNNEL_ENGAGEMENT"


def notebook_engagement(path: str | os.PathLike) -> Path:
    """The engagement YAML a notebook's `engagement` parameter names, wherever the notebook runs.

    The default (:data:`NOTEBOOK_DEFAULT`) is replaced by ``$FUNNEL_ENGAGEMENT`` when that is
    set. A relative path is looked up from the working folder, then from ``notebooks/`` (where
    the default was written) and the repository root, so a notebook copied into a client folder
    still finds the demo and ``data/clients/...`` works from ``notebooks/``.

    Parameters
    ----------
    path : str or PathLike
        The notebook's `engagement` parameter.

    Returns
    -------
    Path
        The engagement YAML found.

    Raises
    ------
    ToolkitError
        Nothing found: the error says where it looked and how to pass the path.
    """
    text = os.fspath(path)
    from_env = os.environ.get(ENGAGEMENT_ENV, "").strip()
    if text == NOTEBOOK_DEFAULT and from_env:
        text = from_env
    given = Path(text).expanduser()
    places = [given] if given.is_absolute() else [
        Path.cwd() / given, NOTEBOOKS_DIR / given, PROJECT_ROOT / given]
    for place in places:
        if place.is_file():
            return place
    looked = ", ".join(dict.fromkeys(str(place.parent) for place in places))
    source = f" (from ${ENGAGEMENT_ENV})" if text == from_env and from_env else ""
    raise ToolkitError(
        f"No engagement file {text!r}{source} (looked in {looked}). Fix: pass the engagement "
        f"YAML's path: `papermill -p engagement PATH NOTEBOOK OUT`, or set "
        f"{ENGAGEMENT_ENV}=PATH before starting Jupyter, or edit the `engagement` parameter cell")


def file_name(name: str) -> str:
    """An engagement name as one file or folder name.

    Letters, digits, `.`, `-` and `_` only, so a name such as `/abs/path` or `../x` can never
    point a deliverable outside the output folder.

    Parameters
    ----------
    name : str
        The engagement's ``name``.

    Returns
    -------
    str
        The name with every other character replaced.
    """
    cleaned = re.sub(r"[^\w.-]+", "_", str(name), flags=re.ASCII).strip("._") or "engagement"
    return cleaned[:100]


def report_folder(engagement_name: str, day: Date | None = None) -> Path:
    """The report folder `funnel run` writes without ``--out``: one folder per run.

    Parameters
    ----------
    engagement_name : str
        The engagement's ``name`` (made safe with :func:`file_name`).
    day : date, optional
        The run's day; default today.

    Returns
    -------
    Path
        ``reports/<engagement>/<date>/``.
    """
    return REPORTS_DIR / file_name(engagement_name) / (day or Date.today()).isoformat()
