"""Planning `warm`: which caches to create from which images. Pure: no I/O.

Pods match a cache as a whole, so a workload's images always land in one cache; caches hold at
most 20 images (the ECI limit), so image sets are packed first-fit-decreasing into as few caches
as that allows. Names are NAME (NAME-1, NAME-2... when split) or derived from the image set, so
the same request always plans the same objects.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

from .. import __version__
from ..errors import UsageError
from ..model import imagecache as imc
from ..model.imagecache import (
    ANN_BYTES,
    ANN_DIGESTS,
    ANN_PLATFORM,
    ANN_VERSION,
    ANN_WORKLOADS,
    ANNOTATION_PREFIX,
    LIVE_PHASES,
    MANAGED_BY,
    MAX_GIB,
    MAX_IMAGES,
    MIN_GIB,
)
from ..model.sizing import recommend_gib
from ..registry.reference import normalize_or_keep
from .sources import Workload

__all__ = [
    "MAX_IMAGES", "ANNOTATION_PREFIX", "ImageGroup", "PlannedCache", "plan_caches", "derive_name",
    "imagecache_object", "Holder", "matching_cache", "validate_size", "LIVE_PHASES",
]



@dataclass(frozen=True)
class ImageGroup:
    """Images that must share a cache: one workload's, or a single image given on its own."""

    images: tuple[str, ...]  # normalized references, deduplicated
    workload: Optional[Workload] = None

    @property
    def label(self) -> str:
        return str(self.workload) if self.workload else self.images[0]


@dataclass
class PlannedCache:
    name: str
    images: list[str] = field(default_factory=list)  # normalized references
    workloads: list[str] = field(default_factory=list)


def derive_name(images: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(images)).encode()).hexdigest()
    return f"imc-{digest[:12]}"


def plan_caches(groups: Sequence[ImageGroup], name: Optional[str] = None) -> list[PlannedCache]:
    """Pack groups into caches of at most 20 images, never splitting a group."""
    for g in groups:
        if len(g.images) > MAX_IMAGES:
            raise UsageError(
                f"{g.label} uses {len(g.images)} images but one ImageCache holds at most {MAX_IMAGES}, and a "
                "workload's images must share one cache for its pods to match; cache fewer of its images"
            )
    # Merge identical groups, then first-fit decreasing: the largest groups placed first.
    merged: dict[frozenset[str], list[str]] = {}
    order: list[frozenset[str]] = []
    for g in groups:
        key = frozenset(g.images)
        if key not in merged:
            merged[key] = []
            order.append(key)
        if g.workload and str(g.workload) not in merged[key]:
            merged[key].append(str(g.workload))
    keys = sorted(order, key=lambda k: (-len(k), sorted(k)))
    bins: list[tuple[set[str], list[str], list[str]]] = []  # (image set, images in order, workloads)
    for key in keys:
        images = sorted(key)
        for imgs, ordered, workloads in bins:
            if key <= imgs or len(imgs | key) <= MAX_IMAGES:
                ordered.extend(i for i in images if i not in imgs)
                imgs.update(key)
                workloads.extend(w for w in merged[key] if w not in workloads)
                break
        else:
            bins.append((set(key), list(images), list(merged[key])))
    planned = []
    for i, (_, ordered, workloads) in enumerate(bins, start=1):
        if name:
            n = name if len(bins) == 1 else f"{name}-{i}"
        else:
            n = derive_name(ordered)
        planned.append(PlannedCache(n, ordered, sorted(workloads)))
    return planned


def validate_size(size: int, needed_bytes: int, headroom: float, force: bool, cache: str) -> None:
    if not MIN_GIB <= size <= MAX_GIB:
        raise UsageError(f"--size {size} is out of range: an ImageCache is {MIN_GIB} to {MAX_GIB} GiB")
    minimum = recommend_gib(needed_bytes, 2.0)
    if size < minimum and not force:
        raise UsageError(
            f"--size {size} GiB is less than twice the images of {cache} ({minimum} GiB needed); ECI would fail "
            f"to build it: use --size {max(minimum, recommend_gib(needed_bytes, headroom))} or --force"
        )


