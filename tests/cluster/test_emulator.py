"""The emulated cloud controller against a real API server (Alibaba's permissive CRD) and real registries.

What the emulator pulls is counted on the wire by a FaultProxy in front of the registry, never by
the emulator's own bookkeeping.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
from typing import Any, Callable

import pytest

from kubectl_imagecache.model.imagecache import parse_time as plugin_parse_time
from tests.cluster.commands_support import big_ref, docker_secret, many_ref
from tests.fakes.controlplane import GROUP, PLURAL, VERSION, ControlPlane, imagecache, unique_name
from tests.fakes.emulator import Emulator, gotime
from tests.fakes.emulator.emulator import EVENT_NAMESPACE
from tests.fakes.faultproxy import FaultProxy
from tests.fakes.oci import PushedImage, PushedIndex
from tests.fakes.registry import LiveRegistry

GIB = 2**30


@pytest.fixture
def emulator(run_emulator: Callable[..., Emulator]) -> Emulator:
    return run_emulator(step_delay=0.0)


@pytest.fixture
def proxy(plain_registry: LiveRegistry, make_fault_proxy: Callable[[LiveRegistry], FaultProxy]) -> FaultProxy:
    """The plain registry through a counting proxy: images named with ``proxy.host`` are pulled through it."""
    return make_fault_proxy(plain_registry)


def via(proxy: FaultProxy, key: str) -> str:
    repo, _, tag = key.rpartition(":")
    return f"{proxy.host}/{repo}:{tag}"


def blobs_fetched(proxy: FaultProxy) -> list[str]:
    return [s.path.rsplit("/", 1)[-1] for s in proxy.seen(r"/blobs/") if s.method == "GET"]


def wait_for(custom_api: Any, name: str, phase: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    obj: dict[str, Any] = {}
    while time.monotonic() < deadline:
        obj = custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
        if (obj.get("status") or {}).get("phase") == phase:
            return obj
        time.sleep(0.05)
    raise AssertionError(f"{name} not {phase} after {timeout} s: {obj.get('status')}")


def create(custom_api: Any, images: list[str], annotations: dict[str, str] | None = None, **spec: Any) -> str:
    name = unique_name()
    body = imagecache(name, images, **spec)
    if annotations:
        body["metadata"]["annotations"] = annotations
    custom_api.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
    return name


def t(text: str) -> int:
    stamp = gotime.parse_time(text)
    assert stamp is not None, text
    return stamp


def event_names(obj: dict[str, Any]) -> list[str]:
    return [e["name"] for e in obj["status"]["events"]]


def watch_phases(custom_api: Any, name: str, until: tuple[str, ...], ready: threading.Event,
                 seen: list[tuple[str, str]]) -> threading.Thread:
    """Record (phase, progress) changes of ``name`` from now on, until it moves on to a phase in ``until``."""
    from kubernetes import watch

    # Watching from a list's resourceVersion delivers every change after it, Pending included.
    since = custom_api.list_cluster_custom_object(GROUP, VERSION, PLURAL)["metadata"]["resourceVersion"]

    def observe() -> None:
        for event in watch.Watch().stream(custom_api.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                          field_selector=f"metadata.name={name}", resource_version=since,
                                          timeout_seconds=30):
            st = event["raw_object"].get("status") or {}
            if st.get("phase") and (not seen or seen[-1] != (st["phase"], st.get("progress", ""))):
                seen.append((st["phase"], st.get("progress", "")))
            if st.get("phase") in until and any(p not in until for p, _ in seen):
                break  # ended, after it started (a spec change's own event still shows the old phase)
        ready.set()

    thread = threading.Thread(target=observe, daemon=True)
    thread.start()
    return thread


# -- creating ------------------------------------------------------------------------------------------

def test_ready_after_pulling_every_blob(custom_api: Any, emulator: Emulator, plain_registry: LiveRegistry,
                                        proxy: FaultProxy) -> None:
    samples = plain_registry.samples
    assert samples is not None
    before = time.time_ns() // gotime.NS * gotime.NS
    obj = wait_for(custom_api, create(custom_api, [via(proxy, "sample/oci-single:1.0"),
                                                   via(proxy, "sample/oci-index:1.0")], retentionDays=3), "Ready")
    status = obj["status"]
    assert status["progress"] == "100%"
    assert re.fullmatch(r"imc-[a-z0-9]{20}", status["imageCacheId"])
    start = t(status["startTime"])
    assert before <= start <= time.time_ns()
    assert t(status["expireDateTime"]) == start + gotime.days(3)
    assert t(status["lastUpdatedTime"]) >= start
    assert event_names(obj) == ["ImageCacheCreating", "PulledImage", "PulledImage", "ImageCacheCreated"]
    assert all(e["type"] == "Normal" for e in status["events"])
    # Really pulled: each distinct blob of the linux/amd64 images once (the shared base layer once).
    single, multi = samples["sample/oci-single:1.0"], samples["sample/oci-index:1.0"]
    assert isinstance(single, PushedImage) and isinstance(multi, PushedIndex)
    index = multi.for_platform("linux/amd64")
    want = {single.config.digest, *single.layer_digests, index.config.digest, *index.layer_digests}
    assert sorted(blobs_fetched(proxy)) == sorted(want)


def test_phases_and_progress_rise(custom_api: Any, run_emulator: Callable[..., Emulator],
                                  plain_registry: LiveRegistry) -> None:
    run_emulator(step_delay=0.15)
    seen: list[tuple[str, str]] = []
    name, done = unique_name(), threading.Event()
    watch_phases(custom_api, name, ("Ready", "Failed"), done, seen)
    custom_api.create_cluster_custom_object(GROUP, VERSION, PLURAL, imagecache(name, [
        plain_registry.ref("sample/docker-single:1.0"), plain_registry.ref("a/b/c/nested:1.0")]))
    assert done.wait(30), seen
    phases = [p for p, _ in seen]
    # The cloud's order, each phase once: Pending, then Preparing (id, manifests, sizing), Creating, Ready.
    assert list(dict.fromkeys(phases)) == ["Pending", "Preparing", "Creating", "Ready"], seen
    progress = [int(p.rstrip("%")) for _, p in seen]
    assert progress == sorted(progress), seen
    assert any(0 < p < 100 for p in progress), seen
    assert seen[-1] == ("Ready", "100%")


def test_failed_on_missing_image(custom_api: Any, emulator: Emulator, plain_registry: LiveRegistry) -> None:
    missing = f"{plain_registry.host}/sample/does-not-exist:1.0"
    obj = wait_for(custom_api, create(custom_api, [plain_registry.ref("sample/oci-single:1.0"), missing]), "Failed")
    status = obj["status"]
    assert missing in status["reason"] and "not found" in status["reason"]
    assert status["events"][-1]["type"] == "Warning"
    assert status["events"][-1]["name"] == "ImagePullFailed"
    assert status["progress"] == "0%"
    expire = t(status["expireDateTime"])
    assert abs(expire - (time.time_ns() + gotime.hours(24))) < 30 * gotime.NS


def test_failed_on_undersized_cache_before_any_download(custom_api: Any, emulator: Emulator,
                                                        plain_registry: LiveRegistry, proxy: FaultProxy) -> None:
    image = via(proxy, "big/app:15g")  # declares 15 GiB: 2 x 15 GiB + a few bytes needs 31 GiB
    obj = wait_for(custom_api, create(custom_api, [image], imageCacheSize=30), "Failed")
    status = obj["status"]
    assert "imageCacheSize 30 GiB is less than twice the images' size" in status["reason"]
    assert "at least 31 GiB needed" in status["reason"]
    assert status["events"][-1]["name"] == "InsufficientCacheSize"
    assert blobs_fetched(proxy) == []  # sized before any download, as the build disk is allocated first
    assert wait_for(custom_api, create(custom_api, [image], imageCacheSize=31), "Creating")


def test_absent_size_is_the_clouds_default_of_20_gib(custom_api: Any, emulator: Emulator,
                                                     plain_registry: LiveRegistry) -> None:
    """Alibaba's CRD has no default: a spec without imageCacheSize stays so, and the cloud builds 20 GiB."""
    name = create(custom_api, [big_ref(plain_registry)])
    obj = wait_for(custom_api, name, "Failed")
    assert "imageCacheSize" not in obj["spec"]
    assert "imageCacheSize 20 GiB is less than twice" in obj["status"]["reason"]
    small = wait_for(custom_api, create(custom_api, [plain_registry.ref("sample/oci-single:1.0")]), "Ready")
    assert "imageCacheSize" not in small["spec"]


