"""Manifest parsing, platform selection and digest checks: pure, on hand-built documents."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubectl_imagecache.errors import DigestMismatch, PlatformNotFound, UnsupportedManifest
from kubectl_imagecache.registry.manifest import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    compute_digest,
    parse_manifest,
    verify_digest,
)
from kubectl_imagecache.registry.platform import Platform, parse_platform

D = "sha256:" + "a" * 64


def desc(digest: str = D, size: int = 10, **extra: object) -> dict:
    return {"mediaType": "application/octet-stream", "digest": digest, "size": size, **extra}


def image(media_type: str = OCI_MANIFEST, config: int = 100, layers: tuple[int, ...] = (1000, 2000)) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "config": desc(size=config),
        "layers": [desc("sha256:" + f"{i:064x}", s) for i, s in enumerate(layers)],
    }).encode()


def index(entries: list[dict], media_type: str = OCI_INDEX) -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": media_type, "manifests": entries}).encode()


def entry(os_: str, arch: str, variant: str | None = None, digest: str = D, **extra: object) -> dict:
    platform = {"os": os_, "architecture": arch, **({"variant": variant} if variant else {})}
    return desc(digest, 500, platform=platform, **extra)


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_image_size_is_config_plus_layers(media_type: str) -> None:
    m = parse_manifest(image(media_type, 100, (1000, 2000)))
    assert isinstance(m, ImageManifest)
    assert m.size_bytes == 3100
    assert len(m.layers) == 2
    assert m.media_type == media_type


def test_media_type_from_header_when_body_has_none() -> None:
    body = json.dumps({"schemaVersion": 2, "config": desc(), "layers": []}).encode()
    assert isinstance(parse_manifest(body, DOCKER_MANIFEST + "; charset=utf-8"), ImageManifest)
    # OCI lets mediaType be omitted altogether: the shape decides.
    assert isinstance(parse_manifest(body, ""), ImageManifest)


@pytest.mark.parametrize("doc", [
    {"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []},
    {"mediaType": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
])
def test_schema1_is_refused_clearly(doc: dict) -> None:
    with pytest.raises(UnsupportedManifest, match="schema 1"):
        parse_manifest(json.dumps(doc).encode())


def test_unknown_media_type_is_named() -> None:
    with pytest.raises(UnsupportedManifest, match="application/vnd.example"):
        parse_manifest(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.example"}).encode())


@pytest.mark.parametrize("body", [b"not json", b"[]", json.dumps({"mediaType": OCI_MANIFEST, "layers": "x"}).encode(),
                                  json.dumps({"mediaType": OCI_MANIFEST, "config": {"digest": D, "size": -1},
                                              "layers": []}).encode()])
def test_malformed_bodies_raise_unsupported(body: bytes) -> None:
    with pytest.raises(UnsupportedManifest):
        parse_manifest(body)


@pytest.mark.parametrize("media_type", [OCI_INDEX, DOCKER_LIST])
def test_index_selects_default_platform_and_skips_attestations(media_type: str) -> None:
    amd = "sha256:" + "1" * 64
    body = index([
        entry("unknown", "unknown", digest="sha256:" + "9" * 64,
              annotations={"vnd.docker.reference.type": "attestation-manifest"}),
        entry("linux", "arm64", "v8", digest="sha256:" + "2" * 64),
        entry("linux", "amd64", digest=amd),
    ], media_type)
    idx = parse_manifest(body)
    assert isinstance(idx, ImageIndex)
    assert idx.select(Platform("linux", "amd64")).digest == amd
    assert [str(p) for p in idx.platforms] == ["linux/arm64/v8", "linux/amd64"]


def test_arm64_variant_defaults_to_v8_both_ways() -> None:
    idx = parse_manifest(index([entry("linux", "arm64")]))
    assert isinstance(idx, ImageIndex)
    assert idx.select(parse_platform("linux/arm64/v8"))
    idx2 = parse_manifest(index([entry("linux", "arm64", "v8")]))
    assert isinstance(idx2, ImageIndex)
    assert idx2.select(parse_platform("linux/arm64"))


def test_variant_must_match_when_asked() -> None:
    idx = parse_manifest(index([entry("linux", "arm", "v6")]))
    assert isinstance(idx, ImageIndex)
    with pytest.raises(PlatformNotFound, match=r"linux/arm/v7 \(available: linux/arm/v6\)"):
        idx.select(parse_platform("linux/arm/v7"))


def test_no_match_lists_available_platforms_without_attestations() -> None:
    idx = parse_manifest(index([entry("linux", "arm64", "v8"), entry("unknown", "unknown")]))
    assert isinstance(idx, ImageIndex)
    with pytest.raises(PlatformNotFound) as err:
        idx.select(Platform("linux", "amd64"))
    assert "available: linux/arm64/v8)" in err.value.message
    assert "unknown" not in err.value.message
    assert "--platform" in err.value.message


@pytest.mark.parametrize("text", ["linux", "linux/", "Linux/amd64", "a/b/c/d", "linux/amd 64"])
def test_bad_platform_flags(text: str) -> None:
    from kubectl_imagecache.errors import UsageError

    with pytest.raises(UsageError, match="OS/ARCH"):
        parse_platform(text)


@given(st.binary(max_size=256))
def test_digest_round_trip(body: bytes) -> None:
    verify_digest(body, compute_digest(body))
    verify_digest(body, compute_digest(body, "sha512"))


@given(st.binary(min_size=1, max_size=64))
def test_any_change_is_a_mismatch(body: bytes) -> None:
    digest = compute_digest(body)
    with pytest.raises(DigestMismatch):
        verify_digest(body + b"x", digest)


@given(st.binary(max_size=512))
def test_parse_never_raises_anything_but_unsupported(body: bytes) -> None:
    try:
        parse_manifest(body)
    except UnsupportedManifest:
        pass
