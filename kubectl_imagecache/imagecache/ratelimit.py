"""ECI's CreateImageCache rate limit as a sliding window the executor paces its creates by. Pure."""

from __future__ import annotations

import collections

from ..model.imagecache import CREATE_RATE_LIMIT, CREATE_RATE_WINDOW_SECONDS

__all__ = ["CreateRateLimiter"]


class CreateRateLimiter:
    """At most ``limit`` creates in any ``window`` seconds (ECI's CreateImageCache: 200 a minute).

    Pure: the caller reads its clock, asks :meth:`reserve` how long to sleep before the next create,
    sleeps, and sends it. A sliding window, so a burst after a quiet minute is allowed in full.
    """

    def __init__(self, limit: int = CREATE_RATE_LIMIT, window: float = CREATE_RATE_WINDOW_SECONDS) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.limit, self.window = limit, window
        self._sent: collections.deque[float] = collections.deque()

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until the next create may be sent (0: at once)."""
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return max(0.0, self._sent[-self.limit] + self.window - now)

    def reserve(self, now: float) -> float:
        """:meth:`wait`, and count a create as sent at ``now`` plus that wait."""
        delay = self.wait(now)
        self._sent.append(now + delay)
        return delay
