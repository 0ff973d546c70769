"""The `funnel` command: start, check, measure and report an engagement.

One module a command (``new``, ``validate``, ``kpis``, ``reveal``, ``run`` for run, demo, compare
and notebooks), ``program`` (the parser, the entry points, the crash log) and ``terminal`` (text
tables, escaped control characters). Import the names from the package.
"""

from __future__ import annotations

from toolkit.cli.program import build_parser, command, main

__all__ = ["main", "command", "build_parser"]
