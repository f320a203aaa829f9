"""'Never break a pod': the invariant on its own (it must catch bad plans), and as a property of every
plan the planner makes over generated clusters, for every command's policy and the scopes -n, -A, -l."""

from __future__ import annotations

import dataclasses
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_imagecache.imagecache import invariant
from kubectl_imagecache.imagecache.coverage import coverage
from kubectl_imagecache.imagecache.freshness import pinned_digest
from kubectl_imagecache.imagecache.planner import (
    Delete,
    ImageFacts,
    Plan,
    Policy,
    Scope,
    Snapshot,
    plan,
    usage_of,
)
from kubectl_imagecache.imagecache.prune import PruneOptions
from kubectl_imagecache.model import imagecache as imc
from kubectl_imagecache.registry.reference import normalize
from tests.support.builders import NOW, PINNED_ID, cache, deployment, pod

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
POOL = ["nginx:1", "redis:7", "quay.io/a/api:2", "busybox:1", f"quay.io/a/db@{D1}"]
PHASES = ["Ready", "Ready", "Ready", "Pending", "Creating", "Failed", "UpdateFailed", "Updating"]


def usage(pods: list[dict[str, Any]], workloads: list[dict[str, Any]]) -> Any:
    return usage_of(pods, workloads)


# -- the invariant catches what it must --------------------------------------------------------------------------
def test_deleting_a_cache_a_template_elsewhere_pins_is_a_violation() -> None:
    caches = [cache("pinned", ["nginx:1"], cid="imc-1")]
    u = usage([], [deployment("web", ["nginx:1"], {PINNED_ID: "imc-1"}, namespace="other")])
    bad = Plan(deletes=(Delete("pinned", ("unused",), 20),))
    assert invariant.violations(bad, caches, u, NOW) == ["deletes pinned, which deployment/other/web pin(s) by id"]


def test_deleting_what_a_running_pod_uses_needs_a_ready_successor_first() -> None:
    caches = [cache("old", ["nginx:1"], age_h=20), cache("new", ["nginx:1"], phase="Creating", age_h=1)]
    u = usage([pod("web", ["nginx:1"])], [])
    bad = Plan(deletes=(Delete("old", ("superseded",), 20),))
    (problem,) = invariant.violations(bad, caches, u, NOW)
    assert problem == "deletes old, which running pods of docker.io/library/nginx:1 use, before a cache holding " \
                      "them is Ready"
    ready = [caches[0], cache("new", ["nginx:1"], age_h=1)]  # the successor is Ready now: fine
    assert invariant.violations(bad, ready, u, NOW) == []


def test_a_new_successor_must_be_waited_for() -> None:
    from kubectl_imagecache.imagecache.planner import Create

    caches = [cache("old", ["nginx:1"])]
    u = usage([pod("web", ["nginx:1"])], [])
    body = cache("succ", ["nginx:1"], age_h=0)
    early = Plan(creates=(Create("succ", ("nginx:1",), (), 20, body),), deletes=(Delete("old", ("unused",), 20),))
    (problem,) = invariant.violations(early, caches, u, NOW)
    assert problem.startswith("deletes old, which running pods")
    assert problem.endswith("before a cache holding them is Ready")
    waits = dataclasses.replace(early, deletes=(Delete("old", ("unused",), 20, ("succ",)),))
    assert invariant.violations(waits, caches, u, NOW) == []


def test_waiting_for_a_successor_of_the_same_images_is_enough_whichever_new_cache_the_pod_prefers() -> None:
    from kubectl_imagecache.imagecache.planner import Create

    # Found by the property below: two stale caches of the same images, each waiting for its own replacement.
    caches = [cache("a", ["nginx:1"], age_h=3), cache("b", ["nginx:1"], age_h=2)]
    u = usage([pod("web", ["nginx:1"])], [])
    new = (Create("a-r", ("nginx:1",), (), 20, cache("a-r", ["nginx:1"], age_h=0)),
           Create("b-r", ("nginx:1",), (), 20, cache("b-r", ["nginx:1"], age_h=0)))
    deletes = (Delete("a", ("refreshed",), 20, ("a-r",)), Delete("b", ("refreshed",), 20, ("b-r",)))
    p = Plan(creates=new, deletes=deletes)
    assert invariant.violations(p, caches, u, NOW) == []


