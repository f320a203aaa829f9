"""The CronJob's run, proven on the real API server: `sync -A --yes` as deploy/sync's ServiceAccount,
with in-cluster configuration only.

deploy/sync is applied with kubectl; a token for its ServiceAccount comes from the TokenRequest
API (`kubectl create token`); the plugin runs in a private mount namespace (`unshare -m`, as root)
where token, CA and namespace are bound at /var/run/secrets/kubernetes.io/serviceaccount, with
KUBERNETES_SERVICE_HOST/PORT set and no kubeconfig anywhere. Every call it makes must be allowed:
a forbidden one fails the run (prune's reads, creates, the Lease) or warns (Events), and both are
checked. A call the role does not grant (get a Deployment) is refused, so the identity is the
ServiceAccount's and not the admin's. And every grant is used: with any one verb of any rule taken
away, the same run meets a "forbidden".
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import pytest
import yaml

from tests.cluster.commands_support import (
    DEPLOY_SYNC,
    create_deployment,
    create_imagecache,
    deploy_sync_applied,
    docker_secret,
    imagecaches,
    unique,
    wait_until,
)
from tests.fakes import oci
from tests.fakes.controlplane import ControlPlane
from tests.fakes.emulator.emulator import Emulator
from tests.fakes.registry import LiveRegistry
from tests.support import cli

NS, SA, LEASE = "kubectl-imagecache", "imagecache-sync", "kubectl-imagecache-sync"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture
def applied(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    with deploy_sync_applied(control_plane) as cp:
        yield cp


def in_pod(cp: ControlPlane, token: str, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """kubectl-imagecache ARGS as a pod of the ServiceAccount would run it (module doc)."""
    src = workdir / "sa"
    src.mkdir(exist_ok=True)
    (src / "token").write_text(token)
    (src / "namespace").write_text(NS)
    (src / "ca.crt").write_bytes(cp.ca_file.read_bytes())
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    url = urlparse(cp.server)
    script = (f"mount -t tmpfs tmpfs /var/run/secrets && mkdir -p {SA_DIR} && cp {shlex.quote(str(src))}/* {SA_DIR}/ "
              f"&& exec {shlex.quote(cli.plugin_executable())} {shlex.join(args)}")
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL")}
    env = {**keep, "HOME": str(home), "XDG_CACHE_HOME": str(workdir / "cache"), "NO_PROXY": "127.0.0.1,localhost",
           "KUBERNETES_SERVICE_HOST": str(url.hostname), "KUBERNETES_SERVICE_PORT": str(url.port)}
    os.makedirs("/var/run/secrets", exist_ok=True)  # the mount point (empty; the tmpfs lives in the namespace only)
    return subprocess.run(["unshare", "-m", "sh", "-c", script], env=env, capture_output=True, text=True,
                          timeout=300, check=False)


def test_sync_runs_in_cluster_as_the_shipped_service_account(applied: ControlPlane, admin_api: Any, namespace: str,
                                                             plain_registry: LiveRegistry, tmp_path: Path,
                                                             run_emulator: Callable[..., Emulator]) -> None:
    from kubernetes import client

    cp, reg = applied, plain_registry
    run_emulator()
    repo = unique("incluster/app")
    image = f"{reg.host}/{repo}:1"
    reg.client.push_image(repo, "1", [oci.random_bytes(repo, 1024)])
    suite = secrets.token_hex(4)
    match = {"app": "web"}
    template = {"metadata": {"labels": match}, "spec": {"containers": [{"name": "c", "image": image}]}}
    client.AppsV1Api(admin_api).create_namespaced_deployment(namespace, {
        "metadata": {"name": "web", "labels": {"suite": suite}},
        "spec": {"selector": {"matchLabels": match}, "template": template}})
    token = cp.kubectl("create", "token", SA, "-n", NS, "--duration", "10m").stdout.strip()
    assert token.count(".") == 2  # a JWT from the TokenRequest API

    # -l keeps other tests' workloads (their namespaces outlive them here) out of this run.
    r = in_pod(cp, token, tmp_path, "sync", "-A", "-l", f"suite={suite}", "--yes", "--timeout", "60s")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "forbidden" not in r.stderr.lower() and "cannot list" not in r.stderr, r.stderr
    [created] = [line.split("/", 1)[1].split()[0] for line in r.stdout.splitlines() if line.endswith(" created")]
    cache = imagecaches(client.CustomObjectsApi(admin_api))[created]
    assert cache["spec"]["images"] == [image] and cache["status"]["phase"] == "Ready"
    lease = client.CoordinationV1Api(admin_api).read_namespaced_lease(LEASE, NS)
    assert lease.spec.holder_identity is None  # taken, then given back
    # ... with the run's summary written by the Role's update on the Lease
    assert lease.metadata.annotations["kubectl-imagecache.io/sync-outcome"] == "ok", lease.metadata.annotations
    assert lease.metadata.annotations["kubectl-imagecache.io/sync-created"] == "1"

    again = in_pod(cp, token, tmp_path, "sync", "-A", "-l", f"suite={suite}", "--yes")
    assert again.returncode == 0, again.stderr
    assert "In sync: nothing to do." in again.stderr and again.stdout == ""

    denied = in_pod(cp, token, tmp_path, "warm", "--from", "deployment/web", "-n", namespace, "--dry-run=client")
    assert denied.returncode == 8, (denied.stdout, denied.stderr)  # get deployments: not in the ClusterRole
    assert "forbidden" in denied.stderr


# -- every verb of every rule is used: drop one and sync no longer does the right thing ------------------------
def granted() -> list[tuple[str, int, str, str]]:
    """(manifest, rule index, resource, verb) for every verb of every rule deploy/sync ships."""
    out = []
    for manifest in ("clusterrole.yaml", "role.yaml"):
        for i, rule in enumerate(yaml.safe_load((DEPLOY_SYNC / manifest).read_text())["rules"]):
            out += [(manifest, i, resource, verb) for resource in rule["resources"] for verb in rule["verbs"]]
    return out


def without(manifest: str, index: int, resource: str, verb: str) -> tuple[dict[str, Any], list[str]]:
    """The manifest with one verb of one resource of one rule taken away; and `kubectl auth can-i`'s
    arguments for what it took."""
    doc = yaml.safe_load((DEPLOY_SYNC / manifest).read_text())
    rule = doc["rules"][index]
    rest = {**rule, "verbs": [v for v in rule["verbs"] if v != verb], "resources": [resource]}
    others = {**rule, "resources": [r for r in rule["resources"] if r != resource]}
    doc["rules"][index:index + 1] = [r for r in (rest, others) if r["verbs"] and r["resources"]]
    group = rule["apiGroups"][0]
    target = f"{resource}.{group}" if group else resource
    target += f"/{rule['resourceNames'][0]}" if rule.get("resourceNames") else ""
    where = ["-n", doc["metadata"]["namespace"]] if doc["metadata"].get("namespace") else ["-A"]
    return doc, [verb, target, *where]


def scenario(admin_api: Any, custom_api: Any, reg: LiveRegistry, namespace: str) -> tuple[str, str]:
    """What one sync run must do with every grant: size an image behind a pull secret, create its cache,
    wait for it, delete an expired cache. Returns (the run's label selector, the expired cache)."""
    suite = unique("rbac")
    repo = unique("rbac/app")
    reg.client.push_image(repo, "1", [oci.random_bytes(repo, 1024)])
    docker_secret(admin_api, namespace, "regcred", reg)
    create_deployment(admin_api, namespace, "web", [f"{reg.host}/{repo}:1"], labels={"suite": suite},
                      pull_secrets=["regcred"])
    expired = unique("rbac-expired")
    create_imagecache(custom_api, expired, ["example.com/a:1"],
                      status={"phase": "Ready", "expireDateTime": "2020-01-01T00:00:00Z"})
    return f"suite={suite}", expired


@pytest.mark.parametrize("manifest,index,resource,verb", granted(),
                         ids=[f"{m.split('.')[0]}-{r}-{v}" for m, _, r, v in granted()])
def test_every_granted_verb_is_needed(applied: ControlPlane, admin_api: Any, custom_api: Any, namespace: str,
                                      basic_registry: LiveRegistry, tmp_path: Path,
                                      run_emulator: Callable[..., Emulator], manifest: str, index: int,
                                      resource: str, verb: str) -> None:
    cp = applied
    run_emulator()
    selector, _ = scenario(admin_api, custom_api, basic_registry, namespace)
    token = cp.kubectl("create", "token", SA, "-n", NS, "--duration", "10m").stdout.strip()

    reduced, can_i = without(manifest, index, resource, verb)
    cp.kubectl("apply", "-f", "-", input=yaml.safe_dump(reduced))
    wait_until(lambda: cp.kubectl("auth", "can-i", *can_i, f"--as=system:serviceaccount:{NS}:{SA}",
                                  check=False).stdout.strip() == "no", what=f"{verb} {resource} revoked")
    r = in_pod(cp, token, tmp_path, "sync", "-A", "-l", selector, "--yes", "--timeout", "60s")
    assert "forbidden" in r.stderr.lower(), (r.returncode, r.stdout, r.stderr)


def test_with_every_grant_sync_does_it_all(applied: ControlPlane, admin_api: Any, custom_api: Any, namespace: str,
                                           basic_registry: LiveRegistry, tmp_path: Path,
                                           run_emulator: Callable[..., Emulator]) -> None:
    cp = applied
    run_emulator()
    selector, expired = scenario(admin_api, custom_api, basic_registry, namespace)
    token = cp.kubectl("create", "token", SA, "-n", NS, "--duration", "10m").stdout.strip()
    r = in_pod(cp, token, tmp_path, "sync", "-A", "-l", selector, "--yes", "--timeout", "60s")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "warning" not in r.stderr.lower() and "forbidden" not in r.stderr.lower(), r.stderr
    caches = imagecaches(custom_api)
    assert expired not in caches and f'"{expired}" deleted' in r.stdout
    [created] = [line.split("/", 1)[1].split()[0] for line in r.stdout.splitlines() if line.endswith(" created")]
    assert caches[created]["status"]["phase"] == "Ready"
    assert caches[created]["spec"]["imagePullSecrets"] == [f"{namespace}:regcred"]


# -- deploy/sync-scoped-secrets: pull secrets readable only where the operator lists ---------------------------
def scoped_overlay(dest: Path, namespaces: list[str]) -> Path:
    """deploy/ copied, with the component's secrets.yaml listing ``namespaces`` as an operator lists
    them (the shipped pair once per namespace); returns the overlay to apply."""
    shutil.copytree(DEPLOY_SYNC.parent, dest / "deploy")
    grants = dest / "deploy" / "sync" / "components" / "scoped-secrets" / "secrets.yaml"
    pair = list(yaml.safe_load_all(grants.read_text()))
    assert [d["kind"] for d in pair] == ["Role", "RoleBinding"]
    docs = [{**d, "metadata": {**d["metadata"], "namespace": ns}} for ns in namespaces for d in pair]
    grants.write_text(yaml.safe_dump_all(docs))
    return dest / "deploy" / "sync-scoped-secrets"


def test_scoped_secrets_reads_only_the_listed_namespaces(control_plane: ControlPlane, admin_api: Any,
                                                         custom_api: Any, namespace: str,
                                                         basic_registry: LiveRegistry, token_registry: LiveRegistry,
                                                         tmp_path: Path,
                                                         run_emulator: Callable[..., Emulator]) -> None:
    """Two namespaces, each pulling from its own private registry with its own secret; only the first
    is listed: the second's image is cached at the minimum, with one warning naming it."""
    from kubernetes import client

    cp = control_plane
    run_emulator()
    other = f"t-{secrets.token_hex(4)}"
    client.CoreV1Api(admin_api).create_namespace({"metadata": {"name": other}})
    suite = unique("scoped")
    images = {}
    for ns, reg in ((namespace, basic_registry), (other, token_registry)):
        repo = unique("scoped/app")
        reg.client.push_image(repo, "1", [oci.random_bytes(repo, 1024)])
        images[ns] = f"{reg.host}/{repo}:1"
        docker_secret(admin_api, ns, "regcred", reg)
        create_deployment(admin_api, ns, "web", [images[ns]], labels={"suite": suite}, pull_secrets=["regcred"])
    with deploy_sync_applied(cp, scoped_overlay(tmp_path, [namespace])):
        try:
            as_sa = f"--as=system:serviceaccount:{NS}:{SA}"
            can = [cp.kubectl("auth", "can-i", "get", "secrets", "-n", ns, as_sa, check=False).stdout.strip()
                   for ns in (namespace, other)]
            assert can == ["yes", "no"]
            token = cp.kubectl("create", "token", SA, "-n", NS, "--duration", "10m").stdout.strip()
            r = in_pod(cp, token, tmp_path, "sync", "-A", "-l", f"suite={suite}", "--yes", "--timeout", "60s")
        finally:
            cp.kubectl("delete", "-n", namespace, "--ignore-not-found", "role/kubectl-imagecache-sync-secrets",
                       "rolebinding/kubectl-imagecache-sync-secrets")
            client.CoreV1Api(admin_api).delete_collection_namespaced_secret(other)
    assert r.returncode == 0, (r.stdout, r.stderr)
    [warning] = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert images[other] in warning and f"{other}/regcred" in warning and "20 GiB" in warning, r.stderr
    [cache] = [c for c in imagecaches(custom_api).values() if images[other] in c["spec"]["images"]]
    annotations = cache["metadata"]["annotations"]
    digests = json.loads(annotations["kubectl-imagecache.io/digests"])
    assert images[other] not in digests  # never read: its digest and size are unknown
    assert images[namespace] not in cache["spec"]["images"] or images[namespace] in digests  # read with its secret
    assert "kubectl-imagecache.io/images-bytes" not in annotations and cache["spec"]["imageCacheSize"] == 20
    assert f"{other}:regcred" in cache["spec"]["imagePullSecrets"]
    assert cache["status"]["phase"] == "Ready"  # the cloud reads the secret with its own rights
