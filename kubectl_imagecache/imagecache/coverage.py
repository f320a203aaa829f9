"""`coverage`: which cache ECI picks for every workload, its state, the last hit or miss, a summary. Pure.

Workloads are the objects that own a pod template: Deployment, StatefulSet, DaemonSet, Job,
CronJob, and a ReplicaSet or Pod that no such controller owns (the rule kube.api.list_workloads
applies too). Owned ReplicaSets and Jobs may be passed along: they are not workloads themselves
but make pod ownership exact.

Pod ownership (for pod counts and ECI's events), in this order:
1. a pod without a controller ownerReference is its own workload (a bare Pod);
2. its controller reference is followed through the objects given (by uid, else kind/namespace/name)
   until a workload is reached;
3. where the intermediate object was not given: a ReplicaSet named ``D-<pod-template-hash>`` (the
   pod's label) belongs to Deployment ``D``; a Job named ``C-<digits>`` (CronJob's scheduled time)
   belongs to CronJob ``C``;
4. an event whose pod no longer exists is attributed by the names controllers give pods:
   Deployment ``D-<hash>-<5>``, ReplicaSet/DaemonSet ``N-<5>``, StatefulSet ``N-<ordinal>``,
   Job ``N-[<index>-]<5>``, CronJob ``N-<digits>-[<index>-]<5>``, Pod ``N``; the longest
   matching workload name wins.

A workload is *covered* when ECI starts its pods from a cache holding every image: FULL, or
PINNED to a cache holding them all. STALE (the chosen cache holds a tag at an older digest than
the registry serves) is not covered: its pods start on the old image.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping  # isinstance on typing.Mapping costs 5x (measured in bench/coverage.py)
from dataclasses import dataclass
from typing import Any, Iterable, Optional, Sequence

from ..errors import UsageError
from ..model import imagecache as imc
from ..model import pods as pod_phases
from ..model.kinds import (
    CONTROLLER_KINDS,
    WORKLOAD_ORDER,
    Workload,
    controller_ref,
    template_annotations,
    template_images,
    workload_pull_secrets,
    workload_service_account,
)
from .freshness import ImageFreshness, image_freshness
from .matching import CacheIndex, Match, State, choose_cache
from .prune import Candidate as PruneCandidate

__all__ = [
    "ObservedEvent", "WorkloadCoverage", "Summary", "is_workload",
    "workload_of", "template_images", "template_annotations", "workload_of_pod", "coverage", "summarize",
    "reclaimable_gib", "validate_price",
]

# ECI matches a pod when it is created: ephemeral containers (kubectl debug, later) take no part.
_SUFFIX = "[a-z0-9]{5}"  # the random suffix of generated pod names
_POD_NAME_PATTERNS = {
    "Deployment": rf"-[a-z0-9]{{1,10}}-{_SUFFIX}",
    "ReplicaSet": rf"-{_SUFFIX}",
    "DaemonSet": rf"-{_SUFFIX}",
    "StatefulSet": r"-\d+",
    "Job": rf"-(?:\d+-)?{_SUFFIX}",
    "CronJob": rf"-\d+-(?:\d+-)?{_SUFFIX}",
    "Pod": "",
}
_CRONJOB_JOB = re.compile(r"^(.+)-\d+$")

Key = tuple[str, Optional[str], str]  # kind, namespace, name


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    value = obj.get("metadata")
    return value if isinstance(value, Mapping) else {}


def _key(obj: Mapping[str, Any]) -> Key:
    meta = _meta(obj)
    return (str(obj.get("kind") or ""), meta.get("namespace") or None, str(meta.get("name") or ""))


def is_workload(obj: Mapping[str, Any]) -> bool:
    if obj.get("kind") not in WORKLOAD_ORDER:
        return False
    ref = controller_ref(obj)
    return ref is None or ref.get("kind") not in CONTROLLER_KINDS


def workload_of(obj: Mapping[str, Any]) -> Workload:
    kind, namespace, name = _key(obj)
    return Workload(kind, namespace, name, tuple(workload_pull_secrets(obj)), workload_service_account(obj))


class _Owners:
    """Maps pods (live, or named by an event) to the workload that runs them (module doc)."""

    def __init__(self, objects: Sequence[Mapping[str, Any]], workloads: Mapping[Key, Workload]) -> None:
        self.workloads = workloads
        self._by_ns_name: Optional[dict[tuple[Optional[str], str], list[tuple[str, Workload]]]] = None
        self.by_key: dict[Key, Mapping[str, Any]] = {}
        self.by_uid: dict[str, Mapping[str, Any]] = {}
        for obj in objects:
            self.by_key[_key(obj)] = obj
            uid = _meta(obj).get("uid")
            if uid:
                self.by_uid[str(uid)] = obj

    def _resolve(self, kind: str, ns: Optional[str], name: str, uid: Optional[str], labels: Mapping[str, Any],
                 depth: int = 0) -> Optional[Workload]:
        obj = self.by_uid.get(uid) if uid else None
        key = _key(obj) if obj is not None else (kind, ns, name)
        if key in self.workloads:
            return self.workloads[key]
        obj = obj if obj is not None else self.by_key.get(key)
        if obj is not None and depth < 4:
            ref = controller_ref(obj)
            if ref is not None:
                return self._resolve(str(ref.get("kind") or ""), ns, str(ref.get("name") or ""),
                                     str(ref.get("uid") or "") or None, imc.labels(obj), depth + 1)
        if kind == "ReplicaSet":
            h = str(labels.get("pod-template-hash") or "")
            if h and name.endswith("-" + h):
                return self.workloads.get(("Deployment", ns, name[: -len(h) - 1]))
        if kind == "Job":
            m = _CRONJOB_JOB.match(name)
            if m:
                return self.workloads.get(("CronJob", ns, m.group(1)))
        return None

    def of_pod(self, pod: Mapping[str, Any]) -> Optional[Workload]:
        _, ns, name = _key(pod)
        ref = controller_ref(pod)
        if ref is None:
            return self.workloads.get(("Pod", ns, name))
        return self._resolve(str(ref.get("kind") or ""), ns, str(ref.get("name") or ""),
                             str(ref.get("uid") or "") or None, imc.labels(pod))

    def by_pod_name(self, ns: Optional[str], pod: str) -> Optional[Workload]:
        # A workload's name is a prefix of its pods' names ending before a "-": try each, longest first.
        if self._by_ns_name is None:
            self._by_ns_name = {}
            for (kind, wns, name), w in self.workloads.items():
                self._by_ns_name.setdefault((wns, name), []).append((kind, w))
        cuts = [i for i, ch in enumerate(pod) if ch == "-"] + [len(pod)]
        for cut in reversed(cuts):
            for kind, w in self._by_ns_name.get((ns, pod[:cut]), ()):
                if re.fullmatch(_POD_NAME_PATTERNS.get(kind, ""), pod[cut:]):
                    return w
        return None


def workload_of_pod(pod: Mapping[str, Any], objects: Sequence[Mapping[str, Any]]) -> Optional[Workload]:
    """The workload among ``objects`` that runs ``pod`` (explain POD names it), or None."""
    pod = {**pod, "kind": "Pod"}
    workloads = {_key(o): workload_of(o) for o in [*objects, pod] if is_workload(o)}
    return _Owners(objects, workloads).of_pod(pod)


@dataclass(frozen=True)
class ObservedEvent:
    """The last ECI cache event seen on one of a workload's pods."""

    reason: str
    pod: str
    time: Optional[dt.datetime]
    message: str

    @property
    def outcome(self) -> str:
        return imc.POD_EVENTS.get(self.reason, self.reason)

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "outcome": self.outcome, "pod": self.pod,
                "time": self.time.isoformat() if self.time else None, "message": self.message}


