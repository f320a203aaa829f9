"""The registry transport against a scripted registry on loopback (tests/fakes/hostile.py): status
mapping, retries, the 429 gate, redirects, bounded bodies and the 401 flow, through the product's own
session, so every failure is what urllib3 really raises. What classify makes of each exception of the
HTTP stack is in test_failure_unit.py.
"""

from __future__ import annotations

import base64
import threading
import time
from email.utils import formatdate
from typing import Any, Iterator, Optional

import pytest

from kubectl_imagecache.errors import (
    BadResponse,
    Forbidden,
    NotFound,
    RegistryError,
    ResponseTooLarge,
    Unauthorized,
    Unreachable,
)
from kubectl_imagecache.registry import retry as retry_module
from kubectl_imagecache.registry.auth import RegistryAuth
from kubectl_imagecache.registry.credentials import Credential
from kubectl_imagecache.registry.exchange import Call, Send
from kubectl_imagecache.registry.transport import RegistryTransport, TransportOptions
from tests.fakes.hostile import OCI_MANIFEST, HostileRegistry, endless, http, raw, respond, stall
from tests.support.scripted import by_request, error, in_turn, token

MANIFEST = r"/v2/app/manifests/1\.0$"
MT = OCI_MANIFEST


@pytest.fixture
def reg() -> Iterator[HostileRegistry]:
    with HostileRegistry() as r:
        yield r


@pytest.fixture
def cdn() -> Iterator[HostileRegistry]:
    """Another host the registry redirects to (another port of loopback: another netloc)."""
    with HostileRegistry() as r:
        yield r


def make(reg: HostileRegistry, creds: Optional[list[Credential]] = None, **opts: Any) -> RegistryTransport:
    settings: dict[str, Any] = {"retries": 2, "backoff": 0.0, "timeout": 5.0, "retry_after_cap": 2}
    settings.update(opts)

    def auth_factory(send: Send) -> RegistryAuth:
        return RegistryAuth(reg.host, lambda: creds or [], lambda: ["a docker config"], send, 5.0)

    return RegistryTransport(reg.host, reg.host, TransportOptions(**settings), auth_factory, scheme_hint="http")


def get(t: RegistryTransport, path: str = "manifests/1.0", **kw: Any) -> Any:
    return t.request("GET", "app", path, {"Accept": MT}, "tag 1.0", **kw)


def ok(body: bytes = b"{}", **headers: str) -> Any:
    return respond(200, body, {"Content-Type": MT, **headers})


def sent(reg: HostileRegistry, pattern: str = MANIFEST) -> int:
    return len(reg.seen(pattern))


@pytest.fixture(autouse=True)
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The backoff the retry wrapper chose, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(retry_module.time, "sleep", lambda s: recorded.append(s))
    return recorded


# -- status mapping ---------------------------------------------------------------------------------

def test_success_returns_the_body_and_headers(reg: HostileRegistry) -> None:
    reg.on(MANIFEST, ok(b'{"a":1}', **{"Docker-Content-Digest": "sha256:" + "a" * 64}))
    reply = get(make(reg))
    assert reply.body == b'{"a":1}' and reply.content_type == MT
    assert reply.headers["docker-content-digest"] == "sha256:" + "a" * 64
    assert reg.seen(MANIFEST)[0].headers["accept"] == MT


@pytest.mark.parametrize("status, code, tags, error_type, fragment", [
    (403, "", None, Forbidden, "forbidden"),
    (404, "NAME_UNKNOWN", None, NotFound, "/app not found"),
    (404, "MANIFEST_UNKNOWN", error(404, "NAME_UNKNOWN"), NotFound, "/app not found"),
    (404, "MANIFEST_UNKNOWN", ok(b'{"tags":[]}'), NotFound, "tag 1.0 not found in repository"),
    (404, "MANIFEST_UNKNOWN", error(401), NotFound, "tag 1.0 not found"),
    (418, "", None, RegistryError, "HTTP 418"),
    # A plain-HTTP request through a proxy: the proxy answers, not the registry.
    (407, "", None, Unreachable, "requires authentication (HTTP 407)"),
    (500, "", None, Unreachable, "HTTP 500"),
])
def test_status_to_error(reg: HostileRegistry, status: int, code: str, tags: Any, error_type: type,
                         fragment: str) -> None:
    reg.on(MANIFEST, error(status, code))
    if tags is not None:
        reg.on(r"/tags/list", tags)
    with pytest.raises(error_type) as exc:
        get(make(reg))
    assert fragment in str(exc.value)
    assert sent(reg, "") == (2 if tags is not None else 1)  # 500 is not retried


