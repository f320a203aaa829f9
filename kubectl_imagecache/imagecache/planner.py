"""The one planner: (cluster snapshot, scope, policy) -> plan. Pure: no I/O.

warm, ``coverage --fix``, refresh, prune and sync all decide here; they differ only in the
:class:`Policy` they pass. A plan is made of named stages, each small and tested on its own:

1. :func:`needs_cache` - which workloads need a cache (NONE/PARTIAL ones a new cache can make FULL);
2. :func:`size_and_name` - grouping, sizing (the 2x rule over the registry's sizes) and naming;
3. :func:`stale` - which Ready caches hold moved tags, and their replacements;
4. :func:`settle` - creates and replacements no workload would use are dropped (sync's rule);
5. :func:`budgets` - ``--max-create``/``--max-delete``; what does not fit is deferred;
6. :func:`can_go` - what prune's reasons remove, over the state the plan predicts.

Three rules make a plan safe unattended:

- Idempotent: the plan is worked out against the state it predicts (its creates and replacements
  Ready, the caches it replaces gone), so planning again over the state after applying it yields
  an empty plan. That is why prune runs on the predicted state: a plan made on the current state
  cannot see what its own creates change.
- Nothing a workload uses is deleted: a cache ECI would choose in the predicted state (or that a
  pod pins by id, anywhere in the cluster) is kept whatever prune says.
- What was Ready stays until its successor is: a delete lists in ``after`` the new caches that
  take over its workloads; the executor deletes it only once those are Ready.

Knowing every pin takes cluster-wide reads of pods and templates (:class:`Usage`). Without them
(RBAC forbids it) a plan deletes only expired and failed caches, which no pod can use, refreshes
nothing, and says in ``limited`` what it left undone. ``invariant.py`` checks every plan
independently before the first side effect.
"""

from __future__ import annotations

import collections
import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping, Optional, Sequence

from ..errors import ImageCacheError, UsageError
from ..model import imagecache as imc
from ..model import pods as pod_phases
from ..model.imagecache import (
    IN_PROGRESS_PHASES,
    LIVE_PHASES,
    MAX_IMAGES,
    READY,
)
from ..model.kinds import template_annotations, template_images
from ..model.reasons import USAGE_REASONS, Reason
from ..model.sizing import DEFAULT_HEADROOM, recommend_gib
from ..registry.reference import normalize_or_keep
from .coverage import WorkloadCoverage
from .freshness import ImageFreshness, RefreshPlan, cache_freshness, plan_refresh
from .matching import CacheIndex, PodRequest, State, chosen_name, parse_request, pod_images
from .plan import Holder, ImageGroup, PlannedCache, imagecache_object, matching_cache, plan_caches, validate_size
from .prune import Candidate, Kept, Pins, PodImages, PruneOptions, plan_prune

__all__ = [
    "Create", "Refresh", "Delete", "Note", "Plan", "ImageFacts", "Usage", "Snapshot",
    "Scope", "Policy", "WarmRequest", "plan", "usage_of",
    "requested", "needs_cache", "fallback", "size_and_name", "stale", "settle", "budgets", "can_go",
    "warm_groups", "warm_plan", "predicted_state",
]

_UNFIXABLE = {State.OFF, State.BROKEN}
REFRESHED = "refreshed"  # the reason a refresh's old cache is deleted for


@dataclass(frozen=True)
class Note:
    """Something the plan leaves alone, and why (shown in the preview)."""

    subject: str
    reason: str
    done: bool = field(default=False, compare=False)  # already as asked (nothing to do), not held back

    def to_dict(self) -> dict[str, str]:
        return {"subject": self.subject, "reason": self.reason}


@dataclass(frozen=True)
class Create:
    name: str
    images: tuple[str, ...]
    workloads: tuple[str, ...]
    size_gib: int
    body: Mapping[str, Any] = field(compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "images": list(self.images), "workloads": list(self.workloads),
                "sizeGiB": self.size_gib}


