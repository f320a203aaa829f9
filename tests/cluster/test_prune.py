"""`kubectl imagecache prune` against the real API server: every reason, the preview, the plan, deletion.

Statuses are written through the status subresource with the admin client (no emulator runs
here, so nothing moves them); pods stay Pending (no scheduler), which prune counts as in use.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.cluster.commands_support import Plugin, create_imagecache, create_pod, delete_pods, imagecaches

DIGEST = "sha256:" + "ab" * 32


def rfc3339(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def plan(imc: Plugin, *args: str) -> dict[str, list[str]]:
    r = imc("prune", "-o", "json", *args)
    assert r.code == 0, r
    doc = r.json()
    assert doc["deleted"] is False
    return {c["name"]: c["reasons"] for c in doc["candidates"]}


def test_prune_reasons_preview_plan_and_yes(imc: Plugin, custom_api: Any, admin_api: Any, namespace: str) -> None:
    repo = f"registry.example/{namespace}"
    now = dt.datetime.now(dt.timezone.utc)
    ready = {"phase": "Ready", "progress": "100%"}

    create_imagecache(custom_api, "pr-super-old", [f"{repo}/s:1"], imageCacheSize=20, status=ready)
    time.sleep(1.1)  # creationTimestamp has whole seconds: the newer cache must be visibly newer
    create_imagecache(custom_api, "pr-super-new", [f"{repo}/s:1", f"{repo}/s2:1"], imageCacheSize=20, status=ready)
    create_imagecache(custom_api, "pr-expired", [f"{repo}/e:1"], imageCacheSize=30, labels={"set": "x"},
                      status={**ready, "expireDateTime": "2020-01-01T00:00:00Z"})
    create_imagecache(custom_api, "pr-failed-old", [f"{repo}/f:1"], imageCacheSize=40, status={
        "phase": "Failed", "reason": "boom", "lastUpdatedTime": rfc3339(now - dt.timedelta(hours=2)),
        "expireDateTime": rfc3339(now + dt.timedelta(hours=22))})
    create_imagecache(custom_api, "pr-failed-new", [f"{repo}/f2:1"], imageCacheSize=20, status={
        "phase": "Failed", "reason": "boom", "lastUpdatedTime": rfc3339(now)})
    create_imagecache(custom_api, "pr-unused", [f"{repo}/u:1"], imageCacheSize=50, labels={"set": "x"}, status=ready)
    create_imagecache(custom_api, "pr-tag", [f"{repo}/t:1"], status=ready)
    # Used by digest only: the pod names repo@digest, the cache the tag it resolved from.
    create_imagecache(custom_api, "pr-digest", [f"{repo}/d:1"], status=ready,
                      annotations={"kubectl-imagecache.io/digests": f'{{"{repo}/d:1": "{DIGEST}"}}'})
    create_imagecache(custom_api, "pr-creating", [f"{repo}/c:1"], imageCacheSize=20,
                      status={"phase": "Creating", "progress": "40%", "expireDateTime": "2020-01-01T00:00:00Z"})
    everything = set(imagecaches(custom_api))
    create_pod(admin_api, namespace, "users", [f"{repo}/s:1", f"{repo}/s2:1", f"{repo}/e:1", f"{repo}/f:1",
                                               f"{repo}/f2:1", f"{repo}/t:1", f"{repo}/d@{DIGEST}"])
    try:
        # -- the preview: a table and the total, nothing deleted -------------------------------------
        r = imc("prune")
        assert r.code == 0, r
        lines = r.stdout.splitlines()
        assert lines[0].split() == ["NAME", "REASONS", "SIZE", "AGE"]
        rows = {line.split()[0]: line.split() for line in lines[1:] if line.strip() and "GiB" not in line}
        assert {n: row[1:3] for n, row in rows.items()} == {
            "pr-super-old": ["superseded", "20Gi"],
            "pr-expired": ["expired", "30Gi"],
            "pr-failed-old": ["failed", "40Gi"],
            "pr-unused": ["unused", "50Gi"],
        }
        assert list(rows)[0] == "pr-super-old"  # oldest first
        assert lines[-1] == "4 ImageCache(s), 140 GiB to reclaim."
        assert "Preview only: run again with --yes to delete these." in r.stderr
        assert set(imagecaches(custom_api)) == everything

        # -- the plan as JSON ----------------------------------------------------------------------------
        j = imc("prune", "-o", "json")
        assert j.code == 0, j
        doc = j.json()
        assert set(doc) == {"candidates", "reclaimGiB", "deleted"}
        assert doc["reclaimGiB"] == 140 and doc["deleted"] is False
        by_name = {c["name"]: c for c in doc["candidates"]}
        assert by_name["pr-failed-old"]["phase"] == "Failed"
        assert by_name["pr-expired"] == {"name": "pr-expired", "reasons": ["expired"], "imageCacheSizeGiB": 30,
                                         "ageSeconds": by_name["pr-expired"]["ageSeconds"], "phase": "Ready"}
        assert all(isinstance(c["ageSeconds"], int) and c["ageSeconds"] >= 0 for c in doc["candidates"])

        # -- choosing reasons, grace, in-progress caches, selectors -----------------------------------------
        assert plan(imc, "--reason", "failed") == {"pr-failed-old": ["failed"]}
        assert plan(imc, "--reason", "failed", "--failed-grace", "0s") == {
            "pr-failed-old": ["failed"], "pr-failed-new": ["failed"]}
        assert plan(imc, "--reason", "expired,superseded") == {"pr-super-old": ["superseded"],
                                                               "pr-expired": ["expired"]}
        assert plan(imc, "--reason", "unused") == {"pr-unused": ["unused"]}  # tag and digest users kept
        assert plan(imc, "--include-in-progress")["pr-creating"] == ["expired", "unused"]
        assert plan(imc, "-l", "set=x") == {"pr-expired": ["expired"], "pr-unused": ["unused"]}
        assert plan(imc, "--reason", "older-than", "--older-than", "1h") == {}
        older = plan(imc, "--older-than", "1s")  # every cache is some seconds old by now
        assert set(older) == everything - {"pr-creating"}
        assert all(reasons[-1] == "older-than" for reasons in older.values())
        assert older["pr-expired"] == ["expired", "older-than"]
        bad = imc("prune", "--reason", "older-than")
        assert bad.code == 2 and "--reason older-than needs --older-than DURATION" in bad.stderr, bad
        bad = imc("prune", "--reason", "stale")
        assert bad.code == 2 and '--reason "stale" is unknown' in bad.stderr, bad
        assert set(imagecaches(custom_api)) == everything

        # -- --yes deletes exactly the plan ----------------------------------------------------------------
        y = imc("prune", "--yes")
        assert y.code == 0, y
        deleted = {line.split('"')[1] for line in y.stdout.splitlines() if line.endswith(" deleted")}
        assert deleted == {"pr-super-old", "pr-expired", "pr-failed-old", "pr-unused"}
        assert set(imagecaches(custom_api)) == everything - deleted
        again = imc("prune")
        assert again.code == 0 and again.stdout == "" and "Nothing to prune." in again.stderr, again
    finally:
        delete_pods(admin_api, namespace)


def test_prune_unused_reads_every_page_of_pods(imc: Plugin, custom_api: Any, admin_api: Any, namespace: str) -> None:
    """More pods than one list page (500): a cache used only by a pod on the second page is kept."""
    from kubernetes import client

    repo = f"registry.example/{namespace}"
    ready = {"phase": "Ready", "progress": "100%"}
    create_imagecache(custom_api, "pg-late", [f"{repo}/late:1"], status=ready)
    create_imagecache(custom_api, "pg-nobody", [f"{repo}/nobody:1"], status=ready)
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: create_pod(admin_api, namespace, f"filler-{i:03d}", [f"{repo}/filler:1"]),
                          range(500)))
        create_pod(admin_api, namespace, "zz-late", [f"{repo}/late:1"])  # sorts after every filler
        first = client.CoreV1Api(admin_api).list_pod_for_all_namespaces(limit=500)
        assert first.metadata._continue, "all pods fit one page: the test would not exercise continue"
        assert "zz-late" not in {p.metadata.name for p in first.items}

        assert plan(imc, "--reason", "unused") == {"pg-nobody": ["unused"]}
    finally:
        delete_pods(admin_api, namespace)
