"""The registry transport through its session-factory seam: status mapping, retries, the 429 gate,
redirects, bounded bodies and the naming of HTTP-stack failures. Milliseconds, no sockets.

The exceptions fed in are the ones requests and urllib3 2.x really raise (built the same way),
so a change in how they nest is caught here before it reaches a user as the wrong message.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from typing import Any, Optional

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError, ProtocolError, ReadTimeoutError

from kubectl_imagecache.errors import (
    BadResponse,
    Forbidden,
    NotFound,
    RegistryError,
    ResponseTooLarge,
    Unauthorized,
    Unreachable,
)
from kubectl_imagecache.registry import transport as transport_module
from kubectl_imagecache.registry.auth import RegistryAuth
from kubectl_imagecache.registry.credentials import Credential
from kubectl_imagecache.registry.transport import RegistryTransport, TransportOptions
from tests.fakes.session import FakeResponse, FakeSession

HOST = "registry.example.com"
BASE = f"https://{HOST}/v2/app/"
MANIFEST = BASE + "manifests/1.0"
MT = "application/vnd.oci.image.manifest.v1+json"


def make(session: FakeSession, creds: Optional[list[Credential]] = None, **opts: Any) -> RegistryTransport:
    settings: dict[str, Any] = {"retries": 2, "backoff": 0.0, "timeout": 5.0, "retry_after_cap": 2}
    settings.update(opts)

    def auth_factory(sess: Any) -> RegistryAuth:
        return RegistryAuth(HOST, lambda: creds or [], lambda: ["a docker config"], sess, 5.0)

    return RegistryTransport(HOST, HOST, TransportOptions(**settings), auth_factory,
                             session_factory=lambda o, verify: session)


def get(t: RegistryTransport, path: str = "manifests/1.0", **kw: Any) -> Any:
    return t.request("GET", "app", path, {"Accept": MT}, "tag 1.0", **kw)


def ok(body: bytes = b"{}", **headers: str) -> FakeResponse:
    return FakeResponse(200, body, {"Content-Type": MT, **headers})


def error(status: int, code: str = "", **headers: str) -> FakeResponse:
    body = json.dumps({"errors": [{"code": code}]}).encode() if code else b""
    return FakeResponse(status, body, headers)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waits: list[float] = []
    monkeypatch.setattr(transport_module.time, "sleep", lambda s: waits.append(s))
    return waits


# -- status mapping ---------------------------------------------------------------------------------

def test_success_returns_the_body_and_headers() -> None:
    s = FakeSession().on("GET", MANIFEST, ok(b'{"a":1}', **{"Docker-Content-Digest": "sha256:" + "a" * 64}))
    reply = get(make(s))
    assert reply.body == b'{"a":1}' and reply.content_type == MT
    assert reply.headers["docker-content-digest"] == "sha256:" + "a" * 64
    assert s.sent[0].headers["Accept"] == MT


@pytest.mark.parametrize("status, code, tags, error_type, fragment", [
    (403, "", None, Forbidden, "forbidden"),
    (404, "NAME_UNKNOWN", None, NotFound, "repository registry.example.com/app not found"),
    (404, "MANIFEST_UNKNOWN", error(404, "NAME_UNKNOWN"), NotFound, "repository registry.example.com/app not found"),
    (404, "MANIFEST_UNKNOWN", ok(b'{"tags":[]}'), NotFound, "tag 1.0 not found in repository"),
    (404, "MANIFEST_UNKNOWN", error(401), NotFound, "tag 1.0 not found"),
    (418, "", None, RegistryError, "HTTP 418"),
    # A plain-HTTP request through a proxy: the proxy answers, not the registry.
    (407, "", None, Unreachable, "a proxy on the way to registry.example.com requires authentication (HTTP 407)"),
    (500, "", None, Unreachable, "HTTP 500"),
])
def test_status_to_error(status: int, code: str, tags: Optional[FakeResponse], error_type: type,
                         fragment: str) -> None:
    s = FakeSession().on("GET", MANIFEST, error(status, code))
    if tags is not None:
        s.on("GET", r"/tags/list", tags)
    with pytest.raises(error_type) as exc:
        get(make(s))
    assert fragment in str(exc.value)
    assert len(s.urls("GET")) == (2 if tags is not None else 1)  # 500 is not retried


@pytest.mark.parametrize("status", [408, 502, 503, 504])
def test_retried_statuses_then_unreachable(status: int, no_sleep: list[float]) -> None:
    s = FakeSession().on("GET", MANIFEST, error(status))
    with pytest.raises(Unreachable, match=f"HTTP {status}"):
        get(make(s, retries=3, backoff=0.01))
    assert len(s.sent) == 4
    assert no_sleep == [0.01, 0.02, 0.04]  # exponential backoff


def test_retry_then_success() -> None:
    s = FakeSession().on("GET", MANIFEST, [error(503), error(502), ok()])
    assert get(make(s)).status == 200
    assert len(s.sent) == 3


@pytest.mark.parametrize("value, expected", [
    ("1", 1.0), ("7", 2.0),  # capped at retry_after_cap
    ("soon", 0.05), ("1e999", 0.05), ("-3", 0.05), ("1, 2", 0.05), ("", 0.05),  # unusable: the backoff
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.05),  # in the past
])
def test_retry_after_is_honoured_or_ignored_never_a_crash(value: str, expected: float, no_sleep: list[float]) -> None:
    s = FakeSession().on("GET", MANIFEST, [error(503, **{"Retry-After": value}), ok()])
    assert get(make(s, backoff=0.05)).status == 200
    assert no_sleep == [expected]


def test_retry_after_as_a_future_date() -> None:
    from email.utils import formatdate

    s = FakeSession().on("GET", MANIFEST, [error(503, **{"Retry-After": formatdate(time.time() + 100, usegmt=True)}),
                                           ok()])
    t = make(s, retry_after_cap=3)
    assert get(t).status == 200


def test_429_after_retries_says_rate_limited() -> None:
    s = FakeSession().on("GET", MANIFEST, error(429, **{"Retry-After": "0"}))
    with pytest.raises(RegistryError, match="rate limiting"):
        get(make(s))
    assert len(s.sent) == 3


def test_retry_after_longer_than_the_time_left_gives_up_at_once(no_sleep: list[float]) -> None:
    s = FakeSession().on("GET", MANIFEST, error(429, **{"Retry-After": "30"}))
    t0 = time.monotonic()
    with pytest.raises(RegistryError, match="rate limiting"):
        get(make(s, timeout=1.0, retry_after_cap=60))
    assert no_sleep == [] and time.monotonic() - t0 < 0.5
    assert len(s.sent) == 1


@pytest.mark.parametrize("status, error_type, says", [
    (429, RegistryError, "is rate limiting requests (HTTP 429) for tag 1.0"),
    (503, Unreachable, "failed with HTTP 503 for tag 1.0"),
])
def test_a_wait_longer_than_the_time_left_says_so_not_after_retries(status: int, error_type: type, says: str) -> None:
    s = FakeSession().on("GET", MANIFEST, error(status, **{"Retry-After": "99999999"}))
    with pytest.raises(RegistryError) as exc:
        get(make(s, timeout=1.0, retry_after_cap=60))
    msg = str(exc.value)
    assert type(exc.value) is error_type and says in msg, msg  # exit 1 for a rate limit, 5 for the outage
    assert "asked to wait 99999999s, more than the time left (--registry-timeout)" in msg, msg
    assert "after retries" not in msg and len(s.sent) == 1, msg


# -- the per-registry gate -------------------------------------------------------------------------

def test_a_wave_of_429s_halves_the_limit_once() -> None:
    s = FakeSession().on("GET", MANIFEST, ok())
    t = make(s, concurrency=32)
    generations = [t.gate.acquire(None, HOST) for _ in range(8)]  # eight requests in flight
    for g in generations:
        t.gate.release()
        t.gate.throttle(g, None)  # ...and all eight answered 429
    assert t.gate.limit == 16
    g = t.gate.acquire(None, HOST)
    t.gate.release()
    t.gate.throttle(g, None)  # a later wave halves again
    assert t.gate.limit == 8


def test_429_halves_the_gate_and_retry_after_pauses_the_registry(no_sleep: list[float]) -> None:
    s = FakeSession().on("GET", MANIFEST, [error(429, **{"Retry-After": "0"}), ok()])
    t = make(s, concurrency=32)
    get(t)
    assert t.gate.limit == 16
    t.gate.throttle(-1, 0.3)  # another thread was told to wait 0.3 s: nobody sends meanwhile
    t0 = time.monotonic()
    t.gate.acquire(None, HOST)
    t.gate.release()
    assert time.monotonic() - t0 >= 0.25


def test_gate_limits_requests_in_flight() -> None:
    import threading

    t = make(FakeSession(), concurrency=2)
    t.gate.acquire(None, HOST)
    t.gate.acquire(None, HOST)
    got = threading.Event()

    def third() -> None:
        t.gate.acquire(None, HOST)
        got.set()

    threading.Thread(target=third, daemon=True).start()
    assert not got.wait(0.1)
    t.gate.release()
    assert got.wait(1.0)


# -- failures of the HTTP stack ------------------------------------------------------------------------

def _wrapped(reason: Exception) -> requests.exceptions.ConnectionError:
    # What requests raises: ConnectionError(MaxRetryError(reason)).
    return requests.exceptions.ConnectionError(MaxRetryError(None, MANIFEST, reason))  # type: ignore[arg-type]


def _refused() -> Exception:
    err = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    err.__cause__ = ConnectionRefusedError(111, "Connection refused")
    return _wrapped(err)


def _unresolved() -> Exception:
    return _wrapped(NameResolutionError(HOST, None, OSError(-2, "Name or service not known")))  # type: ignore[arg-type]


def _tls() -> Exception:
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    cause.verify_message = "self-signed certificate"  # type: ignore[attr-defined]
    return requests.exceptions.SSLError(MaxRetryError(None, MANIFEST, cause))  # type: ignore[arg-type]


def _read_timeout() -> Exception:
    return requests.exceptions.ReadTimeout(ReadTimeoutError(None, MANIFEST, "Read timed out."))  # type: ignore[arg-type]


def _aborted(cause: Exception) -> Exception:
    # What urllib3 raises when http.client fails on the answer's head: ProtocolError("Connection aborted.", cause).
    return ProtocolError("Connection aborted.", cause)


def _too_many_headers() -> Exception:
    return _aborted(http.client.HTTPException("got more than 100 headers"))


def _disconnected() -> Exception:
    return _aborted(http.client.RemoteDisconnected("Remote end closed connection without response"))


@pytest.mark.parametrize("raised, error_type, says, never", [
    (_refused, Unreachable, "connection refused", "in time"),
    (_unresolved, Unreachable, "could not be resolved", "in time"),
    (_tls, Unreachable, "self-signed certificate", "in time"),
    (_read_timeout, Unreachable, "did not answer in time", "refused"),
    (lambda: requests.exceptions.InvalidHeader("Invalid leading whitespace in header value"), BadResponse,
     "invalid HTTP headers", "Traceback"),
    (lambda: requests.exceptions.ConnectionError(ConnectionResetError(104, "Connection reset by peer")),
     Unreachable, "closed the connection", "in time"),
    (lambda: ValueError("Invalid header value b'x\\r\\n'"), Unreachable, "ValueError", "\r"),
    (lambda: OSError("odd"), Unreachable, "OSError", "Traceback"),
    # http.client's verdicts on the answer's head: malformed, never "closed the connection".
    (_too_many_headers, BadResponse, "a malformed HTTP answer (got more than 100 headers)", "closed"),
    (lambda: _aborted(http.client.LineTooLong("header line")), BadResponse, "a malformed HTTP answer", "closed"),
    (lambda: _aborted(http.client.BadStatusLine("SSH-2.0\x1b[2J")), BadResponse, "invalid status line", "\x1b"),
    (lambda: _aborted(http.client.UnknownProtocol("HTTP/9.9")), BadResponse, "a malformed HTTP answer", "closed"),
    # ...and a connection that ended early: closed, worth another try.
    (_disconnected, Unreachable, "closed the connection", "malformed"),
    (lambda: _aborted(http.client.IncompleteRead(b"", 10)), Unreachable, "closed the connection", "malformed"),
])
def test_failures_are_named(raised: Any, error_type: type, says: str, never: str) -> None:
    s = FakeSession().on("GET", MANIFEST, raised())
    with pytest.raises(error_type) as exc:
        get(make(s, retries=0))
    assert says in str(exc.value) and never not in str(exc.value)


@pytest.mark.parametrize("raised, attempts", [(_refused, 1), (_unresolved, 1), (_tls, 1), (_read_timeout, 3),
                                              (_too_many_headers, 1), (_disconnected, 3)])
def test_only_transient_failures_are_retried(raised: Any, attempts: int) -> None:
    s = FakeSession().on("GET", MANIFEST, raised())
    with pytest.raises(RegistryError):
        get(make(s, retries=2))
    assert len(s.sent) == attempts


def test_broken_chunked_body_is_retried_then_named() -> None:
    broken = requests.exceptions.ChunkedEncodingError("Connection broken: InvalidChunkLength(got length b'zz')")
    s = FakeSession().on("GET", MANIFEST, [FakeResponse(200, [b"{"], error_after=broken), ok()])
    assert get(make(s)).body == b"{}"
    s2 = FakeSession().on("GET", MANIFEST, FakeResponse(200, [b"{"], error_after=broken))
    with pytest.raises(BadResponse, match="broken body"):
        get(make(s2))


def test_the_image_deadline_bounds_every_retry() -> None:
    s = FakeSession().on("GET", MANIFEST, error(503))
    t = make(s, retries=100, backoff=0.5)
    with pytest.raises(Unreachable):
        get(t, deadline=time.monotonic() + 1.0)
    # backoff 0.5, 1.0 ... : only the tries that fit in one second were made.
    assert len(s.sent) == 2


# -- redirects --------------------------------------------------------------------------------------

def test_redirect_elsewhere_drops_authorization_and_keeps_it_at_home() -> None:
    s = FakeSession()
    s.on("GET", MANIFEST, lambda sent: FakeResponse(307, b"", {"Location": "/v2/app/manifests/moved"})
         if "Authorization" in sent.headers else error(401, **{"WWW-Authenticate": 'Basic realm="r"'}))
    s.on("GET", BASE + "manifests/moved", FakeResponse(302, b"", {"Location": "https://cdn.example.net/blob?sig=1"}))
    s.on("GET", r"cdn\.example\.net", ok(b"{}"))
    t = make(s, [Credential("u", "p", None, "docker config")])
    reply = get(t)
    assert reply.status == 200 and reply.url.startswith("https://cdn.example.net/")
    assert [("Authorization" in x.headers) for x in s.sent] == [False, True, True, False]


@pytest.mark.parametrize("raised, says", [
    (_unresolved, "cannot connect to cdn.example.net (where registry.example.com redirected the request): its name "
                  "could not be resolved; check DNS"),
    (_refused, "cannot connect to cdn.example.net (where registry.example.com redirected the request) while "
               "fetching tag 1.0: connection refused"),
    (_tls, "TLS failed for cdn.example.net while fetching tag 1.0 (self-signed certificate)"),
    (_read_timeout, "cdn.example.net (where registry.example.com redirected the request) did not answer in time"),
])
def test_a_failing_redirect_target_is_named_not_the_registry(raised: Any, says: str) -> None:
    s = FakeSession().on("GET", MANIFEST, FakeResponse(307, b"", {"Location": "https://cdn.example.net/blob?sig=1"}))
    s.on("GET", r"cdn\.example\.net", raised())
    with pytest.raises(Unreachable) as exc:
        get(make(s))
    assert says in str(exc.value)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/", "data:,x"])
def test_redirect_to_another_scheme_is_refused(location: str) -> None:
    s = FakeSession().on("GET", MANIFEST, FakeResponse(302, b"", {"Location": location}))
    with pytest.raises(BadResponse, match="only http and https"):
        get(make(s))
    assert len(s.sent) == 1


@pytest.mark.parametrize("location, flaw", [
    ("http://[evil/x", "Invalid IPv6 URL"), ("//[evil/x", "Invalid IPv6 URL"), ("https://evil]/x", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/x", "Port out of range"), ("http://h:port/x", "Port could not be cast"),
    ("http://a b/x", "invalid character"),
])
def test_redirect_to_a_url_that_cannot_be_requested_is_a_broken_answer(location: str, flaw: str) -> None:
    s = FakeSession().on("GET", MANIFEST, FakeResponse(302, b"", {"Location": location}))
    with pytest.raises(BadResponse, match="redirected to an invalid URL") as exc:
        get(make(s))
    assert flaw in str(exc.value) and len(s.sent) == 1


def test_redirect_loop_is_refused() -> None:
    s = FakeSession().on("GET", MANIFEST, FakeResponse(302, b"", {"Location": MANIFEST}))
    with pytest.raises(BadResponse, match="redirect loop"):
        get(make(s))
    assert len(s.sent) == 11


def test_redirect_body_is_never_read() -> None:
    huge = FakeResponse(302, [b"x" * (1 << 20)] * 1000, {"Location": BASE + "manifests/2"})
    s = FakeSession().on("GET", MANIFEST, huge).on("GET", BASE + "manifests/2", ok())
    assert get(make(s)).status == 200
    assert not huge.iterated and huge.closed


# -- bounded bodies -----------------------------------------------------------------------------------

def test_declared_length_over_the_limit_is_refused_unread() -> None:
    resp = FakeResponse(200, b"{}", {"Content-Length": str(5 << 20)})
    s = FakeSession().on("GET", MANIFEST, resp)
    with pytest.raises(ResponseTooLarge, match="4194304-byte limit"):
        get(make(s))
    assert not resp.iterated and resp.closed


def test_streamed_body_stops_at_the_limit() -> None:
    chunks = [b"x" * 65536] * 1000  # 64 MiB if read to the end
    resp = FakeResponse(200, chunks)
    s = FakeSession().on("GET", MANIFEST, resp)
    with pytest.raises(ResponseTooLarge):
        get(make(s))
    assert resp.closed


def test_error_bodies_are_bounded_and_the_status_reported() -> None:
    # 256 KiB of error body: read to 64 KiB, then the 404 is what the user hears, not the size.
    s = FakeSession().on("GET", MANIFEST, FakeResponse(404, [b"x" * 65536] * 4))
    with pytest.raises(NotFound, match="not found"):
        get(make(s))


# -- 401 and the auth state machine through the transport ------------------------------------------------

REALM = "https://auth.example.com/token"
BEARER = f'Bearer realm="{REALM}",service="registry",scope="repository:app:pull"'


def _token(value: str, **extra: Any) -> FakeResponse:
    return FakeResponse(200, json.dumps({"token": value, **extra}).encode(), {"Content-Type": "application/json"})


def test_bearer_flow_fetches_once_then_sends_up_front() -> None:
    s = FakeSession()
    s.on("GET", MANIFEST, lambda sent: ok() if sent.headers.get("Authorization") == "Bearer t1" else
         error(401, **{"WWW-Authenticate": BEARER}))
    s.on("GET", REALM, _token("t1"))
    t = make(s)
    assert get(t).status == 200
    assert s.urls() == [MANIFEST, REALM, MANIFEST]
    assert s.sent[1].params == {"scope": "repository:app:pull", "service": "registry"}
    s.sent.clear()
    assert get(t).status == 200
    assert s.urls() == [MANIFEST]  # challenge known, token held: no 401 round trip


def test_bearer_tries_each_credential_then_anonymous_and_names_them() -> None:
    creds = [Credential("alice", "wrong", None, "docker config"), Credential("bob", "pw", None, "pull secret ns/x")]
    s = FakeSession()
    s.on("GET", MANIFEST, error(401, **{"WWW-Authenticate": BEARER}))
    s.on("GET", REALM, lambda sent: error(401) if "Authorization" in sent.headers else _token("anon"))
    with pytest.raises(Unauthorized) as exc:
        get(make(s, creds))
    msg = str(exc.value)
    assert "docker config" in msg and "pull secret ns/x" in msg and "anonymous" in msg
    assert "wrong" not in msg and "pw" not in msg


def test_basic_challenge_uses_utf8_credentials() -> None:
    import base64

    creds = [Credential("ユーザー", "pässwörd✓", None, "docker config")]
    expected = "Basic " + base64.b64encode("ユーザー:pässwörd✓".encode()).decode()
    s = FakeSession().on("GET", MANIFEST, lambda sent: ok() if sent.headers.get("Authorization") == expected else
                         error(401, **{"WWW-Authenticate": 'Basic realm="r"'}))
    assert get(make(s, creds)).status == 200


def test_401_from_a_redirect_target_gets_no_credentials() -> None:
    s = FakeSession()
    s.on("GET", MANIFEST, FakeResponse(307, b"", {"Location": "https://other.example.net/x"}))
    s.on("GET", r"other\.example\.net", error(401, **{"WWW-Authenticate": 'Basic realm="evil"'}))
    creds = [Credential("u", "p", None, "docker config")]
    with pytest.raises(Unauthorized):
        get(make(s, creds))
    assert not any("Authorization" in x.headers for x in s.sent)


@pytest.mark.parametrize("challenge", ['Bearer realm="https://auth.example.com/token",garbage', "Bearer realm="])
def test_malformed_challenge_is_unauthorized_not_a_crash(challenge: str) -> None:
    s = FakeSession().on("GET", MANIFEST, error(401, **{"WWW-Authenticate": challenge}))
    s.on("GET", REALM, error(401))
    with pytest.raises(Unauthorized):
        get(make(s))


def test_unknown_challenge_scheme_is_unauthorized_not_a_loop() -> None:
    s = FakeSession().on("GET", MANIFEST, error(401, **{"WWW-Authenticate": "Negotiate"}))
    with pytest.raises(Unauthorized):
        get(make(s))
    assert len(s.sent) == 1