@dataclass(frozen=True)
class Refresh:
    old: str
    name: str
    create: bool  # False: the replacement exists already (an earlier run made it); wait for it
    changes: tuple[ImageFreshness, ...]
    body: Mapping[str, Any] = field(compare=False, repr=False)
    retires: tuple[str, ...] = ()  # earlier replacements that failed: deleted, this is the new try

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "name": self.name, "create": self.create,
                "changes": [c.to_dict() for c in self.changes], "retires": list(self.retires)}


@dataclass(frozen=True)
class Delete:
    name: str
    reasons: tuple[str, ...]
    size_gib: int
    after: tuple[str, ...] = ()  # new caches that must be Ready first
    candidate: Optional[Candidate] = field(default=None, compare=False, repr=False)  # prune's view of it

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reasons": list(self.reasons), "sizeGiB": self.size_gib, "after": list(self.after)}


@dataclass(frozen=True)
class Plan:
    creates: tuple[Create, ...] = ()
    refreshes: tuple[Refresh, ...] = ()
    deletes: tuple[Delete, ...] = ()  # a refresh's old cache included, after its replacement
    deferred: tuple[str, ...] = ()  # actions over --max-create/--max-delete, for the next run
    notes: tuple[Note, ...] = ()
    kept: tuple[Kept, ...] = ()  # what prune's reasons name but pods pin
    limited: tuple[str, ...] = ()  # what the policy asked that unknown pins ruled out (exit 8)
    building: tuple[str, ...] = ()  # live caches, still being built, that already hold what was asked

    @property
    def empty(self) -> bool:
        return not (self.creates or self.refreshes or self.deletes)

    def to_dict(self) -> dict[str, Any]:
        return {"creates": [c.to_dict() for c in self.creates], "refreshes": [r.to_dict() for r in self.refreshes],
                "deletes": [d.to_dict() for d in self.deletes], "deferred": list(self.deferred),
                "notes": [n.to_dict() for n in self.notes], "kept": [k.to_dict() for k in self.kept],
                "limited": list(self.limited)}


# -- the inputs ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImageFacts:
    """What the registry says of one image (normalized reference): its digest now and its size."""

    digest: str
    size_bytes: int


@dataclass(frozen=True)
class Usage:
    """What every pod and pod template of the cluster uses and pins (cluster-wide reads).

    ``running``: each distinct (images, matching request) of a running or pending pod, for the
    invariant's "the cache ECI would pick for a running pod".
    """

    images: PodImages
    pins: Pins
    running: tuple[tuple[tuple[str, ...], PodRequest], ...] = ()


_MATCHING_KEYS = (imc.POD_AUTO_MATCH, imc.POD_PERFECT_MATCH, imc.POD_MATCH_COUNT, imc.POD_PINNED_ID)


def usage_of(pods: Iterable[Mapping[str, Any]], workloads: Iterable[Mapping[str, Any]]) -> Usage:
    """:class:`Usage` from every pod and every workload of the cluster (iterables: read page by page,
    memory grows with distinct images, requests and pins, not with pods)."""
    images, pins = PodImages(), Pins()
    # The pods of one template share their images and annotations as written: each such text is
    # normalized and parsed once (5000 pods of 500 Deployments: 500 times, not 5000).
    raw: dict[tuple[tuple[str, ...], tuple[Any, ...]], None] = {}
    for pod in pods:
        images.add_pod(pod)
        pins.add_pod(pod)
        if (pod.get("status") or {}).get("phase") in pod_phases.ACTIVE_PHASES:
            ann = template_annotations({"kind": "Pod", "metadata": pod.get("metadata")})  # listed pods carry no kind
            texts = tuple(template_images({"kind": "Pod", "spec": pod.get("spec")}))
            raw.setdefault((texts, tuple(ann.get(k) for k in _MATCHING_KEYS)), None)
    for obj in workloads:
        pins.add_workload(obj)
    running = {(pod_images(texts), parse_request(dict(zip(_MATCHING_KEYS, values)))): None
               for texts, values in raw}
    return Usage(images, pins, tuple(running))