def test_unknown_pins_allow_only_expired_and_failed_deletes() -> None:
    caches = [cache("exp", ["nginx:1"], expires_h=-1, cid="imc-e"), cache("bad", ["redis:7"], phase="Failed"),
              cache("ok", ["busybox:1"])]
    deletes = tuple(Delete(n, ("x",), 20) for n in ("exp", "bad", "ok"))
    assert invariant.violations(Plan(deletes=deletes), caches, None, NOW) == [
        "deletes ok (x) though the pins are unknown"]
    # Expired and failed are the exception even when pinned: no pod can start from them.
    u = usage([pod("web", ["nginx:1"], {PINNED_ID: "imc-e"})], [])
    assert invariant.violations(Plan(deletes=deletes[:2]), caches, u, NOW) == []


def test_enforce_refuses_before_any_side_effect() -> None:
    import pytest

    from kubectl_imagecache.errors import ImageCacheError

    caches = [cache("ok", ["busybox:1"])]
    with pytest.raises(ImageCacheError, match="refusing to act: the plan deletes ok"):
        invariant.enforce(Plan(deletes=(Delete("ok", ("unused",), 20),)), caches, None, NOW)


# -- the property over generated clusters -------------------------------------------------------------------------
NAMESPACES = ("a", "b")


@st.composite
def clusters(draw: Any) -> dict[str, Any]:
    ids = [f"imc-{i}" for i in range(4)]
    caches = []
    for i in range(draw(st.integers(0, 6))):
        images = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True))
        recorded = {normalize(im): draw(st.sampled_from([D1, D2])) for im in images
                    if pinned_digest(im) is None and draw(st.booleans())}
        owners = draw(st.sampled_from([None, [], [f"deployment/{ns}/w{j}" for ns in NAMESPACES for j in range(2)],
                                       ["deployment/a/w0"], ["deployment/b/w1"]]))
        caches.append(cache(f"c{i}", images, phase=draw(st.sampled_from(PHASES)), age_h=draw(st.integers(1, 100)),
                            digests=recorded or None, workloads=owners, cid=draw(st.sampled_from([None, *ids])),
                            updated_h=draw(st.sampled_from([None, 0.5, 5])),
                            expires_h=draw(st.sampled_from([None, None, -1, 24]))))
    workloads, pods = [], []
    for ns in NAMESPACES:
        for j in range(draw(st.integers(0, 2))):
            images = draw(st.lists(st.sampled_from(POOL), min_size=1, max_size=3, unique=True))
            ann: dict[str, str] = {}
            if draw(st.booleans()):
                ann[PINNED_ID] = draw(st.sampled_from(ids))
            if draw(st.booleans()):
                ann[imc.POD_PERFECT_MATCH] = "true"
            if draw(st.booleans()):
                ann[imc.POD_MATCH_COUNT] = str(draw(st.integers(1, 3)))
            labels = {"tier": draw(st.sampled_from(["web", "db"]))}
            workloads.append(deployment(f"w{j}", images, ann, namespace=ns, labels=labels))
            if draw(st.booleans()):
                pods.append(pod(f"w{j}", images, ann, namespace=ns,
                                phase=draw(st.sampled_from(["Running", "Pending", "Succeeded"]))))
    return {"caches": caches, "workloads": workloads, "pods": pods,
            "current": {normalize(i): draw(st.sampled_from([D1, D2])) for i in POOL if pinned_digest(i) is None}}


SCOPES = [Scope(), Scope(("a",)), Scope(("b",)), Scope(None, "tier=web")]
POLICIES = {
    "sync": Policy(warm=True, refresh=frozenset(), prune=PruneOptions(reasons=frozenset(
        {"expired", "failed", "unused", "superseded"}), failed_grace=0), only_used=True),
    "prune": Policy(prune=PruneOptions(failed_grace=0, include_in_progress=True)),
    "refresh": Policy(refresh=frozenset()),
    "coverage --fix": Policy(warm=True),
    "sync --max-delete 1": Policy(warm=True, refresh=frozenset(), prune=PruneOptions(), only_used=True,
                                  max_create=1, max_delete=1),
}


def in_scope(obj: dict[str, Any], scope: Scope) -> bool:
    meta = obj["metadata"]
    if scope.namespaces is not None and meta["namespace"] not in scope.namespaces:
        return False
    return scope.selector is None or meta.get("labels", {}).get("tier") == scope.selector.split("=")[1]


