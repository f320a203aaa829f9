"""Helpers for the command tests: the plugin as a process, cluster objects, registry content."""

from __future__ import annotations

import base64
import json
import secrets
import socket
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import yaml

from tests.fakes import oci
from tests.fakes.controlplane import GROUP, PLURAL, VERSION
from tests.fakes.registry import LiveRegistry
from tests.support import cli

IMC = "imagecache.eci.alibabacloud.com"


def many_ref(registry: LiveRegistry, i: int) -> str:
    """many/app:tNN: distinct references of one tiny image (oci.fill_extras), for the 20-image split."""
    return f"{registry.host}/{oci.MANY_REPO}:t{i:02d}"


def big_ref(registry: LiveRegistry) -> str:
    """big/app:15g: declares 15 GiB, too much for a 20 GiB cache (oci.fill_extras)."""
    return f"{registry.host}/{oci.BIG_REPO}:{oci.BIG_TAG}"


# -- the plugin as a process --------------------------------------------------------------------------

@dataclass
class Plugin:
    """Runs the installed kubectl-imagecache with KUBECONFIG set to the test control plane."""

    kubeconfig: Path
    home: Path

    def __call__(self, *args: str, env: Optional[dict[str, str]] = None, timeout: float = 120) -> cli.Result:
        full = {"KUBECONFIG": str(self.kubeconfig), **(env or {})}
        # stdin "" (a pipe): never a terminal, whoever runs the tests.
        return cli.run(list(args), home=self.home, env=full, stdin="", timeout=timeout)


def venv_bin() -> Path:
    return Path(sys.executable).parent


# -- cluster objects -------------------------------------------------------------------------------------

def imagecaches(custom_api: Any) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in custom_api.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]}


def get_imagecache(custom_api: Any, name: str) -> dict[str, Any]:
    return custom_api.get_cluster_custom_object(GROUP, VERSION, PLURAL, name)  # type: ignore[no-any-return]


def create_imagecache(custom_api: Any, name: str, images: list[str], *, labels: Optional[dict[str, str]] = None,
                      annotations: Optional[dict[str, str]] = None, status: Optional[dict[str, Any]] = None,
                      **spec: Any) -> dict[str, Any]:
    """Create an ImageCache and, when given, set its status through the status subresource."""
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "ImageCache",
            "metadata": {"name": name, "labels": labels or {}, "annotations": annotations or {}},
            "spec": {"images": images, **spec}}
    obj = custom_api.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
    if status is not None:
        obj = custom_api.patch_cluster_custom_object_status(GROUP, VERSION, PLURAL, name, {"status": status})
    return obj  # type: ignore[no-any-return]


def docker_secret(admin_api: Any, namespace: str, name: str, registry: LiveRegistry) -> None:
    from kubernetes import client

    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    config = json.dumps({"auths": {registry.host: {"auth": auth}}})
    client.CoreV1Api(admin_api).create_namespaced_secret(namespace, {
        "metadata": {"name": name}, "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()},
    })


def opaque_secret(admin_api: Any, namespace: str, name: str) -> None:
    from kubernetes import client

    client.CoreV1Api(admin_api).create_namespaced_secret(namespace, {
        "metadata": {"name": name}, "type": "Opaque", "data": {"token": base64.b64encode(b"x").decode()}})


def containers(images: list[str], prefix: str = "c") -> list[dict[str, str]]:
    return [{"name": f"{prefix}{i}", "image": image} for i, image in enumerate(images)]


def pod_spec(images: list[str], init: Optional[list[str]] = None, service_account: Optional[str] = None,
             pull_secrets: Optional[list[str]] = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers(images)}
    if init:
        spec["initContainers"] = containers(init, "init")
    if service_account:
        spec["serviceAccountName"] = service_account
    if pull_secrets:
        spec["imagePullSecrets"] = [{"name": n} for n in pull_secrets]
    return spec


def create_deployment(admin_api: Any, namespace: str, name: str, images: list[str], *,
                      labels: Optional[dict[str, str]] = None, **spec: Any) -> None:
    from kubernetes import client

    match = {"app": name}
    client.AppsV1Api(admin_api).create_namespaced_deployment(namespace, {
        "metadata": {"name": name, "labels": {**match, **(labels or {})}},
        "spec": {"replicas": 1, "selector": {"matchLabels": match},
                 "template": {"metadata": {"labels": match}, "spec": pod_spec(images, **spec)}},
    })


def create_pod(admin_api: Any, namespace: str, name: str, images: list[str]) -> None:
    """A pod stays Pending here (no scheduler), which is what prune counts as 'in use'."""
    from kubernetes import client

    client.CoreV1Api(admin_api).create_namespaced_pod(namespace, {"metadata": {"name": name},
                                                                  "spec": pod_spec(images)})


def delete_pods(admin_api: Any, namespace: str) -> None:
    """Pods outlive their namespace here (no namespace controller): remove them so prune in later
    tests does not see them. Unscheduled pods go at once."""
    from kubernetes import client

    client.CoreV1Api(admin_api).delete_collection_namespaced_pod(namespace)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kubeconfig_with_server(source: Path, server: str, dest: Path) -> Path:
    doc = yaml.safe_load(source.read_text())
    for c in doc["clusters"]:
        c["cluster"]["server"] = server
    dest.write_text(yaml.safe_dump(doc))
    return dest


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def wait_until(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met after {timeout} s")
        time.sleep(0.05)


def created_names(stdout: str) -> list[str]:
    """Names from `imagecache.eci.alibabacloud.com/NAME created` lines."""
    out = []
    for line in stdout.splitlines():
        head, _, rest = line.partition(" ")
        assert head.startswith(f"{IMC}/") and rest == "created", f"unexpected stdout line: {line!r}"
        out.append(head.split("/", 1)[1])
    return out


DEPLOY_SYNC = Path(__file__).resolve().parents[2] / "deploy" / "sync"
SYNC_NAMESPACE = "kubectl-imagecache"


@contextmanager
def deploy_sync_applied(cp: Any, kustomization: Path = DEPLOY_SYNC) -> Iterator[Any]:
    """deploy/sync/ (or an overlay of it) applied with kubectl, and its objects deleted afterwards."""
    out = cp.kubectl("apply", "-k", str(kustomization), check=False)
    try:
        assert out.returncode == 0, out.stderr
        yield cp
    finally:
        # Not the Namespace: without a controller manager a deleted namespace stays Terminating for good.
        cp.kubectl("delete", "--ignore-not-found", "clusterrole/kubectl-imagecache-sync",
                   "clusterrolebinding/kubectl-imagecache-sync", check=False)
        cp.kubectl("delete", "--ignore-not-found", "-n", SYNC_NAMESPACE, "cronjob/imagecache-sync",
                   "role/kubectl-imagecache-sync", "rolebinding/kubectl-imagecache-sync",
                   "serviceaccount/imagecache-sync", "lease/kubectl-imagecache-sync", check=False)
