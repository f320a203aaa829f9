"""Durations as users type them for kubectl: 500ms, 90s, 30m, 1h, 1h30m, 7d, or plain seconds."""

from __future__ import annotations

import re

from .errors import UsageError

__all__ = ["parse_duration", "format_duration"]

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|[smhdw])")  # "ms" first: kubectl's --request-timeout=500ms


def parse_duration(text: str, flag: str) -> float:
    raw = text.strip().lower()
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None:
        pos, total = 0, 0.0
        for m in _PART.finditer(raw):
            if m.start() != pos:
                break
            total += float(m.group(1)) * _UNITS[m.group(2)]
            pos = m.end()
        if pos != len(raw) or not raw:
            raise UsageError(f'{flag} "{text}" is not a duration: use e.g. 500ms, 90s, 30m, 1h, 1h30m or 7d')
        value = total
    if value < 0 or value != value:
        raise UsageError(f'{flag} "{text}" must not be negative')
    return value


def format_duration(seconds: float) -> str:
    """kubectl's compact age: 45s, 12m, 5h, 3d (largest unit only, as `kubectl get` prints)."""
    s = int(max(0, seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size * (2 if unit != "m" else 1):
            return f"{s // size}{unit}"
    return f"{s}s"