@pytest.mark.parametrize(
    ("spec", "event", "reason"),
    [
        ({"images": "MANY"}, "InvalidParameter", "21 images; a cache holds at most 20"),
        ({"imageCacheSize": 10}, "InvalidParameter", "imageCacheSize 10 GiB is outside 20..32768"),
        ({"imageCacheSize": 40000}, "InvalidParameter", "imageCacheSize 40000 GiB is outside 20..32768"),
        ({"retentionDays": 0}, "InvalidParameter", "retentionDays 0 is outside 1..65536"),
        ({"imagePullSecrets": ["regcred"]}, "PullSecretError", "pull secret 'regcred' is not namespace:name"),
        ({"images": ["Not A Reference"]}, "InvalidParameter", "image 'Not A Reference'"),
    ],
    ids=["21-images", "10-gib", "40000-gib", "0-days", "secret-without-namespace", "bad-reference"],
)
def test_failed_on_what_the_permissive_crd_accepts_and_the_cloud_refuses(
        custom_api: Any, emulator: Emulator, plain_registry: LiveRegistry, proxy: FaultProxy,
        spec: dict[str, Any], event: str, reason: str) -> None:
    images = [plain_registry.ref("sample/oci-single:1.0")]
    if spec.get("images") == "MANY":
        spec = {"images": [many_ref(plain_registry, i) for i in range(21)]}
    name = create(custom_api, **{"images": images, **spec})
    obj = wait_for(custom_api, name, "Failed")
    assert reason in obj["status"]["reason"], obj["status"]
    assert event_names(obj) == [event]
    assert "imageCacheId" not in obj["status"]  # refused by the API call: no cache was ever made
    assert blobs_fetched(proxy) == []