@dataclass(frozen=True)
class Snapshot:
    """What one run read: every cache, the scope's workloads and pods, and what the registry said."""

    caches: Sequence[Mapping[str, Any]]
    now: dt.datetime
    workloads: Sequence[Mapping[str, Any]] = ()
    pods: Sequence[Mapping[str, Any]] = ()
    coverage: Sequence[WorkloadCoverage] = ()  # the scope's workloads over ``caches``
    usage: Optional[Usage] = None  # None: not known (the reads are forbidden, or were not made)
    usage_unknown: str = ""  # why usage is None, for the notes
    current: Mapping[str, str] = field(default_factory=dict)  # tag -> the digest it names now
    sizes: Mapping[str, ImageFacts] = field(default_factory=dict)  # image -> facts, for new caches
    sizing_errors: Mapping[str, str] = field(default_factory=dict)  # image -> why it could not be sized
    platform: str = "linux/amd64"
    pull_secrets: tuple[str, ...] = ()  # the secrets new caches name
    digest_matches_recorded: bool = False
    # image -> the pull secret (NS/NAME) RBAC let the run not read, for images that could not be sized:
    # those get a fallback size (:func:`fallback`) rather than no cache
    unread_secrets: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Scope:
    namespaces: Optional[tuple[str, ...]] = None  # None: every namespace
    selector: Optional[str] = None


@dataclass(frozen=True)
class WarmRequest:
    """warm's own input: images grouped as they must be cached, and how to make the caches."""

    groups: tuple[ImageGroup, ...]
    name: Optional[str] = None  # --name (NAME-1, NAME-2... when split)
    size: Optional[int] = None  # --size GiB; else the 2x rule with ``headroom``
    headroom: float = DEFAULT_HEADROOM
    force: bool = False  # create even when a live cache holds the images, or below 2x
    waiting: bool = False  # --wait: the notes say a cache being built is waited for
    retention_days: Optional[int] = None
    reuse: bool = False
    flash: bool = False
    annotations: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    written: Mapping[str, str] = field(default_factory=dict)  # normalized -> the spelling the user gave


@dataclass(frozen=True)
class Policy:
    """What a command may do; the commands differ only in this."""

    warm: bool = False  # create caches for the workloads that need one
    request: Optional[WarmRequest] = None  # create caches for these images (warm)
    refresh: Optional[frozenset[str]] = None  # stale caches to replace: None none, empty every Ready one
    prune: Optional[PruneOptions] = None  # None: delete nothing for prune's reasons
    only_used: bool = False  # drop creates and replacements no workload would use (sync)
    strict_sizing: bool = False  # an image that cannot be sized fails the plan (warm, coverage --fix)
    max_create: Optional[int] = None
    max_delete: Optional[int] = None


# -- what to warm ----------------------------------------------------------------------------------------
def warm_groups(results: Sequence[WorkloadCoverage]) -> tuple[list[ImageGroup], list[Note]]:
    """One group (all its images) per NONE/PARTIAL workload that a new cache can make FULL.

    The match's own state counts, not STALE: a workload whose partial cache is also stale needs a
    full cache, and refreshing the partial one would only be undone by the next run.
    """
    groups: list[ImageGroup] = []
    notes: list[Note] = []
    for r in results:
        subject, m = str(r.workload), r.match
        if m.state in _UNFIXABLE:
            if m.state is State.BROKEN:
                notes.append(Note(subject, m.why + "; a new cache gets a new id: fix the pin"))
            continue
        if m.state is State.PINNED and m.k < m.n:
            notes.append(Note(subject, f"pinned to {m.chosen.name if m.chosen else '?'}, which holds {m.k} of "
                                       f"{m.n} images; warm cannot change a pin"))
            continue
        if m.state not in (State.NONE, State.PARTIAL) or not m.n:
            continue
        if m.request.min_count is not None and m.request.min_count > m.n:
            notes.append(Note(subject, f"{imc.POD_MATCH_COUNT} asks for {m.request.min_count} images but the pod "
                                       f"has {m.n}: no cache can satisfy it"))
            continue
        if m.pending is not None:
            notes.append(Note(subject, f"waiting for {m.pending.name} ({m.pending.phase}), which holds every image"))
            continue
        if m.n > MAX_IMAGES:
            notes.append(Note(subject, f"uses {m.n} images; one ImageCache holds at most {MAX_IMAGES}, so no cache "
                                       "can cover it"))
            continue
        groups.append(ImageGroup(m.images, r.workload))
    return groups, notes


