"""Registry authentication: WWW-Authenticate challenges, Basic, and the Bearer token flow.

Tokens are kept in memory only, per registry and scope, and never logged or cached on disk.
Credentials go only to the registry itself and to the token realm it names; requests drops the
Authorization header on any redirect to another host.
"""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional, Sequence
from urllib.request import parse_http_list, parse_keqv_list

from .errors import Unauthorized, Unreachable

if TYPE_CHECKING:
    import requests

    from .credentials import Credential

__all__ = ["Challenge", "parse_challenge", "RegistryAuth", "scope_for"]

_TOKEN_MIN_LIFETIME = 60  # the distribution spec's default when expires_in is absent


@dataclass(frozen=True)
class Challenge:
    scheme: str  # "bearer" or "basic", lowercased
    realm: Optional[str] = None
    service: Optional[str] = None


def parse_challenge(header: Optional[str]) -> Optional[Challenge]:
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    params = {k.lower(): v for k, v in parse_keqv_list(parse_http_list(rest)).items()} if rest else {}
    return Challenge(scheme.lower(), params.get("realm"), params.get("service"))


def scope_for(repository: str) -> str:
    return f"repository:{repository}:pull"


@dataclass
class _Token:
    value: str
    expires_at: float


class RegistryAuth:
    """What one registry needs to let us in; shared by the threads talking to that registry.

    Learns the registry's challenge on the first 401, then authenticates later requests up front
    (one round trip saved per repository). Credentials are tried in the order the store gives them,
    then anonymously; every attempt is remembered so a final 401 can say what was tried.
    """

    def __init__(
        self,
        registry: str,
        candidates: Callable[[], Sequence[Credential]],
        describe: Callable[[], Sequence[str]],
        token_session: Callable[[], requests.Session],
        timeout: float,
    ) -> None:
        self.registry = registry
        self._candidates = candidates
        self._describe = describe
        self._session = token_session
        self._timeout = timeout
        self._lock = threading.Lock()
        self._challenge: Optional[Challenge] = None
        self._tokens: dict[str, _Token] = {}
        self._basic: Optional[str] = None
        self._refused: set[str] = set()  # sources whose credentials were refused
        self.tried: list[str] = []

    # -- used by the transport --------------------------------------------------------------------
    def header(self, scope: str) -> Optional[str]:
        """The Authorization value to send up front, if the challenge is already known."""
        with self._lock:
            if self._challenge is None:
                return None
            if self._challenge.scheme == "basic":
                return self._basic
            token = self._tokens.get(scope)
            if token and token.expires_at > time.monotonic():
                return f"Bearer {token.value}"
        return self._obtain(scope)

    def on_unauthorized(self, www_authenticate: Optional[str], scope: str, sent: Optional[str]) -> Optional[str]:
        """Called after a 401; returns a new Authorization value to retry with, or None to give up."""
        challenge = parse_challenge(www_authenticate)
        if challenge is None or challenge.scheme not in ("bearer", "basic"):
            return None
        with self._lock:
            first = self._challenge is None
            self._challenge = challenge
            if sent is not None:
                # What we sent was refused: forget it so the next candidate gets its turn.
                self._tokens.pop(scope, None)
                if challenge.scheme == "basic":
                    self._basic = None
            if not first and sent is None and challenge.scheme == "bearer" and scope in self._tokens:
                return None
        value = self._obtain(scope, after_refusal=sent is not None)
        return value if value != sent else None

    def unauthorized_error(self, what: str) -> Unauthorized:
        tried = ", ".join(dict.fromkeys(self.tried)) or "anonymous access"
        return Unauthorized(
            f"unauthorized: {self.registry} refused access to {what} (tried: {tried}); "
            f"log in with `docker login {self.registry}`, or pass --registry-config FILE or "
            "--pull-secret NAMESPACE:NAME"
        )

    # -- internals ----------------------------------------------------------------------------------
    def _next_candidates(self, after_refusal: bool) -> list[Optional[Credential]]:
        creds: list[Optional[Credential]] = [c for c in self._candidates() if c.source not in self._refused]
        return creds + [None]  # anonymous last: public repositories need no credentials

    def _obtain(self, scope: str, after_refusal: bool = False) -> Optional[str]:
        challenge = self._challenge
        assert challenge is not None
        if challenge.scheme == "basic":
            return self._basic_header(after_refusal)
        for cred in self._next_candidates(after_refusal):
            label = cred.source if cred else "anonymous access"
            self.tried.append(label)
            token = self._fetch_token(challenge, scope, cred)
            if token is not None:
                with self._lock:
                    self._tokens[scope] = token
                return f"Bearer {token.value}"
            if cred is not None:
                self._refused.add(cred.source)
        return None

    def _basic_header(self, after_refusal: bool) -> Optional[str]:
        with self._lock:
            if after_refusal and self._basic_source:
                self._refused.add(self._basic_source)
            for cred in self._candidates():
                if cred.source in self._refused or not cred.username or cred.password is None:
                    continue
                self.tried.append(cred.source)
                raw = f"{cred.username}:{cred.password}".encode()
                self._basic = "Basic " + base64.b64encode(raw).decode()
                self._basic_source = cred.source
                return self._basic
            self.tried.append("anonymous access")
            self._basic_source = None
            return None

    _basic_source: Optional[str] = None

    def _fetch_token(self, challenge: Challenge, scope: str, cred: Optional[Credential]) -> Optional[_Token]:
        import requests

        if not challenge.realm:
            return None
        params = {"scope": scope}
        if challenge.service:
            params["service"] = challenge.service
        session = self._session()
        try:
            if cred is not None and cred.identity_token:
                # OAuth2 refresh-token grant, as docker does with an identity token.
                resp = session.post(
                    challenge.realm,
                    data={**params, "grant_type": "refresh_token", "refresh_token": cred.identity_token,
                          "client_id": "kubectl-imagecache"},
                    timeout=self._timeout,
                    allow_redirects=False,
                )
            else:
                auth = (cred.username, cred.password) if cred and cred.username and cred.password is not None else None
                resp = session.get(challenge.realm, params=params, auth=auth, timeout=self._timeout,
                                   allow_redirects=False)
        except requests.RequestException as exc:
            raise Unreachable(
                f"cannot reach the token service of {self.registry} ({exc.__class__.__name__}); check the network"
            ) from None
        if resp.status_code in (401, 403):
            return None
        if resp.status_code != 200:
            raise Unreachable(f"token service of {self.registry} answered HTTP {resp.status_code}; try again later")
        try:
            doc = resp.json()
            value = doc.get("token") or doc.get("access_token")
            lifetime = max(int(doc.get("expires_in") or _TOKEN_MIN_LIFETIME), _TOKEN_MIN_LIFETIME)
        except (ValueError, AttributeError, TypeError):
            value = None
        if not isinstance(value, str) or not value:
            raise Unreachable(f"token service of {self.registry} returned no token")
        # Renew a little early so a token never expires between check and use.
        return _Token(value, time.monotonic() + lifetime - 10)
