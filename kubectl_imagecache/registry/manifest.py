"""Parsing registry manifests into small types, and the arithmetic of image size.

Pure: bytes in, values out. The registry client does the fetching and the digest checks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping  # isinstance on typing.Mapping costs 5x (measured in bench/coverage.py)
from dataclasses import dataclass
from typing import Any, Optional, Union

from ..errors import DigestMismatch, ImageCacheError, NotAnImage, PlatformNotFound, UnsupportedManifest
from ..escape import clean, quote
from .platform import Platform, is_attestation, only, platform_from_config, platform_of
from .reference import DIGEST_HEX_LENGTHS, Reference, is_valid_digest

__all__ = [
    "OCI_MANIFEST", "OCI_INDEX", "DOCKER_MANIFEST", "DOCKER_LIST", "ACCEPT", "OCI_CONFIG", "DOCKER_CONFIG",
    "MAX_MANIFEST_BYTES", "MAX_CONFIG_BYTES",
    "Descriptor", "ImageManifest", "ImageIndex", "Manifest", "ImageInfo", "InspectResult",
    "parse_manifest", "parse_config_platform", "compute_digest", "verify_digest",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
# Either image config in either manifest kind: some builders mix them, and containerd runs both.
IMAGE_CONFIG_TYPES = (OCI_CONFIG, DOCKER_CONFIG)
# What Docker pushed as the config's type before 2016 (moby/moby#48361): an image, but containerd's
# CRI path does not unpack it (containerd/containerd#10628), so ECI cannot run it.
LEGACY_CONFIG = "application/octet-stream"
_LAYER_PREFIXES = ("application/vnd.oci.image.layer.", "application/vnd.docker.image.rootfs.")
# Sent on every manifest request: schema 1 is deliberately absent so registries convert or refuse.
ACCEPT = ", ".join(IMAGE_TYPES + INDEX_TYPES)

# containers/image's limits (internal/iolimits): MaxManifestBodySize and MaxConfigBodySize.
MAX_MANIFEST_BYTES = 4 << 20
MAX_CONFIG_BYTES = 4 << 20
_SIZE_MAX = (1 << 63) - 1  # a descriptor's size is a Go int64


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Optional[Platform] = None
    attestation: bool = False


@dataclass(frozen=True)
class ImageManifest:
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]

    @property
    def size_bytes(self) -> int:
        # The sizing rule: config plus every layer, as the manifest declares them.
        return self.config.size + sum(layer.size for layer in self.layers)


@dataclass(frozen=True)
class ImageIndex:
    media_type: str
    manifests: tuple[Descriptor, ...]

    @property
    def platforms(self) -> list[Platform]:
        return [m.platform for m in self.manifests if m.platform is not None and not m.attestation]

    def select(self, want: Platform) -> Descriptor:
        """The entry containerd pulls for ``want``: its best match, not the first in index order.

        As containerd's images.Manifest: entries without a platform are candidates too, sorted
        after every entry that has one; only the first candidate is taken. When that one has no
        platform, the caller must read its config and check it with ``want`` (containerd does).
        """
        matcher = only(want)
        declared = [e for e in self.manifests if not e.attestation and e.platform is not None]
        best = matcher.best([e.platform for e in declared])  # type: ignore[misc]
        if best is not None:
            return declared[best]
        for entry in self.manifests:
            if entry.platform is None and not entry.attestation:
                return entry
        have = ", ".join(str(p) for p in self.platforms) or "none"
        raise PlatformNotFound(
            f"no image for platform {want} (available: {clean(have, 600)}); choose one with --platform"
        )


Manifest = Union[ImageManifest, ImageIndex]


def compute_digest(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def verify_digest(body: bytes, digest: str) -> None:
    algorithm = digest.split(":", 1)[0]
    if algorithm not in DIGEST_HEX_LENGTHS or not is_valid_digest(digest):
        raise DigestMismatch(f"cannot verify digest {quote(digest, 200)}: not a sha256, sha384 or sha512 digest")
    actual = compute_digest(body, algorithm)
    if actual != digest:
        raise DigestMismatch(
            f"registry returned content with digest {actual} for {digest}: refusing it (corrupt or tampered)"
        )


def _load_json(body: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # RecursionError: "[[[[..." nested deeper than the interpreter's stack.
        raise UnsupportedManifest(f"registry returned {what} that is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise UnsupportedManifest(f"registry returned {what} that is not a JSON object")
    return doc


def _descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, Mapping):
        raise UnsupportedManifest(f"malformed manifest: {where} is not an object")
    digest, size, media_type = raw.get("digest"), raw.get("size"), raw.get("mediaType", "")
    if not isinstance(digest, str) or not is_valid_digest(digest):
        # Validated here, before the digest can become part of a URL or a cache key.
        shown = quote(digest, 80) if isinstance(digest, str) else "none"
        raise UnsupportedManifest(f"malformed manifest: {where} has no valid digest ({shown})")
    if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= _SIZE_MAX:
        raise UnsupportedManifest(f"malformed manifest: {where} has no valid size")
    if not isinstance(media_type, str):
        raise UnsupportedManifest(f"malformed manifest: {where} has a mediaType that is not a string")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=platform_of(raw),
        attestation=is_attestation(raw),
    )


def _refuse_artifacts(doc: Mapping[str, Any], config: Descriptor, layers: tuple[Descriptor, ...]) -> None:
    """containers/image's "non-image artifact" rule, and signatures that borrow an image config."""
    artifact_type = doc.get("artifactType")
    if config.media_type == LEGACY_CONFIG:
        raise NotAnImage(
            f"image config media type is {LEGACY_CONFIG} (a legacy Docker image pushed before 2016), which "
            "containerd cannot unpack on ECI; rebuild it and push it with a current docker/buildah")
    if config.media_type not in IMAGE_CONFIG_TYPES:
        kind = config.media_type or "none"
        raise NotAnImage(
            f"not a container image: its config media type is {quote(kind, 120)} (a non-image OCI artifact such "
            "as a Helm chart, signature or SBOM); ECI caches only images"
        )
    if artifact_type:
        shown = quote(artifact_type, 120) if isinstance(artifact_type, str) else "set"
        raise NotAnImage(f"not a container image: it is an OCI artifact (artifactType {shown}); "
                         "ECI caches only images")
    if layers and not any(layer.media_type.startswith(_LAYER_PREFIXES) for layer in layers):
        raise NotAnImage(
            f"not a container image: none of its layers is a filesystem layer (first: "
            f"{quote(layers[0].media_type or 'none', 120)}), as in a signature or SBOM; ECI caches only images"
        )


