"""Prune decisions: every reason, in-progress protection, digests, pins, supersession that never leaves
pods without their cache. Pure, with a fixed clock."""

from __future__ import annotations

from typing import Any, Optional

from kubectl_imagecache.imagecache.prune import Pins, PodImages, PruneOptions, PrunePlan, plan_prune, pod_images
from kubectl_imagecache.model.imagecache import POD_PINNED_ID
from tests.support.builders import NOW, cache, deployment, pod

D = "sha256:" + "d" * 64


def names(plan: PrunePlan) -> dict[str, tuple[str, ...]]:
    return {c.name: c.reasons for c in plan.candidates}


def test_expired_by_status_or_retention() -> None:
    caches = [cache("past", ["a:1"], expires_h=-1), cache("future", ["a:1"], expires_h=5),
              cache("retention", ["a:1"], age_h=49, retention=2)]
    plan = plan_prune(caches, pod_images([pod("app", ["a:1"])]), NOW, PruneOptions(reasons=frozenset({"expired"})))
    assert names(plan) == {"past": ("expired",), "retention": ("expired",)}


def test_failed_only_after_the_grace() -> None:
    caches = [cache("old-fail", ["a:1"], phase="Failed", updated_h=2),
              cache("new-fail", ["a:1"], phase="Failed", updated_h=0.5),
              cache("upd-fail", ["a:1"], phase="UpdateFailed", updated_h=3)]
    plan = plan_prune(caches, pod_images([pod("app", ["a:1"])]), NOW, PruneOptions())
    assert names(plan) == {"old-fail": ("failed",), "upd-fail": ("failed",)}


def test_unused_compares_normalized_references_and_digests() -> None:
    caches = [cache("by-name", ["nginx:1"]), cache("hub-long", ["docker.io/library/redis:7"]),
              cache("by-digest", ["app:2"], digests={"docker.io/library/app:2": D}),
              cache("pinned", [f"web@{D}"]), cache("nobody", ["ghost:1"])]
    pods = pod_images([pod("app", ["docker.io/library/nginx:1", "redis:7"]),
                       pod("app", ["app:latest"], image_ids=(f"docker-pullable://docker.io/library/app@{D}",)),
                       pod("app", [f"docker.io/library/web@{D}"], phase="Pending"),
                       pod("app", ["ghost:1"], phase="Succeeded")])
    plan = plan_prune(caches, pods, NOW, PruneOptions(reasons=frozenset({"unused"})))
    assert names(plan) == {"nobody": ("unused",)}


def test_superseded_by_a_newer_ready_superset() -> None:
    caches = [cache("old", ["a:1", "b:1"], age_h=20), cache("new", ["a:1", "b:1", "c:1"], age_h=1),
              cache("newer-not-ready", ["a:1", "b:1", "c:1", "d:1"], age_h=0.5, phase="Failed", updated_h=0.5),
              cache("other", ["x:1"], age_h=30)]
    plan = plan_prune(caches, PodImages({"docker.io/library/x:1", "docker.io/library/a:1"}), NOW,
                      PruneOptions(reasons=frozenset({"superseded"})))
    assert names(plan) == {"old": ("superseded",)}


def test_older_than_and_reason_selection_and_order() -> None:
    caches = [cache("a", ["a:1"], age_h=100, expires_h=-1), cache("b", ["b:1"], age_h=50), cache("c", ["c:1"], age_h=1)]
    opts = PruneOptions(reasons=frozenset({"older-than", "expired"}), older_than=48 * 3600)
    plan = plan_prune(caches, None, NOW, opts)
    assert [(c.name, c.reasons) for c in plan.candidates] == [("a", ("expired", "older-than")),
                                                              ("b", ("older-than",))]
    assert plan.candidates[0].to_dict()["ageSeconds"] == 100 * 3600


def test_in_progress_untouched_unless_asked() -> None:
    caches = [cache(p.lower(), ["ghost:1"], phase=p, expires_h=-1) for p in ("Pending", "Creating", "Updating")]
    assert plan_prune(caches, PodImages(), NOW, PruneOptions()) == PrunePlan([], [])
    plan = plan_prune(caches, PodImages(), NOW, PruneOptions(include_in_progress=True))
    assert sorted(names(plan)) == ["creating", "pending", "updating"]


def test_a_cache_without_a_size_counts_as_the_clouds_default() -> None:
    # Alibaba's permissive CRD sets no default; the cloud builds 20 GiB, so prune reclaims 20, not 0.
    plan = plan_prune([cache("sizeless", ["a:1"], size=None, expires_h=-1)], None, NOW,
                      PruneOptions(reasons=frozenset({"expired"})))
    assert [(c.name, c.size_gib) for c in plan.candidates] == [("sizeless", 20)]