@pytest.mark.parametrize("status", [408, 502, 503, 504])
def test_retried_statuses_then_unreachable(reg: HostileRegistry, status: int, waits: list[float]) -> None:
    reg.on(MANIFEST, error(status))
    with pytest.raises(Unreachable, match=f"HTTP {status}"):
        get(make(reg, retries=3, backoff=0.01))
    assert sent(reg) == 4
    assert waits == [0.01, 0.02, 0.04]  # exponential backoff


def test_retry_then_success(reg: HostileRegistry) -> None:
    in_turn(reg, MANIFEST, error(503), error(502), ok())
    assert get(make(reg)).status == 200
    assert sent(reg) == 3


@pytest.mark.parametrize("value, expected", [
    ("1", 1.0), ("7", 2.0),  # capped at retry_after_cap
    ("soon", 0.05), ("1e999", 0.05), ("-3", 0.05), ("1, 2", 0.05), ("", 0.05),  # unusable: the backoff
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.05),  # in the past
])
def test_retry_after_is_honoured_or_ignored_never_a_crash(reg: HostileRegistry, value: str, expected: float,
                                                          waits: list[float]) -> None:
    in_turn(reg, MANIFEST, error(503, **{"Retry-After": value}), ok())
    assert get(make(reg, backoff=0.05)).status == 200
    assert waits == [expected]


def test_retry_after_as_a_future_date(reg: HostileRegistry, waits: list[float]) -> None:
    in_turn(reg, MANIFEST, error(503, **{"Retry-After": formatdate(time.time() + 100, usegmt=True)}), ok())
    assert get(make(reg, retry_after_cap=3)).status == 200
    assert waits == [3.0]


def test_429_after_retries_says_rate_limited(reg: HostileRegistry) -> None:
    reg.on(MANIFEST, error(429, **{"Retry-After": "0"}))
    with pytest.raises(RegistryError, match="rate limiting"):
        get(make(reg))
    assert sent(reg) == 3


@pytest.mark.parametrize("status, error_type, says", [
    (429, RegistryError, "is rate limiting requests (HTTP 429) for tag 1.0"),
    (503, Unreachable, "failed with HTTP 503 for tag 1.0"),
])
def test_a_wait_longer_than_the_time_left_says_so_not_after_retries(reg: HostileRegistry, status: int,
                                                                    error_type: type, says: str,
                                                                    waits: list[float]) -> None:
    reg.on(MANIFEST, error(status, **{"Retry-After": "99999999"}))
    with pytest.raises(RegistryError) as exc:
        get(make(reg, timeout=1.0, retry_after_cap=60))
    msg = str(exc.value)
    assert type(exc.value) is error_type and says in msg, msg  # exit 1 for a rate limit, 5 for the outage
    assert "asked to wait 99999999s, more than the time left (--registry-timeout)" in msg, msg
    assert "after retries" not in msg and sent(reg) == 1 and waits == [], msg


def test_the_image_deadline_bounds_every_retry(reg: HostileRegistry, waits: list[float]) -> None:
    reg.on(MANIFEST, error(503))
    with pytest.raises(Unreachable):
        get(make(reg, retries=100, backoff=0.5), deadline=time.monotonic() + 1.0)
    # backoff 0.5, then 1.0 no longer fits in the second: two tries.
    assert sent(reg) == 2 and waits == [0.5]


# -- the per-registry gate -------------------------------------------------------------------------

