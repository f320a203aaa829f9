"""The default HTTP session: urllib3 pools whose connections honour the image's deadline.

requests.Session did this job before. What the transport and the token flow need of a session
is small (send one request, follow no redirect, stream the answer), and requests' generality
cost a tenth of a cold estimate: ~0.5 ms of CPU per request (prepare, cookies, hooks, merging
the environment) and ~40 ms of import at every start (bench/estimate.py). What users rely on
from it is kept, read the way requests reads it:

- proxies from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY): when one is set,
  requests' own functions choose the proxy, so NO_PROXY means what it always meant;
- REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) replaces the default CA bundle; else SSL_CERT_FILE /
  SSL_CERT_DIR, as Go programs read them; else certifi's bundle, as requests used;
- no ~/.netrc, no cookies, no retries behind the transport's back.

It is one implementation of net.HTTPSession, the transport's seam (``TransportOptions.session_factory``).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator, Mapping, Optional
from urllib.parse import urlsplit

from ... import __version__
from .deadline import ResolveTimeout, current_deadline, resolve, unwatch, watch

__all__ = ["Session", "Response", "new_session", "ca_bundle", "USER_AGENT"]

USER_AGENT = f"kubectl-imagecache/{__version__}"


def _ca_locations() -> tuple[Optional[str], Optional[str]]:
    """SSL_CERT_FILE / SSL_CERT_DIR, as Go programs (docker, crane, kubectl) read them.

    They replace the default bundle, as in Go. REQUESTS_CA_BUNDLE (or CURL_CA_BUNDLE) wins over
    both, as it did when requests applied it per request.
    """
    # SSL_CERT_DIR may list directories (a:b), as Go reads it: OpenSSL's capath takes the same list.
    return os.environ.get("SSL_CERT_FILE") or None, os.environ.get("SSL_CERT_DIR") or None


def ca_bundle() -> Optional[tuple[str, str]]:
    """(variable, path) of the CA bundle that replaces the defaults and SSL_CERT_FILE/SSL_CERT_DIR, if one is set.

    REQUESTS_CA_BUNDLE first, then CURL_CA_BUNDLE, as requests reads them. The TLS advice names it too.
    """
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        path = os.environ.get(name)
        if path:
            return name, path
    return None


def _tls_settings(verify: bool) -> dict[str, Any]:
    """The keyword arguments of an HTTPS pool: one SSL context for every connection of the session.

    Handed a CA file, urllib3 loads it into the context again for each new connection, and
    without one it loads the system's defaults for each, even for a host that is not verified.
    So the context is built once, here, when the first HTTPS pool opens.
    """
    import ssl

    from urllib3.util.ssl_ import create_urllib3_context

    if not verify:
        context = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
        context.check_hostname = False
        return {"cert_reqs": "CERT_NONE", "ssl_context": context}
    bundle = ca_bundle()
    ca_file: Optional[str]
    ca_dir: Optional[str]
    if bundle:
        _, path = bundle
        ca_file, ca_dir = (None, path) if os.path.isdir(path) else (path, None)
    else:
        ca_file, ca_dir = _ca_locations()
        if not ca_file and not ca_dir:
            import certifi  # only for HTTPS: importing it costs ~20 ms

            ca_file = certifi.where()
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    try:
        context.load_verify_locations(cafile=ca_file, capath=ca_dir)
    except (OSError, ValueError) as exc:
        where = ca_file or ca_dir
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc.__class__.__name__
        raise _ca_error(f"cannot load the trusted CAs from {where} ({reason})") from None
    return {"cert_reqs": "CERT_REQUIRED", "ssl_context": context}


def _ca_error(message: str) -> Exception:
    """An ssl.SSLError, so that the transport reports TLS failing, whose reason names the file to fix."""
    import ssl

    class CALoadError(ssl.SSLError):
        reason = message

        def __str__(self) -> str:
            return message

    return CALoadError(message)


def _watched_pools() -> dict[str, type]:
    """urllib3 pools whose connections honour the thread's deadline while awaiting an answer.

    A socket timeout bounds each recv; a registry that trickles its status line and headers a
    byte at a time would never trip it. The watchdog shuts the socket at the deadline instead.
    """
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    def getresponse(conn: Any, parent: Any, args: Any, kwargs: Any) -> Any:
        sock = conn.sock
        token = watch(sock)
        try:
            resp = parent.getresponse(conn, *args, **kwargs)
        finally:
            unwatch(token)
        # http.client forgets the socket of a "Connection: close" answer: keep it for the body's watch.
        resp.watched_socket = sock
        return resp

    def new_conn(conn: Any, parent: Any) -> Any:
        # The name is looked up within the deadline (deadline.resolve), then each address tried in
        # turn as create_connection would; the Host header and TLS name stay the registry's.
        import socket

        from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

        host = conn._dns_host
        try:
            addresses = resolve(host, conn.port, current_deadline())
        except socket.gaierror as exc:
            raise NameResolutionError(conn.host, conn, exc) from exc
        except ResolveTimeout as exc:
            raise ConnectTimeoutError(conn, str(exc)) from exc
        last: Optional[BaseException] = None
        for address in addresses:
            conn._dns_host = address
            try:
                return parent._new_conn(conn)
            except (NewConnectionError, ConnectTimeoutError) as exc:
                last = exc
            finally:
                conn._dns_host = host
        assert last is not None
        raise last

    class _HTTP(HTTPConnection):
        def _new_conn(self) -> Any:
            return new_conn(self, HTTPConnection)

        def getresponse(self, *args: Any, **kwargs: Any) -> Any:
            return getresponse(self, HTTPConnection, args, kwargs)

    class _HTTPS(HTTPSConnection):
        def _new_conn(self) -> Any:
            return new_conn(self, HTTPConnection)  # HTTPSConnection opens its socket as HTTPConnection does

        def getresponse(self, *args: Any, **kwargs: Any) -> Any:
            return getresponse(self, HTTPSConnection, args, kwargs)

    class _HTTPPool(HTTPConnectionPool):
        ConnectionCls = _HTTP

    class _HTTPSPool(HTTPSConnectionPool):
        ConnectionCls = _HTTPS

    return {"http": _HTTPPool, "https": _HTTPSPool}


class Response:
    """One answer, its body unread (net.HTTPResponse)."""

    __slots__ = ("raw", "status", "headers", "url", "_consumed")

    def __init__(self, raw: Any, url: str) -> None:
        self.raw = raw  # urllib3's response; carries ``watched_socket`` for the body's watch
        self.status: int = raw.status
        self.headers: Mapping[str, str] = raw.headers  # case-insensitive; repeated headers joined by ", "
        self.url = url
        self._consumed = False

    @property
    def socket(self) -> Any:
        """The connection's socket, for the watchdog while the body is read."""
        return getattr(self.raw, "watched_socket", None)

    def chunks(self, size: int) -> Iterator[bytes]:
        """The body, decoded (gzip, deflate), in chunks of at most ``size`` bytes."""
        yield from self.raw.stream(size, decode_content=True)
        self._consumed = True

    def close(self) -> None:
        # As requests: a body read to its end returns the connection to the pool; any other is
        # closed, so a half-read answer never poisons the next request on that connection.
        if not self._consumed:
            self.raw.close()
        self.raw.release_conn()