def warm_plan(results: Sequence[WorkloadCoverage], caches: Sequence[Mapping[str, Any]]) -> \
        tuple[list[PlannedCache], list[Note]]:
    """warm's packing of :func:`warm_groups`, with names no existing cache has (warm's NAME-2 rule).

    The caller sizes each planned cache from the registry and builds its body with
    plan.imagecache_object (at the registry's current digests), then passes the bodies to
    :func:`plan_sync` (and ``coverage --fix`` prints them).
    """
    groups, notes = warm_groups(results)
    planned = plan_caches(groups) if groups else []
    taken = {imc.name(c) for c in caches}
    for p in planned:
        p.name = imc.unique_name(p.name, taken)
        taken.add(p.name)
    return planned, notes


# -- the predicted state ---------------------------------------------------------------------------------
def _rfc3339(now: dt.datetime) -> str:
    return now.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # as the API server writes it


def _as_ready(body: Mapping[str, Any], now: dt.datetime, keep_created: bool = False) -> dict[str, Any]:
    meta = dict(body.get("metadata") or {})
    if not keep_created or "creationTimestamp" not in meta:
        meta["creationTimestamp"] = _rfc3339(now)
    status = dict(body.get("status") or {}) if keep_created else {}
    status.update({"phase": READY, "progress": "100%"})
    return {**body, "metadata": meta, "status": status}


def predicted_state(caches: Sequence[Mapping[str, Any]], creates: Sequence[Create], refreshes: Sequence[Refresh],
                    now: dt.datetime, deletes: Sequence[Delete] = ()) -> list[Mapping[str, Any]]:
    """The caches once the plan is done: creates and replacements Ready (created ``now``), the
    caches they replace and those deleted gone."""
    if not (creates or refreshes or deletes):
        return list(caches)  # prune alone: the state it judges is today's (1000 caches copied for nothing)
    gone = {r.old for r in refreshes} | {n for r in refreshes for n in r.retires} | {d.name for d in deletes}
    waiting = {r.name for r in refreshes if not r.create}
    out: list[Mapping[str, Any]] = []
    for obj in caches:
        name = imc.name(obj)
        if name in gone:
            continue
        out.append(_as_ready(obj, now, keep_created=True) if name in waiting else dict(obj))
    out.extend(_as_ready(c.body, now) for c in creates)
    out.extend(_as_ready(r.body, now) for r in refreshes if r.create)
    return out


# -- stage 1: which workloads need a cache ------------------------------------------------------------
def needs_cache(snapshot: Snapshot) -> tuple[list[PlannedCache], list[Note]]:
    """warm's packing of :func:`warm_groups` over the snapshot's coverage, named as warm names."""
    return warm_plan(snapshot.coverage, snapshot.caches)


# -- stage 1b: what warm was asked for -------------------------------------------------------------------------
def _holder_note(holder: Holder, images: int, gib: int, phase: str, request: WarmRequest) -> Note:
    unverified = "" if holder.verified else " (it records no digests, so a moved tag cannot be told)"
    then = f"; it is {phase}, waiting for it" if phase in IN_PROGRESS_PHASES and request.waiting else ""
    return Note(holder.name, f"already holds these {images} image(s) with {gib} GiB or more{unverified}: nothing "
                             f"to do (--force creates another){then}")


def _warm_name(p: PlannedCache, holder: Optional[Holder], taken: Mapping[str, Any], request: WarmRequest) -> str:
    """The planned name, or the first NAME-n no cache has; a taken --name is the user's to resolve."""
    if p.name not in taken:
        return p.name
    replacing = holder is not None and holder.stale and holder.name == p.name
    if not request.force and request.name is not None and not replacing:
        raise UsageError(f'an ImageCache named "{p.name}" already exists with other images or size; '
                         "choose another --name, or delete it first")
    return imc.unique_name(p.name, taken)


