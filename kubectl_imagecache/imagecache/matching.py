"""Which ImageCache ECI picks for one pod (template), simulated with ECI's rules. Pure: no I/O.

The rules (eci-imagecache.md, "How pods use a cache"), and what this module decides where the
documentation leaves room:

- Only Ready caches are used by pods. Caches in other phases are listed as candidates (explain
  shows them) but never chosen.
- A pod's image matches a cache entry by repository and tag, both normalized (``nginx`` is
  ``docker.io/library/nginx:latest``). When both sides also carry a digest they must agree: the
  cache is then known to hold other content. A digest-only reference (``app@sha256:...``) has no
  tag to compare, so it matches an entry that names the same repository at the same digest.
  It does **not** match a tag entry through the digest warm recorded for it, unless the caller
  asks (``digest_matches_recorded=True``): ECI documents matching on the references a cache
  lists, not on content, and reporting FULL where ECI may miss would hide the cold start this
  tool exists to show; the opposite error costs one redundant cache that ``--fix`` previews.
  Texts that are no valid reference match only the identical text.
- Ranking: most matched images first; then "size closeness", read as the smallest effective
  size (spec.imageCacheSize, else the cloud's default): every cache able to serve the images is
  at least as large as they need (ECI builds none under twice its images), so the closest is
  the smallest, which is also the smallest system disk ECI builds from the snapshot; then the
  newest (creationTimestamp; unknown counts as oldest). Among exact ties ECI's order is not
  documented: we take the first by name, so results are stable, and say so in the reason.
- ``imc-perfect-match: "true"``: only caches holding every image qualify.
  ``imc-match-count-request: "N"``: only caches holding at least N of them qualify.
- ``eci-auto-imc: "false"``: ECI matches nothing (OFF). ``eci-imc-id: imc-...`` pins the cache
  whose status.imageCacheId it is: PINNED when that cache is Ready, else BROKEN (ECI fails to
  create the pod). An explicit pin is not automatic matching, so it wins over ``eci-auto-imc``.
- Boolean annotations are read as Go's strconv.ParseBool does (ECI's controller is Go):
  1/t/T/TRUE/true/True and 0/f/F/FALSE/false/False. A value that is no boolean, or a count that
  is no integer, is read as the default and reported in ``PodRequest.notes``.
- Not modelled: architecture (``imc-cpu-arch`` of a cache against the pod's instance type): the
  pod side has no documented annotation to read.
"""

from __future__ import annotations

import collections
import datetime as dt
import enum
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from ..errors import InvalidReference
from ..model import imagecache as imc
from ..model.imagecache import (
    IN_PROGRESS_PHASES,
    POD_AUTO_MATCH,
    POD_MATCH_COUNT,
    POD_PERFECT_MATCH,
    POD_PINNED_ID,
    READY,
)
from ..registry.reference import parse_reference

__all__ = [
    "State", "PodRequest", "Candidate", "Match", "CacheIndex", "parse_request", "pod_images", "choose",
    "choose_cache", "chosen_name",
]


class State(str, enum.Enum):
    """A workload's coverage. STALE is decided by coverage.py (it needs the registry's digests)."""

    FULL = "FULL"
    PARTIAL = "PARTIAL"
    NONE = "NONE"
    OFF = "OFF"
    PINNED = "PINNED"
    BROKEN = "BROKEN"
    STALE = "STALE"

    def __str__(self) -> str:
        return self.value


_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _go_bool(value: str) -> Optional[bool]:
    if value in _GO_TRUE:
        return True
    if value in _GO_FALSE:
        return False
    return None


@dataclass(frozen=True)
class PodRequest:
    """What a pod template's annotations ask of ECI's matching."""

    auto: bool = True
    perfect: bool = False
    min_count: Optional[int] = None
    pinned_id: Optional[str] = None
    notes: tuple[str, ...] = ()  # annotations that could not be read, and how they were taken

    def to_dict(self) -> dict[str, Any]:
        return {"autoMatch": self.auto, "perfectMatch": self.perfect, "matchCountRequest": self.min_count,
                "pinnedId": self.pinned_id, "notes": list(self.notes)}