# -- superseded only by a cache that stays -----------------------------------------------------------------

def test_a_cache_deleted_by_the_same_plan_supersedes_nothing() -> None:
    # The case: Ready A serves a Running pod; newer B holds A's images but has expired. Before,
    # A was planned `superseded` by B and B `expired`: after --yes no cache held the pod's image.
    caches = [cache("a", ["web:1"], age_h=20), cache("b", ["web:1", "side:1"], age_h=2, expires_h=-1)]
    plan = plan_prune(caches, pod_images([pod("app", ["web:1"])]), NOW, PruneOptions())
    assert names(plan) == {"b": ("expired",)}


def test_every_reason_a_superseder_could_go_for_voids_it() -> None:
    E = "sha256:" + "e" * 64
    # The pod runs a:1 by digest D only: the old cache recorded D for the tag, the newer one E.
    pods = pod_images([pod("app", [f"docker.io/library/a@{D}", "b:1", "c:1"])])
    caches = [cache("old-a", ["a:1"], age_h=20, digests={"docker.io/library/a:1": D}),
              cache("new-a-unused", ["a:1"], age_h=1, digests={"docker.io/library/a:1": E}),
              cache("old-b", ["b:1"], age_h=20),
              cache("new-b-failed", ["b:1"], age_h=1, phase="Failed", updated_h=1),  # never Ready anyway
              cache("old-c", ["c:1"], age_h=20),
              cache("new-c-expired", ["c:1"], age_h=1, expires_h=-1)]
    assert names(plan_prune(caches, pods, NOW, PruneOptions())) == {
        "new-a-unused": ("unused",), "new-b-failed": ("failed",), "new-c-expired": ("expired",)}
    # older-than takes the older cache whenever it takes the newer: both go, for their age alone.
    caches = [cache("o", ["o:1"], age_h=20), cache("new-o", ["o:1"], age_h=2)]
    plan = plan_prune(caches, None, NOW, PruneOptions(reasons=frozenset({"older-than", "superseded"}),
                                                      older_than=3600))
    assert names(plan) == {"o": ("older-than",), "new-o": ("older-than",)}


def test_chains_decide_newest_first() -> None:
    same = ["a:1", "b:1"]
    # A < B < C, C expired: C goes, B stays (nothing that stays is newer), A goes superseded by B.
    chain = [cache("A", same, age_h=30), cache("B", same, age_h=20), cache("C", same, age_h=10, expires_h=-1)]
    plan = plan_prune(chain, None, NOW, PruneOptions())
    assert names(plan) == {"A": ("superseded",), "C": ("expired",)}
    # All Ready and staying: only the newest remains, each older one superseded (by C, B is going).
    plan = plan_prune([cache("A", same, age_h=30), cache("B", same, age_h=20), cache("C", same, age_h=10)],
                      None, NOW, PruneOptions())
    assert names(plan) == {"A": ("superseded",), "B": ("superseded",)}
    # Growing supersets: A < B < C where B is expired: A is superseded by C, which holds A's images too.
    grow = [cache("A", ["a:1"], age_h=30), cache("B", ["a:1", "b:1"], age_h=20, expires_h=-1),
            cache("C", ["a:1", "b:1", "c:1"], age_h=10)]
    assert names(plan_prune(grow, None, NOW, PruneOptions())) == {"A": ("superseded",), "B": ("expired", "superseded")}
    # ...and C expired too: B and C go, A (the only one left holding a:1) stays.
    grow[2] = cache("C", ["a:1", "b:1", "c:1"], age_h=10, expires_h=-1)
    assert names(plan_prune(grow, None, NOW, PruneOptions())) == {"B": ("expired",), "C": ("expired",)}


def test_a_superseder_must_outlive_what_it_replaces() -> None:
    # Deleting a cache that never expires for one that expires in a day leaves nothing after that day.
    caches = [cache("forever", ["a:1"], age_h=20), cache("for-a-day", ["a:1"], age_h=1, expires_h=24)]
    assert names(plan_prune(caches, None, NOW, PruneOptions())) == {}
    caches = [cache("short", ["a:1"], age_h=20, expires_h=5), cache("longer", ["a:1"], age_h=1, expires_h=24),
              cache("also-short", ["b:1"], age_h=20, expires_h=48), cache("sooner", ["b:1"], age_h=1, expires_h=24)]
    assert names(plan_prune(caches, None, NOW, PruneOptions())) == {"short": ("superseded",)}
    # Expired but not chosen as a reason: still about to vanish (the cloud deletes it), so no superseder.
    caches = [cache("old", ["a:1"], age_h=20), cache("gone", ["a:1"], age_h=1, expires_h=-1)]
    assert names(plan_prune(caches, None, NOW, PruneOptions(reasons=frozenset({"superseded"})))) == {}