def snapshot_of(world: dict[str, Any], scope: Scope, known: bool) -> Snapshot:
    workloads = [w for w in world["workloads"] if in_scope(w, scope)]
    pods = [p for p in world["pods"] if scope.namespaces is None or p["metadata"]["namespace"] in scope.namespaces]
    results = coverage(workloads, world["caches"], pods=pods, current=world["current"])
    images = {normalize(i) for i in POOL}
    sizes = {i: ImageFacts(pinned_digest(i) or world["current"].get(i, D1), 1 << 30) for i in images}
    u = usage(world["pods"], world["workloads"]) if known else None  # cluster-wide, whatever the scope
    return Snapshot(world["caches"], NOW, workloads, pods, results, u, "forbidden" if not known else "",
                    world["current"], sizes)


def harmless(obj: dict[str, Any]) -> bool:
    expires = imc.expires_at(obj)
    return imc.phase(obj) in imc.FAILED_PHASES or (expires is not None and expires <= NOW)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.sampled_from(SCOPES), st.sampled_from(sorted(POLICIES)), st.booleans())
def test_no_plan_breaks_a_pod(world: dict[str, Any], scope: Scope, command: str, known: bool) -> None:
    snap = snapshot_of(world, scope, known)
    p = plan(snap, scope, POLICIES[command])
    u = usage(world["pods"], world["workloads"])  # the whole truth, known to the check even when not to the plan
    assert invariant.violations(p, world["caches"], u, NOW) == [], (command, scope, p.to_dict())
    by_name = {imc.name(c): c for c in world["caches"]}
    if not known:
        assert p.refreshes == ()
        assert all(harmless(by_name[d.name]) for d in p.deletes), p.to_dict()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(clusters(), st.sampled_from(SCOPES))
def test_a_namespaced_plan_never_replaces_what_another_namespace_pins(world: dict[str, Any], scope: Scope) -> None:
    snap = snapshot_of(world, scope, True)
    p = plan(snap, scope, POLICIES["sync"])
    pinned = {i for i in snap.usage.pins.by_id} if snap.usage else set()
    by_name = {imc.name(c): c for c in world["caches"]}
    for r in p.refreshes:
        assert imc.cache_id(by_name[r.old]) not in pinned, (r.old, p.to_dict())


def pinned_elsewhere() -> tuple[dict[str, Any], Scope]:
    stale = cache("stale", ["nginx:1"], digests={normalize("nginx:1"): D1}, cid="imc-x",
                  workloads=["deployment/a/web"])
    world = {"caches": [stale],
             "workloads": [deployment("web", ["nginx:1"], namespace="a"),
                           deployment("pinner", ["nginx:1"], {PINNED_ID: "imc-x"}, namespace="b")],
             "pods": [], "current": {normalize("nginx:1"): D2}}
    return world, Scope(("a",))


def test_a_namespaced_sync_keeps_a_stale_cache_another_namespace_pins_and_says_why() -> None:
    world, scope = pinned_elsewhere()
    p = plan(snapshot_of(world, scope, True), scope, POLICIES["sync"])
    assert p.refreshes == () and p.deletes == ()
    assert any(n.subject == "stale" and "pinned by id by deployment/b/pinner" in n.reason for n in p.notes)


def test_unknown_pins_refresh_nothing_and_say_what_was_left_out() -> None:
    world, scope = pinned_elsewhere()
    p = plan(snapshot_of(world, scope, False), scope, POLICIES["sync"])
    assert p.refreshes == () and "refresh stale" in p.limited
    assert "prune --reason superseded" in p.limited and "prune --reason unused" in p.limited


def test_prune_of_expired_and_failed_needs_no_pins() -> None:
    world = {"caches": [cache("exp", ["nginx:1"], expires_h=-1), cache("bad", ["redis:7"], phase="Failed",
                                                                           updated_h=5), cache("ok", ["busybox:1"])],
             "workloads": [], "pods": [], "current": {}}
    policy = Policy(prune=PruneOptions(reasons=frozenset({"expired", "failed"})))
    p = plan(snapshot_of(world, Scope(), False), Scope(), policy)
    assert sorted(d.name for d in p.deletes) == ["bad", "exp"] and p.limited == ()


