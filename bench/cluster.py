#!/usr/bin/env python3
"""Speed of `list` and the `prune` preview on a large cluster: N pods and M ImageCaches.

Starts the real control plane (kube-apiserver + etcd, tests/fakes/controlplane.py), creates
--pods pods (Pending: no scheduler runs, and prune counts Pending pods as users) spread over
namespaces and --caches ImageCaches (a mix of Ready, Failed, expired and in-progress, half used
by pods), then times the plugin as a user runs it. Prints figures; asserts nothing.

    python bench/cluster.py [--pods 2000] [--caches 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes import controlplane  # noqa: E402
from tests.support.cli import plugin_executable  # noqa: E402

GROUP, VERSION, PLURAL = "eci.alibabacloud.com", "v1", "imagecaches"


def populate(cp: controlplane.ControlPlane, pods: int, caches: int, namespaces: int = 20) -> None:
    from kubernetes import client

    api = cp.api_client()
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    for i in range(namespaces):
        core.create_namespace({"metadata": {"name": f"bench-{i}"}})

    def make_pod(i: int) -> None:
        core.create_namespaced_pod(f"bench-{i % namespaces}", {
            "metadata": {"name": f"p-{i}"},
            "spec": {"containers": [{"name": "app", "image": f"registry.example.com/team/app-{i % (caches // 2)}:1"},
                                    {"name": "sidecar", "image": "registry.example.com/infra/proxy:2"}]}})

    now = dt.datetime.now(dt.timezone.utc)

    def make_cache(i: int) -> None:
        obj = custom.create_cluster_custom_object(GROUP, VERSION, PLURAL, {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ImageCache", "metadata": {"name": f"imc-{i:04d}"},
            "spec": {"images": [f"registry.example.com/team/app-{i}:1", "registry.example.com/infra/proxy:2"],
                     "imageCacheSize": 20 + i % 40}})
        phase = ("Ready", "Ready", "Failed", "Creating")[i % 4]
        status = {"phase": phase, "progress": "100%" if phase == "Ready" else "40%", "imageCacheId": f"imc-x{i}",
                  "lastUpdatedTime": (now - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if i % 10 == 0:
            status["expireDateTime"] = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        obj["status"] = status
        custom.replace_cluster_custom_object_status(GROUP, VERSION, PLURAL, obj["metadata"]["name"], obj)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(make_pod, range(pods)))
        list(pool.map(make_cache, range(caches)))


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pods", type=int, default=2000)
    ap.add_argument("--caches", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    cp = controlplane.start()
    try:
        up = time.perf_counter() - t0
        t1 = time.perf_counter()
        populate(cp, args.pods, args.caches)
        filled = time.perf_counter() - t1
        print(f"control plane up in {up:.1f}s; {args.pods} pods and {args.caches} ImageCaches created in {filled:.1f}s")
        env = {**os.environ, "KUBECONFIG": str(cp.kubeconfig)}
        exe = plugin_executable()
        rows = []
        for label, argv in (("list", ["list"]), ("list -o wide", ["list", "-o", "wide"]),
                            ("prune (preview)", ["prune"]), ("prune -o json (plan)", ["prune", "-o", "json"])):
            walls = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                proc = subprocess.run([exe, *argv], env=env, capture_output=True, text=True, check=False)
                walls.append(time.perf_counter() - start)
                if proc.returncode != 0:
                    raise SystemExit(f"bench: {' '.join(argv)} failed: {proc.stderr.strip()[:400]}")
            detail = ""
            if argv[-1] == "json":
                plan = json.loads(proc.stdout)
                detail = f"{len(plan['candidates'])} candidates, {plan['reclaimGiB']} GiB"
            elif argv[0] == "list":
                detail = f"{len(proc.stdout.splitlines()) - 1} rows"
            rows.append((label, statistics.median(walls), min(walls), detail))
        print(f"\n{'command':<22} {'median s':>8} {'best s':>7}  output")
        for label, med, best, detail in rows:
            print(f"{label:<22} {med:>8.2f} {best:>7.2f}  {detail}")
    finally:
        cp.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
