"""classify: each exception of the HTTP stack, built as urllib3 2.x and http.client raise it, named
in a user's words. Where a loopback server can provoke the failure, test_transport_unit.py does so
through the real session; TLS and name lookups need a certificate or a resolver (tests/registry)."""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import Callable

import pytest
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidChunkLength,
    MaxRetryError,
    NameResolutionError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)

from kubectl_imagecache.registry.net.deadline import ResolveTimeout
from kubectl_imagecache.registry.net.failure import classify, url_flaw

URL = "https://registry.example.com/v2/"


def _max_retries(reason: Exception) -> MaxRetryError:
    # What the session's urlopen raises once its single try failed: MaxRetryError(reason).
    return MaxRetryError(None, URL, reason)  # type: ignore[arg-type]


def _refused() -> Exception:
    err = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    err.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return _max_retries(err)


def _unresolved() -> Exception:
    return _max_retries(NameResolutionError("registry.example.com", None, socket.gaierror(-2, "Name unknown")))  # type: ignore[arg-type]


def _tls() -> Exception:
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    cause.verify_message = "self-signed certificate"  # type: ignore[attr-defined]
    err = SSLError(cause)
    err.__cause__ = cause
    return _max_retries(err)


def _proxy_refused() -> Exception:
    inner = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    return _max_retries(ProxyError("Unable to connect to proxy", inner))


class _Told:
    """InvalidChunkLength asks its response how far it got."""

    length_remaining = None

    def tell(self) -> int:
        return 1


def _aborted(cause: Exception) -> Exception:
    # What urllib3 raises when http.client fails on the answer's head: ProtocolError("Connection aborted.", cause).
    return ProtocolError("Connection aborted.", cause)


@pytest.mark.parametrize("raised, kind, says", [
    (_refused, "refused", "connection refused"),
    (_unresolved, "dns", "could not be resolved"),
    (lambda: _max_retries(ConnectTimeoutError(None, ResolveTimeout("lookup"))), "timeout", "looking up"),
    (_tls, "tls", "self-signed certificate"),
    (_proxy_refused, "proxy", "the proxy refused the connection"),
    (lambda: ReadTimeoutError(None, URL, "Read timed out."), "read-timeout", "no answer in time"),  # type: ignore[arg-type]
    (lambda: _max_retries(ConnectTimeoutError(None, "timed out")), "connect-timeout", "connecting timed out"),
    (lambda: ProtocolError("Connection broken", InvalidChunkLength(_Told(), b"zz")), "reset", "chunked"),  # type: ignore[arg-type]
    (lambda: _aborted(ConnectionResetError(104, "Connection reset by peer")), "reset", "closed or reset"),
    (lambda: _aborted(http.client.RemoteDisconnected("closed")), "reset", "closed or reset"),
    (lambda: _aborted(http.client.IncompleteRead(b"", 10)), "reset", "closed or reset"),
    (lambda: _aborted(http.client.HTTPException("got more than 100 headers")), "header",
     "a malformed HTTP answer (got more than 100 headers)"),
    (lambda: _aborted(http.client.BadStatusLine("SSH-2.0\x1b[2J")), "header", "invalid status line"),
    (lambda: _aborted(http.client.UnknownProtocol("HTTP/9.9")), "header", "a malformed HTTP answer"),
    (lambda: ValueError("Invalid header value b'x\\r\\n'"), "other", "ValueError"),
    (lambda: OSError("odd"), "other", "OSError"),
])
def test_each_failure_is_named(raised: Callable[[], Exception], kind: str, says: str) -> None:
    failure = classify(raised())
    assert failure.kind == kind and says in failure.detail, failure
    assert "\x1b" not in failure.detail and "\r" not in failure.detail


def test_only_cut_connections_and_timeouts_are_transient() -> None:
    assert [classify(f()).transient for f in (_refused, _unresolved, _tls)] == [False, False, False]
    assert classify(_aborted(http.client.RemoteDisconnected("closed"))).transient
    assert not classify(_aborted(http.client.BadStatusLine("x"))).transient


@pytest.mark.parametrize("url, host, char", [
    ("http://a b/x", "a b", "' '"), ("https://u:p@reg\tistry:5000/token", "reg\\tistry:5000", "'\\t'"),
    ("http://a\x7fb?x", "a\\x7fb", "'\\x7f'"),
])
def test_a_host_with_a_space_or_control_character_is_named_the_same_under_every_urllib3(url: str, host: str,
                                                                                      char: str) -> None:
    # urllib3 2.6 (the zipapp's lock, Python 3.9's install) accepts these hosts; http.client then
    # refuses the request line, which would read as a malformed answer instead of an invalid URL.
    assert url_flaw(url) == f"host '{host}' contains invalid character {char}"


@pytest.mark.parametrize("url", ["https://registry.example.com:5000/v2/", "http://[::1]:5000/x", "https://a%20b/x",
                                 "/v2/relative path"])
def test_hosts_without_space_or_control_characters_pass(url: str) -> None:
    assert url_flaw(url) is None
