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
from tests.support.builders import cache, deployment, pod

OLD = "sha256:" + "0" * 64
NEW = "sha256:" + "9" * 64
NS = "ns"  # the builders' namespace


def event(reason: str, pod_name: str, when: str, message: str = "", uid: Optional[str] = None) -> dict[str, Any]:
    involved: dict[str, Any] = {"kind": "Pod", "name": pod_name, "namespace": NS}
    if uid:
        involved["uid"] = uid
    return {"reason": reason, "involvedObject": involved, "lastTimestamp": when, "message": message}


def by_name(results: list) -> dict[str, Any]:
    return {r.workload.name: r for r in results}


def test_which_objects_are_workloads() -> None:
    assert is_workload(deployment("web", ["a"]))
    assert is_workload(deployment("lone", ["a"], kind="ReplicaSet"))
    assert not is_workload(deployment("web-6d4f", ["a"], kind="ReplicaSet", owner=("Deployment", "web")))
    assert not is_workload(deployment("nightly-290", ["a"], kind="Job", owner=("CronJob", "nightly")))
    assert not is_workload(pod("web", ["a"]))
    # Owned by a controller coverage does not list (an operator's CR): still the only place its images show.
    assert is_workload(pod("vm", ["a"], owner_kind="VirtualMachine"))
    assert not is_workload({"kind": "Service", "metadata": {"name": "s"}})


def test_template_annotations_and_images_per_kind() -> None:
    ann = {imc.POD_PERFECT_MATCH: "true"}
    for kind in ("Deployment", "CronJob", "Pod", "Job"):
        images = ["nginx:1", "redis:7"]
        obj = pod("w", images, ann, owner_kind=None) if kind == "Pod" else deployment("w", images, ann, kind=kind)
        assert template_annotations(obj) == ann and template_images(obj) == ["nginx:1", "redis:7"]
    # ECI matches at creation: a debug container added later takes no part.
    live = pod("p", ["nginx:1"], owner_kind=None)
    live["spec"]["ephemeralContainers"] = [{"name": "dbg", "image": "busybox"}]
    live["spec"]["initContainers"] = [{"name": "init", "image": "alpine:3"}]
    assert template_images(live) == ["alpine:3", "nginx:1"]


def test_states_and_k_of_n() -> None:
    objs = [deployment("full", ["nginx:1.25"]),
            deployment("partial", ["nginx:1.25", "redis:7"], kind="StatefulSet"),
            deployment("none", ["busybox:1"], kind="DaemonSet"),
            deployment("off", ["nginx:1.25"], {imc.POD_AUTO_MATCH: "false"}, kind="Job"),
            deployment("pinned", ["nginx:1.25"], {imc.POD_PINNED_ID: "imc-1"}, kind="CronJob"),
            pod("broken", ["nginx:1.25"], {imc.POD_PINNED_ID: "imc-gone"}, owner_kind=None)]
    caches = [cache("c", ["nginx:1.25"], cid="imc-1")]
    r = by_name(coverage(objs, caches))
    assert {n: x.state for n, x in r.items()} == {
        "full": State.FULL, "partial": State.PARTIAL, "none": State.NONE, "off": State.OFF,
        "pinned": State.PINNED, "broken": State.BROKEN}
    assert (r["partial"].match.k, r["partial"].match.n) == (1, 2) and r["partial"].cache == "c"
    assert [x.covered for x in r.values()] == [True, False, False, False, True, False]


def test_stale_when_the_chosen_cache_recorded_an_older_digest() -> None:
    nginx = "docker.io/library/nginx:1.25"
    objs = [deployment("web", ["nginx:1.25"])]
    caches = [cache("c", ["nginx:1.25"], digests={nginx: OLD})]
    assert coverage(objs, caches)[0].state is State.FULL  # no registry answers: not judged
    assert coverage(objs, caches, current={nginx: OLD})[0].state is State.FULL
    stale = coverage(objs, caches, current={nginx: NEW})[0]
    assert stale.state is State.STALE and stale.match.state is State.FULL and not stale.covered
    assert [(f.image, f.recorded, f.current) for f in stale.freshness] == [(nginx, OLD, NEW)]


