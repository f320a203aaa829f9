"""One HTTP transport per registry: small wrappers around a session, like go-containerregistry's remote/transport.

From the outside in, each a Call -> Reply function wrapping the next:

    auth (auth.Authenticate: Bearer/Basic on 401)
    -> retry (retry.Retry: 408/429/5xx and resets, backoff, Retry-After, within the image's deadline)
    -> gate (gate.Gate: at most ``concurrency`` requests in flight, halved on each wave of 429s)
    -> scheme (scheme.Scheme: https, or http for an insecure registry without TLS)
    -> read (exchange.Read: the body within its limit)
    -> redirect (redirect.Redirects: followed by hand, credentials kept home)
    -> net (exchange.Net: one request on the session, failures named)

The token request goes through read, retry and net too. This module composes them and turns
what comes out (an answer's status, a NetError) into our error types and messages.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from ..errors import BadResponse, Forbidden, NotFound, RegistryError, Unreachable
from ..escape import clean
from .auth import Authenticate, RegistryAuth, scope_for
from .defaults import DEFAULT_CONCURRENCY
from .exchange import Call, Net, Read, Reply, Send
from .gate import Gate, asked_too_long, rate_limited
from .manifest import MAX_MANIFEST_BYTES
from .net import HTTPSession
from .net.body import MAX_ERROR_BYTES
from .net.failure import PROXY_ADVICE, Failure, NetError
from .redirect import Redirects
from .retry import RETRY_STATUSES, Retry, WaitTooLong
from .scheme import Scheme

__all__ = ["TransportOptions", "RegistryTransport", "is_loopback", "SessionFactory", "DEFAULT_CONCURRENCY", "Reply"]

SessionFactory = Callable[["TransportOptions", bool], HTTPSession]


@dataclass(frozen=True)
class TransportOptions:
    concurrency: int = DEFAULT_CONCURRENCY  # per registry
    timeout: float = 30.0  # for the whole image: every request, retry and wait it needs
    retries: int = 4
    backoff: float = 0.25
    retry_after_cap: int = 30
    insecure_hosts: frozenset[str] = field(default_factory=frozenset)
    # Invoked with (method, url) before each request leaves; --offline sets one that refuses.
    guard: Optional[Callable[[str, str], None]] = None
    # (options, verify_tls) -> a net.HTTPSession; None means net.session.new_session.
    session_factory: Optional[SessionFactory] = field(default=None, compare=False)

    def retry(self, inner: Send, throttle: Optional[Callable[[Call, float], None]] = None) -> Retry:
        return Retry(inner, self.retries, self.backoff, self.retry_after_cap, throttle)


def is_loopback(host: str) -> bool:
    """Docker treats registries on loopback as insecure (HTTP allowed) without configuration."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _trust_advice(registry: str) -> str:
    """How to make a certificate trusted, given which CA variables the session reads (session.ca_bundle)."""
    from .net.session import ca_bundle

    bundle = ca_bundle()
    if bundle is not None:
        name, path = bundle
        return (f"{name}={clean(path, 200)} is in use and replaces the default CAs, SSL_CERT_FILE and SSL_CERT_DIR: "
                f"add the registry's CA to it or unset {name}, or allow it with --insecure-registry {registry}")
    return (f"trust its CA with SSL_CERT_FILE=FILE (or REQUESTS_CA_BUNDLE=FILE), or allow it with --insecure-registry "
            f"{registry}")


def _error_code(reply: Reply) -> str:
    try:
        doc = json.loads(reply.body or b"{}")
        errors = doc.get("errors") or [] if isinstance(doc, dict) else []
        code = errors[0].get("code", "") if errors and isinstance(errors[0], dict) else ""
        return code if isinstance(code, str) else ""
    except (ValueError, AttributeError, TypeError, IndexError, RecursionError):
        return ""


