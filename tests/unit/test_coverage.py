"""coverage: workloads, states (STALE too), pod ownership, ECI's events, the summary. Pure."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.imagecache.coverage import (
    coverage,
    is_workload,
    reclaimable_gib,
    summarize,
    template_annotations,
    template_images,
    workload_of_pod,
)
from kubectl_imagecache.imagecache.matching import State
from kubectl_imagecache.imagecache.prune import Candidate
from kubectl_imagecache.model import imagecache as imc

OLD = "sha256:" + "0" * 64
NEW = "sha256:" + "9" * 64
NS = "shop"


def template(images: list[str], ann: Optional[dict[str, str]] = None) -> dict[str, Any]:
    return {"metadata": {"annotations": ann or {}},
            "spec": {"containers": [{"name": f"c{i}", "image": im} for i, im in enumerate(images)]}}


def workload(kind: str, name: str, images: list[str], ann: Optional[dict[str, str]] = None,
             owner: Optional[tuple[str, str]] = None, uid: Optional[str] = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS}
    if uid:
        meta["uid"] = uid
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    tpl = template(images, ann)
    if kind == "Pod":
        return {"kind": kind, "metadata": {**meta, "annotations": ann or {}}, "spec": tpl["spec"]}
    if kind == "CronJob":
        return {"kind": kind, "metadata": meta, "spec": {"jobTemplate": {"spec": {"template": tpl}}}}
    return {"kind": kind, "metadata": meta, "spec": {"template": tpl}}


def pod(name: str, owner: Optional[tuple[str, str]] = None, *, phase: str = "Running",
        labels: Optional[dict[str, str]] = None, uid: Optional[str] = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS, "labels": labels or {}}
    if uid:
        meta["uid"] = uid
    if owner:
        meta["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"metadata": meta, "spec": {"containers": [{"image": "x"}]}, "status": {"phase": phase}}


def cache(name: str, images: list[str], *, size: int = 20, phase: str = "Ready",
          digests: Optional[dict[str, str]] = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "creationTimestamp": "2026-11-01T00:00:00Z"}
    if digests:
        meta["annotations"] = {imc.ANN_DIGESTS: json.dumps(digests)}
    return {"metadata": meta, "spec": {"images": images, "imageCacheSize": size}, "status": {"phase": phase}}


def event(reason: str, pod_name: str, when: str, message: str = "", uid: Optional[str] = None) -> dict[str, Any]:
    involved: dict[str, Any] = {"kind": "Pod", "name": pod_name, "namespace": NS}
    if uid:
        involved["uid"] = uid
    return {"reason": reason, "involvedObject": involved, "lastTimestamp": when, "message": message}


def by_name(results: list) -> dict[str, Any]:
    return {r.workload.name: r for r in results}


def test_which_objects_are_workloads() -> None:
    assert is_workload(workload("Deployment", "web", ["a"]))
    assert is_workload(workload("ReplicaSet", "lone", ["a"]))
    assert not is_workload(workload("ReplicaSet", "web-6d4f", ["a"], owner=("Deployment", "web")))
    assert not is_workload(workload("Job", "nightly-290", ["a"], owner=("CronJob", "nightly")))
    assert not is_workload(workload("Pod", "web-6d4f-abcde", ["a"], owner=("ReplicaSet", "web-6d4f")))
    # Owned by a controller coverage does not list (an operator's CR): still the only place its images show.
    assert is_workload(workload("Pod", "vm", ["a"], owner=("VirtualMachine", "vm")))
    assert not is_workload({"kind": "Service", "metadata": {"name": "s"}})


def test_template_annotations_and_images_per_kind() -> None:
    ann = {imc.POD_PERFECT_MATCH: "true"}
    for kind in ("Deployment", "CronJob", "Pod", "Job"):
        obj = workload(kind, "w", ["nginx:1", "redis:7"], ann)
        assert template_annotations(obj) == ann and template_images(obj) == ["nginx:1", "redis:7"]
    # ECI matches at creation: a debug container added later takes no part.
    live = workload("Pod", "p", ["nginx:1"])
    live["spec"]["ephemeralContainers"] = [{"name": "dbg", "image": "busybox"}]
    live["spec"]["initContainers"] = [{"name": "init", "image": "alpine:3"}]
    assert template_images(live) == ["alpine:3", "nginx:1"]


def test_states_and_k_of_n() -> None:
    objs = [workload("Deployment", "full", ["nginx:1.25"]),
            workload("StatefulSet", "partial", ["nginx:1.25", "redis:7"]),
            workload("DaemonSet", "none", ["busybox:1"]),
            workload("Job", "off", ["nginx:1.25"], {imc.POD_AUTO_MATCH: "false"}),
            workload("CronJob", "pinned", ["nginx:1.25"], {imc.POD_PINNED_ID: "imc-1"}),
            workload("Pod", "broken", ["nginx:1.25"], {imc.POD_PINNED_ID: "imc-gone"})]
    caches = [cache("c", ["nginx:1.25"]) | {"status": {"phase": "Ready", "imageCacheId": "imc-1"}}]
    r = by_name(coverage(objs, caches))
    assert {n: x.state for n, x in r.items()} == {
        "full": State.FULL, "partial": State.PARTIAL, "none": State.NONE, "off": State.OFF,
        "pinned": State.PINNED, "broken": State.BROKEN}
    assert (r["partial"].match.k, r["partial"].match.n) == (1, 2) and r["partial"].cache == "c"
    assert [x.covered for x in r.values()] == [True, False, False, False, True, False]


def test_stale_when_the_chosen_cache_recorded_an_older_digest() -> None:
    nginx = "docker.io/library/nginx:1.25"
    objs = [workload("Deployment", "web", ["nginx:1.25"])]
    caches = [cache("c", ["nginx:1.25"], digests={nginx: OLD})]
    assert coverage(objs, caches)[0].state is State.FULL  # no registry answers: not judged
    assert coverage(objs, caches, current={nginx: OLD})[0].state is State.FULL
    stale = coverage(objs, caches, current={nginx: NEW})[0]
    assert stale.state is State.STALE and stale.match.state is State.FULL and not stale.covered
    assert [(f.image, f.recorded, f.current) for f in stale.freshness] == [(nginx, OLD, NEW)]


def test_pods_owned_through_replicasets_and_jobs_given_or_not() -> None:
    objs = [workload("Deployment", "web", ["a"]), workload("CronJob", "nightly", ["a"]),
            workload("StatefulSet", "db", ["a"]), workload("Pod", "bare", ["a"]),
            # Given owned ReplicaSet: ownership walks it, whatever its name.
            workload("ReplicaSet", "odd-name", ["a"], owner=("Deployment", "web"))]
    pods = [pod("web-6d4f-abcde", ("ReplicaSet", "web-6d4f"), labels={"pod-template-hash": "6d4f"}),  # by hash
            pod("x-1", ("ReplicaSet", "odd-name")),  # through the given ReplicaSet
            pod("web-zzzz-fffff", ("ReplicaSet", "web-zzzz"), labels={"pod-template-hash": "other"}),  # no
            pod("nightly-29000-qwert", ("Job", "nightly-29000")),
            pod("db-0", ("StatefulSet", "db")), pod("db-1", ("StatefulSet", "db"), phase="Succeeded"),
            pod("bare"), pod("stranger")]
    r = by_name(coverage(objs, [], pods=pods))
    assert (r["web"].pods, r["nightly"].pods, r["db"].pods, r["bare"].pods) == (2, 1, 1, 1)
    assert "odd-name" not in r


def test_workload_of_pod_for_explain() -> None:
    objs = [workload("Deployment", "web", ["a"], uid="u-web"),
            workload("ReplicaSet", "web-6d4f", ["a"], owner=("Deployment", "web"), uid="u-rs")]
    p = pod("web-6d4f-abcde", ("ReplicaSet", "web-6d4f"))
    found = workload_of_pod(p, objs)
    assert found is not None and (found.kind, found.name) == ("Deployment", "web")
    bare = workload_of_pod(pod("solo"), objs)
    assert bare is not None and bare.kind == "Pod" and bare.name == "solo"


def test_last_event_per_workload_live_pods_and_gone_ones() -> None:
    objs = [workload("Deployment", "web", ["a"]), workload("DaemonSet", "web-api", ["a"]),
            workload("StatefulSet", "db", ["a"]), workload("CronJob", "nightly", ["a"])]
    pods = [pod("web-6d4f-abcde", ("ReplicaSet", "web-6d4f"), labels={"pod-template-hash": "6d4f"}, uid="p1")]
    events = [
        event(imc.EVENT_MISSED, "web-6d4f-abcde", "2026-11-01T10:00:00Z", uid="p1"),
        event(imc.EVENT_HIT, "web-6d4f-abcde", "2026-11-01T11:00:00Z", "hit imc-1", uid="p1"),
        event(imc.EVENT_MISSED, "web-6d4f-abcde", "2026-11-01T09:00:00Z", uid="p1"),  # older: not the last
        # Pods that are gone: attributed by the names their controllers give; the longest name wins
        # ("web-api-zyxwv" is a name Deployment web could give too).
        event(imc.EVENT_AUTO_CREATED, "web-api-zyxwv", "2026-11-02T08:00:00+08:00"),
        event(imc.EVENT_HIT, "db-3", "2026-11-01T08:00:00.123456789Z"),
        event(imc.EVENT_MISSED, "nightly-29001234-abcde", "2026-11-01T07:00:00Z"),
        event("Scheduled", "db-0", "2026-11-02T00:00:00Z"),  # not ECI's
        event(imc.EVENT_HIT, "unrelated-abcde", "2026-11-01T07:00:00Z"),
    ]
    r = by_name(coverage(objs, [], pods=pods, events=events))
    web = r["web"].last_event
    assert web is not None and web.outcome == "hit" and web.message == "hit imc-1"
    api = r["web-api"].last_event
    assert api is not None and api.reason == imc.EVENT_AUTO_CREATED and api.pod == "web-api-zyxwv"
    db, nightly = r["db"].last_event, r["nightly"].last_event
    assert db is not None and db.outcome == "hit" and nightly is not None and nightly.outcome == "miss"


def test_summary_percentages_gib_and_cost() -> None:
    objs = [workload("Deployment", "full", ["nginx:1.25"]), workload("Deployment", "none", ["busybox:1"])]
    pods = [pod("full-6d4f-aaaaa", ("ReplicaSet", "full-6d4f"), labels={"pod-template-hash": "6d4f"}),
            pod("full-6d4f-bbbbb", ("ReplicaSet", "full-6d4f"), labels={"pod-template-hash": "6d4f"}),
            pod("none-7c8d-ccccc", ("ReplicaSet", "none-7c8d"), labels={"pod-template-hash": "7c8d"})]
    caches = [cache("c", ["nginx:1.25"], size=40), cache("unset", ["redis:7"]), cache("bad", ["x"], phase="Failed")]
    del caches[1]["spec"]["imageCacheSize"]
    results = coverage(objs, caches, pods=pods)
    prune = [Candidate("unset", ("unused",), 20, 100.0, "Ready"), Candidate("bad", ("failed",), 20, 100.0, "Failed")]
    s = summarize(results, caches, reclaimable=reclaimable_gib(prune), price_per_gib_month=0.5)
    assert (s.workloads, s.workloads_covered, s.workloads_percent) == (2, 1, 50.0)
    assert (s.pods, s.pods_covered, s.pods_percent) == (3, 2, 66.7)
    assert (s.caches, s.held_gib, s.reclaimable_gib) == (3, 60, 20)  # the failed cache holds no snapshot
    assert (s.monthly_cost, s.reclaimable_monthly_cost) == (30.0, 10.0)
    empty = summarize([], [])
    assert empty.workloads_percent is None and empty.monthly_cost is None
    assert json.loads(json.dumps(s.to_dict()))["podsCoveredPercent"] == 66.7


@pytest.mark.parametrize("price", [-1.0, float("nan"), float("inf")])
def test_bad_price_is_refused(price: float) -> None:
    with pytest.raises(UsageError, match="price-per-gib-month"):
        summarize([], [], price_per_gib_month=price)


def test_json_names_the_choice_not_every_candidate_of_every_workload() -> None:
    # A base image in every cache makes every cache a candidate of every pod: listing them all per
    # workload made `coverage -A -o json` 268 MB on 1,000 workloads x 500 caches. explain lists them.
    import json as _json

    from kubectl_imagecache.imagecache.coverage import coverage as _coverage

    caches = [{"metadata": {"name": f"c{i}", "creationTimestamp": "2026-01-01T00:00:00Z"},
               "spec": {"images": ["base:1", f"app{i}:1"], "imageCacheSize": 20}, "status": {"phase": "Ready"}}
              for i in range(200)]
    objs = [{"kind": "Deployment", "metadata": {"name": f"w{i}", "namespace": "ns"},
             "spec": {"template": {"spec": {"containers": [{"name": "a", "image": f"app{i}:1"},
                                                           {"name": "b", "image": "base:1"}]}}}}
            for i in range(50)]
    results = _coverage(objs, caches)
    doc = _json.dumps([r.to_dict() for r in results])
    assert all(r.state.value == "FULL" and r.cache == f"c{i}" for i, r in enumerate(results))
    assert "candidates" not in results[0].to_dict()["match"]
    assert len(doc) < 100_000, len(doc)
    assert len(results[0].match.candidates) == 200  # still there for explain, built when asked
