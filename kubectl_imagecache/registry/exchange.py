"""The innermost wrappers of a transport: one request on the session, and its body read within limits.

Every wrapper of the transport (redirect, scheme, gate, retry, auth) takes a Call and hands it
to the one inside; these two are where it meets the network (the net package).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from .net import HTTPResponse, HTTPSession
from .net.body import MAX_ERROR_BYTES, read_body
from .net.deadline import deadline_scope, remaining
from .net.failure import Failure, NetError, classify

__all__ = ["Call", "Reply", "Send", "Net", "Read"]


@dataclass
class Call:
    """One request as the wrappers pass it down (each may change the URL, headers or method)."""

    method: str
    url: str  # a path below the scheme wrapper ("/v2/..."), an absolute URL under it
    headers: dict[str, str]
    what: str  # what is fetched, for messages ("tag 1.0")
    where: str  # who sent it, for messages about the body (the registry, its token service)
    deadline: float  # monotonic: the whole image must be done by then
    limit: int  # the most a 2xx body may hold, once decoded
    stream: bool = False  # leave a 2xx body unread in Reply.raw
    body: Optional[bytes] = None
    scope: str = ""  # the token scope the auth wrapper asks for
    ticket: int = 0  # set by the gate: which generation of its limit this attempt went out under


@dataclass(frozen=True)
class Reply:
    """A registry's answer, its body already read within its limit."""

    status: int
    headers: Mapping[str, str]  # case-insensitive (urllib3's HTTPHeaderDict)
    body: bytes
    url: str
    raw: Any = field(default=None, compare=False, repr=False)  # the unread answer (HTTPResponse), when streamed

    @property
    def content_type(self) -> str:
        return str(self.headers.get("Content-Type", "")).split(";", 1)[0].strip()


Send = Callable[[Call], Reply]
Exchange = Callable[[Call], HTTPResponse]


class Net:
    """Sends a call on the session; a failure of the HTTP stack becomes NetError, named."""

    def __init__(self, session: Callable[[], HTTPSession], timeout: float,
                 guard: Optional[Callable[[str, str], None]] = None) -> None:
        self._session = session
        self._timeout = timeout
        self._guard = guard

    def __call__(self, call: Call) -> HTTPResponse:
        if self._guard:
            self._guard(call.method, call.url)
        timeout = min(self._timeout, remaining(call.deadline, 0.05) or self._timeout)
        try:
            with deadline_scope(call.deadline):
                resp = self._session().request(call.method, call.url, headers=call.headers, body=call.body,
                                               timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - every failure of the HTTP stack becomes a typed error
            failure = classify(exc)
            if remaining(call.deadline) == 0.0:
                failure = Failure("timeout", "no answer in time")  # the watchdog cut it at the deadline
            raise NetError(failure) from None
        if remaining(call.deadline) == 0.0:
            # Headers cut short by the watchdog look complete to http.client: it is a timeout.
            resp.close()
            raise NetError(Failure("timeout", "no answer in time"))
        return resp


class Read:
    """Reads the answer's body: a 2xx within the call's limit, any other status's first 64 KiB."""

    def __init__(self, inner: Exchange) -> None:
        self._inner = inner

    def __call__(self, call: Call) -> Reply:
        resp = self._inner(call)
        status = int(resp.status)
        if 200 <= status < 300 and call.stream:
            return Reply(status, resp.headers, b"", str(resp.url), raw=resp)
        if 200 <= status < 300:
            body = read_body(resp, call.limit, call.what, call.where, call.deadline)
        else:  # the status is the answer: the first MAX_ERROR_BYTES of the body are plenty for its message
            body = read_body(resp, MAX_ERROR_BYTES, f"the answer for {call.what}", call.where, call.deadline,
                             truncate=True)
        return Reply(status, resp.headers, body, str(resp.url))
