"""ECI's cache choice for one pod: eligibility, ranking, annotations, and explain's reasons. Pure."""

from __future__ import annotations

import json
from typing import Any, Optional

import pytest

from kubectl_imagecache.imagecache.matching import State, choose_cache, parse_request, pod_images
from kubectl_imagecache.model import imagecache as imc
from tests.support.builders import cache

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64


POD = ["nginx:1.25", "redis:7", "quay.io/app/api:2"]


def test_full_match_by_normalized_repository_and_tag() -> None:
    caches = [cache("c", ["docker.io/library/nginx:1.25", "index.docker.io/library/redis:7", "quay.io/app/api:2"])]
    m = choose_cache(POD, {}, caches)
    assert m.state is State.FULL and m.chosen is not None and m.chosen.name == "c"
    assert (m.k, m.n) == (3, 3) and m.missing == ()
    assert m.images == ("docker.io/library/nginx:1.25", "docker.io/library/redis:7", "quay.io/app/api:2")


def test_other_tag_does_not_match_and_partial_counts_k_of_n() -> None:
    m = choose_cache(POD, {}, [cache("c", ["nginx:1.24", "redis:7"])])
    assert m.state is State.PARTIAL and (m.k, m.n) == (1, 3)
    assert m.missing == ("docker.io/library/nginx:1.25", "quay.io/app/api:2")


def test_only_ready_caches_are_chosen_but_others_are_listed() -> None:
    caches = [cache("building", POD, phase="Creating"), cache("failed", POD, phase="Failed"),
              cache("half", ["redis:7"])]
    m = choose_cache(POD, {}, caches)
    assert m.state is State.PARTIAL and m.chosen is not None and m.chosen.name == "half"
    reasons = {c.name: c.reason for c in m.candidates}
    assert "not Ready" in reasons["building"] and "not Ready" in reasons["failed"]
    assert m.pending is not None and m.pending.name == "building"  # what warm would wait for


def test_none_when_nothing_holds_an_image() -> None:
    m = choose_cache(POD, {}, [cache("other", ["busybox:1"])])
    assert m.state is State.NONE and m.chosen is None and m.candidates == ()
    assert "no ImageCache holds" in m.why


def test_rank_match_count_first() -> None:
    caches = [cache("small-two", POD[:2], size=20), cache("big-three", POD, size=100)]
    m = choose_cache(POD, {}, caches)
    assert m.chosen is not None and m.chosen.name == "big-three" and "most images" in m.why
    loser = m.candidates[1]
    assert loser.name == "small-two" and loser.eligible and "fewer images" in loser.reason


def test_rank_smallest_size_on_equal_count_absent_size_is_the_default() -> None:
    # No imageCacheSize: the cloud builds 20 GiB, so it is closer than an explicit 30.
    caches = [cache("thirty", POD, size=30, age_h=1), cache("default", POD, size=None, age_h=50)]
    m = choose_cache(POD, {}, caches)
    assert m.chosen is not None and m.chosen.name == "default" and m.chosen.size_gib == imc.DEFAULT_SIZE_GIB
    assert "closer in size" in m.why and "20 GiB vs 30 GiB" in m.why


def test_rank_newest_on_equal_count_and_size() -> None:
    caches = [cache("old", POD, age_h=48), cache("new", POD, age_h=1), cache("unknown", POD)]
    del caches[2]["metadata"]["creationTimestamp"]
    m = choose_cache(POD, {}, caches)
    assert [c.name for c in m.candidates] == ["new", "old", "unknown"]
    assert "newer" in m.why and "older" in m.candidates[1].reason


def test_exact_tie_is_broken_by_name_and_says_so() -> None:
    m = choose_cache(POD, {}, [cache("b", POD), cache("a", POD)])
    assert m.chosen is not None and m.chosen.name == "a" and "not documented" in m.why


def test_perfect_match_requires_every_image() -> None:
    caches = [cache("two", POD[:2])]
    ann = {imc.POD_PERFECT_MATCH: "true"}
    m = choose_cache(POD, ann, caches)
    assert m.state is State.NONE and "requires all" in m.candidates[0].reason
    assert choose_cache(POD, ann, caches + [cache("all", POD, size=200)]).state is State.FULL


def test_match_count_request() -> None:
    caches = [cache("one", ["redis:7"], size=20), cache("two", POD[:2], size=50)]
    m = choose_cache(POD, {imc.POD_MATCH_COUNT: "2"}, caches)
    assert m.state is State.PARTIAL and m.chosen is not None and m.chosen.name == "two"
    assert choose_cache(POD, {imc.POD_MATCH_COUNT: "3"}, caches).state is State.NONE
    assert choose_cache(POD, {imc.POD_MATCH_COUNT: "0"}, caches).request.min_count is None


