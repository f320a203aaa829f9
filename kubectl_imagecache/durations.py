"""Durations as kubectl reads and prints them.

parse_duration reads Go's time.ParseDuration units (ns, us/µs, ms, s, m, h, combined as 1h30m,
fractions as 1.5h), plus d and w, and a plain number of seconds; format_duration prints
apimachinery's duration.HumanDuration (what `kubectl get` shows in AGE: 97s, 3m10s, 6d23h, 2y).
"""

from __future__ import annotations

import re
import threading

from .errors import UsageError

__all__ = ["parse_duration", "format_duration", "MAX_SECONDS"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
          "d": 86400.0, "w": 604800.0}
# Go's number: ASCII digits with an optional fraction, or a fraction alone (".5h"), or "5.h". Never Python's
# float syntax: no exponent (1e999), no underscores (1_000), no inf/nan, no other scripts' digits.
_NUMBER = r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)"
_PLAIN = re.compile(_NUMBER)
_PART = re.compile(rf"({_NUMBER})(ns|us|µs|μs|ms|s|m|h|d|w)")
# The longest wait a thread or socket takes (a longer one raises OverflowError deep inside a command):
# 2**63 ns, Go's maximum Duration too, on 64-bit Linux.
MAX_SECONDS = float(threading.TIMEOUT_MAX)


def parse_duration(text: str, flag: str) -> float:
    """Seconds in `text` (0 <= seconds <= MAX_SECONDS); a UsageError naming `flag` for anything else."""
    raw = text.strip().lower()
    sign, body = (raw[0], raw[1:]) if raw[:1] in ("+", "-") else ("", raw)
    value = float(body) if _PLAIN.fullmatch(body) else _units(body)
    if value is None:
        raise UsageError(f'{flag} "{text}" is not a duration: use e.g. 90s, 30m, 1h, 1h30m, 500ms or 7d')
    if sign == "-" and value > 0:
        raise UsageError(f'{flag} "{text}" must not be negative')
    if value > MAX_SECONDS:  # inf included: 1000...0h overflows a float
        raise UsageError(f'{flag} "{text}" is too long: at most {MAX_SECONDS // 86400:.0f}d')
    return value


def _units(body: str) -> float | None:
    """The sum of a run of NUMBER UNIT parts that is all of `body`, else None."""
    pos, total = 0, 0.0
    for m in _PART.finditer(body):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return total if body and pos == len(body) else None


def format_duration(seconds: float) -> str:
    """apimachinery's HumanDuration (pkg/util/duration): about 2-3 significant figures."""
    ns = int(round(seconds * 1e9))
    secs = int(ns / 1e9) if ns >= 0 else -((-ns) // 10**9)  # Go's int(d.Seconds()) truncates toward zero
    if secs < -1:
        return "<invalid>"
    if ns < 0:
        return "0s"
    secs = ns // 10**9
    if secs < 60 * 2:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        s = secs % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"
