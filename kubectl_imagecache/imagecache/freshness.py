"""Is a cache's snapshot still what its tags name, and the replacement that makes it so. Pure.

ECI matches by repository and tag, so a moved tag leaves a snapshot that still "matches" but
starts pods on the old image (eci-imagecache.md). warm records, per image, the digest the tag
named when the cache was made (resource.digests); the caller resolves the digests the registry
serves now (HEAD requests through the metadata cache) for :func:`tags_to_resolve`, and this module
compares. An image written with a digest cannot move. An image without a recorded digest (caches
made by other tools) or whose current digest is unknown is neither stale nor fresh: unknown.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..errors import ImageCacheError, InvalidReference
from ..model import imagecache as imc
from ..model.imagecache import ANN_BYTES, ANN_REPLACES, ANNOTATION_PREFIX
from ..registry.reference import normalize_or_keep, parse_reference
from .plan import PlannedCache, imagecache_object

__all__ = [
    "ImageFreshness", "CacheFreshness", "RefreshPlan", "pinned_digest", "tags_to_resolve", "image_freshness",
    "cache_freshness", "replacement_name", "plan_refresh",
]

NAME_MAX = 253  # a DNS subdomain: what the API server allows for a cluster-scoped object's name
_REFRESH_SUFFIX = re.compile(r"-r[0-9a-f]{8}$")


@dataclass(frozen=True)
class ImageFreshness:
    image: str  # normalized, as the cache lists it
    recorded: Optional[str]  # the digest warm recorded
    current: Optional[str]  # the digest the registry serves now

    @property
    def known(self) -> bool:
        return self.recorded is not None and self.current is not None

    @property
    def stale(self) -> bool:
        return self.known and self.recorded != self.current

    def to_dict(self) -> dict[str, Any]:
        return {"image": self.image, "recorded": self.recorded, "current": self.current, "stale": self.stale}


@dataclass(frozen=True)
class CacheFreshness:
    name: str
    images: tuple[ImageFreshness, ...]

    @property
    def stale(self) -> bool:
        return any(i.stale for i in self.images)

    @property
    def stale_images(self) -> tuple[ImageFreshness, ...]:
        return tuple(i for i in self.images if i.stale)

    @property
    def unknown(self) -> tuple[ImageFreshness, ...]:
        return tuple(i for i in self.images if not i.known)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "stale": self.stale, "images": [i.to_dict() for i in self.images]}


def pinned_digest(image: str) -> Optional[str]:
    """The digest an image reference is written with (it cannot move), or None."""
    try:
        return parse_reference(image).digest
    except InvalidReference:
        return None


def tags_to_resolve(caches: Iterable[Mapping[str, Any]]) -> list[str]:
    """Normalized tag references whose current digest decides freshness: those with a recorded
    digest and no digest of their own. One HEAD request each (none within the cache's TTL)."""
    out: dict[str, None] = {}
    for obj in caches:
        recorded = imc.digests(obj)
        for text in imc.images(obj):
            image = normalize_or_keep(text)
            if image in recorded and pinned_digest(image) is None:
                out.setdefault(image, None)
    return sorted(out)


def image_freshness(obj: Mapping[str, Any], images: Iterable[str], current: Mapping[str, str]) -> \
        tuple[ImageFreshness, ...]:
    """Freshness of the given normalized entries of ``obj`` (all of them: :func:`cache_freshness`)."""
    recorded = imc.digests(obj)
    out = []
    for image in images:
        own = pinned_digest(image)
        if own is not None:
            out.append(ImageFreshness(image, recorded.get(image, own), own))
        else:
            out.append(ImageFreshness(image, recorded.get(image), current.get(image)))
    return tuple(out)


def cache_freshness(obj: Mapping[str, Any], current: Mapping[str, str]) -> CacheFreshness:
    """Per image: recorded vs current digest; ``current`` maps normalized references to digests."""
    images = list(dict.fromkeys(normalize_or_keep(t) for t in imc.images(obj)))
    return CacheFreshness(imc.name(obj), image_freshness(obj, images, current))


@dataclass(frozen=True)
class RefreshPlan:
    """Replace ``old`` by ``name``: the same images at their current digests."""

    old: str
    name: str
    body: dict[str, Any] = field(compare=False)
    changes: tuple[ImageFreshness, ...] = ()  # the images whose digest moved

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "name": self.name, "changes": [c.to_dict() for c in self.changes]}


def replacement_name(old: str, digests: Mapping[str, str]) -> str:
    """OLD-r<8 hex of the images at their digests>; a former refresh suffix is replaced, not stacked.

    Derived from the content, so planning the same refresh twice names the same object (a second
    sync finds the replacement it started) and a later refresh of the same cache gets a new name.
    """
    base = _REFRESH_SUFFIX.sub("", old)
    text = "\n".join(f"{i}@{d}" for i, d in sorted(digests.items()))
    suffix = "-r" + hashlib.sha256(text.encode()).hexdigest()[:8]
    base = base[: NAME_MAX - len(suffix)].rstrip("-.") or "imc"
    return base + suffix


def plan_refresh(obj: Mapping[str, Any], current: Mapping[str, str], *, size_gib: Optional[int] = None,
                 image_bytes: Optional[int] = None) -> RefreshPlan:
    """The replacement for ``obj``: same images (as written), pull secrets, retention, labels and
    annotations; ours rewritten with the new digests and ``replaces``. Size is kept unless given
    (the caller re-estimates when the new images may need more). Raises ImageCacheError when the
    current digest of a tag is unknown: recording a guess would hide the next move.
    """
    name = imc.name(obj)
    written = imc.images(obj)
    images = list(dict.fromkeys(normalize_or_keep(t) for t in written))
    fresh = image_freshness(obj, images, current)
    unknown = [f.image for f in fresh if f.current is None]
    if unknown:
        raise ImageCacheError(f"cannot refresh {name}: the current digest of {unknown[0]} is unknown "
                              f"({len(unknown)} image(s)); resolve it from its registry first")
    digests = {f.image: f.current for f in fresh if f.current is not None}
    new_name = replacement_name(name, digests)
    old_ann = imc.annotations(obj)
    kept = {k: str(v) for k, v in old_ann.items() if not k.startswith(ANNOTATION_PREFIX)}
    platform = imc.platform(obj) or f"linux/{old_ann.get(imc.ANN_CPU_ARCH) or 'amd64'}"
    nbytes = image_bytes if image_bytes is not None else imc.images_bytes(obj)
    body = imagecache_object(
        PlannedCache(new_name, images, imc.workloads(obj) or []),
        size_gib=size_gib if size_gib is not None else imc.effective_size_gib(obj),
        digests=digests, image_bytes=nbytes or 0, platform=platform,
        pull_secrets=imc.pull_secrets(obj), retention_days=imc.retention_days(obj),
        annotations=kept, labels={k: str(v) for k, v in imc.labels(obj).items()},
    )
    if nbytes is None:
        del body["metadata"]["annotations"][ANN_BYTES]  # unknown is not 0
    body["metadata"]["annotations"][ANN_REPLACES] = name
    body["spec"]["images"] = list(written)
    return RefreshPlan(name, new_name, body, tuple(f for f in fresh if f.stale))


def stale_caches(caches: Sequence[Mapping[str, Any]], current: Mapping[str, str]) -> list[CacheFreshness]:
    """Freshness of the Ready caches that are stale (only Ready caches are worth replacing)."""
    out = []
    for obj in caches:
        if imc.phase(obj) == imc.READY:
            f = cache_freshness(obj, current)
            if f.stale:
                out.append(f)
    return out


__all__ += ["stale_caches", "NAME_MAX"]
