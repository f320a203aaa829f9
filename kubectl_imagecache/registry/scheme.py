"""The scheme wrapper: https, or plain http for a registry marked insecure (or on loopback) that has no TLS.

The scheme an answer proved is remembered (on disk, by the caller's ``remember``), so the next
run sends no probe.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable, Optional

from .exchange import Call, Reply, Send
from .net.failure import NetError

__all__ = ["Scheme"]


class Scheme:
    """Turns the call's path into a URL on ``endpoint``; finds the scheme when it is not known yet."""

    def __init__(self, inner: Send, endpoint: str, scheme: Optional[str],
                 remember: Callable[[str], None] = lambda scheme: None) -> None:
        self._inner = inner
        self._endpoint = endpoint
        self._scheme = scheme
        self._known = scheme is not None  # False while "http" is only a guess from a TLS refusal
        self._remember = remember
        self._probe_lock = threading.Lock()

    def __call__(self, call: Call) -> Reply:
        if self._scheme is None:
            # One thread finds the scheme while the others wait: eight threads probing TLS on a
            # plain-HTTP port at once cost three times the whole cold run. The wait ends as soon
            # as TLS is refused, not when this thread's answer comes: a stalled image must not
            # hold up the others.
            with self._probe_lock:
                if self._scheme is None:
                    probed = self._probe(call)
                    if probed is not None:
                        return probed
        assert self._scheme is not None
        return self._over(self._scheme, call)

    def _probe(self, call: Call) -> Optional[Reply]:
        """https first; None once TLS is refused (http is then the guess, sent outside the lock)."""
        try:
            return self._over("https", call)
        except NetError as exc:
            if exc.failure.kind == "tls":
                self._scheme = "http"  # remembered on disk once an answer proves it
                return None
            if exc.failure.kind in ("reset", "other"):
                return self._over("http", call)
            raise

    def _over(self, scheme: str, call: Call) -> Reply:
        reply = self._inner(replace(call, url=f"{scheme}://{self._endpoint}{call.url}"))
        if not self._known:
            self._scheme = scheme
            self._known = True
            self._remember(scheme)
        return reply
