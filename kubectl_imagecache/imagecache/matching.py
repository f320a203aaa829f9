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

import datetime as dt
import enum
import functools
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from ..errors import InvalidReference
from ..registry.reference import parse_reference
from . import resource as imc
from .resource import IN_PROGRESS_PHASES, POD_AUTO_MATCH, POD_MATCH_COUNT, POD_PERFECT_MATCH, POD_PINNED_ID, READY

__all__ = [
    "State", "PodRequest", "Candidate", "Match", "CacheIndex", "parse_request", "pod_images", "choose",
    "choose_cache",
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


def _matches(pod: _Key, entry: _Key, recorded: Optional[str], by_recorded: bool) -> bool:
    if pod.name is None or entry.name is None:
        return pod.text == entry.text
    if pod.name != entry.name:
        return False
    if pod.tag is not None:
        if entry.tag != pod.tag:
            return False
        return pod.digest is None or entry.digest is None or pod.digest == entry.digest
    if entry.digest is not None:
        return entry.digest == pod.digest
    return by_recorded and recorded is not None and recorded == pod.digest


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
    candidates: tuple[Candidate, ...]  # the chosen first, then the other qualifying by rank, then the rest
    why: str  # one sentence: why this cache, or why none
    pending: Optional[Candidate] = field(default=None)  # a cache being built that would hold every image

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

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.state.value, "images": list(self.images), "matched": self.k, "of": self.n,
                "missing": list(self.missing), "chosen": self.chosen.name if self.chosen else None,
                "why": self.why, "request": self.request.to_dict(),
                "pending": self.pending.name if self.pending else None,
                "candidates": [c.to_dict() for c in self.candidates]}


def _rank(c: Candidate) -> tuple[int, int, float, str]:
    """Most images, then smallest, then newest (unknown creation: oldest), then name."""
    created = c.created.timestamp() if c.created else float("-inf")
    return (-c.count, c.size_gib, -created, c.name)


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


def _requirement_problem(count: int, n: int, request: PodRequest) -> Optional[str]:
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
    """The lookups a pod reference needs (the counterpart of :func:`_lookups`; :func:`_matches` decides)."""
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
    so a choice costs the caches holding one of the pod's images, not every cache."""

    def __init__(self, caches: Iterable[Mapping[str, Any]]) -> None:
        self.caches = list(caches)
        self._files: list[dict[_Lookup, list[tuple[int, _Key, Optional[str]]]]] = []
        self._meta: list[tuple[str, Optional[str], str, int, Optional[dt.datetime]]] = []
        self._holders: dict[_Lookup, set[int]] = {}
        self._by_id: dict[str, set[int]] = {}
        for i, obj in enumerate(self.caches):
            recorded = imc.digests(obj)
            files: dict[_Lookup, list[tuple[int, _Key, Optional[str]]]] = {}
            for pos, text in enumerate(imc.images(obj)):
                k = _key(text)
                rec = recorded.get(k.text)
                for lookup in _lookups(k, rec):
                    files.setdefault(lookup, []).append((pos, k, rec))
                    self._holders.setdefault(lookup, set()).add(i)
            self._files.append(files)
            cid = imc.cache_id(obj)
            self._meta.append((imc.name(obj), cid, imc.phase(obj), imc.effective_size_gib(obj), imc.created_at(obj)))
            if cid:
                self._by_id.setdefault(cid, set()).add(i)

    def candidates(self, pod: Sequence[_Key], by_recorded: bool, pinned_id: Optional[str]) -> list[Candidate]:
        """The caches holding one of ``pod``'s images, and those with ``pinned_id``, with what they match."""
        wanted = [_wanted(p, by_recorded) for p in pod]
        relevant: set[int] = set(self._by_id.get(pinned_id, ())) if pinned_id else set()
        for lookups in wanted:
            for lookup in lookups:
                relevant |= self._holders.get(lookup, set())
        out = []
        for i in sorted(relevant):
            files = self._files[i]
            matched = []
            for p, lookups in zip(pod, wanted):
                hits = [(pos, e) for lookup in lookups for pos, e, rec in files.get(lookup, ())
                        if _matches(p, e, rec, by_recorded)]
                if hits:
                    matched.append((p.text, min(hits, key=lambda h: h[0])[1].text))  # the first entry, as listed
            name, cid, phase, size, created = self._meta[i]
            out.append(Candidate(name, cid, phase, size, created, tuple(matched), False, ""))
        return out


