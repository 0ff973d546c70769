"""`python -m toolkit` is the `funnel` command."""

from toolkit.cli import command

raise SystemExit(command())
