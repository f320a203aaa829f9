"""Push real images to a registry through the OCI distribution API, and know what was pushed.

``RegistryClient`` is a deliberately small pusher (requests only) with its own Basic/Bearer
handling, independent of ``kubectl_imagecache``: the tests must not use the code under test
to build their expectations. Every push returns a dataclass holding the values a correct
client must find: the digest a tag points to, the per-platform manifest digests, the size
(config + layers) and the layer digests.

Blob content is pseudo-random but deterministic from a seed string (``random_bytes``), so the
same seed gives the same digest in every run and in every registry, and layers shared between
images really are the same blob.

The standard sample set (``fill_sample_set``), pushed into every registry fixture; sizes are
layer bytes (configs add a few hundred bytes each, see the returned dataclasses)::

    sample/oci-single:1.0      OCI manifest, linux/amd64, layers [base 1 MiB+17, oci-app 200 KiB]
    sample/oci-single:latest   same digest as :1.0 (two tags, one manifest)
    sample/docker-single:1.0   Docker schema-2 manifest, linux/amd64, [base, docker-app 300 KiB, tiny 1 KiB]
    sample/oci-index:1.0       OCI index: linux/amd64 [base, idx-amd64 64 KiB],
                               linux/arm64/v8 [base-arm64 900 KiB, idx-arm64 64 KiB],
                               linux/arm/v7 [base-arm 800 KiB, idx-arm 64 KiB],
                               plus one attestation manifest per platform (unknown/unknown,
                               vnd.docker.reference.type: attestation-manifest)
    sample/docker-list:1.0     Docker manifest list, same three platforms with Docker schema-2
                               children [base / base-arm64 / base-arm, list-* 32 KiB],
                               plus one attestation entry (unknown/unknown) for linux/amd64
    sample/arm-only:1.0        OCI index with linux/arm64/v8 and linux/arm/v7 only (no amd64)
    a/b/c/nested:1.0           OCI manifest, linux/amd64, nested repository path, [base, nested 50 KiB]
    private/secret:1.0         OCI manifest, linux/amd64, [secret 10 KiB]; on the token registry
                               anonymous users may NOT pull ``private/*`` (everything else is public)

``fill_extras`` (pushed too by ``start_registry``): ``many/app:t00..t25`` (one tiny image, 26 tags)
and ``big/app:15g`` (a manifest declaring a 15 GiB layer over a 100-byte blob).

``base`` is shared by oci-single, docker-single, nested and the amd64 entries of both
multi-platform images, so "unique bytes" differ from "total bytes" whenever two of those are
estimated together. Digest references: use ``SampleSet.ref(key, by_digest=True)``.

``fill_many(client, n)`` pushes ``n`` mixed single/multi-platform images for the benchmark.

Distribution 2.8.2 refuses (checked in test_harness.py) schema-1 manifests (the
``compatibility.schema1`` switch is off by default and would also need a libtrust-signed body)
and manifests of unknown media type; ``schema1_manifest`` builds such a body so tests can serve
it through ``FaultProxy.respond`` instead.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence, Union

import requests
import requests.adapters

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
MT_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_IN_TOTO = "application/vnd.in-toto+json"
ACCEPT_ALL = ", ".join([MT_OCI_INDEX, MT_OCI_MANIFEST, MT_DOCKER_LIST, MT_DOCKER_MANIFEST])

KIB = 1024
MIB = 1024 * 1024


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def random_bytes(seed: str, size: int) -> bytes:
    """``size`` incompressible bytes, the same for the same seed (so digests are stable)."""
    return random.Random(seed).randbytes(size)


def canonical_json(obj: object) -> bytes:
    # Fixed key order and separators: the digest of a manifest is the digest of these exact bytes.
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def parse_platform(platform: str) -> dict[str, str]:
    parts = platform.split("/")
    out = {"os": parts[0], "architecture": parts[1]}
    if len(parts) > 2:
        out["variant"] = parts[2]
    return out


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int

    def to_json(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass
class PushedImage:
    """One image manifest in a registry, with the answers a client must compute for it."""

    repo: str
    tag: Optional[str]
    digest: str
    media_type: str
    platform: str
    config: Descriptor
    layers: list[Descriptor]
    body: bytes = field(repr=False)

    @property
    def size(self) -> int:
        """Sizing rule of the project: config.size + sum(layers[].size)."""
        return self.config.size + sum(d.size for d in self.layers)

    @property
    def layer_digests(self) -> list[str]:
        return [d.digest for d in self.layers]

    @property
    def manifest_size(self) -> int:
        return len(self.body)

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.body))


@dataclass
class PushedIndex:
    """An OCI index or Docker manifest list; ``manifests`` maps platform -> its image."""

    repo: str
    tag: Optional[str]
    digest: str
    media_type: str
    manifests: dict[str, PushedImage]
    attestations: list[PushedImage]
    body: bytes = field(repr=False)

    @property
    def platforms(self) -> list[str]:
        return list(self.manifests)

    def for_platform(self, platform: str = "linux/amd64") -> PushedImage:
        return self.manifests[platform]

    def platform_digest(self, platform: str = "linux/amd64") -> str:
        return self.manifests[platform].digest


Pushed = Union[PushedImage, PushedIndex]


MAX_MANIFEST_BYTES = 4 << 20  # Distribution's own limit for a manifest body


class PullError(RuntimeError):
    """A pull the registry refused: ``kind`` is "not found", "unauthorized" or "error"."""

    def __init__(self, kind: str, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.kind, self.status = kind, status


def _check_pull(r: requests.Response, what: str) -> None:
    if r.status_code == 200:
        return
    r.close()
    if r.status_code == 404:
        raise PullError("not found", f"{what}: not found (HTTP 404)", 404)
    if r.status_code in (401, 403):
        raise PullError("unauthorized", f"{what}: unauthorized (HTTP {r.status_code})", r.status_code)
    raise PullError("error", f"{what}: HTTP {r.status_code}", r.status_code)


def _descriptor(d: object) -> Descriptor:
    if not isinstance(d, dict) or not isinstance(d.get("digest"), str) or not isinstance(d.get("size"), int):
        raise ValueError("not a descriptor")
    return Descriptor(str(d.get("mediaType") or ""), d["digest"], d["size"])


@dataclass(frozen=True)
class PulledManifest:
    """An image manifest as a puller resolved it: what the cloud's build instance downloads."""

    repo: str
    reference: str  # as asked: tag or digest
    digest: str  # of the platform's image manifest
    media_type: str
    config: Descriptor
    layers: list[Descriptor]

    @property
    def blobs(self) -> list[Descriptor]:
        return [self.config, *self.layers]

    @property
    def size(self) -> int:
        return self.config.size + sum(d.size for d in self.layers)


