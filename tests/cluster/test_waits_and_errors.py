"""Waits and errors are bounded and name their cause: stalled or vanishing API servers, 429s, TLS
failures, missing exec plugins, Ctrl-C during `warm --wait`, and `list -o name` into a closed pipe.

Faults come from a small HTTP proxy on loopback in front of the real API server (plain HTTP to the
plugin, TLS with the control plane's CA to the server), never from patching our code.
"""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.commands_support import Plugin, create_imagecache, unique
from tests.cluster.test_kube_flags import admin_token, good_cluster, no_traceback, write_config
from tests.fakes.controlplane import ControlPlane
from tests.support import cli


class ApiProxy:
    """Forwards to the API server; `mode` decides the fault: "429" (first request), "watch-dies"
    (a watch gets its headers and half an event, then the connection closes), "watch-stalls",
    "list-barrier" (ImageCache lists are held until `barrier` of them arrived: concurrent clients all
    see the cluster before any of them changes it; `barrier_path` holds other GETs so, e.g. a Lease's)."""

    def __init__(self, cp: ControlPlane, mode: str, barrier: int = 0, barrier_path: str = "/imagecaches?") -> None:
        self.cp, self.mode, self.seen, self.barrier_path = cp, mode, [], barrier_path
        self.barrier = threading.Barrier(barrier) if barrier else None
        self.ctx = ssl.create_default_context(cafile=str(cp.ca_file))
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_GET(self) -> None:  # noqa: N802
                proxy.handle(self)

            do_POST = do_PUT = do_DELETE = do_GET  # noqa: N815

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        self.seen.append(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else None
        if self.mode == "429" and len(self.seen) == 1:
            h.send_response(429)
            h.send_header("Retry-After", "1")
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", "2")
            h.end_headers()
            h.wfile.write(b"{}")
            return
        if "watch=true" in h.path and self.mode in ("watch-dies", "watch-stalls"):
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            h.wfile.write(b'5\r\n{"typ\r\n')
            h.wfile.flush()
            if self.mode == "watch-stalls":
                self.release.wait(60)
            h.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.barrier is not None and h.command == "GET" and self.barrier_path in h.path and "watch" not in h.path:
            try:
                if self.barrier.wait(20) == 0:
                    self.barrier = None  # one release: later lists (a wait's) pass at once
            except threading.BrokenBarrierError:
                self.barrier = None
        req = urllib.request.Request(self.cp.server + h.path, data=body, method=h.command,
                                     headers={k: v for k, v in h.headers.items() if k.lower() != "host"})
        try:
            resp = urllib.request.urlopen(req, context=self.ctx, timeout=30)
        except urllib.error.HTTPError as e:
            resp = e
        if "watch=true" in h.path and resp.status == 200:  # events as they come, not at the watch's end
            h.send_response(200)
            h.send_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
            h.send_header("Transfer-Encoding", "chunked")
            h.end_headers()
            while chunk := resp.read1(65536):
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                h.wfile.flush()
            h.wfile.write(b"0\r\n\r\n")
            return
        data = resp.read()
        h.send_response(resp.status)
        h.send_header("Content-Type", resp.headers.get("Content-Type", "application/json"))
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def kubeconfig(self, path: Path) -> Path:
        return write_config(path, {"proxy": {"server": self.url}}, {"admin": {"token": admin_token(self.cp)}},
                            {"proxy": ("proxy", "admin")}, "proxy")

    def stop(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy(control_plane: ControlPlane) -> Iterator[Any]:
    made: list[ApiProxy] = []

    def make(mode: str, barrier: int = 0) -> ApiProxy:
        made.append(ApiProxy(control_plane, mode, barrier))
        return made[-1]

    yield make
    for p in made:
        p.stop()


def clean(r: Any) -> None:
    """One line naming the cause: no traceback, no Python file paths, no urllib3 internals."""
    no_traceback(r)
    assert ".py" not in r.stderr and "urllib3" not in r.stderr and "MaxRetryError" not in r.stderr, r


@pytest.fixture
def silent_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


@pytest.mark.parametrize("args", [("list",), ("wait", "some-cache"), ("prune", "--yes")])
def test_stalled_api_server_is_bounded_by_request_timeout(imc: Plugin, control_plane: ControlPlane, tmp_path: Path,
                                                          silent_port: int, args: tuple[str, ...]) -> None:
    cfg = write_config(tmp_path / "silent", {"silent": {**good_cluster(control_plane),
                                                        "server": f"https://127.0.0.1:{silent_port}"}},
                       {"admin": {"token": admin_token(control_plane)}}, {"silent": ("silent", "admin")}, "silent")
    start = time.monotonic()
    r = imc(*args, "--request-timeout", "500ms", env={"KUBECONFIG": str(cfg)}, timeout=60)
    took = time.monotonic() - start
    assert r.code == 5, r
    clean(r)
    assert "no answer within 0.5s (request timed out)" in r.stderr, r
    assert took < 4, f"--request-timeout 500ms took {took:.1f} s"


def test_429_with_retry_after_is_retried_with_request_timeout(imc: Plugin, proxy: Any, tmp_path: Path) -> None:
    p = proxy("429")
    r = imc("list", "-o", "name", "--request-timeout", "5s", env={"KUBECONFIG": str(p.kubeconfig(tmp_path / "k"))})
    assert r.code == 0, r
    assert len(p.seen) == 2, p.seen  # the 429, then the list that succeeded


@pytest.mark.parametrize("mode", ["watch-dies", "watch-stalls"])
def test_watch_failure_is_one_line_exit_5(imc: Plugin, custom_api: Any, proxy: Any, tmp_path: Path,
                                          mode: str) -> None:
    name = unique("watched")
    create_imagecache(custom_api, name, ["nginx:1.27"], imageCacheSize=20, status={"phase": "Pending"})
    p = proxy(mode)
    start = time.monotonic()
    r = imc("wait", name, "--timeout", "60s", "--request-timeout", "1s",
            env={"KUBECONFIG": str(p.kubeconfig(tmp_path / "k"))}, timeout=60)
    took = time.monotonic() - start
    assert r.code == 5, r
    clean(r)
    assert "cannot reach the API server" in r.stderr, r
    cause = "request timed out" if mode == "watch-stalls" else "connection was closed"
    assert cause in r.stderr, r
    assert took < 15, took  # the request timeout bounds the watch, not --timeout


def test_tls_unknown_authority_and_hostname_mismatch(imc: Plugin, control_plane: ControlPlane,
                                                     tmp_path: Path) -> None:
    token = {"admin": {"token": admin_token(control_plane)}}
    no_ca = write_config(tmp_path / "no-ca", {"c": {"server": control_plane.server}}, token, {"c": ("c", "admin")}, "c")
    r = imc("list", "--request-timeout", "5s", env={"KUBECONFIG": str(no_ca)})
    assert r.code == 5, r
    clean(r)
    assert "unknown authority" in r.stderr, r

    other = write_config(tmp_path / "other-name", {"c": {**good_cluster(control_plane),
                                                        "tls-server-name": "not-the-apiserver.example"}},
                         token, {"c": ("c", "admin")}, "c")
    r = imc("list", "--request-timeout", "5s", env={"KUBECONFIG": str(other)})
    assert r.code == 5, r
    clean(r)
    assert "hostname mismatch" in r.stderr, r


def test_insecure_skip_tls_verify_prints_no_urllib3_warning(imc: Plugin, control_plane: ControlPlane,
                                                            tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "insecure", {"c": {"server": control_plane.server, "insecure-skip-tls-verify": True}},
                       {"admin": {"token": admin_token(control_plane)}}, {"c": ("c", "admin")}, "c")
    r = imc("list", "-o", "name", env={"KUBECONFIG": str(cfg)})
    assert r.code == 0, r
    # Nothing but list's own "No ImageCaches found." when the session holds none at this point.
    assert r.stderr in ("", "No ImageCaches found.\n"), r


def test_missing_exec_plugin_says_so(imc: Plugin, control_plane: ControlPlane, tmp_path: Path) -> None:
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "no-such-auth-plugin-c10",
                     "interactiveMode": "Never"}}
    cfg = write_config(tmp_path / "exec", {"local": good_cluster(control_plane)}, {"u": user},
                       {"x": ("local", "u")}, "x")
    r = imc("list", env={"KUBECONFIG": str(cfg)})
    assert r.code == 3, r
    clean(r)
    assert 'exec credential plugin "no-such-auth-plugin-c10" was not found' in r.stderr, r
    assert "anonymous" not in r.stderr and "forbidden" not in r.stderr.lower(), r
    assert len(r.stderr.splitlines()) == 1, r


