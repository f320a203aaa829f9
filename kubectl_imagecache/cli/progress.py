"""Progress of cache builds on stderr: a live bar on a terminal, one line per phase change elsewhere."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from ..kube.waiting import Outcome
    from .printers import NamePrinter

__all__ = ["BuildProgress", "CountBar", "MIN_ITEMS", "failure_text", "wait_and_report", "terminal_width", "fit"]

MIN_ITEMS = 10  # below this a bar only flickers


def terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((80, 24)).columns


def fit(line: str, width: int) -> str:
    """`line` cut to `width` columns (one less: writing the last column wraps on some terminals)."""
    room = max(10, width - 1)
    return line if len(line) <= room else line[: room - 3] + "..."


class CountBar:
    """A bar on stderr for many items (sizing images, deleting caches), only on a terminal; sized to
    the terminal's width. Used as a context manager; the object it gives is called once per item
    (from any thread)."""

    def __init__(self, total: int, label: str) -> None:
        self.total = total
        self.label = label
        self.bar: Optional[Any] = None

    @property
    def active(self) -> bool:
        return self.bar is not None

    def __enter__(self) -> Callable[[], None]:
        if self.total < MIN_ITEMS or not sys.stderr.isatty():
            return lambda: None
        import threading

        import click

        # click draws "LABEL  [BAR]  N/TOTAL  PCT%  ETA"; give the bar what the rest leaves.
        rest = len(self.label) + 2 * len(str(self.total)) + 24
        lock = threading.Lock()
        bar = self.bar = click.progressbar(length=self.total, label=self.label, file=sys.stderr,
                                           width=max(5, min(36, terminal_width() - rest - 1)), show_pos=True)
        bar.__enter__()

        def step() -> None:
            with lock:
                bar.update(1)

        return step

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


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
            width = terminal_width()
            tail = f": {o.phase:<12} [{bar}] {pct:3d}%"
            if width - 1 - len(tail) < 10:  # narrow: the bar goes first, then the name gives way
                tail = f": {o.phase} {pct:3d}%"
            name = fit(str(o.name), width - len(tail))
            sys.stderr.write("\r\033[K" + fit(name + tail, width))
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
