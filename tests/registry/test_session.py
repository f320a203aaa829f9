"""The default HTTP session (registry/session.py) against the real registry: what it kept of requests.

The session replaced requests.Session on the registry path for speed; these check what users
relied on it for: proxies from the environment (with credentials in the proxy URL, and NO_PROXY),
the request target's form, and that an estimate loads no requests at all. The forward proxy here
is a few lines of http.server written for these tests, sharing nothing with the code under test.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest

from kubectl_imagecache.errors import Unreachable
from kubectl_imagecache.registry.client import ClientOptions, RegistryClient
from kubectl_imagecache.registry.credentials import CredentialStore, load_docker_config
from kubectl_imagecache.registry.reference import parse_reference
from kubectl_imagecache.registry.transport import TransportOptions
from tests.fakes.oci import PushedImage
from tests.fakes.registry import LiveRegistry

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy",
                   "NO_PROXY", "no_proxy")


class ForwardProxy:
    """An HTTP forward proxy: records each request line's target and Proxy-Authorization, then forwards."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        self.proxy_users: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                proxy.targets.append(self.path)
                auth = self.headers.get("Proxy-Authorization", "")
                proxy.proxy_users.append(base64.b64decode(auth[6:]).decode() if auth.startswith("Basic ") else "")
                url = urlsplit(self.path)
                if not url.netloc:
                    self.send_error(400, "a proxy needs the absolute URL")
                    return
                conn = http.client.HTTPConnection(url.netloc, timeout=10)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("proxy-authorization", "proxy-connection", "connection")}
                conn.request("GET", url.path + (f"?{url.query}" if url.query else ""), headers=headers)
                resp = conn.getresponse()
                body = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("connection", "transfer-encoding", "content-length", "keep-alive"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                conn.close()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class ConnectRefusingProxy:
    """An HTTP proxy that answers every CONNECT with ``status`` (407: it wants credentials); records the targets."""

    def __init__(self, status: int) -> None:
        self.targets: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_CONNECT(self) -> None:  # noqa: N802 - http.server's naming
                proxy.targets.append(self.path)
                self.send_response(status)
                self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in PROXY_VARIABLES:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def forward_proxy(no_proxy_variables: None) -> Iterator[ForwardProxy]:
    proxy = ForwardProxy()
    yield proxy
    proxy.stop()


@pytest.fixture
def local_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names this process looks up; none is sent to the machine's resolver (they fail at once).

    Address literals pass: connecting to one goes through getaddrinfo too, which asks no resolver.
    """
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def numeric_only(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            ipaddress.ip_address(str(host).strip("[]"))
        except ValueError:
            looked_up.append(str(host))
            raise socket.gaierror(socket.EAI_NONAME, "lookups are refused in this test") from None
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", numeric_only)
    return looked_up


def _client(tmp_path: Path) -> RegistryClient:
    config = tmp_path / "docker-config.json"
    config.write_text(json.dumps({"auths": {}}))
    opts = ClientOptions(transport=TransportOptions(timeout=10.0, retries=0))
    return RegistryClient(opts, CredentialStore(load_docker_config(str(config))))


def test_http_proxy_from_the_environment_with_credentials(
        plain_registry: LiveRegistry, forward_proxy: ForwardProxy, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Percent-encoded credentials in the proxy URL, as requests read them: decoded, sent as Basic.
    monkeypatch.setenv("HTTP_PROXY", f"http://alice:s%40cret@127.0.0.1:{forward_proxy.port}")
    pushed = plain_registry.samples["sample/oci-single:1.0"]
    assert isinstance(pushed, PushedImage)
    with _client(tmp_path) as client:
        info = client.inspect(parse_reference(plain_registry.ref("sample/oci-single:1.0")))
    assert info.digest == pushed.digest
    # Manifest and config, both through the proxy, each in absolute form (a proxy needs the host).
    assert len(forward_proxy.targets) == 2
    assert all(t.startswith(f"http://{plain_registry.host}/v2/sample/oci-single/") for t in forward_proxy.targets)
    assert forward_proxy.proxy_users == ["alice:s@cret"] * 2


def test_no_proxy_bypasses_the_proxy(plain_registry: LiveRegistry, forward_proxy: ForwardProxy, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{forward_proxy.port}")
    monkeypatch.setenv("NO_PROXY", "example.invalid, 127.0.0.1")
    with _client(tmp_path) as client:
        info = client.inspect(parse_reference(plain_registry.ref("sample/oci-single:1.0")))
    assert info.digest == plain_registry.samples["sample/oci-single:1.0"].digest
    assert forward_proxy.targets == []


# Behind a proxy the registry's name is the proxy's to resolve: this one never is, here.
REMOTE = "registry.example.com/app:1"


def _proxy_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: int, stop: Callable[[], None]) -> str:
    """The error of an estimate through the proxy on ``port`` (given with credentials), which ``stop`` ends."""
    monkeypatch.setenv("HTTPS_PROXY", f"http://alice:s3cret@127.0.0.1:{port}")
    try:
        with _client(tmp_path) as client, pytest.raises(Unreachable) as exc:
            client.inspect(parse_reference(REMOTE))
    finally:
        stop()
    msg = exc.value.message
    assert "HTTPS_PROXY" in msg and "NO_PROXY" in msg and "registry is running" not in msg, msg
    assert "alice" not in msg and "s3cret" not in msg, msg  # the proxy's credentials are never shown
    return msg


def test_a_refused_proxy_is_named_not_the_registry(no_proxy_variables: None, local_lookups: list[str],
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: refused at once
    port = closed.getsockname()[1]
    msg = _proxy_failure(tmp_path, monkeypatch, port, closed.close)
    assert f"the proxy 127.0.0.1:{port} refused the connection" in msg, msg
    assert local_lookups == []


@pytest.mark.parametrize("status, says", [(407, "requires authentication (HTTP 407"),
                                          (502, "refused to open a tunnel to it (HTTP 502 to CONNECT)")])
def test_a_proxy_refusing_connect_is_named(no_proxy_variables: None, local_lookups: list[str], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch, status: int, says: str) -> None:
    proxy = ConnectRefusingProxy(status)
    msg = _proxy_failure(tmp_path, monkeypatch, proxy.port, proxy.stop)
    assert f"the proxy 127.0.0.1:{proxy.port} {says}" in msg, msg
    assert proxy.targets == ["registry.example.com:443"] and local_lookups == []


def test_only_no_proxy_set_means_direct(plain_registry: LiveRegistry, forward_proxy: ForwardProxy, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # NO_PROXY alone names no proxy: requests are direct, in origin form (the registry rejects nothing).
    monkeypatch.setenv("NO_PROXY", "*")
    with _client(tmp_path) as client:
        info = client.inspect(parse_reference(plain_registry.ref("sample/docker-single:1.0")))
    assert info.digest == plain_registry.samples["sample/docker-single:1.0"].digest
    assert forward_proxy.targets == []


# Modules a cold `estimate --no-cache` must not import: requests (and charset_normalizer, idna, cookiejar
# under it) cost ~40 ms of every start and ~0.5 ms of CPU per request, the registry path runs on urllib3
# alone; the local cache (diskcache, sqlite3) and the credential helpers' subprocess are not used.
NOT_LOADED_BY_A_COLD_ESTIMATE = ("requests", "charset_normalizer", "kubernetes", "kubectl_imagecache.registry.cache",
                                 "diskcache", "sqlite3", "subprocess")


def test_an_estimate_without_cache_loads_neither_requests_nor_the_cache(plain_registry: LiveRegistry,
                                                                        tmp_path: Path) -> None:
    probe = ("import atexit, sys\n"
             "atexit.register(lambda: sys.stderr.write('\\nloaded: ' + ','.join(sorted(\n"
             f"    m for m in {NOT_LOADED_BY_A_COLD_ESTIMATE!r} if m in sys.modules)) + '\\n'))\n"
             "from kubectl_imagecache.cli.main import main\n"
             "sys.argv[0] = 'kubectl-imagecache'\n"
             "main()\n")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
    proc = subprocess.run([sys.executable, "-c", probe, "estimate", "-o", "json", "--no-cache",
                           plain_registry.ref("sample/oci-single:1.0"), plain_registry.ref("sample/oci-index:1.0")],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["images"]) == 2
    assert proc.stderr.strip().splitlines()[-1] == "loaded:"


class KeepAliveServer:
    """An HTTP/1.1 server that answers 200 "ok" and counts the TCP connections it accepted."""

    def __init__(self) -> None:
        self.connections = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def setup(self) -> None:
                server.connections += 1
                super().setup()

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # the client closing its kept-alive connection at the end is no error

        self.server = Quiet(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_first_https_registry_does_not_reopen_plain_http_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    # A run that mixes an HTTP registry (local, insecure) and an HTTPS one: the TLS settings the
    # first HTTPS request brings must not change how the HTTP registry's pool is found.
    import urllib3

    from kubectl_imagecache.registry.net.session import Session

    for var in PROXY_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    plain = KeepAliveServer()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: refused at once
    session = Session(4, verify=False)
    try:
        def get(url: str) -> bytes:
            response = session.request("GET", url, headers={}, body=None, timeout=5)
            body = b"".join(response.chunks(1024))  # read to its end: the connection goes back to the pool
            response.close()
            return body

        assert get(f"{plain.url}/first") == b"ok"
        with pytest.raises(urllib3.exceptions.HTTPError):  # refused: only that it was tried matters
            get(f"https://127.0.0.1:{closed.getsockname()[1]}/")
        assert get(f"{plain.url}/second") == b"ok"
        assert plain.connections == 1
    finally:
        session.close()
        closed.close()
        plain.stop()
