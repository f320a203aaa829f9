"""The longest gap between runs of a CronJob schedule, as sync --status measures staleness by it."""

from __future__ import annotations

import datetime as dt

import pytest

from kubectl_imagecache.cron import CronError, longest_gap

H, D = dt.timedelta(hours=1), dt.timedelta(days=1)


@pytest.mark.parametrize(("schedule", "gap"), [
    ("*/15 * * * *", dt.timedelta(minutes=15)),  # deploy/sync's
    ("*/7 * * * *", dt.timedelta(minutes=7)),  # :56 to the next hour's :00 is shorter
    ("5 * * * *", H),
    ("0 9,17 * * *", 16 * H),  # 17:00 to 09:00
    ("0 0-23/6 * * *", 6 * H),
    ("30 2 * * 1-5", 3 * D),  # Friday to Monday
    ("0 0 * * SUN", 7 * D),
    ("0 0 * * 0,3", 4 * D),
    ("0 0 1 * *", 31 * D),
    ("0 0 1 jan,jul *", 184 * D),  # July to January
    ("0 0 13 * fri", 7 * D),  # both days restricted: either matches
    ("0 0 29 2 *", 2921 * D),  # 2096 to 2104: 2100 is no leap year
    ("@hourly", H), ("@daily", D), ("@midnight", D), ("@weekly", 7 * D), ("@monthly", 31 * D),
    ("@yearly", 366 * D), ("@every 90m", 90 * dt.timedelta(minutes=1)),
    ("  */15   *  * * * ", dt.timedelta(minutes=15)),
])
def test_longest_gap(schedule: str, gap: dt.timedelta) -> None:
    assert longest_gap(schedule) == gap


@pytest.mark.parametrize(("schedule", "why"), [
    ("* * * *", r"4 field\(s\), not 5"),
    ("60 * * * *", "60 is out of range 0-59"),
    ("0 0 * * 7", "7 is out of range 0-6"),
    ("*/0 * * * *", "no valid step"),
    ("5-1 * * * *", "empty range"),
    ("x * * * *", '"x" is not a number'),
    ("0 0 31 2 *", "never runs"),
    ("@every soon", "@every"),
])
def test_schedules_that_cannot_be_read(schedule: str, why: str) -> None:
    with pytest.raises(CronError, match=why):
        longest_gap(schedule)
