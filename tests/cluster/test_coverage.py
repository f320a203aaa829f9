"""`coverage` and `explain` on the real API server, with a real registry for the moved tag (STALE).

No controller manager runs: Deployments have no pods, statuses are written by the test, and ECI's
pod events are created as core/v1 Events naming pods by the names a Deployment gives them.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from tests.cluster.commands_support import Plugin, create_imagecache, imagecaches, unique
from tests.fakes import oci
from tests.fakes.registry import LiveRegistry

READY = {"phase": "Ready", "progress": "100%"}
PIN, PERFECT, AUTO = "k8s.aliyun.com/eci-imc-id", "k8s.aliyun.com/imc-perfect-match", "k8s.aliyun.com/eci-auto-imc"
DIGESTS = "kubectl-imagecache.io/digests"


def deployment(admin_api: Any, ns: str, name: str, images: list[str], annotations: dict[str, str] | None = None) \
        -> None:
    from kubernetes import client

    match = {"app": name}
    client.AppsV1Api(admin_api).create_namespaced_deployment(ns, {
        "metadata": {"name": name},
        "spec": {"replicas": 1, "selector": {"matchLabels": match},
                 "template": {"metadata": {"labels": match, "annotations": annotations or {}},
                              "spec": {"containers": [{"name": f"c{i}", "image": im}
                                                      for i, im in enumerate(images)]}}}})


def pod_event(admin_api: Any, ns: str, pod: str, reason: str) -> None:
    from kubernetes import client

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    client.CoreV1Api(admin_api).create_namespaced_event(ns, {
        "metadata": {"name": f"{pod}.{secrets.token_hex(4)}"},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "apiVersion": "v1"},
        "reason": reason, "message": "by the test", "type": "Normal", "firstTimestamp": now, "lastTimestamp": now,
        "source": {"component": "eci"}})


def states(imc: Plugin, *args: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    r = imc("coverage", *args, "-o", "json")
    assert r.code == 0, r
    doc = r.json()
    return {w["name"]: w for w in doc["workloads"]}, doc["summary"]


def test_every_state_with_last_event_and_summary(imc: Plugin, custom_api: Any, admin_api: Any, namespace: str,
                                                 plain_registry: LiveRegistry) -> None:
    reg, ns = plain_registry, namespace
    a, b, c = (f"registry.example/{ns}/{x}:1" for x in ("a", "b", "c"))
    repo = unique("cov/moving")
    moving = f"{reg.host}/{repo}:v1"
    old = reg.client.push_image(repo, "v1", [oci.random_bytes(f"{repo}-1", 1024)]).digest
    pin_ok, pin_bad = "imc-" + secrets.token_hex(8), "imc-" + secrets.token_hex(8)
    create_imagecache(custom_api, f"{ns}-full", [a], imageCacheSize=20, status={**READY, "imageCacheId": pin_ok})
    create_imagecache(custom_api, f"{ns}-building", [a, b], imageCacheSize=40,
                      status={"phase": "Creating", "progress": "40%", "imageCacheId": pin_bad})
    create_imagecache(custom_api, f"{ns}-stale", [moving], imageCacheSize=30,
                      annotations={DIGESTS: json.dumps({moving: old})}, status=READY)
    reg.client.push_image(repo, "v1", [oci.random_bytes(f"{repo}-2", 1024)])  # the tag moves
    deployment(admin_api, ns, "full", [a])
    deployment(admin_api, ns, "partial", [a, b])
    deployment(admin_api, ns, "perfect", [a, b], {PERFECT: "true"})
    deployment(admin_api, ns, "none", [c])
    deployment(admin_api, ns, "off", [a], {AUTO: "false"})
    deployment(admin_api, ns, "pinned", [a], {PIN: pin_ok})
    deployment(admin_api, ns, "broken", [a, b], {PIN: pin_bad})
    deployment(admin_api, ns, "stale", [moving])
    pod_event(admin_api, ns, "full-5d8f9c7b6-abcde", "SuccessfulHitImageCache")
    pod_event(admin_api, ns, "none-7c9d8b6f5-qwert", "ImageCacheMissed")

    got, summary = states(imc, "-n", ns, "--insecure-registry", reg.host, "--price-per-gib-month", "0.5")
    assert {n: (w["state"], w["cache"], w["matched"], w["of"]) for n, w in got.items()} == {
        "full": ("FULL", f"{ns}-full", 1, 1),
        "partial": ("PARTIAL", f"{ns}-full", 1, 2),  # the 2-image cache is not Ready
        "perfect": ("NONE", None, 0, 2),  # a 1-of-2 match does not qualify under imc-perfect-match
        "none": ("NONE", None, 0, 1),
        "off": ("OFF", None, 0, 1),
        "pinned": ("PINNED", f"{ns}-full", 1, 1),
        "broken": ("BROKEN", None, 0, 2),  # pinned to a cache that is Creating
        "stale": ("STALE", f"{ns}-stale", 1, 1),
    }
    assert got["full"]["lastEvent"]["outcome"] == "hit" and got["full"]["lastEvent"]["pod"] == "full-5d8f9c7b6-abcde"
    assert got["none"]["lastEvent"]["outcome"] == "miss"
    assert got["stale"]["stale"][0]["recorded"] == old
    assert summary["workloads"] == 8 and summary["workloadsCovered"] == 2 and summary["workloadsCoveredPercent"] == 25
    assert summary["pricePerGiBMonth"] == 0.5 and summary["monthlyCost"] == round(summary["heldGiB"] * 0.5, 2)

    t = imc("coverage", "-n", ns, "--insecure-registry", reg.host)
    assert t.code == 0, t
    lines = {line.split()[0]: line.split() for line in t.stdout.splitlines() if line.startswith("deployment/")}
    assert lines[f"deployment/{ns}/partial"][1:3] == ["PARTIAL", "1/2"]
    assert lines[f"deployment/{ns}/full"][4] == "hit"
    assert "2 of 8 workload(s) fully covered (25%)" in t.stdout

    e = imc("explain", "deployment/perfect", "-n", ns)
    assert e.code == 0, e
    assert f"deployment/{ns}/perfect: NONE" in e.stdout
    assert "holds 1 of 2 images: k8s.aliyun.com/imc-perfect-match requires all" in e.stdout
    assert "Creating, not Ready" in e.stdout
    j = imc("explain", "deployment/partial", "-n", ns, "-o", "json")
    assert j.code == 0, j
    doc = j.json()
    assert doc["chosen"] == f"{ns}-full"
    assert {c["name"]: (c["matchCount"], c["eligible"]) for c in doc["candidates"]} == {
        f"{ns}-full": (1, True), f"{ns}-building": (2, False)}
    bad = imc("explain", "widget/x", "-n", ns)
    assert bad.code == 2 and "must be POD or KIND/NAME" in bad.stderr


def test_fix_plans_the_warm_that_makes_none_full_and_yes_creates_it(imc: Plugin, custom_api: Any, admin_api: Any,
                                                                    namespace: str,
                                                                    plain_registry: LiveRegistry) -> None:
    reg, ns = plain_registry, namespace
    image = reg.ref("sample/oci-single:1.0")
    deployment(admin_api, ns, "web", [image])
    flags = ("-n", ns, "--insecure-registry", reg.host)
    before = set(imagecaches(custom_api))
    p = imc("coverage", *flags, "--fix", "-o", "json")
    assert p.code == 0, p
    [planned] = p.json()["fix"]
    assert planned["images"] == [image] and planned["workloads"] == [f"deployment/{ns}/web"]
    assert planned["sizeGiB"] >= 20
    assert set(imagecaches(custom_api)) == before  # a preview creates nothing

    y = imc("coverage", *flags, "--fix", "--yes")
    assert y.code == 0, y
    assert f"imagecache.eci.alibabacloud.com/{planned['name']} created" in y.stdout
    custom_api.patch_cluster_custom_object_status("eci.alibabacloud.com", "v1", "imagecaches", planned["name"],
                                                  {"status": READY})
    got, summary = states(imc, *flags)
    assert got["web"]["state"] == "FULL" and got["web"]["cache"] == planned["name"]
    again = imc("coverage", *flags, "--fix")
    assert again.code == 0 and "Nothing to warm" in again.stderr
