"""What the emulated cloud does with one ImageCache spec: check it, read its pull secrets, pull its images.

The cloud side of the story, written on its own: the rules below are the ECI OpenAPI's (20 images,
20..32768 GiB, 1..65536 days, ``namespace:name`` secrets; eci-imagecache.md), not the plugin's, and
registry access goes through the test OCI client (tests/fakes/oci.py). Nothing here imports
``kubectl_imagecache``: a fake that shared the plugin's registry client or secret parser would agree
with the plugin's bugs.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import threading
from dataclasses import dataclass
from typing import Any, Callable, Optional

from tests.fakes.oci import (
    ImageName,
    PulledManifest,
    PullError,
    RegistryClient,
    docker_config_logins,
    parse_image_name,
)

GIB = 1 << 30
MAX_IMAGES = 20
MIN_GIB, MAX_GIB, DEFAULT_GIB = 20, 32768, 20  # DEFAULT: the documented size when the spec has none
MAX_RETENTION_DAYS = 65536
ARCH_ANNOTATION = "k8s.aliyun.com/imc-cpu-arch"
OS_ANNOTATION = "k8s.aliyun.com/imc-os-type"
PLAIN_HTTP_ANNOTATION = "k8s.aliyun.com/plain-http-registry"
INSECURE_ANNOTATION = "k8s.aliyun.com/insecure-registry"
DOCKER_CONFIG_KEYS = {"kubernetes.io/dockerconfigjson": (".dockerconfigjson", False),
                      "kubernetes.io/dockercfg": (".dockercfg", True)}
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$")


class BuildFailed(Exception):
    """The cache cannot be built: ``event`` names the Warning event, ``reason`` goes into status."""

    def __init__(self, event: str, reason: str) -> None:
        super().__init__(reason)
        self.event, self.reason = event, reason


class Cancelled(Exception):
    """The build was told to stop (object deleted or replaced, emulator stopping)."""


# -- the spec, as the cloud's API checks it ------------------------------------------------------------

def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def size_gib(spec: dict[str, Any]) -> int:
    value = spec.get("imageCacheSize")
    return DEFAULT_GIB if value is None else int(value)


def check_spec(spec: dict[str, Any]) -> None:
    """Refuse what CreateImageCache refuses; the permissive CRD lets all of it through."""
    images = spec.get("images")
    if not isinstance(images, list) or not images or not all(isinstance(i, str) and i for i in images):
        raise BuildFailed("InvalidParameter", "InvalidParameter: spec.images must list 1 to 20 images")
    if len(images) > MAX_IMAGES:
        raise BuildFailed("InvalidParameter",
                          f"InvalidParameter: {len(images)} images; a cache holds at most {MAX_IMAGES}")
    for image in images:
        try:
            parse_image_name(image)
        except ValueError as e:
            raise BuildFailed("InvalidParameter", f"InvalidParameter: image {image!r}: {e}") from None
    if "imageCacheSize" in spec:
        size = _int(spec["imageCacheSize"])
        if size is None or not MIN_GIB <= size <= MAX_GIB:
            raise BuildFailed("InvalidParameter", f"InvalidParameter: imageCacheSize {spec['imageCacheSize']!r} "
                                                  f"GiB is outside {MIN_GIB}..{MAX_GIB}")
    if spec.get("retentionDays") is not None:
        days = _int(spec["retentionDays"])
        if days is None or not 1 <= days <= MAX_RETENTION_DAYS:
            raise BuildFailed("InvalidParameter", f"InvalidParameter: retentionDays {spec['retentionDays']!r} "
                                                  f"is outside 1..{MAX_RETENTION_DAYS}")
    for text in spec.get("imagePullSecrets") or []:
        parse_pull_secret(text)


def parse_pull_secret(text: object) -> tuple[str, str]:
    """``namespace:name`` -> (namespace, name); the cloud has no default namespace."""
    if isinstance(text, str) and text.count(":") == 1:
        namespace, name = text.split(":")
        if _LABEL.match(namespace) and len(namespace) <= 63 and _SUBDOMAIN.match(name) and len(name) <= 253:
            return namespace, name
    raise BuildFailed("PullSecretError", f"pull secret {text!r} is not namespace:name")


# -- pull secrets -------------------------------------------------------------------------------------------

class SecretMissing(Exception):
    pass


# (namespace, name) -> (type, data with base64 values); raises SecretMissing, or anything else for "unreadable"
SecretReader = Callable[[str, str], tuple[str, dict[str, str]]]


def pull_logins(spec: dict[str, Any], read: SecretReader) -> dict[str, tuple[str, str]]:
    """registry host -> (user, password) from every secret of spec.imagePullSecrets (first one wins)."""
    logins: dict[str, tuple[str, str]] = {}
    for text in spec.get("imagePullSecrets") or []:
        namespace, name = parse_pull_secret(text)
        label = f"pull secret {namespace}/{name}"
        try:
            kind, data = read(namespace, name)
        except SecretMissing:
            raise BuildFailed("PullSecretError", f"{label} not found") from None
        except Exception as e:  # noqa: BLE001 - forbidden, unreachable...: the cloud cannot read it either way
            raise BuildFailed("PullSecretError", f"cannot read {label}: {e}") from None
        if kind not in DOCKER_CONFIG_KEYS:
            raise BuildFailed("PullSecretError", f"{label} is of type {kind or '(none)'}, not a docker-config secret")
        key, legacy = DOCKER_CONFIG_KEYS[kind]
        try:
            raw = base64.b64decode((data or {}).get(key) or "", validate=True)
            found = docker_config_logins(raw, legacy=legacy)
        except ValueError as e:
            raise BuildFailed("PullSecretError", f"{label}: {key} unusable ({e})") from None
        for host, login in found.items():
            logins.setdefault(host, login)
    return logins


# -- registries ------------------------------------------------------------------------------------------------

def _hosts(annotations: dict[str, str], key: str) -> frozenset[str]:
    return frozenset(h.strip() for h in str(annotations.get(key) or "").split(",") if h.strip())


def _is_loopback(host: str) -> bool:
    name = host[1:].split("]", 1)[0] if host.startswith("[") else host.split(":", 1)[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def platform_of(annotations: dict[str, str]) -> str:
    """The cache's platform: linux/amd64 unless the cpu-arch / os-type annotations say otherwise."""
    os_type = str(annotations.get(OS_ANNOTATION) or "linux").strip().lower()
    arch = str(annotations.get(ARCH_ANNOTATION) or "amd64").strip().lower()
    return f"{os_type}/{arch}"


