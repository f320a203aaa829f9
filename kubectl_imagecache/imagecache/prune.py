"""Which ImageCaches `prune` removes, and why. Pure: caches, pod images, pins and a clock in; a plan out.

Reasons: expired (its expiry passed), failed (Failed/UpdateFailed for longer than a grace),
unused (no running or pending pod uses any of its images), superseded (a newer cache that stays
holds all of its images), older-than (age above a limit). Caches still being built are never
touched unless asked, since deleting one mid-build wastes what it cost.

Never harm running pods:
- A cache pinned by a pod or a pod template (k8s.aliyun.com/eci-imc-id = its status.imageCacheId)
  is never a candidate: ECI fails to create a pod whose pinned cache is not Ready. The plan lists
  it under `kept` with who pins it, when it would otherwise have been pruned.
- Only a cache that stays can supersede: Ready, not expired, not expiring before the cache it
  replaces, and not itself deleted by the same plan for any reason. Supersession only looks at
  strictly newer caches, so deciding newest first reaches the fixpoint in one pass: in a chain
  A < B < C of the same images where C is expired, C goes, B stays (nothing newer that stays holds
  it) and A goes (superseded by B).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping  # isinstance on typing.Mapping costs 5x (measured in bench/coverage.py)
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Sequence

from ..errors import UsageError
from ..model import imagecache as imc
from ..model import pods as pod_phases
from ..model.kinds import template_annotations
from ..model.reasons import DEFAULT_REASONS, REASONS, Reason
from ..registry.reference import normalize_or_keep, parse_reference
from .plan import normalized_images

__all__ = ["REASONS", "PruneOptions", "Candidate", "Kept", "PrunePlan", "PodImages", "Pins", "plan_prune"]


@dataclass(frozen=True)
class PruneOptions:
    reasons: frozenset[str] = DEFAULT_REASONS
    failed_grace: float = 3600.0
    older_than: Optional[float] = None
    include_in_progress: bool = False


@dataclass
class PodImages:
    """What running and pending pods use: normalized references and repository@digest pairs."""

    refs: set[str] = field(default_factory=set)
    repo_digests: set[str] = field(default_factory=set)
    _seen: set[str] = field(default_factory=set, repr=False, compare=False)  # texts already added

    def add_pod(self, pod: Mapping[str, Any]) -> None:
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if status.get("phase") not in pod_phases.ACTIVE_PHASES:
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
        # Thousands of pods name the same few images: each text is parsed once.
        if not isinstance(text, str) or not text or text in self._seen:
            return
        self._seen.add(text)
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


@dataclass
class Pins:
    """Which caches pods pin (k8s.aliyun.com/eci-imc-id, an imageCacheId) and who pins each.

    Fed with live pods (all but Succeeded/Failed ones) and with workloads, whose pod templates
    make the pods of tomorrow: a Deployment's pin counts even while it has no pod.
    """

    by_id: dict[str, list[str]] = field(default_factory=dict)  # imageCacheId -> "deployment/shop/web", ...

    def add_pod(self, pod: Mapping[str, Any]) -> None:
        if (pod.get("status") or {}).get("phase") in pod_phases.TERMINAL_PHASES:
            return
        self._add("Pod", {**pod, "kind": "Pod"})

    def add_workload(self, obj: Mapping[str, Any]) -> None:
        """A Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob (its jobTemplate) or Pod."""
        kind = obj.get("kind")
        if kind == "Pod":
            self.add_pod(obj)
        elif isinstance(kind, str):
            self._add(kind, obj)

    def _add(self, kind: str, obj: Mapping[str, Any]) -> None:
        value = template_annotations(obj).get(imc.POD_PINNED_ID)
        if not isinstance(value, str) or not value.strip():
            return
        meta = obj.get("metadata") or {}
        who = "/".join(str(p) for p in (kind.lower(), meta.get("namespace"), meta.get("name")) if p)
        holders = self.by_id.setdefault(value.strip(), [])
        if who not in holders:
            holders.append(who)

    def pinned_by(self, cache_id: Optional[str]) -> tuple[str, ...]:
        """Who pins the cache with this imageCacheId; workloads first (they say why their pods pin)."""
        holders = self.by_id.get(cache_id, []) if cache_id else []
        return tuple(sorted(holders, key=lambda who: (who.startswith("pod/"), who)))


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


@dataclass(frozen=True)
class Kept:
    """A cache the reasons would prune but pods pin, so it stays."""

    name: str
    reasons: tuple[str, ...]
    pinned_by: tuple[str, ...]

    def describe(self, most: int = 3) -> str:
        who = ", ".join(self.pinned_by[:most])
        if len(self.pinned_by) > most:
            who += f" and {len(self.pinned_by) - most} more"
        return f"kept ImageCache {self.name} ({','.join(self.reasons)}): pinned by {who}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reasons": list(self.reasons), "pinnedBy": list(self.pinned_by)}


@dataclass(frozen=True)
class PrunePlan:
    candidates: list[Candidate]  # to delete, oldest first
    kept: list[Kept]  # would be pruned, but pinned by pods; oldest first


def _outlives(newer: Mapping[str, Any], older: Mapping[str, Any], now: dt.datetime) -> bool:
    """The newer cache is there now and still when the older one would have expired (None: never)."""
    theirs, mine = imc.expires_at(newer), imc.expires_at(older)
    if theirs is None:
        return True
    return theirs > now and mine is not None and theirs >= mine


def _own_reasons(obj: Mapping[str, Any], pods: Optional[PodImages], now: dt.datetime,
                 opts: PruneOptions) -> list[str]:
    """Every reason but superseded, which depends on the other caches."""
    phase = imc.phase(obj)
    created = imc.created_at(obj)
    out: list[str] = []
    expires = imc.expires_at(obj)
    if Reason.EXPIRED in opts.reasons and expires is not None and expires <= now:
        out.append(Reason.EXPIRED.value)
    if Reason.FAILED in opts.reasons and phase in imc.FAILED_PHASES:
        since = imc.last_changed(obj)
        if since is None or (now - since).total_seconds() >= opts.failed_grace:
            out.append(Reason.FAILED.value)
    if Reason.UNUSED in opts.reasons and pods is not None:
        digests = imc.digests(obj)
        if not any(pods.uses(i, digests.get(normalize_or_keep(i))) for i in imc.images(obj)):
            out.append(Reason.UNUSED.value)
    if Reason.OLDER_THAN in opts.reasons and opts.older_than is not None and created is not None \
            and (now - created).total_seconds() > opts.older_than:
        out.append(Reason.OLDER_THAN.value)
    return out


def plan_prune(caches: Sequence[Mapping[str, Any]], pods: Optional[PodImages], now: dt.datetime,
               opts: PruneOptions, pins: Optional[Pins] = None) -> PrunePlan:
    """Caches to delete, each with every reason that applies, and the pinned ones kept; oldest first.

    pods None: not known, so no cache is `unused`. pins None: nothing pinned; the command never
    deletes without having read them.
    """
    pins = pins or Pins()
    # Reasons of every cache prune may touch (in-progress ones only when asked), keyed by position.
    reasons: dict[int, list[str]] = {
        i: _own_reasons(obj, pods, now, opts) for i, obj in enumerate(caches)
        if opts.include_in_progress or imc.phase(obj) not in imc.IN_PROGRESS_PHASES
    }
    pinned = {i: pins.pinned_by(imc.cache_id(obj)) for i, obj in enumerate(caches)}
    created = {i: t for i, obj in enumerate(caches) if (t := imc.created_at(obj)) is not None}
    if Reason.SUPERSEDED in opts.reasons:
        # Once per cache: the loop below compares each cache with every newer one that stays.
        held = [normalized_images(obj) for obj in caches]
        # Newest first: whether a cache stays depends only on strictly newer ones, all decided before it.
        # Ready caches that this plan keeps, newest first, filed by image: a cache that supersedes
        # holds every image of the older one, so only the holders of its rarest image are compared.
        staying: dict[str, list[int]] = {}
        for i in sorted(created, key=created.__getitem__, reverse=True):
            mine = held[i]
            if i in reasons and mine:
                rarest = min((staying.get(image, ()) for image in mine), key=len)
                if any(created[j] > created[i] and mine <= held[j] and _outlives(caches[j], caches[i], now)
                       for j in rarest):
                    reasons[i].append(Reason.SUPERSEDED.value)
            if imc.phase(caches[i]) == imc.READY and (pinned[i] or not reasons.get(i)):
                for image in mine:
                    staying.setdefault(image, []).append(i)

    out, kept = [], []
    for i, why in reasons.items():
        if not why:
            continue
        obj = caches[i]
        age = (now - created[i]).total_seconds() if i in created else 0.0
        ordered = tuple(sorted(why, key=REASONS.index))
        if pinned[i]:
            kept.append((age, Kept(imc.name(obj), ordered, pinned[i])))
        else:
            out.append(Candidate(imc.name(obj), ordered, imc.effective_size_gib(obj), age, imc.phase(obj)))
    return PrunePlan(sorted(out, key=lambda c: (-c.age_seconds, c.name)),
                     [k for _, k in sorted(kept, key=lambda pair: (-pair[0], pair[1].name))])


def pod_images(pods: Iterable[Mapping[str, Any]]) -> PodImages:
    acc = PodImages()
    for pod in pods:
        acc.add_pod(pod)
    return acc


__all__ += ["pod_images"]