# -- pins: k8s.aliyun.com/eci-imc-id ---------------------------------------------------------------------

def pinned_pod(name: str, pin: str, phase: str = "Running") -> dict[str, Any]:
    """A bare pod in namespace shop that pins cache ``pin``."""
    return pod(name, ["web:1"], {POD_PINNED_ID: pin}, namespace="shop", owner_kind=None, phase=phase)


def test_pins_come_from_pods_and_every_kind_of_pod_template() -> None:
    pins = Pins()
    pins.add_workload(deployment("web", ["web:1"], {POD_PINNED_ID: "imc-dep"}, namespace="shop"))
    spaced = {POD_PINNED_ID: " imc-t "}
    for kind in ("StatefulSet", "DaemonSet", "ReplicaSet", "Job"):
        pins.add_workload(deployment(kind.lower(), [], spaced, kind=kind))
    pins.add_workload(deployment("nightly", [], spaced, kind="CronJob"))
    # Any kind with a pod template, as sources reads them.
    pins.add_workload(deployment("canary", [], spaced, kind="Rollout"))
    pins.add_pod(pinned_pod("web-1", "imc-dep"))
    pins.add_workload(pinned_pod("bare", "imc-pod", "Pending"))
    pins.add_pod(pinned_pod("done", "imc-done", "Succeeded"))  # never starts again
    pins.add_pod(pinned_pod("web-1", "imc-dep"))  # listed twice: named once
    # Annotations on a workload's own metadata do not pin: only the pod template's reach the pods.
    meta = deployment("meta", [])
    meta["metadata"]["annotations"] = {POD_PINNED_ID: "imc-meta"}
    pins.add_workload(meta)
    assert pins.pinned_by("imc-dep") == ("deployment/shop/web", "pod/shop/web-1")  # workloads first
    assert pins.pinned_by("imc-t") == ("cronjob/ns/nightly", "daemonset/ns/daemonset", "job/ns/job",
                                       "replicaset/ns/replicaset", "rollout/ns/canary", "statefulset/ns/statefulset")
    assert pins.pinned_by("imc-pod") == ("pod/shop/bare",)
    assert pins.pinned_by("imc-done") == pins.pinned_by("imc-meta") == pins.pinned_by(None) == ()


def test_a_pinned_cache_is_never_a_candidate_and_the_plan_says_who_pins_it() -> None:
    pins = Pins()
    pins.add_workload(deployment("web", ["web:1"], {POD_PINNED_ID: "imc-dep"}, namespace="shop"))
    pins.add_pod(pinned_pod("bare", "imc-pod"))
    caches = [cache("by-template", ["ghost:1"], age_h=30, expires_h=-1, cid="imc-dep"),
              cache("by-pod", ["ghost:2"], age_h=20, phase="Failed", updated_h=5, cid="imc-pod"),
              cache("free", ["ghost:3"], age_h=10, cid="imc-free")]
    plan = plan_prune(caches, PodImages(), NOW, PruneOptions(), pins)
    assert names(plan) == {"free": ("unused",)}
    assert [k.describe() for k in plan.kept] == [
        "kept ImageCache by-template (expired,unused): pinned by deployment/shop/web",
        "kept ImageCache by-pod (failed,unused): pinned by pod/shop/bare",
    ]
    assert plan.kept[0].to_dict() == {"name": "by-template", "reasons": ["expired", "unused"],
                                      "pinnedBy": ["deployment/shop/web"]}
    # The pin is the cloud's id, not the object's name.
    assert names(plan_prune([cache("imc-dep", ["ghost:1"], expires_h=-1)], None, NOW, PruneOptions(), pins)) == \
        {"imc-dep": ("expired",)}


def test_a_pinned_cache_stays_and_so_supersedes() -> None:
    pins = Pins()
    pins.add_pod(pinned_pod("web-1", "imc-new"))
    caches = [cache("old", ["web:1"], age_h=20), cache("new", ["web:1"], age_h=1, cid="imc-new")]
    plan = plan_prune(caches, PodImages(), NOW, PruneOptions(reasons=frozenset({"older-than", "superseded"}),
                                                              older_than=1800), pins)
    assert names(plan) == {"old": ("superseded", "older-than")}
    assert [k.name for k in plan.kept] == ["new"]