def parse_manifest(body: bytes, content_type: str = "") -> Manifest:
    """Parse a manifest body, trusting the body's mediaType over the response header."""
    doc = _load_json(body, "a manifest")
    header_type = content_type.split(";", 1)[0].strip()
    media_type = doc.get("mediaType") or header_type
    if doc.get("schemaVersion") == 1 or media_type in _SCHEMA1:
        raise UnsupportedManifest(
            "image uses the obsolete Docker schema 1 manifest format, which ECI cannot cache; "
            "rebuild and push it with a current docker/buildah"
        )
    if not isinstance(media_type, str):
        raise UnsupportedManifest("malformed manifest: mediaType is not a string")
    if not media_type:
        # OCI allows omitting mediaType: the shape tells manifest from index.
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST if "config" in doc else ""
    if doc.get("subject") is not None:
        # OCI 1.1 referrers: a subject must be a descriptor like any other (null is absent, as in Go).
        _descriptor(doc["subject"], "subject")
    if media_type in IMAGE_TYPES:
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise UnsupportedManifest("malformed manifest: layers is not a list")
        config = _descriptor(doc.get("config"), "config")
        parsed = tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers))
        _refuse_artifacts(doc, config, parsed)
        return ImageManifest(media_type=media_type, config=config, layers=parsed)
    if media_type in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise UnsupportedManifest("malformed index: manifests is not a list")
        return ImageIndex(
            media_type=media_type,
            manifests=tuple(_descriptor(m, f"manifests[{i}]") for i, m in enumerate(entries)),
        )
    raise UnsupportedManifest(
        f"unsupported manifest media type {quote(media_type or 'none', 120)}: "
        "not an OCI or Docker image manifest or index"
    )


def parse_config_platform(body: bytes) -> Optional[Platform]:
    """The platform an image config declares (containerd's images.ConfigPlatform reads the same).

    None when it names no os and architecture (the spec requires both; some builders leave them
    out): containerd then pulls such an image when it is named directly, and never picks it from
    an index, so the caller decides.
    """
    return platform_from_config(_load_json(body, "an image config"))


@dataclass(frozen=True)
class ImageInfo:
    reference: Reference
    digest: str  # what the tag resolves to (for an index, the index's digest)
    media_type: str
    platform_digest: str  # the selected platform manifest's digest
    platform: Platform
    manifest: ImageManifest

    @property
    def size_bytes(self) -> int:
        return self.manifest.size_bytes

    @property
    def blobs(self) -> list[tuple[str, int]]:
        """(digest, size) of config and layers, for counting shared layers once."""
        m = self.manifest
        return [(m.config.digest, m.config.size)] + [(layer.digest, layer.size) for layer in m.layers]


@dataclass(frozen=True)
class InspectResult:
    image: str  # as given
    info: Optional[ImageInfo] = None
    error: Optional[ImageCacheError] = None