def test_auto_match_off() -> None:
    m = choose_cache(POD, {imc.POD_AUTO_MATCH: "false"}, [cache("all", POD)])
    assert m.state is State.OFF and m.chosen is None and not m.candidates[0].eligible


def test_pinned_ready_broken_missing_and_broken_not_ready() -> None:
    caches = [cache("pin", ["redis:7"], cid="imc-abc"), cache("all", POD, cid="imc-all"),
              cache("wip", POD, phase="Creating", cid="imc-wip")]
    m = choose_cache(POD, {imc.POD_PINNED_ID: "imc-abc"}, caches)
    assert m.state is State.PINNED and m.chosen is not None and m.chosen.name == "pin" and (m.k, m.n) == (1, 3)
    assert all("pins imc-abc" in c.reason for c in m.candidates[1:])
    missing = choose_cache(POD, {imc.POD_PINNED_ID: "imc-gone"}, caches)
    assert missing.state is State.BROKEN and "no ImageCache has that" in missing.why
    wip = choose_cache(POD, {imc.POD_PINNED_ID: "imc-wip"}, caches)
    assert wip.state is State.BROKEN and "Creating" in wip.why
    # A pin is explicit: automatic matching being off does not undo it.
    assert choose_cache(POD, {imc.POD_PINNED_ID: "imc-abc", imc.POD_AUTO_MATCH: "false"}, caches).state \
        is State.PINNED


@pytest.mark.parametrize("value, auto", [("False", False), ("0", False), ("F", False), ("TRUE", True),
                                          ("1", True), ("no", True)])
def test_booleans_are_read_as_go_parsebool(value: str, auto: bool) -> None:
    request = parse_request({imc.POD_AUTO_MATCH: value})
    assert request.auto is auto
    assert bool(request.notes) is (value == "no")


def test_unreadable_count_is_ignored_with_a_note() -> None:
    request = parse_request({imc.POD_MATCH_COUNT: "two"})
    assert request.min_count is None and "not a whole number" in request.notes[0]


def test_digest_references() -> None:
    pinned = f"quay.io/app/api@{D1}"
    # Same repository at the same digest, written explicitly in the cache: a match.
    assert choose_cache([pinned], {}, [cache("c", [f"quay.io/app/api:2@{D1}"])]).state is State.FULL
    # A tag entry whose recorded digest is the pod's: only when the caller asks (module doc).
    by_record = [cache("c", ["quay.io/app/api:2"], digests={"quay.io/app/api:2": D1})]
    assert choose_cache([pinned], {}, by_record).state is State.NONE
    assert choose_cache([pinned], {}, by_record, digest_matches_recorded=True).state is State.FULL
    # Tag and digest on both sides: they must agree.
    assert choose_cache([f"quay.io/app/api:2@{D2}"], {}, [cache("c", [f"quay.io/app/api:2@{D1}"])]).state \
        is State.NONE
    assert choose_cache([f"quay.io/app/api:2@{D2}"], {}, [cache("c", ["quay.io/app/api:2"])]).state is State.FULL


def test_invalid_texts_match_only_themselves_and_pod_images_dedupe() -> None:
    assert choose_cache(["Bad Image"], {}, [cache("c", ["Bad Image"])]).state is State.FULL
    assert pod_images(["nginx", "docker.io/library/nginx:latest", "redis"]) == (
        "docker.io/library/nginx:latest", "docker.io/library/redis:latest")


def test_to_dict_is_json_ready() -> None:
    m = choose_cache(POD, {}, [cache("c", POD)])
    data = json.loads(json.dumps(m.to_dict()))
    assert data["state"] == "FULL" and data["chosen"] == "c" and data["candidates"][0]["matchCount"] == 3


# -- the index against the rule, cache by cache ------------------------------------------------------------
# CacheIndex files entries under what can match them so a choice does not walk every cache. This
# oracle walks every cache and every entry with the rule as the module doc states it.
_POOL = ["nginx:1.25", "nginx", "docker.io/library/nginx:1.25", f"nginx:1.25@{D1}", f"nginx:1.25@{D2}",
         f"nginx@{D1}", f"nginx@{D2}", "redis:7", f"redis@{D1}", "quay.io/app/api:2", "Bad Image", "bad image"]