def select_platform(entries: Sequence[object], platform: str = "linux/amd64") -> Optional[dict]:
    """The index entry for ``platform`` ("os/arch[/variant]"), or None.

    Deliberately small and written here, not borrowed: exact os and architecture, attestation
    entries (unknown/unknown) never match; a wanted variant must match, and without one the entry
    without a variant wins, then arm64's v8 (the variant arm64 implies), then the first listed.
    """
    want = parse_platform(platform)
    matches = [e for e in entries if isinstance(e, dict) and isinstance(e.get("platform"), dict)
               and isinstance(e.get("digest"), str)
               and e["platform"].get("os") == want["os"] and e["platform"].get("architecture") == want["architecture"]]
    if "variant" in want:
        implied = want["variant"] == "v8" and want["architecture"] == "arm64"
        exact = [e for e in matches if e["platform"].get("variant") == want["variant"]
                 or (implied and not e["platform"].get("variant"))]
        return exact[0] if exact else None
    plain = [e for e in matches if not e["platform"].get("variant")]
    v8 = [e for e in matches if want["architecture"] == "arm64" and e["platform"].get("variant") == "v8"]
    for group in (plain, v8, matches):
        if group:
            return group[0]
    return None


# -- image names and registry credentials, as a puller reads them ----------------------------------

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[A-Fa-f0-9]{32,}$")
_REPO = re.compile(r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$")


@dataclass(frozen=True)
class ImageName:
    """``host/repo[:tag][@digest]`` split the way ``docker pull`` does (Docker Hub by default)."""

    host: str
    repo: str
    tag: Optional[str]
    digest: Optional[str]

    @property
    def reference(self) -> str:
        """What goes into /v2/<repo>/manifests/<reference>: the digest when there is one."""
        return self.digest or self.tag or "latest"

    @property
    def api_host(self) -> str:
        return DOCKER_HUB_API if self.host == DOCKER_HUB else self.host

    def __str__(self) -> str:
        return f"{self.host}/{self.repo}" + (f":{self.tag}" if self.tag else "") + \
            (f"@{self.digest}" if self.digest else "")


def parse_image_name(text: str) -> ImageName:
    """Split an image reference; ValueError for anything a registry could not be asked about."""
    rest, digest = text, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise ValueError(f"invalid digest in {text!r}")
    tag = None
    slash = rest.rfind("/")
    if ":" in rest[slash + 1:]:
        rest, tag = rest.rsplit(":", 1)
        if not _TAG.match(tag):
            raise ValueError(f"invalid tag in {text!r}")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, repo = first, remainder
    else:
        host, repo = DOCKER_HUB, rest
    if host == DOCKER_HUB and "/" not in repo:
        repo = "library/" + repo
    if not _REPO.match(repo):
        raise ValueError(f"invalid repository in {text!r}")
    return ImageName(host, repo, tag if tag or digest else "latest", digest)


def _registry_key(key: str) -> str:
    """docker config keys may be ``https://host/v1/`` or a bare host: the host is what counts."""
    key = key.strip()
    if "://" in key:
        key = key.split("://", 1)[1]
    host = key.split("/", 1)[0].lower()
    return DOCKER_HUB if host in ("index.docker.io", "registry-1.docker.io", "docker.io") else host


def docker_config_logins(data: bytes, *, legacy: bool = False) -> dict[str, tuple[str, str]]:
    """host -> (user, password) from a ``.dockerconfigjson`` (``{"auths": {...}}``) or, with
    ``legacy``, a ``.dockercfg`` (the same entries at top level). ValueError when it is not one."""
    try:
        doc = json.loads(data)
    except ValueError:
        raise ValueError("not JSON") from None
    auths = doc if legacy else (doc.get("auths") if isinstance(doc, dict) else None)
    if not isinstance(auths, dict):
        raise ValueError("no auths map" if not legacy else "not a map of registries")
    logins: dict[str, tuple[str, str]] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            raise ValueError(f"entry {key!r} is not an object")
        user, password = entry.get("username"), entry.get("password")
        if entry.get("auth"):
            try:
                user, _, password = base64.b64decode(str(entry["auth"]), validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ValueError(f"entry {key!r}: auth is not base64 of user:password") from None
        if isinstance(user, str) and isinstance(password, str) and user:
            logins.setdefault(_registry_key(str(key)), (user, password))
    return logins


class PushError(RuntimeError):
    """A push the registry did not accept; carries the response for tests that expect refusals."""

    def __init__(self, message: str, response: Optional[requests.Response] = None) -> None:
        super().__init__(message)
        self.response = response


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryClient:
    """Minimal push/pull client for the harness (Basic, Bearer via realm, or a given token)."""

    def __init__(self, base_url: str, username: Optional[str] = None, password: Optional[str] = None,
                 *, bearer: Optional[str] = None, timeout: float = 30.0, actions: str = "pull,push",
                 verify: bool = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.bearer = bearer
        self.timeout = timeout
        self.actions = actions  # token scope actions: "pull" for a client that only reads
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy from the environment must not intercept loopback tests
        self.session.verify = verify
        # Room for fill_sample_set's parallel pushes without urllib3 discarding connections.
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._tokens: dict[str, str] = {}

    @classmethod
    def for_server(cls, server: object) -> RegistryClient:
        """A client for a ``RegistryServer`` with its first user's credentials (if any)."""
        creds = server.credentials()  # type: ignore[attr-defined]
        return cls(server.url, *(creds or (None, None)))  # type: ignore[attr-defined]

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1]

    # -- auth ------------------------------------------------------------------------------
    def _token_for(self, challenge: str, repo: str) -> str:
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        scope = f"repository:{repo}:{self.actions}"
        if scope in self._tokens:
            return self._tokens[scope]
        auth = (self.username, self.password or "") if self.username is not None else None
        r = self.session.get(params["realm"], params={"service": params.get("service", ""), "scope": scope},
                             auth=auth, timeout=self.timeout)
        if r.status_code != 200:
            raise PushError(f"token service refused ({r.status_code}): {r.text[:200]}", r)
        body = r.json()
        token = body.get("token") or body.get("access_token")
        self._tokens[scope] = token
        return token

    def request(self, method: str, url: str, repo: str, **kw: object) -> requests.Response:
        """Send, answering one 401 challenge (Basic or Bearer) and resending."""
        if not url.startswith("http"):
            url = self.base_url + url
        headers = dict(kw.pop("headers", None) or {})  # type: ignore[call-overload]
        cached = self._tokens.get(f"repository:{repo}:{self.actions}")
        if self.bearer or cached:
            # Send a known token up front: saves the 401 round trip on every request.
            headers["Authorization"] = f"Bearer {self.bearer or cached}"
        kw.setdefault("timeout", self.timeout)
        r = self.session.request(method, url, headers=headers, **kw)  # type: ignore[arg-type]
        if r.status_code == 401 and not self.bearer:
            challenge = r.headers.get("WWW-Authenticate", "")
            if challenge.lower().startswith("bearer"):
                self._tokens.pop(f"repository:{repo}:{self.actions}", None)  # expired or too narrow: ask again
                headers["Authorization"] = "Bearer " + self._token_for(challenge, repo)
            elif challenge.lower().startswith("basic") and self.username is not None:
                # From now on the session sends Basic up front, as docker does after the first 401.
                self.session.auth = (self.username, self.password or "")
            else:
                return r
            r.close()
            r = self.session.request(method, url, headers=headers, **kw)  # type: ignore[arg-type]
        return r

    # -- blobs -----------------------------------------------------------------------------
    def blob_exists(self, repo: str, digest: str) -> bool:
        return self.request("HEAD", f"/v2/{repo}/blobs/{digest}", repo).status_code == 200

    def push_blob(self, repo: str, data: bytes, media_type: str = MT_OCI_LAYER) -> Descriptor:
        """POST an upload session, then PUT the whole blob with ?digest= (monolithic upload)."""
        digest = sha256_digest(data)
        desc = Descriptor(media_type, digest, len(data))
        if self.blob_exists(repo, digest):
            return desc
        r = self.request("POST", f"/v2/{repo}/blobs/uploads/", repo)
        if r.status_code != 202:
            raise PushError(f"upload start for {repo} failed: {r.status_code} {r.text[:200]}", r)
        location = r.headers["Location"]
        if location.startswith("/"):
            location = self.base_url + location
        r = self.request("PUT", location, repo, params={"digest": digest}, data=data,
                         headers={"Content-Type": "application/octet-stream"})
        if r.status_code != 201:
            raise PushError(f"blob PUT for {repo} failed: {r.status_code} {r.text[:200]}", r)
        return desc

    # -- manifests -------------------------------------------------------------------------
    def put_manifest_raw(self, repo: str, reference: str, body: bytes, content_type: str) -> requests.Response:
        return self.request("PUT", f"/v2/{repo}/manifests/{reference}", repo, data=body,
                            headers={"Content-Type": content_type})

    def push_manifest(self, repo: str, reference: str, body: bytes, media_type: str) -> str:
        r = self.put_manifest_raw(repo, reference, body, media_type)
        if r.status_code != 201:
            raise PushError(f"manifest PUT {repo}:{reference} refused: {r.status_code} {r.text[:300]}", r)
        digest = sha256_digest(body)
        returned = r.headers.get("Docker-Content-Digest")
        if returned and returned != digest:
            raise PushError(f"registry says {returned}, body hashes to {digest}", r)
        return digest

    def get_manifest(self, repo: str, reference: str, accept: str = ACCEPT_ALL) -> requests.Response:
        return self.request("GET", f"/v2/{repo}/manifests/{reference}", repo, headers={"Accept": accept})

    def delete_manifest(self, repo: str, digest: str) -> requests.Response:
        return self.request("DELETE", f"/v2/{repo}/manifests/{digest}", repo)

    def tag(self, repo: str, tag: str, pushed: Pushed) -> None:
        """Point another tag (or move an existing one) at an already pushed manifest."""
        self.push_manifest(repo, tag, pushed.body, pushed.media_type)

    # -- pulling (the emulated cloud's build instance) -----------------------------------------
    def _pull_request(self, path: str, repo: str, **kw: object) -> requests.Response:
        try:
            return self.request("GET", path, repo, **kw)
        except PushError as e:  # the token service said no: to a puller that is "unauthorized"
            raise PullError("unauthorized", str(e), e.response.status_code if e.response is not None else None) \
                from None
        except requests.RequestException as e:
            raise PullError("error", f"{self.host} unreachable: {type(e).__name__}") from None

    def pull_manifest(self, repo: str, reference: str) -> tuple[str, str, dict]:
        """(media type, digest, parsed body) of a manifest or index; PullError when it cannot be had."""
        r = self._pull_request(f"/v2/{repo}/manifests/{reference}", repo, headers={"Accept": ACCEPT_ALL})
        _check_pull(r, f"manifest {repo}:{reference}")
        body = r.content
        if len(body) > MAX_MANIFEST_BYTES:
            raise PullError("error", f"manifest {repo}:{reference} is {len(body)} bytes", r.status_code)
        try:
            doc = json.loads(body)
        except ValueError:
            raise PullError("error", f"manifest {repo}:{reference} is not JSON", r.status_code) from None
        if not isinstance(doc, dict):
            raise PullError("error", f"manifest {repo}:{reference} is not a JSON object", r.status_code)
        media_type = (r.headers.get("Content-Type") or doc.get("mediaType") or "").split(";")[0].strip()
        return media_type, sha256_digest(body), doc

    def pull_image(self, repo: str, reference: str, platform: str = "linux/amd64") -> PulledManifest:
        """Resolve ``reference`` to the image manifest for ``platform`` (through an index if need be)."""
        media_type, digest, doc = self.pull_manifest(repo, reference)
        if media_type in (MT_OCI_INDEX, MT_DOCKER_LIST) or "manifests" in doc:
            entry = select_platform(doc.get("manifests") or [], platform)
            if entry is None:
                raise PullError("not found", f"{repo}:{reference} has no {platform} image")
            media_type, digest, doc = self.pull_manifest(repo, str(entry["digest"]))
        if media_type not in (MT_OCI_MANIFEST, MT_DOCKER_MANIFEST):
            raise PullError("error", f"{repo}:{reference}: unsupported manifest type {media_type or '(none)'}")
        try:
            config = _descriptor(doc["config"])
            layers = [_descriptor(d) for d in doc.get("layers") or []]
        except (KeyError, TypeError, ValueError):
            raise PullError("error", f"{repo}:{reference}: malformed image manifest") from None
        return PulledManifest(repo, reference, digest, media_type, config, layers)

    def pull_blob(self, repo: str, digest: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The blob's bytes as they arrive (the caller checks the digest)."""
        r = self._pull_request(f"/v2/{repo}/blobs/{digest}", repo, stream=True)
        try:
            _check_pull(r, f"blob {digest} of {repo}")
            try:
                yield from r.iter_content(chunk_size)
            except requests.RequestException as e:
                raise PullError("error", f"blob {digest} of {repo}: {type(e).__name__}") from None
        finally:
            r.close()

    # -- images ----------------------------------------------------------------------------
    def push_image(self, repo: str, tag: Optional[str], layers: Sequence[bytes], *,
                   platform: str = "linux/amd64", kind: str = "oci",
                   annotations: Optional[dict[str, str]] = None) -> PushedImage:
        """Push layers, a config and a manifest (``kind`` "oci" or "docker"); tag it if ``tag``."""
        if kind not in ("oci", "docker"):
            raise ValueError("kind must be 'oci' or 'docker'")
        layer_mt = MT_OCI_LAYER if kind == "oci" else MT_DOCKER_LAYER
        layer_descs = [self.push_blob(repo, data, layer_mt) for data in layers]
        config_obj = {
            **parse_platform(platform),
            "created": "2024-01-01T00:00:00Z",
            "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": [d.digest for d in layer_descs]},
            "history": [{"created_by": "harness"} for _ in layer_descs],
        }
        config_mt = MT_OCI_CONFIG if kind == "oci" else MT_DOCKER_CONFIG
        config = self.push_blob(repo, canonical_json(config_obj), config_mt)
        media_type = MT_OCI_MANIFEST if kind == "oci" else MT_DOCKER_MANIFEST
        manifest: dict = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": config.to_json(),
            "layers": [d.to_json() for d in layer_descs],
        }
        if annotations and kind == "oci":
            manifest["annotations"] = annotations
        body = canonical_json(manifest)
        digest = self.push_manifest(repo, tag or sha256_digest(body), body, media_type)
        return PushedImage(repo, tag, digest, media_type, platform, config, layer_descs, body)

    def push_attestation(self, repo: str, subject: PushedImage) -> PushedImage:
        """An in-toto attestation manifest like buildx attaches (config platform unknown/unknown)."""
        statement = canonical_json({"_type": "https://in-toto.io/Statement/v0.1",
                                    "predicateType": "https://slsa.dev/provenance/v0.2",
                                    "subject": [{"digest": {"sha256": subject.digest[7:]}}]})
        layer = self.push_blob(repo, statement, MT_IN_TOTO)
        config = self.push_blob(repo, canonical_json({"architecture": "unknown", "os": "unknown", "config": {},
                                                      "rootfs": {"type": "layers",
                                                                 "diff_ids": [layer.digest]}}), MT_OCI_CONFIG)
        manifest = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": config.to_json(),
                    "layers": [{**layer.to_json(),
                                "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}]}
        body = canonical_json(manifest)
        digest = self.push_manifest(repo, sha256_digest(body), body, MT_OCI_MANIFEST)
        return PushedImage(repo, None, digest, MT_OCI_MANIFEST, "unknown/unknown", config, [layer], body)

    def push_index(self, repo: str, tag: Optional[str], platforms: dict[str, Sequence[bytes]], *,
                   kind: str = "oci", attestations: Union[bool, Sequence[str]] = True) -> PushedIndex:
        """Push one image per platform (untagged) and an index (``kind`` "oci") or Docker list ("docker").

        ``attestations``: True = one per platform, a list = for those platforms, False = none.
        """
        children = {p: self.push_image(repo, None, layers, platform=p, kind=kind) for p, layers in platforms.items()}
        wanted = list(platforms) if attestations is True else list(attestations or [])
        atts = [(p, self.push_attestation(repo, children[p])) for p in wanted]
        entries = []
        for p, img in children.items():
            entries.append({**img.descriptor().to_json(), "platform": parse_platform(p)})
        for p, att in atts:
            entries.append({**att.descriptor().to_json(),
                            "platform": {"architecture": "unknown", "os": "unknown"},
                            "annotations": {"vnd.docker.reference.digest": children[p].digest,
                                            "vnd.docker.reference.type": "attestation-manifest"}})
        media_type = MT_OCI_INDEX if kind == "oci" else MT_DOCKER_LIST
        body = canonical_json({"schemaVersion": 2, "mediaType": media_type, "manifests": entries})
        digest = self.push_manifest(repo, tag or sha256_digest(body), body, media_type)
        return PushedIndex(repo, tag, digest, media_type, children, [a for _, a in atts], body)


def schema1_manifest(repo: str, tag: str, *, signed: bool = False) -> tuple[bytes, str]:
    """A Docker schema-1 body and its media type, for serving through ``FaultProxy.respond``.

    Distribution 2.8 will not store one, so the signature is not real; clients must reject
    schema 1 on its media type before looking at signatures anyway.
    """
    body: dict = {
        "schemaVersion": 1, "name": repo, "tag": tag, "architecture": "amd64",
        "fsLayers": [{"blobSum": sha256_digest(b"schema1-layer")}],
        "history": [{"v1Compatibility": json.dumps({"id": "0" * 64, "os": "linux", "architecture": "amd64"})}],
    }
    if signed:
        body["signatures"] = [{"header": {"alg": "ES256"}, "signature": "bm90LXJlYWw", "protected": "e30"}]
    return json.dumps(body, indent=3).encode(), (MT_SCHEMA1_SIGNED if signed else MT_SCHEMA1)


# -- the standard sample set ----------------------------------------------------------------

def _layer(name: str, size: int) -> bytes:
    return random_bytes("imagecache-sample/" + name, size)


@dataclass
class SampleSet:
    """What ``fill_sample_set`` pushed: ``images["repo:tag"]`` -> PushedImage | PushedIndex."""

    host: str
    images: dict[str, Pushed]
    shared_layer: Descriptor  # the "base" layer (OCI media type; the Docker images use the same digest)

    def __getitem__(self, key: str) -> Pushed:
        return self.images[key]

    def ref(self, key: str, *, by_digest: bool = False, host: Optional[str] = None) -> str:
        """Full reference, e.g. ``127.0.0.1:5000/sample/oci-single:1.0`` or ``...@sha256:...``."""
        pushed = self.images[key]
        repo, _, tag = key.rpartition(":")
        where = host or self.host
        return f"{where}/{repo}@{pushed.digest}" if by_digest else f"{where}/{repo}:{tag}"

    def refs(self, *, host: Optional[str] = None) -> list[str]:
        return [self.ref(k, host=host) for k in self.images]


SAMPLE_KEYS = (
    "sample/oci-single:1.0", "sample/oci-single:latest", "sample/docker-single:1.0",
    "sample/oci-index:1.0", "sample/docker-list:1.0", "sample/arm-only:1.0",
    "a/b/c/nested:1.0", "private/secret:1.0",
)
PUBLIC_REPOS = ("sample/*", "a/*")  # token registry: anonymous pull allowed here, not on private/*


def fill_sample_set(client: RegistryClient, *, workers: int = 6) -> SampleSet:
    """Push the standard sample set (module docstring) and return what a client must find.

    Images go up in parallel (``workers``): each push is a dozen small requests that wait on
    the registry's disk writes, so the set takes about 1 s instead of 2.5 s per registry.
    """
    base = _layer("base", MIB + 17)
    base_arm64 = _layer("base-arm64", 900 * KIB)
    base_arm = _layer("base-arm", 800 * KIB)

    jobs: dict[str, Callable[[], Pushed]] = {
        "sample/oci-single:1.0": lambda: client.push_image(
            "sample/oci-single", "1.0", [base, _layer("oci-app", 200 * KIB)], kind="oci"),
        "sample/docker-single:1.0": lambda: client.push_image(
            "sample/docker-single", "1.0", [base, _layer("docker-app", 300 * KIB), _layer("tiny", KIB)],
            kind="docker"),
        "sample/oci-index:1.0": lambda: client.push_index("sample/oci-index", "1.0", {
            "linux/amd64": [base, _layer("idx-amd64", 64 * KIB)],
            "linux/arm64/v8": [base_arm64, _layer("idx-arm64", 64 * KIB)],
            "linux/arm/v7": [base_arm, _layer("idx-arm", 64 * KIB)],
        }, kind="oci", attestations=True),
        "sample/docker-list:1.0": lambda: client.push_index("sample/docker-list", "1.0", {
            "linux/amd64": [base, _layer("list-amd64", 32 * KIB)],
            "linux/arm64/v8": [base_arm64, _layer("list-arm64", 32 * KIB)],
            "linux/arm/v7": [base_arm, _layer("list-arm", 32 * KIB)],
        }, kind="docker", attestations=["linux/amd64"]),
        "sample/arm-only:1.0": lambda: client.push_index("sample/arm-only", "1.0", {
            "linux/arm64/v8": [base_arm64, _layer("armonly-arm64", 16 * KIB)],
            "linux/arm/v7": [base_arm, _layer("armonly-arm", 16 * KIB)],
        }, kind="oci", attestations=False),
        "a/b/c/nested:1.0": lambda: client.push_image("a/b/c/nested", "1.0", [base, _layer("nested", 50 * KIB)]),
        "private/secret:1.0": lambda: client.push_image("private/secret", "1.0", [_layer("secret", 10 * KIB)]),
    }
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        done = {key: f.result() for key, f in futures.items()}

    oci = done["sample/oci-single:1.0"]
    client.tag("sample/oci-single", "latest", oci)
    latest = PushedImage(**{**oci.__dict__, "tag": "latest"})  # type: ignore[arg-type]
    images: dict[str, Pushed] = {k: (latest if k == "sample/oci-single:latest" else done[k]) for k in SAMPLE_KEYS}
    return SampleSet(client.host, images, Descriptor(MT_OCI_LAYER, sha256_digest(base), len(base)))


# Extras for the command tests, pushed with the sample set by ``start_registry``: many distinct
# references (the 20-images-per-cache split) and one manifest too large for a 20 GiB cache.
MANY_REPO, MANY_TAGS = "many/app", 26  # many/app:t00..t25, tags of one tiny image
BIG_REPO, BIG_TAG = "big/app", "15g"  # declares a 15 GiB layer
BIG_LAYER_BYTES = 15 * 2**30


def fill_extras(client: RegistryClient) -> None:
    pushed = client.push_image(MANY_REPO, "t00", [random_bytes("many-app", 2048)])
    for i in range(1, MANY_TAGS):
        client.tag(MANY_REPO, f"t{i:02d}", pushed)
    # Distribution does not check declared sizes: the manifest may claim 15 GiB for a 100-byte blob.
    layer = client.push_blob(BIG_REPO, b"x" * 100)
    config = client.push_blob(BIG_REPO, canonical_json({"architecture": "amd64", "os": "linux", "config": {},
                                                        "rootfs": {"type": "layers", "diff_ids": []}}), MT_OCI_CONFIG)
    body = canonical_json({"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST, "config": config.to_json(),
                           "layers": [{**layer.to_json(), "size": BIG_LAYER_BYTES}]})
    client.push_manifest(BIG_REPO, BIG_TAG, body, MT_OCI_MANIFEST)


def fill_many(client: RegistryClient, n: int = 50, *, multi_every: int = 2, prefix: str = "bench",
              workers: int = 6) -> SampleSet:
    """``n`` images for the benchmark: ``{prefix}/app-NNN:v1``, NNN from 000.

    Every ``multi_every``-th image (i % multi_every == 0; 0 = never) is an OCI index with
    linux/amd64 + linux/arm64/v8 and an attestation; the others alternate OCI and Docker
    single-platform manifests. Each image has a base layer shared with its group of ten
    (256 KiB) and two own layers (8-72 KiB), all deterministic, so runs are comparable.
    """

    def one(i: int) -> Pushed:
        repo = f"{prefix}/app-{i:03d}"
        base = _layer(f"{prefix}-base-{i // 10}", 256 * KIB)
        own = [_layer(f"{prefix}-{i}-a", (8 + i % 32) * KIB), _layer(f"{prefix}-{i}-b", (40 + i % 32) * KIB)]
        if multi_every and i % multi_every == 0:
            arm = [_layer(f"{prefix}-base-arm-{i // 10}", 256 * KIB), _layer(f"{prefix}-{i}-arm", 16 * KIB)]
            return client.push_index(repo, "v1", {"linux/amd64": [base, *own], "linux/arm64/v8": arm},
                                     kind="oci", attestations=["linux/amd64"])
        return client.push_image(repo, "v1", [base, *own], kind="oci" if i % 4 < 2 else "docker")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pushed = list(pool.map(one, range(n)))
    images: dict[str, Pushed] = {f"{prefix}/app-{i:03d}:v1": p for i, p in enumerate(pushed)}
    base0 = _layer(f"{prefix}-base-0", 256 * KIB)
    return SampleSet(client.host, images, Descriptor(MT_OCI_LAYER, sha256_digest(base0), len(base0)))