def test_platform_from_the_cpu_arch_annotation(custom_api: Any, emulator: Emulator, plain_registry: LiveRegistry,
                                               proxy: FaultProxy) -> None:
    samples = plain_registry.samples
    assert samples is not None
    arm = wait_for(custom_api, create(custom_api, [via(proxy, "sample/oci-index:1.0")],
                                      annotations={"k8s.aliyun.com/imc-cpu-arch": "arm64"}), "Ready")
    multi = samples["sample/oci-index:1.0"]
    assert isinstance(multi, PushedIndex)
    child = multi.for_platform("linux/arm64/v8")
    assert sorted(blobs_fetched(proxy)) == sorted([child.config.digest, *child.layer_digests])
    assert arm["status"]["phase"] == "Ready"
    # Without it the cache is linux/amd64, which an arm-only index does not have.
    failed = wait_for(custom_api, create(custom_api, [plain_registry.ref("sample/arm-only:1.0")]), "Failed")
    assert "has no linux/amd64 image" in failed["status"]["reason"]


def test_failed_on_a_registry_error_and_a_corrupt_blob(custom_api: Any, emulator: Emulator,
                                                       plain_registry: LiveRegistry, proxy: FaultProxy) -> None:
    samples = plain_registry.samples
    assert samples is not None
    single = samples["sample/oci-single:1.0"]
    assert isinstance(single, PushedImage)
    layer = single.layers[-1]
    proxy.fail(r"/blobs/" + layer.digest, status=500, times=None)
    obj = wait_for(custom_api, create(custom_api, [via(proxy, "sample/oci-single:1.0")]), "Failed")
    assert f"blob {layer.digest} of sample/oci-single: HTTP 500" in obj["status"]["reason"]
    proxy.reset()
    proxy.respond(r"/blobs/" + layer.digest, status=200, body=b"not the layer")
    obj = wait_for(custom_api, create(custom_api, [via(proxy, "sample/oci-single:1.0")]), "Failed")
    assert f"blob {layer.digest} is corrupt (13 bytes, expected {layer.size})" in obj["status"]["reason"]


# -- pull secrets ----------------------------------------------------------------------------------------

def test_unauthorized_without_pull_secret(custom_api: Any, emulator: Emulator, basic_registry: LiveRegistry) -> None:
    image = basic_registry.ref("sample/oci-single:1.0")
    obj = wait_for(custom_api, create(custom_api, [image]), "Failed")
    assert "unauthorized" in obj["status"]["reason"] and image in obj["status"]["reason"]


