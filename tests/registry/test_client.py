"""RegistryClient against the real registry: manifests, platforms, digests, the request budget.

Expectations come from what the harness pushed (tests/fakes/oci.py dataclasses), never from the
code under test. Request counts are taken at the FaultProxy in front of the plain registry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pytest

from kubectl_imagecache.errors import (
    DigestMismatch,
    NotAnImage,
    NotFound,
    PlatformMismatch,
    PlatformNotFound,
    UnsupportedManifest,
)
from kubectl_imagecache.registry.cache import DEFAULT_TTL, MetadataCache
from kubectl_imagecache.registry.client import ClientOptions, ImageInfo, RegistryClient
from kubectl_imagecache.registry.credentials import CredentialStore, load_docker_config
from kubectl_imagecache.registry.manifest import DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST
from kubectl_imagecache.registry.platform import Platform, parse_platform
from kubectl_imagecache.registry.reference import parse_reference
from kubectl_imagecache.registry.transport import TransportOptions
from tests.fakes.faultproxy import FaultProxy
from tests.fakes.oci import (
    KIB,
    PushedImage,
    PushedIndex,
    canonical_json,
    random_bytes,
    schema1_manifest,
    sha256_digest,
)
from tests.fakes.registry import LiveRegistry

# Small numbers everywhere: a mistake must fail in seconds on a 2-core CI machine, not hang.
FAST = TransportOptions(timeout=5.0, retries=1, backoff=0.01, retry_after_cap=1)


def make_client(tmp_path: Path, *, cache: Optional[MetadataCache] = None, ttl: float = DEFAULT_TTL,
                platform: Optional[Platform] = None, transport: TransportOptions = FAST) -> RegistryClient:
    # An explicit empty docker config: the developer's ~/.docker/config.json must not leak in.
    config = tmp_path / "docker-config.json"
    if not config.exists():
        config.write_text(json.dumps({"auths": {}}))
    opts = ClientOptions(ttl=ttl, transport=transport, **({"platform": platform} if platform else {}))
    return RegistryClient(opts, CredentialStore(load_docker_config(str(config))), cache)


def inspect(client: RegistryClient, ref: str, platform: Optional[str] = None) -> ImageInfo:
    return client.inspect(parse_reference(ref), parse_platform(platform) if platform else None)


def assert_image(info: ImageInfo, pushed: PushedImage) -> None:
    assert info.platform_digest == pushed.digest
    assert info.size_bytes == pushed.size
    assert info.manifest.media_type == pushed.media_type
    assert [layer.digest for layer in info.manifest.layers] == pushed.layer_digests
    assert info.blobs == [(pushed.config.digest, pushed.config.size)] + [(d.digest, d.size) for d in pushed.layers]


# -- manifests and platforms -------------------------------------------------------------------

@pytest.mark.parametrize("key, media_type", [
    ("sample/oci-single:1.0", OCI_MANIFEST),
    ("sample/oci-single:latest", OCI_MANIFEST),
    ("sample/docker-single:1.0", DOCKER_MANIFEST),
    ("a/b/c/nested:1.0", OCI_MANIFEST),
])
def test_single_platform_manifest(plain_registry: LiveRegistry, tmp_path: Path, key: str, media_type: str) -> None:
    pushed = plain_registry.samples[key]  # type: ignore[index]
    assert isinstance(pushed, PushedImage)
    info = inspect(make_client(tmp_path), plain_registry.ref(key))
    assert info.digest == pushed.digest
    assert info.media_type == media_type
    assert str(info.platform) == "linux/amd64"
    assert info.reference.repository == key.rpartition(":")[0]
    assert_image(info, pushed)


@pytest.mark.parametrize("key, media_type", [("sample/oci-index:1.0", OCI_INDEX),
                                             ("sample/docker-list:1.0", DOCKER_LIST)])
@pytest.mark.parametrize("asked, entry", [
    (None, "linux/amd64"),  # the default platform
    ("linux/amd64", "linux/amd64"),
    ("linux/arm64", "linux/arm64/v8"),  # no variant asked: arm64 means v8
    ("linux/arm64/v8", "linux/arm64/v8"),
    ("linux/arm/v7", "linux/arm/v7"),
])
def test_index_platform_selection(plain_registry: LiveRegistry, tmp_path: Path, key: str, media_type: str,
                                  asked: Optional[str], entry: str) -> None:
    pushed = plain_registry.samples[key]  # type: ignore[index]
    assert isinstance(pushed, PushedIndex)
    info = inspect(make_client(tmp_path), plain_registry.ref(key), asked)
    # digest is the index's (what the tag resolves to); platform_digest the chosen child's.
    assert info.digest == pushed.digest
    assert info.media_type == media_type
    assert str(info.platform) == entry
    assert_image(info, pushed.for_platform(entry))


def test_client_default_platform_option(plain_registry: LiveRegistry, tmp_path: Path) -> None:
    pushed = plain_registry.samples["sample/oci-index:1.0"]  # type: ignore[index]
    assert isinstance(pushed, PushedIndex)
    client = make_client(tmp_path, platform=Platform("linux", "arm", "v7"))
    info = inspect(client, plain_registry.ref("sample/oci-index:1.0"))
    assert_image(info, pushed.for_platform("linux/arm/v7"))


def test_no_matching_platform_lists_available(plain_registry: LiveRegistry, tmp_path: Path) -> None:
    with pytest.raises(PlatformNotFound) as exc:
        inspect(make_client(tmp_path), plain_registry.ref("sample/arm-only:1.0"))
    msg = str(exc.value)
    assert "linux/amd64" in msg
    assert "linux/arm64/v8" in msg and "linux/arm/v7" in msg
    assert "--platform" in msg


@pytest.mark.parametrize("key", ["sample/oci-index:1.0", "sample/docker-list:1.0"])
def test_attestation_entries_are_never_selected(plain_registry: LiveRegistry, tmp_path: Path, key: str) -> None:
    pushed = plain_registry.samples[key]  # type: ignore[index]
    assert isinstance(pushed, PushedIndex) and pushed.attestations
    # Asking for the attestations' own platform must not pick one: they are not images.
    with pytest.raises(PlatformNotFound) as exc:
        inspect(make_client(tmp_path), plain_registry.ref(key), "unknown/unknown")
    available = str(exc.value).split("available:", 1)[1]
    assert "unknown" not in available
    assert all(p in available for p in pushed.platforms)


def test_attestation_listed_first_is_skipped(plain_registry: LiveRegistry, tmp_path: Path, unique_repo: str) -> None:
    # buildx puts attestations after the images; a client that picks "the first linux entry" by
    # luck must still skip one that comes first and claims linux/amd64 in its annotations only.
    client = plain_registry.client
    image = client.push_image(unique_repo, None, [random_bytes(unique_repo, 3 * KIB)])
    att = client.push_attestation(unique_repo, image)
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {**att.descriptor().to_json(), "platform": {"os": "linux", "architecture": "amd64"},
         "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                         "vnd.docker.reference.digest": image.digest}},
        {**image.descriptor().to_json(), "platform": {"os": "linux", "architecture": "amd64"}},
    ]})
    digest = client.push_manifest(unique_repo, "1.0", body, OCI_INDEX)
    info = inspect(make_client(tmp_path), f"{plain_registry.host}/{unique_repo}:1.0")
    assert info.digest == digest
    assert_image(info, image)


def test_shared_layers_have_the_same_digest(plain_registry: LiveRegistry, tmp_path: Path) -> None:
    s = plain_registry.samples
    assert s is not None
    client = make_client(tmp_path)
    keys = ["sample/oci-single:1.0", "sample/docker-single:1.0", "a/b/c/nested:1.0", "sample/oci-index:1.0",
            "sample/docker-list:1.0"]
    infos = [inspect(client, plain_registry.ref(k)) for k in keys]
    blob_sets = [{d for d, _ in info.blobs} for info in infos]
    common = set.intersection(*blob_sets)
    assert common == {s.shared_layer.digest}
    for info in infos:
        assert (s.shared_layer.digest, s.shared_layer.size) in info.blobs
    # Counting the base layer once is what "unique bytes" means.
    total = sum(info.size_bytes for info in infos)
    unique = sum(dict(b for info in infos for b in info.blobs).values())
    assert total - unique == (len(keys) - 1) * s.shared_layer.size


# -- digest references ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["sample/oci-single:1.0", "sample/docker-single:1.0", "sample/oci-index:1.0",
                                 "sample/docker-list:1.0", "a/b/c/nested:1.0"])
def test_digest_reference(plain_registry: LiveRegistry, tmp_path: Path, key: str) -> None:
    pushed = plain_registry.samples[key]  # type: ignore[index]
    info = inspect(make_client(tmp_path), plain_registry.ref(key, by_digest=True))
    assert info.digest == pushed.digest
    assert info.reference.tag is None
    child = pushed.for_platform() if isinstance(pushed, PushedIndex) else pushed
    assert_image(info, child)


def test_tag_and_digest_the_digest_wins(plain_registry: LiveRegistry, tmp_path: Path, unique_repo: str) -> None:
    client = plain_registry.client
    tagged = client.push_image(unique_repo, "1.0", [random_bytes(unique_repo + "/a", 2 * KIB)])
    other = client.push_image(unique_repo, None, [random_bytes(unique_repo + "/b", 5 * KIB)])
    assert tagged.digest != other.digest
    info = inspect(make_client(tmp_path), f"{plain_registry.host}/{unique_repo}:1.0@{other.digest}")
    assert info.digest == other.digest
    assert_image(info, other)


def test_digest_reference_to_a_platform_manifest(plain_registry: LiveRegistry, tmp_path: Path) -> None:
    # A child of an index, named directly, is a single-platform image: its config says which.
    pushed = plain_registry.samples["sample/oci-index:1.0"]  # type: ignore[index]
    assert isinstance(pushed, PushedIndex)
    child = pushed.for_platform("linux/arm/v7")
    ref = f"{plain_registry.host}/sample/oci-index@{child.digest}"
    info = inspect(make_client(tmp_path), ref, "linux/arm/v7")
    assert_image(info, child)
    assert str(info.platform) == "linux/arm/v7"
    # Asked for the default linux/amd64, it is refused naming both, never sized as amd64.
    with pytest.raises(PlatformMismatch) as exc:
        inspect(make_client(tmp_path), ref)
    assert "linux/arm/v7" in exc.value.message and "linux/amd64" in exc.value.message


@pytest.mark.parametrize("key", ["sample/oci-single:1.0", "sample/docker-single:1.0"])
def test_single_platform_image_of_another_platform_is_an_error(plain_registry: LiveRegistry, tmp_path: Path,
                                                               key: str) -> None:
    with pytest.raises(PlatformMismatch) as exc:
        inspect(make_client(tmp_path), plain_registry.ref(key), "linux/arm64")
    assert "linux/amd64" in exc.value.message and "linux/arm64" in exc.value.message
    assert "--platform linux/amd64" in exc.value.message


def test_single_platform_amd64_image_serves_a_386_request_no_more(plain_registry: LiveRegistry,
                                                                 tmp_path: Path) -> None:
    # containerd: amd64 runs 386 images, not the reverse.
    with pytest.raises(PlatformMismatch):
        inspect(make_client(tmp_path), plain_registry.ref("sample/oci-single:1.0"), "linux/386")
    assert str(inspect(make_client(tmp_path), plain_registry.ref("sample/oci-single:1.0"), "linux/x86_64").platform) \
        == "linux/amd64"


def test_index_entry_without_platform_is_judged_by_its_config(plain_registry: LiveRegistry, tmp_path: Path,
                                                               unique_repo: str) -> None:
    client = plain_registry.client
    arm = client.push_image(unique_repo, None, [random_bytes(unique_repo + "/arm", 2 * KIB)], platform="linux/arm64/v8")
    amd = client.push_image(unique_repo, None, [random_bytes(unique_repo + "/amd", 3 * KIB)])
    # No platform on either entry: containerd reads the configs (first candidate in index order).
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        amd.descriptor().to_json(), arm.descriptor().to_json()]})
    client.push_manifest(unique_repo, "bare", body, OCI_INDEX)
    ref = f"{plain_registry.host}/{unique_repo}:bare"
    info = inspect(make_client(tmp_path), ref)
    assert_image(info, amd)
    assert str(info.platform) == "linux/amd64"
    # The first candidate is amd64: containerd finds no match for arm64 there, and nor do we.
    with pytest.raises(PlatformNotFound) as exc:
        inspect(make_client(tmp_path), ref, "linux/arm64")
    assert "linux/amd64" in exc.value.message
    # An entry that does declare its platform wins over ones that do not.
    body2 = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        amd.descriptor().to_json(),
        {**arm.descriptor().to_json(), "platform": {"os": "linux", "architecture": "arm64"}}]})
    client.push_manifest(unique_repo, "mixed", body2, OCI_INDEX)
    assert_image(inspect(make_client(tmp_path), f"{plain_registry.host}/{unique_repo}:mixed", "linux/arm64"), arm)


def test_best_match_not_first_in_index_order(plain_registry: LiveRegistry, tmp_path: Path, unique_repo: str) -> None:
    client = plain_registry.client
    v3 = client.push_image(unique_repo, None, [random_bytes(unique_repo + "/v3", 2 * KIB)], platform="linux/amd64/v3")
    plain = client.push_image(unique_repo, None, [random_bytes(unique_repo + "/v1", 3 * KIB)])
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {**v3.descriptor().to_json(), "platform": {"os": "linux", "architecture": "amd64", "variant": "v3"}},
        {**plain.descriptor().to_json(), "platform": {"os": "linux", "architecture": "amd64"}}]})
    client.push_manifest(unique_repo, "1.0", body, OCI_INDEX)
    ref = f"{plain_registry.host}/{unique_repo}:1.0"
    assert_image(inspect(make_client(tmp_path), ref), plain)
    assert_image(inspect(make_client(tmp_path), ref, "linux/amd64/v3"), v3)


def test_helm_chart_is_refused_as_not_an_image(plain_registry: LiveRegistry, tmp_path: Path,
                                              unique_repo: str) -> None:
    client = plain_registry.client
    config = client.push_blob(unique_repo, b"{}", "application/vnd.cncf.helm.config.v1+json")
    chart = client.push_blob(unique_repo, random_bytes(unique_repo, KIB),
                             "application/vnd.cncf.helm.chart.content.v1.tar+gzip")
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(),
                           "layers": [chart.to_json()]})
    client.push_manifest(unique_repo, "0.1.0", body, OCI_MANIFEST)
    cache = MetadataCache(tmp_path / "cache")
    with pytest.raises(NotAnImage) as exc:
        inspect(make_client(tmp_path, cache=cache), f"{plain_registry.host}/{unique_repo}:0.1.0")
    assert "application/vnd.cncf.helm.config.v1+json" in exc.value.message
    assert cache.get_tag(plain_registry.host, unique_repo, "0.1.0") is None


# -- not found -------------------------------------------------------------------------------------

def test_missing_repository_says_repository(plain_registry: LiveRegistry, tmp_path: Path) -> None:
    with pytest.raises(NotFound) as exc:
        inspect(make_client(tmp_path), f"{plain_registry.host}/sample/no-such-repo:1.0")
    msg = str(exc.value)
    assert "repository" in msg and "sample/no-such-repo" in msg
    assert "tag" not in msg.split(";")[0]


def test_missing_tag_says_tag(plain_registry: LiveRegistry, tmp_path: Path) -> None:
    with pytest.raises(NotFound) as exc:
        inspect(make_client(tmp_path), f"{plain_registry.host}/sample/oci-single:9.9")
    msg = str(exc.value)
    assert "tag 9.9 not found" in msg and "sample/oci-single" in msg


def test_missing_digest_says_digest(plain_registry: LiveRegistry, tmp_path: Path) -> None:
    missing = sha256_digest(b"never pushed")
    with pytest.raises(NotFound) as exc:
        inspect(make_client(tmp_path), f"{plain_registry.host}/sample/oci-single@{missing}")
    assert missing in str(exc.value)


# -- refused content (canned answers through the proxy) ------------------------------------------

@pytest.mark.parametrize("signed", [False, True])
def test_schema1_is_refused(fault_proxy: FaultProxy, tmp_path: Path, signed: bool) -> None:
    body, media_type = schema1_manifest("sample/old", "1.0", signed=signed)
    fault_proxy.respond(r"/v2/sample/old/manifests/1\.0$", headers={
        "Content-Type": media_type, "Docker-Content-Digest": sha256_digest(body)}, body=body)
    cache = MetadataCache(tmp_path / "cache")
    with pytest.raises(UnsupportedManifest) as exc:
        inspect(make_client(tmp_path, cache=cache), f"{fault_proxy.host}/sample/old:1.0")
    assert "schema 1" in str(exc.value)
    assert cache.get_manifest(sha256_digest(body)) is None
    assert cache.get_tag(fault_proxy.host, "sample/old", "1.0") is None


def test_unknown_media_type_is_refused(fault_proxy: FaultProxy, tmp_path: Path) -> None:
    mt = "application/vnd.example.thing.v1+json"
    body = canonical_json({"schemaVersion": 2, "mediaType": mt, "blobs": []})
    fault_proxy.respond(r"/v2/sample/odd/manifests/1\.0$", headers={"Content-Type": mt}, body=body)
    with pytest.raises(UnsupportedManifest) as exc:
        inspect(make_client(tmp_path), f"{fault_proxy.host}/sample/odd:1.0")
    assert mt in str(exc.value)


def test_wrong_body_by_digest_is_refused_and_not_cached(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                                         tmp_path: Path) -> None:
    s = plain_registry.samples
    assert s is not None
    wanted = s["sample/oci-single:1.0"]
    impostor = s["sample/docker-single:1.0"]
    # A valid manifest, just not the one asked for: only the digest check can catch it.
    fault_proxy.respond(f"/manifests/{wanted.digest}$", headers={"Content-Type": impostor.media_type},
                        body=impostor.body)
    cache = MetadataCache(tmp_path / "cache")
    with pytest.raises(DigestMismatch) as exc:
        inspect(make_client(tmp_path, cache=cache), f"{fault_proxy.host}/sample/oci-single@{wanted.digest}")
    assert wanted.digest in str(exc.value)
    assert cache.get_manifest(wanted.digest) is None
    assert cache.get_manifest(impostor.digest) is None


def test_wrong_index_child_is_refused_and_not_cached(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                                      tmp_path: Path) -> None:
    # The second GET of a multi-platform image is by digest too: a swapped child must be caught.
    index = plain_registry.samples["sample/oci-index:1.0"]  # type: ignore[index]
    assert isinstance(index, PushedIndex)
    amd64, arm = index.for_platform("linux/amd64"), index.for_platform("linux/arm/v7")
    fault_proxy.respond(f"/manifests/{amd64.digest}$", headers={"Content-Type": arm.media_type}, body=arm.body)
    cache = MetadataCache(tmp_path / "cache")
    with pytest.raises(DigestMismatch):
        inspect(make_client(tmp_path, cache=cache), f"{fault_proxy.host}/sample/oci-index:1.0")
    assert cache.get_manifest(amd64.digest) is None
    assert cache.get_manifest(arm.digest) is None


def test_tag_with_lying_digest_header_is_refused_and_not_cached(plain_registry: LiveRegistry,
                                                                 fault_proxy: FaultProxy, tmp_path: Path) -> None:
    s = plain_registry.samples
    assert s is not None
    claimed = s["sample/oci-single:1.0"]
    served = s["sample/docker-single:1.0"]
    fault_proxy.respond(r"/v2/sample/oci-single/manifests/1\.0$", methods="GET", headers={
        "Content-Type": served.media_type, "Docker-Content-Digest": claimed.digest}, body=served.body)
    cache = MetadataCache(tmp_path / "cache")
    with pytest.raises(DigestMismatch):
        inspect(make_client(tmp_path, cache=cache), f"{fault_proxy.host}/sample/oci-single:1.0")
    assert cache.get_manifest(claimed.digest) is None
    assert cache.get_manifest(served.digest) is None
    assert cache.get_tag(fault_proxy.host, "sample/oci-single", "1.0") is None
    # Once the registry behaves again, the truth comes through (nothing poisoned meanwhile).
    fault_proxy.reset()
    info = inspect(make_client(tmp_path, cache=cache), f"{fault_proxy.host}/sample/oci-single:1.0")
    assert info.digest == claimed.digest


# -- request budget ------------------------------------------------------------------------------

def test_cold_single_platform_costs_manifest_and_config(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                                        tmp_path: Path) -> None:
    pushed = plain_registry.samples["sample/docker-single:1.0"]  # type: ignore[index]
    assert isinstance(pushed, PushedImage)
    info = inspect(make_client(tmp_path), f"{fault_proxy.host}/sample/docker-single:1.0")
    assert info.digest == pushed.digest
    assert fault_proxy.counts_by_method() == {"GET": 2}
    assert fault_proxy.count(pattern=r"/manifests/1\.0$") == 1
    assert fault_proxy.count(pattern=f"/blobs/{pushed.config.digest}$") == 1


@pytest.mark.parametrize("key", ["sample/oci-index:1.0", "sample/docker-list:1.0"])
def test_cold_multi_platform_costs_two_gets(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                            tmp_path: Path, key: str) -> None:
    pushed = plain_registry.samples[key]  # type: ignore[index]
    assert isinstance(pushed, PushedIndex)
    repo = key.rpartition(":")[0]
    info = inspect(make_client(tmp_path), f"{fault_proxy.host}/{key}", "linux/arm64")
    assert info.platform_digest == pushed.platform_digest("linux/arm64/v8")
    assert fault_proxy.counts_by_method() == {"GET": 2}
    assert fault_proxy.count(pattern=f"/v2/{repo}/manifests/{pushed.platform_digest('linux/arm64/v8')}$") == 1


@pytest.mark.parametrize("key", ["sample/oci-single:1.0", "sample/oci-index:1.0"])
def test_warm_cache_within_ttl_costs_nothing(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                             tmp_path: Path, key: str) -> None:
    cache = MetadataCache(tmp_path / "cache")
    ref = f"{fault_proxy.host}/{key}"
    first = inspect(make_client(tmp_path, cache=cache), ref)
    fault_proxy.reset()
    # A new client (a new process, in effect) sharing only the disk cache.
    second = inspect(make_client(tmp_path, cache=MetadataCache(tmp_path / "cache")), ref)
    assert fault_proxy.count() == 0
    assert second == first


@pytest.mark.parametrize("key", ["sample/oci-single:1.0", "sample/docker-list:1.0"])
def test_expired_ttl_costs_one_head(plain_registry: LiveRegistry, fault_proxy: FaultProxy, tmp_path: Path,
                                    key: str) -> None:
    cache = MetadataCache(tmp_path / "cache")
    ref = f"{fault_proxy.host}/{key}"
    first = inspect(make_client(tmp_path, cache=cache), ref)
    fault_proxy.reset()
    second = inspect(make_client(tmp_path, cache=cache, ttl=0), ref)
    assert fault_proxy.counts_by_method() == {"HEAD": 1}
    assert second == first


def test_moved_tag_after_expiry_gives_the_new_digest(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                                      tmp_path: Path, unique_repo: str) -> None:
    pusher = plain_registry.client
    old = pusher.push_image(unique_repo, "stable", [random_bytes(unique_repo + "/old", 4 * KIB)])
    cache = MetadataCache(tmp_path / "cache")
    ref = f"{fault_proxy.host}/{unique_repo}:stable"
    assert inspect(make_client(tmp_path, cache=cache), ref).digest == old.digest

    new = pusher.push_image(unique_repo, "stable", [random_bytes(unique_repo + "/new", 6 * KIB)])
    # Within the TTL the cached answer stands (that is what a TTL means)...
    assert inspect(make_client(tmp_path, cache=cache), ref).digest == old.digest
    fault_proxy.reset()
    # ...once expired, one HEAD sees the move and two GETs fetch the new manifest and its config.
    info = inspect(make_client(tmp_path, cache=cache, ttl=0), ref)
    assert info.digest == new.digest
    assert_image(info, new)
    assert fault_proxy.counts_by_method() == {"HEAD": 1, "GET": 2}
    fault_proxy.reset()
    # And the new mapping is what the cache now holds.
    assert inspect(make_client(tmp_path, cache=cache), ref).digest == new.digest
    assert fault_proxy.count() == 0


def test_digest_reference_cached_forever(plain_registry: LiveRegistry, fault_proxy: FaultProxy,
                                         tmp_path: Path) -> None:
    # Content addressed by digest never changes: even ttl=0 must not ask again.
    cache = MetadataCache(tmp_path / "cache")
    ref = f"{fault_proxy.host}/sample/docker-list@{plain_registry.samples['sample/docker-list:1.0'].digest}"  # type: ignore[index]
    inspect(make_client(tmp_path, cache=cache), ref)
    assert fault_proxy.counts_by_method() == {"GET": 2}
    fault_proxy.reset()
    inspect(make_client(tmp_path, cache=cache, ttl=0), ref)
    assert fault_proxy.count() == 0


# -- concurrency ---------------------------------------------------------------------------------

def _summary(results: list) -> list[tuple]:
    out = []
    for r in results:
        if r.info is not None:
            out.append((r.image, r.info.digest, r.info.platform_digest, r.info.size_bytes, str(r.info.platform)))
        else:
            assert r.error is not None
            out.append((r.image, type(r.error).__name__, str(r.error)))
    return out


def test_inspect_many_concurrent_equals_sequential(plain_registry: LiveRegistry, tmp_path: Path) -> None:
    s = plain_registry.samples
    assert s is not None
    refs = s.refs() + [f"{s.host}/sample/oci-single:nope", f"{s.host}/sample/absent:1.0"]
    items = [(r, parse_reference(r)) for r in refs]
    seq = make_client(tmp_path, transport=TransportOptions(**{**FAST.__dict__, "concurrency": 1}))
    par = make_client(tmp_path, transport=TransportOptions(**{**FAST.__dict__, "concurrency": 8}))
    sequential, concurrent = seq.inspect_many(items), par.inspect_many(items)
    assert _summary(concurrent) == _summary(sequential)
    by_image = {r.image: r for r in concurrent}
    # Order is kept, failures stay with their own image and do not stop the others.
    assert [r.image for r in concurrent] == refs
    for key in s.images:
        r = by_image[s.ref(key)]
        if key == "sample/arm-only:1.0":
            assert isinstance(r.error, PlatformNotFound)
        else:
            assert r.info is not None and r.info.digest == s[key].digest
    assert isinstance(by_image[f"{s.host}/sample/oci-single:nope"].error, NotFound)
    assert isinstance(by_image[f"{s.host}/sample/absent:1.0"].error, NotFound)


def test_config_naming_no_platform(plain_registry: LiveRegistry, tmp_path: Path, unique_repo: str) -> None:
    # containerd pulls an image named directly without looking at its config, and never picks a
    # platformless index entry whose config names no platform: so do we.
    client = plain_registry.client
    layer = client.push_blob(unique_repo, random_bytes(unique_repo, KIB))
    config = client.push_blob(unique_repo, b"{}", "application/vnd.oci.image.config.v1+json")
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.to_json(),
                           "layers": [layer.to_json()]})
    digest = client.push_manifest(unique_repo, "bare", body, OCI_MANIFEST)
    info = inspect(make_client(tmp_path), f"{plain_registry.host}/{unique_repo}:bare", "linux/arm64")
    assert info.digest == digest and str(info.platform) == "linux/arm64"
    index = canonical_json({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body)}]})
    client.push_manifest(unique_repo, "index", index, OCI_INDEX)
    with pytest.raises(PlatformNotFound, match="names no platform"):
        inspect(make_client(tmp_path), f"{plain_registry.host}/{unique_repo}:index")
