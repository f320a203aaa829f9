"""Bodies read in chunks and abandoned at their limit (after decompression, so a gzip bomb stops
at the limit too), within the image's deadline."""

from __future__ import annotations

from typing import Optional

from ...errors import BadResponse, ResponseTooLarge, Unreachable
from . import HTTPResponse
from .deadline import remaining, unwatch, watch
from .failure import Failure, classify

__all__ = ["BrokenBody", "read_body", "MAX_ERROR_BYTES", "MAX_TOKEN_BYTES"]

MAX_ERROR_BYTES = 64 << 10  # an error body is only ever read for its code
MAX_TOKEN_BYTES = 1 << 20
_CHUNK = 64 << 10


class BrokenBody(BadResponse):
    """A body cut short or mis-framed; ``failure`` says how (a reset is worth another try)."""

    def __init__(self, message: str, failure: Failure) -> None:
        super().__init__(message)
        self.failure = failure


def _timed_out(where: str, what: str) -> Unreachable:
    return Unreachable(f"{where} did not finish sending {what} in time; check the network or raise --registry-timeout")


def _chunks(resp: HTTPResponse, limit: int, what: str, where: str, deadline: Optional[float],
            truncate: bool) -> bytes:
    parts: list[bytes] = []
    size = 0
    token = watch(getattr(resp, "socket", None), deadline)  # the session's answers name their socket
    try:
        for chunk in resp.chunks(_CHUNK):
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


def read_body(resp: HTTPResponse, limit: int, what: str, where: str, deadline: Optional[float] = None, *,
              truncate: bool = False) -> bytes:
    """The body of a streamed answer, at most ``limit`` bytes once decoded.

    A declared Content-Length above the limit is refused before reading anything. Raises
    ResponseTooLarge past the limit, Unreachable when the deadline passes, BrokenBody when the
    body's framing or encoding is broken; the response is always closed. ``truncate``: keep the
    first ``limit`` bytes and stop reading instead (an error answer: its status is what counts).
    """
    try:
        declared = str(resp.headers.get("Content-Length") or "").strip()
        if declared.isdigit() and int(declared) > limit and not truncate:
            raise ResponseTooLarge(f"{where} sent {what} of {int(declared)} bytes, more than the {limit}-byte "
                                   "limit; refusing it")
        return _chunks(resp, limit, what, where, deadline, truncate)
    except (ResponseTooLarge, Unreachable):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the HTTP stack raised mid-body: named, never a traceback
        failure = classify(exc)
        left = remaining(deadline)
        if left is not None and left <= 0:
            raise _timed_out(where, what) from None  # the watchdog cut it: that is a timeout
        if failure.kind in ("timeout", "read-timeout"):
            raise Unreachable(f"{where} stopped sending {what} (timed out); check the network or raise "
                              "--registry-timeout") from None
        raise BrokenBody(f"{where} sent a broken body for {what} ({failure.detail})", failure) from None
    finally:
        try:
            resp.close()
        except Exception:  # noqa: BLE001 - closing a broken connection may raise too; the answer is what counts
            pass
