"""One HTTP transport per registry, layered like go-containerregistry's remote/transport.

requests.Session (keep-alive pool, proxy and CA-bundle environment variables) -> urllib3 Retry
(bounded retries with backoff for 408/429/502/503/504 and connection resets, Retry-After honoured
up to a cap) -> RegistryAuth (Bearer/Basic on 401) -> error mapping into our exception types.
"""

from __future__ import annotations

import ipaddress
import json
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Optional

from .. import __version__
from ..errors import Forbidden, NotFound, RegistryError, Unreachable
from .auth import RegistryAuth, scope_for

if TYPE_CHECKING:
    import requests

__all__ = ["TransportOptions", "RegistryTransport", "is_loopback"]

USER_AGENT = f"kubectl-imagecache/{__version__}"
RETRY_STATUSES = frozenset({408, 429, 502, 503, 504})


@dataclass(frozen=True)
class TransportOptions:
    concurrency: int = 8
    timeout: float = 30.0  # per connect and per read, not per whole request
    retries: int = 4
    backoff: float = 0.25
    retry_after_cap: int = 30
    insecure_hosts: frozenset[str] = field(default_factory=frozenset)
    # Invoked with (method, url) before each request leaves; --offline sets one that refuses.
    guard: Optional[Callable[[str, str], None]] = None


def is_loopback(host: str) -> bool:
    """Docker treats registries on loopback as insecure (HTTP allowed) without configuration."""
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host[1:].split("]", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _new_session(opts: TransportOptions, verify: bool) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=opts.retries,
        connect=opts.retries,
        read=min(opts.retries, 2),  # a stalled registry costs timeout x 3 at most
        status=opts.retries,
        other=0,
        redirect=5,
        allowed_methods=frozenset({"GET", "HEAD"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=opts.backoff,
        backoff_max=10,
        respect_retry_after_header=True,
        retry_after_max=opts.retry_after_cap,
        raise_on_status=False,
        raise_on_redirect=False,
    )
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, opts.concurrency), max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    if not verify:
        session.verify = False
    return session


def _error_code(resp: requests.Response) -> str:
    try:
        errors = json.loads(resp.content or b"{}").get("errors") or []
        return str(errors[0].get("code", "")) if errors else ""
    except (ValueError, AttributeError, TypeError, IndexError):
        return ""


def _is_timeout(exc: BaseException) -> bool:
    """Whether a requests error was a timeout, also when retries wrapped it.

    requests reports a read timeout that exhausted urllib3's retries as a ConnectionError around
    a MaxRetryError around the ReadTimeoutError; the user must still be told it was a timeout.
    """
    import requests
    from urllib3.exceptions import MaxRetryError
    from urllib3.exceptions import TimeoutError as Urllib3Timeout

    if isinstance(exc, requests.exceptions.Timeout):
        return True
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, MaxRetryError) and isinstance(arg.reason, Urllib3Timeout):
            return True
        if isinstance(arg, Urllib3Timeout):
            return True
    return False