def test_kept_lines_stay_short_when_many_pods_pin() -> None:
    pins = Pins()
    for i in range(5):
        pins.add_pod(pinned_pod(f"web-{i}", "imc-x"))
    plan = plan_prune([cache("x", ["ghost:1"], cid="imc-x")], PodImages(), NOW, PruneOptions(), pins)
    assert plan.kept[0].describe() == \
        "kept ImageCache x (unused): pinned by pod/shop/web-0, pod/shop/web-1, pod/shop/web-2 and 2 more"


def test_each_cache_is_normalized_once_however_many_compete(monkeypatch: Any) -> None:
    # Supersession compares every cache with every newer one that stays: its images must be read
    # once per cache, not once per pair (1,000 caches made that 250,000 parses).
    import kubectl_imagecache.imagecache.prune as prune_mod

    calls: list[int] = []
    real = prune_mod.normalized_images

    def counted(obj: Any) -> frozenset[str]:
        calls.append(1)
        return real(obj)

    monkeypatch.setattr(prune_mod, "normalized_images", counted)
    caches = [cache(f"c{i}", [f"app-{i}:1"], age_h=i + 1) for i in range(60)]
    caches.append(cache("old", ["app-0:1"], age_h=100))
    plan = plan_prune(caches, pod_images([pod("app", [f"app-{i}:1"]) for i in range(60)]), NOW, PruneOptions())
    assert names(plan) == {"old": ("superseded",)}
    assert len(calls) <= len(caches)


def test_pod_images_parse_each_text_once(monkeypatch: Any) -> None:
    import kubectl_imagecache.imagecache.prune as prune_mod

    texts: list[str] = []
    real = prune_mod.parse_reference

    def counted(text: str) -> Any:
        texts.append(text)
        return real(text)

    monkeypatch.setattr(prune_mod, "parse_reference", counted)
    used = pod_images([pod("app", ["app:1", "proxy:2"], image_ids=(f"docker-pullable://app@{D}",)) for _ in range(500)])
    assert sorted(texts) == sorted(["app:1", "proxy:2", f"app@{D}"])
    assert used.uses("docker.io/library/app:1", None) and used.uses("app@" + D, None)


# -- supersession against its rule, cache by cache ---------------------------------------------------------
# plan_prune files the caches that stay by image so a cache is compared only with those holding its
# rarest image; this oracle compares each cache with every newer one that stays, as the module doc says.
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _superseded_by_rule(caches: list[dict[str, Any]], pods: PodImages) -> set[str]:
    from kubectl_imagecache.imagecache.plan import normalized_images
    from kubectl_imagecache.model import imagecache as imc

    opts = PruneOptions()
    own = {imc.name(c): set(plan_prune([c], pods, NOW, opts).candidates[0].reasons)
           if plan_prune([c], pods, NOW, opts).candidates else set() for c in caches}
    stays: list[dict[str, Any]] = []
    out = set()
    for c in sorted(caches, key=lambda c: imc.created_at(c), reverse=True):  # type: ignore[arg-type, return-value]
        name, mine = imc.name(c), normalized_images(c)
        mine_expires = imc.expires_at(c)
        if imc.phase(c) in imc.IN_PROGRESS_PHASES:
            continue
        if mine and any(imc.created_at(s) > imc.created_at(c) and mine <= normalized_images(s)  # type: ignore[operator]
                        and ((e := imc.expires_at(s)) is None or (e > NOW and mine_expires is not None
                                                                  and e >= mine_expires)) for s in stays):
            out.add(name)
            own[name].add("superseded")
        if imc.phase(c) == "Ready" and not own[name]:
            stays.append(c)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(["a:1", "b:1", "c:1", "docker.io/library/a:1"]), min_size=1,
                                   max_size=3),
                          st.sampled_from(["Ready", "Ready", "Failed", "Creating"]), st.integers(1, 6),
                          st.sampled_from([None, -1.0, 5.0, 50.0]), st.booleans()), max_size=7))
def test_superseded_equals_the_rule_over_every_pair(rows: list[tuple[list[str], str, int, Optional[float], bool]]
                                                    ) -> None:
    caches = [cache(f"c{i}", images, phase=phase, age_h=age, expires_h=expire, updated_h=20)
              for i, (images, phase, age, expire, _) in enumerate(rows)]
    pods = pod_images([pod("app", [images[0]]) for images, _, _, _, used in rows if used])
    plan = plan_prune(caches, pods, NOW, PruneOptions())
    got = {c.name for c in plan.candidates if "superseded" in c.reasons}
    assert got == _superseded_by_rule(caches, pods)