def _call(ticket: int) -> Call:
    return Call("GET", "/", {}, "x", "r", time.monotonic() + 5, 1, ticket=ticket)


def test_a_wave_of_429s_halves_the_limit_once(reg: HostileRegistry) -> None:
    t = make(reg, concurrency=32)
    tickets = [t.gate.acquire(None) for _ in range(8)]  # eight requests in flight
    for ticket in tickets:
        t.gate.release()
        t.gate.throttle(_call(ticket), None)  # ...and all eight answered 429
    assert t.gate.limit == 16
    ticket = t.gate.acquire(None)
    t.gate.release()
    t.gate.throttle(_call(ticket), None)  # a later wave halves again
    assert t.gate.limit == 8


def test_429_halves_the_gate_and_retry_after_pauses_the_registry(reg: HostileRegistry) -> None:
    in_turn(reg, MANIFEST, error(429, **{"Retry-After": "0"}), ok())
    t = make(reg, concurrency=32)
    get(t)
    assert t.gate.limit == 16
    t.gate.throttle(_call(-1), 0.3)  # another thread was told to wait 0.3 s: nobody sends meanwhile
    t0 = time.monotonic()
    t.gate.acquire(None)
    t.gate.release()
    assert time.monotonic() - t0 >= 0.25


def test_gate_limits_requests_in_flight(reg: HostileRegistry) -> None:
    t = make(reg, concurrency=2)
    t.gate.acquire(None)
    t.gate.acquire(None)
    got = threading.Event()

    def third() -> None:
        t.gate.acquire(None)
        got.set()

    threading.Thread(target=third, daemon=True).start()
    assert not got.wait(0.1)
    t.gate.release()
    assert got.wait(1.0)


# -- failures of the HTTP stack, as the session meets them ---------------------------------------------

