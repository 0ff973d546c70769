"""The duration model: weeks per step of the seven steps and the effect of each factor's score,
from ``toolkit/data/duration_model.yaml`` or a firm's own fitted file."""


from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from toolkit.analysis.planning.factors import FACTORS, suggest
from toolkit.base.exceptions import ConfigError, OptionError


@dataclass(frozen=True)
class DurationModel:
    """The coefficients of the duration model (see ``toolkit/data/duration_model.yaml``).

    Attributes
    ----------
    steps
        ``step, step_name_nl, step_name_en, base_weeks`` for the seven steps.
    multipliers
        ``{factor: {step: (m1, m2, m3, m4, m5)}}``; steps a factor does not list have 1.0.
    low, high
        The planning range as multipliers of the estimate.
    source
        Where the model was read from.
    """

    steps: pd.DataFrame
    multipliers: dict[str, dict[int, tuple[float, ...]]]
    low: float
    high: float
    source: str

    def multiplier(self, factor: str, step: int, score: int) -> float:
        """The multiplier of ``factor`` at ``score`` on ``step`` (1.0 when it has no effect)."""
        return self.multipliers.get(factor, {}).get(step, (1.0,) * 5)[score - 1]


def load_duration_model(model: Mapping[str, Any] | str | Path | DurationModel | None = None
                        ) -> DurationModel:
    """Read and validate a duration model.

    Parameters
    ----------
    model
        ``None`` for the packaged default (``toolkit/data/duration_model.yaml``), the path of a
        calibrated copy, a mapping with the same structure, or a :class:`DurationModel`.

    Returns
    -------
    DurationModel
        The validated model: the seven steps' base weeks, the multiplier of each factor per
        step and score, and the planning range.

    Raises
    ------
    ConfigError
        Naming the file and key of anything that does not fit (see the YAML's comments).
    """
    if isinstance(model, DurationModel):
        return model
    if model is None:
        resource = resources.files("toolkit").joinpath("data", "duration_model.yaml")
        source = "toolkit/data/duration_model.yaml"
        content = yaml.safe_load(resource.read_text(encoding="utf-8"))
    elif isinstance(model, str | Path):
        source = str(model)
        try:
            content = yaml.safe_load(Path(model).read_text(encoding="utf-8"))
        except FileNotFoundError as error:
            raise ConfigError("the duration model file does not exist", file=source,
                              fix="pass None for the default model or the path of a copy"
                              ) from error
        except yaml.YAMLError as error:
            raise ConfigError(f"the file is not valid YAML: {error}", file=source,
                              fix="fix the YAML syntax (indentation, colons)") from error
    elif isinstance(model, Mapping):
        source, content = "<mapping>", model
    else:
        raise OptionError(
            "The value for `model` must be None, a path or a mapping, but a "
            f"{type(model).__name__} was passed", fix="pass None for the default model")
    return _parse_model(content, source)


def _parse_model(content: Any, source: str) -> DurationModel:
    def fail(message: str, key: str, fix: str, value: Any = None) -> ConfigError:
        return ConfigError(message, file=source, key=key, value=value, fix=fix)

    if not isinstance(content, Mapping):
        raise fail("the model must be a mapping with `steps`, `factors` and `range`", "<top>",
                   "start from toolkit/data/duration_model.yaml")
    allowed = {"model_version", "unit", "steps", "factors", "range"}
    for key in content:
        if key not in allowed:
            raise fail(f"{key!r} is not a model key", str(key), suggest(str(key), sorted(allowed)))
    for key in ("steps", "factors", "range"):
        if key not in content:
            raise fail(f"the model has no `{key}`", key,
                       "copy the section from toolkit/data/duration_model.yaml")

    steps = content["steps"]
    if not isinstance(steps, list):
        raise fail("`steps` must be a list of the seven steps", "steps",
                   "write one item per step with step, name_nl, name_en, base_weeks")
    rows = []
    for position, item in enumerate(steps):
        key = f"steps[{position}]"
        if not isinstance(item, Mapping) or set(item) != {"step", "name_nl", "name_en",
                                                            "base_weeks"}:
            raise fail("each step needs exactly the keys step, name_nl, name_en, base_weeks",
                       key, "write e.g. {step: 1, name_nl: Nulmeting, name_en: Baseline, "
                            "base_weeks: 2}",
                       value=sorted(map(str, item)) if isinstance(item, Mapping) else item)
        weeks = item["base_weeks"]
        if not is_positive(weeks):
            raise fail("`base_weeks` must be a positive number", f"{key}.base_weeks",
                       "write the weeks for an average client, e.g. 2.5", value=weeks)
        rows.append({"step": item["step"], "step_name_nl": str(item["name_nl"]),
                     "step_name_en": str(item["name_en"]), "base_weeks": float(weeks)})
    numbers = [row["step"] for row in rows]
    if sorted(numbers) != list(range(1, 8)):
        raise fail("`steps` must hold the steps 1 to 7, each once", "steps",
                   "list the seven steps of the method", value=numbers)
    table = pd.DataFrame(rows).sort_values("step").reset_index(drop=True)
    table["step"] = table["step"].astype(int)

    factors = content["factors"]
    if not isinstance(factors, Mapping):
        raise fail("`factors` must map each factor to {step: [five multipliers]}", "factors",
                   f"write the keys {list(FACTORS)}")
    multipliers: dict[str, dict[int, tuple[float, ...]]] = {}
    for factor, effects in factors.items():
        if factor not in FACTORS:
            raise fail(f"{factor!r} is not a duration factor", f"factors.{factor}",
                       suggest(str(factor), FACTORS))
        effects = effects or {}
        if not isinstance(effects, Mapping):
            raise fail("a factor maps steps to five multipliers", f"factors.{factor}",
                       "write e.g. `4: [1.6, 1.25, 1.0, 0.85, 0.7]`")
        multipliers[factor] = {}
        for step, values in effects.items():
            key = f"factors.{factor}.{step}"
            if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= 7:
                raise fail("the step must be a number from 1 to 7", key,
                           "use the step numbers of the method", value=step)
            if (not isinstance(values, list) or len(values) != 5
                    or not all(is_positive(v) for v in values)):
                raise fail("give five positive multipliers, for the scores 1 to 5", key,
                           "write e.g. [1.6, 1.25, 1.0, 0.85, 0.7] (score 3 = 1.0)", value=values)
            multipliers[factor][step] = tuple(float(v) for v in values)
    for factor in FACTORS:
        multipliers.setdefault(factor, {})

    spread = content["range"]
    if not isinstance(spread, Mapping) or set(spread) != {"low", "high"}:
        raise fail("`range` needs exactly `low` and `high`", "range",
                   "write e.g. {low: 0.85, high: 1.35}")
    low, high = spread["low"], spread["high"]
    if not is_positive(low) or low > 1:
        raise fail("`range.low` must be a number in (0, 1]", "range.low", "use e.g. 0.85",
                   value=low)
    if not is_positive(high) or high < 1:
        raise fail("`range.high` must be a number >= 1", "range.high", "use e.g. 1.35", value=high)
    return DurationModel(steps=table, multipliers=multipliers, low=float(low), high=float(high),
                         source=source)


def is_positive(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


