"""The concurrency gate: at most ``limit`` requests in flight to one registry; 429s halve it and may pause everyone."""

from __future__ import annotations

import threading
import time
from typing import Optional

from ..errors import RegistryError, Unreachable
from .exchange import Call, Reply, Send
from .net.deadline import remaining

__all__ = ["Gate", "rate_limited", "asked_too_long"]


def rate_limited(registry: str, detail: str) -> RegistryError:
    return RegistryError(f"{registry} is rate limiting requests (HTTP 429){detail}; wait and retry, or log in for a "
                         "higher limit")


def asked_too_long(seconds: float) -> str:
    return f"asked to wait {seconds:.0f}s, more than the time left (--registry-timeout)"


class Gate:
    """A wrapper that holds each attempt until the registry may take it.

    A wave of 429s (many threads refused at once) halves the limit once, not once per thread:
    only a request sent under the current limit (its ``ticket``) may lower it.
    """

    def __init__(self, inner: Send, limit: int, registry: str) -> None:
        self._inner = inner
        self.limit = max(1, limit)
        self._registry = registry
        self._in_flight = 0
        self._generation = 0
        self._pause_until = 0.0
        self._cond = threading.Condition()

    def __call__(self, call: Call) -> Reply:
        call.ticket = self.acquire(call.deadline)
        try:
            return self._inner(call)
        finally:
            self.release()

    def acquire(self, deadline: Optional[float]) -> int:
        with self._cond:
            while True:
                now = time.monotonic()
                if self._pause_until <= now and self._in_flight < self.limit:
                    self._in_flight += 1
                    return self._generation
                left = remaining(deadline)
                if self._pause_until > now and left is not None and self._pause_until - now >= left:
                    raise rate_limited(self._registry, f" and {asked_too_long(self._pause_until - now)}")
                if left is not None and left <= 0:
                    raise Unreachable(f"{self._registry} did not answer in time (all connections busy); raise "
                                      "--registry-timeout")
                waits = [w for w in (self._pause_until - now if self._pause_until > now else None, left, 1.0)
                         if w is not None]
                self._cond.wait(max(0.01, min(waits)))

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def throttle(self, call: Call, pause: Optional[float]) -> None:
        """``call`` was refused with 429: halve the limit (once a wave), and pause everyone ``pause`` seconds."""
        with self._cond:
            if call.ticket == self._generation:
                self.limit = max(1, self.limit // 2)
                self._generation += 1
            if pause:
                self._pause_until = max(self._pause_until, time.monotonic() + pause)
            self._cond.notify_all()
