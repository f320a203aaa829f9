"""Never break a pod: the rule every plan is checked against before its first side effect. Pure.

Written once, apart from the planner (it shares no code with planner.py, only ECI's own choice
rule in matching.py and the resource's facts), so a planner bug cannot also hide here:

- No plan deletes a cache that any pod or pod template in the cluster pins by id.
- No plan deletes the cache ECI would pick for a running pod unless a Ready successor holding
  the same images exists first: a cache that is Ready now, or a new cache of the plan that the
  delete waits for (its ``after``).
- Expired and failed caches are the exception: ECI removed the one's snapshot, the other was
  never built, so no pod can start from either.
- When the pins are unknown (the cluster-wide reads were forbidden or not made), a plan deletes
  and replaces only expired and failed caches.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

from ..errors import ImageCacheError
from ..model import imagecache as imc
from .matching import CacheIndex, choose, chosen_name

if TYPE_CHECKING:
    from .planner import Plan, Usage

__all__ = ["violations", "enforce"]


def _harmless(obj: Mapping[str, Any], now: dt.datetime) -> bool:
    """Expired or failed: no pod can start from it."""
    expires = imc.expires_at(obj)
    return imc.phase(obj) in imc.FAILED_PHASES or (expires is not None and expires <= now)


def _after_state(plan: Plan, caches: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The caches once the plan is done, every new one Ready (the best the plan can hope for)."""
    gone = {d.name for d in plan.deletes}
    new = [c.body for c in plan.creates] + [r.body for r in plan.refreshes]
    names = {imc.name(b) for b in new}
    kept = [c for c in caches if imc.name(c) not in gone and imc.name(c) not in names]
    return kept + [{**b, "status": {**(b.get("status") or {}), "phase": imc.READY}} for b in new]


def _successor_problem(delete: Any, images: tuple[str, ...], request: Any, now_index: CacheIndex,
                       after_index: CacheIndex, ready_now: set[str]) -> Optional[str]:
    before = choose(images, request, now_index)
    then = choose(images, request, after_index)
    if then.chosen is None or then.k < before.k:
        return f"deletes {delete.name}, which running pods of {', '.join(images)} use, with no cache holding them after"
    if then.chosen.name not in ready_now and then.chosen.name not in delete.after:
        return f"deletes {delete.name} before {then.chosen.name}, which takes over its running pods, is Ready"
    return None


def violations(plan: Plan, caches: Sequence[Mapping[str, Any]], usage: Optional[Usage],
               now: dt.datetime) -> list[str]:
    """Every way ``plan`` breaks the rule (module doc) over the cluster's ``caches``; [] when none."""
    by_name = {imc.name(c): c for c in caches}
    doomed = {d.name: d for d in plan.deletes if d.name in by_name and not _harmless(by_name[d.name], now)}
    if usage is None:
        return [f"deletes {d.name} ({', '.join(d.reasons)}) though the pins are unknown" for d in doomed.values()]
    out = [f"deletes {n}, which {', '.join(who)} pin(s) by id" for n in doomed
           if (who := usage.pins.pinned_by(imc.cache_id(by_name[n])))]
    if not doomed:
        return out
    now_index = CacheIndex(caches)
    users = [(images, request) for images, request in usage.running
             if chosen_name(images, request, now_index) in doomed]
    if users:
        after_index = CacheIndex(_after_state(plan, caches))
        ready_now = {n for n, c in by_name.items() if imc.phase(c) == imc.READY}
        for images, request in users:
            d = doomed[str(chosen_name(images, request, now_index))]
            problem = _successor_problem(d, images, request, now_index, after_index, ready_now)
            if problem:
                out.append(problem)
    return out


def enforce(plan: Plan, caches: Sequence[Mapping[str, Any]], usage: Optional[Usage], now: dt.datetime) -> None:
    """Raise before any side effect when the plan would break a pod: a bug, never the user's input."""
    found = violations(plan, caches, usage, now)
    if found:
        raise ImageCacheError(f"refusing to act: the plan {found[0]} ({len(found)} problem(s)); nothing was "
                              "changed. This is a bug in kubectl-imagecache: please report it with -o json of "
                              "the preview")
