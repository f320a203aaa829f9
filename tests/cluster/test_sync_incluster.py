"""The CronJob's run, proven on the real API server: `sync -A --yes` as deploy/sync's ServiceAccount,
with in-cluster configuration only.

deploy/sync is applied with kubectl; a token for its ServiceAccount comes from the TokenRequest
API (`kubectl create token`); the plugin runs in a private mount namespace (`unshare -m`, as root)
where token, CA and namespace are bound at /var/run/secrets/kubernetes.io/serviceaccount, with
KUBERNETES_SERVICE_HOST/PORT set and no kubeconfig anywhere. Every call it makes must be allowed:
a forbidden one fails the run (prune's reads, creates, the Lease) or warns (events), and both are
checked. A call the role does not grant (get a Deployment) is refused, so the identity is the
ServiceAccount's and not the admin's.
"""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

import pytest

from tests.cluster.commands_support import deploy_sync_applied, imagecaches, unique
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
