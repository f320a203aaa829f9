"""What the transport and the token flow share: bounded body reads, Retry-After, failure causes.

A registry is input like any other: every body is read in chunks and abandoned at its limit
(after decompression, so a gzip bomb stops at the limit too), every failure of the HTTP stack
is described in words a user can act on, and nothing from the registry reaches a message raw.
"""

from __future__ import annotations

import errno
import math
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from ..errors import BadResponse, ResponseTooLarge, Unreachable
from ..escape import clean

__all__ = [
    "Reply", "BrokenBody", "MAX_ERROR_BYTES", "MAX_TOKEN_BYTES", "read_body", "parse_retry_after", "Failure",
    "classify", "remaining",
]

MAX_ERROR_BYTES = 64 << 10  # an error body is only ever read for its code
MAX_TOKEN_BYTES = 1 << 20
_CHUNK = 64 << 10


@dataclass(frozen=True)
class Reply:
    """A registry's answer, its body already read within its limit."""

    status: int
    headers: Mapping[str, str]  # case-insensitive (requests' CaseInsensitiveDict)
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


def _set_socket_timeout(resp: Any, seconds: float) -> None:
    # Each recv waits at most what is left of the image's time, not a fresh full timeout:
    # a registry trickling one byte at a time cannot stretch --registry-timeout.
    try:
        sock = resp.raw.connection.sock
        if sock is not None:
            sock.settimeout(max(0.05, seconds))
    except (AttributeError, OSError):
        pass


def read_body(resp: Any, limit: int, what: str, where: str, deadline: Optional[float] = None) -> bytes:
    """The body of a streamed ``requests`` response, at most ``limit`` bytes once decoded.

    A declared Content-Length above the limit is refused before reading anything. Raises
    ResponseTooLarge past the limit, Unreachable when the deadline passes, BadResponse when the
    body's framing or encoding is broken; the response is always closed.
    """
    import requests

    try:
        declared = str(resp.headers.get("Content-Length") or "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(f"{where} sent {what} of {int(declared)} bytes, more than the {limit}-byte "
                                   "limit; refusing it")
        parts: list[bytes] = []
        size = 0
        for chunk in resp.iter_content(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(f"{where} sent {what} larger than the {limit}-byte limit (after "
                                       "decompression); refusing it")
            parts.append(chunk)
            left = remaining(deadline)
            if left is not None:
                if left <= 0:
                    raise Unreachable(f"{where} did not finish sending {what} in time; check the network or "
                                      "raise --registry-timeout")
                _set_socket_timeout(resp, left)
        return b"".join(parts)
    except (ResponseTooLarge, Unreachable):
        raise
    except (requests.RequestException, OSError, ValueError, EOFError, LookupError) as exc:
        failure = classify(exc)
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


@dataclass(frozen=True)
class Failure:
    """What went wrong underneath an exception of the HTTP stack, in a user's words."""

    kind: str  # refused, dns, tls, connect-timeout, read-timeout, timeout, reset, redirects, scheme, header, other
    detail: str

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


def classify(exc: BaseException) -> Failure:
    """Name the cause. Order matters: urllib3 2.x's NewConnectionError and NameResolutionError
    subclass ConnectTimeoutError, so "refused" and "not resolved" are checked before "timeout"."""
    import socket
    import ssl

    import requests
    from urllib3 import exceptions as u3

    chain = _chain(exc)

    def find(*types: type) -> Optional[BaseException]:
        return next((e for e in chain if isinstance(e, types)), None)

    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return Failure("redirects", "too many redirects (a redirect loop)")
    if isinstance(exc, (requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidURL)):
        return Failure("scheme", "redirected to a URL that is not http or https")
    resolution = find(u3.NameResolutionError, socket.gaierror)
    if resolution is not None:
        return Failure("dns", "the registry's name could not be resolved")
    tls = find(ssl.SSLError, u3.SSLError, requests.exceptions.SSLError)
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
    if find(u3.ReadTimeoutError) is not None or isinstance(exc, requests.exceptions.ReadTimeout):
        return Failure("read-timeout", "no answer in time")
    if find(u3.ConnectTimeoutError) is not None or isinstance(exc, requests.exceptions.ConnectTimeout):
        return Failure("connect-timeout", "connecting timed out")
    if find(TimeoutError, requests.exceptions.Timeout, u3.TimeoutError) is not None:
        return Failure("timeout", "no answer in time")
    if isinstance(exc, requests.exceptions.InvalidHeader) or find(u3.HeaderParsingError) is not None or (
            find(u3.InvalidHeader) is not None):
        return Failure("header", "invalid HTTP headers")
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError,)) or find(u3.InvalidChunkLength) is not None:
        return Failure("reset", "broken chunked encoding")
    if isinstance(exc, requests.exceptions.ContentDecodingError) or find(u3.DecodeError) is not None:
        return Failure("other", "a body that does not decompress")
    if find(u3.ProtocolError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError) is not None:
        import http.client

        if find(http.client.BadStatusLine, http.client.LineTooLong) is not None and find(
                http.client.RemoteDisconnected) is None:
            return Failure("header", "a malformed HTTP answer")
        return Failure("reset", "the connection was closed or reset")
    import http.client

    if find(http.client.HTTPException) is not None:
        return Failure("header", "a malformed HTTP answer")
    return Failure("other", exc.__class__.__name__)
