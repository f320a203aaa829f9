"""Prune decisions: every reason, in-progress protection, digests. Pure, with a fixed clock."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Optional

from kubectl_imagecache.imagecache.plan import ANN_DIGESTS
from kubectl_imagecache.imagecache.prune import PodImages, PruneOptions, plan_prune, pod_images

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)
D = "sha256:" + "d" * 64


def ts(hours_ago: float) -> str:
    return (NOW - dt.timedelta(hours=hours_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cache(name: str, images: list[str], *, phase: str = "Ready", age_h: float = 10, expire_h: Optional[float] = None,
          updated_h: Optional[float] = None, digests: Optional[dict[str, str]] = None, size: Optional[int] = 20,
          retention: Optional[int] = None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if expire_h is not None:
        status["expireDateTime"] = ts(-expire_h)
    if updated_h is not None:
        status["lastUpdatedTime"] = ts(updated_h)
    meta: dict[str, Any] = {"name": name, "creationTimestamp": ts(age_h)}
    if digests:
        meta["annotations"] = {ANN_DIGESTS: json.dumps(digests)}
    spec: dict[str, Any] = {"images": images}
    if size is not None:  # Alibaba's CRD has no default: the field may be absent
        spec["imageCacheSize"] = size
    if retention:
        spec["retentionDays"] = retention
    return {"metadata": meta, "spec": spec, "status": status}


def pod(images: list[str], phase: str = "Running", image_ids: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"spec": {"containers": [{"image": i} for i in images]},
            "status": {"phase": phase, "containerStatuses": [{"imageID": i} for i in image_ids]}}


def names(plan: list) -> dict[str, tuple[str, ...]]:
    return {c.name: c.reasons for c in plan}


def test_expired_by_status_or_retention() -> None:
    caches = [cache("past", ["a:1"], expire_h=-1), cache("future", ["a:1"], expire_h=5),
              cache("retention", ["a:1"], age_h=49, retention=2)]
    plan = plan_prune(caches, pod_images([pod(["a:1"])]), NOW, PruneOptions(reasons=frozenset({"expired"})))
    assert names(plan) == {"past": ("expired",), "retention": ("expired",)}


def test_failed_only_after_the_grace() -> None:
    caches = [cache("old-fail", ["a:1"], phase="Failed", updated_h=2),
              cache("new-fail", ["a:1"], phase="Failed", updated_h=0.5),
              cache("upd-fail", ["a:1"], phase="UpdateFailed", updated_h=3)]
    plan = plan_prune(caches, pod_images([pod(["a:1"])]), NOW, PruneOptions())
    assert names(plan) == {"old-fail": ("failed",), "upd-fail": ("failed",)}


def test_unused_compares_normalized_references_and_digests() -> None:
    caches = [cache("by-name", ["nginx:1"]), cache("hub-long", ["docker.io/library/redis:7"]),
              cache("by-digest", ["app:2"], digests={"docker.io/library/app:2": D}),
              cache("pinned", [f"web@{D}"]), cache("nobody", ["ghost:1"])]
    pods = pod_images([pod(["docker.io/library/nginx:1", "redis:7"]),
                       pod(["app:latest"], image_ids=(f"docker-pullable://docker.io/library/app@{D}",)),
                       pod([f"docker.io/library/web@{D}"], phase="Pending"),
                       pod(["ghost:1"], phase="Succeeded")])
    plan = plan_prune(caches, pods, NOW, PruneOptions(reasons=frozenset({"unused"})))
    assert names(plan) == {"nobody": ("unused",)}


def test_superseded_by_a_newer_ready_superset() -> None:
    caches = [cache("old", ["a:1", "b:1"], age_h=20), cache("new", ["a:1", "b:1", "c:1"], age_h=1),
              cache("newer-not-ready", ["a:1", "b:1", "c:1", "d:1"], age_h=0.5, phase="Failed", updated_h=0.5),
              cache("other", ["x:1"], age_h=30)]
    plan = plan_prune(caches, PodImages({"docker.io/library/x:1", "docker.io/library/a:1"}), NOW,
                      PruneOptions(reasons=frozenset({"superseded"})))
    assert names(plan) == {"old": ("superseded",)}


def test_older_than_and_reason_selection_and_order() -> None:
    caches = [cache("a", ["a:1"], age_h=100, expire_h=-1), cache("b", ["b:1"], age_h=50), cache("c", ["c:1"], age_h=1)]
    opts = PruneOptions(reasons=frozenset({"older-than", "expired"}), older_than=48 * 3600)
    plan = plan_prune(caches, None, NOW, opts)
    assert [(c.name, c.reasons) for c in plan] == [("a", ("expired", "older-than")), ("b", ("older-than",))]
    assert plan[0].to_dict()["ageSeconds"] == 100 * 3600


def test_in_progress_untouched_unless_asked() -> None:
    caches = [cache(p.lower(), ["ghost:1"], phase=p, expire_h=-1) for p in ("Pending", "Creating", "Updating")]
    assert plan_prune(caches, PodImages(), NOW, PruneOptions()) == []
    plan = plan_prune(caches, PodImages(), NOW, PruneOptions(include_in_progress=True))
    assert sorted(names(plan)) == ["creating", "pending", "updating"]


def test_a_cache_without_a_size_counts_as_the_clouds_default() -> None:
    # Alibaba's permissive CRD sets no default; the cloud builds 20 GiB, so prune reclaims 20, not 0.
    plan = plan_prune([cache("sizeless", ["a:1"], size=None, expire_h=-1)], None, NOW,
                      PruneOptions(reasons=frozenset({"expired"})))
    assert [(c.name, c.size_gib) for c in plan] == [("sizeless", 20)]
