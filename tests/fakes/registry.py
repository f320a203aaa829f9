"""Run the real Distribution registry (Debian's ``docker-registry``) on a loopback port.

Three modes, chosen by the constructor:

* ``RegistryServer()``                         plain HTTP, anonymous push and pull;
* ``RegistryServer(htpasswd={"user": "pw"})``  Basic auth from a bcrypt htpasswd file;
* ``RegistryServer(token=TokenServer(...))``   ``auth: token``; the registry trusts the token
  service's certificate (``rootcertbundle``) and sends clients to its realm.

Works as a context manager and from plain scripts (the benchmark and demos use it), not only
from pytest. A missing binary is an error, never a skip: a skipped registry tier would let
the client ship untested against a real server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Optional

import requests

from tests.fakes.oci import PUBLIC_REPOS, RegistryClient, SampleSet, fill_extras, fill_sample_set
from tests.fakes.tokenserver import TokenServer

REGISTRY_BINARY_ENV = "DOCKER_REGISTRY_BIN"
_DEFAULT_BINARY = "docker-registry"
_INSTALL_HINT = "apt-get install docker-registry (Debian's Distribution 2.8 package)"


class RegistryError(RuntimeError):
    """The registry could not be started; the message says why and how to fix it."""


def find_registry_binary() -> str:
    """Path of the registry binary; raise with the install command when it is missing."""
    wanted = os.environ.get(REGISTRY_BINARY_ENV, _DEFAULT_BINARY)
    found = shutil.which(wanted) or ("/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists()
                                     and wanted == _DEFAULT_BINARY else None)
    if not found:
        raise RegistryError(f"registry binary {wanted!r} not found on PATH; run: {_INSTALL_HINT}")
    return found


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (callers retry if someone else takes it meanwhile)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def storage_parent() -> Optional[str]:
    """Where registry storage goes: ``REGISTRY_HARNESS_TMPDIR``, else /dev/shm, else the temp dir.

    tmpfs because on the project's VMs (ext4 with discard) creating and deleting the registry's
    small files cost ~1 s per registry at teardown and slowed every push; storage is a few MB.
    """
    wanted = os.environ.get("REGISTRY_HARNESS_TMPDIR")
    if wanted:
        return wanted
    shm = "/dev/shm"
    try:
        st = os.statvfs(shm)
        if os.access(shm, os.W_OK) and st.f_bavail * st.f_frsize > 512 * 1024 * 1024:
            return shm
    except OSError:
        pass
    return None


def make_htpasswd(users: dict[str, str]) -> str:
    """bcrypt htpasswd lines; Distribution only accepts bcrypt, hence ``htpasswd -B``."""
    exe = shutil.which("htpasswd")
    if not exe:
        raise RegistryError("htpasswd not found; run: apt-get install apache2-utils")
    lines = []
    for user, password in users.items():
        # -C 4: minimum bcrypt cost; the default (5..10) costs the registry time on every request.
        out = subprocess.run([exe, "-Bbn", "-C", "4", user, password], check=True,
                             capture_output=True, text=True).stdout
        lines.append(out.strip())
    return "\n".join(lines) + "\n"


class RegistryServer:
    """One docker-registry process with its own config, storage and port.

    Attributes once started: ``host`` ("127.0.0.1:PORT"), ``url`` ("http://127.0.0.1:PORT"),
    ``port``, ``mode`` ("plain" | "basic" | "token"), ``users`` (for basic), ``token`` (the
    TokenServer, for token mode), ``root`` (temp dir with config.yml, storage and registry.log).
    """

    def __init__(
        self,
        *,
        htpasswd: Optional[dict[str, str]] = None,
        token: Optional[TokenServer] = None,
        binary: Optional[str] = None,
        start_timeout: float = 15.0,
    ) -> None:
        if htpasswd and token:
            raise ValueError("choose one auth mode: htpasswd or token")
        self.users: dict[str, str] = dict(htpasswd or {})
        self.token = token
        self.mode = "token" if token else ("basic" if htpasswd else "plain")
        self.binary = binary or find_registry_binary()
        self.start_timeout = start_timeout
        self.port = 0
        self.root: Optional[Path] = None
        self._proc: Optional[subprocess.Popen] = None
        self._log: Optional[IO[bytes]] = None

    # -- addresses -------------------------------------------------------------------------
    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.host}"

    def credentials(self) -> Optional[tuple[str, str]]:
        """First configured user, for helpers that just need *a* login."""
        if self.users:
            return next(iter(self.users.items()))
        if self.token and self.token.users:
            return next(iter(self.token.users.items()))
        return None

    # -- lifecycle -------------------------------------------------------------------------
    def _config(self, storage: Path) -> str:
        # YAML written by hand: the layout is fixed and pyyaml is not a test dependency of this module.
        lines = [
            "version: 0.1",
            "log:",
            "  level: warn",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {storage}",
            "  delete:",
            "    enabled: true",
            "  cache:",
            "    blobdescriptor: inmemory",
            "http:",
            f"  addr: 127.0.0.1:{self.port}",
            "  secret: harness-not-a-secret",
            "  headers:",
            "    X-Content-Type-Options: [nosniff]",
            "health:",
            "  storagedriver:",
            "    enabled: false",
        ]
        assert self.root is not None
        if self.mode == "basic":
            path = self.root / "htpasswd"
            path.write_text(make_htpasswd(self.users))
            lines += ["auth:", "  htpasswd:", "    realm: harness-registry", f"    path: {path}"]
        elif self.mode == "token":
            assert self.token is not None
            bundle = self.root / "token-ca.pem"
            bundle.write_bytes(self.token.certificate_pem)
            lines += [
                "auth:",
                "  token:",
                f"    realm: {self.token.realm}",
                f"    service: {self.token.service}",
                f"    issuer: {self.token.issuer}",
                f"    rootcertbundle: {bundle}",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> RegistryServer:
        if self._proc is not None:
            return self
        if self.token is not None and not self.token.running:
            self.token.start()
        self.root = Path(tempfile.mkdtemp(prefix=f"registry-{self.mode}-", dir=storage_parent()))
        storage = self.root / "storage"
        storage.mkdir()
        last_error = ""
        # The port is picked before the registry binds it; retry on the rare race with another process.
        for _attempt in range(5):
            self.port = free_port()
            config = self.root / "config.yml"
            config.write_text(self._config(storage))
            self._log = open(self.root / "registry.log", "ab")  # noqa: SIM115 - closed in stop()
            self._proc = subprocess.Popen(
                [self.binary, "serve", str(config)],
                stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the test run must not hit it before cleanup
            )
            ok, last_error = self._wait_ready()
            if ok:
                return self
            self._kill()
        log = self.log_tail()
        self.stop()
        raise RegistryError(f"docker-registry did not answer /v2/ ({last_error}); log tail:\n{log}")

    def _wait_ready(self) -> tuple[bool, str]:
        deadline = time.monotonic() + self.start_timeout
        error = "timeout"
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False, f"exited with {self._proc.returncode}"
            try:
                r = requests.get(f"{self.url}/v2/", timeout=1)
                # 401 is "ready" for the auth modes: the registry is up and asking for credentials.
                if r.status_code in (200, 401):
                    return True, ""
                error = f"HTTP {r.status_code}"
            except requests.RequestException as e:
                error = type(e).__name__
            time.sleep(0.02)
        return False, error

    def log_tail(self, lines: int = 30) -> str:
        if self.root is None or not (self.root / "registry.log").exists():
            return ""
        text = (self.root / "registry.log").read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(timeout=5)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Kill the process and delete its storage. The token service is the caller's to stop."""
        self._kill()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> RegistryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RegistryServer(mode={self.mode!r}, url={self.url!r}, running={self.running})"