def requested(snapshot: Snapshot, request: WarmRequest) -> tuple[list[Create], list[Note], list[str]]:
    """The caches warm creates: (creates, notes, live caches being built that already hold a group).

    Idempotent: a live cache holding exactly the images with enough room at their current digests
    is enough (unless --force); one at older digests (stale) gets a replacement beside it.
    """
    existing = list(snapshot.caches)
    taken: dict[str, Any] = {imc.name(o): o for o in existing}
    creates: list[Create] = []
    notes: list[Note] = []
    building: list[str] = []
    for p in plan_caches(request.groups, request.name):
        needed = sum(snapshot.sizes[i].size_bytes for i in p.images)
        gib = request.size if request.size is not None else recommend_gib(needed, request.headroom)
        if request.size is not None:
            validate_size(request.size, needed, request.headroom, request.force, p.name)
        digests = {i: snapshot.sizes[i].digest for i in p.images}
        holder = matching_cache(existing, p.images, gib, digests)
        if holder and holder.stale:
            notes.append(Note(holder.name, "holds these images at older digests (stale): creating a replacement"))
        elif holder and not request.force:
            phase = imc.phase(taken.get(holder.name) or {})
            notes.append(_holder_note(holder, len(p.images), gib, phase, request))
            if phase in IN_PROGRESS_PHASES:
                building.append(holder.name)
            continue
        p.name = _warm_name(p, holder, taken, request)
        taken[p.name] = {}
        body = imagecache_object(
            p, size_gib=gib, digests=digests, image_bytes=needed, platform=snapshot.platform,
            pull_secrets=snapshot.pull_secrets, retention_days=request.retention_days, reuse=request.reuse,
            flash=request.flash, annotations=request.annotations, labels=request.labels)
        body["spec"]["images"] = [request.written.get(i, i) for i in p.images]
        creates.append(as_create(body))
    return creates, notes, building


# -- stage 2: sizing and naming -----------------------------------------------------------------------------
def fallback(missing: Sequence[str], snapshot: Snapshot, policy: Policy) -> bool:
    """Whether images the registry could not size are sized anyway: only when each failed for want of a
    pull secret the run may not read (sync deployed with secrets per namespace), and the policy allows a
    guess. The guess: the size the replaced cache records, else the minimum (over the images known)."""
    return not policy.strict_sizing and bool(missing) and all(i in snapshot.unread_secrets for i in missing)


def size_and_name(planned: Sequence[PlannedCache], snapshot: Snapshot, policy: Policy) -> \
        tuple[list[Create], list[Note]]:
    """A body per planned cache, sized by the 2x rule from the registry's sizes at current digests.

    An image the registry could not size leaves out the caches holding it (a size that ignores an
    image would be too small); with ``strict_sizing`` it fails the whole plan instead; for want of a
    secret the run may not read, the cache gets the :func:`fallback` size.
    """
    existing = {imc.name(c) for c in snapshot.caches}
    creates: list[Create] = []
    notes: list[Note] = []
    for p in planned:
        missing = [i for i in p.images if i not in snapshot.sizes]
        guessed = fallback(missing, snapshot, policy)
        if missing and not guessed:
            why = snapshot.sizing_errors.get(missing[0], "not sized")
            if policy.strict_sizing:
                raise ImageCacheError(f"{missing[0]}: {why}; no cache was planned (a size that ignores an image "
                                      "would be too small)")
            notes.append(Note(p.name, f"not warming ({', '.join(p.workloads)}): {missing[0]} could not be sized"))
            continue
        if p.name in existing:
            notes.append(Note(p.name, "an ImageCache of this name exists already; not created"))
            continue
        needed = sum(snapshot.sizes[i].size_bytes for i in p.images if i in snapshot.sizes)
        body = imagecache_object(p, size_gib=recommend_gib(needed), digests={i: snapshot.sizes[i].digest
                                                                             for i in p.images if i in snapshot.sizes},
                                 image_bytes=needed, platform=snapshot.platform, pull_secrets=snapshot.pull_secrets)
        if guessed:
            del body["metadata"]["annotations"][imc.ANN_BYTES]  # unknown is not the known images' sum
            notes.append(Note(p.name, f"{missing[0]} not sized (pull secret {snapshot.unread_secrets[missing[0]]} "
                                      f"not readable): {imc.effective_size_gib(body)} GiB"))
        creates.append(as_create(body))
    return creates, notes


