"""The redirect wrapper: redirects followed here, not by the session.

So a redirect's body is never read, a loop or a scheme other than http(s) is refused, credentials
never leave the registry's own host, and a failing target (a CDN) is named, not the registry.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urljoin, urlsplit

from ..escape import clean, quote
from .exchange import Call, Exchange
from .net import HTTPResponse
from .net.failure import Failure, NetError, url_flaw

__all__ = ["Redirects", "MAX_REDIRECTS"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10


def _target(url: str, location: str) -> str:
    """The absolute URL a redirect from ``url`` names; NetError when it is not one to follow."""
    try:
        target = urljoin(url, location)
    except ValueError:  # urlsplit cannot split it (an unbalanced [): url_flaw says why
        target = location
    flaw = url_flaw(target)
    if flaw is not None:
        raise NetError(Failure("url", f"redirected to an invalid URL, {quote(location, 100)} ({flaw})"))
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise NetError(Failure("scheme", f"redirected to a {clean(parts.scheme or 'relative', 20)}: URL, "
                                         "only http and https are followed"))
    return target


class Redirects:
    """Follows up to MAX_REDIRECTS redirects of ``home``'s answers; the last answer is returned unread."""

    def __init__(self, inner: Exchange, home: str) -> None:
        self._inner = inner
        self.home = home  # host:port of the registry: only it gets credentials

    def __call__(self, call: Call) -> HTTPResponse:
        hop = replace(call, headers=dict(call.headers))
        for _ in range(MAX_REDIRECTS + 1):
            resp = self._send(hop)
            location = resp.headers.get("Location") if int(resp.status) in REDIRECT_STATUSES else None
            if not location:
                return resp
            resp.close()
            hop = self._next(hop, int(resp.status), _target(hop.url, str(location).strip()))
        raise NetError(Failure("redirects", f"more than {MAX_REDIRECTS} redirects (a redirect loop)"))

    def at_home(self, url: str) -> bool:
        return urlsplit(url).netloc == self.home

    def _send(self, hop: Call) -> HTTPResponse:
        try:
            return self._inner(hop)
        except NetError as exc:
            if self.at_home(hop.url):
                raise
            raise exc.elsewhere(urlsplit(hop.url).netloc) from None

    def _next(self, hop: Call, status: int, target: str) -> Call:
        headers = hop.headers
        if not self.at_home(target):
            headers = {k: v for k, v in headers.items() if k != "Authorization"}  # for the registry only
        method = "GET" if status == 303 and hop.method != "HEAD" else hop.method
        return replace(hop, url=target, method=method, headers=headers)
