"""Timestamps as the cloud's Go controller writes them (RFC 3339), and read back.

Go's ``time.RFC3339`` drops the fraction, ``time.RFC3339Nano`` writes up to 9 digits with trailing
zeros trimmed; UTC is ``Z``, any other zone an offset such as ``+08:00`` (Alibaba's regions in China
run on CST). A ``Stamp`` is nanoseconds since the epoch, so a fraction survives a round trip exactly.
Written here on purpose: the plugin's own parser is what these strings test.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone
from typing import Optional

NS = 1_000_000_000
CST = timezone(timedelta(hours=8))

# name -> (zone, fraction): None = no fraction (RFC3339), 9 = nanoseconds (RFC3339Nano), 3 = milliseconds
STYLES: dict[str, tuple[timezone, Optional[int]]] = {
    "utc-seconds": (timezone.utc, None),      # 2026-01-02T03:04:05Z
    "utc-nano": (timezone.utc, 9),             # 2026-01-02T03:04:05.123456789Z
    "offset-seconds": (CST, None),             # 2026-01-02T11:04:05+08:00
    "offset-millis": (CST, 3),                 # 2026-01-02T11:04:05.12+08:00
}
MIXED = "mixed"  # each cache gets the next style in turn


def now_ns() -> int:
    return time.time_ns()


def truncate(stamp: int, style: str) -> int:
    """The instant as the style can write it: what a reader will parse back."""
    digits = STYLES[style][1]
    unit = NS if digits is None else 10 ** (9 - digits)
    return stamp - stamp % unit


def format_time(stamp: int, style: str = "utc-seconds") -> str:
    zone, digits = STYLES[style]
    seconds, frac = divmod(truncate(stamp, style), NS)
    t = datetime.fromtimestamp(seconds, timezone.utc).astimezone(zone)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if digits is not None and frac:
        text += "." + f"{frac:09d}"[:digits].rstrip("0")
    offset = t.utcoffset() or timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d\d):(\d\d))")


def parse_time(text: object) -> Optional[int]:
    """Nanoseconds since the epoch, or None for anything that is not RFC 3339."""
    if not isinstance(text, str):
        return None
    m = _RFC3339.fullmatch(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        t = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
    except ValueError:
        return None
    if not m.group(8):
        offset = timedelta(hours=int(m.group(10)), minutes=int(m.group(11)))
        t -= offset if m.group(9) == "+" else -offset
    whole = int(t.timestamp())
    return whole * NS + int((m.group(7) or "0").ljust(9, "0"))


def days(n: int) -> int:
    return n * 86400 * NS


def hours(n: int) -> int:
    return n * 3600 * NS