class Session:
    """Keep-alive pools (one per host, ``maxsize`` connections each) and the environment's proxies."""

    def __init__(self, maxsize: int, verify: bool = True) -> None:
        from urllib3.util import make_headers
        from urllib3.util.retry import Retry

        self.verify = verify
        self._maxsize = max(1, maxsize)
        self._pools = _watched_pools()
        self._tls: Optional[dict[str, Any]] = None
        self._lock = threading.Lock()
        # Plain HTTP and HTTPS apart: TLS settings in a manager's pool keywords are part of every
        # pool's key, so adding them on the first HTTPS request would reopen HTTP connections.
        self._direct = self._pool_manager()
        self._direct_https: Any = None
        self._proxied: dict[str, Any] = {}
        self._proxy_for: dict[tuple[str, str], Optional[str]] = {}
        self._environ_proxies: Optional[bool] = None
        # Retry(0, read=False) as requests sends: no retry here; the transport's loop retries
        # within the image's deadline (urllib3's own cost a stalled registry 3 timeouts a request).
        self._retries = Retry(0, read=False)
        self.headers = {"User-Agent": USER_AGENT, "Accept-Encoding": make_headers(accept_encoding=True)[
            "accept-encoding"], "Accept": "*/*", "Connection": "keep-alive"}
        if not verify:
            import warnings

            from urllib3.exceptions import InsecureRequestWarning

            # The user asked for this host to be insecure (or it is loopback): no warning per request.
            warnings.filterwarnings("ignore", category=InsecureRequestWarning)

    def request(self, method: str, url: str, *, headers: Mapping[str, str], body: Optional[bytes],
                timeout: float) -> Response:
        """Send one request; redirects are never followed (the transport follows them itself)."""
        from urllib3.util import Timeout

        # The manager picks the pool and the request target's form (a path, or the absolute URL
        # an HTTP proxy needs), and adds the proxy's headers.
        raw = self._manager(url).urlopen(method, url, body=body, headers={**self.headers, **headers},
                                         redirect=False, preload_content=False, decode_content=False,
                                         retries=self._retries, timeout=Timeout(connect=timeout, read=timeout))
        return Response(raw, url)

    def close(self) -> None:
        for manager in (self._direct, self._direct_https, *self._proxied.values()):
            if manager is not None:
                manager.clear()

    # -- internals -----------------------------------------------------------------------------------
    def _pool_manager(self, **tls: Any) -> Any:
        from urllib3 import PoolManager

        manager = PoolManager(num_pools=16, maxsize=self._maxsize, **tls)
        manager.pool_classes_by_scheme = self._pools
        return manager

    def _manager(self, url: str) -> Any:
        https = url[:6].lower() == "https:"
        if https and self._tls is None:
            with self._lock:
                if self._tls is None:
                    tls = _tls_settings(self.verify)
                    for manager in self._proxied.values():  # a proxy's manager serves both schemes
                        manager.connection_pool_kw.update(tls)
                    self._direct_https = self._pool_manager(**tls)
                    self._tls = tls
        proxy = self._proxy(url)
        if proxy is None:
            return self._direct_https if https else self._direct
        manager = self._proxied.get(proxy)
        if manager is None:
            with self._lock:
                manager = self._proxied.get(proxy)
                if manager is None:
                    manager = self._proxy_manager(proxy)
                    manager.connection_pool_kw.update(self._tls or {})
                    self._proxied[proxy] = manager
        return manager

    def _proxy(self, url: str) -> Optional[str]:
        """The proxy for ``url``, chosen by requests' rules, once per scheme and host."""
        if self._environ_proxies is None:
            from urllib.request import getproxies

            # NO_PROXY alone shows up as a "no" entry and names no proxy.
            self._environ_proxies = any(scheme != "no" for scheme in getproxies())
        if not self._environ_proxies:
            return None  # no proxy variable at all: the common case costs no requests import
        parts = urlsplit(url)
        key = (parts.scheme, parts.netloc)
        if key not in self._proxy_for:
            from requests.utils import get_environ_proxies, prepend_scheme_if_needed, select_proxy

            proxy = select_proxy(url, get_environ_proxies(url))
            self._proxy_for[key] = str(prepend_scheme_if_needed(proxy, "http")) if proxy else None  # type: ignore[no-untyped-call]
        return self._proxy_for[key]

    def _proxy_manager(self, proxy: str) -> Any:
        from requests.utils import get_auth_from_url  # loaded already: _proxy chose this proxy
        from urllib3 import proxy_from_url
        from urllib3.util import make_headers, parse_url

        if not parse_url(proxy).host:
            raise ValueError("the proxy URL in the environment names no host")
        user, password = get_auth_from_url(proxy)  # percent-decoded, as requests sent them
        if proxy.lower().startswith("socks"):
            from urllib3.contrib.socks import SOCKSProxyManager  # needs PySocks, as requests did

            manager: Any = SOCKSProxyManager(proxy, username=user or None, password=password or None,
                                             num_pools=16, maxsize=self._maxsize)
            return manager  # its own pools open the SOCKS tunnel: not ours
        headers = make_headers(proxy_basic_auth=f"{user}:{password}") if user else {}
        manager = proxy_from_url(proxy, proxy_headers=headers, num_pools=16, maxsize=self._maxsize)
        manager.pool_classes_by_scheme = self._pools
        return manager


def new_session(opts: Any, verify: bool) -> Session:
    """The default session factory: pools as large as the concurrency (TransportOptions)."""
    return Session(opts.concurrency, verify)
