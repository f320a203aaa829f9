"""sync's plan: warm, refresh, prune in one; idempotent, safe, bounded; the create rate limit. Pure.

The idempotency tests apply a plan with a small apply of their own (what the API server and
ECI's controller would leave: deleted objects gone, created ones Ready with a creationTimestamp),
then plan again from scratch over that state: the second plan must be empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubectl_imagecache.errors import ImageCacheError
from kubectl_imagecache.imagecache.coverage import coverage
from kubectl_imagecache.imagecache.freshness import pinned_digest
from kubectl_imagecache.imagecache.matching import State
from kubectl_imagecache.imagecache.plan import PlannedCache, imagecache_object
from kubectl_imagecache.imagecache.planner import (
    ImageFacts,
    Plan,
    Policy,
    Scope,
    Snapshot,
    as_create,
    plan,
    settle,
    size_and_name,
    stale,
    usage_of,
    warm_plan,
)
from kubectl_imagecache.imagecache.prune import PruneOptions
from kubectl_imagecache.imagecache.ratelimit import CreateRateLimiter
from kubectl_imagecache.model import imagecache as imc
from kubectl_imagecache.registry.reference import normalize
from tests.support.builders import NOW, cache, deployment, pod, ts

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
POOL = [normalize(i) for i in ("nginx:1", "redis:7", "quay.io/a/api:2", "busybox:1", "alpine:3")]
NGINX, REDIS, API, BUSYBOX, ALPINE = POOL
PINNED_IMAGE = f"quay.io/a/api@{D1}"  # cannot move
SYNC_REASONS = frozenset({"expired", "failed", "unused"})  # what the sync prunes


@dataclass
class World:
    caches: list[dict[str, Any]]
    objects: list[dict[str, Any]]
    pods: list[dict[str, Any]] = field(default_factory=list)
    current: dict[str, str] = field(default_factory=dict)
    reasons: frozenset[str] = SYNC_REASONS


UNKNOWN = "sha256:" + "0" * 64  # the digest an image the world names no current digest for is sized at


def snapshot(w: World) -> Snapshot:
    """What the sync command reads before planning: every image sized at 1 byte (so 20 GiB)."""
    results = coverage(w.objects, w.caches, pods=w.pods, current=w.current)
    images = {normalize(i) for c in w.caches for i in imc.images(c)} | {i for r in results for i in r.match.images}
    sizes = {i: ImageFacts(pinned_digest(i) or w.current.get(i, UNKNOWN), 1) for i in images}
    return Snapshot(w.caches, NOW, w.objects, w.pods, results, usage_of(w.pods, w.objects), current=w.current,
                    sizes=sizes)


def plan_all(w: World, **bounds: Any) -> Plan:
    """What the sync command does before acting, over the pure core."""
    policy = Policy(warm=True, refresh=frozenset(), prune=PruneOptions(reasons=w.reasons), only_used=True, **bounds)
    return plan(snapshot(w), Scope(), policy)


def apply(w: World, plan: Plan) -> World:
    """The cluster after the plan: independent of the planner's own prediction."""
    gone = {d.name for d in plan.deletes}
    waiting = {r.name for r in plan.refreshes if not r.create}
    caches = []
    for c in w.caches:
        if imc.name(c) in gone:
            continue
        if imc.name(c) in waiting:
            c = {**c, "status": {**c["status"], "phase": "Ready"}}
        caches.append(c)
    made = [c.body for c in plan.creates] + [r.body for r in plan.refreshes if r.create]
    for body in made:
        caches.append({**body, "metadata": {**body["metadata"], "creationTimestamp": ts(0)},
                       "status": {"phase": "Ready", "progress": "100%"}})
    return replace(w, caches=caches)


def states(w: World) -> dict[str, State]:
    return {r.workload.name: r.state for r in coverage(w.objects, w.caches, pods=w.pods, current=w.current)}


