"""A small Docker token service (the ``realm`` of a registry running ``auth: token``).

Protocol (https://distribution.github.io/distribution/spec/auth/token/):
``GET /token?service=S&scope=repository:NAME:pull[,push]&scope=...`` with optional Basic auth.
Answers ``{"token", "access_token", "expires_in", "issued_at"}``; the token is a JWT signed
ES256 by a self-signed certificate that the registry gets as its ``rootcertbundle``.

Distribution 2.8 accepts three ways to name the signing key (registry/auth/token/token.go,
``VerifySigningKey``): an ``x5c`` chain verified against the bundle, a raw ``jwk``, or a
libtrust ``kid`` matching a key of a bundle certificate. ``key_header`` picks "x5c" (default)
or "kid"; the harness tests prove both work.

Who gets what:
* anonymous: ``pull`` on repositories matching ``public`` (fnmatch patterns), nothing else;
* a user with the right password: the actions in ``grants[user]`` ({pattern: "pull,push"}),
  default pull+push on everything; a wrong password is a 401 (as Docker Hub does), so the
  client learns its credentials are bad instead of getting an empty token.

Every request is recorded in ``requests`` (user name and whether a password was given, never
the password) so tests can tell which credentials a client tried.
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import hashlib
import json
import secrets
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def libtrust_key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """libtrust's key id: base32 of the first 240 bits of sha256(DER SPKI), in 4-char groups."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up a kept-alive connection (a reset between two requests) is no error of
        # the server's; anything else is printed as http.server does.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class TokenRequest:
    """What the token service saw: never the password itself."""

    path: str
    service: str
    scopes: list[str]
    user: Optional[str]
    password_given: bool
    status: int
    granted: list[dict] = field(default_factory=list)


class TokenServer:
    """Threaded token service on 127.0.0.1. Start with ``start()`` or ``with TokenServer() as t``."""

    def __init__(
        self,
        *,
        users: Optional[dict[str, str]] = None,
        grants: Optional[dict[str, dict[str, str]]] = None,
        public: tuple[str, ...] = ("*",),
        service: str = "harness-registry",
        issuer: str = "harness-token-issuer",
        expires_in: int = 300,
        key_header: str = "x5c",
    ) -> None:
        if key_header not in ("x5c", "kid"):
            raise ValueError("key_header must be 'x5c' or 'kid'")
        self.users = dict(users or {})
        self.grants = dict(grants or {})
        self.public = tuple(public)
        self.service = service
        self.issuer = issuer
        self.expires_in = expires_in
        self.key_header = key_header
        self.requests: list[TokenRequest] = []
        self._lock = threading.Lock()
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._cert = self._self_signed(self._key)
        self.certificate_pem = self._cert.public_bytes(serialization.Encoding.PEM)
        self.key_id = libtrust_key_id(self._key.public_key())
        self._httpd: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    @staticmethod
    def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "harness token signer")])
        now = dt.datetime.now(dt.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            # CA:true so Go's x509 accepts the self-signed leaf as its own root.
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )

    # -- addresses -------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._httpd is not None, "token server not started"
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    @property
    def running(self) -> bool:
        return self._httpd is not None

    # -- policy ----------------------------------------------------------------------------
    def allowed(self, user: Optional[str], resource_type: str, name: str) -> set[str]:
        """Actions ``user`` (None = anonymous) may have on ``resource_type:name``."""
        if user is None:
            if resource_type == "repository" and any(fnmatch.fnmatchcase(name, p) for p in self.public):
                return {"pull"}
            return set()
        rules = self.grants.get(user, {"*": "pull,push"})
        actions: set[str] = set()
        for pattern, acts in rules.items():
            if resource_type == "repository" and fnmatch.fnmatchcase(name, pattern):
                actions |= {a.strip() for a in acts.split(",") if a.strip()}
            elif resource_type == "registry" and pattern == "registry:" + name:
                actions |= {a.strip() for a in acts.split(",") if a.strip()}
        if "*" in actions:
            actions |= {"pull", "push", "delete"}
        return actions

    def issue(self, user: Optional[str], scopes: list[str], *, service: Optional[str] = None,
              expires_in: Optional[int] = None) -> tuple[str, list[dict]]:
        """A signed token for ``user`` and the access it grants (usable directly by helpers)."""
        access = []
        for scope in scopes:
            # scope = type:name:actions where name may itself hold ':' (e.g. a registry port); split from both ends.
            parts = scope.split(":")
            if len(parts) < 3:
                continue
            rtype, name, wanted = parts[0], ":".join(parts[1:-1]), parts[-1].split(",")
            have = self.allowed(user, rtype, name)
            granted = [a for a in wanted if a in have or (a == "*" and "*" in have)]
            access.append({"type": rtype, "name": name, "actions": granted})
        now = int(time.time())
        ttl = self.expires_in if expires_in is None else expires_in
        claims = {
            "iss": self.issuer,
            "sub": user or "",
            "aud": service or self.service,
            "exp": now + ttl,
            "nbf": now - 10,
            "iat": now,
            "jti": secrets.token_hex(8),
            "access": access,
        }
        header: dict = {"typ": "JWT", "alg": "ES256"}
        if self.key_header == "x5c":
            header["x5c"] = [base64.b64encode(self._cert.public_bytes(serialization.Encoding.DER)).decode()]
        else:
            header["kid"] = self.key_id
        signing_input = (_b64url(json.dumps(header, separators=(",", ":")).encode()) + "."
                         + _b64url(json.dumps(claims, separators=(",", ":")).encode()))
        der_sig = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der_sig)
        # JWS ES256 wants raw r||s (32 bytes each), not the DER that cryptography returns.
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input + "." + _b64url(sig), access

    # -- HTTP ------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
                pass  # quiet: test output stays readable, and nothing auth-related is ever printed

            def _send(self, status: int, body: dict, headers: Optional[dict[str, str]] = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                scopes: list[str] = []
                for s in query.get("scope", []):
                    scopes.extend(s.split(" "))  # some clients join scopes with spaces
                svc = query.get("service", [server.service])[0]
                user, password = None, None
                auth = self.headers.get("Authorization", "")
                if auth.lower().startswith("basic "):
                    try:
                        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
                    except ValueError:
                        user, password = "", ""
                record = TokenRequest(path=url.path, service=svc, scopes=scopes, user=user,
                                      password_given=bool(password), status=0)
                with server._lock:
                    server.requests.append(record)
                if url.path != "/token":
                    record.status = 404
                    return self._send(404, {"errors": [{"code": "NOT_FOUND", "message": url.path}]})
                if svc != server.service:
                    record.status = 400
                    return self._send(400, {"errors": [{"code": "UNSUPPORTED", "message": "unknown service"}]})
                if user is not None and server.users.get(user) != password:
                    record.status = 401
                    return self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]},
                                      {"WWW-Authenticate": 'Basic realm="harness-token"'})
                token, granted = server.issue(user, scopes, service=svc)
                record.status = 200
                record.granted = granted
                self._send(200, {"token": token, "access_token": token, "expires_in": server.expires_in,
                                 "issued_at": dt.datetime.now(dt.timezone.utc).isoformat()})

        return Handler

    def start(self) -> TokenServer:
        if self._httpd is None:
            self._httpd = _Server(("127.0.0.1", 0), self._handler())
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="token-server", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def __enter__(self) -> TokenServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