@pytest.mark.parametrize("answer, error_type, says, attempts", [
    # Closed before any answer: worth another try, then "closed the connection".
    (raw(b""), Unreachable, "closed the connection", 3),
    (raw(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{"), BadResponse, "broken body", 3),
    # http.client's verdicts on the answer's head: malformed, never retried, never "closed".
    (raw(b"SSH-2.0-OpenSSH\x1b[2J\r\n\r\n"), BadResponse, "invalid status line", 1),
    (raw(b"HTTP/1.1 200 OK\r\n" + b"X-A: b\r\n" * 101 + b"\r\n"), BadResponse,
     "a malformed HTTP answer (got more than 100 headers)", 1),
    (raw(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 70000 + b"\r\n\r\n"), BadResponse, "a malformed HTTP answer", 1),
    (raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), BadResponse, "broken", 3),
])
def test_failures_are_named_and_only_transient_ones_retried(reg: HostileRegistry, answer: Any, error_type: type,
                                                           says: str, attempts: int) -> None:
    reg.on(MANIFEST, answer)
    with pytest.raises(error_type) as exc:
        get(make(reg, retries=2))
    assert says in str(exc.value) and "\x1b" not in str(exc.value), str(exc.value)
    assert sent(reg) == attempts


def test_a_refused_connection_is_named_and_not_retried(reg: HostileRegistry) -> None:
    t = make(reg, retries=2)
    reg.stop()
    with pytest.raises(Unreachable) as exc:
        get(t)
    assert "connection refused" in str(exc.value) and "retried" not in str(exc.value)


def test_a_stalled_answer_is_a_timeout_within_the_deadline(reg: HostileRegistry) -> None:
    reg.on(MANIFEST, stall())
    with pytest.raises(Unreachable, match="did not answer in time"):
        get(make(reg, timeout=0.5))


def test_broken_chunked_body_is_retried_then_served(reg: HostileRegistry) -> None:
    in_turn(reg, MANIFEST, raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\nzz\r\n"), ok())
    assert get(make(reg)).body == b"{}"
    assert sent(reg) == 2


# -- redirects --------------------------------------------------------------------------------------

def test_redirect_elsewhere_drops_authorization_and_keeps_it_at_home(reg: HostileRegistry,
                                                                     cdn: HostileRegistry) -> None:
    reg.on(MANIFEST, by_request(lambda req: respond(307, b"", {"Location": "/v2/app/manifests/moved"})
                                if req.authorization else error(401, **{"WWW-Authenticate": 'Basic realm="r"'})))
    reg.on(r"/manifests/moved$", respond(302, b"", {"Location": f"http://{cdn.host}/blob?sig=1"}))
    cdn.on(r"/blob", ok(b"{}"))
    reply = get(make(reg, [Credential("u", "p", None, "docker config")]))
    assert reply.status == 200 and reply.url.startswith(f"http://{cdn.host}/")
    assert [r.authorization is not None for r in reg.seen()] == [False, True, True]
    assert [r.authorization for r in cdn.seen()] == [None]


def test_a_failing_redirect_target_is_named_not_the_registry(reg: HostileRegistry, cdn: HostileRegistry) -> None:
    reg.on(MANIFEST, respond(307, b"", {"Location": f"http://{cdn.host}/blob?sig=1"}))
    cdn.stop()
    with pytest.raises(Unreachable) as exc:
        get(make(reg))
    assert f"cannot connect to {cdn.host} (where {reg.host} redirected the request) while fetching tag 1.0: " \
           "connection refused" in str(exc.value)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/", "data:,x"])
def test_redirect_to_another_scheme_is_refused(reg: HostileRegistry, location: str) -> None:
    reg.on(MANIFEST, respond(302, b"", {"Location": location}))
    with pytest.raises(BadResponse, match="only http and https"):
        get(make(reg))
    assert sent(reg, "") == 1


@pytest.mark.parametrize("location, flaw", [
    ("http://[evil/x", "Invalid IPv6 URL"), ("//[evil/x", "Invalid IPv6 URL"), ("https://evil]/x", "Invalid IPv6 URL"),
    ("http://127.0.0.1:99999/x", "Port out of range"), ("http://h:port/x", "Port could not be cast"),
    ("http://a b/x", "invalid character"),
])
def test_redirect_to_a_url_that_cannot_be_requested_is_a_broken_answer(reg: HostileRegistry, location: str,
                                                                       flaw: str) -> None:
    reg.on(MANIFEST, respond(302, b"", {"Location": location}))
    with pytest.raises(BadResponse, match="redirected to an invalid URL") as exc:
        get(make(reg))
    assert flaw in str(exc.value) and sent(reg, "") == 1


def test_redirect_loop_is_refused(reg: HostileRegistry) -> None:
    reg.on(MANIFEST, respond(302, b"", {"Location": "/v2/app/manifests/1.0"}))
    with pytest.raises(BadResponse, match="redirect loop"):
        get(make(reg))
    assert sent(reg) == 11


def test_redirect_body_is_never_read(reg: HostileRegistry) -> None:
    # Were it read, 1 GiB declared and an endless body would be refused as too large, or never end.
    head = http(302, b"", [("Location", "/v2/app/manifests/2"), ("Content-Length", str(1 << 30))])
    reg.on(MANIFEST, endless(head))
    reg.on(r"/manifests/2$", ok())
    assert get(make(reg)).status == 200


# -- bounded bodies -----------------------------------------------------------------------------------

def test_declared_length_over_the_limit_is_refused_unread(reg: HostileRegistry) -> None:
    reg.on(MANIFEST, raw(http(200, b"", [("Content-Length", str(5 << 20))]) + b"{}"))
    with pytest.raises(ResponseTooLarge, match="4194304-byte limit"):
        get(make(reg))


def test_streamed_body_stops_at_the_limit(reg: HostileRegistry) -> None:
    reg.on(MANIFEST, endless(http(200, b"", content_length=False)))
    with pytest.raises(ResponseTooLarge):
        get(make(reg))


def test_error_bodies_are_bounded_and_the_status_reported(reg: HostileRegistry) -> None:
    # An endless error body: read to 64 KiB, then the 404 is what the user hears, not the size.
    reg.on(MANIFEST, endless(http(404, b"", content_length=False)))
    with pytest.raises(NotFound, match="not found"):
        get(make(reg))


# -- 401 and the auth state machine through the transport ------------------------------------------------

def _bearer(reg: HostileRegistry) -> str:
    return f'Bearer realm="http://{reg.host}/token",service="registry",scope="repository:app:pull"'


def test_bearer_flow_fetches_once_then_sends_up_front(reg: HostileRegistry) -> None:
    reg.on(MANIFEST, by_request(lambda req: ok() if req.authorization == "Bearer t1" else
                                error(401, **{"WWW-Authenticate": _bearer(reg)})))
    reg.on(r"^/token", token("t1"))
    t = make(reg)
    assert get(t).status == 200
    assert [r.path for r in reg.seen()] == ["/v2/app/manifests/1.0", "/token", "/v2/app/manifests/1.0"]
    assert reg.seen("/token")[0].target == "/token?scope=repository%3Aapp%3Apull&service=registry"
    reg.reset()
    reg.on(MANIFEST, ok())
    assert get(t).status == 200
    assert [r.path for r in reg.seen()] == ["/v2/app/manifests/1.0"]  # challenge known, token held: no 401


def test_bearer_tries_each_credential_then_anonymous_and_names_them(reg: HostileRegistry) -> None:
    creds = [Credential("alice", "wrong", None, "docker config"), Credential("bob", "pw", None, "pull secret ns/x")]
    reg.on(MANIFEST, error(401, **{"WWW-Authenticate": _bearer(reg)}))
    reg.on(r"^/token", by_request(lambda req: error(401) if req.authorization else token("anon")))
    with pytest.raises(Unauthorized) as exc:
        get(make(reg, creds))
    msg = str(exc.value)
    assert "docker config" in msg and "pull secret ns/x" in msg and "anonymous" in msg
    assert "wrong" not in msg and "pw" not in msg


def test_the_token_request_is_retried_as_any_other(reg: HostileRegistry) -> None:
    reg.on(MANIFEST, by_request(lambda req: ok() if req.authorization == "Bearer t1" else
                                error(401, **{"WWW-Authenticate": _bearer(reg)})))
    in_turn(reg, r"^/token", error(503), raw(b""), token("t1"))
    assert get(make(reg)).status == 200
    assert len(reg.seen(r"^/token")) == 3


def test_basic_challenge_uses_utf8_credentials(reg: HostileRegistry) -> None:
    creds = [Credential("ユーザー", "pässwörd✓", None, "docker config")]
    expected = "Basic " + base64.b64encode("ユーザー:pässwörd✓".encode()).decode()
    reg.on(MANIFEST, by_request(lambda req: ok() if req.authorization == expected else
                                error(401, **{"WWW-Authenticate": 'Basic realm="r"'})))
    assert get(make(reg, creds)).status == 200


def test_401_from_a_redirect_target_gets_no_credentials(reg: HostileRegistry, cdn: HostileRegistry) -> None:
    reg.on(MANIFEST, respond(307, b"", {"Location": f"http://{cdn.host}/x"}))
    cdn.on(r"/x", error(401, **{"WWW-Authenticate": 'Basic realm="evil"'}))
    with pytest.raises(Unauthorized):
        get(make(reg, [Credential("u", "p", None, "docker config")]))
    assert not any(r.authorization for r in reg.seen() + cdn.seen())


@pytest.mark.parametrize("challenge", ['Bearer realm="http://{host}/token",garbage', "Bearer realm="])
def test_malformed_challenge_is_unauthorized_not_a_crash(reg: HostileRegistry, challenge: str) -> None:
    reg.on(MANIFEST, error(401, **{"WWW-Authenticate": challenge.format(host=reg.host)}))
    reg.on(r"^/token", error(401))
    with pytest.raises(Unauthorized):
        get(make(reg))


def test_unknown_challenge_scheme_is_unauthorized_not_a_loop(reg: HostileRegistry) -> None:
    reg.on(MANIFEST, error(401, **{"WWW-Authenticate": "Negotiate"}))
    with pytest.raises(Unauthorized):
        get(make(reg))
    assert sent(reg, "") == 1