def as_create(body: Mapping[str, Any]) -> Create:
    return Create(imc.name(body), tuple(imc.images(body)), tuple(imc.workloads(body) or ()),
                  imc.effective_size_gib(body), body)


# -- stage 3: which caches are stale ------------------------------------------------------------------------
def _targets(snapshot: Snapshot, names: frozenset[str]) -> list[Mapping[str, Any]]:
    if names:
        return [c for c in snapshot.caches if imc.name(c) in names]
    return [c for c in snapshot.caches if imc.phase(c) == READY]


def _replacement(obj: Mapping[str, Any], snapshot: Snapshot, policy: Policy) -> RefreshPlan:
    """freshness.plan_refresh, sized again from the registry (never below the old size)."""
    images = list(dict.fromkeys(normalize_or_keep(t) for t in imc.images(obj)))
    missing = [i for i in images if i not in snapshot.sizes]
    if fallback(missing, snapshot, policy):
        return plan_refresh(obj, snapshot.current)  # the size (and byte count) the old cache records
    if missing:
        why = snapshot.sizing_errors.get(missing[0], "not read")
        raise ImageCacheError(f"cannot refresh {imc.name(obj)}: {missing[0]} could not be read from its registry "
                              f"({why})")
    needed = sum(snapshot.sizes[i].size_bytes for i in images)
    size = max(imc.effective_size_gib(obj), recommend_gib(needed))
    return plan_refresh(obj, snapshot.current, size_gib=size, image_bytes=needed)


def _try(rp: RefreshPlan, existing: Mapping[str, Mapping[str, Any]]) -> Refresh:
    """Wait for a replacement an earlier run started; else make one, retiring those that failed (no pod
    can use a failed cache, so one new try each run beats waiting out prune's grace)."""
    there = existing.get(rp.name)
    if there is not None and imc.phase(there) in LIVE_PHASES:
        return Refresh(rp.old, rp.name, False, rp.changes, there)
    failed = tuple(sorted(n for n, c in existing.items()
                          if imc.replaces(c) == rp.old and imc.phase(c) in imc.FAILED_PHASES))
    name = imc.unique_name(rp.name, existing)  # the failed one goes after this is created
    body = {**rp.body, "metadata": {**rp.body["metadata"], "name": name}}
    return Refresh(rp.old, name, True, rp.changes, body, failed)


def stale(snapshot: Snapshot, policy: Policy) -> tuple[list[Refresh], list[Note], list[str]]:
    """Replacements for the stale caches the policy names; (refreshes, notes, limited)."""
    if policy.refresh is None:
        return [], [], []
    existing = {imc.name(c): c for c in snapshot.caches}
    refreshes: list[Refresh] = []
    notes: list[Note] = []
    limited: list[str] = []
    for obj in _targets(snapshot, policy.refresh):
        name = imc.name(obj)
        if not cache_freshness(obj, snapshot.current).stale:
            if policy.refresh:
                notes.append(Note(name, "not stale: every recorded digest is current, or none is known", done=True))
            continue
        if snapshot.usage is None:
            # The replacement gets a new id: without every pin known, a pod elsewhere may pin this one.
            limited.append(f"refresh {name}")
            notes.append(Note(name, f"stale, but not refreshed: {snapshot.usage_unknown or 'pins are unknown'}"))
            continue
        who = snapshot.usage.pins.pinned_by(imc.cache_id(obj))
        if who:
            notes.append(Note(name, f"stale, but pinned by id by {', '.join(who)}: not refreshed (a replacement "
                                    "has a new id; refresh it by hand and re-pin)"))
            continue
        try:
            rp = _replacement(obj, snapshot, policy)
        except ImageCacheError as exc:
            notes.append(Note(name, f"not refreshed: {exc.message}"))
            continue
        refreshes.append(_try(rp, existing))
    return refreshes, notes, limited