class RegistryTransport:
    """Talks HTTP to one registry host; thread-safe; one keep-alive pool shared by all threads."""

    def __init__(
        self,
        registry: str,
        endpoint: str,
        opts: TransportOptions,
        auth_factory: Callable[[Send], RegistryAuth],
        scheme_hint: Optional[str] = None,
        remember_scheme: Callable[[str], None] = lambda scheme: None,
        session_factory: Optional[SessionFactory] = None,
    ) -> None:
        self.registry = registry
        self.endpoint = endpoint
        self.opts = opts
        self.insecure = endpoint in opts.insecure_hosts or registry in opts.insecure_hosts or is_loopback(endpoint)
        self._factory = session_factory or opts.session_factory
        self._lock = threading.Lock()
        self._session: Optional[HTTPSession] = None
        net = Net(self.session, opts.timeout, opts.guard)
        self._redirects = Redirects(net, endpoint)
        scheme = Scheme(Read(self._redirects), endpoint, scheme_hint if self.insecure else "https", remember_scheme)
        self.gate = Gate(scheme, opts.concurrency, registry)
        self._send = opts.retry(self.gate, self.gate.throttle)
        # The token service is asked through the same net, read and retry: its bodies have limits too.
        self.auth = auth_factory(opts.retry(Read(net)))
        self._authenticated = Authenticate(self._send, self.auth, self._redirects.at_home)

    def session(self) -> HTTPSession:
        with self._lock:
            if self._session is None:
                # Unverified TLS only for hosts the user marked insecure (or loopback), never others.
                if self._factory is None:
                    from .net.session import new_session

                    self._factory = new_session
                self._session = self._factory(self.opts, not self.insecure)
            return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    def deadline(self) -> float:
        """When an image started now must be done (--registry-timeout bounds the whole image)."""
        return time.monotonic() + self.opts.timeout

    # -- requests --------------------------------------------------------------------------------
    def request(
        self, method: str, repository: str, path: str, headers: Mapping[str, str], what: str, *,
        limit: int = MAX_MANIFEST_BYTES, deadline: Optional[float] = None, stream: bool = False,
    ) -> Reply:
        """Send method /v2/<repository>/<path>; returns a 2xx reply or raises a typed error.

        The body is read within ``limit``; with ``stream`` a 2xx reply's body is left unread in
        ``reply.raw`` (a net.HTTPResponse the caller must close).
        """
        call = Call(method, f"/v2/{repository}/{path}", dict(headers), what, self.registry,
                    deadline if deadline is not None else self.deadline(), limit, stream, scope=scope_for(repository))
        reply = self._exchange(self._authenticated, call)
        if reply.status == 404 and method == "GET" and _error_code(reply) != "NAME_UNKNOWN":
            # Distribution (and most registries) answer MANIFEST_UNKNOWN for a missing repository
            # as for a missing tag; only the tag list tells them apart. Costs a request on failure only.
            return self._check(reply, repository, what, repository_missing=self._repository_missing(
                repository, call))
        return self._check(reply, repository, what)

    def _exchange(self, send: Send, call: Call) -> Reply:
        try:
            return send(call)
        except NetError as exc:
            raise self._net_error(exc.failure, call.what, exc.retried) from None
        except WaitTooLong as exc:
            raise self._gave_up(exc.reply.status, call.what, f" and {asked_too_long(exc.asked)}") from None

    def _repository_missing(self, repository: str, call: Call) -> bool:
        authorization = call.headers.get("Authorization")
        tags = Call("GET", f"/v2/{repository}/tags/list?n=1", {"Authorization": authorization} if authorization else {},
                    f"tags of {repository}", self.registry, call.deadline, MAX_ERROR_BYTES)
        try:
            reply = self._exchange(self._send, tags)
        except RegistryError:
            return False  # cannot tell: keep the tag-or-digest message
        return reply.status == 404 and _error_code(reply) == "NAME_UNKNOWN"

    def _net_error(self, failure: Failure, what: str, was_retried: bool) -> RegistryError:
        retried = ", retried" if was_retried else ""
        where = f"{self.registry} ({self.endpoint})" if self.registry != self.endpoint else self.registry
        if failure.host:
            where = f"{clean(failure.host, 100)} (where {self.registry} redirected the request)"
        if failure.kind == "tls":
            return Unreachable(f"TLS failed for {clean(failure.host, 100) or self.endpoint} while fetching {what} "
                               f"({failure.detail}); {_trust_advice(self.registry)}")
        if failure.kind == "proxy":
            return Unreachable(f"cannot reach {where} while fetching {what}: {failure.detail}; {PROXY_ADVICE}")
        if failure.kind in ("timeout", "read-timeout", "connect-timeout"):
            who = where if failure.host else self.registry
            return Unreachable(f"{who} did not answer in time while fetching {what} (timeout {self.opts.timeout:g}s "
                               f"for the whole image{retried}); check the network or raise --registry-timeout")
        if failure.kind == "refused":
            return Unreachable(f"cannot connect to {where} while fetching {what}: connection refused; check the "
                               "host and port, and that the registry is running")
        if failure.kind == "dns":
            check = "DNS" if failure.host else "the image's registry name and DNS"
            return Unreachable(f"cannot connect to {where}: its name could not be resolved; check {check}")
        if failure.kind == "reset":
            return Unreachable(f"{where} closed the connection while fetching {what} ({failure.detail}{retried}); "
                               "try again later")
        if failure.kind in ("redirects", "scheme", "url", "header"):
            return BadResponse(f"{self.registry} sent a broken answer for {what}: {failure.detail}")
        return Unreachable(f"cannot connect to {where} while fetching {what} ({failure.detail}); check the name "
                           "and the network")

    def _gave_up(self, status: int, what: str, why: str) -> RegistryError:
        """A registry that kept failing or limiting: 429 is a rate limit, the others its failure."""
        if status == 429:
            return rate_limited(self.registry, f" for {what}{why}")
        return Unreachable(f"{self.registry} failed with HTTP {status} for {what}{why}; try again later")

    def _check(self, reply: Reply, repository: str, what: str, repository_missing: bool = False) -> Reply:
        status = reply.status
        if 200 <= status < 300:
            return reply
        if status == 401:
            raise self.auth.unauthorized_error(what, scope_for(repository))
        if status == 403:
            raise Forbidden(f"forbidden: {self.registry} denies pulling {what} with the credentials tried; "
                            "use credentials that may pull it (--registry-config or --pull-secret)")
        if status == 404:
            code = _error_code(reply)
            if code == "NAME_UNKNOWN" or repository_missing:
                raise NotFound(f"repository {self.registry}/{repository} not found; check the image name")
            raise NotFound(f"{what} not found in repository {self.registry}/{repository}; check the tag or digest")
        if status == 407:
            raise Unreachable(f"a proxy on the way to {self.registry} requires authentication (HTTP 407) for {what}; "
                              f"put its credentials in the proxy URL (http://USER:PASSWORD@HOST:PORT), or "
                              f"{PROXY_ADVICE}")
        if status == 429 or status >= 500 or status == 408:
            raise self._gave_up(status, what, ", still after retries" if status in RETRY_STATUSES else "")
        if 300 <= status < 400:
            raise BadResponse(f"{self.registry} answered HTTP {status} for {what} without a usable Location")
        raise RegistryError(f"{self.registry} answered HTTP {status} for {what}")
