"""Where the model says that a value others wrote is malformed, once per object and key.

The model reads what any client may write (Alibaba's CRD accepts any annotation value): a value of the
wrong shape is treated as absent, and the person running the command is told once. The CLI installs
the sink that prints; the model does no I/O of its own.
"""

from __future__ import annotations

from typing import Callable, Optional

__all__ = ["malformed", "set_sink", "reset"]

_sink: Optional[Callable[[str], None]] = None
_said: set[tuple[str, str]] = set()


def set_sink(sink: Optional[Callable[[str], None]]) -> None:
    global _sink
    _sink = sink


def reset() -> None:
    """Forget what was said (a new command run, or a test)."""
    _said.clear()


def malformed(subject: str, key: str, expected: str) -> None:
    """``subject``'s ``key`` is not ``expected``: treated as absent; said once per (subject, key)."""
    if (subject, key) in _said:
        return
    _said.add((subject, key))
    if _sink is not None:
        _sink(f"{subject}: annotation {key} is not {expected}; ignoring it")
