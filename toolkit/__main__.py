"""`python -m toolkit` is the `funnel` command."""

from .cli import main

raise SystemExit(main())