# -- examples --------------------------------------------------------------------------------------------
def scenario() -> World:
    return World(
        caches=[
            cache("stale", ["nginx:1"], digests={NGINX: D1}),  # web's, tag moved
            cache("orphan", ["busybox:1"], age_h=50),  # no pod, no workload: unused
            cache("cron", ["alpine:3"]),  # no running pod either, but the CronJob would use it
            cache("broken", ["redis:7"], phase="Failed", updated_h=5),
        ],
        objects=[deployment("web", ["nginx:1"]), deployment("api", ["quay.io/a/api:2", "redis:7"]),
                 deployment("nightly", ["alpine:3"], kind="CronJob")],
        pods=[pod("web", ["nginx:1"]), pod("api", ["quay.io/a/api:2", "redis:7"])],
        current={NGINX: D2, REDIS: D1, API: D1, ALPINE: D1, BUSYBOX: D1},
    )


def test_one_plan_warms_refreshes_and_prunes_then_nothing() -> None:
    w = scenario()
    assert states(w) == {"web": State.STALE, "api": State.NONE, "nightly": State.FULL}
    plan = plan_all(w)
    assert [sorted(c.images) for c in plan.creates] == [sorted(["quay.io/a/api:2", "docker.io/library/redis:7"])]
    assert [(r.old, r.create) for r in plan.refreshes] == [("stale", True)]
    deletes = {d.name: d for d in plan.deletes}
    assert set(deletes) == {"stale", "orphan", "broken"}
    assert deletes["stale"].after == (plan.refreshes[0].name,) and deletes["orphan"].after == ()
    assert any(n.subject == "cron" and "used by cronjob/ns/nightly" in n.reason for n in plan.notes)
    after = apply(w, plan)
    assert states(after) == {"web": State.FULL, "api": State.FULL, "nightly": State.FULL}
    again = plan_all(after)
    assert again.empty, again.to_dict()
    assert json.loads(json.dumps(plan.to_dict()))["refreshes"][0]["changes"][0]["current"] == D2


def test_a_superseded_partial_cache_goes_only_after_its_successor() -> None:
    w = World(caches=[cache("half", ["quay.io/a/api:2"], age_h=30)],
              objects=[deployment("api", ["quay.io/a/api:2", "redis:7"])],
              pods=[pod("api", ["quay.io/a/api:2", "redis:7"])],
              reasons=SYNC_REASONS | {"superseded"})
    assert states(w) == {"api": State.PARTIAL}
    plan = plan_all(w)
    (create,) = plan.creates
    assert [(d.name, d.reasons, d.after) for d in plan.deletes] == [("half", ("superseded",), (create.name,))]
    assert plan_all(apply(w, plan)).empty


def test_a_cache_being_built_is_waited_for_not_duplicated() -> None:
    w = World(caches=[cache("wip", ["nginx:1"], phase="Creating")], objects=[deployment("web", ["nginx:1"])],
              pods=[pod("web", ["nginx:1"])])
    plan = plan_all(w)
    assert plan.empty and any("waiting for wip" in n.reason for n in plan.notes)


def test_a_replacement_started_by_an_earlier_run_is_waited_for() -> None:
    w = scenario()
    first = plan_all(w)
    replacement = first.refreshes[0]
    # The run was interrupted after the create: the replacement is still being built.
    w.caches.append({**replacement.body, "metadata": {**replacement.body["metadata"], "creationTimestamp": ts(0.1)},
                     "status": {"phase": "Creating"}})
    plan = plan_all(w)
    assert [(r.old, r.name, r.create) for r in plan.refreshes] == [("stale", replacement.name, False)]
    assert {d.name: d.after for d in plan.deletes}["stale"] == (replacement.name,)
    assert plan_all(apply(w, plan)).empty