class RegistryTransport:
    """Talks HTTP to one registry host; thread-safe; one keep-alive pool shared by all threads."""

    def __init__(
        self,
        registry: str,
        endpoint: str,
        opts: TransportOptions,
        auth_factory: Callable[[Callable[[], requests.Session]], RegistryAuth],
        scheme_hint: Optional[str] = None,
        remember_scheme: Callable[[str], None] = lambda scheme: None,
    ) -> None:
        self.registry = registry
        self.endpoint = endpoint
        self.opts = opts
        self.insecure = endpoint in opts.insecure_hosts or registry in opts.insecure_hosts or is_loopback(endpoint)
        self._scheme = scheme_hint if self.insecure else "https"
        self._remember_scheme = remember_scheme
        self._lock = threading.Lock()
        self._probe_lock = threading.Lock()
        self._session: Optional[requests.Session] = None
        self.auth = auth_factory(self.session)

    def session(self) -> requests.Session:
        with self._lock:
            if self._session is None:
                # Unverified TLS only for hosts the user marked insecure (or loopback), never others.
                self._session = _new_session(self.opts, verify=not self.insecure)
            return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()

    # -- requests --------------------------------------------------------------------------------
    def request(
        self, method: str, repository: str, path: str, headers: Mapping[str, str], what: str
    ) -> requests.Response:
        """Send method /v2/<repository>/<path>; returns a 2xx response or raises a typed error."""
        scope = scope_for(repository)
        hdrs = dict(headers)
        authorization = self.auth.header(scope)
        for _attempt in range(3):  # first try, then at most two fresh credentials after 401s
            if authorization:
                hdrs["Authorization"] = authorization
            else:
                hdrs.pop("Authorization", None)
            resp = self._send(method, f"/v2/{repository}/{path}", hdrs, what)
            if resp.status_code != 401:
                break
            # Only the registry itself may ask for credentials: a 401 from a redirect target gets none.
            if not self._same_host(resp.url):
                break
            authorization = self.auth.on_unauthorized(resp.headers.get("WWW-Authenticate"), scope, authorization)
            if authorization is None:
                break
        if resp.status_code == 404 and method == "GET" and _error_code(resp) != "NAME_UNKNOWN":
            # Distribution (and most registries) answer MANIFEST_UNKNOWN for a missing repository
            # as for a missing tag; only the tag list tells them apart. Costs a request on failure only.
            return self._check(resp, repository, what, repository_missing=self._repository_missing(
                repository, hdrs.get("Authorization")))
        return self._check(resp, repository, what)

    def _repository_missing(self, repository: str, authorization: Optional[str]) -> bool:
        hdrs = {"Authorization": authorization} if authorization else {}
        try:
            resp = self._send("GET", f"/v2/{repository}/tags/list?n=1", hdrs, f"tags of {repository}")
        except RegistryError:
            return False  # cannot tell: keep the tag-or-digest message
        return resp.status_code == 404 and _error_code(resp) == "NAME_UNKNOWN"

    def _same_host(self, url: str) -> bool:
        from urllib.parse import urlsplit

        return urlsplit(url).netloc == self.endpoint

    def _send(self, method: str, path: str, headers: Mapping[str, str], what: str) -> requests.Response:
        if self._scheme is None:
            # One thread finds the scheme while the others wait: eight threads probing TLS on a
            # plain-HTTP port at once cost three times the whole cold run.
            with self._probe_lock:
                if self._scheme is None:
                    return self._send_once(method, path, headers, what)
        return self._send_once(method, path, headers, what)

    def _send_once(self, method: str, path: str, headers: Mapping[str, str], what: str) -> requests.Response:
        import requests

        schemes = [self._scheme] if self._scheme else ["https", "http"]
        last_exc: Optional[Exception] = None
        for scheme in schemes:
            url = f"{scheme}://{self.endpoint}{path}"
            if self.opts.guard:
                self.opts.guard(method, url)
            try:
                resp = self.session().request(
                    method, url, headers=headers, timeout=self.opts.timeout, allow_redirects=True
                )
            except requests.exceptions.SSLError as exc:
                last_exc = exc
                continue  # an insecure host may speak plain HTTP: try the next scheme
            except requests.exceptions.RetryError:
                raise Unreachable(f"{self.registry} kept failing while fetching {what}; try again later") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if self._scheme is None and scheme == "https" and isinstance(exc, requests.exceptions.ConnectionError):
                    last_exc = exc
                    continue
                raise self._unreachable(exc, what) from None
            if self._scheme is None:
                self._scheme = scheme
                self._remember_scheme(scheme)
            return resp
        assert last_exc is not None
        raise self._unreachable(last_exc, what) from None

    def _unreachable(self, exc: Exception, what: str) -> RegistryError:
        import requests

        if isinstance(exc, requests.exceptions.SSLError):
            return Unreachable(
                f"TLS verification failed for {self.endpoint} while fetching {what}; trust its CA with "
                f"REQUESTS_CA_BUNDLE=FILE, or allow it with --insecure-registry {self.registry}"
            )
        if _is_timeout(exc):
            return Unreachable(
                f"{self.registry} did not answer in time while fetching {what} (timeout {self.opts.timeout:g}s, "
                "retried); check the network or raise --registry-timeout"
            )
        return Unreachable(f"cannot connect to {self.registry} ({self.endpoint}) while fetching {what}; "
                           "check the name and the network")

    def _check(self, resp: requests.Response, repository: str, what: str,
               repository_missing: bool = False) -> requests.Response:
        status = resp.status_code
        if 200 <= status < 300:
            return resp
        if status == 401:
            raise self.auth.unauthorized_error(what, scope_for(repository))
        if status == 403:
            raise Forbidden(f"forbidden: {self.registry} denies pulling {what} with the credentials tried; "
                               "use credentials that may pull it (--registry-config or --pull-secret)")
        if status == 404:
            code = _error_code(resp)
            if code == "NAME_UNKNOWN" or repository_missing:
                raise NotFound(f"repository {self.registry}/{repository} not found; check the image name")
            raise NotFound(f"{what} not found in repository {self.registry}/{repository}; check the tag or digest")
        if status == 429:
            raise RegistryError(f"{self.registry} is rate limiting requests (HTTP 429) for {what}, still after "
                                "retries; wait and retry, or log in for a higher limit")
        if status >= 500 or status == 408:
            raise Unreachable(f"{self.registry} failed with HTTP {status} for {what}, still after retries; "
                              "try again later")
        raise RegistryError(f"{self.registry} answered HTTP {status} for {what}")
