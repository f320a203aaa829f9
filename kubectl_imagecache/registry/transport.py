"""One HTTP transport per registry, layered like go-containerregistry's remote/transport.

A session from the session factory (session.Session by default: urllib3 keep-alive pools, the
proxy and CA environment variables) -> our own retry loop (408/429/502/503/504 and connection
resets, with backoff, Retry-After honoured up to a cap, all within the image's deadline) -> a per-registry
gate (at most ``concurrency`` requests in flight, halved on each wave of 429s) -> RegistryAuth
(Bearer/Basic on 401) -> error mapping into our exception types.

Redirects are followed here, not by the session: so a redirect's body is never read, a loop or a
scheme other than http(s) is refused, and credentials never leave the registry's own host.
Every body is read within its bound (httpio.read_body). The seam for unit tests is
``session_factory``: anything with session.Session's ``request()`` will do.
"""

from __future__ import annotations

import ipaddress
import json
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Optional
from urllib.parse import urljoin, urlsplit

from ..errors import BadResponse, Forbidden, NotFound, RegistryError, Unreachable
from ..escape import clean, quote
from .auth import RegistryAuth, scope_for
from .defaults import DEFAULT_CONCURRENCY
from .httpio import (
    MAX_ERROR_BYTES,
    PROXY_ADVICE,
    BrokenBody,
    Failure,
    Reply,
    classify,
    deadline_scope,
    parse_retry_after,
    read_body,
    remaining,
    url_flaw,
)
from .manifest import MAX_MANIFEST_BYTES
from .session import ca_bundle, new_session

__all__ = ["TransportOptions", "RegistryTransport", "is_loopback", "new_session", "SessionFactory",
           "DEFAULT_CONCURRENCY", "Reply"]

RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
_BACKOFF_MAX = 10.0

SessionFactory = Callable[["TransportOptions", bool], Any]


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
    # (options, verify_tls) -> an object with session.Session's request(); None means new_session.
    session_factory: Optional[SessionFactory] = field(default=None, compare=False)


