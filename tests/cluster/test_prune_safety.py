"""`prune` never takes away a cache that pods need, against the real API server and real RBAC.

- superseded only counts a newer cache that stays: one the same run deletes supersedes nothing;
- a cache pinned by a pod or a pod template (k8s.aliyun.com/eci-imc-id = status.imageCacheId) is
  never deleted, and prune says who pins it;
- a user who cannot list pods, or workloads, gets exit 8 and nothing is deleted, whatever the reasons:
  any cache could be pinned by what prune cannot see.

Statuses are written with the admin client; no scheduler or controllers run, so pods stay where
the test puts them and Deployments/CronJobs have no pods: only their templates pin.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.cluster.commands_support import Plugin, create_imagecache, delete_pods, imagecaches, pod_spec, wait_until
from tests.fakes.controlplane import GROUP, PLURAL, VERSION, ControlPlane

PIN = "k8s.aliyun.com/eci-imc-id"
READY = {"phase": "Ready", "progress": "100%"}
IMC_RULE = {"apiGroups": [GROUP], "resources": [PLURAL], "verbs": ["get", "list", "watch", "delete"]}
PODS_RULE = {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}
WORKLOAD_RULES = [{"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"],
                   "verbs": ["list"]},
                  {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": ["list"]}]


def cache_id() -> str:
    return "imc-" + secrets.token_hex(10)


def candidates(imc: Plugin, *args: str) -> dict[str, list[str]]:
    r = imc("prune", "-o", "json", *args)
    assert r.code == 0, r
    return {c["name"]: c["reasons"] for c in r.json()["candidates"]}


def create_pod(admin_api: Any, namespace: str, name: str, images: list[str], *, phase: str = "Pending",
               annotations: dict[str, str] | None = None) -> None:
    from kubernetes import client

    core = client.CoreV1Api(admin_api)
    core.create_namespaced_pod(namespace, {"metadata": {"name": name, "annotations": annotations or {}},
                                           "spec": pod_spec(images)})
    if phase != "Pending":
        core.patch_namespaced_pod_status(name, namespace, {"status": {"phase": phase}})


@pytest.fixture
def label() -> str:
    """Every cache of a test carries it and prune runs with -l: other tests' caches never take part."""
    return f"suite={secrets.token_hex(4)}"


def test_a_newer_cache_the_same_run_deletes_supersedes_nothing(imc: Plugin, custom_api: Any, admin_api: Any,
                                                               namespace: str, label: str) -> None:
    # The issue's case: Ready A serves a Running pod; newer B holds A's images too but has expired.
    # Before, the plan was A superseded + B expired, and after --yes no cache held the pod's image.
    repo = f"registry.example/{namespace}"
    key, value = label.split("=")
    create_imagecache(custom_api, "safe-a", [f"{repo}/web:1"], labels={key: value}, status=READY)
    time.sleep(1.1)  # creationTimestamp has whole seconds: B must be visibly newer
    create_imagecache(custom_api, "safe-b", [f"{repo}/web:1", f"{repo}/side:1"], labels={key: value},
                      status={**READY, "expireDateTime": "2020-01-01T00:00:00Z"})
    create_pod(admin_api, namespace, "web", [f"{repo}/web:1"], phase="Running")
    try:
        assert candidates(imc, "-l", label) == {"safe-b": ["expired"]}
        y = imc("prune", "-l", label, "--yes")
        assert y.code == 0, y
        assert [line for line in y.stdout.splitlines() if line.endswith(" deleted")] == \
            ['imagecache.eci.alibabacloud.com "safe-b" deleted']
        assert "safe-a" in imagecaches(custom_api) and "safe-b" not in imagecaches(custom_api)
        # A is the last cache of its images: a later run keeps it too.
        assert candidates(imc, "-l", label) == {}
    finally:
        delete_pods(admin_api, namespace)


