"""The engagement settings the steps rely on beyond loading, checked before any step runs."""

from __future__ import annotations

from toolkit.analysis.planning import factors_for
from toolkit.base.exceptions import ConfigError, DataError, ToolkitError
from toolkit.measure.benchmarks import benchmarks_for
from toolkit.measure.kpis import kpis_from_config

__all__ = ["check_engagement"]


def check_engagement(engagement) -> None:
    """Check what the steps rely on beyond loading: the segments, the declared KPIs, the duration
    factors and the benchmark mapping. A wrong one raises ``ConfigError`` naming the engagement
    file and the key, so `funnel validate` says what is wrong instead of a step failing later."""
    checks = [("segments", lambda: engagement.segments)]
    config = engagement.config
    if config.kpis:
        checks.append(("kpis", lambda: kpis_from_config(engagement)))
    if config.duration_factors:
        checks.append(("duration_factors", lambda: factors_for(engagement)))
    if config.benchmark_stages or config.benchmarks_file:
        checks.append(("benchmark_stages", lambda: benchmarks_for(engagement)))
    for key, check in checks:
        try:
            check()
        except (ConfigError, DataError) as exc:
            if exc.file:
                raise
            raise ConfigError(str(exc).split(" Fix: ")[0].rstrip("."), file=str(engagement.path),
                              key=key, fix=exc.fix or "see the YAML reference in README.md"
                              ) from None
        except (ToolkitError, ValueError, KeyError, TypeError, OSError) as exc:
            text = str(exc).split(" Fix: ")[0].rstrip(".")
            raise ConfigError(text, file=str(engagement.path), key=key,
                              fix="correct this key; see the YAML reference in README.md"
                              ) from None
