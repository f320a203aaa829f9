"""Never break a pod: the rule every plan is checked against before its first side effect. Pure.

Written once, apart from the planner (it shares no code with planner.py, only ECI's own choice
rule in matching.py and the resource's facts), so a planner bug cannot also hide here:

- No plan deletes a cache that any pod or pod template in the cluster pins by id.
- No plan deletes the cache ECI would pick for a running pod unless a Ready successor holding
  the same images exists first: a cache that is Ready now and stays, or a new cache of the plan
  that the delete waits for (its ``after``). Judged at worst: every delete of the plan done, and
  of its new caches only those this delete waits for Ready.
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


def _matched(images: tuple[str, ...], request: Any, index: CacheIndex) -> int:
    """How many of the pod's images the cache ECI picks in ``index`` holds (-1: it picks none)."""
    m = choose(images, request, index)
    return m.k if m.chosen is not None else -1


class _Worst:
    """The caches when a delete runs, at worst: every cache the plan deletes gone, and of the new ones only
    those the delete waits for (its ``after``) Ready; any other create may have failed. ECI picks the cache
    holding the most of a pod's images first, so the best match there is the better of what stays and of
    each awaited cache on its own: one index for the first, a one-cache index for each new cache."""

    def __init__(self, plan: Plan, caches: Sequence[Mapping[str, Any]]) -> None:
        gone = {d.name for d in plan.deletes}
        bodies = [c.body for c in plan.creates] + [r.body for r in plan.refreshes]
        self.new = {imc.name(b): CacheIndex([{**b, "status": {**(b.get("status") or {}), "phase": imc.READY}}])
                    for b in bodies}
        self.staying = CacheIndex([c for c in caches if imc.name(c) not in gone and imc.name(c) not in self.new])

    def matched(self, images: tuple[str, ...], request: Any, awaited: tuple[str, ...]) -> int:
        best = _matched(images, request, self.staying)
        return max([best, *(_matched(images, request, self.new[n]) for n in awaited if n in self.new)])


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
    worst: Optional[_Worst] = None
    for images, request in usage.running:
        d = doomed.get(str(chosen_name(images, request, now_index)))
        if d is None:
            continue
        worst = worst or _Worst(plan, caches)
        if worst.matched(images, request, d.after) < _matched(images, request, now_index):
            out.append(f"deletes {d.name}, which running pods of {', '.join(images)} use, before a cache holding "
                       "them is Ready")
    return out


def enforce(plan: Plan, caches: Sequence[Mapping[str, Any]], usage: Optional[Usage], now: dt.datetime) -> None:
    """Raise before any side effect when the plan would break a pod: a bug, never the user's input."""
    found = violations(plan, caches, usage, now)
    if found:
        raise ImageCacheError(f"refusing to act: the plan {found[0]} ({len(found)} problem(s)); nothing was "
                              "changed. This is a bug in kubectl-imagecache: please report it with -o json of "
                              "the preview")
