"""Planning warm: packing, naming, size checks, idempotency, the object. Pure."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubectl_imagecache.errors import UsageError
from kubectl_imagecache.imagecache.plan import (
    ANN_DIGESTS,
    ANN_WORKLOADS,
    Holder,
    ImageGroup,
    PlannedCache,
    derive_name,
    imagecache_object,
    matching_cache,
    plan_caches,
    validate_size,
)
from kubectl_imagecache.imagecache.sources import Workload
from kubectl_imagecache.model.sizing import GIB
from kubectl_imagecache.registry.reference import normalize


def imgs(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(normalize(f"reg.example.com/{prefix}/img{i}:1") for i in range(n))


def wl(name: str) -> Workload:
    return Workload("Deployment", "shop", name)


def test_one_small_set_is_one_cache_with_a_stable_name() -> None:
    groups = [ImageGroup(imgs("a", 3), wl("web")), ImageGroup(imgs("b", 2))]
    plan = plan_caches(groups)
    assert len(plan) == 1
    assert sorted(plan[0].images) == sorted(imgs("a", 3) + imgs("b", 2))
    assert plan[0].workloads == ["deployment/shop/web"]
    assert plan_caches(list(reversed(groups)))[0].name == plan[0].name  # order does not matter
    assert plan[0].name.startswith("imc-") and len(plan[0].name) == 16


def test_split_above_twenty_never_splits_a_workload() -> None:
    groups = [ImageGroup(imgs(f"w{i}", 6), wl(f"w{i}")) for i in range(5)]  # 30 images
    plan = plan_caches(groups, "shop")
    assert [p.name for p in plan] == ["shop-1", "shop-2"]
    assert all(len(p.images) <= 20 for p in plan)
    for g in groups:
        holders = [p for p in plan if set(g.images) <= set(p.images)]
        assert len(holders) == 1, g.workload


def test_shared_images_do_not_count_twice() -> None:
    shared = imgs("s", 15)
    groups = [ImageGroup(shared + imgs("x", 3), wl("x")), ImageGroup(shared + imgs("y", 2), wl("y"))]
    plan = plan_caches(groups)
    assert len(plan) == 1 and len(plan[0].images) == 20


def test_a_workload_with_more_than_twenty_images_is_an_error() -> None:
    with pytest.raises(UsageError, match=r"deployment/shop/big uses 21 images.*at most 20"):
        plan_caches([ImageGroup(imgs("big", 21), wl("big"))])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=12))
def test_packing_invariants(sizes: list[int]) -> None:
    groups = [ImageGroup(imgs(f"g{i}", n), wl(f"g{i}")) for i, n in enumerate(sizes)]
    plan = plan_caches(groups)
    assert all(1 <= len(p.images) <= 20 for p in plan)
    assert all(len(set(p.images)) == len(p.images) for p in plan)
    for g in groups:
        assert any(set(g.images) <= set(p.images) for p in plan)
    assert len({p.name for p in plan}) == len(plan)


def test_derive_name_is_dns1123_and_depends_on_the_set_only() -> None:
    a = derive_name(["b", "a"])
    assert a == derive_name(["a", "b"]) and a != derive_name(["a"])


def test_size_validation() -> None:
    validate_size(20, 10 * GIB, 2.0, False, "c")
    with pytest.raises(UsageError, match="out of range"):
        validate_size(19, 0, 2.0, False, "c")
    with pytest.raises(UsageError, match="less than twice.*--size 30 or --force"):
        validate_size(20, 15 * GIB, 2.0, False, "c")
    validate_size(20, 15 * GIB, 2.0, True, "c")  # --force


def test_object_shape() -> None:
    p = PlannedCache("c1", ["docker.io/library/nginx:1"], ["deployment/shop/web"])
    obj = imagecache_object(p, size_gib=30, digests={"docker.io/library/nginx:1": "sha256:" + "a" * 64},
                            image_bytes=123, platform="linux/arm64", pull_secrets=["shop:b", "shop:a", "shop:a"],
                            retention_days=7, reuse=True, flash=True, annotations={"x/y": "z"}, labels={"t": "1"})
    assert obj["apiVersion"] == "eci.alibabacloud.com/v1" and obj["kind"] == "ImageCache"
    assert obj["spec"] == {"images": ["docker.io/library/nginx:1"], "imageCacheSize": 30,
                           "imagePullSecrets": ["shop:a", "shop:b"], "retentionDays": 7}
    ann = obj["metadata"]["annotations"]
    assert ann["k8s.aliyun.com/imc-enable-reuse"] == "true" and ann["k8s.aliyun.com/imc-enable-flash"] == "true"
    assert ann["k8s.aliyun.com/imc-cpu-arch"] == "arm64"
    assert json.loads(ann[ANN_DIGESTS]) == {"docker.io/library/nginx:1": "sha256:" + "a" * 64}
    assert json.loads(ann[ANN_WORKLOADS]) == ["deployment/shop/web"]
    assert ann["x/y"] == "z"
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "kubectl-imagecache", "t": "1"}


def existing(name: str, images: list[str], size: int, phase: str,
             digests: Optional[dict[str, str]] = None) -> dict:
    meta: dict[str, Any] = {"name": name}
    if digests is not None:
        meta["annotations"] = {ANN_DIGESTS: json.dumps(digests)}
    return {"metadata": meta, "spec": {"images": images, "imageCacheSize": size}, "status": {"phase": phase}}


def test_matching_cache_needs_same_images_enough_size_and_a_live_phase() -> None:
    want = [normalize("nginx:1"), normalize("redis:7")]
    caches = [existing("failed", ["nginx:1", "redis:7"], 40, "Failed"),
              existing("small", ["nginx:1", "redis:7"], 20, "Ready"),
              existing("more", ["nginx:1", "redis:7", "x:1"], 40, "Ready"),
              existing("ok", ["docker.io/library/redis:7", "nginx:1"], 30, "Creating")]
    assert matching_cache(caches, want, 30, {}) == Holder("ok", verified=False)
    assert matching_cache(caches, want, 31, {}) is None


def test_an_updating_or_sizeless_cache_is_live() -> None:
    # The cloud writes Updating while a Ready cache is rebuilt: it is still (and will be) usable.
    want = [normalize("nginx:1")]
    assert matching_cache([existing("upd", ["nginx:1"], 20, "Updating")], want, 20, {}) == \
        Holder("upd", verified=False)
    sizeless = {"metadata": {"name": "bare"}, "spec": {"images": ["nginx:1"]}}  # no status, no size yet
    assert matching_cache([sizeless], want, 20, {}) == Holder("bare", verified=False)
    assert matching_cache([sizeless], want, 21, {}) is None


OLD, NEW = "sha256:" + "0" * 64, "sha256:" + "1" * 64
NGINX, REDIS = normalize("nginx:1"), normalize("redis:7")


def test_a_cache_recorded_at_other_digests_is_stale_not_a_holder() -> None:
    # The tag moved since warm recorded it: the names still match (so ECI still matches pods to it),
    # but it serves the old image. warm --refresh used to answer "nothing to do".
    now = {NGINX: NEW, REDIS: NEW}
    moved = existing("moved", ["nginx:1", "redis:7"], 20, "Ready", {NGINX: OLD, REDIS: NEW})
    holder = matching_cache([moved], [NGINX, REDIS], 20, now)
    assert holder == Holder("moved", moved=(NGINX,))
    assert holder.stale
    current = existing("current", ["nginx:1", "redis:7"], 20, "Ready", {NGINX: NEW, REDIS: NEW})
    assert not Holder("current").stale
    # Once a replacement exists it is the holder, whichever the API lists first.
    for order in ([moved, current], [current, moved]):
        assert matching_cache(order, [NGINX, REDIS], 20, now) == Holder("current")


def test_a_cache_without_recorded_digests_holds_but_unverified() -> None:
    # Made by another tool: the names match and nothing says a tag moved, so it holds; warm says it
    # could not check. A verified holder is preferred to it, and it to a stale one.
    foreign = existing("foreign", ["nginx:1"], 20, "Ready")
    partial = existing("partial", ["nginx:1", "redis:7"], 20, "Ready", {REDIS: NEW})  # nginx not recorded
    assert matching_cache([foreign], [NGINX], 20, {NGINX: NEW}) == Holder("foreign", verified=False)
    assert matching_cache([partial], [NGINX, REDIS], 20, {NGINX: NEW, REDIS: NEW}) == Holder("partial")
    stale = existing("stale", ["nginx:1"], 20, "Ready", {NGINX: OLD})
    assert matching_cache([stale, foreign], [NGINX], 20, {NGINX: NEW}) == Holder("foreign", verified=False)
    assert matching_cache([stale], [NGINX], 20, {NGINX: NEW}) == Holder("stale", moved=(NGINX,))
    # A malformed annotation counts as none recorded.
    garbled = {**stale, "metadata": {"name": "garbled", "annotations": {ANN_DIGESTS: "{not json"}}}
    assert matching_cache([garbled], [NGINX], 20, {NGINX: NEW}) == Holder("garbled", verified=False)
