"""The retry wrapper: 408/429/502/503/504 and transient failures (resets, timeouts) tried again with
backoff, Retry-After honoured up to a cap, all within the call's deadline."""

from __future__ import annotations

import time
from typing import Callable, Optional, Union

from ..httpfacts import parse_retry_after
from .exchange import Call, Reply, Send
from .net.body import BrokenBody
from .net.deadline import remaining
from .net.failure import NetError

__all__ = ["Retry", "WaitTooLong", "RETRY_STATUSES"]

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
_BACKOFF_MAX = 10.0

_Error = Union[NetError, BrokenBody]


class WaitTooLong(Exception):
    """The answer asked for a wait (Retry-After) longer than the time left: no retry fits."""

    def __init__(self, reply: Reply, asked: float) -> None:
        super().__init__(reply.status)
        self.reply = reply
        self.asked = asked


class Retry:
    """Returns the first answer worth keeping, or the last one once retries or time run out.

    Raises NetError (``retried`` set) or BrokenBody when no answer came, WaitTooLong when the
    registry asked for more time than is left. ``throttle`` hears of each 429 and the wait it brings.
    """

    def __init__(self, inner: Send, retries: int, backoff: float, retry_after_cap: float,
                 throttle: Optional[Callable[[Call, float], None]] = None) -> None:
        self._inner = inner
        self._retries = retries
        self._backoff = backoff
        self._cap = retry_after_cap
        self._throttle = throttle

    def __call__(self, call: Call) -> Reply:
        attempt = 0
        while True:
            reply, error = self._attempt(call)
            if reply is not None and reply.status not in RETRY_STATUSES:
                return reply
            if error is not None and not error.failure.transient:
                raise self._final(error, attempt)
            wait, asked = self._wait(reply, attempt)
            if reply is not None and reply.status == 429 and self._throttle is not None:
                self._throttle(call, wait)
            left = remaining(call.deadline)
            no_time = left is not None and wait >= left
            if no_time and reply is not None and asked is not None:
                raise WaitTooLong(reply, asked)
            if attempt >= self._retries or no_time:
                if reply is not None:
                    return reply
                assert error is not None
                raise self._final(error, attempt)
            time.sleep(wait)
            attempt += 1

    def _attempt(self, call: Call) -> tuple[Optional[Reply], Optional[_Error]]:
        try:
            return self._inner(call), None
        except NetError as exc:
            return None, exc
        except BrokenBody as exc:  # cut short mid-body: a reset is worth another try
            if not exc.failure.transient:
                raise
            return None, exc

    def _wait(self, reply: Optional[Reply], attempt: int) -> tuple[float, Optional[float]]:
        """Seconds to wait before the next attempt, and what the registry asked for (Retry-After)."""
        wait = min(self._backoff * (2 ** attempt), _BACKOFF_MAX)
        asked = parse_retry_after(reply.headers.get("Retry-After")) if reply is not None else None
        if asked is not None:
            wait = min(asked, float(self._cap))
        return wait, asked

    @staticmethod
    def _final(error: _Error, attempt: int) -> Exception:
        if isinstance(error, NetError):
            return NetError(error.failure, retried=attempt > 0)
        return error
