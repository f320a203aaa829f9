"""list, describe, wait and delete against the real API server; cluster errors each with its exit code."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any, Callable

import yaml

from tests.cluster.commands_support import (
    IMC,
    Plugin,
    closed_port,
    create_deployment,
    create_imagecache,
    created_names,
    get_imagecache,
    imagecaches,
    kubeconfig_with_server,
    wait_until,
)
from tests.fakes.controlplane import CRD_NAME, GROUP, VERSION, ControlPlane
from tests.fakes.emulator import Emulator
from tests.fakes.registry import LiveRegistry
from tests.support import cli

HEADERS = ["NAME", "PHASE", "PROGRESS", "ID", "SIZE", "IMAGES", "EXPIRES", "AGE", "STALE"]


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def table(stdout: str) -> tuple[list[str], dict[str, list[str]]]:
    """Header cells and rows by name of a plain table (cells never contain spaces here)."""
    lines = stdout.splitlines()
    return lines[0].split(), {row.split()[0]: row.split() for row in lines[1:] if row.strip()}


def test_list_as_table_wide_json_and_name(imc: Plugin, custom_api: Any) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    create_imagecache(custom_api, "lst-ready", ["registry.example/x/a:1", "registry.example/x/b:1"],
                      labels={"grp": "one"}, imageCacheSize=40, retentionDays=3, imagePullSecrets=["shop:regcred"],
                      status={"phase": "Ready", "progress": "100%", "imageCacheId": "imc-0123456789abcdefghij",
                              "expireDateTime": rfc3339(now + dt.timedelta(days=3, hours=1))})
    create_imagecache(custom_api, "lst-new", ["registry.example/x/c:1"], imageCacheSize=20)

    r = imc("list")
    assert r.code == 0, r
    headers, rows = table(r.stdout)
    assert headers == HEADERS
    assert list(rows) == ["lst-new", "lst-ready"]  # sorted by name
    ready = rows["lst-ready"]
    assert ready[:6] == ["lst-ready", "Ready", "100%", "imc-0123456789abcdefghij", "40Gi", "2"]
    assert ready[6:8] == ["in", "3d"]  # EXPIRES
    assert rows["lst-new"][:7] == ["lst-new", "Pending", "0%", "<none>", "20Gi", "1", "never"]

    wide = imc("get", "-o", "wide")  # the alias
    assert wide.code == 0, wide
    headers, rows = table(wide.stdout)
    assert headers == HEADERS + ["IMAGE-LIST", "PULL-SECRETS"]
    assert rows["lst-ready"][-2:] == ["registry.example/x/a:1,registry.example/x/b:1", "shop:regcred"]
    assert rows["lst-new"][-2:] == ["registry.example/x/c:1", "<none>"]

    as_json = imc("ls", "-o", "json")
    assert as_json.code == 0, as_json
    doc = as_json.json()
    assert doc["kind"] == "List" and doc["apiVersion"] == "v1"
    assert [i["metadata"]["name"] for i in doc["items"]] == ["lst-new", "lst-ready"]
    assert all("managedFields" not in i["metadata"] for i in doc["items"])
    assert doc["items"][1]["status"]["imageCacheId"] == "imc-0123456789abcdefghij"

    names = imc("list", "-o", "name")
    assert names.stdout.splitlines() == [f"{IMC}/lst-new", f"{IMC}/lst-ready"]

    one = imc("list", "lst-ready", "-o", "yaml")
    assert one.code == 0, one
    obj = yaml.safe_load(one.stdout)
    assert obj["kind"] == "ImageCache" and obj["metadata"]["name"] == "lst-ready"

    selected = imc("list", "-l", "grp=one", "-o", "name")
    assert selected.stdout.splitlines() == [f"{IMC}/lst-ready"]
    none = imc("list", "-l", "grp=nobody")
    assert none.code == 0 and none.stdout == "" and "No ImageCaches found." in none.stderr

    missing = imc("list", "nope")
    assert missing.code == 4, missing
    assert missing.stderr.strip() == f'error: {CRD_NAME} "nope" not found'


def test_describe_shows_spec_status_events_provenance_and_expiry(
        imc: Plugin, admin_api: Any, namespace: str, plain_registry: LiveRegistry,
        run_emulator: Callable[..., Emulator]) -> None:
    image = plain_registry.ref("sample/oci-single:1.0")
    create_deployment(admin_api, namespace, "web", [image])
    run_emulator()
    r = imc("warm", "--from", "deployment/web", "-n", namespace, "--retention-days", "3", "--size", "25",
            "--wait", "--timeout", "60s")
    assert r.code == 0, r
    [name] = created_names(r.stdout)

    d = imc("describe", name)
    assert d.code == 0, d
    text = d.stdout
    samples = plain_registry.samples
    assert samples is not None
    for expected in (
        f"Name:           {name}",
        "Labels:         app.kubernetes.io/managed-by=kubectl-imagecache",
        "  Size:         25 GiB",
        "  Retention:    3 days",
        "  Pull secrets: <none>",
        f"    {image}  ({samples['sample/oci-single:1.0'].digest})",
        "  Phase:        Ready",
        "  Progress:     100%",
        "  Expires:      in 2d23h (",  # 3 days minus the build, as kubectl's HumanDuration
        "Provenance (kubectl-imagecache):",
        f"  Workloads:    deployment/{namespace}/web",
        "  Platform:     linux/amd64",
        f"  {image} -> {samples['sample/oci-single:1.0'].digest}",
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    status = imc("list", name, "-o", "json").json()["status"]
    assert f"  Id:           {status['imageCacheId']}" in text
    events = text.split("Events:", 1)[1]
    assert "ImageCacheCreating" in events and "ImageCacheCreated" in events and "Normal" in events

    missing = imc("describe", name, "nope")
    assert missing.code == 4 and missing.stdout == "", missing  # nothing printed before every name is found


def test_wait_for_ready_and_for_delete(imc: Plugin, custom_api: Any, plain_registry: LiveRegistry,
                                       run_emulator: Callable[..., Emulator]) -> None:
    run_emulator(step_delay=0.05)
    create_imagecache(custom_api, "wait-me", [plain_registry.ref("sample/oci-index:1.0"),
                                              plain_registry.ref("sample/docker-single:1.0")])
    r = imc("wait", "wait-me", "--for=Ready", "--timeout", "60s")
    assert r.code == 0, r
    assert r.stdout == f"{IMC}/wait-me condition met\n"
    assert "wait-me: Ready 100%" in r.stderr
    assert get_imagecache(custom_api, "wait-me")["status"]["phase"] == "Ready"

    missing = imc("wait", "nope", "--timeout", "5s")
    assert missing.code == 4, missing

    # Still there: waiting for its deletion times out, saying where it stood.
    early = imc("wait", "wait-me", "--for=delete", "--timeout", "1s")
    assert early.code == 6, early
    assert "timed out after 1s waiting for wait-me to be deleted: it is Ready" in early.stderr

    results: list[cli.Result] = []
    waiter = threading.Thread(target=lambda: results.append(imc("wait", "wait-me", "--for=delete",
                                                                "--timeout", "60s")))
    waiter.start()
    time.sleep(1.5)  # let it list and start watching
    custom_api.delete_cluster_custom_object(GROUP, VERSION, "imagecaches", "wait-me")
    waiter.join(90)
    [done] = results
    assert done.code == 0, done
    assert done.stdout == f"{IMC}/wait-me condition met\n"


def test_delete_by_name_selector_and_all(imc: Plugin, custom_api: Any) -> None:
    for name, grp in (("del-a1", "a"), ("del-a2", "a"), ("del-b", "b"), ("del-c", "c")):
        create_imagecache(custom_api, name, [f"registry.example/del/{name}:1"], labels={"grp": grp})

    r = imc("delete", "del-a1")
    assert r.code == 0, r
    assert r.stdout == f'{IMC} "del-a1" deleted\n'
    assert "del-a1" not in imagecaches(custom_api)

    missing = imc("delete", "del-a1", "del-b")
    assert missing.code == 4, missing
    assert "del-b" in imagecaches(custom_api)  # every name is checked before anything is deleted
    ignored = imc("delete", "del-a1", "--ignore-not-found")
    assert ignored.code == 0, ignored

    by_label = imc("delete", "-l", "grp=a")
    assert by_label.code == 0, by_label
    assert by_label.stdout == f'{IMC} "del-a2" deleted\n'
    assert set(imagecaches(custom_api)) >= {"del-b", "del-c"} and "del-a2" not in imagecaches(custom_api)

    nothing = imc("delete")
    assert nothing.code == 2, nothing
    before = imagecaches(custom_api)
    unconfirmed = imc("delete", "--all")  # no terminal, no --yes
    assert unconfirmed.code == 2, unconfirmed
    assert unconfirmed.stderr.strip() == ("error: --all deletes every ImageCache: add --yes to confirm when not on "
                                          "a terminal")
    assert imagecaches(custom_api).keys() == before.keys()

    everything = imc("delete", "--all", "--yes")
    assert everything.code == 0, everything
    assert sorted(everything.stdout.splitlines()) == sorted(f'{IMC} "{n}" deleted' for n in before)
    assert imagecaches(custom_api) == {}


def test_restricted_user_is_told_which_verb_on_which_resource(imc: Plugin, admin_api: Any, namespace: str,
                                                              plain_registry: LiveRegistry,
                                                              custom_api: Any) -> None:
    r = imc("list", "--context", "restricted")
    assert r.code == 8, r
    [line] = r.stderr.splitlines()
    assert line.startswith(f"error: forbidden: you may not list {CRD_NAME}")
    assert "ask a cluster admin for RBAC access" in line

    image = plain_registry.ref("sample/oci-single:1.0")
    before = imagecaches(custom_api)
    w = imc("warm", image, "--context", "restricted")
    assert w.code == 8, w
    [wline] = w.stderr.splitlines()
    assert wline.startswith(f"error: forbidden: you may not list {CRD_NAME}"), w
    create_deployment(admin_api, namespace, "web", [image])
    wf = imc("warm", "--from", "deployment/web", "-n", namespace, "--context", "restricted")
    assert wf.code == 8, wf
    assert wf.stderr.strip().startswith("error: forbidden: you may not get deployments"), wf
    assert imagecaches(custom_api).keys() == before.keys()


def test_missing_crd_says_how_to_check(imc: Plugin, control_plane: ControlPlane, admin_api: Any,
                                       plain_registry: LiveRegistry) -> None:
    from kubernetes import client
    from kubernetes.client.rest import ApiException

    ext = client.ApiextensionsV1Api(admin_api)

    def gone() -> bool:
        try:
            ext.read_custom_resource_definition(CRD_NAME)
            return False
        except ApiException as e:
            assert e.status == 404
        try:
            admin_api.call_api(f"/apis/{GROUP}/{VERSION}", "GET", auth_settings=["BearerToken"],
                               _preload_content=False)
            return False
        except ApiException as e:
            return e.status == 404

    ext.delete_custom_resource_definition(CRD_NAME)
    try:
        wait_until(gone, 30, "CRD deletion")
        hint = f"`kubectl get crd {CRD_NAME}`"
        for args in (["list"], ["describe", "some-cache"], ["warm", plain_registry.ref("sample/oci-single:1.0")]):
            r = imc(*args)
            assert r.code == 9, (args, str(r))
            [line] = r.stderr.splitlines()
            assert line.startswith("error: the ImageCache CRD is not installed in this cluster") and hint in line, r
            assert "README" not in line and "https://help.aliyun.com/" in line  # the krew archive has no README
    finally:
        control_plane.install_crd()  # waits until Established and listable


def test_unreachable_server(imc: Plugin, control_plane: ControlPlane, tmp_path: Path) -> None:
    dead = kubeconfig_with_server(control_plane.kubeconfig, f"https://127.0.0.1:{closed_port()}", tmp_path / "kc")
    for args in (["list"], ["prune"], ["delete", "x"]):
        r = imc(*args, env={"KUBECONFIG": str(dead)})
        assert r.code == 5, (args, str(r))
        assert "cannot reach the API server at https://127.0.0.1:" in r.stderr, r


def test_namespace_flags_are_accepted_and_ignored_for_the_cluster_scoped_kind(imc: Plugin, custom_api: Any) -> None:
    """kubectl takes -n and -A on every command and ignores them for cluster-scoped kinds."""
    name = "ns-ignored"
    create_imagecache(custom_api, name, ["registry.example/x/a:1"], imageCacheSize=20,
                      status={"phase": "Ready", "progress": "100%"})
    for flags in (["-n", "elsewhere"], ["-A"], ["--namespace=elsewhere", "--all-namespaces"]):
        r = imc("list", *flags, "-o", "name")
        assert r.code == 0 and f"{IMC}/{name}" in r.stdout.splitlines(), (flags, str(r))
        r = imc("describe", name, *flags)
        assert r.code == 0 and f"Name:           {name}" in r.stdout, (flags, str(r))
        r = imc("wait", name, *flags, "--timeout", "10s")
        assert r.code == 0 and r.stdout == f"{IMC}/{name} condition met\n", (flags, str(r))
        r = imc("prune", *flags, "-o", "json", "--reason", "expired")
        assert r.code == 0 and r.json()["deleted"] is False, (flags, str(r))
    r = imc("delete", name, "-n", "elsewhere", "-A")
    assert r.code == 0 and r.stdout == f'{IMC} "{name}" deleted\n', r
    assert name not in imagecaches(custom_api)