def test_a_failed_replacement_is_retired_and_tried_again_once_while_the_old_cache_stays() -> None:
    w = scenario()
    replacement = plan_all(w).refreshes[0]
    # An earlier run's replacement failed (minutes ago: well within prune's failed grace).
    w.caches.append({**replacement.body, "metadata": {**replacement.body["metadata"], "creationTimestamp": ts(0.2)},
                     "status": {"phase": "Failed", "reason": "ImagePullFailed", "lastUpdatedTime": ts(0.1)}})
    plan = plan_all(w)
    [retry] = plan.refreshes
    assert (retry.old, retry.name, retry.create, retry.retires) == \
        ("stale", f"{replacement.name}-2", True, (replacement.name,))
    deletes = {d.name: d for d in plan.deletes}
    assert deletes[replacement.name].reasons == ("failed",) and deletes[replacement.name].after == ()
    assert deletes["stale"].after == (retry.name,)  # the old cache goes only once the new try is Ready
    after = apply(w, plan)
    assert replacement.name not in {imc.name(c) for c in after.caches}
    assert plan_all(after).empty


def test_a_cache_pinned_by_id_is_neither_refreshed_nor_deleted() -> None:
    w = World(caches=[cache("pin", ["nginx:1"], digests={NGINX: D1}, cid="imc-pin", retention=1, age_h=48)],
              objects=[deployment("web", ["nginx:1"], {imc.POD_PINNED_ID: "imc-pin"})],
              current={NGINX: D2})
    plan = plan_all(w)
    assert plan.empty
    reasons = " ".join(n.reason for n in plan.notes)
    assert "pinned by id" in reasons
    assert [(k.name, k.reasons, k.pinned_by) for k in plan.kept] == [("pin", ("expired", "unused"),
                                                                      ("deployment/ns/web",))]


def test_what_no_workload_would_use_is_neither_created_nor_refreshed() -> None:
    w = World(caches=[cache("orphan", ["busybox:1"], digests={BUSYBOX: D1})], objects=[deployment("web", ["nginx:1"])],
              current={BUSYBOX: D2, NGINX: D1})
    snap = snapshot(w)
    policy = Policy(warm=True, refresh=frozenset(), prune=PruneOptions(reasons=SYNC_REASONS), only_used=True)
    stray = as_create(imagecache_object(PlannedCache("stray", [ALPINE]), size_gib=20, digests={}, image_bytes=1,
                                        platform="linux/amd64"))
    (needed,), _ = warm_plan(snap.coverage, w.caches)
    (web,), _ = size_and_name([needed], snap, policy)
    refreshes, _, _ = stale(snap, policy)
    creates, refreshes, notes = settle(snap, policy, [stray, web], refreshes)
    assert [c.name for c in creates] == [needed.name] and refreshes == []
    assert {n.subject: n.reason for n in notes} == {"stray": "not created: no workload would use it",
                                                   "orphan": "not refreshed: no workload would use the replacement, "
                                                             "and prune would remove it"}
    plan = plan_all(w)
    assert [c.name for c in plan.creates] == [needed.name] and plan.refreshes == ()
    assert [(d.name, d.reasons) for d in plan.deletes] == [("orphan", ("unused",))]
    assert "not refreshed" in {n.subject: n.reason for n in plan.notes}["orphan"]


def test_off_and_broken_workloads_get_no_cache() -> None:
    w = World(caches=[], objects=[deployment("off", ["nginx:1"], {imc.POD_AUTO_MATCH: "false"}),
                                  deployment("bad", ["nginx:1"], {imc.POD_PINNED_ID: "imc-gone"})])
    plan = plan_all(w)
    assert plan.empty and any(n.subject == "deployment/ns/bad" and "fix the pin" in n.reason for n in plan.notes)