def test_pinned_caches_are_kept_and_prune_says_who_pins_them(imc: Plugin, custom_api: Any, admin_api: Any,
                                                             namespace: str, label: str) -> None:
    from kubernetes import client

    repo = f"registry.example/{namespace}"
    key, value = label.split("=")
    ids = {n: cache_id() for n in ("dep", "pod", "cron", "free")}
    create_imagecache(custom_api, "pin-dep", [f"{repo}/ghost:1"], labels={key: value},
                      status={**READY, "imageCacheId": ids["dep"]})
    create_imagecache(custom_api, "pin-pod", [f"{repo}/ghost:2"], labels={key: value},
                      status={**READY, "imageCacheId": ids["pod"], "expireDateTime": "2020-01-01T00:00:00Z"})
    create_imagecache(custom_api, "pin-cron", [f"{repo}/ghost:3"], labels={key: value},
                      status={"phase": "Failed", "reason": "boom", "imageCacheId": ids["cron"],
                              "lastUpdatedTime": "2020-01-01T00:00:00Z"})
    create_imagecache(custom_api, "pin-free", [f"{repo}/ghost:4"], labels={key: value},
                      status={**READY, "imageCacheId": ids["free"]})
    template = {"metadata": {"labels": {"app": "web"}, "annotations": {PIN: ids["dep"]}},
                "spec": pod_spec([f"{repo}/web:1"])}
    apps, batch = client.AppsV1Api(admin_api), client.BatchV1Api(admin_api)
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}}, "template": template}})
    batch.create_namespaced_cron_job(namespace, {
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {
            "metadata": {"annotations": {PIN: ids["cron"]}},
            "spec": {**pod_spec([f"{repo}/job:1"]), "restartPolicy": "Never"}}}}}})
    create_pod(admin_api, namespace, "bare", [f"{repo}/other:1"], annotations={PIN: ids["pod"]})
    # A finished pod will never start again: its pin does not hold the free cache.
    create_pod(admin_api, namespace, "done", [f"{repo}/other:1"], phase="Succeeded", annotations={PIN: ids["free"]})
    try:
        j = imc("prune", "-l", label, "-o", "json")
        assert j.code == 0, j
        assert set(j.json()) == {"candidates", "reclaimGiB", "deleted"}  # stdout as before; kept on stderr
        assert {c["name"]: c["reasons"] for c in j.json()["candidates"]} == {"pin-free": ["unused"]}
        assert f"kept ImageCache pin-dep (unused): pinned by deployment/{namespace}/web" in j.stderr

        y = imc("prune", "-l", label, "--yes")
        assert y.code == 0, y
        kept = sorted(line for line in y.stderr.splitlines() if line.startswith("kept "))
        assert kept == [
            f"kept ImageCache pin-cron (failed,unused): pinned by cronjob/{namespace}/nightly",
            f"kept ImageCache pin-dep (unused): pinned by deployment/{namespace}/web",
            f"kept ImageCache pin-pod (expired,unused): pinned by pod/{namespace}/bare",
        ]
        assert "kept" not in y.stdout
        left = {n for n, o in imagecaches(custom_api).items() if o["metadata"]["labels"].get(key) == value}
        assert left == {"pin-dep", "pin-pod", "pin-cron"}
    finally:
        delete_pods(admin_api, namespace)
        apps.delete_namespaced_deployment("web", namespace)
        batch.delete_namespaced_cron_job("nightly", namespace)


@pytest.fixture
def user_with(control_plane: ControlPlane, admin_api: Any, namespace: str,
              tmp_path: Path) -> Iterator[Callable[[list[dict[str, Any]]], Path]]:
    """A kubeconfig for a fresh service account allowed exactly `rules` (cluster-wide)."""
    from kubernetes import client, config

    core, rbac = client.CoreV1Api(admin_api), client.RbacAuthorizationV1Api(admin_api)
    made: list[str] = []

    def make(rules: list[dict[str, Any]]) -> Path:
        name = f"prune-{secrets.token_hex(4)}"
        made.append(name)
        core.create_namespaced_service_account(namespace, {"metadata": {"name": name}})
        rbac.create_cluster_role({"metadata": {"name": name}, "rules": rules})
        rbac.create_cluster_role_binding({
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]})
        token = core.create_namespaced_service_account_token(
            name, namespace, {"spec": {"expirationSeconds": 3600}}).status.token
        doc = yaml.safe_load(control_plane.kubeconfig.read_text())
        doc["users"] = [{"name": name, "user": {"token": token}}]
        doc["contexts"] = [{"name": name, "context": {"cluster": doc["clusters"][0]["name"], "user": name}}]
        doc["current-context"] = name
        path = tmp_path / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(doc))

        # The RBAC authorizer learns of new roles and bindings through informers: wait until it has
        # (the role was created first, with every rule, so once one rule works all do).
        api = config.new_client_from_config(str(path), persist_config=False)

        def can_list_imagecaches() -> bool:
            try:
                client.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, PLURAL, limit=1)
            except client.ApiException:
                return False
            return True

        try:
            wait_until(can_list_imagecaches, what=f"{name} may list imagecaches")
        finally:
            api.close()
        return path

    yield make
    for name in made:
        rbac.delete_cluster_role_binding(name)
        rbac.delete_cluster_role(name)


