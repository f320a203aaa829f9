"""The emulated cloud controller against a real API server and a real registry."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from kubectl_imagecache.registry.client import ClientOptions, RegistryClient
from tests.fakes import oci
from tests.fakes.controlplane import GROUP, PLURAL, VERSION, imagecache, unique_name
from tests.fakes.emulator.emulator import Emulator, EmulatorOptions, parse_time
from tests.fakes.registry import RegistryServer

PULLER = ("puller", "pull-s3cret")


@pytest.fixture(scope="module")
def registry() -> Iterator[tuple[RegistryServer, oci.SampleSet]]:
    with RegistryServer() as server:
        client = oci.RegistryClient.for_server(server)
        samples = oci.fill_sample_set(client)
        # A manifest that declares an 11 GiB layer (Distribution does not check declared sizes):
        # the only way to have a cache of the minimum 20 GiB be "less than twice the images' size".
        layer = client.push_blob("big/app", b"x" * 100)
        config = client.push_blob("big/app", b"{}", oci.MT_OCI_CONFIG)
        body = oci.canonical_json({"schemaVersion": 2, "mediaType": oci.MT_OCI_MANIFEST, "config": config.to_json(),
                                   "layers": [{**layer.to_json(), "size": 11 * 2**30}]})
        client.push_manifest("big/app", "1.0", body, oci.MT_OCI_MANIFEST)
        yield server, samples


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[tuple[RegistryServer, str]]:
    with RegistryServer(htpasswd=dict([PULLER])) as server:
        pushed = oci.RegistryClient.for_server(server).push_image("team/app", "2.0", [oci.random_bytes("p", 4096)])
        yield server, f"{server.host}/team/app:{pushed.tag}"


class CountingRegistry(RegistryClient):
    """The plugin's client, recording each blob the emulator downloads."""

    fetched: list[str]

    def blob(self, ref: Any, digest: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        self.fetched.append(digest)
        return super().blob(ref, digest, chunk_size)


@pytest.fixture
def fetched() -> list[str]:
    return []


@pytest.fixture
def start_emulator(admin_api: Any, fetched: list[str]) -> Iterator[Callable[..., Emulator]]:
    running: list[Emulator] = []

    def factory(credentials: Any, transport: Any, platform: Any) -> RegistryClient:
        client = CountingRegistry(ClientOptions(platform=platform, transport=transport), credentials=credentials)
        client.fetched = fetched
        return client

    def start(**options: Any) -> Emulator:
        opts = EmulatorOptions(**{"step_delay": 0.0, "resync": 5.0, "watch_timeout": 5, **options})
        em = Emulator(admin_api, opts, registry_factory=factory)
        running.append(em)
        return em.start()

    yield start
    for em in running:
        em.stop()


@pytest.fixture
def emulator(start_emulator: Callable[..., Emulator]) -> Emulator:
    return start_emulator()


def wait_for(custom_api: Any, name: str, phase: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    obj: dict[str, Any] = {}
    while time.monotonic() < deadline:
        obj = custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
        if (obj.get("status") or {}).get("phase") == phase:
            return obj
        time.sleep(0.05)
    raise AssertionError(f"{name} not {phase} after {timeout} s: {obj.get('status')}")


def create(custom_api: Any, images: list[str], **spec: Any) -> str:
    name = unique_name()
    custom_api.create_cluster_custom_object(GROUP, VERSION, PLURAL, imagecache(name, images, **spec))
    return name


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def test_ready_after_pulling_every_blob(custom_api: Any, emulator: Emulator, registry: Any,
                                        fetched: list[str]) -> None:
    _, samples = registry
    images = [samples.ref("sample/oci-single:1.0"), samples.ref("sample/oci-index:1.0")]
    before = utc_now().replace(microsecond=0)
    obj = wait_for(custom_api, create(custom_api, images, retentionDays=3), "Ready")
    status = obj["status"]
    assert status["progress"] == "100%"
    assert re.fullmatch(r"imc-[a-z0-9]{20}", status["imageCacheId"])
    start = parse_time(status["startTime"])
    assert start is not None and before <= start <= utc_now()
    assert parse_time(status["expireDateTime"]) == start + timedelta(days=3)
    assert parse_time(status["lastUpdatedTime"]) >= start
    assert [e["name"] for e in status["events"]] == ["ImageCacheCreating", "PulledImage", "PulledImage",
                                                      "ImageCacheCreated"]
    assert all(e["type"] == "Normal" for e in status["events"])
    # Really pulled: each distinct blob of the linux/amd64 images once (the shared base layer once).
    single, index = samples["sample/oci-single:1.0"], samples["sample/oci-index:1.0"].for_platform("linux/amd64")
    want = {single.config.digest, *single.layer_digests, index.config.digest, *index.layer_digests}
    assert sorted(fetched) == sorted(want)


def test_phases_and_progress_rise(custom_api: Any, start_emulator: Callable[..., Emulator], registry: Any) -> None:
    from kubernetes import watch

    _, samples = registry
    start_emulator(step_delay=0.15)
    seen: list[tuple[str, str]] = []
    name = unique_name()
    stream = watch.Watch()
    done = threading.Event()

    # Watching from a list's resourceVersion delivers every change after it, Pending included.
    since = custom_api.list_cluster_custom_object(GROUP, VERSION, PLURAL)["metadata"]["resourceVersion"]

    def observe() -> None:
        for event in stream.stream(custom_api.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                   field_selector=f"metadata.name={name}", resource_version=since,
                                   timeout_seconds=30):
            st = event["raw_object"].get("status") or {}
            if st.get("phase") and (not seen or seen[-1] != (st["phase"], st.get("progress"))):
                seen.append((st["phase"], st.get("progress", "")))
            if st.get("phase") in ("Ready", "Failed"):
                break
        done.set()

    t = threading.Thread(target=observe, daemon=True)
    t.start()
    custom_api.create_cluster_custom_object(GROUP, VERSION, PLURAL, imagecache(name, [
        samples.ref("sample/docker-single:1.0"), samples.ref("a/b/c/nested:1.0")]))
    assert done.wait(30), seen
    phases = [p for p, _ in seen]
    assert phases[0] == "Pending" and phases[-1] == "Ready" and "Creating" in phases
    assert phases.index("Creating") > 0 and phases[-1:] == ["Ready"]
    progress = [int(p.rstrip("%")) for _, p in seen]
    assert progress == sorted(progress), seen
    assert any(0 < p < 100 for p in progress), seen
    assert seen[-1] == ("Ready", "100%")


def test_failed_on_missing_image(custom_api: Any, emulator: Emulator, registry: Any) -> None:
    server, samples = registry
    missing = f"{server.host}/sample/does-not-exist:1.0"
    obj = wait_for(custom_api, create(custom_api, [samples.ref("sample/oci-single:1.0"), missing]), "Failed")
    status = obj["status"]
    assert missing in status["reason"] and "not found" in status["reason"]
    assert status["events"][-1]["type"] == "Warning"
    assert status["events"][-1]["name"] == "ImagePullFailed"
    assert status["progress"] == "0%"
    expire = parse_time(status["expireDateTime"])
    assert expire is not None
    assert abs((expire - (utc_now() + timedelta(hours=24))).total_seconds()) < 30


def test_failed_on_undersized_cache(custom_api: Any, emulator: Emulator, registry: Any,
                                    fetched: list[str]) -> None:
    server, _ = registry
    obj = wait_for(custom_api, create(custom_api, [f"{server.host}/big/app:1.0"], imageCacheSize=20), "Failed")
    status = obj["status"]
    assert "imageCacheSize 20 GiB is less than twice the images' size" in status["reason"]
    assert "at least 23 GiB needed" in status["reason"]
    assert status["events"][-1]["name"] == "InsufficientCacheSize"
    assert fetched == []  # sized before any download, as the build disk is allocated first


def test_unauthorized_without_pull_secret(custom_api: Any, emulator: Emulator, auth_registry: Any) -> None:
    _, image = auth_registry
    obj = wait_for(custom_api, create(custom_api, [image]), "Failed")
    assert "unauthorized" in obj["status"]["reason"] and image in obj["status"]["reason"]


def test_ready_with_pull_secret(custom_api: Any, admin_api: Any, emulator: Emulator, auth_registry: Any,
                                namespace: str) -> None:
    from kubernetes import client

    server, image = auth_registry
    auth = base64.b64encode(f"{PULLER[0]}:{PULLER[1]}".encode()).decode()
    config = json.dumps({"auths": {server.host: {"auth": auth}}})
    client.CoreV1Api(admin_api).create_namespaced_secret(namespace, {
        "metadata": {"name": "regcred"}, "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
    })
    obj = wait_for(custom_api, create(custom_api, [image], imagePullSecrets=[f"{namespace}:regcred"]), "Ready")
    assert "expireDateTime" not in obj["status"]  # no retentionDays: never expires


def test_failed_on_missing_pull_secret(custom_api: Any, emulator: Emulator, auth_registry: Any,
                                       namespace: str) -> None:
    _, image = auth_registry
    obj = wait_for(custom_api, create(custom_api, [image], imagePullSecrets=[f"{namespace}:nope"]), "Failed")
    assert f"pull secret {namespace}/nope not found" in obj["status"]["reason"]
    assert obj["status"]["events"][-1]["name"] == "PullSecretError"


def test_deleted_mid_build_and_name_reused(custom_api: Any, start_emulator: Callable[..., Emulator],
                                           registry: Any, caplog: pytest.LogCaptureFixture) -> None:
    _, samples = registry
    em = start_emulator(step_delay=0.3)
    images = [samples.ref("sample/oci-index:1.0"), samples.ref("sample/docker-list:1.0")]
    name = create(custom_api, images)
    first = wait_for(custom_api, name, "Creating")
    custom_api.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    custom_api.create_cluster_custom_object(GROUP, VERSION, PLURAL, imagecache(name, images[:1]))
    second = wait_for(custom_api, name, "Ready")
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert second["status"]["imageCacheId"] != first["status"]["imageCacheId"]
    assert [e["name"] for e in second["status"]["events"]].count("ImageCacheCreating") == 1
    deadline = time.monotonic() + 5
    while em._builds and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not em._builds
    assert "crashed" not in caplog.text


def test_survives_410_gone(custom_api: Any, start_emulator: Callable[..., Emulator], registry: Any,
                           monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A watch from a compacted resourceVersion gets 410 Gone: the emulator lists again and carries on."""
    caplog.set_level(logging.INFO, logger="imagecache-emulator")
    _, samples = registry
    real_list = Emulator._list
    calls = []

    def stale_first_list(self: Emulator) -> dict[str, Any]:
        listing = real_list(self)
        calls.append(listing["metadata"]["resourceVersion"])
        if len(calls) == 1:
            listing["metadata"]["resourceVersion"] = "1"  # long gone from the watch cache
        return listing

    monkeypatch.setattr(Emulator, "_list", stale_first_list)
    em = start_emulator()
    wait_for(custom_api, create(custom_api, [samples.ref("sample/oci-single:1.0")]), "Ready")
    assert em.relists >= 2
    assert "410 Gone" in caplog.text  # the real API server said so; not a resync by chance


def test_expired_cache_is_deleted(custom_api: Any, emulator: Emulator, registry: Any) -> None:
    _, samples = registry
    name = create(custom_api, [samples.ref("sample/oci-single:1.0")], retentionDays=1)
    wait_for(custom_api, name, "Ready")
    # Move the end of retention into the past, as if a day went by.
    custom_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name,
                                                  {"status": {"expireDateTime": "2020-01-01T00:00:00Z"}})
    from kubernetes.client.rest import ApiException

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
        except ApiException as e:
            assert e.status == 404
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} still exists after its expireDateTime")