def test_bounds_defer_the_rest_to_the_next_runs() -> None:
    w = World(caches=[cache(f"old{i}", ["busybox:1"], age_h=40 + i) for i in range(3)],
              objects=[deployment(n, [i]) for n, i in (("a", "nginx:1"), ("b", "redis:7"), ("c", "alpine:3"))])
    w.objects.append(deployment("d", ["nginx:1", "redis:7", "alpine:3"], {imc.POD_PERFECT_MATCH: "true"}))
    full = plan_all(w)
    assert len(full.creates) == 1 and len(full.deletes) == 3  # one cache holds the four workloads' images
    w = World(caches=w.caches, objects=w.objects[:3], pods=[], current={})
    bounded = plan_all(w, max_create=0, max_delete=1)
    assert bounded.creates == () and [d.name for d in bounded.deletes] == ["old2"]  # oldest first
    assert "delete old1" in bounded.deferred and any(d.startswith("create ") for d in bounded.deferred)
    runs = 0
    while not (plan := plan_all(w, max_create=1, max_delete=1)).empty:
        assert len(plan.creates) + sum(r.create for r in plan.refreshes) <= 1 and len(plan.deletes) <= 1
        w = apply(w, plan)
        runs += 1
        assert runs < 10
    assert runs == 3 and set(states(w).values()) == {State.FULL}


def test_warm_plan_avoids_taken_names() -> None:
    w = World(caches=[], objects=[deployment("web", ["nginx:1"])])
    (planned,), _ = warm_plan(coverage(w.objects, []), [])
    failed = cache(planned.name, ["nginx:1"], phase="Failed", updated_h=0.1)  # within prune's grace
    (again,), _ = warm_plan(coverage(w.objects, [failed]), [failed])
    assert again.name == planned.name + "-2"


def test_rate_limiter_allows_200_a_minute_sliding() -> None:
    limiter = CreateRateLimiter()
    assert [limiter.reserve(0.0) for _ in range(200)] == [0.0] * 200
    assert limiter.wait(30.0) == 30.0
    assert limiter.reserve(30.0) == 30.0  # sent at 60.0, when the first 200 leave the window
    assert limiter.reserve(60.0) == 0.0  # the window now holds one create
    small = CreateRateLimiter(limit=2, window=10.0)
    clock, sent = 0.0, []
    for _ in range(5):
        clock += small.reserve(clock)
        sent.append(clock)
    assert sent == [0.0, 0.0, 10.0, 10.0, 20.0]
    assert all(sum(1 for u in sent if t <= u < t + 10.0) <= 2 for t in sent)


# -- the property ------------------------------------------------------------------------------------------
@st.composite
def worlds(draw: st.DrawFn) -> World:
    subset = st.lists(st.sampled_from([*POOL, PINNED_IMAGE]), min_size=1, max_size=3, unique=True)
    digest = st.sampled_from([D1, D2])
    caches = []
    for i in range(draw(st.integers(0, 5))):
        images = draw(subset)
        caches.append(cache(
            f"c{i}", images, phase=draw(st.sampled_from(["Ready", "Ready", "Ready", "Creating", "Failed"])),
            size=draw(st.sampled_from([20, 40])), age_h=draw(st.integers(1, 100)),
            digests={im: draw(digest) for im in images if draw(st.booleans())} or None, cid=f"imc-{i}",
            retention=draw(st.sampled_from([None, None, 1, 30])), updated_h=draw(st.sampled_from([0.5, 5.0]))))
    objects, pods = [], []
    for j in range(draw(st.integers(1, 4))):
        images = draw(subset)
        ann = draw(st.sampled_from([{}, {}, {imc.POD_PERFECT_MATCH: "true"}, {imc.POD_MATCH_COUNT: "2"},
                                    {imc.POD_AUTO_MATCH: "false"}, {imc.POD_PINNED_ID: "imc-0"}]))
        objects.append(deployment(f"w{j}", images, ann, kind=draw(st.sampled_from(["Deployment", "CronJob"]))))
        if objects[-1]["kind"] == "Deployment" and draw(st.booleans()):
            pods.append(pod(f"w{j}", images))
    if draw(st.booleans()):  # a pod of a workload out of scope (another namespace): prune sees its images
        pods.append(pod("elsewhere", draw(subset), namespace="other", owner_kind=None))
    current = {im: draw(digest) for im in POOL}
    reasons = draw(st.sampled_from([SYNC_REASONS, SYNC_REASONS | {"superseded"}]))
    return World(caches, objects, pods, current, reasons)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_planning_again_after_applying_changes_nothing_and_loses_no_coverage(w: World) -> None:
    before = {r.workload.name: r for r in coverage(w.objects, w.caches, pods=w.pods, current=w.current)}
    plan = plan_all(w)
    after_world = apply(w, plan)
    again = plan_all(after_world)
    assert again.empty, (plan.to_dict(), again.to_dict())
    for r in coverage(after_world.objects, after_world.caches, pods=after_world.pods, current=after_world.current):
        old = before[r.workload.name]
        assert r.match.k >= old.match.k or old.state is State.OFF, (old.match.to_dict(), r.match.to_dict())
        if r.state in (State.NONE, State.PARTIAL):
            impossible = (r.match.request.min_count or 0) > r.match.n
            assert r.match.pending is not None or impossible or r.match.request.pinned_id
        if old.covered:
            assert r.covered or r.state is State.STALE and old.state is State.PINNED


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.integers(0, 2), st.integers(0, 2))
def test_bounded_runs_converge_and_never_lose_coverage(w: World, max_create: int, max_delete: int) -> None:
    # With a bound of 0 nothing of that kind ever happens: convergence is only asked of bounds >= 1.
    for _run in range(12):
        before = {r.workload.name: r.match.k for r in coverage(w.objects, w.caches, pods=w.pods, current=w.current)}
        plan = plan_all(w, max_create=max_create, max_delete=max_delete)
        assert len(plan.creates) + sum(r.create for r in plan.refreshes) <= max_create
        assert len(plan.deletes) <= max_delete
        if plan.empty:
            assert not plan.deferred or not (max_create and max_delete)
            return
        w = apply(w, plan)
        for r in coverage(w.objects, w.caches, pods=w.pods, current=w.current):
            assert r.match.k >= before[r.workload.name] or r.match.request.auto is False
    assert not (max_create and max_delete), "bounded runs did not converge"


