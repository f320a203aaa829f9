"""API-server faults on loopback at the TLS layer: an endpoint that never answers a handshake, and a
TLS-terminating proxy that hands a real kube-apiserver's answers back late.

* ``SilentServer``: accepts TCP connections, reads and drops what the client sends, never answers: a
  stopped or overloaded API server, or a balancer that black-holes, as a client sees it.
* ``SlowProxy(upstream, cert, key, ca, delay)``: completes the handshake at once (with the control
  plane's own serving certificate, so the kubeconfig's CA still verifies it), reads each request, waits
  ``delay`` seconds, forwards it to the real API server (Authorization included) and returns that
  server's answer unchanged: a slow but real answer.

Neither imports kubectl_imagecache.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class SilentServer:
    """Accepts connections on 127.0.0.1 and never writes a byte."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._held: list[socket.socket] = []
        self._stopped = threading.Event()
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._held.append(conn)  # kept open, unanswered, until stop()
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        try:
            while conn.recv(4096):
                pass
        except OSError:
            pass

    def stop(self) -> None:
        self._stopped.set()
        self._sock.close()
        for conn in self._held:
            conn.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SlowProxy:
    """A TLS endpoint on 127.0.0.1 that answers every request with the upstream's answer, `delay` s late."""

    def __init__(self, upstream: str, cert: Path, key: Path, ca: Path, delay: float) -> None:
        self.delay = delay
        self.requests = 0
        self._upstream = urlsplit(upstream)
        self._client_tls = ssl.create_default_context(cafile=str(ca))
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(str(cert), str(key))
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.socket = server_tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    def _forward(self, method: str, path: str, headers: list[tuple[str, str]], body: bytes,
                 ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPSConnection(self._upstream.hostname or "127.0.0.1", self._upstream.port,
                                           context=self._client_tls, timeout=60)
        try:
            conn.request(method, path, body=body or None, headers=dict(headers))
            resp = conn.getresponse()
            return resp.status, resp.reason, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def _any(self) -> None:
                proxy.requests += 1
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}]
                time.sleep(proxy.delay)  # the handshake was prompt; the answer is late
                status, reason, out, data = proxy._forward(self.command, self.path, headers, body)
                self.send_response(status, reason)
                for k, v in out:
                    if k.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> SlowProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
