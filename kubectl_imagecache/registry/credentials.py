"""Registry credentials: the Docker config, credential helpers and Kubernetes pull secrets.

Secrets (passwords, identity tokens) live only in memory, in `Credential` objects whose repr and str
leave them out. Nothing in this module writes them anywhere or puts them in an exception message,
warning or source description: errors name the file, key or secret they come from, never its content.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from kubectl_imagecache.errors import (
    CredentialError,
    UsageError,
)

__all__ = [
    "Credential",
    "DockerConfig",
    "PullSecret",
    "CredentialStore",
    "auths_from_mapping",
    "load_docker_config",
    "normalize_registry",
    "HELPER_TIMEOUT_SECONDS",
]

HELPER_TIMEOUT_SECONDS = 10.0

# Docker Hub answers to several names; Docker's CLI stores its credentials under the v1 index URL.
_DOCKER_HUB = "docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_DOCKER_HUB_SERVER_URL = "https://index.docker.io/v1/"

# A credential helper answers this (on stdout, exit 1) when it simply has nothing for the server.
_HELPER_NOT_FOUND = "credentials not found"
# The Username a helper returns when Secret is an identity (OAuth2 refresh) token.
_HELPER_TOKEN_USERNAME = "<token>"

# Helper names become part of an executable name looked up on PATH; a separator would turn the
# lookup into a path relative to the working directory.
_HELPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


@dataclass(frozen=True)
class Credential:
    """One set of credentials for one registry, and where it came from.

    Either username + password (Basic, or the password grant of the token flow), or an identity
    token (the OAuth2 refresh-token grant). `source` names the origin without secrets.
    """

    username: Optional[str]
    password: Optional[str] = field(repr=False)
    identity_token: Optional[str] = field(repr=False)
    source: str

    def __str__(self) -> str:
        # Used in messages: says what kind of credential and whose, never the secret.
        if self.identity_token:
            return f"identity token from {self.source}"
        return f'user "{self.username or ""}" from {self.source}'

    def _secrets(self) -> Tuple[Optional[str], Optional[str], Optional[str]]:
        return (self.username, self.password, self.identity_token)


@dataclass(frozen=True)
class DockerConfig:
    """The parts of a Docker config.json this tool uses. `path` is None when no file was found."""

    path: Optional[str] = None
    auths: Dict[str, Credential] = field(default_factory=dict)
    cred_helpers: Dict[str, str] = field(default_factory=dict)
    creds_store: Optional[str] = None


@dataclass(frozen=True)
class PullSecret:
    """The registry credentials of one Kubernetes pull secret, keyed as the secret keys them."""

    namespace: str
    name: str
    credentials: Dict[str, Credential] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


# --------------------------------------------------------------------------------------------------
# Registry names


def normalize_registry(key: str) -> str:
    """The host[:port] a Docker config key or registry name stands for, as Docker matches them.

    Drops the scheme and any path (`https://host:5000/v2/` -> `host:5000`), lowercases the host
    (host names are case-insensitive) and maps Docker Hub's aliases to `docker.io`.
    """
    host = key.strip()
    lowered = host.lower()
    for scheme in ("https://", "http://"):
        if lowered.startswith(scheme):
            host = host[len(scheme) :]
            break
    host = host.split("/", 1)[0].lower()
    if host in _DOCKER_HUB_ALIASES:
        return _DOCKER_HUB
    return host


def _server_url(registry: str) -> str:
    """What Docker passes to a credential helper for this registry (and its preferred auths key)."""
    host = normalize_registry(registry)
    return _DOCKER_HUB_SERVER_URL if host == _DOCKER_HUB else host


def _wildcard_match(pattern: str, host: str) -> bool:
    """Kubelet-style matching for pull-secret keys: `*.example.com` matches `a.example.com`.

    Each dot-separated part is a glob matched against the same part; the number of parts and the
    port must be equal, so a wildcard never matches across dots (as the kubelet does).
    """
    p_host, _, p_port = pattern.partition(":")
    h_host, _, h_port = host.partition(":")
    if p_port != h_port:
        return False
    p_parts, h_parts = p_host.split("."), h_host.split(".")
    if len(p_parts) != len(h_parts):
        return False
    return all(fnmatch.fnmatchcase(h, p) for p, h in zip(p_parts, h_parts))


def _matching_keys(keys: Sequence[str], registry: str, *, wildcards: bool) -> List[str]:
    """Keys that name `registry`, the one Docker would look up first (the exact server URL) first."""
    host = normalize_registry(registry)
    preferred = _server_url(registry)
    matched = []
    for key in keys:
        norm = normalize_registry(key)
        if norm == host or (wildcards and "*" in norm and _wildcard_match(norm, host)):
            matched.append(key)
    # Stable sort: exact key first, then the others in file order.
    matched.sort(key=lambda k: 0 if k == preferred else 1)
    return matched


# --------------------------------------------------------------------------------------------------
# Auth entries (shared by the Docker config and pull secrets)


def _entry_credential(entry: Any, source: str, where: str) -> Optional[Credential]:
    """A credential from one `auths` entry, None when it holds none (e.g. `{}` next to credsStore).

    `where` names the entry in errors; nothing from the entry's content goes into a message.
    """
    if not isinstance(entry, dict):
        raise CredentialError(f"{where}: an auths entry must be a JSON object")
    username = entry.get("username") or None
    password = entry.get("password") or None
    token = entry.get("identitytoken") or None
    auth = entry.get("auth") or None
    for name, value in (("username", username), ("password", password), ("identitytoken", token)):
        if value is not None and not isinstance(value, str):
            raise CredentialError(f"{where}: {name} must be a string")
    if auth is not None:
        # As Docker does: `auth` wins over username/password; base64 of "user:password", split on the
        # first colon, NULs trimmed from the password.
        if not isinstance(auth, str):
            raise CredentialError(f"{where}: auth must be a base64 string")
        try:
            decoded = base64.b64decode(auth.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise CredentialError(f"{where}: auth is not valid base64 of user:password") from None
        user, sep, pw = decoded.partition(":")
        if not sep:
            raise CredentialError(f"{where}: auth does not decode to user:password")
        username, password = user or None, pw.strip("\x00") or None
    if token is not None:
        return Credential(username=username, password=None, identity_token=token, source=source)
    if username is None and password is None:
        return None
    return Credential(username=username, password=password, identity_token=None, source=source)


def auths_from_mapping(auths: Any, source_prefix: str, where: str) -> Dict[str, Credential]:
    if not isinstance(auths, dict):
        raise CredentialError(f"{where}: auths must be a JSON object")
    result: Dict[str, Credential] = {}
    for key, entry in auths.items():
        cred = _entry_credential(entry, f'{source_prefix} (auths "{key}")', f'{where}, auths "{key}"')
        if cred is not None:
            result[key] = cred
    return result


# --------------------------------------------------------------------------------------------------
# Docker config


def _default_config_path() -> str:
    """The Docker config file when --registry-config is not given (read from the environment now,
    not at import, so the CLI and tests see the current $DOCKER_CONFIG and $HOME)."""
    docker_config = os.environ.get("DOCKER_CONFIG")
    if docker_config:
        return os.path.join(os.path.expanduser(docker_config), "config.json")
    return os.path.join(os.path.expanduser("~"), ".docker", "config.json")


def load_docker_config(path: Optional[str] = None) -> DockerConfig:
    """Read the Docker config: `path` (a file, or a directory holding config.json), else
    `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.

    A missing default file is an empty config; a missing explicit one is a UsageError; unreadable or
    malformed JSON is a CredentialError naming the file (its content is never echoed).
    """
    if path:
        file_path = os.path.expanduser(path)
        if os.path.isdir(file_path):
            file_path = os.path.join(file_path, "config.json")
        if not os.path.isfile(file_path):
            raise UsageError(f"--registry-config {path}: no such file ({file_path})")
    else:
        file_path = _default_config_path()
        if not os.path.isfile(file_path):
            return DockerConfig()
    try:
        with open(file_path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else "not readable as UTF-8"
        raise CredentialError(f"docker config {file_path}: {reason}") from None
    if not text.strip():
        # Docker accepts an empty file as an empty config.
        return DockerConfig(path=file_path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        # Position only: the message must not quote the file, which holds secrets.
        raise CredentialError(
            f"docker config {file_path}: malformed JSON at line {e.lineno} column {e.colno}"
        ) from None
    if not isinstance(data, dict):
        raise CredentialError(f"docker config {file_path}: expected a JSON object at the top level")

    where = f"docker config {file_path}"
    auths = auths_from_mapping(data.get("auths") or {}, where, where)

    helpers_raw = data.get("credHelpers") or {}
    if not isinstance(helpers_raw, dict) or not all(isinstance(v, str) for v in helpers_raw.values()):
        raise CredentialError(f"{where}: credHelpers must map registries to helper names")
    cred_helpers = {k: v for k, v in helpers_raw.items() if v}

    creds_store = data.get("credsStore") or None
    if creds_store is not None and not isinstance(creds_store, str):
        raise CredentialError(f"{where}: credsStore must be a helper name")

    return DockerConfig(path=file_path, auths=auths, cred_helpers=cred_helpers, creds_store=creds_store)


# --------------------------------------------------------------------------------------------------
# Credential helpers and the store


@dataclass(frozen=True)
class _HelperResult:
    credential: Optional[Credential]
    outcome: str  # for describe_sources: "credentials", "no credentials", or why it failed


class CredentialStore:
    """Every credential source, in priority order, for any registry.

    Order for a registry: the --pull-secret secrets in the order given, then the Docker config:
    its credHelpers entry for the registry, its auths entry, its credsStore. Helper answers
    (including failures) are kept in memory for the life of the store, i.e. the process, so a
    helper runs at most once per server and a broken one warns once.
    """

    def __init__(
        self,
        docker_config: Optional[DockerConfig] = None,
        pull_secrets: Sequence[PullSecret] = (),
        *,
        on_warning: Optional[Callable[[str], None]] = None,
        helper_timeout: float = HELPER_TIMEOUT_SECONDS,
    ) -> None:
        self._config = docker_config or DockerConfig()
        self._pull_secrets = list(pull_secrets)
        self._on_warning = on_warning or (lambda message: None)
        self._helper_timeout = helper_timeout
        self._helper_cache: Dict[Tuple[str, str], _HelperResult] = {}
        # One lock per (helper, server): the registry client looks up from a thread pool, and two
        # threads asking for one registry must not run the helper twice.
        self._locks: Dict[Tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"CredentialStore(docker_config={self._config.path!r}, "
            f"pull_secrets={[p.label for p in self._pull_secrets]!r})"
        )

    # -- public ---------------------------------------------------------------------------------

    def lookup(self, registry: str) -> List[Credential]:
        """Candidate credentials for `registry` (a reference's registry name), best first.

        Identical credentials from several sources are returned once, from the first source.
        """
        seen = set()
        result = []
        for _, cred in self._resolve(registry):
            if cred is not None and cred._secrets() not in seen:
                seen.add(cred._secrets())
                result.append(cred)
        return result

    def describe_sources(self, registry: str) -> List[str]:
        """Every source consulted for `registry` and what it gave, for 'unauthorized' messages."""
        return [description for description, _ in self._resolve(registry)]

    # -- internals ------------------------------------------------------------------------------

    def _resolve(self, registry: str) -> List[Tuple[str, Optional[Credential]]]:
        out: List[Tuple[str, Optional[Credential]]] = []
        for secret in self._pull_secrets:
            keys = _matching_keys(list(secret.credentials), registry, wildcards=True)
            if not keys:
                out.append((f"pull secret {secret.label} (no entry for {registry})", None))
            for key in keys:
                cred = secret.credentials[key]
                out.append((cred.source, cred))

        cfg = self._config
        cfg_name = f"docker config {cfg.path}" if cfg.path else "docker config (none found)"
        server = _server_url(registry)
        for key in _matching_keys(list(cfg.cred_helpers), registry, wildcards=False)[:1]:
            out.append(self._helper_entry(cfg.cred_helpers[key], server))
        auth_keys = _matching_keys(list(cfg.auths), registry, wildcards=False)
        for key in auth_keys:
            cred = cfg.auths[key]
            out.append((cred.source, cred))
        if not auth_keys:
            out.append((f"{cfg_name} (no auths entry for {registry})", None))
        if cfg.creds_store:
            out.append(self._helper_entry(cfg.creds_store, server))
        return out

    def _helper_entry(self, helper: str, server: str) -> Tuple[str, Optional[Credential]]:
        result = self._run_helper_once(helper, server)
        return (f"credential helper docker-credential-{helper} ({result.outcome})", result.credential)

    def _run_helper_once(self, helper: str, server: str) -> _HelperResult:
        key = (helper, server)
        with self._locks_guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            cached = self._helper_cache.get(key)
            if cached is None:
                cached = self._run_helper(helper, server)
                self._helper_cache[key] = cached
            return cached

    def _run_helper(self, helper: str, server: str) -> _HelperResult:
        program = f"docker-credential-{helper}"
        source = f"credential helper {program}"

        def failed(reason: str) -> _HelperResult:
            self._on_warning(f"{source}: {reason}; going on without it")
            return _HelperResult(None, reason)

        if not _HELPER_NAME.match(helper):
            return failed("not a valid helper name")
        import shutil  # deferred with subprocess: only a configured credential helper needs them
        import subprocess

        executable = shutil.which(program)
        if executable is None:
            return failed("not found on PATH")
        try:
            # A list of arguments and no shell: the server URL goes to stdin, never to a command line.
            proc = subprocess.run(
                [executable, "get"],
                input=server,
                capture_output=True,
                text=True,
                timeout=self._helper_timeout,
                shell=False,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return failed(f"timed out after {self._helper_timeout:g} s")
        except OSError as e:
            return failed(f"could not run ({e.strerror or type(e).__name__})")

        if proc.returncode != 0:
            # Helpers print their error on stdout; "credentials not found" just means nothing stored.
            if _HELPER_NOT_FOUND in proc.stdout.lower() or _HELPER_NOT_FOUND in proc.stderr.lower():
                return _HelperResult(None, f"no credentials for {server}")
            # The helper's own text is not echoed: we cannot know it holds no secret.
            return failed(f"exited with status {proc.returncode}")
        try:
            answer = json.loads(proc.stdout)
        except ValueError:
            return failed("answered something that is not JSON")
        if not isinstance(answer, dict):
            return failed("answered something that is not a JSON object")
        username = answer.get("Username") or None
        secret = answer.get("Secret") or None
        if not (username is None or isinstance(username, str)) or not (secret is None or isinstance(secret, str)):
            return failed("answered Username/Secret that are not strings")
        if secret is None and username is None:
            return _HelperResult(None, f"no credentials for {server}")
        if username == _HELPER_TOKEN_USERNAME:
            cred = Credential(username=None, password=None, identity_token=secret, source=source)
        else:
            cred = Credential(username=username, password=secret, identity_token=None, source=source)
        return _HelperResult(cred, f"credentials for {server}")