def test_pods_owned_through_replicasets_and_jobs_given_or_not() -> None:
    objs = [deployment("web", ["a"]), deployment("nightly", ["a"], kind="CronJob"),
            deployment("db", ["a"], kind="StatefulSet"), pod("bare", ["a"], owner_kind=None),
            # Given owned ReplicaSet: ownership walks it, whatever its name.
            deployment("odd-name", ["a"], kind="ReplicaSet", owner=("Deployment", "web"))]
    pods = [pod("web", ["x"]),  # web-6d4f-abcde of ReplicaSet web-6d4f: by hash
            pod("odd-name", ["x"], template_hash=None, name="x-1"),  # through the given ReplicaSet
            pod("web", ["x"], template_hash="zzzz", labels={"pod-template-hash": "other"}, name="web-zzzz-fffff"),  # no
            pod("nightly-29000", ["x"], owner_kind="Job", name="nightly-29000-qwert"),
            pod("db", ["x"], owner_kind="StatefulSet", name="db-0"),
            pod("db", ["x"], owner_kind="StatefulSet", name="db-1", phase="Succeeded"),
            pod("bare", ["x"], owner_kind=None), pod("stranger", ["x"], owner_kind=None)]
    r = by_name(coverage(objs, [], pods=pods))
    assert (r["web"].pods, r["nightly"].pods, r["db"].pods, r["bare"].pods) == (2, 1, 1, 1)
    assert "odd-name" not in r


def test_workload_of_pod_for_explain() -> None:
    objs = [deployment("web", ["a"], uid="u-web"),
            deployment("web-6d4f", ["a"], kind="ReplicaSet", owner=("Deployment", "web"), uid="u-rs")]
    p = pod("web", ["x"], labels={})  # web-6d4f-abcde, no hash label: found through the given ReplicaSet
    found = workload_of_pod(p, objs)
    assert found is not None and (found.kind, found.name) == ("Deployment", "web")
    bare = workload_of_pod(pod("solo", ["x"], owner_kind=None), objs)
    assert bare is not None and bare.kind == "Pod" and bare.name == "solo"


def test_last_event_per_workload_live_pods_and_gone_ones() -> None:
    objs = [deployment("web", ["a"]), deployment("web-api", ["a"], kind="DaemonSet"),
            deployment("db", ["a"], kind="StatefulSet"), deployment("nightly", ["a"], kind="CronJob")]
    pods = [pod("web", ["x"], uid="p1")]  # web-6d4f-abcde
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
    objs = [deployment("full", ["nginx:1.25"]), deployment("none", ["busybox:1"])]
    pods = [pod("full", ["x"], name="full-6d4f-aaaaa"), pod("full", ["x"], name="full-6d4f-bbbbb"),
            pod("none", ["x"], template_hash="7c8d", name="none-7c8d-ccccc")]
    caches = [cache("c", ["nginx:1.25"], size=40), cache("unset", ["redis:7"], size=None),
              cache("bad", ["x"], phase="Failed")]
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

    caches = [cache(f"c{i}", ["base:1", f"app{i}:1"]) for i in range(200)]
    objs = [deployment(f"w{i}", [f"app{i}:1", "base:1"]) for i in range(50)]
    results = _coverage(objs, caches)
    doc = _json.dumps([r.to_dict() for r in results])
    assert all(r.state.value == "FULL" and r.cache == f"c{i}" for i, r in enumerate(results))
    assert "candidates" not in results[0].to_dict()["match"]
    assert len(doc) < 100_000, len(doc)
    assert len(results[0].match.candidates) == 200  # still there for explain, built when asked