def parse_request(annotations: Mapping[str, Any]) -> PodRequest:
    notes: list[str] = []

    def flag(key: str, default: bool) -> bool:
        raw = annotations.get(key)
        if raw is None:
            return default
        value = _go_bool(str(raw).strip())
        if value is None:
            notes.append(f'{key}: "{str(raw)[:64]}" is not a boolean; read as {str(default).lower()}')
            return default
        return value

    auto = flag(POD_AUTO_MATCH, True)
    perfect = flag(POD_PERFECT_MATCH, False)
    min_count: Optional[int] = None
    raw = annotations.get(POD_MATCH_COUNT)
    if raw is not None:
        text = str(raw).strip()
        if text.isdigit() and text.isascii():
            min_count = int(text) or None  # 0 asks for nothing
        else:
            notes.append(f'{POD_MATCH_COUNT}: "{text[:64]}" is not a whole number; ignored')
    pinned = str(annotations.get(POD_PINNED_ID) or "").strip() or None
    return PodRequest(auto, perfect, min_count, pinned, tuple(notes))


@dataclass(frozen=True)
class _Key:
    text: str  # normalized reference, or the stripped text when it is none
    name: Optional[str] = None  # registry/repository; None: not a valid reference
    tag: Optional[str] = None
    digest: Optional[str] = None


@functools.lru_cache(maxsize=65536)  # pure; the same texts recur across every workload and cache
def _key(text: str) -> _Key:
    try:
        ref = parse_reference(text)
    except InvalidReference:
        return _Key(text.strip())
    return _Key(str(ref), ref.name, ref.tag, ref.digest)


def pod_images(images: Iterable[str]) -> tuple[str, ...]:
    """The normalized, distinct images of a pod, first seen first."""
    seen: dict[str, None] = {}
    for text in images:
        seen.setdefault(_key(text).text, None)
    return tuple(seen)


@dataclass(frozen=True)
class Candidate:
    """One cache that holds some of the pod's images (or is the pinned one), as explain shows it."""

    name: str
    cache_id: Optional[str]
    phase: str
    size_gib: int
    created: Optional[dt.datetime]
    matched: tuple[tuple[str, str], ...]  # (pod image, the cache's entry it matched), in pod order
    eligible: bool  # Ready and meeting the pod's requirements
    reason: str  # why it won, why it lost, or why it does not qualify

    @property
    def count(self) -> int:
        return len(self.matched)

    @property
    def images(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.matched)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "imageCacheId": self.cache_id, "phase": self.phase, "sizeGiB": self.size_gib,
                "created": self.created.isoformat() if self.created else None, "matchCount": self.count,
                "matched": [{"image": p, "cacheImage": e} for p, e in self.matched], "eligible": self.eligible,
                "reason": self.reason}


@dataclass(frozen=True)
class Match:
    """ECI's choice for one pod: the state, the winner, and every candidate with its reason."""

    state: State
    images: tuple[str, ...]  # the pod's normalized images
    request: PodRequest
    chosen: Optional[Candidate]
    why: str  # one sentence: why this cache, or why none
    pending: Optional[Candidate] = field(default=None)  # a cache being built that would hold every image
    # Builds `candidates` when asked (explain, -o json): a base image every cache holds makes every
    # cache a candidate of every pod, and coverage over a cluster asks only for the choice.
    explain: Callable[[], tuple[Candidate, ...]] = field(default=tuple, repr=False, compare=False)

    @functools.cached_property
    def candidates(self) -> tuple[Candidate, ...]:
        """The chosen first, then the other qualifying caches by rank, then the rest, each with its reason."""
        return self.explain()

    @property
    def n(self) -> int:
        return len(self.images)

    @property
    def k(self) -> int:
        return self.chosen.count if self.chosen else 0

    @property
    def matched(self) -> tuple[str, ...]:
        return self.chosen.images if self.chosen else ()

    @property
    def missing(self) -> tuple[str, ...]:
        held = set(self.matched)
        return tuple(i for i in self.images if i not in held)

    def to_dict(self, candidates: bool = True) -> dict[str, Any]:
        """``candidates``: list every candidate with its reason (explain); coverage leaves them out."""
        out: dict[str, Any] = {
            "state": self.state.value, "images": list(self.images), "matched": self.k, "of": self.n,
            "missing": list(self.missing), "chosen": self.chosen.name if self.chosen else None, "why": self.why,
            "request": self.request.to_dict(), "pending": self.pending.name if self.pending else None}
        if candidates:
            out["candidates"] = [c.to_dict() for c in self.candidates]
        return out


def _when(c: Candidate) -> str:
    return c.created.isoformat() if c.created else "unknown"


