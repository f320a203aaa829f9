"""A hostile registry on loopback: a small server that answers each request with exactly the bytes
a test scripts, broken HTTP included.

By default it behaves like a registry: it serves the manifests and blobs pushed into it (by tag
or digest, with Docker-Content-Digest) and answers 404 with the distribution error codes. A test
then replaces the answer for some paths with a bad one: malformed headers, broken chunked bodies,
gzip bombs, stalls, redirect loops, hostile JSON, tokens with CR/LF. Every request is recorded.

With ``tls_name`` it is also an HTTP CONNECT proxy that terminates TLS for that name with a
certificate from its own CA (``ca_pem``): point HTTPS_PROXY at it, and the client verifies TLS
for a registry that is not on loopback by name, as a real remote one.

Written from scratch for these tests; it imports nothing from kubectl_imagecache.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import re
import socket
import socketserver
import ssl
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Union

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Request:
    method: str
    target: str  # path and query as sent
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    at: float = field(default_factory=time.monotonic)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def authorization(self) -> Optional[str]:
        return self.headers.get("authorization")


class Conn:
    """What an answer gets: the client's socket, and the server's stop signal for stalls."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self.stopping = stopping

    def send(self, data: bytes) -> bool:
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def wait(self, seconds: float) -> bool:
        """Sleep, unless the server is stopping; False when it is."""
        return not self.stopping.wait(seconds)


Answer = Callable[[Request, Conn], None]


# -- answers ---------------------------------------------------------------------------------------------

