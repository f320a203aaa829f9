"""A scripted stand-in for requests.Session, for the transport's session-factory seam.

Each route is (method, URL regex) -> a function of the request returning a FakeResponse or
raising; unmatched requests fail the test. Every request is recorded, with its headers.
Written for these tests only: it shares nothing with the code under test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Union

from requests.structures import CaseInsensitiveDict


class FakeResponse:
    def __init__(self, status: int = 200, body: Union[bytes, list[bytes]] = b"",
                 headers: Optional[dict[str, str]] = None, url: str = "",
                 error_after: Optional[BaseException] = None) -> None:
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers or {})
        self.url = url
        self._chunks = body if isinstance(body, list) else [body]
        self._error_after = error_after
        self.iterated = False
        self.closed = False

    def iter_content(self, chunk_size: int = 1) -> Iterator[bytes]:
        self.iterated = True
        yield from self._chunks
        if self._error_after is not None:
            raise self._error_after

    def close(self) -> None:
        self.closed = True


@dataclass
class Sent:
    method: str
    url: str
    headers: dict[str, str]
    params: Optional[dict[str, str]] = None
    data: Optional[dict[str, str]] = None


Route = Callable[[Sent], FakeResponse]


@dataclass
class FakeSession:
    routes: list[tuple[str, re.Pattern[str], Route]] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    verify: bool = True
    closed: bool = False

    def on(self, method: str, url: str, route: Union[Route, FakeResponse, BaseException, list[Any]]) -> FakeSession:
        """Answer ``method`` on URLs matching ``url``; a list is answered in turn (the last repeats)."""
        if isinstance(route, list):
            queue = list(route)

            def take(sent: Sent) -> FakeResponse:
                item = queue.pop(0) if len(queue) > 1 else queue[0]
                if isinstance(item, BaseException):
                    raise item
                return item(sent) if callable(item) and not isinstance(item, FakeResponse) else item

            fn: Route = take
        elif isinstance(route, BaseException):
            exc = route

            def fail(sent: Sent) -> FakeResponse:
                raise exc

            fn = fail
        elif isinstance(route, FakeResponse):
            response = route

            def fixed(sent: Sent) -> FakeResponse:
                return response

            fn = fixed
        else:
            fn = route
        self.routes.insert(0, (method, re.compile(url), fn))
        return self

    def request(self, method: str, url: str, headers: Optional[dict[str, str]] = None, params: Any = None,
                data: Any = None, timeout: Any = None, allow_redirects: bool = True, stream: bool = False,
                **kw: Any) -> FakeResponse:
        assert allow_redirects is False, "the transport follows redirects itself"
        assert stream is True, "bodies are always streamed, so they can be bounded"
        sent = Sent(method, url, dict(headers or {}), params, data)
        self.sent.append(sent)
        for m, pattern, fn in self.routes:
            if m == method and pattern.search(url):
                resp = fn(sent)
                resp.url = resp.url or url
                return resp
        raise AssertionError(f"unexpected request {method} {url}")

    def close(self) -> None:
        self.closed = True

    def urls(self, method: Optional[str] = None) -> list[str]:
        return [s.url for s in self.sent if method is None or s.method == method]
