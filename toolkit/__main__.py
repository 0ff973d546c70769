"""`python -m toolkit` is the `funnel` command."""

from toolkit.cli import main

raise SystemExit(main())