@pytest.mark.parametrize("kind", ["dockerconfigjson", "dockercfg"])
def test_ready_with_pull_secret(custom_api: Any, admin_api: Any, emulator: Emulator, basic_registry: LiveRegistry,
                                namespace: str, kind: str) -> None:
    from kubernetes import client

    reg = basic_registry
    if kind == "dockerconfigjson":
        docker_secret(admin_api, namespace, "regcred", reg)
    else:  # the legacy layout: registries at top level, username and password spelled out
        legacy = json.dumps({f"http://{reg.host}/v1/": {"username": reg.username, "password": reg.password}})
        client.CoreV1Api(admin_api).create_namespaced_secret(namespace, {
            "metadata": {"name": "regcred"}, "type": "kubernetes.io/dockercfg",
            "data": {".dockercfg": base64.b64encode(legacy.encode()).decode()}})
    obj = wait_for(custom_api, create(custom_api, [reg.ref("sample/oci-index:1.0")],
                                      imagePullSecrets=[f"{namespace}:regcred"]), "Ready")
    assert "expireDateTime" not in obj["status"]  # no retentionDays: never expires


def test_failed_on_missing_or_unusable_pull_secret(custom_api: Any, admin_api: Any, emulator: Emulator,
                                                   basic_registry: LiveRegistry, namespace: str) -> None:
    from kubernetes import client

    image = basic_registry.ref("sample/oci-single:1.0")
    obj = wait_for(custom_api, create(custom_api, [image], imagePullSecrets=[f"{namespace}:nope"]), "Failed")
    assert f"pull secret {namespace}/nope not found" in obj["status"]["reason"]
    assert obj["status"]["events"][-1]["name"] == "PullSecretError"
    client.CoreV1Api(admin_api).create_namespaced_secret(namespace, {
        "metadata": {"name": "opaque"}, "type": "Opaque", "data": {"token": base64.b64encode(b"x").decode()}})
    obj = wait_for(custom_api, create(custom_api, [image], imagePullSecrets=[f"{namespace}:opaque"]), "Failed")
    assert f"pull secret {namespace}/opaque is of type Opaque, not a docker-config secret" in obj["status"]["reason"]


# -- updating ----------------------------------------------------------------------------------------------

def test_spec_change_of_a_ready_cache_updates_it(custom_api: Any, run_emulator: Callable[..., Emulator],
                                                 plain_registry: LiveRegistry, proxy: FaultProxy) -> None:
    samples = plain_registry.samples
    assert samples is not None
    run_emulator(step_delay=0.05)
    name = create(custom_api, [via(proxy, "sample/oci-single:1.0")], imageCacheSize=30, retentionDays=2)
    first = wait_for(custom_api, name, "Ready")
    proxy.reset()
    seen: list[tuple[str, str]] = []
    done = threading.Event()
    watch_phases(custom_api, name, ("Ready", "UpdateFailed"), done, seen)
    custom_api.patch_cluster_custom_object(GROUP, VERSION, PLURAL, name, {"spec": {
        "images": [via(proxy, "sample/oci-single:1.0"), via(proxy, "sample/docker-single:1.0")], "retentionDays": 5}})
    assert done.wait(30), seen
    assert [p for p, _ in seen if p != "Ready"][0] == "Updating" and seen[-1] == ("Ready", "100%"), seen
    assert list(dict.fromkeys(p for p, _ in seen[1:])) == ["Updating", "Ready"], seen
    obj = custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    assert obj["status"]["imageCacheId"] == first["status"]["imageCacheId"]  # the same cache, updated
    assert obj["status"]["startTime"] == first["status"]["startTime"]
    assert t(obj["status"]["expireDateTime"]) == t(obj["status"]["startTime"]) + gotime.days(5)
    assert event_names(obj)[len(event_names(first)):] == ["ImageCacheUpdating", "PulledImage", "PulledImage",
                                                          "ImageCacheUpdated"]
    docker = samples["sample/docker-single:1.0"]
    assert isinstance(docker, PushedImage)
    assert set(docker.layer_digests) <= set(blobs_fetched(proxy))