@dataclass
class Image:
    name: ImageName
    text: str  # as the spec wrote it
    manifest: PulledManifest


class Puller:
    """One build instance's registry access: a client per registry host, with its login if any."""

    def __init__(self, logins: dict[str, tuple[str, str]], annotations: dict[str, str]) -> None:
        self.logins = logins
        self.plain_http = _hosts(annotations, PLAIN_HTTP_ANNOTATION)
        self.insecure = _hosts(annotations, INSECURE_ANNOTATION)
        self.platform = platform_of(annotations)
        self._clients: dict[str, RegistryClient] = {}

    def client(self, name: ImageName) -> RegistryClient:
        host = name.api_host
        if host not in self._clients:
            http = host in self.plain_http or name.host in self.plain_http or _is_loopback(host)
            user, password = self.logins.get(name.host, (None, None))
            self._clients[host] = RegistryClient(f"{'http' if http else 'https'}://{host}", user, password,
                                                 actions="pull", verify=host not in self.insecure)
        return self._clients[host]

    def resolve(self, text: str) -> Image:
        name = parse_image_name(text)  # check_spec ran first: this parses
        try:
            manifest = self.client(name).pull_image(name.repo, name.reference, self.platform)
        except PullError as e:
            how = {"not found": "not found", "unauthorized": "unauthorized"}.get(e.kind, "cannot be pulled")
            raise BuildFailed("ImagePullFailed", f"image {text} {how}: {e}") from None
        return Image(name, text, manifest)

    def download(self, image: Image, digest: str, size: int, cancel: threading.Event) -> int:
        """Fetch one blob and check it, as the build instance does before it snapshots the disk."""
        algorithm, _, expected = digest.partition(":")
        try:
            h = hashlib.new(algorithm)
        except ValueError:
            raise BuildFailed("ImagePullFailed", f"image {image.text}: blob {digest}: unknown digest") from None
        got = 0
        try:
            for chunk in self.client(image.name).pull_blob(image.name.repo, digest):
                if cancel.is_set():
                    raise Cancelled()
                h.update(chunk)
                got += len(chunk)
                if got > size:
                    break
        except PullError as e:
            raise BuildFailed("ImagePullFailed", f"image {image.text}: {e}") from None
        if got != size or h.hexdigest() != expected:
            raise BuildFailed("ImagePullFailed", f"image {image.text}: blob {digest} is corrupt "
                                                 f"({got} bytes, expected {size})")
        return got

    def close(self) -> None:
        for client in self._clients.values():
            client.session.close()


def distinct_blobs(images: list[Image]) -> dict[str, tuple[int, Image]]:
    """digest -> (size, an image holding it): the build disk holds each blob once."""
    blobs: dict[str, tuple[int, Image]] = {}
    for image in images:
        for d in image.manifest.blobs:
            blobs.setdefault(d.digest, (d.size, image))
    return blobs


def check_size(spec: dict[str, Any], need: int) -> None:
    """The documented rule: the cache must be at least twice the images' size."""
    gib = size_gib(spec)
    if gib * GIB < 2 * need:
        raise BuildFailed("InsufficientCacheSize",
                          f"imageCacheSize {gib} GiB is less than twice the images' size "
                          f"({need} bytes; at least {-(-2 * need // GIB)} GiB needed)")
