"""What the HTTP stack raised, named in a user's words: ``classify`` turns an exception into a Failure.

Nothing from the registry reaches a message raw (escape.clean). Every check looks through the
whole chain of causes (httpfacts.causes): urllib3 wraps the real cause in MaxRetryError,
ProtocolError and friends, and which level holds it changes between versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, List, Optional

from ...escape import clean
from ...httpfacts import causes

__all__ = ["Failure", "NetError", "classify", "url_flaw", "PROXY_ADVICE"]

PROXY_ADVICE = "check HTTPS_PROXY, HTTP_PROXY and NO_PROXY"


# The authority of an absolute URL as urllib3 splits it (a backslash ends it too), and what no host
# may hold: space and control characters.
_AUTHORITY = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://([^\\/?#]*)")
_BAD_HOST_CHAR = re.compile(r"[\x00-\x20\x7f]")


def url_flaw(url: str) -> Optional[str]:
    """What makes ``url`` (a registry's Location or token realm) impossible to request, escaped; None
    when urlsplit and urllib3 both accept it.

    urlsplit raises ValueError on an unbalanced [ or ] and, for .port, on a port that is no number or
    out of range; urllib3 refuses other URLs it cannot parse. A host with a space or a control
    character is refused here, not left to urllib3: 2.8 refuses it, 2.6 (the zipapp's lock, what
    Python 3.9 installs) lets it through to http.client, whose complaint reads as a malformed answer.
    Found here, it is the registry's broken answer, not an error of ours.
    """
    from urllib.parse import urlsplit

    from urllib3.util import parse_url

    try:
        urlsplit(url).port  # noqa: B018 - evaluated for its ValueError
        authority = _AUTHORITY.match(url)
        host = authority.group(1).rpartition("@")[2] if authority else ""
        bad = _BAD_HOST_CHAR.search(host)
        if bad:
            return clean(f"host {host!r} contains invalid character {bad.group()!r}", 120)
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


class NetError(Exception):
    """A request that got no HTTP answer; ``failure`` says why, ``retried`` whether it was tried again."""

    def __init__(self, failure: Failure, retried: bool = False) -> None:
        super().__init__(failure.detail)
        self.failure = failure
        self.retried = retried

    def elsewhere(self, host: str) -> NetError:
        """The same failure, of ``host`` (where a redirect led, not the registry)."""
        return NetError(replace(self.failure, host=host), self.retried)


_Chain = List[BaseException]  # nearest cause first
_Rule = Callable[[_Chain], Optional[Failure]]


def _find(chain: _Chain, *types: type) -> Optional[BaseException]:
    return next((e for e in chain if isinstance(e, types)), None)


def _bad_url(chain: _Chain) -> Optional[Failure]:
    from urllib3 import exceptions as u3

    if _find(chain, u3.URLSchemeUnknown) is not None:
        return Failure("scheme", "redirected to a URL that is not http or https")
    if _find(chain, u3.LocationValueError) is not None:
        return Failure("url", "a URL that cannot be requested")
    return None


def _through_proxy(chain: _Chain) -> Optional[Failure]:
    from urllib3.exceptions import ProxyError

    proxy = _find(chain, ProxyError)
    if proxy is None:
        return None
    # urllib3 wraps what happened before the proxy let us through: named, then said of the proxy.
    return _proxy_failure(chain, classify(getattr(proxy, "original_error", None) or Exception()))


def _name_lookup(chain: _Chain) -> Optional[Failure]:
    import socket

    from urllib3.exceptions import NameResolutionError

    from .deadline import ResolveTimeout

    if _find(chain, ResolveTimeout) is not None:
        return Failure("timeout", "looking up the registry's name timed out")
    if _find(chain, NameResolutionError, socket.gaierror) is not None:
        return Failure("dns", "the registry's name could not be resolved")
    return None


def _tls(chain: _Chain) -> Optional[Failure]:
    import ssl

    from urllib3.exceptions import SSLError

    if _find(chain, ssl.SSLError, SSLError) is None:
        return None
    cert = _find(chain, ssl.SSLCertVerificationError)
    reason = getattr(cert, "verify_message", None) or getattr(cert, "reason", None)
    if not reason:
        base = _find(chain, ssl.SSLError)
        reason = getattr(base, "reason", None) or (str(base) if base is not None else "handshake failed")
    return Failure("tls", clean(str(reason), 200))


def _connecting(chain: _Chain) -> Optional[Failure]:
    """Before the connection was up. urllib3 2.x's NewConnectionError subclasses ConnectTimeoutError,
    so "refused" and "failed" are told apart here, before any timeout is."""
    import errno

    from urllib3.exceptions import NewConnectionError

    new_conn = _find(chain, NewConnectionError)
    if new_conn is None:
        return Failure("refused", "connection refused") if _find(chain, ConnectionRefusedError) else None
    if _find(chain, ConnectionRefusedError) is not None or "refused" in str(new_conn).lower():
        return Failure("refused", "connection refused")
    os_err = next((e for e in chain if isinstance(e, OSError) and e.errno), None)
    if os_err is not None and os_err.errno == errno.ETIMEDOUT:
        return Failure("connect-timeout", "connecting timed out")
    why = os_err.strerror if os_err is not None and os_err.strerror else "connection failed"
    return Failure("other", clean(why, 120))


def _timeouts(chain: _Chain) -> Optional[Failure]:
    from urllib3 import exceptions as u3

    if _find(chain, u3.ReadTimeoutError) is not None:
        return Failure("read-timeout", "no answer in time")
    if _find(chain, u3.ConnectTimeoutError) is not None:
        return Failure("connect-timeout", "connecting timed out")
    if _find(chain, TimeoutError, u3.TimeoutError) is not None:
        return Failure("timeout", "no answer in time")
    return None


def _framing(chain: _Chain) -> Optional[Failure]:
    from urllib3 import exceptions as u3

    if _find(chain, u3.HeaderParsingError, u3.InvalidHeader) is not None:
        return Failure("header", "invalid HTTP headers")
    if _find(chain, u3.InvalidChunkLength) is not None:
        return Failure("reset", "broken chunked encoding")
    if _find(chain, u3.DecodeError) is not None:
        return Failure("other", "a body that does not decompress")
    return _malformed(chain)


def _cut(chain: _Chain) -> Optional[Failure]:
    from urllib3.exceptions import ProtocolError

    if _find(chain, ProtocolError, ConnectionResetError, BrokenPipeError, ConnectionAbortedError) is not None:
        return Failure("reset", "the connection was closed or reset")
    return None


# In this order: each rule is asked only when the ones before it found nothing.
_RULES: tuple[_Rule, ...] = (_bad_url, _through_proxy, _name_lookup, _tls, _connecting, _timeouts, _framing, _cut)


def classify(exc: BaseException) -> Failure:
    """Name the cause of ``exc``, an exception of the HTTP stack (or anything else: "other")."""
    chain = causes(exc)
    for rule in _RULES:
        found = rule(chain)
        if found is not None:
            return found
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