def _event_time(event: Mapping[str, Any]) -> Optional[dt.datetime]:
    series = event.get("series") if isinstance(event.get("series"), Mapping) else {}
    for value in (event.get("lastTimestamp"), (series or {}).get("lastObservedTime"), event.get("eventTime"),
                  event.get("firstTimestamp"), _meta(event).get("creationTimestamp")):
        t = imc.parse_time(value)
        if t is not None:
            return t
    return None


@dataclass(frozen=True)
class WorkloadCoverage:
    workload: Workload
    match: Match
    state: State  # the match's, or STALE
    freshness: tuple[ImageFreshness, ...]  # of the chosen cache's matched entries
    pods: int  # live (not Succeeded/Failed) pods it runs
    last_event: Optional[ObservedEvent] = None

    @property
    def covered(self) -> bool:
        return self.state is State.FULL or (self.state is State.PINNED and self.match.k == self.match.n)

    @property
    def cache(self) -> Optional[str]:
        return self.match.chosen.name if self.match.chosen else None

    def to_dict(self) -> dict[str, Any]:
        w = self.workload
        return {"kind": w.kind, "namespace": w.namespace, "name": w.name, "state": self.state.value,
                "cache": self.cache, "matched": self.match.k, "of": self.match.n, "pods": self.pods,
                "covered": self.covered, "stale": [f.to_dict() for f in self.freshness if f.stale],
                "lastEvent": self.last_event.to_dict() if self.last_event else None,
                # Every candidate of every workload would be caches x workloads (a base image in
                # every cache makes each a candidate of each pod): explain lists them for one.
                "match": self.match.to_dict(candidates=False)}


