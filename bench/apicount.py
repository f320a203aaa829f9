"""A counting reverse proxy on loopback in front of the API server, for bench/cluster.py.

The control plane harness takes no extra kube-apiserver flags (so no audit log), hence this:
TLS in front (the API server's own serving certificate, which names 127.0.0.1), TLS to the API
server behind, every request recorded as (method, path). Only the counting runs go through it;
the timed runs talk to the API server directly, so the proxy's own cost is in no figure.
"""

from __future__ import annotations

import http.client
import ssl
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "upgrade"}


def describe(method: str, path: str) -> str:
    """'list pods', 'get serviceaccounts', 'create imagecaches': what a request is, without names."""
    parts = [p for p in urlsplit(path).path.split("/") if p]
    if parts[:1] == ["api"]:
        rest = parts[2:]
    elif parts[:1] == ["apis"]:
        rest = parts[3:]
    else:
        return f"{method} {'/'.join(parts) or '/'}"
    if len(rest) >= 2 and rest[0] == "namespaces":
        rest = rest[2:] if len(rest) > 2 else ["namespaces", rest[1]]
    if not rest:
        return "discovery"
    resource, named = rest[0], len(rest) > 1
    verb = {"GET": "get" if named else "list", "POST": "create", "DELETE": "delete", "PUT": "update",
            "PATCH": "patch"}.get(method, method.lower())
    return f"{verb} {resource}" + (f"/{rest[2]}" if len(rest) > 2 else "")


class CountingProxy:
    def __init__(self, upstream: str, ca_file: Path, cert_file: Path, key_file: Path) -> None:
        up = urlsplit(upstream)
        self._up_host, self._up_port = up.hostname or "127.0.0.1", up.port or 443
        self._client_ctx = ssl.create_default_context(cafile=str(ca_file))
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the clients expect

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                with proxy._lock:
                    proxy.seen.append((self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP and k.lower() != "host"}
                conn = http.client.HTTPSConnection(proxy._up_host, proxy._up_port, context=proxy._client_ctx,
                                                   timeout=120)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                self.send_response_only(resp.status, resp.reason)
                for k, v in resp.getheaders():
                    if k.lower() not in _HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_ctx.load_cert_chain(str(cert_file), str(key_file))
        self._server.socket = server_ctx.wrap_socket(self._server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        with self._lock:
            self.seen.clear()

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(describe(m, p) for m, p in self.seen)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
