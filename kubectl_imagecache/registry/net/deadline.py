"""The image's deadline on every socket: a watchdog that ends blocked reads, and a bounded name lookup.

Socket timeouts bound each recv, not a read: a registry trickling a byte every few hundred
milliseconds never trips them, and a 64 KiB read would take hours. The watchdog is what makes
--registry-timeout bound the whole image.
"""

from __future__ import annotations

import heapq
import ipaddress
import itertools
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator, Optional

__all__ = ["remaining", "deadline_scope", "current_deadline", "watch", "unwatch", "resolve", "ResolveTimeout"]


def remaining(deadline: Optional[float], floor: float = 0.0) -> Optional[float]:
    """Seconds left before ``deadline`` (monotonic), at least ``floor``; None without a deadline."""
    if deadline is None:
        return None
    return max(floor, deadline - time.monotonic())


class _Watchdog:
    """One thread that shuts a socket down when its deadline passes, so a blocked read ends."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, socket.socket] = {}
        self._ids = itertools.count()
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None

    def arm(self, deadline: float, sock: socket.socket) -> int:
        with self._cond:
            token = next(self._ids)
            self._armed[token] = sock
            heapq.heappush(self._heap, (deadline, token))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="registry-watchdog", daemon=True)
                self._thread.start()
            if self._heap[0][1] == token:
                # Wake the watchdog only for a new earliest deadline: a wake-up per request cost a
                # thread switch each (2 ms a request on two cores).
                self._cond.notify()
            return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._armed.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                _, token = heapq.heappop(self._heap)
                sock = self._armed.pop(token, None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


_WATCHDOG = _Watchdog()
_LOCAL = threading.local()


@contextmanager
def deadline_scope(deadline: Optional[float]) -> Iterator[None]:
    """Requests sent by this thread inside the block end by ``deadline`` (the session's connections watch it)."""
    previous = getattr(_LOCAL, "deadline", None)
    _LOCAL.deadline = deadline
    try:
        yield
    finally:
        _LOCAL.deadline = previous


def current_deadline() -> Optional[float]:
    return getattr(_LOCAL, "deadline", None)


def watch(sock: Any, deadline: Optional[float] = None) -> Optional[int]:
    """Shut ``sock`` down at ``deadline`` (default: this thread's); returns a token for unwatch."""
    deadline = deadline if deadline is not None else current_deadline()
    if deadline is None or not isinstance(sock, socket.socket):
        return None
    return _WATCHDOG.arm(deadline, sock)


def unwatch(token: Optional[int]) -> None:
    if token is not None:
        _WATCHDOG.disarm(token)


class ResolveTimeout(OSError):
    """The name lookup did not finish by the deadline (a stalled DNS server)."""


def resolve(host: str, port: int, deadline: Optional[float]) -> list[str]:
    """The addresses of ``host``, in getaddrinfo's order, looked up by ``deadline``.

    getaddrinfo takes no timeout and a resolver that never answers holds it for the resolver's
    own retries (30 s and more); it runs in a daemon thread here, so the image's deadline bounds
    it. An address literal needs no lookup.
    """
    try:
        ipaddress.ip_address(host.strip("[]"))
        return [host.strip("[]")]
    except ValueError:
        pass
    box: dict[str, Any] = {}
    done = threading.Event()

    def lookup() -> None:
        try:
            box["infos"] = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)
        except OSError as exc:
            box["error"] = exc
        done.set()

    threading.Thread(target=lookup, name=f"resolve {host}", daemon=True).start()
    if not done.wait(remaining(deadline) if deadline is not None else None):
        raise ResolveTimeout(f"name lookup of {host} took longer than the time left")
    if "error" in box:
        raise box["error"]
    return list(dict.fromkeys(str(info[4][0]) for info in box["infos"]))