def coverage(objects: Iterable[Mapping[str, Any]], caches: Sequence[Mapping[str, Any]], *,
             pods: Iterable[Mapping[str, Any]] = (), events: Iterable[Mapping[str, Any]] = (),
             current: Optional[Mapping[str, str]] = None,
             digest_matches_recorded: bool = False) -> list[WorkloadCoverage]:
    """Every workload among ``objects`` with ECI's choice among ``caches``, in the objects' order.

    ``current`` maps normalized tag references to the digests the registry serves now; without it
    nothing is STALE. ``events`` are core/v1 Events (any reasons: ECI's are picked out).
    """
    objs = list(objects)
    pod_list = [{**p, "kind": "Pod"} for p in pods]
    workloads: dict[Key, Workload] = {}
    for obj in objs:
        if is_workload(obj):
            workloads.setdefault(_key(obj), workload_of(obj))
    owners = _Owners([*objs, *pod_list], workloads)

    counts: dict[Workload, int] = {}
    pod_owner: dict[Key, Optional[Workload]] = {}
    pod_uid: dict[str, Key] = {}
    for pod in pod_list:
        w = owners.of_pod(pod)
        pod_owner[_key(pod)] = w
        uid = _meta(pod).get("uid")
        if uid:
            pod_uid[str(uid)] = _key(pod)
        if w is not None and (pod.get("status") or {}).get("phase") not in pod_phases.TERMINAL_PHASES:
            counts[w] = counts.get(w, 0) + 1

    last: dict[Workload, ObservedEvent] = {}
    for event in events:
        reason = str(event.get("reason") or "")
        involved = event.get("involvedObject") or event.get("regarding") or {}
        if reason not in imc.POD_EVENTS or not isinstance(involved, Mapping) or involved.get("kind") != "Pod":
            continue
        ns, name = involved.get("namespace") or _meta(event).get("namespace") or None, str(involved.get("name"))
        key = pod_uid.get(str(involved.get("uid") or ""), ("Pod", ns, name))
        w = pod_owner[key] if key in pod_owner else owners.by_pod_name(ns, name)
        if w is None:
            continue
        seen = ObservedEvent(reason, name, _event_time(event), str(event.get("message") or event.get("note") or ""))
        before = last.get(w)
        if before is None or (seen.time is not None and (before.time is None or seen.time >= before.time)):
            last[w] = seen

    by_name = {imc.name(c): c for c in caches}
    index = CacheIndex(caches)
    out = []
    for obj in objs:
        if not is_workload(obj):
            continue
        w = workloads[_key(obj)]
        match = choose_cache(template_images(obj), template_annotations(obj), index,
                             digest_matches_recorded=digest_matches_recorded)
        fresh: tuple[ImageFreshness, ...] = ()
        state = match.state
        if match.chosen is not None and current is not None:
            entries = [entry for _, entry in match.chosen.matched]
            fresh = image_freshness(by_name[match.chosen.name], entries, current)
            if any(f.stale for f in fresh):
                state = State.STALE
        out.append(WorkloadCoverage(w, match, state, fresh, counts.get(w, 0), last.get(w)))
    return out


