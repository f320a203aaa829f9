"""Which ImageCaches `prune` removes, and why. Pure: caches, pod images and a clock in; a plan out.

Reasons: expired (its expiry passed), failed (Failed/UpdateFailed for longer than a grace),
unused (no running or pending pod uses any of its images), superseded (a newer Ready cache holds
all of its images), older-than (age above a limit). Caches still being built are never touched
unless asked, since deleting one mid-build wastes what it cost.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..errors import UsageError
from ..registry.reference import normalize_or_keep, parse_reference
from .plan import ANN_DIGESTS, normalized_images

__all__ = ["REASONS", "IN_PROGRESS", "PruneOptions", "Candidate", "PodImages", "plan_prune", "parse_time"]

REASONS = ("expired", "failed", "unused", "superseded", "older-than")
IN_PROGRESS = frozenset({"Pending", "Preparing", "Creating", "Updating"})
FAILED = frozenset({"Failed", "UpdateFailed"})


def parse_time(value: Any) -> Optional[dt.datetime]:
    if not isinstance(value, str) or not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class PruneOptions:
    reasons: frozenset[str] = frozenset({"expired", "failed", "unused", "superseded"})
    failed_grace: float = 3600.0
    older_than: Optional[float] = None
    include_in_progress: bool = False


@dataclass
class PodImages:
    """What running and pending pods use: normalized references and repository@digest pairs."""

    refs: set[str] = field(default_factory=set)
    repo_digests: set[str] = field(default_factory=set)

    def add_pod(self, pod: Mapping[str, Any]) -> None:
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if status.get("phase") not in ("Running", "Pending"):
            return
        for key in ("initContainers", "containers", "ephemeralContainers"):
            for c in spec.get(key) or []:
                self._add(c.get("image"))
        for key in ("initContainerStatuses", "containerStatuses"):
            for cs in status.get(key) or []:
                # imageID carries the digest the kubelet actually pulled: "docker-pullable://repo@sha256:..."
                image_id = str(cs.get("imageID") or "").split("://", 1)[-1]
                self._add(image_id)

    def _add(self, text: Any) -> None:
        if not isinstance(text, str) or not text:
            return
        try:
            ref = parse_reference(text)
        except UsageError:
            return
        self.refs.add(str(ref.with_digest(None)) if ref.tag else str(ref))
        if ref.digest:
            self.repo_digests.add(f"{ref.name}@{ref.digest}")

    def uses(self, image: str, digest: Optional[str]) -> bool:
        try:
            ref = parse_reference(image)
        except UsageError:
            return image in self.refs
        if ref.tag and str(ref.with_digest(None)) in self.refs:
            return True
        pinned = ref.digest or digest
        return bool(pinned) and f"{ref.name}@{pinned}" in self.repo_digests


@dataclass(frozen=True)
class Candidate:
    name: str
    reasons: tuple[str, ...]
    size_gib: int
    age_seconds: float
    phase: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reasons": list(self.reasons), "imageCacheSizeGiB": self.size_gib,
                "ageSeconds": int(self.age_seconds), "phase": self.phase}


def _images(obj: Mapping[str, Any]) -> list[str]:
    return [str(i) for i in ((obj.get("spec") or {}).get("images") or [])]


def _digests(obj: Mapping[str, Any]) -> dict[str, str]:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANN_DIGESTS)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _expired(obj: Mapping[str, Any], created: Optional[dt.datetime], now: dt.datetime) -> bool:
    status, spec = obj.get("status") or {}, obj.get("spec") or {}
    expires = parse_time(status.get("expireDateTime"))
    if expires is None and created is not None and isinstance(spec.get("retentionDays"), int):
        expires = created + dt.timedelta(days=spec["retentionDays"])
    return expires is not None and expires <= now


def plan_prune(caches: Sequence[Mapping[str, Any]], pods: Optional[PodImages], now: dt.datetime,
               opts: PruneOptions) -> list[Candidate]:
    """Caches to delete, each with every reason that applies, oldest first."""
    ready = []
    for obj in caches:
        if (obj.get("status") or {}).get("phase") == "Ready":
            ready.append((parse_time((obj.get("metadata") or {}).get("creationTimestamp")), obj))
    out = []
    for obj in caches:
        meta, status, spec = obj.get("metadata") or {}, obj.get("status") or {}, obj.get("spec") or {}
        name = str(meta.get("name"))
        phase = str(status.get("phase") or "Pending")
        if phase in IN_PROGRESS and not opts.include_in_progress:
            continue
        created = parse_time(meta.get("creationTimestamp"))
        age = (now - created).total_seconds() if created else 0.0
        reasons: list[str] = []
        if "expired" in opts.reasons and _expired(obj, created, now):
            reasons.append("expired")
        if "failed" in opts.reasons and phase in FAILED:
            since = parse_time(status.get("lastUpdatedTime")) or parse_time(status.get("startTime")) or created
            if since is None or (now - since).total_seconds() >= opts.failed_grace:
                reasons.append("failed")
        if "unused" in opts.reasons and pods is not None:
            digests = _digests(obj)
            if not any(pods.uses(i, digests.get(normalize_or_keep(i))) for i in _images(obj)):
                reasons.append("unused")
        if "superseded" in opts.reasons and created is not None:
            mine = normalized_images(obj)
            for t, other in ready:
                if other is obj or t is None or t <= created:
                    continue
                if mine and mine <= normalized_images(other):
                    reasons.append("superseded")
                    break
        if "older-than" in opts.reasons and opts.older_than is not None and age > opts.older_than:
            reasons.append("older-than")
        if reasons:
            out.append(Candidate(name, tuple(reasons), int(spec.get("imageCacheSize") or 0), age, phase))
    return sorted(out, key=lambda c: (-c.age_seconds, c.name))


def pod_images(pods: Iterable[Mapping[str, Any]]) -> PodImages:
    acc = PodImages()
    for pod in pods:
        acc.add_pod(pod)
    return acc


__all__ += ["pod_images"]
