"""RegistryAuth's token flow against a scripted token service on loopback (tests/fakes/hostile.py),
through the product's own session, read and retry: what a token service may answer, and what we do.

The registry-tier tests (tests/registry/test_auth.py) run the same flows against the real
distribution registry and a real token server.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Iterator, Optional
from urllib.parse import parse_qsl

import pytest

from kubectl_imagecache.errors import BadResponse, ResponseTooLarge, Unreachable
from kubectl_imagecache.registry.auth import RegistryAuth, parse_challenge, token_lifetime
from kubectl_imagecache.registry.credentials import Credential
from kubectl_imagecache.registry.exchange import Net, Read
from kubectl_imagecache.registry.net.session import Session
from kubectl_imagecache.registry.retry import Retry
from tests.fakes.hostile import HostileRegistry, endless, http, respond
from tests.support.scripted import by_request, error, in_turn

TOKEN = r"^/token"
SCOPE = "repository:app:pull"


@pytest.fixture
def s() -> Iterator[HostileRegistry]:
    """The token service (its realm is /token)."""
    with HostileRegistry() as r:
        yield r


def challenge(s: HostileRegistry) -> str:
    return f'Bearer realm="http://{s.host}/token",service="reg"'


def auth(s: HostileRegistry, creds: Optional[list[Credential]] = None) -> RegistryAuth:
    session = Session(4, verify=False)
    send = Retry(Read(Net(lambda: session, 5.0)), retries=1, backoff=0.0, retry_after_cap=1)
    return RegistryAuth("registry.example.com", lambda: creds or [], lambda: [], send, 5.0)


def token_reply(doc: Any, raw: Optional[bytes] = None) -> Any:
    return respond(200, raw if raw is not None else json.dumps(doc).encode(), {"Content-Type": "application/json"})


def first_token(s: HostileRegistry, creds: Optional[list[Credential]] = None) -> Optional[str]:
    return auth(s, creds).on_unauthorized(challenge(s), SCOPE, None)


def query(s: HostileRegistry, i: int = 0) -> dict[str, str]:
    return dict(parse_qsl(s.seen(TOKEN)[i].target.split("?", 1)[1]))


def test_anonymous_token(s: HostileRegistry) -> None:
    s.on(TOKEN, token_reply({"token": "abc.def"}))
    assert first_token(s) == "Bearer abc.def"
    assert query(s) == {"scope": SCOPE, "service": "reg"}
    assert s.seen(TOKEN)[0].authorization is None


def test_access_token_field_too(s: HostileRegistry) -> None:
    s.on(TOKEN, token_reply({"access_token": "xyz"}))
    assert first_token(s) == "Bearer xyz"


@pytest.mark.parametrize("token", ["abc\r\nX-Injected: 1", "abc\n", "a b", "tab\there", "nul\x00", "é"])
def test_tokens_an_http_header_cannot_carry_are_refused_unprinted(s: HostileRegistry, token: str) -> None:
    s.on(TOKEN, token_reply({"token": token}))
    with pytest.raises(BadResponse) as exc:
        first_token(s)
    assert token not in exc.value.message and "refusing" in exc.value.message
    assert "\n" not in exc.value.message


@pytest.mark.parametrize("expires_in, lifetime", [
    (300, 300), (3.5, 60), (0, 60), (-5, 60), (None, 60), ("300", 60), (True, 60),
    (float("inf"), 86400), (10 ** 400, 86400), (1e308, 86400), (10 ** 9, 86400),
])
def test_token_lifetime_is_sane_whatever_expires_in_says(expires_in: Any, lifetime: float) -> None:
    assert token_lifetime(expires_in) == lifetime


@pytest.mark.parametrize("raw", [b'{"token":"t","expires_in":1e999}', b'{"token":"t","expires_in":-1e999}',
                                 b'{"token":"t","expires_in":' + b"9" * 4000 + b"}"])
def test_absurd_expires_in_from_the_wire(s: HostileRegistry, raw: bytes) -> None:
    s.on(TOKEN, token_reply(None, raw))
    assert first_token(s) == "Bearer t"


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'"token"', b"[" * 100000, b'{"token": 5}', b"{}",
                                 b'{"token":""}', b'{"token":"\\ud800"}'])
def test_unusable_token_answers_are_typed_errors(s: HostileRegistry, raw: bytes) -> None:
    s.on(TOKEN, token_reply(None, raw))
    with pytest.raises((Unreachable, BadResponse)):
        first_token(s)


def test_token_body_is_bounded(s: HostileRegistry) -> None:
    s.on(TOKEN, endless(http(200, b"", content_length=False)))
    with pytest.raises(ResponseTooLarge, match="1048576"):
        first_token(s)


@pytest.mark.parametrize("realm", ["file:///etc/passwd", "ftp://x/token", "/relative", "javascript:alert(1)"])
def test_realm_must_be_http(s: HostileRegistry, realm: str) -> None:
    with pytest.raises(BadResponse, match="not an http"):
        auth(s, [Credential("u", "p", None, "docker config")]).on_unauthorized(
            f'Bearer realm="{realm}"', SCOPE, None)


@pytest.mark.parametrize("realm, flaw", [("http://[evil/token", "Invalid IPv6 URL"),
                                         ("https://auth.example.com:99999/token", "Port out of range"),
                                         ("https://a b/token", "invalid character")])
def test_realm_that_cannot_be_requested_is_a_broken_answer(s: HostileRegistry, realm: str, flaw: str) -> None:
    with pytest.raises(BadResponse, match="token service at an invalid URL") as exc:
        auth(s, [Credential("u", "p", None, "docker config")]).on_unauthorized(f'Bearer realm="{realm}"', SCOPE, None)
    assert flaw in exc.value.message


def test_non_latin1_password_in_the_token_flow_is_sent_as_utf8(s: HostileRegistry) -> None:
    creds = [Credential("用户", "пароль✓", None, "docker config")]
    s.on(TOKEN, token_reply({"token": "t"}))
    assert first_token(s, creds) == "Bearer t"
    expected = "Basic " + base64.b64encode("用户:пароль✓".encode()).decode()
    assert s.seen(TOKEN)[0].authorization == expected


def test_identity_token_uses_the_refresh_grant_and_a_refusal_falls_through(s: HostileRegistry) -> None:
    creds = [Credential(None, None, "refresh-me", "docker config (identitytoken)")]
    s.on(TOKEN, respond(400, b'{"error":"invalid_grant"}'), method="POST")
    s.on(TOKEN, token_reply({"token": "anon"}), method="GET")
    assert first_token(s, creds) == "Bearer anon"
    post = s.seen(TOKEN)[0]
    form = dict(parse_qsl(post.body.decode()))
    assert post.method == "POST" and post.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form["grant_type"] == "refresh_token" and form["refresh_token"] == "refresh-me"


def test_token_service_down_is_unreachable_after_retries(s: HostileRegistry) -> None:
    s.on(TOKEN, respond(503, b"x" * 1000))
    with pytest.raises(Unreachable, match="HTTP 503"):
        first_token(s)
    assert len(s.seen(TOKEN)) == 2  # retried as the registry's own requests are


def test_token_service_closing_the_connection_is_retried(s: HostileRegistry) -> None:
    in_turn(s, TOKEN, respond(502), token_reply({"token": "t"}))
    assert first_token(s) == "Bearer t"


def test_token_service_connection_failure_is_named(s: HostileRegistry) -> None:
    a = auth(s)
    c = challenge(s)
    s.stop()
    with pytest.raises(Unreachable, match="connection refused"):
        a.on_unauthorized(c, SCOPE, None)


def test_wrong_password_then_the_next_credential(s: HostileRegistry) -> None:
    creds = [Credential("a", "bad", None, "docker config"), Credential("b", "good", None, "pull secret ns/s")]
    good = "Basic " + base64.b64encode(b"b:good").decode()
    s.on(TOKEN, by_request(lambda req: token_reply({"token": "tb"}) if req.authorization == good else error(401)))
    a = auth(s, creds)
    assert a.on_unauthorized(challenge(s), SCOPE, None) == "Bearer tb"
    # The registry refuses tb for this scope: b is denied there, anonymous is next.
    s.on(TOKEN, by_request(lambda req: token_reply({"token": "anon"}) if req.authorization is None else error(401)))
    assert a.on_unauthorized(challenge(s), SCOPE, "Bearer tb") == "Bearer anon"
    assert a.on_unauthorized(challenge(s), SCOPE, "Bearer anon") is None
    msg = a.unauthorized_error("tag 1", SCOPE).message
    assert "docker config" in msg and "pull secret ns/s" in msg and "bad" not in msg and "good" not in msg


def test_header_up_front_once_the_challenge_is_known(s: HostileRegistry) -> None:
    s.on(TOKEN, token_reply({"token": "t1", "expires_in": 300}))
    a = auth(s)
    assert a.header(SCOPE) is None  # nothing known yet: the first request goes without
    a.on_unauthorized(challenge(s), SCOPE, None)
    assert a.header(SCOPE) == "Bearer t1"
    assert a.header("repository:other:pull") == "Bearer t1"  # a new scope fetches its own token
    assert len(s.seen(TOKEN)) == 2


def test_a_token_service_failing_up_front_sends_the_request_without_a_token(s: HostileRegistry) -> None:
    # Another repository's challenge is reused before this one's first request: it may need no token.
    in_turn(s, TOKEN, token_reply({"token": "t1"}), respond(500))
    a = auth(s)
    assert a.on_unauthorized(challenge(s), SCOPE, None) == "Bearer t1"
    assert a.header("repository:public:pull") is None
    # The registry challenges that repository too: now the token service's failure is the answer.
    with pytest.raises(Unreachable, match="HTTP 500"):
        a.on_unauthorized(challenge(s), "repository:public:pull", None)


@pytest.mark.parametrize("header", ['Bearer realm="https://a/t",garbage', "Bearer garbage", "Bearer ,", "Bearer =",
                                    'Bearer realm=,service="s"', 'Bearer "quoted"', "Bearer realm"])
def test_a_malformed_challenge_is_parsed_never_raised(header: str) -> None:
    c = parse_challenge(header)
    assert c is not None and c.scheme == "bearer" and c.realm in (None, "", "https://a/t")


@pytest.mark.parametrize("header, scheme, realm", [
    ('Bearer realm="https://a/t",service="s"', "bearer", "https://a/t"),
    ('bearer REALM="https://a/t"', "bearer", "https://a/t"),
    ('Basic realm="x"', "basic", "x"),
    ("Negotiate", "negotiate", None),
    ('Bearer realm="unterminated', "bearer", None),
])
def test_parse_challenge(header: str, scheme: str, realm: Optional[str]) -> None:
    c = parse_challenge(header)
    assert c is not None and c.scheme == scheme
    if realm is not None:
        assert c.realm == realm