def _won_over(w: Candidate, r: Optional[Candidate], n: int) -> str:
    if r is None:
        return f"the only qualifying Ready cache; holds {w.count} of the {n} images"
    if w.count != r.count:
        return f"holds the most images: {w.count} of {n} (next best {r.name}: {r.count})"
    if w.size_gib != r.size_gib:
        return (f"ties {r.name} on images ({w.count} of {n}) and is closer in size: "
                f"{w.size_gib} GiB vs {r.size_gib} GiB")
    if w.created != r.created:  # ranked first, so the newer
        return f"ties {r.name} on images ({w.count} of {n}) and size ({w.size_gib} GiB) and is newer"
    return (f"ties {r.name} on images, size and age; taken by name (ECI's order among exact ties is not "
            "documented)")


def _lost_to(c: Candidate, w: Candidate) -> str:
    if c.count != w.count:
        return f"fewer images than {w.name}: {c.count} vs {w.count}"
    if c.size_gib != w.size_gib:
        return f"same images as {w.name}, larger: {c.size_gib} GiB vs {w.size_gib} GiB"
    if c.created != w.created:
        return f"same images and size as {w.name}, older ({_when(c)} vs {_when(w)})"
    return f"exact tie with {w.name}, after it by name"


def _meets(count: int, n: int, request: PodRequest) -> bool:
    """The pod's requirements (perfect match, match count) hold for a cache holding ``count`` of ``n``."""
    return not (request.perfect and count < n) and not (request.min_count is not None and count < request.min_count)


def _requirement_problem(count: int, n: int, request: PodRequest) -> Optional[str]:
    if _meets(count, n, request):
        return None
    if request.perfect and count < n:
        return f"holds {count} of {n} images: {POD_PERFECT_MATCH} requires all"
    if request.min_count is not None and count < request.min_count:
        return f"holds {count} of {n} images: {POD_MATCH_COUNT} requires {request.min_count}"
    return None


_Lookup = tuple[str, ...]


def _lookups(k: _Key, rec: Optional[str]) -> list[_Lookup]:
    """The keys under which a cache entry can be found by the pod references that may match it."""
    if k.name is None:
        return [("x", k.text)]
    out: list[_Lookup] = []
    if k.tag is not None:
        out.append(("t", k.name, k.tag))
    if k.digest is not None:
        out.append(("d", k.name, k.digest))
    elif rec is not None:
        out.append(("r", k.name, rec))
    return out


def _wanted(p: _Key, by_recorded: bool) -> list[_Lookup]:
    """The lookups a pod reference needs: the counterpart of :func:`_lookups`."""
    if p.name is None:
        return [("x", p.text)]
    if p.tag is not None:
        return [("t", p.name, p.tag)]
    assert p.digest is not None
    out: list[_Lookup] = [("d", p.name, p.digest)]
    if by_recorded:
        out.append(("r", p.name, p.digest))
    return out


class CacheIndex:
    """Caches read once for many choices: each entry parsed once and filed under what can match it,
    so a choice costs the caches holding one of the pod's images, not every cache; and pods with the
    same images and annotations (a Deployment's in every namespace) share one choice."""

    def __init__(self, caches: Iterable[Mapping[str, Any]]) -> None:
        self.caches = list(caches)
        self._files: list[dict[_Lookup, list[tuple[int, _Key]]]] = []  # per cache: lookup -> (position, entry)
        self._ids: dict[_Lookup, list[int]] = {}  # lookup -> the caches filing an entry under it, once each
        self._meta: list[tuple[str, Optional[str], str, int, Optional[dt.datetime]]] = []
        self._by_id: dict[str, list[int]] = {}
        # Pods with the same images and annotations get the same choice: (images, request, by recorded) ->
        self._memo: dict[tuple[tuple[str, ...], PodRequest, bool], Match] = {}
        self._names: dict[tuple[tuple[str, ...], PodRequest, bool], Optional[str]] = {}
        for i, obj in enumerate(self.caches):
            recorded = imc.digests(obj)
            files: dict[_Lookup, list[tuple[int, _Key]]] = {}
            for pos, text in enumerate(imc.images(obj)):
                k = _key(text)
                for lookup in _lookups(k, recorded.get(k.text)):
                    if lookup not in files:
                        self._ids.setdefault(lookup, []).append(i)
                    files.setdefault(lookup, []).append((pos, k))
            self._files.append(files)
            cid = imc.cache_id(obj)
            self._meta.append((imc.name(obj), cid, imc.phase(obj), imc.effective_size_gib(obj), imc.created_at(obj)))
            if cid:
                self._by_id.setdefault(cid, []).append(i)
        # Each cache's place in the rank after the match count, so a rank is one integer (_rank_keys).
        order = sorted(range(len(self.caches)), key=lambda i: (
            self._meta[i][3], -ts.timestamp() if (ts := self._meta[i][4]) else float("inf"), self._meta[i][0]))
        self._place = [0] * len(self.caches)
        for place, i in enumerate(order):
            self._place[i] = place

    def _rank_keys(self, counts: Mapping[int, int]) -> dict[int, int]:
        """The rank as one integer per cache: most images first, then the cache's place (smallest,
        then newest, unknown creation counting as oldest, then name)."""
        place, size = self._place, len(self.caches)
        return {i: place[i] - count * size for i, count in counts.items()}

    def _first(self, i: int, lookup: _Lookup, p: _Key) -> Optional[tuple[int, str]]:
        """(position, text) of cache i's first entry under ``lookup`` that matches ``p``.

        Filed under the pod's lookup, an entry matches (the module doc's rule) unless both name a
        tag and each pins another digest."""
        check = lookup[0] == "t" and p.digest is not None
        for pos, e in self._files[i].get(lookup, ()):
            if not (check and e.digest is not None and e.digest != p.digest):
                return pos, e.text
        return None

    def _counts(self, pod: Sequence[_Key], by_recorded: bool) -> collections.Counter[int]:
        """cache position -> how many of the pod's images it holds (only caches holding one)."""
        counts: collections.Counter[int] = collections.Counter()
        for p in pod:
            lookups = _wanted(p, by_recorded)
            if len(lookups) == 1 and (lookups[0][0] != "t" or p.digest is None):
                counts.update(self._ids.get(lookups[0], ()))  # every entry filed there matches
            else:
                counts.update({i for lookup in lookups for i in self._ids.get(lookup, ())
                               if self._first(i, lookup, p) is not None})
        return counts

    def _candidate(self, i: int, pod: Sequence[_Key], by_recorded: bool) -> Candidate:
        matched = []
        for p in pod:
            found = [f for lookup in _wanted(p, by_recorded) if (f := self._first(i, lookup, p)) is not None]
            if found:
                matched.append((p.text, min(found)[1]))  # the first entry, as listed
        name, cid, phase, size, created = self._meta[i]
        return Candidate(name, cid, phase, size, created, tuple(matched), False, "")


