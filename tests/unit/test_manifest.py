"""Manifest parsing, platform selection and digest checks: pure, on hand-built documents."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_imagecache.errors import DigestMismatch, NotAnImage, PlatformNotFound, UnsupportedManifest
from kubectl_imagecache.registry.manifest import (
    DOCKER_CONFIG,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    compute_digest,
    parse_config_platform,
    parse_manifest,
    verify_digest,
)
from kubectl_imagecache.registry.platform import Platform, canonical, parse_platform

D = "sha256:" + "a" * 64
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def desc(digest: str = D, size: int = 10, media_type: str = "application/octet-stream", **extra: object) -> dict:
    return {"mediaType": media_type, "digest": digest, "size": size, **extra}


def image(media_type: str = OCI_MANIFEST, config: int = 100, layers: tuple[int, ...] = (1000, 2000),
          config_type: str = OCI_CONFIG, layer_type: str = LAYER, **extra: object) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": media_type,
        "config": desc(size=config, media_type=config_type),
        "layers": [desc("sha256:" + f"{i:064x}", s, layer_type) for i, s in enumerate(layers)],
        **extra,
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
    body = json.dumps({"schemaVersion": 2, "config": desc(media_type=OCI_CONFIG), "layers": []}).encode()
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


def test_variant_must_be_one_the_request_can_run() -> None:
    # containerd: arm/v6 runs v6 and v5, never v7 (the reverse is allowed: see the ordering tests).
    idx = parse_manifest(index([entry("linux", "arm", "v7")]))
    assert isinstance(idx, ImageIndex)
    with pytest.raises(PlatformNotFound, match=r"linux/arm/v6 \(available: linux/arm/v7\)"):
        idx.select(parse_platform("linux/arm/v6"))


def test_no_match_lists_available_platforms_without_attestations() -> None:
    idx = parse_manifest(index([entry("linux", "arm64", "v8"), entry("unknown", "unknown")]))
    assert isinstance(idx, ImageIndex)
    with pytest.raises(PlatformNotFound) as err:
        idx.select(Platform("linux", "amd64"))
    assert "available: linux/arm64/v8)" in err.value.message
    assert "unknown" not in err.value.message
    assert "--platform" in err.value.message


@pytest.mark.parametrize("text", ["", "linux/", "/linux/arm", "a/b/c/d", "linux/amd 64", "linux/*", "linux/&arm",
                                  "linux(%zz)/amd64"])
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


@settings(deadline=None)  # a shared 2-core machine: timing is not what this checks
@given(st.binary(max_size=512))
def test_parse_never_raises_anything_but_unsupported(body: bytes) -> None:
    try:
        parse_manifest(body)
    except UnsupportedManifest:
        pass


# -- choosing the entry containerd would pull (issue 9) ----------------------------------------------

def _pick(entries: list[dict], want: str) -> str:
    idx = parse_manifest(index(entries))
    assert isinstance(idx, ImageIndex)
    return idx.select(parse_platform(want)).digest


def _d(n: int) -> str:
    return "sha256:" + f"{n:064x}"


def test_amd64_never_takes_an_amd64_v3_entry_listed_first() -> None:
    entries = [entry("linux", "amd64", "v3", digest=_d(1)), entry("linux", "amd64", digest=_d(2))]
    assert _pick(entries, "linux/amd64") == _d(2)
    assert _pick(entries, "linux/amd64/v3") == _d(1)  # exact wins over the compatible plain amd64


@pytest.mark.parametrize("want, picked", [
    ("linux/arm", 3), ("linux/arm/v7", 3), ("linux/arm/v6", 2), ("linux/arm/v5", 1), ("linux/arm/v8", 3),
    ("linux/arm64", 3),  # no arm64 entry: containerd runs 32-bit arm on arm64, best variant first
])
def test_arm_follows_containerd_ordering_not_index_order(want: str, picked: int) -> None:
    entries = [entry("linux", "arm", "v5", digest=_d(1)), entry("linux", "arm", "v6", digest=_d(2)),
               entry("linux", "arm", "v7", digest=_d(3))]
    assert _pick(entries, want) == _d(picked)


@pytest.mark.parametrize("declared, want", [
    (("linux", "x86_64", None), "linux/amd64"), (("linux", "aarch64", None), "linux/arm64"),
    (("linux", "armhf", None), "linux/arm/v7"), (("linux", "armel", None), "linux/arm/v6"),
    (("linux", "i386", None), "linux/386"), (("linux", "arm", None), "linux/arm/v7"),
    (("linux", "arm", "v7"), "linux/arm"), (("linux", "arm64", None), "linux/arm64/v8"),
    (("Linux", "AMD64", None), "linux/amd64"),
])
def test_aliases_are_normalized_in_index_entries(declared: tuple, want: str) -> None:
    assert _pick([entry(*declared, digest=_d(7))], want) == _d(7)


@pytest.mark.parametrize("alias, canonical", [("linux/x86_64", "linux/amd64"), ("linux/aarch64", "linux/arm64"),
                                              ("linux/armhf", "linux/arm"), ("linux/armel", "linux/arm/v6"),
                                              ("linux/i386", "linux/386"), ("Linux/x86_64", "linux/amd64")])
def test_aliases_are_normalized_in_the_flag(alias: str, canonical: str) -> None:
    assert str(parse_platform(alias)) == canonical


@pytest.mark.parametrize("spelled, shown", [
    ("linux/x86_64", "linux/amd64"), ("Linux/AMD64", "linux/amd64"), ("linux/aarch64", "linux/arm64"),
    ("linux/aarch64/v8", "linux/arm64/v8"), ("linux/arm64/v8", "linux/arm64/v8"), ("linux/armhf", "linux/arm/v7"),
    ("linux/armel", "linux/arm/v6"), ("linux/arm/7", "linux/arm/v7"), ("linux/i386", "linux/386"),
    ("linux/amd64/v1", "linux/amd64"), ("linux/x86_64/v3", "linux/amd64/v3")])
def test_a_platform_is_shown_with_containerd_s_names(spelled: str, shown: str) -> None:
    os_, arch, *variant = spelled.split("/")
    assert str(canonical(Platform(os_, arch, variant[0] if variant else None))) == shown


def test_amd64_falls_back_to_386_as_containerd_does() -> None:
    assert _pick([entry("linux", "386", digest=_d(1)), entry("linux", "amd64", digest=_d(2))], "linux/amd64") == _d(2)
    assert _pick([entry("linux", "386", digest=_d(1))], "linux/amd64") == _d(1)


def test_entries_without_platform_come_after_every_match_and_are_returned_for_a_config_check() -> None:
    bare = desc(_d(1), 500)
    assert _pick([bare, entry("linux", "amd64", digest=_d(2))], "linux/amd64") == _d(2)
    idx = parse_manifest(index([bare, entry("linux", "arm64", digest=_d(2))]))
    assert isinstance(idx, ImageIndex)
    chosen = idx.select(parse_platform("linux/amd64"))
    assert chosen.digest == _d(1) and chosen.platform is None


def test_os_features_the_node_lacks_never_match() -> None:
    gpu = entry("linux", "amd64", digest=_d(1))
    gpu["platform"]["os.features"] = ["gpu"]
    with pytest.raises(PlatformNotFound):
        _pick([gpu], "linux/amd64")
    assert _pick([gpu, entry("linux", "amd64", digest=_d(2))], "linux(+gpu)/amd64") == _d(1)


def test_malformed_entry_platform_matches_nothing() -> None:
    odd = desc(_d(1), 500, platform={"os": ["linux"], "architecture": 5})
    with pytest.raises(PlatformNotFound):
        _pick([odd], "linux/amd64")


def test_platform_strings_from_the_registry_are_escaped() -> None:
    evil = entry("linux\x1b[2J", "arm64\nerror: forged", digest=_d(1))
    idx = parse_manifest(index([evil]))
    assert isinstance(idx, ImageIndex)
    with pytest.raises(PlatformNotFound) as err:
        idx.select(parse_platform("linux/amd64"))
    assert "\x1b" not in err.value.message and "\n" not in err.value.message
    assert "\\u001b[2J" in err.value.message and "\\nerror: forged" in err.value.message


# -- digests, sizes, JSON and artifacts ---------------------------------------------------------------

@pytest.mark.parametrize("digest", [
    "sha256:x/../../admin/secrets?", "sha256:" + "a" * 63, "sha256:" + "A" * 64, "md5:" + "a" * 32,
    "sha256:" + "a" * 64 + "/", "sha512:" + "a" * 64, "", "sha256", 7,
])
def test_invalid_digests_are_refused_at_parse(digest: object) -> None:
    with pytest.raises(UnsupportedManifest, match="valid digest"):
        parse_manifest(index([desc(digest, 10, platform={"os": "linux", "architecture": "amd64"})]))  # type: ignore[arg-type]
    with pytest.raises(UnsupportedManifest, match="valid digest"):
        parse_manifest(json.dumps({"mediaType": OCI_MANIFEST, "config": desc(digest, 1, OCI_CONFIG),
                                   "layers": []}).encode())


@pytest.mark.parametrize("size", [str(2 ** 63), "1" + "0" * 400, "-1", "1.5", "1e999", "true", '"10"', "null"])
def test_sizes_outside_int64_are_refused(size: str) -> None:
    config = json.dumps(desc(D, 1, OCI_CONFIG))
    body = f'{{"mediaType": "{OCI_MANIFEST}", "config": {config}, "layers": [{{"mediaType": "{LAYER}", ' \
           f'"digest": "{D}", "size": {size}}}]}}'
    with pytest.raises(UnsupportedManifest, match="valid size"):
        parse_manifest(body.encode())


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000])
def test_deeply_nested_json_is_unsupported_not_a_crash(body: bytes) -> None:
    with pytest.raises(UnsupportedManifest, match="not JSON"):
        parse_manifest(body)


@pytest.mark.parametrize("config_type", [
    "application/vnd.cncf.helm.config.v1+json", "application/vnd.oci.empty.v1+json",
    "application/vnd.dev.cosign.artifact.sig.v1+json", "application/vnd.wasm.config.v1+json", "",
])
def test_non_image_artifacts_are_refused(config_type: str) -> None:
    with pytest.raises(NotAnImage, match="not a container image"):
        parse_manifest(image(config_type=config_type))


def test_artifact_type_and_signature_layers_are_refused() -> None:
    with pytest.raises(NotAnImage, match="artifactType"):
        parse_manifest(image(artifactType="application/spdx+json"))
    with pytest.raises(NotAnImage, match="layers"):
        parse_manifest(image(layer_type="application/vnd.dev.cosign.simplesigning.v1+json"))


@pytest.mark.parametrize("config_type", [OCI_CONFIG, DOCKER_CONFIG])
@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_both_image_configs_are_images(media_type: str, config_type: str) -> None:
    assert isinstance(parse_manifest(image(media_type, config_type=config_type,
                                           layer_type="application/vnd.docker.image.rootfs.diff.tar.gzip")),
                      ImageManifest)


@pytest.mark.parametrize("subject", ["sha256:abc", {"digest": "sha256:x/../y", "size": 1}, {"digest": D}, []])
def test_malformed_subject_is_refused(subject: object) -> None:
    with pytest.raises(UnsupportedManifest, match="subject"):
        parse_manifest(image(subject=subject))


def test_valid_subject_is_accepted() -> None:
    assert isinstance(parse_manifest(image(subject=desc(D, 10, OCI_MANIFEST))), ImageManifest)


def test_null_subject_is_absent_as_go_decoders_read_it() -> None:
    assert isinstance(parse_manifest(image(subject=None)), ImageManifest)


def test_legacy_docker_config_type_is_named_as_such_not_as_an_artifact() -> None:
    # Docker before 2016 pushed configs as application/octet-stream (moby/moby#48361).
    with pytest.raises(NotAnImage) as err:
        parse_manifest(image(DOCKER_MANIFEST, config_type="application/octet-stream",
                             layer_type="application/vnd.docker.image.rootfs.diff.tar.gzip"))
    assert "legacy Docker image" in err.value.message and "artifact" not in err.value.message


def test_unknown_media_type_is_escaped() -> None:
    with pytest.raises(UnsupportedManifest) as err:
        parse_manifest(json.dumps({"schemaVersion": 2, "mediaType": "x\r\nerror: forged\x07"}).encode())
    assert "\r" not in err.value.message and "\n" not in err.value.message and "\x07" not in err.value.message


@pytest.mark.parametrize("doc, expected", [
    ({"os": "linux", "architecture": "amd64"}, "linux/amd64"),
    ({"os": "linux", "architecture": "arm64", "variant": "v8"}, "linux/arm64/v8"),
    ({"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1", "os.features": ["win32k"]},
     "windows(10.0.17763.1+win32k)/amd64"),
])
def test_config_platform(doc: dict, expected: str) -> None:
    assert str(parse_config_platform(json.dumps({**doc, "rootfs": {}}).encode())) == expected


@pytest.mark.parametrize("doc", [{}, {"os": "linux"}, {"architecture": "amd64"}, {"os": 1, "architecture": "amd64"}])
def test_config_without_platform_says_none(doc: dict) -> None:
    assert parse_config_platform(json.dumps(doc).encode()) is None


@pytest.mark.parametrize("body", [b"not json", b"[]", b"[" * 100_000])
def test_config_that_is_no_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(UnsupportedManifest, match="image config"):
        parse_config_platform(body)


@pytest.mark.parametrize("digest", ["sha384:" + "0" * 96, "sha512:" + "0" * 128])
def test_every_registered_algorithm_is_verified(digest: str) -> None:
    with pytest.raises(DigestMismatch, match="refusing"):
        verify_digest(b"x", digest)
