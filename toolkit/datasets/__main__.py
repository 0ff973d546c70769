"""`python -m toolkit.datasets DIR`: write the demo company's exports and answer key into DIR."""

from toolkit.datasets.exports import main

if __name__ == "__main__":
    raise SystemExit(main())