def test_without_access_to_pods_or_workloads_prune_removes_only_expired_and_failed(
        imc: Plugin, custom_api: Any, user_with: Callable[[list[dict[str, Any]]], Path], label: str) -> None:
    key, value = label.split("=")
    create_imagecache(custom_api, "rbac-expired", ["registry.example/rbac/e:1"], labels={key: value},
                      status={**READY, "expireDateTime": "2020-01-01T00:00:00Z"})
    create_imagecache(custom_api, "rbac-unused", ["registry.example/rbac/u:1"], labels={key: value}, status=READY)

    def prune_as(kubeconfig: Path, *args: str) -> Any:
        return imc("prune", "-l", label, *args, env={"KUBECONFIG": str(kubeconfig)})

    caches_only = user_with([IMC_RULE])
    # unused cannot be decided without pods: refused with exit 8, saying why, and nothing deleted.
    r = prune_as(caches_only, "--reason", "unused", "--yes")
    assert r.code == 8, r
    assert "you may not list pods" in r.stderr and "only expired and failed caches" in r.stderr, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr, r
    assert {"rbac-expired", "rbac-unused"} <= set(imagecaches(custom_api))
    # The default reasons: the expired cache goes (no pod can start from it), the rest is left, exit 8.
    r = prune_as(caches_only, "--yes")
    assert r.code == 8, r
    assert 'imagecache.eci.alibabacloud.com "rbac-expired" deleted' in r.stdout, r
    assert "rbac-expired" not in imagecaches(custom_api) and "rbac-unused" in imagecaches(custom_api)


def test_prune_of_expired_and_failed_needs_no_access_to_pods(
        imc: Plugin, custom_api: Any, user_with: Callable[[list[dict[str, Any]]], Path], label: str) -> None:
    key, value = label.split("=")
    create_imagecache(custom_api, "rbac-exp2", ["registry.example/rbac/e:2"], labels={key: value},
                      status={**READY, "expireDateTime": "2020-01-01T00:00:00Z"})
    create_imagecache(custom_api, "rbac-failed", ["registry.example/rbac/f:1"], labels={key: value},
                      status={"phase": "Failed", "lastUpdatedTime": "2020-01-01T00:00:00Z"})
    caches_only = user_with([IMC_RULE])
    r = imc("prune", "-l", label, "--reason", "expired,failed", "--yes", env={"KUBECONFIG": str(caches_only)})
    assert r.code == 0, r
    assert 'imagecache.eci.alibabacloud.com "rbac-exp2" deleted' in r.stdout, r
    assert 'imagecache.eci.alibabacloud.com "rbac-failed" deleted' in r.stdout, r
    assert not {"rbac-exp2", "rbac-failed"} & set(imagecaches(custom_api))


def test_with_access_to_pods_and_workloads_prune_works(
        imc: Plugin, custom_api: Any, user_with: Callable[[list[dict[str, Any]]], Path], label: str) -> None:
    key, value = label.split("=")
    create_imagecache(custom_api, "rbac-expired", ["registry.example/rbac/e:1"], labels={key: value},
                      status={**READY, "expireDateTime": "2020-01-01T00:00:00Z"})

    def prune_as(kubeconfig: Path, *args: str) -> Any:
        return imc("prune", "-l", label, *args, env={"KUBECONFIG": str(kubeconfig)})

    # With list access to pods and workload templates, prune works: exactly these rules are needed.
    enough = user_with([IMC_RULE, PODS_RULE, *WORKLOAD_RULES])
    ok = prune_as(enough, "--reason", "expired", "--yes")
    assert ok.code == 0, ok
    assert 'imagecache.eci.alibabacloud.com "rbac-expired" deleted' in ok.stdout, ok
    assert "rbac-expired" not in imagecaches(custom_api)