def _with(c: Candidate, eligible: bool, reason: str) -> Candidate:
    return Candidate(c.name, c.cache_id, c.phase, c.size_gib, c.created, c.matched, eligible, reason)


@dataclass(frozen=True)
class _Decision:
    """ECI's choice as cache positions: what :func:`choose` explains and ``CacheIndex.chosen`` names."""

    state: State
    counts: collections.Counter[int]  # cache position -> images of the pod it holds (only those holding one)
    key: dict[int, int]  # cache position -> rank, lower first
    target: Optional[int] = None  # the winner; PINNED: the pinned cache; BROKEN: the pinned one, not Ready
    second: Optional[int] = None  # the runner-up among the qualifying
    pending: Optional[int] = None
    qualifying: frozenset[int] = frozenset()


def _decide(index: CacheIndex, keys: Sequence[_Key], request: PodRequest, by_recorded: bool) -> _Decision:
    n = len(keys)
    counts = index._counts(keys, by_recorded)
    key = index._rank_keys(counts)
    meta = index._meta
    building = [i for i, k in counts.items() if n and k == n and meta[i][2] in IN_PROGRESS_PHASES]
    pending = min(building, key=key.__getitem__) if building else None
    if request.pinned_id is not None:
        ids = index._by_id.get(request.pinned_id, [])
        ready = [i for i in ids if meta[i][2] == READY]
        if ready:
            return _Decision(State.PINNED, counts, key, ready[0])
        return _Decision(State.BROKEN, counts, key, ids[0] if ids else None)
    if not request.auto:
        return _Decision(State.OFF, counts, key, pending=pending)
    qualifying = [i for i, k in counts.items() if meta[i][2] == READY and _meets(k, n, request)]
    if not qualifying:
        return _Decision(State.NONE, counts, key, pending=pending)
    best = min(qualifying, key=key.__getitem__)
    second = min((i for i in qualifying if i != best), key=key.__getitem__, default=None)
    state = State.FULL if counts[best] == n else State.PARTIAL
    return _Decision(state, counts, key, best, second, None if state is State.FULL else pending, frozenset(qualifying))


def chosen_name(images: Sequence[str], request: PodRequest, index: CacheIndex, *,
                digest_matches_recorded: bool = False) -> Optional[str]:
    """The name of the cache :func:`choose` picks, without its sentences (sync asks this of every
    workload over each state it predicts)."""
    wanted = pod_images(images)
    memo = (wanted, request, digest_matches_recorded)
    if memo not in index._names:
        d = _decide(index, [_key(i) for i in wanted], request, digest_matches_recorded)
        chosen = d.state in (State.FULL, State.PARTIAL, State.PINNED) and d.target is not None
        index._names[memo] = index._meta[d.target][0] if chosen and d.target is not None else None
    return index._names[memo]


