"""A counting, fault-injecting reverse proxy in front of a real registry.

Why a proxy and not a mock: the client under test talks to the real registry through it, so
every answer it gets that is not a fault is the real one, byte for byte. The proxy forwards
method, path, query, headers and body unchanged (Host included, so the registry builds its
``Location`` URLs for the proxy) and returns the registry's status, headers and body unchanged,
minus hop-by-hop headers (Connection, Keep-Alive, Transfer-Encoding: bodies are re-sent with a
Content-Length). HEAD answers keep the registry's Content-Length and carry no body.

Counting (the benchmark uses it for "requests per image"): ``requests`` lists every request
seen (``Seen``: method, path, query, headers with Authorization redacted, whether
Authorization was present and its scheme, status, fault), ``count()``, ``counts_by_method()``,
``reset()``.

Faults, each for paths matching a regex (``re.search`` on the path without query), optionally
only for some methods, for the next ``times`` matching requests (None = until cleared):

* ``rate_limit(pattern, retry_after=N, times=K)`` 429 + Retry-After (+ Docker Hub's ratelimit-* headers)
* ``fail(pattern, status=503, times=K)``          a burst of error statuses (503, 502, 408, 500...)
* ``stall(pattern, times=K)``                     accept and never answer (until reset()/stop())
* ``delay(pattern, seconds=T, times=K)``          answer, correctly, after T seconds
* ``reset_connection(pattern, times=K)``          drop the TCP connection (RST) without an answer
* ``redirect(pattern, status=307)``               redirect to ``redirect_target``, a second server on
                                                  127.0.0.2 (another *host*, not just another port) that
                                                  serves the same content and records whether an
                                                  Authorization header reached it
* ``respond(pattern, status, headers, body)``     a canned answer (schema-1 body, wrong-digest body...)

The proxy never prints headers; Authorization values are not stored at all.
"""

from __future__ import annotations

import http.client
import re
import socket
import socketserver
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional, Union
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authorization", "proxy-authenticate"}


