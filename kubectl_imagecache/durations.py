"""Durations as kubectl reads and prints them.

parse_duration reads Go's time.ParseDuration units (ns, us/µs, ms, s, m, h, combined as 1h30m,
fractions as 1.5h), plus d and w, and a plain number of seconds; format_duration prints
apimachinery's duration.HumanDuration (what `kubectl get` shows in AGE: 97s, 3m10s, 6d23h, 2y).
"""

from __future__ import annotations

import re

from .errors import UsageError

__all__ = ["parse_duration", "format_duration"]

_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
          "d": 86400.0, "w": 604800.0}
# Go's number: digits with an optional fraction, or a fraction alone (".5h"), or "5.h".
_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d|w)")


def parse_duration(text: str, flag: str) -> float:
    """Seconds in `text`; a UsageError naming `flag` for anything else (negative included)."""
    raw = text.strip().lower()
    try:
        value = float(raw) if raw and raw not in ("nan", "inf", "-inf", "+inf", "infinity") else None
    except ValueError:
        value = None
    if value is None:
        body = raw[1:] if raw.startswith("+") else raw
        pos, total = 0, 0.0
        for m in _PART.finditer(body):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if raw.startswith("-") and raw[1:] and _fully(raw[1:]):
            raise UsageError(f'{flag} "{text}" must not be negative')
        if pos != len(body) or not body:
            raise UsageError(f'{flag} "{text}" is not a duration: use e.g. 90s, 30m, 1h, 1h30m, 500ms or 7d')
        value = total
    if value < 0 or value != value:
        raise UsageError(f'{flag} "{text}" must not be negative')
    return value


def _fully(body: str) -> bool:
    pos = 0
    for m in _PART.finditer(body):
        if m.start() != pos:
            return False
        pos = m.end()
    return pos == len(body)


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
