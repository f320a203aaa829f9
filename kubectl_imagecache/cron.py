"""The longest wait between two runs of a CronJob's schedule (sync --status warns past twice that).

Read as Kubernetes reads spec.schedule (robfig/cron's standard parser): five fields, minute hour
day-of-month month day-of-week, each of numbers or names (jan, mon), ``*`` or ``?``, ranges, steps
and lists; the macros (@hourly ... @yearly) and ``@every DURATION``. When day-of-month and
day-of-week are both restricted a day matches either (cron's rule). Minutes are counted in one
time zone: a daylight-saving change moves a run by an hour, which twice the gap absorbs.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Optional

__all__ = ["CronError", "longest_gap"]

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
# (lowest, highest, names) of minute, hour, day of month, month, day of week
_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, _MONTHS),
                                                        (0, 6, _DAYS))
_MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
           "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_CYCLE_YEARS = 400  # the Gregorian calendar (leap years and weekdays) repeats every 400 years
_DAY_MINUTES = 1440


class CronError(ValueError):
    """A schedule this module cannot read, or one that never runs."""


def _value(text: str, lo: int, hi: int, names: dict[str, int]) -> int:
    v = names.get(text.lower()) if names else None
    if v is None:
        if not text.isdigit():
            raise CronError(f'"{text}" is not a number from {lo} to {hi}')
        v = int(text)
    if not lo <= v <= hi:
        raise CronError(f"{v} is out of range {lo}-{hi}")
    return v


def _field(text: str, lo: int, hi: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    """The values a field matches, and whether it is unrestricted (``*`` or ``?`` without a step)."""
    values: set[int] = set()
    star = False
    for part in text.split(","):
        rng, slash, step_text = part.partition("/")
        if slash and not step_text.isdigit() or slash and int(step_text) == 0:
            raise CronError(f'"{part}" has no valid step')
        step = int(step_text) if slash else 1
        if rng in ("*", "?"):
            first, last = lo, hi
            star = star or step == 1
        elif "-" in rng:
            a, _, b = rng.partition("-")
            first, last = _value(a, lo, hi, names), _value(b, lo, hi, names)
        else:
            first = _value(rng, lo, hi, names)
            last = hi if slash else first  # "N/step" means N-highest/step
        if first > last:
            raise CronError(f'"{part}" is an empty range')
        values.update(range(first, last + 1, step))
    return frozenset(values), star


def _days(dom: frozenset[int], months: frozenset[int], dow: frozenset[int], either: bool) -> list[int]:
    """Ordinals of the matching days in one 400-year cycle."""
    out = []
    for year in range(2001, 2001 + _CYCLE_YEARS):
        for month in sorted(months):
            for day in range(1, calendar.monthrange(year, month)[1] + 1):
                d = dt.date(year, month, day)
                in_month, in_week = day in dom, (d.weekday() + 1) % 7 in dow  # cron counts from Sunday = 0
                if (in_month or in_week) if either else (in_month and in_week):
                    out.append(d.toordinal())
    return out


def longest_gap(schedule: str) -> dt.timedelta:
    """The longest time between two consecutive runs of ``schedule``; CronError if it cannot be read."""
    text = " ".join(schedule.split())
    if text.lower().startswith("@every "):
        return _every(text[len("@every "):])
    fields = _MACROS.get(text.lower(), text).split()
    if len(fields) != len(_FIELDS):
        raise CronError(f"{len(fields)} field(s), not 5 (minute hour day-of-month month day-of-week)")
    parsed = [_field(f, *spec) for f, spec in zip(fields, _FIELDS)]
    (minutes, _), (hours, _), (dom, dom_star), (months, months_star), (dow, dow_star) = parsed
    times = sorted(h * 60 + m for h in hours for m in minutes)
    within = max((b - a for a, b in zip(times, times[1:])), default=0)
    overnight = times[0] + _DAY_MINUTES - times[-1]  # from a day's last run to the next day's first
    if dom_star and dow_star and months_star:
        return dt.timedelta(minutes=max(within, overnight))
    days = _days(dom, months, dow, either=not dom_star and not dow_star)
    if not days:
        raise CronError("it never runs (no day matches)")
    days.append(days[0] + (dt.date(2001 + _CYCLE_YEARS, 1, 1) - dt.date(2001, 1, 1)).days)  # into the next cycle
    apart = max(b - a for a, b in zip(days, days[1:])) if len(days) > 1 else 1
    return dt.timedelta(minutes=max(within, (apart - 1) * _DAY_MINUTES + overnight))


def _every(text: str) -> dt.timedelta:
    from .durations import parse_duration
    from .errors import UsageError

    try:
        seconds: Optional[float] = parse_duration(text, "@every")
    except UsageError as exc:
        raise CronError(exc.message) from None
    if not seconds:
        raise CronError("@every needs a positive duration")
    return dt.timedelta(seconds=seconds)
