"""Progress of cache builds on stderr: a live bar on a terminal, one line per phase change elsewhere."""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["BuildProgress", "failure_text"]


def _percent(text: str) -> int:
    try:
        return max(0, min(100, int(str(text).rstrip("%") or 0)))
    except ValueError:
        return 0


class BuildProgress:
    def __init__(self, total: int) -> None:
        self.tty = sys.stderr.isatty()
        self.total = total
        self._phases: dict[str, str] = {}
        self._live = False

    def __call__(self, o: Any) -> None:
        if self.tty:
            pct = _percent(o.progress)
            bar = "#" * (pct // 5) + "-" * (20 - pct // 5)
            sys.stderr.write(f"\r\033[K{o.name}: {o.phase:<12} [{bar}] {pct:3d}%")
            self._live = True
            if o.done or self.total > 1 and self._phases.get(o.name) != o.phase:
                sys.stderr.write("\n")
                self._live = False
        elif self._phases.get(o.name) != o.phase:
            sys.stderr.write(f"{o.name}: {o.phase} {o.progress}\n")
        self._phases[o.name] = o.phase
        sys.stderr.flush()

    def close(self) -> None:
        if self._live:
            sys.stderr.write("\n")
            self._live = False


def failure_text(o: Any) -> str:
    lines = [f"ImageCache {o.name} is {o.phase}" + (f": {o.reason}" if o.reason else "")]
    for e in o.events or []:
        lines.append(f"  {e.get('type', '')} {e.get('name', '')}: {e.get('message', '')}".rstrip())
    return "\n".join(lines)
