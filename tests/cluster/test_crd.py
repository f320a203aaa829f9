"""The CRD's schema, served by a real kube-apiserver, refuses what the ECI API would refuse."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from tests.fakes.controlplane import GROUP, PLURAL, VERSION, ControlPlane, imagecache, unique_name

IMG = "registry.example/app:1"


def create(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    return api.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)


def assert_rejected(api: Any, body: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiException) as exc:
        create(api, body)
    assert exc.value.status == 422, exc.value.body
    assert field in exc.value.body, exc.value.body


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "spec.images"),
        ({"images": []}, "spec.images"),
        ({"images": [f"r.example/i{i}:1" for i in range(21)]}, "spec.images"),
        ({"images": [""]}, "spec.images[0]"),
        ({"images": [7]}, "spec.images[0]"),
        ({"images": IMG}, "spec.images"),
        ({"images": [IMG], "imageCacheSize": 19}, "spec.imageCacheSize"),
        ({"images": [IMG], "imageCacheSize": 32769}, "spec.imageCacheSize"),
        ({"images": [IMG], "imageCacheSize": "30"}, "spec.imageCacheSize"),
        ({"images": [IMG], "imageCacheSize": 30.5}, "spec.imageCacheSize"),
        ({"images": [IMG], "retentionDays": 0}, "spec.retentionDays"),
        ({"images": [IMG], "retentionDays": 65537}, "spec.retentionDays"),
        ({"images": [IMG], "retentionDays": -1}, "spec.retentionDays"),
        ({"images": [IMG], "imagePullSecrets": ["no-colon"]}, "spec.imagePullSecrets[0]"),
        ({"images": [IMG], "imagePullSecrets": ["Default:secret"]}, "spec.imagePullSecrets[0]"),
        ({"images": [IMG], "imagePullSecrets": ["default:"]}, "spec.imagePullSecrets[0]"),
        ({"images": [IMG], "imagePullSecrets": [":secret"]}, "spec.imagePullSecrets[0]"),
        ({"images": [IMG], "imagePullSecrets": ["-ns:secret"]}, "spec.imagePullSecrets[0]"),
        ({"images": [IMG], "imagePullSecrets": ["ns:secret-"]}, "spec.imagePullSecrets[0]"),
        ({"images": [IMG], "imagePullSecrets": ["ns:a:b"]}, "spec.imagePullSecrets[0]"),
        ({"images": [IMG], "imagePullSecrets": ["my.ns:secret"]}, "spec.imagePullSecrets[0]"),
        ({"images": [IMG], "imagePullSecrets": "default:secret"}, "spec.imagePullSecrets"),
    ],
    ids=lambda v: repr(v)[:60] if isinstance(v, dict) else None,
)
def test_invalid_spec_is_rejected(custom_api: Any, spec: dict[str, Any], field: str) -> None:
    body = imagecache(unique_name(), [])
    body["spec"] = spec
    assert_rejected(custom_api, body, field)


def test_missing_spec_is_rejected(custom_api: Any) -> None:
    body = imagecache(unique_name(), [IMG])
    del body["spec"]
    assert_rejected(custom_api, body, "spec")


@pytest.mark.parametrize(
    "spec",
    [
        {"images": [IMG]},
        {"images": [f"r.example/i{i}:1" for i in range(20)]},
        {"images": [IMG], "imageCacheSize": 20, "retentionDays": 1},
        {"images": [IMG], "imageCacheSize": 32768, "retentionDays": 65536},
        {"images": [IMG, "r.example/b@sha256:" + "0" * 64],
         "imagePullSecrets": ["default:regcred", "kube-system:a.b-c", "n1:s"]},
    ],
    ids=["minimal", "20-images", "lower-bounds", "upper-bounds", "pull-secrets"],
)
def test_valid_spec_is_accepted(custom_api: Any, spec: dict[str, Any]) -> None:
    name = unique_name()
    body = imagecache(name, [])
    body["spec"] = spec
    created = create(custom_api, body)
    assert created["spec"]["images"] == spec["images"]
    got = custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    assert got["spec"] == {**{"imageCacheSize": 30}, **spec}


def test_size_defaults_to_30_and_unknown_fields_are_pruned(custom_api: Any) -> None:
    body = imagecache(unique_name(), [IMG])
    body["spec"]["flavour"] = "vanilla"
    created = create(custom_api, body)
    assert created["spec"] == {"images": [IMG], "imageCacheSize": 30}


def test_status_is_a_subresource(custom_api: Any) -> None:
    name = unique_name()
    create(custom_api, {**imagecache(name, [IMG]), "status": {"phase": "Ready"}})
    # status in a create is dropped: only the controller writes it, through /status
    assert "phase" not in custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name).get("status", {})
    patched = custom_api.patch_cluster_custom_object_status(
        GROUP, VERSION, PLURAL, name,
        {"status": {"phase": "Creating", "imageCacheId": "imc-abc", "progress": "50%",
                    "startTime": "2026-01-02T03:04:05Z",
                    "events": [{"name": "ImageCacheCreating", "message": "m", "type": "Normal",
                                "timestamp": "2026-01-02T03:04:05Z"}]}},
    )
    assert patched["status"]["phase"] == "Creating"
    # and a status write cannot change the spec
    custom_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name, {"spec": {"images": ["x:1"]}})
    assert custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)["spec"]["images"] == [IMG]


def test_status_schema_rejects_bad_times(custom_api: Any) -> None:
    name = unique_name()
    create(custom_api, imagecache(name, [IMG]))
    with pytest.raises(ApiException) as exc:
        custom_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name,
                                                      {"status": {"startTime": "yesterday"}})
    assert exc.value.status == 422


def test_printer_columns_and_short_name(control_plane: ControlPlane, custom_api: Any) -> None:
    name = unique_name()
    create(custom_api, imagecache(name, [IMG]))
    custom_api.patch_cluster_custom_object_status(
        GROUP, VERSION, PLURAL, name, {"status": {"phase": "Ready", "imageCacheId": "imc-xyz", "progress": "100%"}})
    out = control_plane.kubectl("get", "imc", name).stdout.splitlines()
    assert out[0].split() == ["NAME", "AGE", "ID", "PHASE", "PROGRESS"]
    cells = out[1].split()
    assert cells[0] == name and cells[2:] == ["imc-xyz", "Ready", "100%"]


@pytest.mark.parametrize("verb", ["list", "get", "create", "delete"])
def test_restricted_user_gets_403(custom_api: Any, restricted_api: Any, verb: str) -> None:
    from kubernetes import client

    name = unique_name()
    create(custom_api, imagecache(name, [IMG]))
    api = client.CustomObjectsApi(restricted_api)
    calls = {
        "list": lambda: api.list_cluster_custom_object(GROUP, VERSION, PLURAL),
        "get": lambda: api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name),
        "create": lambda: api.create_cluster_custom_object(GROUP, VERSION, PLURAL, imagecache(unique_name(), [IMG])),
        "delete": lambda: api.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name),
    }
    with pytest.raises(ApiException) as exc:
        calls[verb]()
    assert exc.value.status == 403
    assert "restricted" in exc.value.body and "imagecaches" in exc.value.body


def test_restricted_user_can_read_namespaces(restricted_api: Any) -> None:
    from kubernetes import client

    assert client.CoreV1Api(restricted_api).read_namespace("default").metadata.name == "default"