# -- a registry started and filled in one call (fixtures, benchmark, demos) ------------------

@dataclass
class LiveRegistry:
    """A started registry holding the standard sample set (tests/fakes/oci.py docstring).

    ``username``/``password``: the credentials with full access (None for plain). In token mode
    ``reader``/``reader_password`` may pull ``sample/*`` and ``a/*`` but not ``private/*``;
    anonymous users may pull the same public repositories.
    """

    mode: str
    server: RegistryServer
    client: RegistryClient
    samples: Optional[SampleSet]
    token_server: Optional[TokenServer] = None
    username: Optional[str] = None
    password: Optional[str] = None
    reader: Optional[str] = None
    reader_password: Optional[str] = None
    fill_seconds: float = 0.0
    start_seconds: float = 0.0

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def host(self) -> str:
        return self.server.host

    def ref(self, key: str, *, by_digest: bool = False) -> str:
        assert self.samples is not None, "registry was started without the sample set"
        return self.samples.ref(key, by_digest=by_digest)

    def stop(self) -> None:
        self.server.stop()
        if self.token_server is not None:
            self.token_server.stop()

    def __enter__(self) -> LiveRegistry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_registry(mode: str = "plain", *, fill: bool = True) -> LiveRegistry:
    """Start a registry in ``mode`` ("plain" | "basic" | "token") and push the sample set and its extras.

    Passwords are random per call so a "no secret on disk" scan cannot match by accident.
    """
    t0 = time.monotonic()
    user, password = None, None
    reader, reader_password = None, None
    token_server = None
    if mode == "plain":
        server = RegistryServer()
    elif mode == "basic":
        user, password = "alice", "basic-pw-" + secrets.token_hex(8)
        server = RegistryServer(htpasswd={user: password})
    elif mode == "token":
        user, password = "bob", "token-pw-" + secrets.token_hex(8)
        reader, reader_password = "reader", "reader-pw-" + secrets.token_hex(8)
        token_server = TokenServer(
            users={user: password, reader: reader_password},
            grants={user: {"*": "pull,push,delete"}, reader: {p: "pull" for p in PUBLIC_REPOS}},
            public=PUBLIC_REPOS,
        )
        server = RegistryServer(token=token_server)
    else:
        raise ValueError(f"unknown registry mode {mode!r}")
    try:
        server.start()
        started = time.monotonic()
        client = RegistryClient(server.url, user, password)
        samples = fill_sample_set(client) if fill else None
        if fill:
            fill_extras(client)
    except BaseException:
        server.stop()
        if token_server is not None:
            token_server.stop()
        raise
    return LiveRegistry(mode, server, client, samples, token_server, user, password, reader, reader_password,
                        fill_seconds=time.monotonic() - started, start_seconds=started - t0)
