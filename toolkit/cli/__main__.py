"""`python -m toolkit.cli`: the `funnel` command."""

from toolkit.cli.program import main

if __name__ == "__main__":
    raise SystemExit(main())