def _percent(part: int, whole: int) -> Optional[float]:
    return round(100.0 * part / whole, 1) if whole else None


def validate_price(price: float) -> float:
    if not math.isfinite(price) or price < 0:
        raise UsageError(f"--price-per-gib-month {price} must be a number of 0 or more (the price of one GiB "
                         "of cache for a month)")
    return price


def _holds_storage(phase: str) -> bool:
    # A failed create leaves no snapshot behind; caches being built already have their disk.
    return phase not in imc.FAILED_PHASES


def reclaimable_gib(candidates: Iterable[PruneCandidate]) -> int:
    """GiB a prune plan frees, counted as :func:`summarize` counts what caches hold."""
    return sum(c.size_gib for c in candidates if _holds_storage(c.phase))


@dataclass(frozen=True)
class Summary:
    workloads: int
    workloads_covered: int
    pods: int
    pods_covered: int
    caches: int
    held_gib: int  # effective sizes of the caches that hold storage (all but failed ones)
    reclaimable_gib: int
    price_per_gib_month: Optional[float] = None
    failed_caches: int = 0  # in ``caches`` but not in ``held_gib``: a failed build left no snapshot

    @property
    def workloads_percent(self) -> Optional[float]:
        return _percent(self.workloads_covered, self.workloads)

    @property
    def pods_percent(self) -> Optional[float]:
        return _percent(self.pods_covered, self.pods)

    @property
    def monthly_cost(self) -> Optional[float]:
        return None if self.price_per_gib_month is None else round(self.held_gib * self.price_per_gib_month, 2)

    @property
    def reclaimable_monthly_cost(self) -> Optional[float]:
        p = self.price_per_gib_month
        return None if p is None else round(self.reclaimable_gib * p, 2)

    def to_dict(self) -> dict[str, Any]:
        return {"workloads": self.workloads, "workloadsCovered": self.workloads_covered,
                "workloadsCoveredPercent": self.workloads_percent, "pods": self.pods, "podsCovered": self.pods_covered,
                "podsCoveredPercent": self.pods_percent, "caches": self.caches, "heldGiB": self.held_gib,
                "failedCaches": self.failed_caches, "heldGiBIncludesFailed": False,
                "reclaimableGiB": self.reclaimable_gib, "pricePerGiBMonth": self.price_per_gib_month,
                "monthlyCost": self.monthly_cost, "reclaimableMonthlyCost": self.reclaimable_monthly_cost}


def summarize(results: Sequence[WorkloadCoverage], caches: Sequence[Mapping[str, Any]], *,
              reclaimable: int = 0, price_per_gib_month: Optional[float] = None) -> Summary:
    """Coverage in percent of workloads and of pods, GiB held by ``caches``, and their monthly cost.

    ``reclaimable`` is :func:`reclaimable_gib` of a prune plan.
    """
    if price_per_gib_month is not None:
        validate_price(price_per_gib_month)
    held = sum(imc.effective_size_gib(c) for c in caches if _holds_storage(imc.phase(c)))
    return Summary(
        workloads=len(results), workloads_covered=sum(r.covered for r in results),
        pods=sum(r.pods for r in results), pods_covered=sum(r.pods for r in results if r.covered),
        caches=len(caches), held_gib=held, reclaimable_gib=reclaimable, price_per_gib_month=price_per_gib_month,
        failed_caches=sum(not _holds_storage(imc.phase(c)) for c in caches),
    )
