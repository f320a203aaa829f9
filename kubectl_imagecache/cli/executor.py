"""The one executor: runs a plan against the cluster. warm's, refresh's, coverage --fix's, prune's and
sync's changes all go through :meth:`Executor.run`.

Order: the invariant (imagecache/invariant.py) first, before any side effect; then creates, at most
200 a minute (ECI's CreateImageCache limit); then, when asked, the wait until the new caches are
Ready; then deletes, each only once the caches taking over its workloads (its ``after``) are Ready.
A failed or late create leaves every cache it would have replaced in place. ``keep`` renews sync's
Lease between the steps and while the rate limit spaces out creates, so no step outlives it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence

from ..errors import AlreadyExists, ClusterNotFound, ImageCacheError
from ..imagecache import invariant
from ..imagecache.planner import CreateRateLimiter, Plan
from ..model.imagecache import READY
from .printers import NamePrinter

if TYPE_CHECKING:
    from ..imagecache.planner import Usage
    from ..kube.api import Cluster

__all__ = ["Outcome", "Executor", "LEASE_RENEW_SECONDS"]

LEASE_RENEW_SECONDS = 60  # how often `keep` is called while creates are spaced out


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    ready: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "NAME: why"
    skipped: list[str] = field(default_factory=list)  # deletes left for a later run, and why
    objects: list[Mapping[str, Any]] = field(default_factory=list)  # as the API server returned them
    errors: list[ImageCacheError] = field(default_factory=list)  # behind ``failed``, for their exit codes

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "ready": self.ready, "deleted": self.deleted, "failed": self.failed,
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
    on_delete: Callable[[str], None] = field(default=lambda name: None)  # a progress bar's step
    limiter: CreateRateLimiter = field(default_factory=CreateRateLimiter)
    exists_ok: Callable[[Mapping[str, Any]], Optional[bool]] = _made_before
    dry_run: bool = False  # the API server validates the creates and stores nothing
    stop_on_error: bool = False  # warm: the first failed create ends the run

    def run(self, plan: Plan, caches: Sequence[Mapping[str, Any]], usage: Optional[Usage], now: Any) -> Outcome:
        invariant.enforce(plan, caches, usage, now)
        out = Outcome()
        self._create(plan, out)
        new = [c.name for c in plan.creates] + [r.name for r in plan.refreshes]
        waiting = [n for n in new if not any(f.startswith(f"{n}:") for f in out.failed)]
        if waiting and self.wait is not None:
            self.keep()  # the wait lasts up to its timeout, which the Lease's duration covers from here
            self._wait(waiting, out)
        if plan.deletes:
            self.keep()
        self._delete(plan, out)
        return out

    def _create(self, plan: Plan, out: Outcome) -> None:
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
            out.created.append(name)
            if self.printer is not None:
                self.printer.name(name, "created")

    def _fail(self, out: Outcome, name: str, exc: ImageCacheError) -> None:
        out.failed.append(f"{name}: {exc.message}")
        out.errors.append(exc)

    def _wait(self, names: list[str], out: Outcome) -> None:
        from ..kube.waiting import wait_for

        for n, o in wait_for(self.cluster, names, READY, self.wait or 0.0).items():
            if o.ok:
                out.ready.append(n)
            elif o.done:
                out.failed.append(f"{n}: {o.phase}" + (f" ({o.reason})" if o.reason else ""))
            else:
                out.failed.append(f"{n}: not Ready after {self.wait_text} ({o.phase} at {o.progress})")

    def _delete(self, plan: Plan, out: Outcome) -> None:
        ready = set(out.ready)
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
                out.failed.append(f"delete {d.name}: {exc.message}")
                continue
            finally:
                self.on_delete(d.name)
            out.deleted.append(d.name)
            if self.printer is not None:
                self.printer.deleted(d.name)