def test_update_that_cannot_fit_is_update_failed_and_keeps_the_cache(
        custom_api: Any, emulator: Emulator, plain_registry: LiveRegistry) -> None:
    name = create(custom_api, [plain_registry.ref("sample/oci-single:1.0")], imageCacheSize=20, retentionDays=1)
    first = wait_for(custom_api, name, "Ready")
    custom_api.patch_cluster_custom_object(GROUP, VERSION, PLURAL, name, {"spec": {
        "images": [plain_registry.ref("sample/oci-single:1.0"), big_ref(plain_registry)]}})
    failed = wait_for(custom_api, name, "UpdateFailed")["status"]
    assert "imageCacheSize 20 GiB is less than twice" in failed["reason"]
    assert failed["events"][-1] == {**failed["events"][-1], "name": "InsufficientCacheSize", "type": "Warning"}
    assert failed["imageCacheId"] == first["status"]["imageCacheId"]
    assert failed["expireDateTime"] == first["status"]["expireDateTime"]  # still the cache it was
    # Fixing the spec updates it again (big/app's 15 GiB layer is a declared lie: it could never be pulled).
    custom_api.patch_cluster_custom_object(GROUP, VERSION, PLURAL, name, {"spec": {
        "images": [plain_registry.ref("sample/oci-single:1.0"), plain_registry.ref("sample/docker-single:1.0")],
        "imageCacheSize": 40}})
    ready = wait_for(custom_api, name, "Ready")["status"]
    assert ready["reason"] == "" and ready["imageCacheId"] == first["status"]["imageCacheId"]


def test_failed_cache_is_not_updated(custom_api: Any, emulator: Emulator, plain_registry: LiveRegistry) -> None:
    name = create(custom_api, [f"{plain_registry.host}/sample/does-not-exist:1.0"])
    failed = wait_for(custom_api, name, "Failed")
    custom_api.patch_cluster_custom_object(GROUP, VERSION, PLURAL, name, {"spec": {
        "images": [plain_registry.ref("sample/oci-single:1.0")]}})
    time.sleep(1.0)  # a wrong update would have started by now (step delay 0)
    obj = custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    assert obj["status"] == failed["status"]


# -- what the cloud writes: timestamps and Events -------------------------------------------------------------

STYLE_PATTERNS = {
    "utc-seconds": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
    "utc-nano": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}Z",
    "offset-seconds": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00",
    "offset-millis": r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?\+08:00",
}


def timestamps(status: dict[str, Any]) -> list[str]:
    keys = ("startTime", "lastUpdatedTime", "expireDateTime")
    return [status[k] for k in keys if k in status] + [e["timestamp"] for e in status["events"]]


@pytest.mark.parametrize("style", sorted(STYLE_PATTERNS))
def test_timestamps_as_go_writes_them(custom_api: Any, run_emulator: Callable[..., Emulator],
                                      plain_registry: LiveRegistry, style: str) -> None:
    run_emulator(step_delay=0.0, time_style=style)
    obj = wait_for(custom_api, create(custom_api, [plain_registry.ref("sample/oci-single:1.0")], retentionDays=2),
                   "Ready")
    stamps = timestamps(obj["status"])
    assert len(stamps) == 6  # start, last update, expiry, three events
    for text in stamps:
        assert re.fullmatch(STYLE_PATTERNS[style], text), (style, text)
        # The plugin reads the same instant (to the microsecond) as the emulator meant.
        parsed = plugin_parse_time(text)
        assert parsed is not None, text
        assert int(parsed.timestamp()) * 10**6 + parsed.microsecond == t(text) // 1000, text


def style_of(status: dict[str, Any]) -> str:
    """Which STYLE_PATTERNS style a cache's timestamps are in (a fraction among them tells the finer ones)."""
    stamps = timestamps(status)
    zone = "offset" if all(s.endswith("+08:00") for s in stamps) else "utc"
    fraction = any("." in s for s in stamps)
    style = {("utc", False): "utc-seconds", ("utc", True): "utc-nano", ("offset", False): "offset-seconds",
             ("offset", True): "offset-millis"}[(zone, fraction)]
    assert all(re.fullmatch(STYLE_PATTERNS[style], s) for s in stamps), (style, stamps)
    return style


def test_mixed_styles_give_each_cache_the_next_style(custom_api: Any, run_emulator: Callable[..., Emulator],
                                                     plain_registry: LiveRegistry) -> None:
    run_emulator(step_delay=0.0)  # the default: mixed
    styles = [style_of(wait_for(custom_api, create(custom_api, [plain_registry.ref("sample/oci-single:1.0")]),
                                "Ready")["status"]) for _ in STYLE_PATTERNS]
    assert sorted(styles) == sorted(STYLE_PATTERNS), styles