def test_list_names_into_a_closed_pipe_exits_0(imc: Plugin, custom_api: Any, tmp_path: Path) -> None:
    for i in range(3):
        create_imagecache(custom_api, unique(f"pipe{i}"), ["nginx:1.27"], imageCacheSize=20)
    env = {"KUBECONFIG": str(imc.kubeconfig), "HOME": str(imc.home), "PATH": "/usr/bin:/bin"}
    # `| head -1` after head exited: the reader is gone before the plugin writes.
    proc = subprocess.Popen([cli.plugin_executable(), "list", "-o", "name"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 0, err
    assert err == "", err


def test_ctrl_c_during_warm_wait_says_how_to_follow(imc: Plugin, plain_registry: Any, custom_api: Any) -> None:
    """No emulator runs: the cache stays Pending, so warm --wait waits until interrupted."""
    image = plain_registry.ref("sample/oci-single:1.0")
    env = {"KUBECONFIG": str(imc.kubeconfig), "HOME": str(imc.home), "PATH": "/usr/bin:/bin",
           "NO_PROXY": "127.0.0.1,localhost"}
    proc = subprocess.Popen([cli.plugin_executable(), "warm", image, "--wait", "--timeout", "5m"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                            text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()  # "NAME: Pending 0%": the wait has begun
    assert ": Pending" in line, line
    name = line.split(":", 1)[0]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert f"kubectl imagecache wait {name}" in err, err
    assert "Traceback" not in err, err


def test_short_request_timeout_bounds_each_watch_not_the_wait(imc: Plugin, custom_api: Any) -> None:
    """--request-timeout 1s: every watch ends within about a second and is made again; the wait goes on
    until the cache is Ready (after 3 s), as kubectl wait's watches do."""
    name = unique("slow")
    create_imagecache(custom_api, name, ["nginx:1.27"], imageCacheSize=20, status={"phase": "Creating"})
    ready = threading.Timer(3.0, lambda: custom_api.patch_cluster_custom_object_status(
        "eci.alibabacloud.com", "v1", "imagecaches", name, {"status": {"phase": "Ready", "progress": "100%"}}))
    ready.start()
    try:
        r = imc("wait", name, "--timeout", "60s", "--request-timeout", "1s", timeout=60)
    finally:
        ready.cancel()
    assert r.code == 0, r
    assert f"imagecache.eci.alibabacloud.com/{name} condition met" in r.stdout, r