def _with(c: Candidate, eligible: bool, reason: str) -> Candidate:
    return Candidate(c.name, c.cache_id, c.phase, c.size_gib, c.created, c.matched, eligible, reason)


def choose(images: Sequence[str], request: PodRequest, caches: Union[CacheIndex, Sequence[Mapping[str, Any]]], *,
           digest_matches_recorded: bool = False) -> Match:
    """ECI's choice among ``caches`` for a pod with ``images`` and ``request`` (see the module doc).

    Pass a :class:`CacheIndex` when choosing for many pods over the same caches.
    """
    index = caches if isinstance(caches, CacheIndex) else CacheIndex(caches)
    wanted = pod_images(images)
    keys = [_key(i) for i in wanted]
    n = len(wanted)
    found = index.candidates(keys, digest_matches_recorded, request.pinned_id)
    pending = min((c for c in found if c.phase in IN_PROGRESS_PHASES and n and c.count == n), key=_rank, default=None)

    if request.pinned_id is not None:
        pinned = sorted((c for c in found if c.cache_id == request.pinned_id), key=lambda c: c.phase != READY)
        others = tuple(_with(c, False, f"not considered: the pod pins {request.pinned_id}")
                       for c in sorted(found, key=_rank) if c.count and c.cache_id != request.pinned_id)
        if not pinned:
            return Match(State.BROKEN, wanted, request, None, others,
                         f"pinned to {request.pinned_id} ({POD_PINNED_ID}), but no ImageCache has that "
                         "status.imageCacheId: ECI fails to create the pod")
        target = pinned[0]
        if target.phase != READY:
            why = (f"pinned to {request.pinned_id} ({target.name}), which is {target.phase}, not Ready: "
                   "ECI fails to create the pod")
            return Match(State.BROKEN, wanted, request, None, (_with(target, False, why), *others), why)
        why = f"pinned by {POD_PINNED_ID}; holds {target.count} of the {n} images"
        return Match(State.PINNED, wanted, request, _with(target, True, why), (_with(target, True, why), *others),
                     why)

    relevant = sorted((c for c in found if c.count), key=_rank)
    if not request.auto:
        off = tuple(_with(c, False, f"not considered: {POD_AUTO_MATCH} is false") for c in relevant)
        return Match(State.OFF, wanted, request, None, off,
                     f"{POD_AUTO_MATCH} is false: ECI matches no cache", pending)

    qualifying: list[Candidate] = []
    rest: list[Candidate] = []
    for c in relevant:
        problem = f"{c.phase}, not Ready: pods use Ready caches only" if c.phase != READY \
            else _requirement_problem(c.count, n, request)
        if problem:
            rest.append(_with(c, False, problem))
        else:
            qualifying.append(c)
    if not qualifying:
        if not n:
            why = "the pod has no images"
        elif not relevant:
            why = "no ImageCache holds any of the pod's images"
        else:
            why = f"{len(relevant)} cache(s) hold some of the images, but none qualifies"
        return Match(State.NONE, wanted, request, None, tuple(rest), why, pending)
    winner = qualifying[0]
    why = _won_over(winner, qualifying[1] if len(qualifying) > 1 else None, n)
    ranked = (_with(winner, True, why), *(_with(c, True, _lost_to(c, winner)) for c in qualifying[1:]))
    state = State.FULL if winner.count == n else State.PARTIAL
    return Match(state, wanted, request, ranked[0], (*ranked, *rest), why, None if state is State.FULL else pending)


def choose_cache(images: Sequence[str], annotations: Mapping[str, Any],
                 caches: Union[CacheIndex, Sequence[Mapping[str, Any]]], *,
                 digest_matches_recorded: bool = False) -> Match:
    """:func:`choose` for a pod template's images and annotations."""
    return choose(images, parse_request(annotations), caches, digest_matches_recorded=digest_matches_recorded)
