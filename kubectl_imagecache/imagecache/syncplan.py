"""`sync`: one plan that makes a scope's caches right, and the create rate limit. Pure: no I/O.

The plan warms what is missing (a cache for every NONE/PARTIAL workload, grouped as warm groups),
refreshes what is stale, and deletes what prune selects. Three rules make it safe unattended:

- Idempotent: the plan is worked out against the state it predicts (its creates and replacements
  Ready, the caches it replaces gone), so planning again over the state after applying it yields
  an empty plan. That is why prune is passed as a function and run on the predicted state: a plan
  made on the current state cannot see what its own creates change (a new cache can supersede an
  old one; a cache made for a CronJob between runs has no running pods yet).
- Nothing a workload uses is deleted: a cache ECI would choose in the predicted state (or that a
  pod pins by id) is kept whatever prune says, and a create or replacement no workload would
  choose is not made (it would be pruned on the next run).
- What was Ready stays until its successor is: a delete lists in ``after`` the new caches that
  take over its workloads; the executor deletes it only once those are Ready, and not at all if
  one fails. Replacements work the same way (their old cache is deleted after them).

``max_create`` / ``max_delete`` bound one run (a refresh takes one of each); what does not fit is
``deferred`` to the next run, which is then not empty until the work is done.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from . import resource as imc
from .coverage import WorkloadCoverage
from .freshness import ImageFreshness, RefreshPlan
from .matching import CacheIndex, State, chosen_name
from .plan import ImageGroup, PlannedCache, plan_caches
from .prune import PrunePlan
from .resource import CREATE_RATE_LIMIT, CREATE_RATE_WINDOW_SECONDS, LIVE_PHASES, MAX_IMAGES, READY

__all__ = [
    "Create", "Refresh", "Delete", "Note", "SyncPlan", "CreateRateLimiter", "warm_groups", "warm_plan",
    "plan_sync", "predicted_state", "Prune",
]

Prune = Callable[[Sequence[Mapping[str, Any]]], PrunePlan]
_UNFIXABLE = {State.OFF, State.BROKEN}


@dataclass(frozen=True)
class Note:
    """Something the plan leaves alone, and why (shown in the preview)."""

    subject: str
    reason: str

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

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "name": self.name, "create": self.create,
                "changes": [c.to_dict() for c in self.changes]}


@dataclass(frozen=True)
class Delete:
    name: str
    reasons: tuple[str, ...]
    size_gib: int
    after: tuple[str, ...] = ()  # new caches that must be Ready first

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "reasons": list(self.reasons), "sizeGiB": self.size_gib, "after": list(self.after)}


@dataclass(frozen=True)
class SyncPlan:
    creates: tuple[Create, ...] = ()
    refreshes: tuple[Refresh, ...] = ()
    deletes: tuple[Delete, ...] = ()  # a refresh's old cache included, after its replacement
    deferred: tuple[str, ...] = ()  # actions over --max-create/--max-delete, for the next run
    notes: tuple[Note, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.creates or self.refreshes or self.deletes)

    def to_dict(self) -> dict[str, Any]:
        return {"creates": [c.to_dict() for c in self.creates], "refreshes": [r.to_dict() for r in self.refreshes],
                "deletes": [d.to_dict() for d in self.deletes], "deferred": list(self.deferred),
                "notes": [n.to_dict() for n in self.notes]}


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
        if p.name in taken:
            base, n = p.name, 2
            while f"{base}-{n}" in taken:
                n += 1
            p.name = f"{base}-{n}"
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
                    now: dt.datetime, deletes: Sequence[Delete] = ()) -> list[dict[str, Any]]:
    """The caches once the plan is done: creates and replacements Ready (created ``now``), the
    caches they replace and those deleted gone."""
    gone = {r.old for r in refreshes} | {d.name for d in deletes}
    waiting = {r.name for r in refreshes if not r.create}
    out: list[dict[str, Any]] = []
    for obj in caches:
        name = imc.name(obj)
        if name in gone:
            continue
        out.append(_as_ready(obj, now, keep_created=True) if name in waiting else dict(obj))
    out.extend(_as_ready(c.body, now) for c in creates)
    out.extend(_as_ready(r.body, now) for r in refreshes if r.create)
    return out


def _choices(results: Sequence[WorkloadCoverage], state: Sequence[Mapping[str, Any]],
             by_recorded: bool) -> dict[str, list[str]]:
    """cache name -> the workloads that would use it in ``state`` (chosen, or pinned by id)."""
    used: dict[str, list[str]] = collections.defaultdict(list)
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


# -- the plan ------------------------------------------------------------------------------------------------
def plan_sync(results: Sequence[WorkloadCoverage], caches: Sequence[Mapping[str, Any]],
              creates: Sequence[Mapping[str, Any]], refreshes: Sequence[RefreshPlan], prune: Prune,
              now: dt.datetime, *, max_create: Optional[int] = None, max_delete: Optional[int] = None,
              digest_matches_recorded: bool = False) -> SyncPlan:
    """One plan for the scope (module doc).

    ``results``: coverage of the scope's workloads over ``caches`` (every cache: they are
    cluster-scoped). ``creates``: bodies for :func:`warm_plan`'s caches. ``refreshes``:
    freshness.plan_refresh for the stale Ready caches. ``prune``: the prune rules over a list of
    caches, e.g. ``functools.partial(plan_prune, pods=..., now=now, opts=...)``.
    """
    existing = {imc.name(c): c for c in caches}
    notes: list[Note] = warm_groups(results)[1]  # the workloads a create cannot help
    todo_creates: list[Create] = []
    for body in creates:
        name = imc.name(body)
        if name in existing:
            notes.append(Note(name, "an ImageCache of this name exists already; not created"))
            continue
        ann = imc.annotations(body)
        workloads = tuple(str(w) for w in _json_list(ann.get(imc.ANN_WORKLOADS)))
        todo_creates.append(Create(name, tuple(imc.images(body)), workloads, imc.effective_size_gib(body), body))
    with_id: dict[str, list[str]] = collections.defaultdict(list)  # imageCacheId -> cache names
    for obj in caches:
        if cid := imc.cache_id(obj):
            with_id[cid].append(imc.name(obj))
    pinned: dict[str, list[str]] = collections.defaultdict(list)  # cache -> workloads pinning its id
    for w in results:
        for name in with_id.get(w.match.request.pinned_id or "", ()):
            pinned[name].append(str(w.workload))
    todo_refreshes: list[Refresh] = []
    for rp in refreshes:
        if rp.old not in existing:
            continue
        if rp.old in pinned:
            # The replacement gets a new id: deleting the old one would break the pods pinning it.
            notes.append(Note(rp.old, f"stale, but pinned by id by {', '.join(pinned[rp.old])}: not refreshed "
                                      "(a replacement has a new id; refresh it by hand and re-pin)"))
            continue
        there = existing.get(rp.name)
        if there is None:
            todo_refreshes.append(Refresh(rp.old, rp.name, True, rp.changes, rp.body))
        elif imc.phase(there) in LIVE_PHASES:
            todo_refreshes.append(Refresh(rp.old, rp.name, False, rp.changes, there))
        else:
            notes.append(Note(rp.old, f"its replacement {rp.name} is {imc.phase(there)}"
                                      + (f" ({imc.reason(there)[:200]})" if imc.reason(there) else "")
                                      + "; the stale cache stays until prune removes the failed one"))

    # Drop what no workload would use: it would only be pruned next run. Removing a cache no one
    # chooses leaves every other choice as it was, so this settles within a few rounds.
    while True:
        state = predicted_state(caches, todo_creates, todo_refreshes, now)
        used = _choices(results, state, digest_matches_recorded)
        doomed = {c.name for c in prune(state).candidates}
        keep_c = [c for c in todo_creates if c.name in used]
        keep_r = [r for r in todo_refreshes if r.name in used or r.name not in doomed]
        for c in todo_creates:
            if c.name not in used:
                notes.append(Note(c.name, "not created: no workload would use it"))
        for r in todo_refreshes:
            if r not in keep_r:
                notes.append(Note(r.old, "not refreshed: no workload would use the replacement, and prune would "
                                         "remove it"))
        if len(keep_c) == len(todo_creates) and len(keep_r) == len(todo_refreshes):
            break
        todo_creates, todo_refreshes = keep_c, keep_r

    # Bounds: creates first, then refreshes (one create and one delete each).
    deferred: list[str] = []
    create_budget = max_create if max_create is not None else len(todo_creates) + len(todo_refreshes)
    delete_budget = max_delete if max_delete is not None else len(caches)
    chosen_creates = todo_creates[:max(create_budget, 0)]
    deferred += [f"create {c.name}" for c in todo_creates[len(chosen_creates):]]
    create_budget -= len(chosen_creates)
    chosen_refreshes: list[Refresh] = []
    for r in todo_refreshes:
        need = 1 if r.create else 0
        if need <= create_budget and delete_budget >= 1:
            chosen_refreshes.append(r)
            create_budget -= need
            delete_budget -= 1
        else:
            deferred.append(f"refresh {r.old}")

    # Deletes: prune over the predicted state, less what a workload would use and what is replaced.
    state = predicted_state(caches, chosen_creates, chosen_refreshes, now)
    used = _choices(results, state, digest_matches_recorded)
    new_names = {c.name for c in chosen_creates} | {r.name for r in chosen_refreshes}
    replaced = {r.old: r for r in chosen_refreshes}
    before: dict[str, list[str]] = collections.defaultdict(list)  # cache -> workloads that use it now
    for w in results:
        if w.match.chosen is not None:
            before[w.match.chosen.name].append(str(w.workload))
    successor = {w: n for n, ws in used.items() for w in ws if n in new_names}

    def after(name: str) -> tuple[str, ...]:
        return tuple(sorted({successor[w] for w in before.get(name, ()) if w in successor}))

    deletes: list[Delete] = []
    for r in chosen_refreshes:
        deletes.append(Delete(r.old, ("refreshed",), imc.effective_size_gib(existing[r.old]), (r.name,)))
    for cand in prune(state).candidates:
        if cand.name not in existing or cand.name in replaced:
            continue
        if cand.name in used:
            notes.append(Note(cand.name, f"kept ({', '.join(cand.reasons)}): used by {', '.join(used[cand.name])}"))
            continue
        if delete_budget < 1:
            deferred.append(f"delete {cand.name}")
            continue
        delete_budget -= 1
        deletes.append(Delete(cand.name, tuple(cand.reasons), cand.size_gib, after(cand.name)))
    return SyncPlan(tuple(chosen_creates), tuple(chosen_refreshes), tuple(deletes), tuple(deferred), tuple(notes))


def _json_list(raw: Any) -> list[Any]:
    try:
        data = json.loads(raw) if isinstance(raw, str) and raw else []
    except ValueError:
        return []
    return data if isinstance(data, list) else []


# -- the rate limit ------------------------------------------------------------------------------------------
class CreateRateLimiter:
    """At most ``limit`` creates in any ``window`` seconds (ECI's CreateImageCache: 200 a minute).

    Pure: the caller reads its clock, asks :meth:`reserve` how long to sleep before the next create,
    sleeps, and sends it. A sliding window, so a burst after a quiet minute is allowed in full.
    """

    def __init__(self, limit: int = CREATE_RATE_LIMIT, window: float = CREATE_RATE_WINDOW_SECONDS) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        self.limit, self.window = limit, window
        self._sent: collections.deque[float] = collections.deque()

    def wait(self, now: float) -> float:
        """Seconds from ``now`` until the next create may be sent (0: at once)."""
        while self._sent and self._sent[0] <= now - self.window:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return max(0.0, self._sent[-self.limit] + self.window - now)

    def reserve(self, now: float) -> float:
        """:meth:`wait`, and count a create as sent at ``now`` plus that wait."""
        delay = self.wait(now)
        self._sent.append(now + delay)
        return delay
