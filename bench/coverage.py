"""Figures for coverage and the sync plan over synthetic clusters (pure: no API server, no registry).

    .venv/bin/python bench/coverage.py [--workloads 5000] [--caches 1000] [--seed 1] [--profile]

Workloads are Deployments of 1-4 images drawn from a pool; caches hold 1-20 images of the same
pool, a third with recorded digests (some stale), some Failed or expired; every workload runs one
pod. Printed: the time to parse the objects from JSON (what any client, kubectl included, pays to
read them), coverage(), the planner with sync's policy and the invariant on its plan, best of --repeat.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import json
import pstats
import random
import time
from typing import Any, Callable

from kubectl_imagecache.imagecache import invariant
from kubectl_imagecache.imagecache.coverage import coverage
from kubectl_imagecache.imagecache.planner import ImageFacts, Policy, Scope, Snapshot, plan, usage_of
from kubectl_imagecache.imagecache.prune import PruneOptions


def make(workloads: int, caches: int, seed: int) -> tuple[list[dict], list[dict], list[dict], dict[str, str]]:
    rnd = random.Random(seed)
    pool = [f"registry.example/team{i % 50}/app{i}:v{i % 7}" for i in range(max(200, workloads // 2))]
    objs, pods = [], []
    for i in range(workloads):
        images = rnd.sample(pool, rnd.randint(1, 4))
        ns, name = f"ns{i % 40}", f"app{i}"
        template = {"metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": f"c{k}", "image": im} for k, im in enumerate(images)]}}
        objs.append({"kind": "Deployment", "metadata": {"name": name, "namespace": ns, "uid": f"d{i}"},
                     "spec": {"template": template}})
        pods.append({"metadata": {"name": f"{name}-5d8f9c7b6-abcde", "namespace": ns, "uid": f"p{i}",
                                  "labels": {"pod-template-hash": "5d8f9c7b6"},
                                  "ownerReferences": [{"kind": "ReplicaSet", "name": f"{name}-5d8f9c7b6",
                                                       "controller": True}]},
                     "spec": template["spec"], "status": {"phase": "Running"}})
    current = {im: "sha256:" + f"{hash(im) & 0xFFFFFFFF:064x}" for im in pool}
    out = []
    for i in range(caches):
        images = rnd.sample(pool, rnd.randint(1, 20))
        ann: dict[str, str] = {}
        if i % 3 == 0:
            ann["kubectl-imagecache.io/digests"] = json.dumps(
                {im: current[im] if rnd.random() < 0.9 else "sha256:" + "0" * 64 for im in images})
        phase = "Failed" if i % 50 == 0 else "Ready"
        status: dict[str, Any] = {"phase": phase, "imageCacheId": f"imc-{i:020d}"}
        if i % 40 == 1:
            status["expireDateTime"] = "2020-01-01T00:00:00Z"
        out.append({"apiVersion": "eci.alibabacloud.com/v1", "kind": "ImageCache",
                    "metadata": {"name": f"cache-{i}", "creationTimestamp": f"2026-01-{1 + i % 28:02d}T00:00:00Z",
                                 "annotations": ann},
                    "spec": {"images": images, "imageCacheSize": 20 + i % 40}, "status": status})
    return objs, pods, out, current


def best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return min(times), value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workloads", type=int, default=5000)
    ap.add_argument("--caches", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="cProfile the planner and print the top 25")
    a = ap.parse_args()
    objs, pods, caches, current = make(a.workloads, a.caches, a.seed)
    gc.freeze()  # as the plugin does once it has read a scope (kube/gcpause.settle)
    text = json.dumps({"pods": pods, "objs": objs, "caches": caches})
    parse_s, _ = best(lambda: json.loads(text), a.repeat)
    cov_s, results = best(lambda: coverage(objs, caches, pods=pods, current=current), a.repeat)
    print(f"{a.workloads} workloads/pods x {a.caches} caches (seed {a.seed}, best of {a.repeat})")
    print(f"  json.loads of the same objects ({len(text) / 2**20:.1f} MiB): {parse_s:7.3f} s")
    print(f"  coverage():                                 {cov_s:7.3f} s", flush=True)
    now = dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc)
    usage = usage_of(pods, objs)
    images = {i for c in caches for i in c["spec"]["images"]} | {i for r in results for i in r.match.images}
    sizes = {i: ImageFacts(current.get(i, "sha256:" + "0" * 64), 1 << 20) for i in images}
    snapshot = Snapshot(caches, now, objs, pods, results, usage, current=current, sizes=sizes)
    policy = Policy(warm=True, refresh=frozenset(), prune=PruneOptions(), only_used=True)

    def sync() -> Any:
        return plan(snapshot, Scope(), policy)

    if a.profile:
        prof = cProfile.Profile()
        prof.enable()
        sync()
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    sync_s, plan_ = best(sync, a.repeat)

    print(f"  planner.plan() with sync's policy (sizing, refresh, prune):  {sync_s:7.3f} s")
    invariant_s, _ = best(lambda: invariant.violations(plan_, caches, usage, now), a.repeat)
    print(f"  invariant.violations() of that plan:                          {invariant_s:7.3f} s")
    print(f"  plan: {len(plan_.creates)} creates, {len(plan_.refreshes)} refreshes, {len(plan_.deletes)} deletes, "
          f"{len(plan_.notes)} notes")


if __name__ == "__main__":
    main()