def _rule_matches(pod: str, entry: str, recorded: Optional[str], by_recorded: bool) -> bool:
    from kubectl_imagecache.registry.reference import parse_reference

    def parse(text: str) -> Any:
        try:
            return parse_reference(text)
        except Exception:
            return None
    p, e = parse(pod), parse(entry)
    if p is None or e is None:
        return p is None and e is None and pod.strip() == entry.strip()
    if p.name != e.name:
        return False
    if p.tag is not None:
        return e.tag == p.tag and (p.digest is None or e.digest is None or p.digest == e.digest)
    if e.digest is not None:
        return e.digest == p.digest
    return by_recorded and recorded is not None and recorded == p.digest


def _oracle(images: list[str], request: Any, caches: list[dict[str, Any]], by_recorded: bool
            ) -> tuple[dict[str, tuple[tuple[str, str], ...]], Optional[str]]:
    wanted = pod_images(images)
    matched = {}
    for c in caches:
        recorded = imc.digests(c)
        pairs = []
        for w in wanted:
            hit = next((e for e in imc.images(c) if _rule_matches(w, e, recorded.get(pod_images([e])[0]),
                                                                   by_recorded)), None)
            if hit is not None:
                pairs.append((w, pod_images([hit])[0]))
        if pairs:
            matched[imc.name(c)] = tuple(pairs)
    if request.pinned_id is not None:
        ready = [c for c in caches if imc.cache_id(c) == request.pinned_id and imc.phase(c) == "Ready"]
        return matched, (imc.name(ready[0]) if ready else None)
    if not request.auto:
        return matched, None

    def qualifies(c: dict[str, Any]) -> bool:
        k = len(matched.get(imc.name(c), ()))
        return k > 0 and imc.phase(c) == "Ready" and not (request.perfect and k < len(wanted)) \
            and not (request.min_count is not None and k < request.min_count)

    def rank(c: dict[str, Any]) -> tuple[int, int, float, str]:
        created = imc.created_at(c)
        return (-len(matched[imc.name(c)]), imc.effective_size_gib(c),
                -created.timestamp() if created else float("inf"), imc.name(c))
    best = min(filter(qualifies, caches), key=rank, default=None)
    return matched, (imc.name(best) if best is not None else None)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_caches = st.lists(st.builds(
    lambda images, phase, size, age, cid, rec: cache("", images, phase=phase, size=size, age_h=age, cid=cid,
                                                     digests={pod_images([i])[0]: D1 if r else D2
                                                              for i, r in zip(images, rec)} or None),
    st.lists(st.sampled_from(_POOL), min_size=1, max_size=5), st.sampled_from(["Ready", "Ready", "Creating", "Failed"]),
    st.sampled_from([None, 10, 20]), st.sampled_from([1, 2]), st.sampled_from([None, "imc-a", "imc-b"]),
    st.lists(st.booleans(), max_size=5)), max_size=6)


@settings(max_examples=400, deadline=None)
@given(images=st.lists(st.sampled_from(_POOL), min_size=1, max_size=4), caches=_caches,
       annotations=st.fixed_dictionaries({}, optional={
           imc.POD_PERFECT_MATCH: st.sampled_from(["true", "false"]),
           imc.POD_MATCH_COUNT: st.sampled_from(["1", "2", "3"]),
           imc.POD_AUTO_MATCH: st.sampled_from(["true", "false"]),
           imc.POD_PINNED_ID: st.sampled_from(["imc-a", "imc-c"])}),
       by_recorded=st.booleans())
def test_index_equals_the_rule_applied_to_every_cache(images: list[str], caches: list[dict[str, Any]],
                                                      annotations: dict[str, str], by_recorded: bool) -> None:
    from kubectl_imagecache.imagecache.matching import CacheIndex, chosen_name

    for i, c in enumerate(caches):
        c["metadata"]["name"] = f"c{i}"
    request = parse_request(annotations)
    matched, winner = _oracle(images, request, caches, by_recorded)
    m = choose_cache(images, annotations, caches, digest_matches_recorded=by_recorded)
    if request.pinned_id is None:  # a pin lists the pinned cache first and others beside it
        assert {c.name: c.matched for c in m.candidates if c.count} == matched
    assert (m.chosen.name if m.chosen else None) == winner
    assert chosen_name(images, request, CacheIndex(caches), digest_matches_recorded=by_recorded) == winner
    # The candidates are listed (lazily) in rank order, the chosen first, every reason written.
    if m.chosen is not None:
        assert m.candidates[0] == m.chosen
    assert all(c.reason for c in m.candidates)