# -- an image not sized for want of a pull secret the run may not read (deploy/sync-scoped-secrets) ----------
def test_an_image_behind_an_unreadable_secret_gets_the_minimum_and_a_refresh_keeps_the_old_size() -> None:
    w = World([cache("old", [REDIS], size=60, digests={REDIS: D1})],
              [deployment("web", [NGINX]), deployment("db", [REDIS])],
              [pod("web", [NGINX]), pod("db", [REDIS])], current={REDIS: D2})
    full = snapshot(w)
    unsized = {i: f for i, f in full.sizes.items() if i not in (NGINX, REDIS)}
    errors = {NGINX: "401 Unauthorized", REDIS: "401 Unauthorized"}
    policy = Policy(warm=True, refresh=frozenset(), prune=PruneOptions(reasons=SYNC_REASONS), only_used=True)

    # A reason other than a secret it could not read: no guess, no cache, no refresh.
    blind = plan(replace(full, sizes=unsized, sizing_errors=errors), Scope(), policy)
    assert blind.creates == () and blind.refreshes == ()

    guessed = plan(replace(full, sizes=unsized, sizing_errors=errors,
                           unread_secrets={NGINX: "ns/regcred", REDIS: "ns/regcred"}), Scope(), policy)
    [create] = guessed.creates
    assert create.images == (NGINX,) and create.size_gib == imc.MIN_GIB
    assert imc.ANN_BYTES not in imc.annotations(create.body) and imc.digests(create.body) == {}
    [refresh] = guessed.refreshes
    assert refresh.old == "old" and imc.effective_size_gib(refresh.body) == 60  # what the old cache records
    assert any("ns/regcred" in n.reason for n in guessed.notes)

    # warm and coverage --fix size strictly: a guess there fails the plan as before.
    strict = replace(full, sizes=unsized, sizing_errors=errors, unread_secrets={NGINX: "ns/regcred"})
    try:
        plan(strict, Scope(), replace(policy, strict_sizing=True, refresh=None))
    except ImageCacheError as exc:
        assert "401 Unauthorized" in exc.message
    else:
        raise AssertionError("a strict plan guessed a size")
