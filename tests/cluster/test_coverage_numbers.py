"""coverage's numbers say what they count: a workload pinned to a cache that lacks some of its images is
PINNED (k of n) and not covered; the GiB held says that Failed caches are not in it."""

from __future__ import annotations

import secrets
from typing import Any

from tests.cluster.commands_support import Plugin, create_imagecache
from tests.cluster.test_coverage import deployment

PIN = "k8s.aliyun.com/eci-imc-id"


def test_a_partly_pinned_workload_is_shown_k_of_n_and_failed_caches_hold_nothing(
        imc: Plugin, custom_api: Any, admin_api: Any, namespace: str) -> None:
    ns, cid = namespace, "imc-" + secrets.token_hex(8)
    a, b = f"registry.example/{ns}/a:1", f"registry.example/{ns}/b:1"
    create_imagecache(custom_api, f"{ns}-half", [a], imageCacheSize=30,
                      status={"phase": "Ready", "progress": "100%", "imageCacheId": cid})
    create_imagecache(custom_api, f"{ns}-failed", [b], imageCacheSize=50,
                      status={"phase": "Failed", "reason": "ImagePullFailed"})
    deployment(admin_api, ns, "pinned", [a, b], {PIN: cid})

    table = imc("coverage", "-n", ns)
    assert table.code == 0, table
    row = next(line for line in table.stdout.splitlines() if line.startswith(f"deployment/{ns}/pinned"))
    assert "PINNED (1 of 2)" in row, table.stdout
    assert "0 of 1 workload(s) fully covered" in table.stdout, table.stdout
    held = next(line for line in table.stdout.splitlines() if "ImageCache(s) hold" in line)
    assert "Failed, which hold no storage, not counted" in held, held

    doc = imc("coverage", "-n", ns, "-o", "json")
    assert doc.code == 0, doc
    [w] = doc.json()["workloads"]
    assert (w["state"], w["matched"], w["of"], w["covered"]) == ("PINNED", 1, 2, False)
    summary = doc.json()["summary"]
    assert summary["failedCaches"] >= 1 and summary["heldGiBIncludesFailed"] is False
