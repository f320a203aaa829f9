"""Progress of cache builds on stderr: a live bar on a terminal, one line per phase change elsewhere."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from ..kube.waiting import Outcome
    from .printers import NamePrinter

__all__ = ["BuildProgress", "failure_text", "wait_and_report"]


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


def wait_and_report(cluster: Any, names: list[str], target: str, seconds: float,
                    timed_out: Callable[[Outcome], str], printer: Optional[NamePrinter]) -> int:
    """Wait (wait, warm --wait) with progress on stderr. A cache that reached the target is printed
    as kubectl's "condition met" when `printer` is given, a failed one is an error line (exit 1),
    and running out of time raises WaitTimeout with the `timed_out` message."""
    from ..errors import EXIT_FAILURE, EXIT_OK, WaitTimeout
    from ..kube.waiting import wait_for

    progress = BuildProgress(len(names))
    try:
        outcomes = wait_for(cluster, names, target, seconds, progress)
    finally:
        progress.close()
    code = EXIT_OK
    for n in names:
        o = outcomes[n]
        if o.done and o.ok:
            if printer is not None:
                printer.name(n, "condition met")
        elif o.done:
            sys.stderr.write(f"error: {failure_text(o)}\n")
            code = EXIT_FAILURE
        else:
            raise WaitTimeout(timed_out(o))
    return code
