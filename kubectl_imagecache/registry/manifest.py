"""Parsing registry manifests into small types, and the arithmetic of image size.

Pure: bytes in, values out. The registry client does the fetching and the digest checks.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union

from ..errors import DigestMismatch, ImageCacheError, PlatformNotFound, UnsupportedManifest
from .platform import Platform, is_attestation, platform_of
from .reference import Reference

__all__ = [
    "OCI_MANIFEST", "OCI_INDEX", "DOCKER_MANIFEST", "DOCKER_LIST", "ACCEPT",
    "Descriptor", "ImageManifest", "ImageIndex", "ImageInfo", "InspectResult",
    "parse_manifest", "compute_digest", "verify_digest",
]

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
# Sent on every manifest request: schema 1 is deliberately absent so registries convert or refuse.
ACCEPT = ", ".join(IMAGE_TYPES + INDEX_TYPES)


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
        for entry in self.manifests:
            if entry.attestation or entry.platform is None:
                continue
            if want.matches(entry.platform):
                return entry
        have = ", ".join(str(p) for p in self.platforms) or "none"
        raise PlatformNotFound(
            f"no image for platform {want} (available: {have}); choose one with --platform"
        )


Manifest = Union[ImageManifest, ImageIndex]


def compute_digest(body: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def verify_digest(body: bytes, digest: str) -> None:
    algorithm = digest.split(":", 1)[0]
    if algorithm not in ("sha256", "sha512"):
        raise DigestMismatch(f"cannot verify digest {digest}: unsupported algorithm {algorithm}")
    actual = compute_digest(body, algorithm)
    if actual != digest:
        raise DigestMismatch(
            f"registry returned content with digest {actual} for {digest}: refusing it (corrupt or tampered)"
        )


def _descriptor(raw: Any, where: str) -> Descriptor:
    if not isinstance(raw, Mapping):
        raise UnsupportedManifest(f"malformed manifest: {where} is not an object")
    digest, size, media_type = raw.get("digest"), raw.get("size"), raw.get("mediaType", "")
    if not isinstance(digest, str) or ":" not in digest:
        raise UnsupportedManifest(f"malformed manifest: {where} has no valid digest")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UnsupportedManifest(f"malformed manifest: {where} has no valid size")
    return Descriptor(
        media_type=media_type if isinstance(media_type, str) else "",
        digest=digest,
        size=size,
        platform=platform_of(raw),
        attestation=is_attestation(raw),
    )


def parse_manifest(body: bytes, content_type: str = "") -> Manifest:
    """Parse a manifest body, trusting the body's mediaType over the response header."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnsupportedManifest(f"registry returned a manifest that is not JSON ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict):
        raise UnsupportedManifest("registry returned a manifest that is not a JSON object")
    header_type = content_type.split(";", 1)[0].strip()
    media_type = doc.get("mediaType") or header_type
    if doc.get("schemaVersion") == 1 or media_type in _SCHEMA1:
        raise UnsupportedManifest(
            "image uses the obsolete Docker schema 1 manifest format, which ECI cannot cache; "
            "rebuild and push it with a current docker/buildah"
        )
    if not media_type:
        # OCI allows omitting mediaType: the shape tells manifest from index.
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST if "config" in doc else ""
    if media_type in IMAGE_TYPES:
        layers = doc.get("layers")
        if not isinstance(layers, list):
            raise UnsupportedManifest("malformed manifest: layers is not a list")
        return ImageManifest(
            media_type=media_type,
            config=_descriptor(doc.get("config"), "config"),
            layers=tuple(_descriptor(layer, f"layers[{i}]") for i, layer in enumerate(layers)),
        )
    if media_type in INDEX_TYPES:
        entries = doc.get("manifests")
        if not isinstance(entries, list):
            raise UnsupportedManifest("malformed index: manifests is not a list")
        return ImageIndex(
            media_type=media_type,
            manifests=tuple(_descriptor(m, f"manifests[{i}]") for i, m in enumerate(entries)),
        )
    raise UnsupportedManifest(
        f'unsupported manifest media type "{media_type or "none"}": not an OCI or Docker image manifest or index'
    )


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
