"""What the transport and the token flow share: bounded body reads, Retry-After, failure causes.

A registry is input like any other: every body is read in chunks and abandoned at its limit
(after decompression, so a gzip bomb stops at the limit too), every failure of the HTTP stack
is described in words a user can act on, and nothing from the registry reaches a message raw.
"""

from __future__ import annotations

import errno
import heapq
import ipaddress
import itertools
import math
import re
import socket
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Iterator, Mapping, Optional

from ..errors import BadResponse, ResponseTooLarge, Unreachable
from ..escape import clean

__all__ = [
    "Reply", "BrokenBody", "MAX_ERROR_BYTES", "MAX_TOKEN_BYTES", "read_body", "parse_retry_after", "Failure",
    "classify", "remaining", "deadline_scope", "current_deadline", "watch", "unwatch", "url_flaw", "PROXY_ADVICE",
]

MAX_ERROR_BYTES = 64 << 10  # an error body is only ever read for its code
MAX_TOKEN_BYTES = 1 << 20
_CHUNK = 64 << 10
PROXY_ADVICE = "check HTTPS_PROXY, HTTP_PROXY and NO_PROXY"


@dataclass(frozen=True)
class Reply:
    """A registry's answer, its body already read within its limit."""

    status: int
    headers: Mapping[str, str]  # case-insensitive (urllib3's HTTPHeaderDict)
    body: bytes
    url: str
    raw: Any = field(default=None, compare=False, repr=False)  # the unread response, when streamed

    @property
    def content_type(self) -> str:
        return str(self.headers.get("Content-Type", "")).split(";", 1)[0].strip()


class BrokenBody(BadResponse):
    """A body cut short or mis-framed; ``failure`` says how (a reset is worth another try)."""

    def __init__(self, message: str, failure: Failure) -> None:
        super().__init__(message)
        self.failure = failure


def remaining(deadline: Optional[float], floor: float = 0.0) -> Optional[float]:
    """Seconds left before ``deadline`` (monotonic), at least ``floor``; None without a deadline."""
    if deadline is None:
        return None
    return max(floor, deadline - time.monotonic())


class _Watchdog:
    """One thread that shuts a socket down when its deadline passes, so a blocked read ends.

    Socket timeouts bound each recv, not a read: a registry trickling a byte every few hundred
    milliseconds never trips them, and a 64 KiB read would take hours. The watchdog is what makes
    --registry-timeout bound the whole image.
    """

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
    """Requests sent by this thread inside the block end by ``deadline`` (see the transport's connections)."""
    previous = getattr(_LOCAL, "deadline", None)
    _LOCAL.deadline = deadline
    try:
        yield
    finally:
        _LOCAL.deadline = previous


def current_deadline() -> Optional[float]:
    return getattr(_LOCAL, "deadline", None)


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


def watch(sock: Any, deadline: Optional[float] = None) -> Optional[int]:
    """Shut ``sock`` down at ``deadline`` (default: this thread's); returns a token for unwatch."""
    deadline = deadline if deadline is not None else current_deadline()
    if deadline is None or not isinstance(sock, socket.socket):
        return None
    return _WATCHDOG.arm(deadline, sock)


def unwatch(token: Optional[int]) -> None:
    if token is not None:
        _WATCHDOG.disarm(token)


def _socket_of(resp: Any) -> Any:
    raw = getattr(resp, "raw", None)
    sock = getattr(raw, "watched_socket", None)  # set by the transport's connections
    if sock is None:
        sock = getattr(getattr(raw, "connection", None), "sock", None)
    return sock


def _timed_out(where: str, what: str) -> Unreachable:
    return Unreachable(f"{where} did not finish sending {what} in time; check the network or raise --registry-timeout")


