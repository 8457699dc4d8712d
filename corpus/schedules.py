"""Cron expressions and time zones of a pipeline's schedules, checked without Dagster.

A schedule in a spec names a standard five-field cron expression (minute, hour, day of
month, month, day of week; ``*``, lists, ranges, ``*/n`` steps, month and weekday names)
or one of the aliases ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``, and
an IANA time zone. :func:`cron_problem` and :func:`timezone_problem` say what is wrong in
words a spec author can act on; ``None`` means the value is fine.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
MONTHS = {
    m: i for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)
}
WEEKDAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_ITEM = re.compile(r"^(?P<range>\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:/(?P<step>\d+))?$")
EXAMPLES = "e.g. '0 2 * * *' (02:00 every day) or '0 6 * * mon' (06:00 on Mondays)"


def expand_cron(expression: str) -> str:
    """The five-field form of ``expression`` (aliases replaced, whitespace normalized)."""
    text = " ".join(expression.strip().lower().split())
    return ALIASES.get(text, text)


def _value(token: str, index: int) -> int | None:
    if token.isdigit():
        return int(token)
    names = MONTHS if index == 3 else WEEKDAYS if index == 4 else {}
    return names.get(token)


def _item_problem(item: str, index: int) -> str | None:
    name, lo, hi = FIELDS[index]
    m = _ITEM.match(item)
    if not m:
        return (
            f"{item!r} is not a cron item of the {name} field (a number, a range a-b, '*', or one of those with /step)"
        )
    step = m.group("step")
    if step is not None and int(step) == 0:
        return f"a step of 0 in {item!r} ({name})"
    part = m.group("range")
    if part == "*":
        return None
    bounds = part.split("-")
    values = [_value(b, index) for b in bounds]
    for b, v in zip(bounds, values, strict=True):
        if v is None:
            return f"{b!r} is not a value of the {name} field"
        if not lo <= v <= hi:
            return f"{v} is out of range for the {name} field ({lo}-{hi})"
    if len(values) == 2 and values[0] > values[1]:  # type: ignore[operator]
        return f"the range {part!r} of the {name} field runs backwards"
    return None


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a usable cron schedule, or None."""
    text = expand_cron(expression)
    if text.startswith("@"):
        return f"unknown alias {expression!r}; use five fields ({EXAMPLES}) or one of {', '.join(ALIASES)}"
    fields = text.split(" ")
    if len(fields) != 5:
        return (
            f"{expression!r} has {len(fields)} field(s); a cron schedule has five "
            f"(minute hour day-of-month month day-of-week), {EXAMPLES}"
        )
    for index, field in enumerate(fields):
        for item in field.split(","):
            problem = _item_problem(item, index)
            if problem:
                return f"{problem}; {EXAMPLES}"
    day, month = fields[2], fields[3]
    if month in ("2", "feb") and day.isdigit() and int(day) >= 30:
        return f"{expression!r} never fires (February has no day {day})"
    return None


def timezone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone, or None."""
    if name == "UTC":
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = sorted(z for z in available_timezones() if z.lower().endswith(name.lower().split("/")[-1]))[:3]
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else "; use an IANA name such as UTC, Europe/Berlin or America/New_York"
        )
        return f"unknown time zone {name!r}{hint}"
    return None
