"""The one executor: runs a plan against the cluster. warm's, refresh's, coverage --fix's, prune's and
sync's changes all go through :meth:`Executor.run`.

Order: the invariant (imagecache/invariant.py) first, before any side effect; then creates, at most
200 a minute (ECI's CreateImageCache limit); then, when asked, the wait until the new caches are
Ready; then deletes, each only once the caches taking over its workloads (its ``after``) are Ready.
A failed or late create leaves every cache it would have replaced in place. ``keep`` renews sync's
Lease between the steps and while the rate limit spaces out creates, so no step outlives it.

Each change is recorded as an Event on its cache (model/events.py): Created, Refreshed (on the
replacement, once the old cache is deleted), RefreshFailed, Pruned. A failed Event is one warning.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

from ..errors import AlreadyExists, ClusterNotFound, ImageCacheError
from ..imagecache import invariant
from ..imagecache.planner import REFRESHED, Plan
from ..imagecache.ratelimit import CreateRateLimiter
from ..kube.events import Recorder
from ..model import events
from ..model import imagecache as imc
from ..model.imagecache import FAILED_PHASES, READY
from .printers import NamePrinter, warn

if TYPE_CHECKING:
    from ..imagecache.planner import Usage
    from ..kube.api import Cluster

__all__ = ["Failure", "Outcome", "Executor", "LEASE_RENEW_SECONDS"]

LEASE_RENEW_SECONDS = 60  # how often `keep` is called while creates are spaced out


@dataclass(frozen=True)
class Failure:
    name: str  # the cache
    why: str
    deleting: bool = False  # the delete failed (else its create, or the wait for it)

    def __str__(self) -> str:
        return f"{'delete ' if self.deleting else ''}{self.name}: {self.why}"


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    ready: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[Failure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # deletes left for a later run, and why
    objects: list[Mapping[str, Any]] = field(default_factory=list)  # as the API server returned them
    errors: list[ImageCacheError] = field(default_factory=list)  # behind ``failed``, for their exit codes

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "ready": self.ready, "deleted": self.deleted,
                "failed": [str(f) for f in self.failed],
                "skipped": self.skipped}


def _nothing() -> None:
    return None


def _made_before(body: Mapping[str, Any]) -> Optional[bool]:
    return True  # an earlier run made it: wait for it like the others


@dataclass
class Executor:
    """``wait``: seconds to wait for new caches (None: do not wait, and delete nothing that waits on them).
    ``exists_ok``: of a body whose name exists already: True, it will do (count it as created); None, it
    will do and was said (skip it); False, a conflict (a failure).
    ``printer`` None: print nothing (warm -o prints the objects itself)."""

    cluster: Cluster
    printer: Optional[NamePrinter]
    wait: Optional[float] = None
    wait_text: str = ""
    keep: Callable[[], None] = _nothing
    on_delete: Callable[[str], None] = field(default=lambda _name: None)  # a progress bar's step
    limiter: CreateRateLimiter = field(default_factory=CreateRateLimiter)
    exists_ok: Callable[[Mapping[str, Any]], Optional[bool]] = _made_before
    dry_run: bool = False  # the API server validates the creates and stores nothing
    stop_on_error: bool = False  # warm: the first failed create ends the run

    def run(self, plan: Plan, caches: Sequence[Mapping[str, Any]], usage: Optional[Usage],
            now: dt.datetime) -> Outcome:
        invariant.enforce(plan, caches, usage, now)
        out = Outcome()
        history = Recorder(self.cluster, warn)
        self._create(plan, out, history)
        new = [c.name for c in plan.creates] + [r.name for r in plan.refreshes]
        failed = {f.name for f in out.failed}
        waiting = [n for n in new if n not in failed]
        if waiting and self.wait is not None:
            self.keep()  # the wait lasts up to its timeout, which the Lease's duration covers from here
            self._wait(waiting, out, _Refreshes(plan, out), history)
        if plan.deletes:
            self.keep()
        self._delete(plan, out, caches, history)
        return out

    def _create(self, plan: Plan, out: Outcome, history: Recorder) -> None:
        bodies = [c.body for c in plan.creates] + [r.body for r in plan.refreshes if r.create]
        renewed = time.monotonic()
        for body in bodies:
            if out.errors and self.stop_on_error:
                return
            time.sleep(self.limiter.reserve(time.monotonic()))
            if time.monotonic() - renewed > LEASE_RENEW_SECONDS:
                self.keep()
                renewed = time.monotonic()
            name = str(body["metadata"]["name"])
            try:
                made: Optional[Mapping[str, Any]] = self.cluster.create_imagecache(dict(body), dry_run=self.dry_run)
            except AlreadyExists as exc:
                verdict = self.exists_ok(body)
                if verdict is False:
                    self._fail(out, name, exc)
                if not verdict:
                    continue
                made = None
            except ImageCacheError as exc:
                self._fail(out, name, exc)
                continue
            if made is not None:
                out.objects.append(made)
                if not self.dry_run:
                    history.post(made, events.CREATED, f"created {events.for_workloads(made)}: "
                                 f"{len(imc.images(made))} image(s), {imc.effective_size_gib(made)} GiB")
            out.created.append(name)
            if self.printer is not None:
                self.printer.name(name, "created")

    def _fail(self, out: Outcome, name: str, exc: ImageCacheError) -> None:
        out.failed.append(Failure(name, exc.message))
        out.errors.append(exc)

    def _wait(self, names: list[str], out: Outcome, refreshes: _Refreshes, history: Recorder) -> None:
        from ..kube.waiting import wait_for

        for n, o in wait_for(self.cluster, names, READY, self.wait or 0.0).items():
            if o.ok:
                out.ready.append(n)
            elif o.done:
                out.failed.append(Failure(n, o.phase + (f" ({o.reason})" if o.reason else "")))
                obj = refreshes.replacement(n)
                if obj is not None and o.phase in FAILED_PHASES:
                    history.post(obj, events.REFRESH_FAILED, f"replacement of {refreshes.old[n]} is {o.phase}"
                                 + (f" ({o.reason})" if o.reason else "")
                                 + f"; {refreshes.old[n]} stays {events.for_workloads(obj)}", events.WARNING)
            else:
                out.failed.append(Failure(n, f"not Ready after {self.wait_text} ({o.phase} at {o.progress})"))

    def _delete(self, plan: Plan, out: Outcome, caches: Sequence[Mapping[str, Any]], history: Recorder) -> None:
        ready = set(out.ready)
        refreshes = _Refreshes(plan, out)
        by_name = {imc.name(c): c for c in caches}
        for d in plan.deletes:
            late = [a for a in d.after if a not in ready]
            if late:
                out.skipped.append(f"{d.name}: kept until {', '.join(late)} is Ready")
                continue
            try:
                self.cluster.delete_imagecache(d.name)
            except ClusterNotFound:
                pass  # someone else removed it meanwhile: the goal is met
            except ImageCacheError as exc:
                out.failed.append(Failure(d.name, exc.message, deleting=True))
                continue
            finally:
                self.on_delete(d.name)
            out.deleted.append(d.name)
            if self.printer is not None:
                self.printer.deleted(d.name)
            self._deleted(d.name, d.reasons, refreshes, by_name, history)

    def _deleted(self, name: str, reasons: Sequence[str], refreshes: _Refreshes,
                 by_name: Mapping[str, Mapping[str, Any]], history: Recorder) -> None:
        """Refreshed on the replacement of a refreshed cache; Pruned on a pruned one."""
        if tuple(reasons) == (REFRESHED,):
            new = refreshes.new.get(name)
            obj = refreshes.replacement(new) if new else None
            if obj is not None:
                changed = ", ".join(refreshes.changed[name])
                history.post(obj, events.REFRESHED, f"replaces {name} (moved: {changed}), which was deleted; "
                                                    f"{events.for_workloads(obj)}")
        elif name in by_name:
            obj = by_name[name]
            history.post(obj, events.PRUNED, f"deleted ({', '.join(reasons)}); it was made "
                                              f"{events.for_workloads(obj)}")


class _Refreshes:
    """A plan's refreshes by name: the replacement as the API server returned it (its uid is what
    `kubectl describe` finds Events by), the cache it replaces, what moved."""

    def __init__(self, plan: Plan, out: Outcome) -> None:
        made = {imc.name(o): o for o in out.objects}
        self._objects = {r.name: made.get(r.name, r.body) for r in plan.refreshes}
        self.old = {r.name: r.old for r in plan.refreshes}
        self.new = {r.old: r.name for r in plan.refreshes}
        self.changed = {r.old: [c.image for c in r.changes] for r in plan.refreshes}

    def replacement(self, name: str) -> Optional[Mapping[str, Any]]:
        return self._objects.get(name)