# -- stage 4: only what a workload would use ----------------------------------------------------------------
def _choices(results: Sequence[WorkloadCoverage], state: Sequence[Mapping[str, Any]],
             by_recorded: bool) -> dict[str, list[str]]:
    """cache name -> the workloads that would use it in ``state`` (chosen, or pinned by id)."""
    used: dict[str, list[str]] = collections.defaultdict(list)
    if not results:
        return used  # prune alone reads no workloads: no index to build
    by_id: dict[str, list[str]] = collections.defaultdict(list)
    for obj in state:
        cid = imc.cache_id(obj)
        if cid:
            by_id[cid].append(imc.name(obj))
    index = CacheIndex(state)
    for r in results:
        request = r.match.request
        chosen = chosen_name(r.match.images, request, index, digest_matches_recorded=by_recorded)
        names = [chosen] if chosen else []
        if request.pinned_id:
            names += by_id.get(request.pinned_id, [])
        for n in dict.fromkeys(names):
            used[n].append(str(r.workload))
    return used


def settle(snapshot: Snapshot, policy: Policy, creates: list[Create], refreshes: list[Refresh]) -> \
        tuple[list[Create], list[Refresh], list[Note]]:
    """Drop what no workload would use: it would only be pruned next run. Removing a cache no one
    chooses leaves every other choice as it was, so this settles within a few rounds."""
    notes: list[Note] = []
    if not policy.only_used:
        return creates, refreshes, notes
    while True:
        state = predicted_state(snapshot.caches, creates, refreshes, snapshot.now)
        used = _choices(snapshot.coverage, state, snapshot.digest_matches_recorded)
        doomed = {c.name for c in _prune(snapshot, policy, state).candidates}
        keep_c = [c for c in creates if c.name in used]
        keep_r = [r for r in refreshes if r.name in used or r.name not in doomed]
        notes += [Note(c.name, "not created: no workload would use it") for c in creates if c.name not in used]
        notes += [Note(r.old, "not refreshed: no workload would use the replacement, and prune would remove it")
                  for r in refreshes if r not in keep_r]
        if len(keep_c) == len(creates) and len(keep_r) == len(refreshes):
            return creates, refreshes, notes
        creates, refreshes = keep_c, keep_r


# -- stage 5: the budgets ---------------------------------------------------------------------------------------
@dataclass
class Budget:
    creates: int
    deletes: int
    deferred: list[str] = field(default_factory=list)


def budgets(policy: Policy, snapshot: Snapshot, creates: list[Create], refreshes: list[Refresh]) -> \
        tuple[list[Create], list[Refresh], Budget]:
    """Creates first, then refreshes (one create and one delete each); the rest is deferred."""
    left = Budget(policy.max_create if policy.max_create is not None else len(creates) + len(refreshes),
                  policy.max_delete if policy.max_delete is not None else len(snapshot.caches))
    chosen_creates = creates[:max(left.creates, 0)]
    left.deferred += [f"create {c.name}" for c in creates[len(chosen_creates):]]
    left.creates -= len(chosen_creates)
    chosen_refreshes: list[Refresh] = []
    for r in refreshes:
        need = 1 if r.create else 0
        if need <= left.creates and left.deletes >= 1:
            chosen_refreshes.append(r)
            left.creates -= need
            left.deletes -= 1
        else:
            left.deferred.append(f"refresh {r.old}")
    return chosen_creates, chosen_refreshes, left


# -- stage 6: which caches can go -------------------------------------------------------------------------------
def _prune_options(snapshot: Snapshot, policy: Policy) -> Optional[PruneOptions]:
    """Prune's options, less the reasons that need every pin when the pins are unknown."""
    if policy.prune is None:
        return None
    if snapshot.usage is None:
        return replace(policy.prune, reasons=policy.prune.reasons - USAGE_REASONS)
    return policy.prune


def _prune(snapshot: Snapshot, policy: Policy, state: Sequence[Mapping[str, Any]]) -> Any:
    from .prune import PrunePlan

    opts = _prune_options(snapshot, policy)
    if opts is None:
        return PrunePlan([], [])
    usage = snapshot.usage
    return plan_prune(state, usage.images if usage else None, snapshot.now, opts, usage.pins if usage else None)


