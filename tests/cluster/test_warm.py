"""`kubectl imagecache warm` against the real API server, real registries and the emulated controller."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import yaml

from tests.cluster.commands_support import (
    Plugin,
    big_ref,
    closed_port,
    create_deployment,
    created_names,
    docker_secret,
    get_imagecache,
    imagecaches,
    kubeconfig_with_server,
    many_ref,
    opaque_secret,
)
from tests.fakes.emulator import Emulator
from tests.fakes.registry import LiveRegistry

ANN = "kubectl-imagecache.io/"


def test_from_deployment_with_init_containers_and_service_account_pull_secret(
        imc: Plugin, admin_api: Any, custom_api: Any, namespace: str, basic_registry: LiveRegistry,
        run_emulator: Callable[..., Emulator]) -> None:
    from kubernetes import client

    reg = basic_registry
    init, app, side = (reg.ref("sample/docker-single:1.0"), reg.ref("sample/oci-single:1.0"),
                       reg.ref("a/b/c/nested:1.0"))
    # The registry really needs credentials: without the secret, sizing is refused.
    denied = imc("warm", app, "--dry-run=client")
    assert denied.code == 3, denied
    assert "unauthorized" in denied.stderr.lower()

    docker_secret(admin_api, namespace, "regcred", reg)
    client.CoreV1Api(admin_api).create_namespaced_service_account(namespace, {
        "metadata": {"name": "builder"}, "imagePullSecrets": [{"name": "regcred"}]})
    create_deployment(admin_api, namespace, "web", [app, side], init=[init], service_account="builder")
    run_emulator()

    r = imc("warm", "--from", "deployment/web", "-n", namespace, "--wait", "--timeout", "60s")
    assert r.code == 0, r
    [name] = created_names(r.stdout)  # stdout: the created line only
    assert f"{name}: Ready 100%" in r.stderr.splitlines()  # progress went to stderr
    assert any(line.startswith(f"{name}: Creating") for line in r.stderr.splitlines()), r.stderr

    obj = get_imagecache(custom_api, name)
    assert obj["status"]["phase"] == "Ready"
    spec, meta = obj["spec"], obj["metadata"]
    assert sorted(spec["images"]) == sorted([init, app, side])  # initContainers included
    assert spec["imagePullSecrets"] == [f"{namespace}:regcred"]
    assert spec["imageCacheSize"] >= 20
    ann = meta["annotations"]
    samples = reg.samples
    assert samples is not None
    assert json.loads(ann[ANN + "digests"]) == {
        init: samples["sample/docker-single:1.0"].digest,
        app: samples["sample/oci-single:1.0"].digest,
        side: samples["a/b/c/nested:1.0"].digest,
    }
    assert json.loads(ann[ANN + "workloads"]) == [f"deployment/{namespace}/web"]
    assert ann[ANN + "platform"] == "linux/amd64"
    assert meta["labels"]["app.kubernetes.io/managed-by"] == "kubectl-imagecache"


def test_split_above_20_images_keeps_each_workload_in_one_cache(
        imc: Plugin, admin_api: Any, custom_api: Any, namespace: str, plain_registry: LiveRegistry) -> None:
    reg = plain_registry
    groups = {
        "front": [many_ref(reg, i) for i in range(0, 8)],
        "back": [many_ref(reg, i) for i in range(8, 15)],
        "jobs": [many_ref(reg, i) for i in range(15, 24)],
    }
    for wl, images in groups.items():
        # the first image as an init container: it must travel with its workload
        create_deployment(admin_api, namespace, wl, images[1:], init=images[:1], labels={"tier": "shop"})
    huge = [many_ref(reg, i) for i in range(21)]
    create_deployment(admin_api, namespace, "huge", huge, labels={"tier": "batch"})
    before = imagecaches(custom_api)

    # One workload with 21 images cannot be cached: the error names it and nothing is created.
    r = imc("warm", "--from-namespace", "-n", namespace, "--name", "shop")
    assert r.code == 2, r
    assert f"deployment/{namespace}/huge uses 21 images" in r.stderr
    assert r.stdout == ""
    assert imagecaches(custom_api).keys() == before.keys()

    r = imc("warm", "--from-namespace", "-n", namespace, "-l", "tier=shop", "--name", "shop")
    assert r.code == 0, r
    assert created_names(r.stdout) == ["shop-1", "shop-2"]
    caches = {n: get_imagecache(custom_api, n) for n in ("shop-1", "shop-2")}
    held = {n: set(o["spec"]["images"]) for n, o in caches.items()}
    assert all(len(images) <= 20 for images in held.values())
    assert set().union(*held.values()) == {i for images in groups.values() for i in images}
    for wl, images in groups.items():
        homes = [n for n, imgs in held.items() if set(images) & imgs]
        assert len(homes) == 1, f"{wl} straddles {homes}"
        assert set(images) <= held[homes[0]]
        workloads = json.loads(caches[homes[0]]["metadata"]["annotations"][ANN + "workloads"])
        assert f"deployment/{namespace}/{wl}" in workloads
    assert not any(f"deployment/{namespace}/huge" in o["metadata"]["annotations"][ANN + "workloads"]
                   for o in caches.values())


def test_second_warm_is_a_noop_and_force_creates_another(imc: Plugin, custom_api: Any,
                                                         plain_registry: LiveRegistry) -> None:
    images = [plain_registry.ref("sample/oci-single:1.0"), plain_registry.ref("sample/oci-index:1.0")]
    r = imc("warm", *images[:1], "--image", images[1], "--retention-days", "3", "--reuse", "--flash",
            "--label", "team=shop", "--annotation", "note=hello")
    assert r.code == 0, r
    [name] = created_names(r.stdout)
    assert name.startswith("imc-")
    obj = get_imagecache(custom_api, name)
    assert sorted(obj["spec"]["images"]) == sorted(images)
    assert obj["spec"]["retentionDays"] == 3
    assert obj["metadata"]["labels"]["team"] == "shop"
    ann = obj["metadata"]["annotations"]
    assert ann["note"] == "hello"
    assert ann["k8s.aliyun.com/imc-enable-reuse"] == "true"
    assert ann["k8s.aliyun.com/imc-enable-flash"] == "true"
    assert json.loads(ann[ANN + "workloads"]) == []
    before = imagecaches(custom_api)

    # Same images (other order, other spelling source): nothing to do.
    again = imc("warm", images[1], images[0])
    assert again.code == 0, again
    assert again.stdout == ""
    assert f"ImageCache {name} already holds these 2 image(s)" in again.stderr
    assert imagecaches(custom_api).keys() == before.keys()

    forced = imc("warm", *images, "--force")
    assert forced.code == 0, forced
    [second] = created_names(forced.stdout)
    assert second != name
    after = imagecaches(custom_api)
    assert after.keys() == before.keys() | {second}
    assert sorted(after[second]["spec"]["images"]) == sorted(images)

    # An explicit --name that exists with other content is reported, not overwritten.
    taken = imc("warm", plain_registry.ref("a/b/c/nested:1.0"), "--name", name)
    assert taken.code == 2, taken
    assert f'an ImageCache named "{name}" already exists' in taken.stderr
    assert imagecaches(custom_api).keys() == after.keys()


def test_dry_run_server_creates_nothing_and_prints_the_object(imc: Plugin, custom_api: Any,
                                                              plain_registry: LiveRegistry) -> None:
    image = plain_registry.ref("sample/docker-list:1.0")
    before = imagecaches(custom_api)
    r = imc("warm", image, "--name", "dry-server", "--dry-run=server")
    assert r.code == 0, r
    obj = yaml.safe_load(r.stdout)
    assert obj["kind"] == "ImageCache" and obj["metadata"]["name"] == "dry-server"
    assert obj["spec"]["images"] == [image]
    assert obj["metadata"]["uid"] and obj["metadata"]["creationTimestamp"]  # the API server's answer
    assert "managedFields" not in obj["metadata"]
    assert imagecaches(custom_api).keys() == before.keys()

    as_json = imc("warm", image, "--name", "dry-server", "--dry-run=server", "-o", "json")
    assert as_json.code == 0, as_json
    assert as_json.json()["metadata"]["name"] == "dry-server"
    assert imagecaches(custom_api).keys() == before.keys()


def test_dry_run_client_prints_yaml_without_the_cluster(imc: Plugin, control_plane: Any, tmp_path: Path,
                                                        plain_registry: LiveRegistry) -> None:
    dead = kubeconfig_with_server(control_plane.kubeconfig, f"https://127.0.0.1:{closed_port()}",
                                  tmp_path / "dead-kubeconfig")
    env = {"KUBECONFIG": str(dead)}
    image = plain_registry.ref("sample/oci-single:1.0")
    r = imc("warm", image, "--dry-run=client", "--retention-days", "2", env=env)
    assert r.code == 0, r
    obj = yaml.safe_load(r.stdout)
    assert obj["apiVersion"] == "eci.alibabacloud.com/v1" and obj["kind"] == "ImageCache"
    assert obj["spec"] == {"images": [image], "imageCacheSize": 20, "retentionDays": 2}
    samples = plain_registry.samples
    assert samples is not None
    assert json.loads(obj["metadata"]["annotations"][ANN + "digests"]) == {
        image: samples["sample/oci-single:1.0"].digest}
    # The same kubeconfig really leads nowhere: without --dry-run=client the server is needed.
    r = imc("warm", image, env=env)
    assert r.code == 5, r
    assert "cannot reach the API server" in r.stderr


def test_wait_fails_on_a_cache_the_controller_rejects_as_undersized(
        imc: Plugin, custom_api: Any, plain_registry: LiveRegistry, run_emulator: Callable[..., Emulator]) -> None:
    image = big_ref(plain_registry)
    before = imagecaches(custom_api)
    refused = imc("warm", image, "--size", "20")
    assert refused.code == 2, refused
    assert "--size 20 GiB is less than twice the images" in refused.stderr
    assert imagecaches(custom_api).keys() == before.keys()

    run_emulator()
    r = imc("warm", image, "--force", "--size", "20", "--wait", "--timeout", "60s")
    assert r.code == 1, r
    [name] = created_names(r.stdout)
    assert f"error: ImageCache {name} is Failed: imageCacheSize 20 GiB is less than twice" in r.stderr
    assert "Warning InsufficientCacheSize:" in r.stderr
    assert get_imagecache(custom_api, name)["status"]["phase"] == "Failed"

    w = imc("wait", name, "--for=Ready", "--timeout", "30s")
    assert w.code == 1, w
    assert w.stdout == ""
    assert f"ImageCache {name} is Failed: imageCacheSize 20 GiB is less than twice" in w.stderr
    assert "Warning InsufficientCacheSize:" in w.stderr and "Normal ImageCacheCreating:" in w.stderr


def test_validation_fails_before_any_side_effect(imc: Plugin, admin_api: Any, custom_api: Any, namespace: str,
                                                 plain_registry: LiveRegistry) -> None:
    image = plain_registry.ref("sample/oci-single:1.0")
    opaque_secret(admin_api, namespace, "not-docker")
    create_deployment(admin_api, namespace, "web", [image])
    create_deployment(admin_api, namespace, "bad-image", [image, "registry.example/UPPER/app:1"])
    cases = [
        (["warm", image, "--size", "10"], 2, "--size 10 is out of range"),
        (["warm", image, "--size", "40000"], 2, "--size 40000 is out of range"),
        (["warm", big_ref(plain_registry), "--size", "20"], 2, "less than twice the images"),
        (["warm", "--from", "widget/web", "-n", namespace], 2, '--from "widget/web" must be KIND/NAME'),
        (["warm", "--from", "deployment/nope", "-n", namespace], 4, f'deployments "{namespace}/nope" not found'),
        (["warm", image, "--pull-secret", f"{namespace}:missing"], 4, f"pull secret {namespace}/missing not found"),
        (["warm", "--from", "deployment/web", "-n", namespace, "--pull-secret", f"{namespace}:not-docker"], 2,
         f"secret {namespace}/not-docker is of type Opaque, not a docker-config secret"),
        (["warm", image, "--name", "Bad_Name"], 2, '--name "Bad_Name" must be a lowercase DNS-1123 name'),
        # kubectl's TYPE/NAME habit, and an image of a live workload that is no valid reference.
        (["warm", "deployment/web", "-n", namespace], 2, "did you mean --from deployment/web?"),
        (["warm", "--from", "deployment/bad-image", "-n", namespace], 2,
         f'deployment/{namespace}/bad-image: container "c1": '),
    ]
    before = imagecaches(custom_api)
    for args, code, message in cases:
        r = imc(*args)
        assert r.code == code, (args, str(r))
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (args, str(r))
        assert r.stdout == "", (args, str(r))
        assert imagecaches(custom_api).keys() == before.keys(), args