def choose(images: Sequence[str], request: PodRequest, caches: Union[CacheIndex, Sequence[Mapping[str, Any]]], *,
           digest_matches_recorded: bool = False) -> Match:
    """ECI's choice among ``caches`` for a pod with ``images`` and ``request`` (see the module doc).

    Pass a :class:`CacheIndex` when choosing for many pods over the same caches. The choice is
    made here; every other candidate's reason is written only when ``Match.candidates`` is read.
    """
    index = caches if isinstance(caches, CacheIndex) else CacheIndex(caches)
    wanted = pod_images(images)
    memo = (wanted, request, digest_matches_recorded)
    if memo not in index._memo:
        index._memo[memo] = _explain(index, wanted, request, digest_matches_recorded)
    return index._memo[memo]


def _explain(index: CacheIndex, wanted: tuple[str, ...], request: PodRequest, by_recorded: bool) -> Match:
    """The decision in words: why the winner won, and (lazily) every candidate's reason."""
    n = len(wanted)
    keys = [_key(i) for i in wanted]
    d = _decide(index, keys, request, by_recorded)
    made: dict[int, Candidate] = {}

    def cand(i: int) -> Candidate:
        if i not in made:
            made[i] = index._candidate(i, keys, by_recorded)
        return made[i]

    def by_rank() -> list[int]:
        return sorted(d.counts, key=d.key.__getitem__)

    def problem(i: int) -> str:
        phase = index._meta[i][2]
        if phase != READY:
            return f"{phase}, not Ready: pods use Ready caches only"
        return _requirement_problem(d.counts[i], n, request) or ""

    pending = cand(d.pending) if d.pending is not None else None
    pid = request.pinned_id
    if pid is not None:
        def others() -> tuple[Candidate, ...]:
            return tuple(_with(cand(i), False, f"not considered: the pod pins {pid}") for i in by_rank()
                         if index._meta[i][1] != pid)
        if d.target is None:
            return Match(State.BROKEN, wanted, request, None,
                         f"pinned to {pid} ({POD_PINNED_ID}), but no ImageCache has that status.imageCacheId: "
                         "ECI fails to create the pod", explain=others)
        target = cand(d.target)
        if d.state is State.BROKEN:
            why = f"pinned to {pid} ({target.name}), which is {target.phase}, not Ready: ECI fails to create the pod"
            broken = _with(target, False, why)
            return Match(State.BROKEN, wanted, request, None, why, explain=lambda: (broken, *others()))
        why = f"pinned by {POD_PINNED_ID}; holds {target.count} of the {n} images"
        pinned = _with(target, True, why)
        return Match(State.PINNED, wanted, request, pinned, why, explain=lambda: (pinned, *others()))
    if d.state is State.OFF:
        return Match(State.OFF, wanted, request, None, f"{POD_AUTO_MATCH} is false: ECI matches no cache", pending,
                     explain=lambda: tuple(_with(cand(i), False, f"not considered: {POD_AUTO_MATCH} is false")
                                           for i in by_rank()))
    if d.target is None:
        if not n:
            why = "the pod has no images"
        elif not d.counts:
            why = "no ImageCache holds any of the pod's images"
        else:
            why = f"{len(d.counts)} cache(s) hold some of the images, but none qualifies"
        return Match(State.NONE, wanted, request, None, why, pending,
                     explain=lambda: tuple(_with(cand(i), False, problem(i)) for i in by_rank()))
    winner = cand(d.target)
    why = _won_over(winner, cand(d.second) if d.second is not None else None, n)
    chosen = _with(winner, True, why)

    def explain() -> tuple[Candidate, ...]:
        ranked = by_rank()
        losers = [_with(cand(i), True, _lost_to(cand(i), winner)) for i in ranked
                  if i in d.qualifying and i != d.target]
        return (chosen, *losers, *(_with(cand(i), False, problem(i)) for i in ranked if i not in d.qualifying))

    return Match(d.state, wanted, request, chosen, why, pending, explain=explain)


def choose_cache(images: Sequence[str], annotations: Mapping[str, Any],
                 caches: Union[CacheIndex, Sequence[Mapping[str, Any]]], *,
                 digest_matches_recorded: bool = False) -> Match:
    """:func:`choose` for a pod template's images and annotations."""
    return choose(images, parse_request(annotations), caches, digest_matches_recorded=digest_matches_recorded)