def _in_scope(obj: Optional[Mapping[str, Any]], scope: Scope) -> bool:
    """A namespaced run deletes only caches warm made for workloads of its namespaces: a cache others'
    CronJobs use between runs is not its to judge."""
    if scope.namespaces is None:
        return True
    owners = imc.workloads(obj) if obj is not None else None
    scoped = [f"/{ns}/" for ns in scope.namespaces]
    return bool(owners) and all(any(s in w for s in scoped) for w in owners or ())


def can_go(snapshot: Snapshot, scope: Scope, policy: Policy, creates: Sequence[Create],
           refreshes: Sequence[Refresh], left: Budget) -> tuple[list[Delete], list[Kept], list[Note]]:
    """Prune over the predicted state, less what a workload would use and what is replaced."""
    existing = {imc.name(c): c for c in snapshot.caches}
    state = predicted_state(snapshot.caches, creates, refreshes, snapshot.now)
    used = _choices(snapshot.coverage, state, snapshot.digest_matches_recorded)
    new_names = {c.name for c in creates} | {r.name for r in refreshes}
    before: dict[str, list[str]] = collections.defaultdict(list)  # cache -> workloads that use it now
    for w in snapshot.coverage:
        if w.match.chosen is not None:
            before[w.match.chosen.name].append(str(w.workload))
    successor = {w: n for n, ws in used.items() for w in ws if n in new_names}
    deletes = [Delete(r.old, (REFRESHED,), imc.effective_size_gib(existing[r.old]), (r.name,)) for r in refreshes]
    deletes += [Delete(n, (Reason.FAILED.value,), imc.effective_size_gib(existing[n])) for r in refreshes
                for n in r.retires if n in existing]
    notes: list[Note] = []
    pruned = _prune(snapshot, policy, state)
    replaced = {r.old for r in refreshes} | {n for r in refreshes for n in r.retires}
    for cand in pruned.candidates:
        if cand.name not in existing or cand.name in replaced or not _in_scope(existing[cand.name], scope):
            continue
        if cand.name in used:
            notes.append(Note(cand.name, f"kept ({', '.join(cand.reasons)}): used by {', '.join(used[cand.name])}"))
            continue
        if left.deletes < 1:
            left.deferred.append(f"delete {cand.name}")
            continue
        left.deletes -= 1
        after = tuple(sorted({successor[w] for w in before.get(cand.name, ()) if w in successor}))
        deletes.append(Delete(cand.name, tuple(cand.reasons), cand.size_gib, after, cand))
    return deletes, list(pruned.kept), notes


def _limited_prune(snapshot: Snapshot, policy: Policy) -> list[str]:
    asked = policy.prune.reasons & USAGE_REASONS if policy.prune is not None else frozenset()
    return [f"prune --reason {r}" for r in sorted(asked)] if snapshot.usage is None else []


# -- the plan ----------------------------------------------------------------------------------------------------
def plan(snapshot: Snapshot, scope: Scope, policy: Policy) -> Plan:
    """One plan for the scope (module doc): the stages in order."""
    notes: list[Note] = []
    creates: list[Create] = []
    building: list[str] = []
    if policy.request is not None:
        creates, notes, building = requested(snapshot, policy.request)
    if policy.warm:
        planned, why = needs_cache(snapshot)
        wanted, sized = size_and_name(planned, snapshot, policy)
        creates += wanted
        notes += why + sized
    refreshes, stale_notes, limited = stale(snapshot, policy)
    notes += stale_notes
    creates, refreshes, dropped = settle(snapshot, policy, creates, refreshes)
    notes += dropped
    creates, refreshes, left = budgets(policy, snapshot, creates, refreshes)
    deletes, kept, kept_notes = can_go(snapshot, scope, policy, creates, refreshes, left)
    notes += kept_notes
    limited += _limited_prune(snapshot, policy)
    if limited:
        notes.append(Note("pins", f"{snapshot.usage_unknown or 'every pod and pod template could not be read'}: "
                                  "only expired and failed caches are deleted, nothing is refreshed"))
    return Plan(tuple(creates), tuple(refreshes), tuple(deletes), tuple(left.deferred), tuple(notes), tuple(kept),
                tuple(limited), tuple(building))