def imagecache_object(
    planned: PlannedCache,
    *,
    size_gib: int,
    digests: Mapping[str, str],
    image_bytes: int,
    platform: str,
    pull_secrets: Sequence[str] = (),
    retention_days: Optional[int] = None,
    reuse: bool = False,
    flash: bool = False,
    annotations: Mapping[str, str] = {},
    labels: Mapping[str, str] = {},
) -> dict[str, Any]:
    ann: dict[str, str] = dict(annotations)
    if reuse:
        ann[imc.ANN_REUSE] = "true"
    if flash:
        ann[imc.ANN_FLASH] = "true"
    arch = platform.split("/")[1] if "/" in platform else None
    if arch and arch != "amd64":
        ann[imc.ANN_CPU_ARCH] = arch  # ECI builds one architecture per cache
    ann[ANN_DIGESTS] = json.dumps({i: digests[i] for i in planned.images if i in digests}, sort_keys=True)
    ann[ANN_WORKLOADS] = json.dumps(planned.workloads)
    ann[ANN_PLATFORM] = platform
    ann[ANN_BYTES] = str(image_bytes)
    ann[ANN_VERSION] = __version__
    spec: dict[str, Any] = {"images": list(planned.images), "imageCacheSize": size_gib}
    if pull_secrets:
        spec["imagePullSecrets"] = sorted(set(pull_secrets))
    if retention_days is not None:
        spec["retentionDays"] = retention_days
    return {
        "apiVersion": imc.API_VERSION,
        "kind": imc.KIND,
        "metadata": {"name": planned.name, "labels": {**MANAGED_BY, **labels}, "annotations": ann},
        "spec": spec,
    }


def normalized_images(obj: Mapping[str, Any]) -> frozenset[str]:
    """The normalized references an ImageCache object's spec lists."""
    return frozenset(normalize_or_keep(text) for text in imc.images(obj))


@dataclass(frozen=True)
class Holder:
    """A live cache with exactly the wanted images and enough room, and how its digests compare.

    ECI matches pods to caches by repository and tag, so a cache whose recorded digests differ
    from what the tags resolve to now still "matches" but serves old images: it is stale.
    """

    name: str
    moved: tuple[str, ...] = ()  # images recorded at a digest other than the current one
    verified: bool = True  # False: no digests recorded (made by another tool): the names match, that is all

    @property
    def stale(self) -> bool:
        return bool(self.moved)


def matching_cache(existing: Sequence[Mapping[str, Any]], images: Sequence[str], size_gib: int,
                   digests: Mapping[str, str]) -> Optional[Holder]:
    """The live cache holding exactly these images (normalized) with enough room, at these digests.

    A current holder wins over one that cannot be verified, which wins over a stale one. An image
    whose digest was not recorded (or is not known now) counts as current: nothing says it moved.
    """
    want = frozenset(images)
    found: list[tuple[int, Holder]] = []
    for obj in existing:
        if imc.phase(obj) not in LIVE_PHASES or normalized_images(obj) != want or \
                imc.effective_size_gib(obj) < size_gib:
            continue
        recorded = imc.digests(obj)
        moved = tuple(sorted(i for i in want if recorded.get(i) and digests.get(i) and recorded[i] != digests[i]))
        holder = Holder(imc.name(obj), moved, verified=bool(recorded))
        found.append((2 if holder.stale else 0 if holder.verified else 1, holder))
    return min(found, key=lambda pair: pair[0])[1] if found else None


__all__ += ["normalized_images", "ANN_DIGESTS", "ANN_WORKLOADS", "ANN_PLATFORM", "ANN_BYTES", "MANAGED_BY"]
