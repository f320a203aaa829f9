"""Both CRDs served by a real kube-apiserver.

Alibaba's permissive CRD (tests/fakes/crd/alibaba-imagecache.yaml) is what real clusters carry and what
the session control plane runs: it accepts what the cloud refuses, so the plugin must check every rule
itself. The project's strict CRD (deploy/crd/imagecache.yaml, for users who want server-side validation)
refuses what the ECI API would refuse; it is tested on a control plane of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client.rest import ApiException

from tests.fakes.controlplane import GROUP, PLURAL, STRICT_CRD, VERSION, ControlPlane, imagecache, unique_name
from tests.support.controlplane import start_control_plane

IMG = "registry.example/app:1"
TWENTY_ONE = [f"r.example/i{i}:1" for i in range(21)]


@pytest.fixture(scope="module")
def strict_plane() -> Iterator[ControlPlane]:
    cp = start_control_plane(crd=STRICT_CRD)
    try:
        yield cp
    finally:
        cp.stop()


@pytest.fixture(scope="module")
def strict_api(strict_plane: ControlPlane) -> Iterator[Any]:
    from kubernetes import client

    api = strict_plane.api_client("admin")
    yield client.CustomObjectsApi(api)
    api.close()


def create(api: Any, body: dict[str, Any]) -> dict[str, Any]:
    return api.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)  # type: ignore[no-any-return]


def with_spec(spec: dict[str, Any]) -> dict[str, Any]:
    body = imagecache(unique_name(), [])
    body["spec"] = spec
    return body


def assert_rejected(api: Any, body: dict[str, Any], field: str) -> None:
    with pytest.raises(ApiException) as exc:
        create(api, body)
    assert exc.value.status == 422, exc.value.body
    assert field in exc.value.body, exc.value.body


# -- Alibaba's CRD: the session control plane ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("spec", "strict_field"),
    [
        ({"images": TWENTY_ONE}, "spec.images"),
        ({"images": [IMG], "imageCacheSize": 10}, "spec.imageCacheSize"),
        ({"images": [IMG], "imageCacheSize": 40000}, "spec.imageCacheSize"),
        ({"images": [IMG], "retentionDays": 0}, "spec.retentionDays"),
        ({"images": [IMG], "imagePullSecrets": ["regcred"]}, "spec.imagePullSecrets[0]"),
        ({"images": [""]}, "spec.images[0]"),
    ],
    ids=["21-images", "10-gib", "40000-gib", "0-days", "secret-without-namespace", "empty-image"],
)
def test_alibaba_crd_accepts_what_the_strict_one_refuses(custom_api: Any, strict_api: Any, spec: dict[str, Any],
                                                         strict_field: str) -> None:
    assert_rejected(strict_api, with_spec(spec), strict_field)
    created = create(custom_api, with_spec(spec))
    assert created["spec"] == spec  # stored as given: no limits, no defaults


def test_alibaba_crd_has_no_size_default(custom_api: Any, strict_api: Any) -> None:
    """An absent imageCacheSize stays absent (the cloud then builds its 20 GiB); the strict CRD writes 30."""
    assert create(custom_api, with_spec({"images": [IMG]}))["spec"] == {"images": [IMG]}
    assert create(strict_api, with_spec({"images": [IMG]}))["spec"] == {"images": [IMG], "imageCacheSize": 30}


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "spec.images"),
        ({"images": []}, "spec.images"),
        ({"images": [7]}, "spec.images[0]"),
        ({"images": IMG}, "spec.images"),
        ({"images": [IMG], "imageCacheSize": "30"}, "spec.imageCacheSize"),
        ({"images": [IMG], "imageCacheSize": 30.5}, "spec.imageCacheSize"),
        ({"images": [IMG], "retentionDays": "7"}, "spec.retentionDays"),
        ({"images": [IMG], "imagePullSecrets": "default:secret"}, "spec.imagePullSecrets"),
    ],
    ids=lambda v: repr(v)[:60] if isinstance(v, dict) else None,
)
def test_alibaba_crd_still_checks_types_and_one_image(custom_api: Any, spec: dict[str, Any], field: str) -> None:
    assert_rejected(custom_api, with_spec(spec), field)


def test_alibaba_crd_requires_spec_and_prunes_unknown_spec_fields(custom_api: Any) -> None:
    body = imagecache(unique_name(), [IMG])
    del body["spec"]
    assert_rejected(custom_api, body, "spec")
    body = imagecache(unique_name(), [IMG])
    body["spec"]["flavour"] = "vanilla"
    assert create(custom_api, body)["spec"] == {"images": [IMG]}


def test_alibaba_status_is_an_open_subresource(custom_api: Any) -> None:
    name = unique_name()
    create(custom_api, {**imagecache(name, [IMG]), "status": {"phase": "Ready"}})
    # status in a create is dropped, and nothing defaults it: only the cloud writes it, through /status
    assert "status" not in custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    status = {"phase": "Preparing", "progress": "0%", "startTime": "2026-01-02T11:04:05.123456789+08:00",
              "whatTheCloudAdds": {"zone": "cn-hangzhou-h"}, "lastUpdatedTime": "not a time at all"}
    patched = custom_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name, {"status": status})
    assert patched["status"] == status  # no schema: unknown fields, any phase, any time string kept
    custom_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name, {"spec": {"images": ["x:1"]}})
    assert custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)["spec"]["images"] == [IMG]


def test_alibaba_printer_columns_short_names_and_category(control_plane: ControlPlane, custom_api: Any) -> None:
    name = unique_name()
    create(custom_api, imagecache(name, [IMG]))
    custom_api.patch_cluster_custom_object_status(
        GROUP, VERSION, PLURAL, name, {"status": {"phase": "Ready", "imageCacheId": "imc-xyz", "progress": "100%"}})
    for short in ("ic", "imc"):
        out = control_plane.kubectl("get", short, name).stdout.splitlines()
        assert out[0].split() == ["NAME", "AGE", "CACHEID", "PHASE", "PROGRESS"]
        cells = out[1].split()
        assert cells[0] == name and cells[2:] == ["imc-xyz", "Ready", "100%"]
    assert f"imagecache.eci.alibabacloud.com/{name}" in control_plane.kubectl("get", "all", "-o", "name").stdout


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


# -- the strict CRD: a control plane of its own ---------------------------------------------------------------

@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({}, "spec.images"),
        ({"images": []}, "spec.images"),
        ({"images": TWENTY_ONE}, "spec.images"),
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
def test_strict_invalid_spec_is_rejected(strict_api: Any, spec: dict[str, Any], field: str) -> None:
    assert_rejected(strict_api, with_spec(spec), field)


def test_strict_missing_spec_is_rejected(strict_api: Any) -> None:
    body = imagecache(unique_name(), [IMG])
    del body["spec"]
    assert_rejected(strict_api, body, "spec")


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
def test_strict_valid_spec_is_accepted(strict_api: Any, spec: dict[str, Any]) -> None:
    body = with_spec(spec)
    created = create(strict_api, body)
    assert created["spec"]["images"] == spec["images"]
    got = strict_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, body["metadata"]["name"])
    assert got["spec"] == {**{"imageCacheSize": 30}, **spec}


def test_strict_size_defaults_to_30_and_unknown_fields_are_pruned(strict_api: Any) -> None:
    body = imagecache(unique_name(), [IMG])
    body["spec"]["flavour"] = "vanilla"
    assert create(strict_api, body)["spec"] == {"images": [IMG], "imageCacheSize": 30}


def test_strict_status_is_a_subresource_with_a_schema(strict_api: Any) -> None:
    name = unique_name()
    create(strict_api, {**imagecache(name, [IMG]), "status": {"phase": "Ready"}})
    # status in a create is dropped: only the controller writes it, through /status
    assert "phase" not in strict_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name).get("status", {})
    patched = strict_api.patch_cluster_custom_object_status(
        GROUP, VERSION, PLURAL, name,
        {"status": {"phase": "Creating", "imageCacheId": "imc-abc", "progress": "50%",
                    "startTime": "2026-01-02T03:04:05Z", "whatTheCloudAdds": "pruned",
                    "events": [{"name": "ImageCacheCreating", "message": "m", "type": "Normal",
                                "timestamp": "2026-01-02T03:04:05Z"}]}},
    )
    assert patched["status"]["phase"] == "Creating"
    assert "whatTheCloudAdds" not in patched["status"]
    # and a status write cannot change the spec
    strict_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name, {"spec": {"images": ["x:1"]}})
    assert strict_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)["spec"]["images"] == [IMG]


def test_strict_status_schema_rejects_bad_times(strict_api: Any) -> None:
    name = unique_name()
    create(strict_api, imagecache(name, [IMG]))
    with pytest.raises(ApiException) as exc:
        strict_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name,
                                                      {"status": {"startTime": "yesterday"}})
    assert exc.value.status == 422


def test_strict_printer_columns_and_short_name(strict_plane: ControlPlane, strict_api: Any) -> None:
    name = unique_name()
    create(strict_api, imagecache(name, [IMG]))
    strict_api.patch_cluster_custom_object_status(
        GROUP, VERSION, PLURAL, name, {"status": {"phase": "Ready", "imageCacheId": "imc-xyz", "progress": "100%"}})
    out = strict_plane.kubectl("get", "imc", name).stdout.splitlines()
    assert out[0].split() == ["NAME", "AGE", "ID", "PHASE", "PROGRESS"]
    cells = out[1].split()
    assert cells[0] == name and cells[2:] == ["imc-xyz", "Ready", "100%"]
