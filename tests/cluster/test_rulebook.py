"""The cluster rules in one place, seen from the commands on a real API server: a namespaced sync keeps
what another namespace pins, and annotations any client may write (Alibaba's CRD accepts any value)
are read as absent with one warning, never a traceback."""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from tests.cluster.commands_support import Plugin, create_imagecache, created_names, imagecaches, unique
from tests.cluster.test_coverage import deployment
from tests.cluster.test_sync import push
from tests.fakes.emulator.emulator import Emulator
from tests.fakes.registry import LiveRegistry

PIN = "k8s.aliyun.com/eci-imc-id"
WORKLOADS = "kubectl-imagecache.io/workloads"
DIGESTS = "kubectl-imagecache.io/digests"
BYTES = "kubectl-imagecache.io/images-bytes"


def test_a_namespaced_sync_keeps_a_stale_cache_that_another_namespace_pins(
        imc: Plugin, custom_api: Any, admin_api: Any, namespace: str, other_namespace: str,
        plain_registry: LiveRegistry, run_emulator: Callable[..., Emulator]) -> None:
    reg, ns = plain_registry, namespace
    run_emulator()
    repo = unique("rules/web")
    image = f"{reg.host}/{repo}:1"
    push(reg, repo, "1", f"{repo}-1")
    w = imc("warm", image, "--wait", "--timeout", "60s")
    assert w.code == 0, w
    [cache] = created_names(w.stdout)
    cid = imagecaches(custom_api)[cache]["status"]["imageCacheId"]
    custom_api.patch_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", cache, {"metadata": {
        "annotations": {WORKLOADS: json.dumps([f"deployment/{ns}/web"])}}})
    deployment(admin_api, ns, "web", [image])
    deployment(admin_api, other_namespace, "pinner", [image], {PIN: cid})
    push(reg, repo, "1", f"{repo}-2")  # the tag moves: the cache is stale

    r = imc("sync", "-n", ns, "--lease-namespace", ns, "--refresh", "--yes", "--timeout", "60s", "-o", "json",
            timeout=180)
    assert r.code == 0, r
    plan = r.json()["plan"]
    assert plan["refreshes"] == [] and plan["deletes"] == [], plan
    notes = {n["subject"]: n["reason"] for n in plan["notes"]}
    assert f"pinned by id by deployment/{other_namespace}/pinner" in notes[cache], notes
    assert cache in imagecaches(custom_api)


MALFORMED = {
    "rules-list": {WORKLOADS: '["deployment/x/y", 3]', DIGESTS: '["not", "a", "map"]'},
    "rules-number": {WORKLOADS: "42", DIGESTS: "7", BYTES: "lots"},
    "rules-broken": {WORKLOADS: '["deployment/x', DIGESTS: "{"},
}


@pytest.mark.parametrize("command", [["describe", "rules-list", "rules-number", "rules-broken"],
                                     ["list", "rules-list", "rules-number", "rules-broken"],
                                     ["coverage", "-A"], ["sync", "-A", "-o", "json"]])
def test_malformed_annotations_are_one_warning_each_and_no_traceback(
        imc: Plugin, custom_api: Any, command: list[str]) -> None:
    for name, ann in MALFORMED.items():
        if name not in imagecaches(custom_api):
            create_imagecache(custom_api, name, ["registry.example/rules/a:1"], annotations=ann,
                              status={"phase": "Ready", "progress": "100%", "imageCacheId": f"imc-{name}"})
    r = imc(*command, timeout=120)
    assert r.code == 0, r
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning: ImageCache rules-")]
    assert len(warnings) == len(set(warnings)), warnings  # each said once
    said = {(w.split()[2].rstrip(":"), w.split()[4]) for w in warnings}
    if command[0] in ("describe", "list"):  # these read every annotation of these caches
        assert ("rules-list", DIGESTS) in said and ("rules-number", DIGESTS) in said, r.stderr
        assert ("rules-broken", DIGESTS) in said, r.stderr
    if command[0] == "describe":
        assert ("rules-list", WORKLOADS) in said and ("rules-number", BYTES) in said, r.stderr
    for w in warnings:
        assert "is not" in w and "ignoring it" in w, w
