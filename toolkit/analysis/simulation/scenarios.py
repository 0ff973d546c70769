"""A scenario's changes (new rates, uplifts in points or percent, volume multipliers) and the Monte
Carlo core that turns them into orders with intervals."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

# not statsmodels.api, which imports all of statsmodels (about 0.3 s)
from toolkit.analysis.simulation.baseline import Baseline
from toolkit.base.exceptions import OptionError
from toolkit.base.findings import Finding

_SIGNED = re.compile(r"^([+-])\s*(\d+(?:[.,]\d+)?)\s*(pp|%)$")
_PERCENT = re.compile(r"^(\d+(?:[.,]\d+)?)\s*%$")
_RATES_HELP = ("a float between 0 and 1 (the new rate), '40%' (the same), '+5pp' (percentage "
               "points) or '+10%' (relative to the baseline)")
_UPLIFT_HELP = ("a float (the absolute difference, 0.02 = 2 points), '+2pp' (percentage points) "
                "or '+10%' (relative to the baseline)")


@dataclass(frozen=True)
class _Change:
    kind: str  # "absolute" | "points" | "relative"
    amount: float
    text: str

    def apply(self, rate: np.ndarray | float) -> np.ndarray:
        rate = np.asarray(rate, dtype=float)
        if self.kind == "absolute":
            return np.full_like(rate, self.amount)
        if self.kind == "points":
            return np.clip(rate + self.amount, 0.0, 1.0)
        return np.clip(rate * (1.0 + self.amount), 0.0, 1.0)


def parse_change(name: str, key: object, value: object, *, signed_only: bool = False) -> _Change:
    where = name if signed_only else f"{name}[{key!r}]"
    bad = OptionError(f"The value for `{where}` must be {_UPLIFT_HELP if signed_only else _RATES_HELP}"
                      f", but {value!r} was passed.")
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int | float | np.floating | np.integer):
        number = float(value)
        if signed_only:
            return _Change("points", number, f"{number * 100:+.1f}pp")
        if not 0.0 <= number <= 1.0:
            raise OptionError(f"The value for `{name}[{key!r}]` must be a rate between 0 and 1, but "
                              f"{value!r} was passed. Fix: write 0.40 for 40%, or '+5pp' for a "
                              "change in percentage points.")
        return _Change("absolute", number, Finding("share", {"share": number}))
    if not isinstance(value, str):
        raise bad
    text = value.strip().lower().replace(" ", "")
    signed = _SIGNED.match(text)
    if signed:
        size = float(signed.group(2).replace(",", ".")) / 100.0
        size = -size if signed.group(1) == "-" else size
        kind = "points" if signed.group(3) == "pp" else "relative"
        return _Change(kind, size, value.strip())
    plain = _PERCENT.match(text)
    if plain and not signed_only:
        number = float(plain.group(1).replace(",", ".")) / 100.0
        if number > 1.0:
            raise bad
        return _Change("absolute", number, value.strip())
    raise bad


def _step_key(key: object, steps: list[tuple[str, str]]) -> tuple[str, str]:
    allowed = [f"{a}->{b}" for a, b in steps]
    if isinstance(key, tuple) and len(key) == 2:
        pair = (str(key[0]), str(key[1]))
    elif isinstance(key, str) and "->" in key:
        left, right = key.split("->", 1)
        pair = (left.strip(), right.strip())
    else:
        pair = None
    if pair not in steps:
        raise OptionError(f"The keys of `rates` must be steps of the phase model {allowed} (or "
                          f"(from, to) tuples), but {key!r} was passed.")
    return pair


def parse_rates(rates: Mapping | None, base: Baseline) -> dict[tuple[str, str], _Change]:
    if rates is None:
        return {}
    if not isinstance(rates, Mapping):
        raise OptionError(f"The value for `rates` must be a mapping such as "
                          f"{{'lead->opportunity': 0.40}}, but {rates!r} was passed.")
    return {_step_key(k, base.steps): parse_change("rates", k, v) for k, v in rates.items()}


def parse_volumes(volumes: Mapping | None, base: Baseline) -> np.ndarray:
    multipliers = np.ones(len(base.phases))
    if volumes is None:
        return multipliers
    if not isinstance(volumes, Mapping):
        raise OptionError(f"The value for `volumes` must be a mapping such as {{'target': 1.2}}, "
                          f"but {volumes!r} was passed.")
    for phase, factor in volumes.items():
        if phase not in base.phases:
            raise OptionError(f"The keys of `volumes` must be phases {base.phases}, but {phase!r} "
                              "was passed.")
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not factor >= 0 \
                or not math.isfinite(factor):
            raise OptionError(f"The value for `volumes[{phase!r}]` must be a multiplier >= 0 (1.2 "
                              f"= 20% more entries), but {factor!r} was passed.")
        multipliers[base.phases.index(phase)] = float(factor)
    return multipliers


def scenario_rates(base_rates: np.ndarray, changes: dict, base: Baseline) -> np.ndarray:
    out = np.array(base_rates, dtype=float, copy=True)
    for j, step in enumerate(base.steps):
        if step in changes:
            out[..., j] = changes[step].apply(out[..., j])
    return out


def posterior_draws(base: Baseline, rng: np.random.Generator, draws: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Monthly first-phase volume, step rates and mean won value, drawn from their posteriors."""
    total = float(base.entries[base.phases[0]].sum())
    months = len(base.months)
    volume = rng.gamma(total + 0.5, 1.0 / months, size=draws)
    x = base.rates["successes"].to_numpy(float)
    n = base.rates["n"].to_numpy(float)
    rates = rng.beta(x + 0.5, n - x + 0.5, size=(draws, len(x)))
    if base.value_n >= 2 and base.value_sd > 0:
        value = np.maximum(rng.normal(base.value_mean, base.value_sd / math.sqrt(base.value_n),
                                      size=draws), 0.0)
    else:
        value = np.full(draws, base.value_mean)
    return volume, rates, value


def flows(first: float | np.ndarray, rates: np.ndarray, multipliers: np.ndarray) -> np.ndarray:
    """Expected entries per phase: first-phase volume times the cumulative product of the steps."""
    steps = np.clip(rates * multipliers[1:], 0.0, None)
    start = np.asarray(first, dtype=float) * multipliers[0]
    cumulative = np.cumprod(steps, axis=-1)
    return np.concatenate([start[..., None], start[..., None] * cumulative], axis=-1)


def simulate_counts(first: np.ndarray, rates: np.ndarray, multipliers: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """Realised entries per phase in one period: Poisson arrivals, binomial steps."""
    counts = [rng.poisson(first * multipliers[0])]
    for j in range(rates.shape[1]):
        prev, p, m = counts[-1], rates[:, j], multipliers[j + 1]
        if m <= 1.0:
            counts.append(rng.binomial(prev, np.clip(p * m, 0.0, 1.0)))
        else:  # the extra entries straight into this phase arrive as a Poisson stream
            counts.append(rng.binomial(prev, p) + rng.poisson(prev * p * (m - 1.0)))
    return np.stack(counts, axis=1).astype(float)


def interval_of(values: np.ndarray, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail], axis=axis)
    return low, high