def http(status: int, body: bytes = b"", headers: Optional[list[tuple[str, str]]] = None, *,
         reason: str = "X", content_length: bool = True) -> bytes:
    """An HTTP/1.1 response, byte for byte; headers are sent as given (duplicates and all)."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    names = {k.lower() for k, _ in headers or []}
    for k, v in headers or []:
        lines.append(f"{k}: {v}")
    if content_length and "content-length" not in names and "transfer-encoding" not in names:
        lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def raw(data: bytes) -> Answer:
    def answer(req: Request, conn: Conn) -> None:
        conn.send(data)

    return answer


def respond(status: int, body: Union[bytes, str, dict, list] = b"", headers: Optional[dict[str, str]] = None,
            **kw: object) -> Answer:
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    return raw(http(status, body, list((headers or {}).items()), **kw))  # type: ignore[arg-type]


def stall() -> Answer:
    """Accept the request and never answer (until the server stops)."""

    def answer(req: Request, conn: Conn) -> None:
        conn.stopping.wait(120)

    return answer


def trickle(head: bytes, interval: float = 0.3) -> Answer:
    """Send ``head``, then one byte every ``interval`` seconds, forever: a read never times out."""

    def answer(req: Request, conn: Conn) -> None:
        if not conn.send(head):
            return
        while conn.wait(interval) and conn.send(b" "):
            pass

    return answer


def endless(head: bytes, chunk: bytes = b" " * 65536) -> Answer:
    """Send ``head``, then body bytes as fast as the client reads them, until it hangs up."""

    def answer(req: Request, conn: Conn) -> None:
        if not conn.send(head):
            return
        while not conn.stopping.is_set() and conn.send(chunk):
            pass

    return answer


_BOMBS: dict[int, bytes] = {}


def gzip_bomb(inflated_mib: int) -> bytes:
    """Gzip that inflates to ``inflated_mib`` MiB of zeros: 300 MiB squeeze into about 300 KiB.

    One member of 1 MiB zeros, repeated: gzip allows members back to back, and decoders
    (urllib3's too) read them all as one body.
    """
    if inflated_mib not in _BOMBS:
        z = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
        member = z.compress(b"\0" * (1 << 20)) + z.flush()
        _BOMBS[inflated_mib] = member * inflated_mib
    return _BOMBS[inflated_mib]


# -- the server --------------------------------------------------------------------------------------------

@dataclass
class _Route:
    method: Optional[str]
    pattern: re.Pattern[str]
    answer: Answer
    times: Optional[int]


class HostileRegistry:
    """Registry-like by default; bad wherever a test says. ``with HostileRegistry() as reg: ...``"""

    def __init__(self, *, tls_name: Optional[str] = None, token_auth: bool = False) -> None:
        self.manifests: dict[str, tuple[str, bytes]] = {}  # "repo@digest" -> (media type, body)
        self.tags: dict[str, str] = {}  # "repo:tag" -> digest
        self.blobs: dict[str, bytes] = {}  # "repo@digest" -> body
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._routes: list[_Route] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.tls_name = tls_name
        self.token_auth = token_auth
        self.tokens: dict[str, str] = {}  # token -> the Authorization it was issued for
        self._tmp = Path(tempfile.mkdtemp(prefix="hostile-"))
        self._tls: Optional[ssl.SSLContext] = self._make_tls(tls_name) if tls_name else None
        self._server = self._make_server()
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # -- lifecycle
    def start(self) -> HostileRegistry:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileRegistry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """host:port for image references (loopback: the client allows plain HTTP)."""
        return f"127.0.0.1:{self.port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._routes.clear()
            self.max_in_flight = 0

    def seen(self, pattern: str = "") -> list[Request]:
        with self._lock:
            return [r for r in self.requests if re.search(pattern, r.target)]

    # -- content
    def push_blob(self, repo: str, data: bytes) -> str:
        digest = sha256(data)
        self.blobs[f"{repo}@{digest}"] = data
        return digest

    def push_manifest(self, repo: str, body: bytes, media_type: str, tag: Optional[str] = None) -> str:
        digest = sha256(body)
        self.manifests[f"{repo}@{digest}"] = (media_type, body)
        if tag:
            self.tags[f"{repo}:{tag}"] = digest
        return digest

    def push_image(self, repo: str, tag: Optional[str] = None, *, platform: str = "linux/amd64",
                   layers: tuple[bytes, ...] = (b"layer-one", b"layer-two"), extra: Optional[dict] = None) -> dict:
        """An OCI image; returns its manifest document (with ``digest`` and ``size`` added)."""
        os_, arch, *variant = platform.split("/")
        config_doc = {"os": os_, "architecture": arch, **({"variant": variant[0]} if variant else {}),
                      "rootfs": {"type": "layers", "diff_ids": [sha256(x) for x in layers]}}
        config = canonical(config_doc)
        doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
               "config": {"mediaType": OCI_CONFIG, "digest": self.push_blob(repo, config), "size": len(config)},
               "layers": [{"mediaType": OCI_LAYER, "digest": self.push_blob(repo, x), "size": len(x)}
                          for x in layers], **(extra or {})}
        body = canonical(doc)
        digest = self.push_manifest(repo, body, OCI_MANIFEST, tag)
        return {**doc, "digest": digest, "size": sum(len(x) for x in layers) + len(config), "body": body}

    # -- scripting
    def on(self, pattern: str, answer: Answer, *, method: Optional[str] = None, times: Optional[int] = None) -> None:
        """Answer requests whose target matches ``pattern`` (regex) with ``answer``; newest first."""
        with self._lock:
            self._routes.insert(0, _Route(method, re.compile(pattern), answer, times))

    # -- internals
    def _take(self, req: Request) -> Optional[Answer]:
        with self._lock:
            for route in self._routes:
                if (route.method is None or route.method == req.method) and route.pattern.search(req.target):
                    if route.times is not None:
                        route.times -= 1
                        if route.times <= 0:
                            self._routes.remove(route)
                    return route.answer
        return None

    def _default(self, req: Request, conn: Conn) -> None:
        if self.token_auth and req.path.startswith("/v2/") and not self._authorized(req):
            realm = f"http://{self.host}/token"
            conn.send(http(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}', [
                ("WWW-Authenticate", f'Bearer realm="{realm}",service="hostile"')]))
            return
        if req.path == "/token":
            token = base64.urlsafe_b64encode(hashlib.sha256(req.target.encode()).digest()).decode().rstrip("=")
            self.tokens[token] = req.headers.get("authorization", "")
            conn.send(http(200, json.dumps({"token": token, "expires_in": 300}).encode(),
                           [("Content-Type", "application/json")]))
            return
        if req.path in ("/v2/", "/v2"):
            conn.send(http(200, b"{}", [("Content-Type", "application/json")]))
            return
        m = re.fullmatch(r"/v2/(.+)/(manifests|blobs)/([^/]+)", req.path)
        if m is None:
            conn.send(http(404, b'{"errors":[{"code":"NAME_UNKNOWN"}]}'))
            return
        repo, kind, ref = m.groups()
        if kind == "manifests":
            digest = self.tags.get(f"{repo}:{ref}", ref)
            found = self.manifests.get(f"{repo}@{digest}")
            if found is None:
                conn.send(http(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'))
                return
            media_type, body = found
            headers = [("Content-Type", media_type), ("Docker-Content-Digest", digest)]
            if req.method == "HEAD":
                conn.send(http(200, b"", headers + [("Content-Length", str(len(body)))]))
            else:
                conn.send(http(200, body, headers))
            return
        blob = self.blobs.get(f"{repo}@{ref}")
        if blob is None:
            conn.send(http(404, b'{"errors":[{"code":"BLOB_UNKNOWN"}]}'))
            return
        conn.send(http(200, blob if req.method != "HEAD" else b"", [("Content-Type", "application/octet-stream")]))

    def _authorized(self, req: Request) -> bool:
        value = req.authorization or ""
        return value.startswith("Bearer ") and value[7:] in self.tokens

    def _serve(self, sock: socket.socket) -> None:
        conn = Conn(sock, self._stopping)
        req = _read_request(sock)
        if req is None:
            return
        if req.method == "CONNECT" and self._tls is not None:
            conn.send(b"HTTP/1.1 200 Connection established\r\n\r\n")
            try:
                tls = self._tls.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                with self._lock:
                    self.requests.append(Request("TLS-REFUSED", req.target, {}))
                return  # the client refused our certificate: what the TLS tests look for
            self._serve(tls)
            return
        with self._lock:
            self.requests.append(req)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            (self._take(req) or self._default)(req, conn)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _make_server(self) -> socketserver.ThreadingTCPServer:
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    outer._serve(self.request)
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        return Server(("127.0.0.1", 0), Handler)

    # -- TLS
    def _make_tls(self, name: str) -> ssl.SSLContext:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile test CA")])
        ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
              .not_valid_after(now + datetime.timedelta(days=2))
              .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False, data_encipherment=False,
                                           key_agreement=False, encipher_only=False, decipher_only=False),
                             critical=True)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).issuer_name(ca_name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                               critical=False)
                .sign(ca_key, hashes.SHA256()))
        self.ca_pem = self._tmp / "ca.pem"
        self.ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        chain = self._tmp / "server.pem"
        chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(chain))
        return ctx

    def ca_dir(self) -> Path:
        """A folder holding the CA as OpenSSL's SSL_CERT_DIR expects it (<subject hash>.0)."""
        import subprocess

        folder = self._tmp / "certs"
        folder.mkdir(exist_ok=True)
        digest = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(self.ca_pem)], check=True,
                                capture_output=True, text=True).stdout.strip()
        (folder / f"{digest}.0").write_bytes(self.ca_pem.read_bytes())
        return folder


def _read_request(sock: socket.socket) -> Optional[Request]:
    sock.settimeout(10)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk or len(data) > 1 << 16:
                return None
            data += chunk
            if data[:1] == b"\x16":
                # A TLS handshake on this plain port (a client probing https first): answer as Go's
                # net/http does, so the client fails fast and falls back to http.
                sock.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
                return None
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        length = int(headers.get("content-length", "0") or 0)
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    except (OSError, ValueError):
        return None
    sock.settimeout(None)
    return Request(method, target, headers, rest[:length])
