"""The toolkit's version, read once from the installed package's metadata (pyproject.toml's
`version`), so the report's manifest, the cache key and `funnel --version` cannot disagree with
what pip installed."""

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("funnel-toolkit")
except PackageNotFoundError:  # run from a source tree that was never installed
    VERSION = "0+unknown"
