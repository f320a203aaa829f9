"""Registry authentication: WWW-Authenticate challenges, Basic, and the Bearer token flow.

Tokens are kept in memory only, per registry and scope, and never logged or cached on disk.
Credentials go only to the registry itself and to the token realm it names; the token request
follows no redirect. ``Authenticate`` is the transport's outermost wrapper.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from ..errors import BadResponse, RegistryError, Unauthorized, Unreachable
from ..escape import clean, quote
from .exchange import Call, Reply, Send
from .gate import asked_too_long
from .net.body import MAX_TOKEN_BYTES
from .net.failure import PROXY_ADVICE, NetError, url_flaw
from .retry import WaitTooLong

if TYPE_CHECKING:
    from .credentials import Credential

__all__ = ["Challenge", "parse_challenge", "RegistryAuth", "Authenticate", "scope_for"]

_TOKEN_MIN_LIFETIME = 60  # the distribution spec's default when expires_in is absent
_TOKEN_MAX_LIFETIME = 24 * 3600  # a run never lasts longer; also bounds absurd values (1e999)
# A token goes into an HTTP header: visible ASCII only (RFC 6750 b64token is narrower still).
# CR/LF in a token would let a token service inject headers; such a token is refused, unprinted.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


def basic_header(username: str, password: str) -> str:
    """The Basic Authorization value, in UTF-8 as docker sends it (requests would use Latin-1)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def token_lifetime(expires_in: Any) -> float:
    """Seconds a token lives: expires_in when it is a sane number, else the spec's 60 s."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, (int, float)):
        return float(_TOKEN_MIN_LIFETIME)
    try:
        value = float(expires_in)
    except OverflowError:  # an integer beyond a float
        return float(_TOKEN_MAX_LIFETIME)
    if not math.isfinite(value):
        return float(_TOKEN_MAX_LIFETIME) if value > 0 else float(_TOKEN_MIN_LIFETIME)
    return min(max(value, float(_TOKEN_MIN_LIFETIME)), float(_TOKEN_MAX_LIFETIME))


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic", lowercased
    realm: Optional[str] = None
    service: Optional[str] = None


def parse_challenge(header: Optional[str]) -> Optional[Challenge]:
    if not header:
        return None
    # Deferred: urllib.request drags in http.client and email, ~70 ms a warm run does not need.
    from urllib.request import parse_http_list

    scheme, _, rest = header.strip().partition(" ")
    params: dict[str, str] = {}
    for item in parse_http_list(rest):
        # Not parse_keqv_list: it raises on an item without "=" or with an empty value, and the
        # header is the registry's text. Such an item names nothing: skipped.
        key, sep, value = item.partition("=")
        if sep:
            params[key.strip().lower()] = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    return Challenge(scheme.lower(), params.get("realm"), params.get("service"))


def scope_for(repository: str) -> str:
    return f"repository:{repository}:pull"


ANONYMOUS = "anonymous access"


@dataclass
class _Token:
    value: str
    expires_at: float
    source: str = ANONYMOUS  # the credential it was issued for (a label, never the secret)


class RegistryAuth:
    """What one registry needs to let us in; shared by the threads talking to that registry.

    Learns the registry's challenge on the first 401, then authenticates later requests up front
    (one round trip saved per repository). Credentials are tried in the order the store gives them,
    then anonymously; every attempt is remembered so a final 401 can say what was tried.

    Threads: a token is fetched once per scope however many threads want it at the same time
    (one lock per scope, the others wait and reuse it); a thread that sent nothing, or an older
    value, while another thread was authenticating simply retries with the current value.
    A refusal by the registry counts against the credential for that scope only (a user may
    pull one repository and not another); a refusal by the token service (bad password) or a
    refused Basic login counts for the whole registry.
    """

    def __init__(
        self,
        registry: str,
        candidates: Callable[[], Sequence[Credential]],
        describe: Callable[[], Sequence[str]],
        token_send: Send,
        timeout: float,
    ) -> None:
        self.registry = registry
        self._candidates = candidates
        self._describe = describe
        self._send = token_send  # net, read and retry, as the transport's own requests
        self._timeout = timeout
        self._lock = threading.Lock()
        self._scope_locks: dict[str, threading.Lock] = {}
        self._challenge: Optional[Challenge] = None
        self._tokens: dict[str, _Token] = {}
        self._basic: Optional[str] = None
        self._basic_source: Optional[str] = None
        self._bad: list[str] = []  # sources refused registry-wide, in the order they were tried
        self._denied: dict[str, set[str]] = {}  # scope -> labels whose token the registry refused
        self._tried: dict[str, list[str]] = {}  # scope -> labels tried, in order

    # -- used by the transport --------------------------------------------------------------------
    def header(self, scope: str, deadline: Optional[float] = None) -> Optional[str]:
        """The Authorization value to send up front, if the challenge is already known."""
        with self._lock:
            challenge = self._challenge
            if challenge is None:
                return None
            if challenge.scheme == "basic":
                return self._basic
            current = self._valid_token(scope)
            if current is not None:
                return current
        with self._scope_lock(scope):
            current = self._valid_token(scope)  # another thread may have fetched it meanwhile
            if current is not None:
                return current
            try:
                return self._obtain_bearer(challenge, scope, deadline)
            except RegistryError:
                # The challenge was another repository's: this one may need no token at all. Sent
                # without, a 401 fetches again and reports the token service's failure then.
                return None

    def on_unauthorized(self, www_authenticate: Optional[str], scope: str, sent: Optional[str],
                        deadline: Optional[float] = None) -> Optional[str]:
        """Called after a 401; returns a new Authorization value to retry with, or None to give up."""
        challenge = parse_challenge(www_authenticate)
        if challenge is None or challenge.scheme not in ("bearer", "basic"):
            return None
        with self._lock:
            self._challenge = challenge
        if challenge.scheme == "basic":
            return self._on_basic_refused(scope, sent)
        with self._scope_lock(scope):
            current = self._tokens.get(scope)
            if sent is not None and current is not None and f"Bearer {current.value}" == sent:
                # What we sent was refused for this scope: the next candidate gets its turn.
                self._denied.setdefault(scope, set()).add(current.source)
                del self._tokens[scope]
            else:
                value = self._valid_token(scope)
                if value is not None and value != sent:
                    return value  # another thread authenticated while our request was out
            value = self._obtain_bearer(challenge, scope, deadline)
        return value if value != sent else None

    def unauthorized_error(self, what: str, scope: Optional[str] = None) -> Unauthorized:
        with self._lock:
            labels = self._bad + (self._tried.get(scope, []) if scope else
                                  [t for ts in self._tried.values() for t in ts])
        tried = ", ".join(dict.fromkeys(labels)) or "anonymous access"
        if all(label == "anonymous access" for label in dict.fromkeys(labels)):
            # Nothing but anonymous: say where we looked, so the user knows what to fix.
            consulted = "; ".join(self._describe())
            if consulted:
                tried += f"; looked in: {consulted}"
        return Unauthorized(
            f"unauthorized: {self.registry} refused access to {what} (tried: {tried}); "
            f"log in with `docker login {self.registry}`, or pass --registry-config FILE or "
            "--pull-secret NAMESPACE:NAME"
        )

    # -- internals ----------------------------------------------------------------------------------
    def _scope_lock(self, scope: str) -> threading.Lock:
        with self._lock:
            return self._scope_locks.setdefault(scope, threading.Lock())

    def _valid_token(self, scope: str) -> Optional[str]:
        token = self._tokens.get(scope)
        if token and token.expires_at > time.monotonic():
            return f"Bearer {token.value}"
        return None

    def _note_tried(self, scope: str, label: str) -> None:
        with self._lock:
            self._tried.setdefault(scope, []).append(label)

    def _obtain_bearer(self, challenge: Challenge, scope: str, deadline: Optional[float] = None) -> Optional[str]:
        """Fetch a token with the first usable candidate; the caller holds the scope's lock."""
        denied = self._denied.get(scope, set())
        candidates: list[Optional[Credential]] = [
            c for c in self._candidates() if c.source not in self._bad and c.source not in denied]
        if ANONYMOUS not in denied:
            candidates.append(None)  # anonymous last: public repositories need no credentials
        for cred in candidates:
            label = cred.source if cred else ANONYMOUS
            self._note_tried(scope, label)
            token = self._fetch_token(challenge, scope, cred, deadline)
            if token is not None:
                token.source = label
                self._tokens[scope] = token
                return f"Bearer {token.value}"
            if cred is not None:
                with self._lock:
                    self._bad.append(cred.source)  # the token service refused it: a wrong password
        return None

    def _on_basic_refused(self, scope: str, sent: Optional[str]) -> Optional[str]:
        with self._lock:
            if sent is not None and sent == self._basic:
                if self._basic_source:
                    self._bad.append(self._basic_source)
                self._basic = self._basic_source = None
            elif self._basic is not None and self._basic != sent:
                return self._basic  # another thread logged in while our request was out
            for cred in self._candidates():
                if cred.source in self._bad or not cred.username or cred.password is None:
                    continue
                self._tried.setdefault(scope, []).append(cred.source)
                self._basic = basic_header(cred.username, cred.password)
                self._basic_source = cred.source
                return self._basic
            self._tried.setdefault(scope, []).append(ANONYMOUS)
            return None

    def _fetch_token(self, challenge: Challenge, scope: str, cred: Optional[Credential],
                     deadline: Optional[float] = None) -> Optional[_Token]:
        from urllib.parse import urlsplit

        realm = challenge.realm
        if not realm:
            return None
        flaw = url_flaw(realm)
        if flaw is not None:
            raise BadResponse(f"{self.registry} names a token service at an invalid URL, {quote(realm, 100)} ({flaw})")
        parts = urlsplit(realm)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadResponse(f"{self.registry} names a token service that is not an http(s) URL "
                              f"({clean(realm, 100)}); refusing to send credentials there")
        call = self._token_call(realm, challenge, scope, cred, deadline)
        where = call.where
        reply = self._token_reply(call)
        status = reply.status
        if status in (401, 403):
            return None
        if cred is not None and cred.identity_token and (400 <= status < 500 or status == 501):
            # OAuth2 answers 400 invalid_grant for an expired or revoked refresh token, and a token
            # service without the grant answers 404/405/501: the credential is refused, the service
            # is not down. Treating it as refused lets the next candidate (or anonymous) be tried
            # and the final 401 name this source, instead of a misleading "try again later".
            return None
        if status != 200:
            raise Unreachable(f"{where} answered HTTP {status}; try again later")
        return self._token_of(reply.body, where)

    def _token_call(self, realm: str, challenge: Challenge, scope: str, cred: Optional[Credential],
                    deadline: Optional[float]) -> Call:
        from urllib.parse import urlencode, urlsplit, urlunsplit

        params = {"scope": scope}
        if challenge.service:
            params["service"] = challenge.service
        headers: dict[str, str] = {}
        body: Optional[bytes] = None
        if cred is not None and cred.identity_token:
            # OAuth2 refresh-token grant, as docker does with an identity token.
            method, url = "POST", realm
            body = urlencode({**params, "grant_type": "refresh_token", "refresh_token": cred.identity_token,
                              "client_id": "kubectl-imagecache"}).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            parts = urlsplit(realm)  # the realm's own query kept, ours added
            method = "GET"
            url = urlunsplit(parts._replace(query="&".join(q for q in (parts.query, urlencode(params)) if q)))
            if cred and cred.username and cred.password is not None:
                headers["Authorization"] = basic_header(cred.username, cred.password)
        return Call(method, url, headers, "a token", f"the token service of {self.registry}",
                    deadline if deadline is not None else time.monotonic() + self._timeout, MAX_TOKEN_BYTES,
                    body=body)

    def _token_reply(self, call: Call) -> Reply:
        where = call.where
        try:
            return self._send(call)
        except NetError as exc:  # any failure of the HTTP stack is "cannot reach"
            advice = PROXY_ADVICE if exc.failure.kind == "proxy" else "check the network"
            raise Unreachable(f"cannot reach {where} ({exc.failure.detail}); {advice}") from None
        except WaitTooLong as exc:
            raise Unreachable(f"{where} answered HTTP {exc.reply.status} and {asked_too_long(exc.asked)}; "
                              "try again later") from None

    def _token_of(self, body: bytes, where: str) -> _Token:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            doc = None
        value = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(value, str) or not value:
            raise Unreachable(f"{where} returned no token")
        if not _TOKEN_CHARS.fullmatch(value):
            # Never printed: it is a secret, and it is what could forge headers.
            raise BadResponse(f"{where} returned a token with characters an HTTP header cannot carry "
                              "(control characters or spaces); refusing it")
        lifetime = token_lifetime(doc.get("expires_in")) if isinstance(doc, dict) else _TOKEN_MIN_LIFETIME
        # Renew a little early so a token never expires between check and use.
        return _Token(value, time.monotonic() + lifetime - 10)


class Authenticate:
    """The transport's outermost wrapper: sends the credentials ``auth`` knows for the call's scope,
    and on a 401 from the registry itself asks it for new ones (at most twice)."""

    def __init__(self, inner: Send, auth: RegistryAuth, at_home: Callable[[str], bool]) -> None:
        self._inner = inner
        self._auth = auth
        self._at_home = at_home

    def __call__(self, call: Call) -> Reply:
        authorization = self._auth.header(call.scope, call.deadline)
        for _attempt in range(3):  # first try, then at most two fresh credentials after 401s
            if authorization:
                call.headers["Authorization"] = authorization
            else:
                call.headers.pop("Authorization", None)
            reply = self._inner(call)
            # Only the registry itself may ask for credentials: a 401 from a redirect target gets none.
            if reply.status != 401 or not self._at_home(reply.url):
                return reply
            authorization = self._auth.on_unauthorized(reply.headers.get("WWW-Authenticate"), call.scope,
                                                       authorization, call.deadline)
            if authorization is None:
                return reply
        return reply
