#!/usr/bin/env python3
"""Speed of `list`, the `prune` preview, `warm --from-namespace -A`, `coverage -A` and the `sync -A` plan on a
large cluster, beside kubectl.

Starts the real control plane (kube-apiserver + etcd, tests/fakes/controlplane.py) and a real
registry (docker-registry with Basic auth, tests/fakes/registry.py) holding the images the
workloads run. Fills --namespaces namespaces with --pods pods, most of them made "by" Deployments
(Deployment -> ReplicaSet -> pods, owner references as the controllers would set them: no
controller-manager runs here), the rest bare pods; every namespace has a docker-config pull
secret, a service account naming it and a default one; some Deployments name the secret, some
run as the service account. Then --caches ImageCaches (Ready, Failed, expired, in progress; some
used by pods). Pods stay Pending (no scheduler): prune counts Pending pods as users.

Times each command as a user runs it (a fresh process; median of --repeat rounds after one
warm-up run; in each round every command runs once, so a plugin command and its kubectl
counterpart share the machine's load), beside the kubectl command that reads the same data and
the floor of starting Python and importing the Kubernetes client. --baseline EXE times another
build of the plugin (e.g. an older commit's) in the same rounds. `warm` runs with its registry
metadata cache already warm (no registry request), so the figure is the cluster side. Then runs
each plugin command once more through a counting proxy (bench/apicount.py) and prints the API
requests it made. Figures, not assertions.

    python bench/cluster.py [--pods 5000] [--namespaces 50] [--caches 1000] [--images 100] [--repeat 3]
                            [--baseline EXE] [--keep]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import math
import os
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.apicount import CountingProxy  # noqa: E402
from tests.fakes import controlplane  # noqa: E402
from tests.fakes.oci import RegistryClient, fill_many  # noqa: E402
from tests.fakes.registry import RegistryServer  # noqa: E402
from tests.support.cli import plugin_executable  # noqa: E402

GROUP, VERSION, PLURAL = "eci.alibabacloud.com", "v1", "imagecaches"
PAGE = 500  # list page size of the plugin and of kubectl (--chunk-size)
REPLICAS = 9  # pods per Deployment
BARE_SHARE = 10  # one pod in BARE_SHARE is a bare pod (no owner)
SIDECAR = "infra/app-000:v1"

# Goals (issue 10, "Scale"): list within LIST_ABOVE_FLOOR s of the import floor; ratios to kubectl.
LIST_ABOVE_FLOOR = 0.10
PRUNE_RATIO = 1.2
WARM_RATIO = 1.5
# Issue 12: coverage -A and the sync plan within 1.2x of kubectl reading the same pods and caches.
COVERAGE_RATIO = SYNC_RATIO = 1.2


# -- filling the cluster ---------------------------------------------------------------------------------

class Api:
    """Raw JSON writes with the admin token: no client models, so filling 7,000 objects stays quick."""

    def __init__(self, cp: controlplane.ControlPlane) -> None:
        self.base = cp.server
        self.session = requests.Session()
        self.verify = str(cp.ca_file)  # per request: REQUESTS_CA_BUNDLE would override a session's verify
        self.session.headers["Authorization"] = f"Bearer {cp.admin_token}"
        adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=16)
        self.session.mount("https://", adapter)

    def post(self, path: str, body: dict) -> dict:
        r = self.session.post(self.base + path, json=body, timeout=60, verify=self.verify)
        if r.status_code >= 300:
            raise SystemExit(f"bench: POST {path} -> {r.status_code}: {r.text[:300]}")
        return r.json()  # type: ignore[no-any-return]

    def put(self, path: str, body: dict) -> dict:
        r = self.session.put(self.base + path, json=body, timeout=60, verify=self.verify)
        if r.status_code >= 300:
            raise SystemExit(f"bench: PUT {path} -> {r.status_code}: {r.text[:300]}")
        return r.json()  # type: ignore[no-any-return]


@dataclass
class Layout:
    namespaces: int
    pods: int
    caches: int
    images: int
    deployments: int = 0
    bare_pods: int = 0
    owned_pods: int = 0
    service_accounts: int = 0
    secrets: int = 0
    per_namespace: list[tuple[int, int, int]] = field(default_factory=list)  # (deployments, bare, owned pods)

    def plan(self) -> None:
        for i in range(self.namespaces):
            pods = self.pods // self.namespaces + (1 if i < self.pods % self.namespaces else 0)
            bare = pods // BARE_SHARE if pods >= BARE_SHARE else pods
            deps = math.ceil((pods - bare) / REPLICAS)
            self.per_namespace.append((deps, bare, pods - bare))
            self.deployments += deps
            self.bare_pods += bare
            self.owned_pods += pods - bare
        self.service_accounts = 2 * self.namespaces
        self.secrets = self.namespaces

    @property
    def workloads(self) -> int:
        """What `warm --from-namespace -A` reads as workloads: Deployments and bare pods."""
        return self.deployments + self.bare_pods


def app_image(host: str, i: int, images: int) -> str:
    return f"{host}/bench/app-{i % images:03d}:v1"


def populate(cp: controlplane.ControlPlane, layout: Layout, reg: RegistryServer, user: str, password: str) -> None:
    api = Api(cp)
    host = reg.host
    sidecar = f"{host}/{SIDECAR}"
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    dockercfg = base64.b64encode(json.dumps({"auths": {host: {"auth": auth}}}).encode()).decode()

    def namespace(i: int) -> None:
        ns = f"bench-{i}"
        api.post("/api/v1/namespaces", {"metadata": {"name": ns}})
        api.post(f"/api/v1/namespaces/{ns}/secrets", {
            "metadata": {"name": "regcred"}, "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": dockercfg}})
        api.post(f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "default"}})
        api.post(f"/api/v1/namespaces/{ns}/serviceaccounts", {
            "metadata": {"name": "app"}, "imagePullSecrets": [{"name": "regcred"}]})

    def pod_spec(g: int) -> dict[str, Any]:
        images = [app_image(host, g, layout.images), sidecar]
        if g % 2:
            images.insert(1, app_image(host, g + 1, layout.images))
        spec: dict[str, Any] = {"containers": [{"name": f"c{k}", "image": im} for k, im in enumerate(images)]}
        if g % 3 == 0:
            spec["serviceAccountName"] = "app"  # credentials through the service account
        elif g % 3 == 1:
            spec["imagePullSecrets"] = [{"name": "regcred"}]  # named by the pod template
        return spec

    def deployment(args: tuple[int, int, int]) -> None:
        i, j, g = args
        ns, name = f"bench-{i}", f"web-{j}"
        labels = {"app": name}
        spec = pod_spec(g)
        dep = api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", {
            "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}})
        rs_name = f"{name}-{g:08x}"
        rs = api.post(f"/apis/apps/v1/namespaces/{ns}/replicasets", {
            "metadata": {"name": rs_name, "labels": labels, "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": dep["metadata"]["uid"],
                 "controller": True, "blockOwnerDeletion": True}]},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}}})
        owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "uid": rs["metadata"]["uid"],
                  "controller": True, "blockOwnerDeletion": True}]
        replicas = min(REPLICAS, layout.per_namespace[i][2] - j * REPLICAS)
        for r in range(replicas):
            api.post(f"/api/v1/namespaces/{ns}/pods", {
                "metadata": {"name": f"{rs_name}-{r:05d}", "labels": labels, "ownerReferences": owner},
                "spec": spec})

    def bare_pod(args: tuple[int, int, int]) -> None:
        i, j, g = args
        api.post(f"/api/v1/namespaces/bench-{i}/pods", {"metadata": {"name": f"job-{j}"}, "spec": pod_spec(g)})

    now = dt.datetime.now(dt.timezone.utc)

    def cache(i: int) -> None:
        images = [app_image(host, i, 10**6)] + ([sidecar] if i % 2 == 0 else [])
        obj = api.post(f"/apis/{GROUP}/{VERSION}/{PLURAL}", {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "ImageCache", "metadata": {"name": f"imc-{i:04d}"},
            "spec": {"images": images, "imageCacheSize": 20 + i % 40}})
        phase = ("Ready", "Ready", "Failed", "Creating")[i % 4]
        status = {"phase": phase, "progress": "100%" if phase == "Ready" else "40%", "imageCacheId": f"imc-x{i}",
                  "lastUpdatedTime": (now - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if i % 10 == 0:
            status["expireDateTime"] = (now - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        obj["status"] = status
        api.put(f"/apis/{GROUP}/{VERSION}/{PLURAL}/{obj['metadata']['name']}/status", obj)

    deps, bares = [], []
    g = 0
    for i, (d, b, _) in enumerate(layout.per_namespace):
        for j in range(d):
            deps.append((i, j, g))
            g += 1
        for j in range(b):
            bares.append((i, j, g))
            g += 1
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(namespace, range(layout.namespaces)))
        list(pool.map(deployment, deps))
        list(pool.map(bare_pod, bares))
        list(pool.map(cache, range(layout.caches)))


# -- timing and counting ----------------------------------------------------------------------------------

@dataclass
class Row:
    label: str
    argv: list[str]
    describe: Callable[[subprocess.CompletedProcess], str] = lambda p: ""
    walls: list[float] = field(default_factory=list)
    cpus: list[float] = field(default_factory=list)
    detail: str = ""
    requests: Optional[int] = None
    breakdown: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.walls)


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv[:6])} failed ({proc.returncode}): {proc.stderr.strip()[:600]}")
    return proc


def measure(rows: list[Row], env: dict[str, str], repeat: int) -> None:
    """One warm-up run each (page cache, kubectl's discovery cache), then `repeat` rounds of every row
    in turn: a plugin command and its kubectl counterpart run side by side, so a burst of load on the
    machine hits both rather than one of them."""
    for r in rows:
        r.detail = r.describe(run(r.argv, env))
    for _ in range(repeat):
        for r in rows:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            run(r.argv, env)
            r.walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            r.cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)


def count(row: Row, argv: list[str], env: dict[str, str], proxy: CountingProxy) -> None:
    proxy.reset()
    run(argv, env)
    counts = proxy.counts()
    row.requests = sum(counts.values())
    row.breakdown = ", ".join(f"{what} {n}" for what, n in counts.most_common())


def proxied_kubeconfig(cp: controlplane.ControlPlane, proxy: CountingProxy, work: Path) -> Path:
    cfg = yaml.safe_load(cp.kubeconfig.read_text())
    for c in cfg["clusters"]:
        c["cluster"]["server"] = proxy.url
    path = work / "kubeconfig-counted"
    path.write_text(yaml.safe_dump(cfg))
    path.chmod(0o600)
    return path


def warm_argv(exe: str) -> list[str]:
    return [exe, "warm", "--from-namespace", "-A", "--dry-run=client"]


# The floor as the plugin pays it: kube/gcpause.py imports the client with the collector paused.
GC_FLOOR = "import gc; gc.disable(); import kubernetes.client; gc.freeze(); gc.enable()"


def sync_detail(stdout: str) -> str:
    plan = json.loads(stdout).get("plan") or {}
    return ", ".join(f"{len(plan.get(k) or [])} {k}" for k in ("creates", "refreshes", "deletes"))


def lines(proc: subprocess.CompletedProcess) -> str:
    return f"{len(proc.stdout.splitlines())} lines"


def timed_rows(builds: list[tuple[str, str]], kc: str, py: str) -> \
        tuple[list[Row], dict[str, list[Row]], Row, tuple[Row, Row, Row, Row]]:
    """The commands timed, the plugin's beside kubectl's own reads of the same objects."""
    plugin: dict[str, list[Row]] = {"list": [], "prune": [], "warm": [], "coverage": [], "sync": []}
    rows = [
        floor_bare := Row("python -c pass", [py, "-c", "pass"]),
        floor := Row("python -c 'import kubernetes.client'", [py, "-c", "import kubernetes.client"]),
        Row("  the same, GC paused and frozen (as the plugin imports it)", [py, "-c", GC_FLOOR]),
    ]
    for suffix, exe in builds:
        plugin["list"].append(Row("list" + suffix, [exe, "list"],
                                  lambda p: f"{len(p.stdout.splitlines()) - 1} rows"))
    rows += plugin["list"]
    rows.append(kc_list := Row("kubectl get imagecaches", [kc, "get", "imagecaches"], lines))
    for suffix, exe in builds:
        plugin["prune"].append(Row("prune (preview)" + suffix, [exe, "prune"],
                                   lambda p: f"{max(0, len(p.stdout.splitlines()) - 3)} candidates"))
    rows += plugin["prune"]
    rows += [
        kc_reads := Row("kubectl get pods,imagecaches -A -o json", [kc, "get", "pods,imagecaches", "-A", "-o",
                                                                   "json"]),
        Row("kubectl get (prune's reads: pods, 6 workload kinds, caches)",
            [kc, "get", "pods,deployments,statefulsets,daemonsets,replicasets,cronjobs,jobs,imagecaches",
             "-A", "-o", "json"]),
    ]
    for suffix, exe in builds:
        plugin["warm"].append(Row("warm --from-namespace -A --dry-run=client" + suffix, warm_argv(exe),
                                  lambda p: f"{p.stdout.count('kind: ImageCache')} caches planned"))
    rows += plugin["warm"]
    rows.append(kc_pods := Row("kubectl get pods -A -o json", [kc, "get", "pods", "-A", "-o", "json"]))
    for suffix, exe in builds:
        plugin["coverage"].append(Row("coverage -A" + suffix, [exe, "coverage", "-A"],
                                      lambda p: f"{max(0, len(p.stdout.splitlines()) - 1)} lines"))
        # The preview: what sync -A --yes would do, without the Lease and the writes.
        plugin["sync"].append(Row("sync -A (plan)" + suffix, [exe, "sync", "-A", "-o", "json"],
                                  lambda p: sync_detail(p.stdout)))
    rows += plugin["coverage"] + plugin["sync"]
    return rows, plugin, kc_pods, (floor_bare, floor, kc_list, kc_reads)


def main() -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--namespaces", type=int, default=50)
    ap.add_argument("--caches", type=int, default=1000)
    ap.add_argument("--images", type=int, default=100, help="distinct app images the workloads run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", metavar="EXE",
                    help="another build of kubectl-imagecache to time beside this one, round by round")
    ap.add_argument("--keep", action="store_true",
                    help="after the figures, keep the cluster and registry up (for profiling) until interrupted")
    args = ap.parse_args()
    layout = Layout(args.namespaces, args.pods, args.caches, args.images)
    layout.plan()
    work = Path(tempfile.mkdtemp(prefix="imc-bench-cluster-"))
    user, password = "bench", "bench-pw-" + os.urandom(6).hex()
    reg = RegistryServer(htpasswd={user: password})
    cp: Optional[controlplane.ControlPlane] = None
    proxy: Optional[CountingProxy] = None
    try:
        t0 = time.perf_counter()
        reg.start()
        pusher = RegistryClient(reg.url, user, password)
        fill_many(pusher, args.images, prefix="bench")
        fill_many(pusher, 1, prefix="infra", multi_every=0)
        t1 = time.perf_counter()
        cp = controlplane.start()
        t2 = time.perf_counter()
        populate(cp, layout, reg, user, password)
        t3 = time.perf_counter()
        print(f"registry filled with {args.images + 1} images in {t1 - t0:.1f}s; control plane up in {t2 - t1:.1f}s")
        print(f"created in {t3 - t2:.1f}s: {args.namespaces} namespaces, {layout.deployments} Deployments "
              f"(+ as many ReplicaSets) owning {layout.owned_pods} pods, {layout.bare_pods} bare pods, "
              f"{layout.service_accounts} service accounts, {layout.secrets} docker-config secrets, "
              f"{args.caches} ImageCaches")

        # Without PYTHONDONTWRITEBYTECODE: an installed plugin has its bytecode compiled (pip, krew), as the
        # client's is here; with it, every run would compile our modules from source, ~0.1 s that no user pays.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("KUBECTL_IMAGECACHE_", "DOCKER_CONFIG", "XDG_", "KUBECONFIG",
                                    "PYTHONDONTWRITEBYTECODE"))}
        env.update({"HOME": str(work), "KUBECONFIG": str(cp.kubeconfig), "NO_PROXY": "127.0.0.1,localhost",
                    "no_proxy": "127.0.0.1,localhost", "KUBECTL_IMAGECACHE_CACHE_DIR": str(work / "cache")})
        kc, py = controlplane.find_kubectl(), sys.executable
        if kc is None:
            raise SystemExit("bench: kubectl not found; run `make venv`")
        builds = [("", plugin_executable())] + ([(" [baseline]", args.baseline)] if args.baseline else [])
        # The registry metadata cache is filled here, untimed: the timed runs make no registry request.
        t = time.perf_counter()
        run(warm_argv(builds[0][1]), env)
        print(f"warm's registry metadata cache filled in {time.perf_counter() - t:.1f}s (untimed)")

        rows, plugin, kc_pods, floors = timed_rows(builds, kc, py)
        floor_bare, floor, kc_list, kc_reads = floors
        measure(rows, env, args.repeat)

        # Counting runs, through the proxy: not timed.
        pki = cp.workdir / "pki"
        proxy = CountingProxy(cp.server, cp.ca_file, pki / "apiserver.crt", pki / "apiserver.key")
        counted = {**env, "KUBECONFIG": str(proxied_kubeconfig(cp, proxy, work))}
        for r in [*(r for rs in plugin.values() for r in rs), kc_pods]:
            count(r, r.argv, counted, proxy)

        width = max(len(r.label) for r in rows)
        print(f"\nmedian of {args.repeat} rounds (after one warm-up run); load average {os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs")
        # cpu s: the command's own CPU time (user + sys), which other load on the machine barely changes.
        print(f"{'command':<{width}}  {'median s':>8}  {'best s':>6}  {'cpu s':>5}  {'requests':>8}  output")
        for r in rows:
            req = "" if r.requests is None else str(r.requests)
            print(f"{r.label:<{width}}  {r.median:>8.2f}  {min(r.walls):>6.2f}  {statistics.median(r.cpus):>5.2f}  "
                  f"{req:>8}  {r.detail}")
        print("\nAPI requests by kind:")
        for r in rows:
            if r.requests is not None:
                print(f"  {r.label}: {r.breakdown}")

        # Each object read at most once: list pages, plus one read per service account and pull
        # secret the workloads name (here 2 accounts and 1 secret per namespace). Anything near one
        # request per workload is O(workloads).
        pages = 2 * (math.ceil(args.pods / PAGE) + math.ceil(layout.deployments / PAGE) + 8)
        bound = pages + layout.service_accounts + layout.secrets
        print(f"\ngoals ({layout.workloads} workloads in {args.namespaces} namespaces; API requests at most {bound}: "
              f"list pages plus one read per service account and secret):")
        for i, (suffix, _) in enumerate(builds):
            lst, prn, wrm, cov, syn = (plugin[k][i] for k in ("list", "prune", "warm", "coverage", "sync"))
            above = lst.median - floor.median
            goals = [
                (f"list: {above:+.2f} s over the import floor ({floor.median:.2f} s)", above <= LIST_ABOVE_FLOOR,
                 f"<= {LIST_ABOVE_FLOOR:.2f} s"),
                (f"prune / kubectl reads: {prn.median / kc_reads.median:.2f}x",
                 prn.median <= PRUNE_RATIO * kc_reads.median, f"<= {PRUNE_RATIO}x"),
                (f"warm / kubectl get pods -A -o json: {wrm.median / kc_pods.median:.2f}x",
                 wrm.median <= WARM_RATIO * kc_pods.median, f"<= {WARM_RATIO}x"),
                (f"coverage -A / kubectl reads: {cov.median / kc_reads.median:.2f}x",
                 cov.median <= COVERAGE_RATIO * kc_reads.median, f"<= {COVERAGE_RATIO}x"),
                (f"sync -A plan / kubectl reads: {syn.median / kc_reads.median:.2f}x",
                 syn.median <= SYNC_RATIO * kc_reads.median, f"<= {SYNC_RATIO}x"),
            ]
            for label, r in (("list", lst), ("prune", prn), ("warm", wrm), ("coverage", cov), ("sync", syn)):
                n = r.requests or 0
                goals.append((f"{label}: {n} API requests", n <= bound, f"<= {bound}, O(namespaces)"))
            print(f"  {suffix.strip() or 'this build'}:")
            for label, ok, goal in goals:
                print(f"    {'met    ' if ok else 'NOT met'}  {label}  (goal {goal})")
        print(f"  (kubectl get imagecaches: {kc_list.median:.2f} s; bare python start {floor_bare.median:.2f} s)")
        if args.keep:
            (work / "env.sh").write_text("".join(f"export {k}={shlex.quote(env[k])}\n" for k in
                                                 ("HOME", "KUBECONFIG", "KUBECTL_IMAGECACHE_CACHE_DIR")))
            print(f"\nkept: . {work / 'env.sh'}  (interrupt this process to stop)", flush=True)
            stop = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # taken by sigwait, so the cleanup below runs
            signal.sigwait(stop)
    finally:
        if proxy is not None:
            proxy.stop()
        if cp is not None:
            cp.stop()
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
