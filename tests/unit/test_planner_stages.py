"""Each stage of the planner on its own: which workloads need a cache, what warm asked for, sizing and
naming, which caches are stale, the budgets, which caches can go."""

from __future__ import annotations

from typing import Any

import pytest

from kubectl_imagecache.errors import ImageCacheError, UsageError
from kubectl_imagecache.imagecache.coverage import coverage
from kubectl_imagecache.imagecache.plan import ImageGroup
from kubectl_imagecache.imagecache.planner import (
    ImageFacts,
    Policy,
    Scope,
    Snapshot,
    WarmRequest,
    as_create,
    budgets,
    can_go,
    needs_cache,
    requested,
    size_and_name,
    stale,
    usage_of,
)
from kubectl_imagecache.imagecache.prune import PruneOptions
from kubectl_imagecache.registry.reference import normalize
from tests.support.builders import NOW, PINNED_ID, cache, deployment, pod

D1, D2 = "sha256:" + "1" * 64, "sha256:" + "2" * 64
NGINX, REDIS = normalize("nginx:1"), normalize("redis:7")
GIB = 1 << 30


def snap(caches: list[dict[str, Any]], workloads: list[dict[str, Any]] = (), pods: list[dict[str, Any]] = (), *,
         known: bool = True, current: dict[str, str] | None = None, sizes: dict[str, int] | None = None) -> Snapshot:
    current = current or {}
    facts = {i: ImageFacts(current.get(i, D1), n) for i, n in (sizes or {}).items()}
    results = coverage(list(workloads), caches, pods=list(pods), current=current)
    return Snapshot(caches, NOW, list(workloads), list(pods), results,
                    usage_of(list(pods), list(workloads)) if known else None, "" if known else "forbidden",
                    current, facts)


def test_needs_cache_names_the_workloads_a_new_cache_makes_full() -> None:
    s = snap([cache("half", ["nginx:1"])], [deployment("web", ["nginx:1", "redis:7"]),
                                           deployment("off", ["redis:7"], {"k8s.aliyun.com/eci-auto-imc": "false"})])
    planned, notes = needs_cache(s)
    assert [(sorted(p.images), p.workloads) for p in planned] == [([NGINX, REDIS], ["deployment/ns/web"])]
    assert notes == []


def test_size_and_name_leave_out_or_refuse_what_cannot_be_sized() -> None:
    workloads = [deployment("web", ["nginx:1"]), deployment("db", ["redis:7"])]
    s = snap([], workloads, sizes={NGINX: 30 * GIB, REDIS: 0})
    planned, _ = needs_cache(s)  # packed: both workloads' images in one cache
    creates, notes = size_and_name(planned, s, Policy(warm=True))
    assert [(sorted(c.images), c.size_gib) for c in creates] == [([NGINX, REDIS], 60)] and notes == []  # 2x
    s = snap([], workloads, sizes={NGINX: 30 * GIB})
    creates, notes = size_and_name(planned, s, Policy(warm=True))
    assert creates == []
    assert [n.reason for n in notes] == [f"not warming (deployment/ns/db, deployment/ns/web): {REDIS} could not "
                                         "be sized"]
    with pytest.raises(ImageCacheError, match=f"{REDIS}: not sized"):
        size_and_name(planned, s, Policy(warm=True, strict_sizing=True))


def test_requested_is_idempotent_and_names_a_taken_name_as_warm_does() -> None:
    held = cache("imc-held", ["nginx:1"], digests={NGINX: D1})
    s = snap([held, cache("shop", ["busybox:1"])], sizes={NGINX: 1, REDIS: 1})
    creates, notes, building = requested(s, WarmRequest((ImageGroup((NGINX,)),)))
    assert creates == [] and building == []
    assert notes[0].subject == "imc-held" and notes[0].reason.startswith("already holds these 1 image(s)")
    creates, notes, _ = requested(s, WarmRequest((ImageGroup((REDIS,)),)))
    assert [c.images for c in creates] == [(REDIS,)] and notes == []
    with pytest.raises(UsageError, match='an ImageCache named "shop" already exists'):
        requested(s, WarmRequest((ImageGroup((REDIS,)),), name="shop"))
    moved = snap([held], sizes={NGINX: 1}, current={NGINX: D2})
    (replacement,), notes, _ = requested(moved, WarmRequest((ImageGroup((NGINX,)),)))
    assert "older digests (stale)" in notes[0].reason and replacement.name != "imc-held"


def test_stale_refreshes_nothing_pinned_anywhere_or_when_pins_are_unknown() -> None:
    old = cache("old", ["nginx:1"], digests={NGINX: D1}, cid="imc-1")
    elsewhere = deployment("pinner", ["nginx:1"], {PINNED_ID: "imc-1"}, namespace="other")
    s = snap([old], [elsewhere], current={NGINX: D2}, sizes={NGINX: 1})
    refreshes, notes, limited = stale(s, Policy(refresh=frozenset()))
    assert refreshes == [] and limited == [] and "pinned by id by deployment/other/pinner" in notes[0].reason
    unknown = snap([old], current={NGINX: D2}, sizes={NGINX: 1}, known=False)
    refreshes, notes, limited = stale(unknown, Policy(refresh=frozenset()))
    assert refreshes == [] and limited == ["refresh old"] and "forbidden" in notes[0].reason
    free = snap([cache("old", ["nginx:1"], digests={NGINX: D1})], current={NGINX: D2}, sizes={NGINX: 1})
    (r,), _, _ = stale(free, Policy(refresh=frozenset()))
    assert (r.old, r.create) == ("old", True)


def test_budgets_defer_what_does_not_fit() -> None:
    s = snap([])
    creates = [as_create(cache(f"new{i}", [f"img{i}:1"])) for i in range(3)]
    chosen, refreshes, left = budgets(Policy(max_create=1), s, creates, [])
    assert len(chosen) == 1 and len(left.deferred) == 2 and all(d.startswith("create ") for d in left.deferred)


def test_can_go_keeps_what_is_used_and_what_a_namespaced_run_does_not_own() -> None:
    caches = [cache("orphan", ["busybox:1"], workloads=["deployment/a/gone"]),
              cache("theirs", ["alpine:3"], workloads=["deployment/b/x"]),
              cache("used", ["nginx:1"], workloads=["deployment/a/web"])]
    s = snap(caches, [deployment("web", ["nginx:1"], namespace="a")], [pod("web", ["nginx:1"], namespace="a")])
    policy = Policy(prune=PruneOptions(reasons=frozenset({"unused"})))
    left = budgets(policy, s, [], [])[2]
    deletes, kept, notes = can_go(s, Scope(("a",)), policy, [], [], left)
    assert [d.name for d in deletes] == ["orphan"] and kept == []
    everywhere, _, _ = can_go(s, Scope(), policy, [], [], budgets(policy, s, [], [])[2])
    assert sorted(d.name for d in everywhere) == ["orphan", "theirs"]


def test_a_create_is_the_body_it_was_made_from() -> None:
    body = cache("x", ["nginx:1"], workloads=["deployment/ns/web"], size=40)
    c = as_create(body)
    assert (c.name, c.images, c.workloads, c.size_gib) == ("x", ("nginx:1",), ("deployment/ns/web",), 40)
