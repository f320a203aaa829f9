"""Stale detection per cache and the refresh replacement's body. Pure."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from kubectl_imagecache import __version__
from kubectl_imagecache.errors import ImageCacheError
from kubectl_imagecache.imagecache.freshness import (
    NAME_MAX,
    cache_freshness,
    plan_refresh,
    replacement_name,
    stale_caches,
    tags_to_resolve,
)
from kubectl_imagecache.model import imagecache as imc
from tests.support import builders

OLD = "sha256:" + "0" * 64
NEW = "sha256:" + "9" * 64
PIN = "sha256:" + "a" * 64
NGINX = "docker.io/library/nginx:1.25"
REDIS = "docker.io/library/redis:7"
API = f"quay.io/app/api@{PIN}"


OTHER_ANN = {imc.ANN_PLATFORM: "linux/arm64", imc.ANN_BYTES: "12345", imc.ANN_VERSION: "0.0.1",
             imc.ANN_REUSE: "true", imc.ANN_CPU_ARCH: "arm64"}


def cache(name: str = "web", *, phase: str = "Ready", digests: Optional[dict[str, str]] = None,
          extra_ann: Optional[dict[str, str]] = None, size: Optional[int] = 40) -> dict[str, Any]:
    """Shop's cache of nginx, redis and a pinned api, with every annotation refresh carries over."""
    return builders.cache(name, ["nginx:1.25", "redis:7", API], phase=phase, size=size, retention=7,
                          digests=digests if digests is not None else {NGINX: OLD, REDIS: OLD},
                          workloads=["deployment/shop/web"], annotations={**OTHER_ANN, **(extra_ann or {})},
                          labels={"team": "shop"}, pull_secrets=["shop:regcred"])


def test_per_image_recorded_vs_current() -> None:
    f = cache_freshness(cache(), {NGINX: NEW, REDIS: OLD})
    rows = {i.image: (i.recorded, i.current, i.stale) for i in f.images}
    assert rows == {NGINX: (OLD, NEW, True), REDIS: (OLD, OLD, False), API: (PIN, PIN, False)}
    assert f.stale and [i.image for i in f.stale_images] == [NGINX]


def test_fresh_and_unknown_are_not_stale() -> None:
    assert not cache_freshness(cache(), {NGINX: OLD, REDIS: OLD}).stale
    unknown = cache_freshness(cache(digests={}), {NGINX: NEW})  # a cache made by another tool
    assert not unknown.stale and {i.image for i in unknown.unknown} == {NGINX, REDIS}


def test_tags_to_resolve_skips_digests_and_unrecorded() -> None:
    caches = [cache(), cache("other", digests={NGINX: OLD})]
    assert tags_to_resolve(caches) == [NGINX, REDIS]


def test_stale_caches_only_ready_ones() -> None:
    caches = [cache("a"), cache("b", phase="Creating"), cache("c", digests={NGINX: NEW, REDIS: NEW})]
    assert [f.name for f in stale_caches(caches, {NGINX: NEW, REDIS: NEW})] == ["a"]


def test_refresh_body_keeps_everything_but_the_digests() -> None:
    old = cache(extra_ann={"k8s.aliyun.com/vswitch-ids": "vsw-1"})
    plan = plan_refresh(old, {NGINX: NEW, REDIS: OLD})
    body, spec, ann = plan.body, plan.body["spec"], plan.body["metadata"]["annotations"]
    assert plan.old == "web" and plan.name == body["metadata"]["name"] and plan.name.startswith("web-r")
    assert [c.image for c in plan.changes] == [NGINX]
    assert spec == {"images": ["nginx:1.25", "redis:7", API], "imageCacheSize": 40,
                    "imagePullSecrets": ["shop:regcred"], "retentionDays": 7}
    assert json.loads(ann[imc.ANN_DIGESTS]) == {NGINX: NEW, REDIS: OLD, API: PIN}
    assert ann[imc.ANN_REPLACES] == "web" and ann[imc.ANN_VERSION] == __version__
    assert ann[imc.ANN_WORKLOADS] == json.dumps(["deployment/shop/web"]) and ann[imc.ANN_PLATFORM] == "linux/arm64"
    assert ann[imc.ANN_BYTES] == "12345" and ann[imc.ANN_REUSE] == "true" and ann[imc.ANN_CPU_ARCH] == "arm64"
    assert ann["k8s.aliyun.com/vswitch-ids"] == "vsw-1"
    assert body["metadata"]["labels"]["team"] == "shop"
    assert cache_freshness(body, {NGINX: NEW, REDIS: OLD}).stale is False


def test_refresh_size_and_bytes_can_be_given_or_are_absent() -> None:
    old = cache(size=None)
    del old["metadata"]["annotations"][imc.ANN_BYTES]
    plan = plan_refresh(old, {NGINX: NEW, REDIS: NEW})
    assert plan.body["spec"]["imageCacheSize"] == imc.DEFAULT_SIZE_GIB
    assert imc.ANN_BYTES not in plan.body["metadata"]["annotations"]
    sized = plan_refresh(old, {NGINX: NEW, REDIS: NEW}, size_gib=60, image_bytes=99)
    assert sized.body["spec"]["imageCacheSize"] == 60 and sized.body["metadata"]["annotations"][imc.ANN_BYTES] == "99"


def test_refresh_refuses_an_unknown_digest() -> None:
    with pytest.raises(ImageCacheError, match="current digest of docker.io/library/redis:7 is unknown"):
        plan_refresh(cache(), {NGINX: NEW})


def test_replacement_names_are_stable_new_and_not_stacked() -> None:
    a = replacement_name("web", {NGINX: NEW})
    assert a == replacement_name("web", {NGINX: NEW}) and a != replacement_name("web", {NGINX: OLD})
    again = replacement_name(a, {NGINX: OLD})
    assert again.startswith("web-r") and again.count("-r") == 1
    long = replacement_name("x" * 300, {NGINX: NEW})
    assert len(long) == NAME_MAX and long.startswith("x")
