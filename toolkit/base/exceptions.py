"""Domain exceptions and warnings: every message names the place and prescribes the fix."""

from __future__ import annotations

__all__ = [
    "ToolkitError",
    "ConfigError",
    "OptionError",
    "DataError",
    "UnknownStageError",
    "NeedsDates",
    "DATA_ERRORS",
    "NoteWarning",
    "SmallSampleWarning",
    "ImmatureCohortWarning",
]


class ToolkitError(Exception):
    """Base class of every error the toolkit raises on purpose."""


class ConfigError(ToolkitError):
    """The engagement YAML is wrong: names the file, the key path, the value and the fix."""

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 value: object = None, fix: str | None = None) -> None:
        self.file, self.key, self.value, self.fix = file, key, value, fix
        parts = []
        if file:
            parts.append(f"{file}")
        if key:
            parts.append(f"key `{key}`")
        where = ", ".join(parts)
        text = f"{where}: {message}" if where else message
        if value is not None:
            text += f" (got {value!r})"
        if fix:
            text += f". Fix: {fix}"
        super().__init__(text)


class OptionError(ConfigError, ValueError):
    """A bad argument value (an unknown option, a seed that is not a whole number >= 0): the one
    exception type of ``toolkit.base.vocabulary.check_option`` and ``check_seed``. A ConfigError
    that is also a ValueError, so generic code can catch it the usual way."""


class DataError(ToolkitError):
    """A data file is wrong: names the file, the row (1-based, as a spreadsheet shows it),
    the column, the value and the fix."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None,
                 column: str | None = None, value: object = None, fix: str | None = None) -> None:
        self.file, self.row, self.column, self.value, self.fix = file, row, column, value, fix
        parts = []
        if file:
            parts.append(str(file))
        if row is not None:
            parts.append(f"row {row}")
        if column:
            parts.append(f"column {column!r}")
        where = ", ".join(parts)
        text = f"{where}: {message}" if where else message
        if value is not None:
            text += f" (value {value!r})"
        if fix:
            text += f". Fix: {fix}"
        super().__init__(text)


class UnknownStageError(DataError):
    """The data holds CRM stages the phase model does not map; lists each with its row count."""

    def __init__(self, file: str, column: str, counts: dict[str, int], *, engagement: str = "") -> None:
        self.counts = dict(counts)
        listing = ", ".join(f"{stage!r} ({n} rows)" for stage, n in sorted(counts.items()))
        where = f" in {engagement}" if engagement else ""
        super().__init__(
            f"{len(counts)} CRM stage(s) are not in the stage mapping: {listing}",
            file=file, column=column,
            fix=(f"add each stage under `stage_mapping`{where} (map it to a phase key, `won`, "
                 "`lost` or `ignore`), or set `unknown_stages: quarantine` to set those rows aside"),
        )


class NeedsDates(ToolkitError):
    """A time-based view (cohorts by month, durations, seasonality, control charts, before/after)
    asked of an engagement whose records carry no dates (a lead list loaded with `dated: false`).
    The toolkit never invents a date: it says what needs one. `what` names the view; `code` is the
    reason code a step result or report shows beside the prose."""

    code = "needs_dates"

    def __init__(self, what: str, *, sources: list[str] | tuple[str, ...] = ()) -> None:
        self.what = what
        self.fix = ("load an export that has a creation or first-contact date per record "
                    "(`columns.created_at`, without `dated: false`); counts, conversions and "
                    "segment comparisons are available without dates")
        names = ", ".join(repr(s) for s in sources)
        which = f" (source {names} is a lead list without dates, `dated: false`)" if names else ""
        super().__init__(f"{what}: needs dates, and this engagement's records have none{which}. "
                         f"Fix: {self.fix}")


#: The errors a part of a step states as a reason instead of raising: what the client's records
#: cannot carry (too few records, nothing to compare, no dates). A wrong argument (``OptionError``,
#: ``TypeError``), a wrong engagement YAML (``ConfigError``) and every other Python error are never
#: among them: catch these, never the whole ``ToolkitError``, where a part may fail on the data.
DATA_ERRORS: tuple[type[DataError], type[NeedsDates]] = (DataError, NeedsDates)


class NoteWarning(UserWarning):
    """A note about the data that a step keeps for the report (a snapshot's caveat, an attribute
    left out of the scan), with a `code` (``toolkit.base.vocabulary.PROBLEMS``) and the `values`
    it names, so the report writes it in its own language."""

    def __init__(self, message: str, code: str, values: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.values = dict(values or {})


class SmallSampleWarning(UserWarning):
    """Counts are too small for the asymptotic method; an exact method was used instead."""


class ImmatureCohortWarning(UserWarning):
    """Some records are too recent for their conversion window to have closed."""
