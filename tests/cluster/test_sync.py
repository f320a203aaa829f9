"""`sync` on the real API server with the emulated controller and a real registry.

- one plan: warm the NONE workload, refresh the stale cache, prune the failed one;
- --yes acts and a second run right after finds nothing to do;
- two syncs at once: the Lease lets one act, the other exits 1 naming the holder, nothing done twice;
- --max-create bounds a run, and a policy file is checked before anything.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from tests.cluster.commands_support import Plugin, create_imagecache, created_names, imagecaches, many_ref, unique
from tests.cluster.test_coverage import deployment
from tests.cluster.test_kube_flags import good_cluster, write_config
from tests.cluster.test_waits_and_errors import ApiProxy
from tests.fakes import oci
from tests.fakes.controlplane import ControlPlane
from tests.fakes.emulator.emulator import Emulator
from tests.fakes.registry import LiveRegistry

DIGESTS = "kubectl-imagecache.io/digests"


def push(reg: LiveRegistry, repo: str, tag: str, seed: str) -> str:
    return reg.client.push_image(repo, tag, [oci.random_bytes(seed, 2048)]).digest


def pushed_workload(reg: LiveRegistry, admin_api: Any, ns: str, name: str) -> str:
    """A Deployment `name` running one freshly pushed image; the image."""
    repo = unique(f"sync/{name}")
    push(reg, repo, "1", f"{repo}-1")
    deployment(admin_api, ns, name, [f"{reg.host}/{repo}:1"])
    return f"{reg.host}/{repo}:1"


def sync_yes(ns: str) -> list[str]:
    return ["sync", "-n", ns, "--lease-namespace", ns, "--yes", "--timeout", "60s", "-o", "json"]


def sync(imc: Plugin, ns: str, *args: str) -> dict[str, Any]:
    r = imc("sync", "-n", ns, "--lease-namespace", ns, "--refresh", "--timeout", "60s", "-o", "json", *args,
            timeout=180)
    assert r.code == 0, r
    return r.json()  # type: ignore[no-any-return]


def test_one_plan_then_a_second_run_changes_nothing(imc: Plugin, custom_api: Any, admin_api: Any, namespace: str,
                                                    plain_registry: LiveRegistry,
                                                    run_emulator: Callable[..., Emulator]) -> None:
    reg, ns = plain_registry, namespace
    fresh_repo, moving_repo = unique("sync/web"), unique("sync/api")
    web, api = f"{reg.host}/{fresh_repo}:1", f"{reg.host}/{moving_repo}:v1"
    # Before the emulator starts: it leaves a Failed cache alone, but would build one it saw first.
    failed = unique("sync-failed")
    create_imagecache(custom_api, failed, [web], annotations={"kubectl-imagecache.io/workloads":
                                                              json.dumps([f"deployment/{ns}/web"])},
                      status={"phase": "Failed", "reason": "ImagePullFailed",
                              "lastUpdatedTime": "2020-01-01T00:00:00Z"})
    run_emulator()
    push(reg, fresh_repo, "1", f"{fresh_repo}-1")
    push(reg, moving_repo, "v1", f"{moving_repo}-1")
    w = imc("warm", api, "--wait", "--timeout", "60s")
    assert w.code == 0, w
    [stale] = created_names(w.stdout)
    custom_api.patch_cluster_custom_object("eci.alibabacloud.com", "v1", "imagecaches", stale, {"metadata": {
        "annotations": {"kubectl-imagecache.io/workloads": json.dumps([f"deployment/{ns}/api"])}}})
    moved = push(reg, moving_repo, "v1", f"{moving_repo}-2")
    deployment(admin_api, ns, "web", [web])
    deployment(admin_api, ns, "api", [api])

    preview = sync(imc, ns)
    plan = preview["plan"]
    assert preview["outcome"] is None
    assert [c["images"] for c in plan["creates"]] == [[web]], (plan, imagecaches(custom_api)[failed]["status"])
    assert [r["old"] for r in plan["refreshes"]] == [stale]
    assert {d["name"]: d["reasons"] for d in plan["deletes"]} == {failed: ["failed", "unused"], stale: ["refreshed"]}
    assert failed in imagecaches(custom_api)  # a preview changes nothing

    done = sync(imc, ns, "--yes")
    out = done["outcome"]
    new = plan["creates"][0]["name"]
    replacement = plan["refreshes"][0]["name"]
    assert sorted(out["ready"]) == sorted([new, replacement]) and out["failed"] == []
    assert sorted(out["deleted"]) == sorted([failed, stale])
    caches = imagecaches(custom_api)
    assert caches[new]["status"]["phase"] == "Ready" and caches[replacement]["status"]["phase"] == "Ready"
    assert json.loads(caches[replacement]["metadata"]["annotations"][DIGESTS]) == {api: moved}
    assert stale not in caches and failed not in caches

    again = sync(imc, ns, "--yes")
    assert again["plan"]["creates"] == [] and again["plan"]["refreshes"] == [] and again["plan"]["deletes"] == []
    assert set(imagecaches(custom_api)) == set(caches)


def test_two_syncs_at_once_only_one_acts(imc: Plugin, custom_api: Any, admin_api: Any, namespace: str,
                                         plain_registry: LiveRegistry,
                                         run_emulator: Callable[..., Emulator]) -> None:
    reg, ns = plain_registry, namespace
    run_emulator(step_delay=0.2)  # slow enough that the first still holds the Lease when the second starts
    image = pushed_workload(reg, admin_api, ns, "pair")
    args = sync_yes(ns)
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda _: imc(*args, timeout=180), range(2)))
    results = [(r.code, r.stdout, r.stderr) for r in runs]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    [(_, out, _)] = [r for r in results if r[0] == 0]
    [(_, _, err)] = [r for r in results if r[0] == 1]
    assert "holds Lease" in err and "nothing was done" in err
    assert len(json.loads(out)["outcome"]["created"]) == 1
    mine = [n for n, o in imagecaches(custom_api).items() if image in o["spec"]["images"]]
    assert len(mine) == 1  # created once, by the one that acted
    # The Lease was given back: the next sync may act at once (and finds nothing to do).
    again = imc(*args)
    assert again.code == 0, again
    assert again.json()["plan"]["creates"] == []


def test_max_create_defers_and_a_bad_policy_is_refused_before_anything(
        imc: Plugin, custom_api: Any, admin_api: Any, namespace: str, plain_registry: LiveRegistry,
        tmp_path: Path) -> None:
    reg, ns = plain_registry, namespace
    # 3 workloads of 8 images each: warm packs them into 2 caches (at most 20 images a cache).
    for i in range(3):
        deployment(admin_api, ns, f"w{i}", [many_ref(reg, 8 * i + k) for k in range(8)])
    before = set(imagecaches(custom_api))
    plan = sync(imc, ns, "--max-create", "1")["plan"]
    assert len(plan["creates"]) == 1 and len([d for d in plan["deferred"] if d.startswith("create ")]) == 1

    policy = tmp_path / "policy.yaml"
    policy.write_text("reasons: [expired, everything]\n")
    r = imc("sync", "-n", ns, "--lease-namespace", ns, "--yes", "--policy", str(policy))
    assert r.code == 2 and 'reason "everything" is unknown' in r.stderr, r
    policy.write_text("maxCreat: 3\n")
    r = imc("sync", "-n", ns, "--lease-namespace", ns, "--yes", "--policy", str(policy))
    assert r.code == 2 and 'unknown key "maxCreat"' in r.stderr, r
    policy.write_text(f"maxCreate: 1\nnamespaces: [{ns}]\n")
    r = imc("sync", "--lease-namespace", ns, "--refresh", "--policy", str(policy), "-o", "json")
    assert r.code == 0, r
    assert len(r.json()["plan"]["creates"]) == 1 and len(r.json()["plan"]["deferred"]) == 1
    assert sync(imc, ns)["plan"]["deferred"] == []  # without the bound, both
    assert set(imagecaches(custom_api)) == before


def _lease(admin_api: Any, ns: str) -> Any:
    import kubernetes

    api = kubernetes.client.CoordinationV1Api(admin_api)
    try:
        return api.read_namespaced_lease("kubectl-imagecache-sync", ns)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _wait_until(what: Callable[[], Any], seconds: float = 60) -> Any:
    import time

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_the_lease_is_renewed_while_acting_and_a_lost_lease_stops_the_deletes(
        imc: Plugin, custom_api: Any, admin_api: Any, namespace: str, plain_registry: LiveRegistry,
        run_emulator: Callable[..., Emulator]) -> None:
    import kubernetes

    reg, ns = plain_registry, namespace
    failed = unique("lease-failed")
    create_imagecache(custom_api, failed, [f"{reg.host}/lease/gone:1"], annotations={
        "kubectl-imagecache.io/workloads": json.dumps([f"deployment/{ns}/gone"])},
        status={"phase": "Failed", "reason": "ImagePullFailed", "lastUpdatedTime": "2020-01-01T00:00:00Z"})
    run_emulator(step_delay=1.0)  # the build lasts seconds: the test steps in while sync waits for it
    image = pushed_workload(reg, admin_api, ns, "app")
    args = sync_yes(ns)
    with ThreadPoolExecutor(1) as pool:
        run = pool.submit(imc, *args, timeout=180)
        # Held, and renewed after planning (before the creates): renewTime moved past acquireTime.
        _wait_until(lambda: (lease := _lease(admin_api, ns)) is not None and lease.spec.holder_identity
                    and lease.spec.renew_time > lease.spec.acquire_time)
        _wait_until(lambda: any(image in o["spec"]["images"] for o in imagecaches(custom_api).values()))
        # Another sync takes the Lease while this one waits (as if it had expired).
        api = kubernetes.client.CoordinationV1Api(admin_api)
        for _ in range(20):  # the sync may renew between our read and write: read again on 409
            held = _lease(admin_api, ns)
            held.spec.holder_identity = "another-sync"
            try:
                api.replace_namespaced_lease("kubectl-imagecache-sync", ns, held)
                break
            except kubernetes.client.ApiException as exc:
                if exc.status != 409:
                    raise
        else:
            raise AssertionError("could not take the Lease: every write conflicted with a renewal")
        r = run.result()
    assert r.code != 0, r
    assert "was taken by another sync" in r.stderr and "Traceback" not in r.stderr, r
    assert failed in imagecaches(custom_api)  # the deletes were not made
    lease = _lease(admin_api, ns)
    assert lease.spec.holder_identity == "another-sync"  # and not released by the one that lost it


HOLDER = re.compile(r"another sync \([\w.-]+-\d+-[0-9a-f]{6}, holding it since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\) "
                    r"holds Lease [\w-]+/kubectl-imagecache-sync until \d{4}-")


def test_the_sync_that_loses_the_race_names_the_holder_and_since_when(
        imc: Plugin, control_plane: ControlPlane, admin_api: Any, namespace: str, plain_registry: LiveRegistry,
        run_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    """Both syncs read the Lease before either writes it (a proxy holds their reads until both arrived):
    with no Lease both create it and one gets AlreadyExists; with a free Lease both update it and one
    gets 409 Conflict. The loser names the winner, read back from the Lease."""
    reg, ns = plain_registry, namespace
    run_emulator(step_delay=0.5)  # the winner still holds the Lease when the loser reads it back
    for race in ("create", "update"):
        pushed_workload(reg, admin_api, ns, f"race-{race}")  # work for the winner, so that it holds on
        proxy = ApiProxy(control_plane, "lease-barrier", barrier=2, barrier_path="/leases/kubectl-imagecache-sync")
        try:
            env = {"KUBECONFIG": str(proxy.kubeconfig(tmp_path / race))}
            with ThreadPoolExecutor(2) as pool:
                runs = list(pool.map(lambda e: imc(*sync_yes(ns), env=e, timeout=180), [env, env]))
        finally:
            proxy.stop()
        assert sorted(r.code for r in runs) == [0, 1], runs
        [lost] = [r for r in runs if r.code == 1]
        assert HOLDER.search(lost.stderr) and "nothing was done" in lost.stderr, lost
        assert "same moment" not in lost.stderr and len(lost.stderr.splitlines()) == 1, lost
        assert _lease(admin_api, ns).spec.holder_identity is None  # the winner gave it back


def test_a_missing_lease_namespace_is_named_with_how_to_make_it(imc: Plugin, admin_api: Any, namespace: str,
                                                                 plain_registry: LiveRegistry) -> None:
    pushed_workload(plain_registry, admin_api, namespace, "nolease")
    missing = f"gone-{namespace}"
    r = imc("sync", "-n", namespace, "--lease-namespace", missing, "--yes", "--timeout", "60s")
    assert r.code == 4, r
    assert r.stderr.splitlines() == [f'error: namespace "{missing}" of the sync Lease does not exist: create it with '
                                     f"`kubectl create namespace {missing}` (or name another with --lease-namespace); "
                                     "nothing was done"], r
    assert r.stdout == ""


SUMMARY = "kubectl-imagecache.io/sync-"


def lease_reader(cp: ControlPlane, ns: str, path: Path) -> Path:
    """A kubeconfig for a ServiceAccount that may only get the sync Lease (no cronjobs, no caches)."""
    sa = unique("reader")
    cp.kubectl("create", "serviceaccount", sa, "-n", ns)
    cp.kubectl("create", "role", sa, "-n", ns, "--verb=get", "--resource=leases.coordination.k8s.io",
               "--resource-name=kubectl-imagecache-sync")
    cp.kubectl("create", "rolebinding", sa, "-n", ns, f"--role={sa}", f"--serviceaccount={ns}:{sa}")
    token = cp.kubectl("create", "token", sa, "-n", ns, "--duration", "10m").stdout.strip()
    return write_config(path, {"c": good_cluster(cp)}, {"reader": {"token": token}}, {"c": ("c", "reader")}, "c")


def test_sync_records_its_summary_on_the_lease_and_status_reads_it(
        imc: Plugin, control_plane: ControlPlane, admin_api: Any, namespace: str, plain_registry: LiveRegistry,
        run_emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    import kubernetes

    reg, ns = plain_registry, namespace
    run_emulator()
    pushed_workload(reg, admin_api, ns, "summed")
    done = imc(*sync_yes(ns), timeout=180)
    assert done.code == 0, done
    [created] = done.json()["outcome"]["created"]
    annotations = _lease(admin_api, ns).metadata.annotations
    mine = {k[len(SUMMARY):]: v for k, v in annotations.items() if k.startswith(SUMMARY)}
    assert mine.pop("last-run") == mine.pop("last-success"), annotations
    assert mine == {"outcome": "ok", "created": "1", "refreshed": "0", "pruned": "0", "kept": "0",
                    "coverage-percent": "100", "held-gib": "20"}, (created, annotations)

    # A user who may only get the Lease reads it; the CronJob is not readable: deploy/sync's schedule is used.
    reader = {"KUBECONFIG": str(lease_reader(control_plane, ns, tmp_path / "reader"))}
    status = imc("sync", "--status", "--lease-namespace", ns, "-o", "json", env=reader)
    assert status.code == 0 and status.stderr == "", status
    got = status.json()
    assert got["outcome"] == "ok" and got["created"] == 1 and got["pruned"] == 0, got
    assert got["coveragePercent"] == 100 and got["heldGiB"] == 20 and got["schedule"] == "*/15 * * * *", got
    assert got["stale"] is None and got["lastSuccess"] == annotations[SUMMARY + "last-success"]
    table = imc("sync", "--status", "--lease-namespace", ns, env=reader)
    assert "Caches:        1 created, 0 refreshed, 0 pruned, 0 kept" in table.stdout.splitlines(), table

    # The last success 90 minutes ago: overdue for */15 (twice is 30m), not for an hourly CronJob found in the cluster.
    coordination = kubernetes.client.CoordinationV1Api(admin_api)
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    coordination.patch_namespaced_lease("kubectl-imagecache-sync", ns,
                                        {"metadata": {"annotations": {SUMMARY + "last-success": old}}})
    late = imc("sync", "--status", "--lease-namespace", ns, env=reader)
    assert late.code == 0 and f"Last success:  {old}" in late.stdout.splitlines(), late
    assert late.stderr.startswith(f"warning: the last successful sync ran 90m ago ({old}), more than twice the "
                                  f"schedule's 15m between runs; check CronJob {ns}/imagecache-sync"), late
    kubernetes.client.BatchV1Api(admin_api).create_namespaced_cron_job(ns, {
        "metadata": {"name": "imagecache-sync"},
        "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "kubectl-imagecache"}]}}}}}})
    hourly = imc("sync", "--status", "--lease-namespace", ns, "-o", "json")  # the admin reads the CronJob
    assert hourly.code == 0 and hourly.stderr == "", hourly
    assert hourly.json()["schedule"] == "0 * * * *" and hourly.json()["stale"] is None


def test_status_without_a_recorded_run(imc: Plugin, namespace: str) -> None:
    r = imc("sync", "--status", "--lease-namespace", namespace)
    assert r.code == 4 and r.stdout == "", r
    assert r.stderr == (f"error: no sync has run: Lease {namespace}/kubectl-imagecache-sync does not exist "
                        "(`sync --yes` makes it)\n"), r