@dataclass
class Seen:
    """One request as the proxy (or the redirect target) saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]  # Authorization value replaced by "<redacted>"
    has_authorization: bool
    auth_scheme: Optional[str]  # "Basic" / "Bearer" / None
    status: int = 0
    fault: Optional[str] = None
    at: float = field(default_factory=time.monotonic)


@dataclass
class Fault:
    kind: str
    pattern: re.Pattern
    methods: Optional[frozenset[str]]
    remaining: Optional[int]
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: Optional[float] = None
    location: Optional[Callable[[str], str]] = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.methods is not None and method not in self.methods:
            return False
        return self.pattern.search(path) is not None


def _record(handler: BaseHTTPRequestHandler) -> Seen:
    url = urlsplit(handler.path)
    headers: dict[str, str] = {}
    auth = None
    for k, v in handler.headers.items():
        if k.lower() == "authorization":
            auth = v
            v = "<redacted>"
        headers[k] = v if k not in headers else headers[k] + ", " + v
    scheme = auth.split(" ", 1)[0] if auth else None
    return Seen(handler.command, url.path, url.query, headers, auth is not None, scheme)


def _read_body(handler: BaseHTTPRequestHandler) -> Optional[bytes]:
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length", "0") or 0)
    return handler.rfile.read(length) if length else None


class _Upstream:
    """Keep-alive connections to the registry, one per proxy thread."""

    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        u = urlsplit(base_url)
        self.host = u.hostname or "127.0.0.1"
        self.port = u.port or 80
        self.timeout = timeout
        self._local = threading.local()

    def send(self, method: str, path: str, headers: list[tuple[str, str]], body: Optional[bytes],
             ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        for attempt in (0, 1):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = self._local.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers:
                    conn.putheader(k, v)
                if body is not None:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body)
                resp = conn.getresponse()
                data = resp.read()
                return resp.status, resp.reason, resp.getheaders(), data
            except (http.client.HTTPException, ConnectionError, BrokenPipeError):
                # A keep-alive connection the registry closed meanwhile: reconnect once.
                conn.close()
                self._local.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def _forward_headers(handler: BaseHTTPRequestHandler, drop_auth: bool = False) -> list[tuple[str, str]]:
    out = []
    for k, v in handler.headers.items():
        lk = k.lower()
        if lk in HOP_BY_HOP or lk == "content-length" or (drop_auth and lk == "authorization"):
            continue
        out.append((k, v))
    return out


def _write(handler: BaseHTTPRequestHandler, status: int, reason: str, headers: list[tuple[str, str]],
           body: bytes) -> None:
    # send_response_only: no Server/Date added by http.server; the registry's own headers go through.
    handler.send_response_only(status, reason or None)
    has_length = False
    for k, v in headers:
        lk = k.lower()
        if lk in HOP_BY_HOP:
            continue
        if lk == "content-length":
            has_length = True
        handler.send_header(k, v)
    if not has_length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD" and body:
        handler.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self) -> None:
        # Not HTTPServer's: its getfqdn() asks the machine's resolver for 127.0.0.2's name (a PTR
        # query off loopback, as /etc/hosts names only 127.0.0.1). Nothing here reads server_name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])


class RedirectTarget:
    """The "other host" a redirect points to: serves the same content, records what arrived.

    Content comes from the registry directly, never with the client's Authorization (that is the
    whole point); ``fetch`` may add the harness's own credentials for auth-mode registries.
    """

    def __init__(self, upstream: str, fetch: Optional[Callable[[str, str, dict[str, str]], tuple]] = None,
                 host: str = "127.0.0.2") -> None:
        self.upstream = _Upstream(upstream)
        self.fetch = fetch
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        try:
            self._httpd = _Server((host, 0), self._handler())
        except OSError:
            # 127.0.0.2 is loopback on Linux; elsewhere fall back to localhost by name (still another host).
            self._httpd = _Server(("127.0.0.1", 0), self._handler())
        self.bind_host = str(self._httpd.server_address[0])
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                             name="redirect-target", daemon=True).start()

    @property
    def url(self) -> str:
        host = "localhost" if self.bind_host == "127.0.0.1" else self.bind_host
        return f"http://{host}:{self._httpd.server_port}"

    @property
    def authorization_seen(self) -> bool:
        return any(s.has_authorization for s in self.requests)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        target = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _any(self) -> None:
                seen = _record(self)
                body = _read_body(self)
                with target._lock:
                    target.requests.append(seen)
                if target.fetch is not None:
                    status, reason, headers, data = target.fetch(self.command, self.path, seen.headers)
                else:
                    status, reason, headers, data = target.upstream.send(
                        self.command, self.path, _forward_headers(self, drop_auth=True), body)
                seen.status = status
                _write(self, status, reason, headers, data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any  # noqa: N815

        return Handler

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class FaultProxy:
    """Reverse proxy on 127.0.0.1 in front of ``upstream`` (a registry base URL)."""

    def __init__(self, upstream: str, *,
                 redirect_fetch: Optional[Callable[[str, str, dict[str, str]], tuple]] = None) -> None:
        self.upstream_url = upstream.rstrip("/")
        self._upstream = _Upstream(self.upstream_url)
        self._redirect_fetch = redirect_fetch
        self.requests: list[Seen] = []
        self.faults: list[Fault] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd: Optional[_Server] = None
        self._redirect_target: Optional[RedirectTarget] = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> FaultProxy:
        if self._httpd is None:
            self._httpd = _Server(("127.0.0.1", 0), self._handler())
            threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                             name="fault-proxy", daemon=True).start()
        return self

    def stop(self) -> None:
        self._release.set()  # wake stalled handlers so their threads end
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._redirect_target is not None:
            self._redirect_target.stop()
            self._redirect_target = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "proxy not started"
        return self._httpd.server_address[1]

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    @property
    def redirect_target(self) -> RedirectTarget:
        """Started on first use: most tests never redirect."""
        if self._redirect_target is None:
            self._redirect_target = RedirectTarget(self.upstream_url, self._redirect_fetch)
        return self._redirect_target

    # -- counting --------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget requests and faults, release stalled requests (each test starts clean)."""
        with self._lock:
            self.requests.clear()
            self.faults.clear()
            self._release.set()
            self._release = threading.Event()
        if self._redirect_target is not None:
            self._redirect_target.reset()

    def count(self, method: Optional[str] = None, pattern: Optional[str] = None) -> int:
        rx = re.compile(pattern) if pattern else None
        with self._lock:
            return sum(1 for s in self.requests
                       if (method is None or s.method == method) and (rx is None or rx.search(s.path)))

    def counts_by_method(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with self._lock:
            for s in self.requests:
                out[s.method] = out.get(s.method, 0) + 1
        return out

    def seen(self, pattern: Optional[str] = None) -> list[Seen]:
        rx = re.compile(pattern) if pattern else None
        with self._lock:
            return [s for s in self.requests if rx is None or rx.search(s.path)]

    # -- faults ----------------------------------------------------------------------------
    def _add(self, kind: str, pattern: str, times: Optional[int], methods: Optional[Union[str, list[str]]],
             **kw: object) -> Fault:
        if isinstance(methods, str):
            methods = [methods]
        fault = Fault(kind, re.compile(pattern), frozenset(m.upper() for m in methods) if methods else None,
                      times, **kw)  # type: ignore[arg-type]
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def rate_limit(self, pattern: str = "", *, retry_after: Union[int, str] = 1, times: Optional[int] = 1,
                   methods: Optional[Union[str, list[str]]] = None,
                   headers: Optional[dict[str, str]] = None) -> Fault:
        h = {"Content-Type": "application/json", "Retry-After": str(retry_after),
             "ratelimit-limit": "100;w=21600", "ratelimit-remaining": "0;w=21600", **(headers or {})}
        body = b'{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit exceeded (harness)"}]}'
        return self._add("rate_limit", pattern, times, methods, status=429, headers=h, body=body)

    def fail(self, pattern: str = "", *, status: int = 503, times: Optional[int] = 1,
             methods: Optional[Union[str, list[str]]] = None, headers: Optional[dict[str, str]] = None,
             body: bytes = b'{"errors":[{"code":"UNAVAILABLE","message":"injected by harness"}]}') -> Fault:
        h = {"Content-Type": "application/json", **(headers or {})}
        return self._add("fail", pattern, times, methods, status=status, headers=h, body=body)

    def stall(self, pattern: str = "", *, times: Optional[int] = 1,
              methods: Optional[Union[str, list[str]]] = None) -> Fault:
        """Read the request, never answer; the connection is dropped at reset() or stop()."""
        return self._add("stall", pattern, times, methods)

    def delay(self, pattern: str = "", *, seconds: float, times: Optional[int] = 1,
              methods: Optional[Union[str, list[str]]] = None) -> Fault:
        """Forward normally but only after ``seconds`` (a slow, not dead, registry)."""
        return self._add("delay", pattern, times, methods, seconds=seconds)

    def reset_connection(self, pattern: str = "", *, times: Optional[int] = 1,
                         methods: Optional[Union[str, list[str]]] = None) -> Fault:
        return self._add("reset", pattern, times, methods)

    def redirect(self, pattern: str = "", *, status: int = 307, times: Optional[int] = None,
                 methods: Optional[Union[str, list[str]]] = None, to: Optional[str] = None) -> Fault:
        """Redirect to ``to`` + path (default: the redirect target on another host)."""
        base = (to or self.redirect_target.url).rstrip("/")
        return self._add("redirect", pattern, times, methods, status=status,
                         location=lambda path_and_query: base + path_and_query)

    def respond(self, pattern: str, *, status: int = 200, headers: Optional[dict[str, str]] = None,
                body: bytes = b"", times: Optional[int] = None,
                methods: Optional[Union[str, list[str]]] = None) -> Fault:
        """A canned answer; HEAD gets the same headers (Content-Length of ``body``) and no body."""
        return self._add("respond", pattern, times, methods, status=status, headers=dict(headers or {}), body=body)

    def _take_fault(self, method: str, path: str) -> Optional[Fault]:
        with self._lock:
            for f in self.faults:
                if f.matches(method, path):
                    if f.remaining is not None:
                        f.remaining -= 1
                    f.hits += 1
                    return f
        return None

    # -- HTTP ------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass  # never print requests: they carry credentials

            def _any(self) -> None:
                seen = _record(self)
                body = _read_body(self)
                with proxy._lock:
                    proxy.requests.append(seen)
                    release = proxy._release
                fault = proxy._take_fault(self.command, seen.path)
                if fault is not None:
                    seen.fault = fault.kind
                    if fault.kind == "stall":
                        release.wait()
                        self._drop(seen)
                        return
                    if fault.kind == "reset":
                        self._drop(seen, rst=True)
                        return
                    if fault.kind == "delay":
                        release.wait(fault.seconds)
                    elif fault.kind == "redirect":
                        assert fault.location is not None
                        seen.status = fault.status
                        return _write(self, fault.status, "", [("Location", fault.location(self.path))], b"")
                    else:  # rate_limit, fail, respond
                        seen.status = fault.status
                        headers = list(fault.headers.items())
                        if not any(k.lower() == "content-length" for k, _ in headers):
                            headers.append(("Content-Length", str(len(fault.body))))
                        return _write(self, fault.status, "", headers, fault.body)
                try:
                    status, reason, headers, data = proxy._upstream.send(
                        self.command, self.path, _forward_headers(self), body)
                except OSError:
                    seen.status = 502
                    return _write(self, 502, "", [], b"upstream registry unreachable")
                seen.status = status
                _write(self, status, reason, headers, data)

            def _drop(self, seen: Seen, rst: bool = False) -> None:
                seen.status = 0
                self.close_connection = True
                if rst:
                    # SO_LINGER 0: close() sends RST, so the client sees "connection reset", not a clean EOF.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any  # noqa: N815

        return Handler


_REPO_IN_PATH = re.compile(r"^/v2/(.+?)/(?:manifests|blobs|tags)/")


def fetch_with(client: object) -> Callable[[str, str, dict[str, str]], tuple]:
    """A ``redirect_fetch`` for auth-mode registries: the redirect target fetches with the
    harness's own ``RegistryClient`` (like a pre-signed storage URL needs no client credentials)."""

    def fetch(method: str, path_and_query: str, headers: dict[str, str]) -> tuple:
        m = _REPO_IN_PATH.match(urlsplit(path_and_query).path)
        keep = {k: v for k, v in headers.items() if k.lower() in ("accept", "range")}
        r = client.request(method, path_and_query, m.group(1) if m else "",  # type: ignore[attr-defined]
                           headers=keep, allow_redirects=False)
        return r.status_code, r.reason, list(r.headers.items()), r.content

    return fetch


def proxy_for(registry: object) -> FaultProxy:
    """A started FaultProxy in front of a ``LiveRegistry`` (any mode)."""
    client = getattr(registry, "client", None)
    fetch = fetch_with(client) if client is not None and getattr(registry, "mode", "plain") != "plain" else None
    return FaultProxy(registry.url, redirect_fetch=fetch).start()  # type: ignore[attr-defined]
