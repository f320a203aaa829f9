"""Which ImageCaches `prune` removes, and why. Pure: caches, pod images and a clock in; a plan out.

Reasons: expired (its expiry passed), failed (Failed/UpdateFailed for longer than a grace),
unused (no running or pending pod uses any of its images), superseded (a newer Ready cache holds
all of its images), older-than (age above a limit). Caches still being built are never touched
unless asked, since deleting one mid-build wastes what it cost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..errors import UsageError
from ..registry.reference import normalize_or_keep, parse_reference
from . import resource as imc
from .plan import normalized_images

__all__ = ["REASONS", "PruneOptions", "Candidate", "PodImages", "plan_prune"]

REASONS = ("expired", "failed", "unused", "superseded", "older-than")


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


def plan_prune(caches: Sequence[Mapping[str, Any]], pods: Optional[PodImages], now: dt.datetime,
               opts: PruneOptions) -> list[Candidate]:
    """Caches to delete, each with every reason that applies, oldest first."""
    ready = []
    for obj in caches:
        if imc.phase(obj) == imc.READY:
            ready.append((imc.created_at(obj), obj))
    out = []
    for obj in caches:
        status = obj.get("status") or {}
        phase = imc.phase(obj)
        if phase in imc.IN_PROGRESS_PHASES and not opts.include_in_progress:
            continue
        created = imc.created_at(obj)
        age = (now - created).total_seconds() if created else 0.0
        reasons: list[str] = []
        expires = imc.expires_at(obj)
        if "expired" in opts.reasons and expires is not None and expires <= now:
            reasons.append("expired")
        if "failed" in opts.reasons and phase in imc.FAILED_PHASES:
            since = imc.parse_time(status.get("lastUpdatedTime")) or imc.parse_time(status.get("startTime")) \
                or created
            if since is None or (now - since).total_seconds() >= opts.failed_grace:
                reasons.append("failed")
        if "unused" in opts.reasons and pods is not None:
            digests = imc.digests(obj)
            if not any(pods.uses(i, digests.get(normalize_or_keep(i))) for i in imc.images(obj)):
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
            out.append(Candidate(imc.name(obj), tuple(reasons), imc.effective_size_gib(obj), age, phase))
    return sorted(out, key=lambda c: (-c.age_seconds, c.name))


def pod_images(pods: Iterable[Mapping[str, Any]]) -> PodImages:
    acc = PodImages()
    for pod in pods:
        acc.add_pod(pod)
    return acc


__all__ += ["pod_images"]