def read_body(resp: Any, limit: int, what: str, where: str, deadline: Optional[float] = None, *,
              truncate: bool = False) -> bytes:
    """The body of a streamed response (session.Response), at most ``limit`` bytes once decoded.

    A declared Content-Length above the limit is refused before reading anything. Raises
    ResponseTooLarge past the limit, Unreachable when the deadline passes, BadResponse when the
    body's framing or encoding is broken; the response is always closed. ``truncate``: keep the
    first ``limit`` bytes and stop reading instead (an error answer: its status is what counts).
    """
    try:
        declared = str(resp.headers.get("Content-Length") or "").strip()
        if declared.isdigit() and int(declared) > limit and not truncate:
            raise ResponseTooLarge(f"{where} sent {what} of {int(declared)} bytes, more than the {limit}-byte "
                                   "limit; refusing it")
        parts: list[bytes] = []
        size = 0
        token = watch(_socket_of(resp), deadline)
        try:
            for chunk in resp.iter_content(_CHUNK):
                size += len(chunk)
                if size > limit and truncate:
                    parts.append(chunk[:len(chunk) - (size - limit)])
                    break
                if size > limit:
                    raise ResponseTooLarge(f"{where} sent {what} larger than the {limit}-byte limit (after "
                                           "decompression); refusing it")
                parts.append(chunk)
                left = remaining(deadline)
                if left is not None and left <= 0:
                    raise _timed_out(where, what)
        finally:
            unwatch(token)
        return b"".join(parts)
    except (ResponseTooLarge, Unreachable):
        raise
    except _body_errors() as exc:
        failure = classify(exc)
        left = remaining(deadline)
        if left is not None and left <= 0:
            raise _timed_out(where, what) from None  # the watchdog cut it: that is a timeout
        if failure.kind in ("timeout", "read-timeout"):
            raise Unreachable(f"{where} stopped sending {what} (timed out); check the network or raise "
                              "--registry-timeout") from None
        raise BrokenBody(f"{where} sent a broken body for {what} ({failure.detail})", failure) from None
    except Exception as exc:  # noqa: BLE001 - the HTTP stack's own errors vary by version: never a traceback
        raise BrokenBody(f"{where} sent a broken body for {what} ({exc.__class__.__name__})",
                         Failure("other", exc.__class__.__name__)) from None
    finally:
        try:
            resp.close()
        except Exception:  # noqa: BLE001
            pass


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), None when unusable.

    Anything else ("soon", "1e999", "1, 2" from two headers, a date in the past) is ignored, not
    an error: the usual backoff applies instead.
    """
    if value is None:
        return None
    text = str(value).strip()
    if text.isdigit() and len(text) <= 9:
        return float(int(text))
    if len(text) > 64:
        return None
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    try:
        delta = when.timestamp() - (now if now is not None else time.time())
    except (OverflowError, OSError, ValueError):
        return None
    return delta if math.isfinite(delta) and delta > 0 else None


def url_flaw(url: str) -> Optional[str]:
    """What makes ``url`` (a registry's Location or token realm) impossible to request, escaped; None
    when urlsplit and urllib3 both accept it.

    urlsplit raises ValueError on an unbalanced [ or ] and, for .port, on a port that is no number or
    out of range; urllib3 refuses a host with spaces or control characters. Found here, it is the
    registry's broken answer, not an error of ours.
    """
    from urllib.parse import urlsplit

    from urllib3.util import parse_url

    try:
        urlsplit(url).port  # noqa: B018 - evaluated for its ValueError
        parse_url(url)
    except ValueError as exc:  # urllib3's LocationParseError is one
        return clean(str(exc), 120)
    return None


@dataclass(frozen=True)
class Failure:
    """What went wrong underneath an exception of the HTTP stack, in a user's words."""

    # refused, dns, tls, connect-timeout, read-timeout, timeout, reset, redirects, scheme, url, header, proxy, other
    kind: str
    detail: str
    host: str = ""  # the host that failed, when a redirect led away from the registry (a CDN)

    @property
    def transient(self) -> bool:
        """Worth another try: the registry may answer next time."""
        return self.kind in ("reset", "read-timeout", "timeout", "connect-timeout")


def _chain(exc: BaseException) -> list[BaseException]:
    """exc and everything under it: args (requests wraps MaxRetryError), .reason, causes."""
    seen: list[BaseException] = []
    todo: list[Any] = [exc]
    while todo and len(seen) < 32:
        e = todo.pop(0)
        if not isinstance(e, BaseException) or any(e is s for s in seen):
            continue
        seen.append(e)
        todo.extend(getattr(e, "args", ()))
        todo.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
    return seen


class _Never(Exception):
    """Stands for requests' exception types while requests is not loaded: nothing is one."""


_NO_REQUESTS = SimpleNamespace(**{name: _Never for name in (
    "RequestException", "TooManyRedirects", "InvalidSchema", "MissingSchema", "InvalidURL", "SSLError",
    "ReadTimeout", "ConnectTimeout", "Timeout", "InvalidHeader", "ChunkedEncodingError", "ContentDecodingError")})


def _requests_exceptions() -> Any:
    """requests' exception types when something loaded requests (a session of the seam may raise
    them); the default session raises urllib3's own, and importing requests costs ~40 ms."""
    return sys.modules.get("requests.exceptions") or _NO_REQUESTS


def _body_errors() -> tuple[type[BaseException], ...]:
    """What reading a body may raise that classify() can name."""
    from urllib3.exceptions import HTTPError

    return (HTTPError, _requests_exceptions().RequestException, OSError, ValueError, EOFError, LookupError)


def classify(exc: BaseException) -> Failure:
    """Name the cause. Order matters: urllib3 2.x's NewConnectionError and NameResolutionError
    subclass ConnectTimeoutError, so "refused" and "not resolved" are checked before "timeout"."""
    import socket
    import ssl

    from urllib3 import exceptions as u3

    rex = _requests_exceptions()  # requests' types when something loaded it, else types nothing is

    chain = _chain(exc)

    def find(*types: type) -> Optional[BaseException]:
        return next((e for e in chain if isinstance(e, types)), None)

    if isinstance(exc, rex.TooManyRedirects):
        return Failure("redirects", "too many redirects (a redirect loop)")
    if isinstance(exc, (rex.InvalidSchema, rex.MissingSchema, u3.URLSchemeUnknown)):
        return Failure("scheme", "redirected to a URL that is not http or https")
    if isinstance(exc, (rex.InvalidURL, u3.LocationValueError)):
        return Failure("url", "a URL that cannot be requested")
    proxy = find(u3.ProxyError)
    if proxy is not None:  # urllib3 wraps what happened before the proxy let us through
        return _proxy_failure(chain, classify(getattr(proxy, "original_error", None) or Exception()))
    if find(ResolveTimeout) is not None:
        return Failure("timeout", "looking up the registry's name timed out")
    resolution = find(u3.NameResolutionError, socket.gaierror)
    if resolution is not None:
        return Failure("dns", "the registry's name could not be resolved")
    tls = find(ssl.SSLError, u3.SSLError, rex.SSLError)
    if tls is not None:
        cert = find(ssl.SSLCertVerificationError)
        reason = getattr(cert, "verify_message", None) or getattr(cert, "reason", None)
        if not reason:
            base = find(ssl.SSLError)
            reason = getattr(base, "reason", None) or (str(base) if base is not None else "handshake failed")
        return Failure("tls", clean(str(reason), 200))
    new_conn = find(u3.NewConnectionError)
    if new_conn is not None:
        os_error = find(ConnectionRefusedError)
        if os_error is not None or "refused" in str(new_conn).lower():
            return Failure("refused", "connection refused")
        os_err = next((e for e in chain if isinstance(e, OSError) and e.errno), None)
        if os_err is not None and os_err.errno in (errno.ETIMEDOUT,):
            return Failure("connect-timeout", "connecting timed out")
        why = os_err.strerror if os_err is not None and os_err.strerror else "connection failed"
        return Failure("other", clean(why, 120))
    if find(ConnectionRefusedError) is not None:
        return Failure("refused", "connection refused")
    if find(u3.ReadTimeoutError) is not None or isinstance(exc, rex.ReadTimeout):
        return Failure("read-timeout", "no answer in time")
    if find(u3.ConnectTimeoutError) is not None or isinstance(exc, rex.ConnectTimeout):
        return Failure("connect-timeout", "connecting timed out")
    if find(TimeoutError, rex.Timeout, u3.TimeoutError) is not None:
        return Failure("timeout", "no answer in time")
    if isinstance(exc, rex.InvalidHeader) or find(u3.HeaderParsingError) is not None or (
            find(u3.InvalidHeader) is not None):
        return Failure("header", "invalid HTTP headers")
    if isinstance(exc, rex.ChunkedEncodingError) or find(u3.InvalidChunkLength) is not None:
        return Failure("reset", "broken chunked encoding")
    if isinstance(exc, rex.ContentDecodingError) or find(u3.DecodeError) is not None:
        return Failure("other", "a body that does not decompress")
    malformed = _malformed(chain)
    if malformed is not None:
        return malformed
    if find(u3.ProtocolError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError) is not None:
        return Failure("reset", "the connection was closed or reset")
    return Failure("other", exc.__class__.__name__)


def _malformed(chain: list[BaseException]) -> Optional[Failure]:
    """http.client's verdict that the answer is no HTTP it can read; None when it was only cut short.

    Nothing of a malformed answer changes on a retry; a connection closed before or during the
    answer (RemoteDisconnected, IncompleteRead) or reused in a bad state may well work next time.
    """
    import http.client

    found = next((e for e in chain if isinstance(e, http.client.HTTPException)), None)
    if found is None or isinstance(found, (http.client.RemoteDisconnected, http.client.IncompleteRead,
                                           http.client.ImproperConnectionState)):
        return None
    if isinstance(found, http.client.BadStatusLine):
        what = "an invalid status line"  # its str() is the registry's line itself
    else:  # LineTooLong, "got more than 100 headers", UnknownProtocol...
        what = clean(str(found), 80) or found.__class__.__name__
    return Failure("header", f"a malformed HTTP answer ({what})")


_TUNNEL_REFUSED = re.compile(r"Tunnel connection failed: (\d{3})")


def _proxy_failure(chain: list[BaseException], inner: Failure) -> Failure:
    """A failure before the proxy let us through, naming the proxy (host:port, never its credentials)."""
    from urllib3.exceptions import MaxRetryError

    pool = next((getattr(e, "pool", None) for e in chain if isinstance(e, MaxRetryError)), None)
    url = getattr(pool, "proxy", None)  # the pool's proxy: urllib3 filled in its default port
    host, port = getattr(url, "host", None), getattr(url, "port", None)
    proxy = f"the proxy {clean(f'{host}:{port}' if port else str(host), 100)}" if host else "the proxy"
    status = next((m for m in (_TUNNEL_REFUSED.search(str(e)) for e in chain) if m), None)
    if status is not None and status.group(1) == "407":
        return Failure("proxy", f"{proxy} requires authentication (HTTP 407 Proxy Authentication Required)")
    if status is not None:
        return Failure("proxy", f"{proxy} refused to open a tunnel to it (HTTP {status.group(1)} to CONNECT)")
    said = {"refused": "refused the connection", "dns": "could not be resolved",
            "timeout": "did not answer in time", "connect-timeout": "did not answer in time",
            "read-timeout": "did not answer in time"}.get(inner.kind)
    return Failure("proxy", f"{proxy} {said or f'failed ({inner.detail})'}")