def is_loopback(host: str) -> bool:
    """Docker treats registries on loopback as insecure (HTTP allowed) without configuration."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _rate_limited(registry: str, detail: str) -> RegistryError:
    return RegistryError(f"{registry} is rate limiting requests (HTTP 429){detail}; wait and retry, or log in for a "
                         "higher limit")


def _asked_too_long(seconds: float) -> str:
    return f"asked to wait {seconds:.0f}s, more than the time left (--registry-timeout)"


def _trust_advice(registry: str) -> str:
    """How to make a certificate trusted, given which CA variables the session reads (session.ca_bundle)."""
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


class _Gate:
    """At most ``limit`` requests in flight to one registry; 429s halve it and may pause everyone.

    A wave of 429s (many threads refused at once) halves the limit once, not once per thread:
    only a request sent under the current limit may lower it.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._in_flight = 0
        self._generation = 0
        self._pause_until = 0.0
        self._cond = threading.Condition()

    def acquire(self, deadline: Optional[float], registry: str) -> int:
        with self._cond:
            while True:
                now = time.monotonic()
                if self._pause_until <= now and self._in_flight < self.limit:
                    self._in_flight += 1
                    return self._generation
                left = remaining(deadline)
                if self._pause_until > now and left is not None and self._pause_until - now >= left:
                    raise _rate_limited(registry, f" and {_asked_too_long(self._pause_until - now)}")
                if left is not None and left <= 0:
                    raise Unreachable(f"{registry} did not answer in time (all connections busy); raise "
                                      "--registry-timeout")
                waits = [w for w in (self._pause_until - now if self._pause_until > now else None, left, 1.0)
                         if w is not None]
                self._cond.wait(max(0.01, min(waits)))

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def throttle(self, generation: int, pause: Optional[float]) -> None:
        with self._cond:
            if generation == self._generation:
                self.limit = max(1, self.limit // 2)
                self._generation += 1
            if pause:
                self._pause_until = max(self._pause_until, time.monotonic() + pause)
            self._cond.notify_all()


class _NetError(Exception):
    """A request that got no HTTP answer; ``failure`` says why."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


def _redirect_target(url: str, location: str) -> str:
    """The absolute URL a redirect from ``url`` names; _NetError when it is not one to follow."""
    try:
        target = urljoin(url, location)
    except ValueError:  # urlsplit cannot split it (an unbalanced [): url_flaw says why
        target = location
    flaw = url_flaw(target)
    if flaw is not None:
        raise _NetError(Failure("url", f"redirected to an invalid URL, {quote(location, 100)} ({flaw})"))
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise _NetError(Failure("scheme", f"redirected to a {clean(parts.scheme or 'relative', 20)}: URL, "
                                          "only http and https are followed"))
    return target


class RegistryTransport:
    """Talks HTTP to one registry host; thread-safe; one keep-alive pool shared by all threads."""

    def __init__(
        self,
        registry: str,
        endpoint: str,
        opts: TransportOptions,
        auth_factory: Callable[[Callable[[], Any]], RegistryAuth],
        scheme_hint: Optional[str] = None,
        remember_scheme: Callable[[str], None] = lambda scheme: None,
        session_factory: Optional[SessionFactory] = None,
    ) -> None:
        self.registry = registry
        self.endpoint = endpoint
        self.opts = opts
        self.insecure = endpoint in opts.insecure_hosts or registry in opts.insecure_hosts or is_loopback(endpoint)
        self._scheme = scheme_hint if self.insecure else "https"
        self._scheme_known = self._scheme is not None  # False while "http" is only a guess from a TLS refusal
        self._remember_scheme = remember_scheme
        self._factory: SessionFactory = session_factory or opts.session_factory or new_session
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._session: Any = None
        self.gate = _Gate(opts.concurrency)
        self.auth = auth_factory(self.session)

    def session(self) -> Any:
        with self._lock:
            if self._session is None:
                # Unverified TLS only for hosts the user marked insecure (or loopback), never others.
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
        ``reply.raw`` (a requests.Response the caller must close).
        """
        deadline = deadline if deadline is not None else self.deadline()
        scope = scope_for(repository)
        hdrs = dict(headers)
        authorization = self.auth.header(scope, deadline)
        for _attempt in range(3):  # first try, then at most two fresh credentials after 401s
            if authorization:
                hdrs["Authorization"] = authorization
            else:
                hdrs.pop("Authorization", None)
            reply = self._exchange(method, f"/v2/{repository}/{path}", hdrs, what, limit, deadline, stream)
            if reply.status != 401:
                break
            # Only the registry itself may ask for credentials: a 401 from a redirect target gets none.
            if not self._same_host(reply.url):
                break
            authorization = self.auth.on_unauthorized(reply.headers.get("WWW-Authenticate"), scope, authorization,
                                                      deadline)
            if authorization is None:
                break
        if reply.status == 404 and method == "GET" and _error_code(reply) != "NAME_UNKNOWN":
            # Distribution (and most registries) answer MANIFEST_UNKNOWN for a missing repository
            # as for a missing tag; only the tag list tells them apart. Costs a request on failure only.
            return self._check(reply, repository, what, repository_missing=self._repository_missing(
                repository, hdrs.get("Authorization"), deadline))
        return self._check(reply, repository, what)

    def _repository_missing(self, repository: str, authorization: Optional[str], deadline: float) -> bool:
        hdrs = {"Authorization": authorization} if authorization else {}
        try:
            reply = self._exchange("GET", f"/v2/{repository}/tags/list?n=1", hdrs, f"tags of {repository}",
                                   MAX_ERROR_BYTES, deadline, False)
        except RegistryError:
            return False  # cannot tell: keep the tag-or-digest message
        return reply.status == 404 and _error_code(reply) == "NAME_UNKNOWN"

    def _same_host(self, url: str) -> bool:
        return urlsplit(url).netloc == self.endpoint

    def _exchange(self, method: str, path: str, headers: Mapping[str, str], what: str, limit: int,
                  deadline: float, stream: bool) -> Reply:
        """One request with retries: transient failures and retried statuses, within the deadline."""
        attempt = 0
        while True:
            generation = self.gate.acquire(deadline, self.registry)
            reply: Optional[Reply] = None
            failure: Optional[Failure] = None
            broken: Optional[BrokenBody] = None
            try:
                reply = self._send(method, path, headers, what, limit, deadline, stream)
            except _NetError as exc:
                failure = exc.failure
            except BrokenBody as exc:  # cut short mid-body: a reset is worth another try
                if not exc.failure.transient:
                    raise
                failure, broken = exc.failure, exc
            finally:
                self.gate.release()
            if reply is not None and reply.status not in RETRY_STATUSES:
                return reply
            if failure is not None and not failure.transient:
                raise self._net_error(failure, what, attempt)
            wait = min(self.opts.backoff * (2 ** attempt), _BACKOFF_MAX)
            asked: Optional[float] = None
            if reply is not None:
                asked = parse_retry_after(reply.headers.get("Retry-After"))
                if asked is not None:
                    wait = min(asked, float(self.opts.retry_after_cap))
                if reply.status == 429:
                    self.gate.throttle(generation, wait)
            left = remaining(deadline)
            no_time = left is not None and wait >= left
            if attempt >= self.opts.retries or no_time:
                if no_time and reply is not None and asked is not None:
                    raise self._gave_up(reply.status, what, f" and {_asked_too_long(asked)}")  # no retry fits
                if reply is not None:
                    return reply
                if broken is not None:
                    raise broken
                assert failure is not None
                raise self._net_error(failure, what, attempt)
            time.sleep(wait)
            attempt += 1

    def _send(self, method: str, path: str, headers: Mapping[str, str], what: str, limit: int,
              deadline: float, stream: bool) -> Reply:
        if self._scheme is None:
            # One thread finds the scheme while the others wait: eight threads probing TLS on a
            # plain-HTTP port at once cost three times the whole cold run. The wait ends as soon
            # as TLS is refused, not when this thread's answer comes: a stalled image must not
            # hold up the others.
            with self._probe_lock:
                if self._scheme is None:
                    try:
                        return self._send_over("https", method, path, headers, what, limit, deadline, stream)
                    except _NetError as exc:
                        if exc.failure.kind == "tls":
                            self._scheme = "http"  # remembered on disk once an answer proves it
                        elif exc.failure.kind in ("reset", "other"):
                            return self._send_over("http", method, path, headers, what, limit, deadline, stream)
                        else:
                            raise
        assert self._scheme is not None
        return self._send_over(self._scheme, method, path, headers, what, limit, deadline, stream)

    def _send_over(self, scheme: str, method: str, path: str, headers: Mapping[str, str], what: str, limit: int,
                   deadline: float, stream: bool) -> Reply:
        resp = self._follow(method, f"{scheme}://{self.endpoint}{path}", dict(headers), deadline)
        if self._scheme is None or not self._scheme_known:
            self._scheme = scheme
            self._scheme_known = True
            self._remember_scheme(scheme)
        status = int(resp.status_code)
        if stream and 200 <= status < 300:
            return Reply(status, resp.headers, b"", str(resp.url), raw=resp)
        if 200 <= status < 300:
            body = read_body(resp, limit, what, self.registry, deadline)
        else:  # the status is the answer: the first MAX_ERROR_BYTES of the body are plenty for its message
            body = read_body(resp, MAX_ERROR_BYTES, f"the answer for {what}", self.registry, deadline, truncate=True)
        return Reply(status, resp.headers, body, str(resp.url))

    def _follow(self, method: str, url: str, headers: dict[str, str], deadline: float) -> Any:
        """Send and follow redirects by hand: never read a redirect's body, never leak credentials."""
        for _hop in range(MAX_REDIRECTS + 1):
            if self.opts.guard:
                self.opts.guard(method, url)
            left = remaining(deadline, 0.05)
            timeout = min(self.opts.timeout, left if left is not None else self.opts.timeout)
            try:
                with deadline_scope(deadline):
                    resp = self.session().request(method, url, headers=headers, timeout=(timeout, timeout),
                                                  allow_redirects=False, stream=True)
            except Exception as exc:  # noqa: BLE001 - every failure of the HTTP stack becomes a typed error
                failure = classify(exc)
                if remaining(deadline, 0.0) == 0.0:
                    failure = Failure("timeout", "no answer in time")  # the watchdog cut it at the deadline
                if not self._same_host(url):
                    failure = replace(failure, host=urlsplit(url).netloc)
                raise _NetError(failure) from None
            if remaining(deadline, 0.0) == 0.0:
                # Headers cut short by the watchdog look complete to http.client: it is a timeout.
                resp.close()
                raise _NetError(Failure("timeout", "no answer in time"))
            status = int(resp.status_code)
            location = resp.headers.get("Location") if status in REDIRECT_STATUSES else None
            if not location:
                return resp
            resp.close()
            target = _redirect_target(url, str(location).strip())
            if not self._same_host(target):
                headers.pop("Authorization", None)  # credentials are for the registry only
            if status == 303:
                method = "GET" if method != "HEAD" else method
            url = target
        raise _NetError(Failure("redirects", f"more than {MAX_REDIRECTS} redirects (a redirect loop)"))

    def _net_error(self, failure: Failure, what: str, attempt: int) -> RegistryError:
        retried = ", retried" if attempt else ""
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
            return _rate_limited(self.registry, f" for {what}{why}")
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