def test_kubernetes_events_beside_status_events(control_plane: ControlPlane, admin_api: Any, custom_api: Any,
                                                emulator: Emulator, plain_registry: LiveRegistry) -> None:
    from kubernetes import client

    name = create(custom_api, [f"{plain_registry.host}/sample/does-not-exist:1.0"])
    obj = wait_for(custom_api, name, "Failed")
    uid = obj["metadata"]["uid"]
    items = client.CoreV1Api(admin_api).list_namespaced_event(
        EVENT_NAMESPACE, field_selector=f"involvedObject.uid={uid}").items
    assert sorted((e.reason, e.type, e.message) for e in items) == sorted(
        (e["name"], e["type"], e["message"]) for e in obj["status"]["events"])
    assert [e["name"] for e in obj["status"]["events"]] == ["ImageCacheCreating", "ImagePullFailed"]
    assert {(e.involved_object.kind, e.involved_object.name, e.involved_object.api_version) for e in items} == {
        ("ImageCache", name, f"{GROUP}/{VERSION}")}
    described = control_plane.kubectl("describe", "imagecache", name).stdout
    assert re.search(r"Warning\s+ImagePullFailed\s.*not found", described), described


# -- the controller itself ---------------------------------------------------------------------------------

def test_deleted_mid_build_and_name_reused(custom_api: Any, run_emulator: Callable[..., Emulator],
                                           plain_registry: LiveRegistry, caplog: pytest.LogCaptureFixture) -> None:
    em = run_emulator(step_delay=0.3)
    images = [plain_registry.ref("sample/oci-index:1.0"), plain_registry.ref("sample/docker-list:1.0")]
    name = create(custom_api, images)
    first = wait_for(custom_api, name, "Preparing")
    custom_api.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    custom_api.create_cluster_custom_object(GROUP, VERSION, PLURAL, imagecache(name, images[:1]))
    second = wait_for(custom_api, name, "Ready")
    assert second["metadata"]["uid"] != first["metadata"]["uid"]
    assert second["status"]["imageCacheId"] != first["status"]["imageCacheId"]
    assert event_names(second).count("ImageCacheCreating") == 1
    deadline = time.monotonic() + 5
    while em.busy and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not em.busy
    assert "crashed" not in caplog.text


def test_survives_410_gone(custom_api: Any, run_emulator: Callable[..., Emulator], plain_registry: LiveRegistry,
                           monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A watch from a compacted resourceVersion gets 410 Gone: the emulator lists again and carries on."""
    caplog.set_level(logging.INFO, logger="imagecache-emulator")
    real_list = Emulator._list
    calls = []

    def stale_first_list(self: Emulator) -> dict[str, Any]:
        listing = real_list(self)
        calls.append(listing["metadata"]["resourceVersion"])
        if len(calls) == 1:
            listing["metadata"]["resourceVersion"] = "1"  # long gone from the watch cache
        return listing

    monkeypatch.setattr(Emulator, "_list", stale_first_list)
    em = run_emulator(step_delay=0.0)
    wait_for(custom_api, create(custom_api, [plain_registry.ref("sample/oci-single:1.0")]), "Ready")
    assert em.relists >= 2
    assert "410 Gone" in caplog.text  # the real API server said so; not a resync by chance


def test_expired_cache_is_deleted(custom_api: Any, emulator: Emulator, plain_registry: LiveRegistry) -> None:
    from kubernetes.client.rest import ApiException

    name = create(custom_api, [plain_registry.ref("sample/oci-single:1.0")], retentionDays=1)
    wait_for(custom_api, name, "Ready")
    # Move the end of retention into the past, as if a day went by (written with an offset, as Go may).
    custom_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name,
                                                  {"status": {"expireDateTime": "2020-01-01T08:00:00.5+08:00"}})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
        except ApiException as e:
            assert e.status == 404
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} still exists after its expireDateTime")


def test_emulator_user_has_only_the_controllers_rights(emulator_api: Any, custom_api: Any) -> None:
    """The harness RBAC grants what the cloud's controller needs and no more: it cannot make caches or edit specs."""
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    name = create(custom_api, ["registry.example/app:1"])
    api = client.CustomObjectsApi(emulator_api)
    assert api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)["metadata"]["name"] == name
    api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name, {"status": {"phase": "Pending"}})
    for call in (lambda: api.create_cluster_custom_object(GROUP, VERSION, PLURAL, imagecache(unique_name(), ["x:1"])),
                 lambda: api.patch_cluster_custom_object(GROUP, VERSION, PLURAL, name, {"spec": {"images": ["x:2"]}}),
                 lambda: client.CoreV1Api(emulator_api).list_secret_for_all_namespaces()):
        with pytest.raises(ApiException) as exc:
            call()
        assert exc.value.status == 403

