"""`kubectl imagecache sync`: warm what is missing, refresh what is stale, prune what is not needed.

One preview (imagecache.syncplan.plan_sync); --yes acts under a coordination.k8s.io Lease so two
syncs never act together. Acting: creates first (under 200 a minute), then wait until the new
caches are Ready, then deletes, each only once the caches taking over its workloads are Ready. A
failed or late create leaves every cache it would have replaced in place, and the run exits 1.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

import click

from ...errors import EXIT_FAILURE, AlreadyExists, ClusterNotFound, ImageCacheError, UsageError
from ..options import (
    CacheFlags,
    CacheSettings,
    CommandOptions,
    KubeFlags,
    RegistryFlags,
    RegistrySettings,
    cache_flags,
    kube_flags,
    output_flag,
    registry_flags,
    selector_flag,
)
from ..printers import NamePrinter, escape, info, print_structured, print_table, warn

if TYPE_CHECKING:
    from ...imagecache.syncplan import SyncPlan
    from ...kube.api import Cluster, KubeSettings


# The Lease lasts --timeout (the longest step, the wait) plus this margin from each renewal; renewed
# after planning, before the wait and the deletes, and this often while creates are spaced out.
LEASE_MARGIN_SECONDS = 600
LEASE_RENEW_SECONDS = 60


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    ready: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "NAME: why"
    skipped: list[str] = field(default_factory=list)  # deletes left for a later run, and why

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "ready": self.ready, "deleted": self.deleted, "failed": self.failed,
                "skipped": self.skipped}


@dataclass
class SyncOptions(CommandOptions):
    selector: Optional[str] = None
    yes: bool = False
    output: str = "table"
    max_create: Optional[int] = None
    max_delete: Optional[int] = None
    lease_namespace: str = "kubectl-imagecache"
    timeout: str = "30m"
    policy: Optional[str] = None
    kube_flags: KubeFlags = KubeFlags()
    registry_flags: RegistryFlags = RegistryFlags()
    cache_flags: CacheFlags = CacheFlags()
    kube: KubeSettings = field(init=False)
    registry: RegistrySettings = field(init=False)
    cache: CacheSettings = field(init=False)
    seconds: float = field(init=False, default=0.0)
    reasons: frozenset[str] = field(init=False, default=frozenset({"expired", "failed", "unused"}))
    namespaces: Optional[tuple[str, ...]] = field(init=False, default=None)

    def complete(self) -> None:
        from ...durations import parse_duration

        self.kube = self.kube_flags.complete()
        self.registry = self.registry_flags.complete()
        self.cache = self.cache_flags.complete()
        self.seconds = parse_duration(self.timeout, "--timeout")
        if self.policy is not None:
            from ...imagecache.syncpolicy import load_policy

            p = load_policy(self.policy)
            self.reasons = p.reasons if p.reasons is not None else self.reasons
            self.max_create = self.max_create if self.max_create is not None else p.max_create
            self.max_delete = self.max_delete if self.max_delete is not None else p.max_delete
            self.namespaces = p.namespaces

    def validate(self) -> None:
        from ...kube.names import is_subdomain

        if not is_subdomain(self.lease_namespace, 63):
            raise UsageError(f'--lease-namespace "{self.lease_namespace}" is not a namespace name')
        if self.namespaces is not None and self.kube_flags.namespace:
            raise UsageError("the policy file names namespaces: drop -n, or the policy's namespaces")

    # -- planning ------------------------------------------------------------------------------------------
    def _scopes(self) -> list[Optional[str]]:
        if self.namespaces is not None:
            return list(self.namespaces)
        return [None if self.kube_flags.all_namespaces else self.kube.resolved_namespace()]

    def plan(self, cluster: Cluster) -> SyncPlan:
        import dataclasses

        from ...imagecache import resource as imc
        from ...imagecache.coverage import coverage
        from ...imagecache.freshness import stale_caches, tags_to_resolve
        from ...imagecache.prune import PruneOptions, plan_prune
        from ...imagecache.syncplan import plan_sync, warm_plan
        from ..scope import build_bodies, pod_usage, read_scope, resolve_current
        from .refresh import size_replacement

        workloads: list[dict] = []
        pods: list[dict] = []
        scopes = [read_scope(cluster, ns, self.selector, events=False) for ns in self._scopes()]
        for scope in scopes:
            workloads += scope.workloads
            pods += scope.pods
        caches = scopes[-1].caches if scopes else cluster.list_imagecaches()  # cluster-scoped: the newest read
        current = resolve_current(self.registry, self.cache, tags_to_resolve(caches))
        results = coverage(workloads, caches, pods=pods, current=current)
        planned, _ = warm_plan(results, caches)
        bodies = build_bodies(planned, workloads, cluster, self.registry, self.cache, strict=False)
        refreshes = []
        by_name = {imc.name(c): c for c in caches}
        for f in stale_caches(caches, current):
            try:
                refreshes.append(size_replacement(by_name[f.name], current, cluster, self.registry, self.cache))
            except ImageCacheError as exc:
                warn(f"not refreshing {f.name}: {exc.message}")
        pod_images, pins = pod_usage(cluster, scopes[0] if len(scopes) == 1 else None)
        now = dt.datetime.now(dt.timezone.utc)
        opts = PruneOptions(reasons=self.reasons)
        everywhere = self._scopes() == [None]
        scoped = {f"/{ns}/" for ns in self._scopes() if ns}

        def in_scope(obj: Any) -> bool:
            # A namespaced sync only deletes caches warm made for workloads of its namespaces: a cache
            # others' CronJobs use between runs is not its to judge.
            import json

            try:
                owners = json.loads(imc.annotations(obj).get(imc.ANN_WORKLOADS) or "[]") if obj else []
            except ValueError:
                owners = []
            return bool(owners) and all(any(s in str(w) for s in scoped) for w in owners)

        def prune(state: Any) -> Any:
            p = plan_prune(state, pod_images, now, opts, pins)
            if everywhere:
                return p
            named = {imc.name(o): o for o in state}
            return dataclasses.replace(p, candidates=[c for c in p.candidates if in_scope(named.get(c.name))])

        return plan_sync(results, caches, bodies, refreshes, prune, now, max_create=self.max_create,
                         max_delete=self.max_delete)

    # -- acting ----------------------------------------------------------------------------------------------
    def act(self, cluster: Cluster, plan: SyncPlan, printer: NamePrinter, keep: Callable[[], None]) -> Outcome:
        """Creates, the wait, deletes. ``keep`` renews the Lease: called between the steps and while
        the rate limit spaces out creates, so no step runs past the Lease's duration."""
        from ...imagecache.resource import READY
        from ...imagecache.syncplan import CreateRateLimiter
        from ...kube.waiting import wait_for

        out = Outcome()
        limiter = CreateRateLimiter()
        bodies = [c.body for c in plan.creates] + [r.body for r in plan.refreshes if r.create]
        new = [c.name for c in plan.creates] + [r.name for r in plan.refreshes]
        renewed = time.monotonic()
        for body in bodies:
            time.sleep(limiter.reserve(time.monotonic()))
            if time.monotonic() - renewed > LEASE_RENEW_SECONDS:
                keep()
                renewed = time.monotonic()
            name = str(body["metadata"]["name"])
            try:
                cluster.create_imagecache(dict(body))
            except AlreadyExists:
                pass  # made by an earlier run: wait for it like the others
            except ImageCacheError as exc:
                out.failed.append(f"{name}: {exc.message}")
                continue
            out.created.append(name)
            printer.name(name, "created")
        waiting = [n for n in new if not any(f.startswith(f"{n}:") for f in out.failed)]
        if waiting:
            keep()  # the wait lasts up to --timeout, which the Lease's duration covers from here
            for n, o in wait_for(cluster, waiting, READY, self.seconds).items():
                if o.ok:
                    out.ready.append(n)
                elif o.done:
                    out.failed.append(f"{n}: {o.phase}" + (f" ({o.reason})" if o.reason else ""))
                else:
                    out.failed.append(f"{n}: not Ready after {self.timeout} ({o.phase} at {o.progress})")
        ready = set(out.ready)
        if plan.deletes:
            keep()
        for d in plan.deletes:
            late = [a for a in d.after if a not in ready]
            if late:
                out.skipped.append(f"{d.name}: kept until {', '.join(late)} is Ready")
                continue
            try:
                cluster.delete_imagecache(d.name)
            except ClusterNotFound:
                pass
            except ImageCacheError as exc:
                out.failed.append(f"delete {d.name}: {exc.message}")
                continue
            out.deleted.append(d.name)
            printer.deleted(d.name)
        return out

    def run(self) -> int:
        from ...kube.lease import LeaseLost, acquire, holder_identity, release, renew

        cluster = self.kube.connection
        lease = None
        if self.yes:
            # Taken before reading anything: the plan is made on what the holder alone changes.
            lease = acquire(cluster, self.lease_namespace, holder_identity(), int(self.seconds) + LEASE_MARGIN_SECONDS)
        try:
            plan = self.plan(cluster)
            structured = self.output in ("json", "yaml")
            if not structured:
                self._preview(plan)
            if not self.yes or plan.empty:
                if structured:
                    print_structured({"plan": plan.to_dict(), "outcome": None}, self.output)
                elif plan.empty:
                    click.echo("In sync: nothing to do.", err=True)
                else:
                    click.echo("Preview only: run again with --yes to act.", err=True)
                return 0
            held = lease
            assert held is not None

            def keep() -> None:
                renew(cluster, held)

            try:
                keep()  # planning took a while: the steps below each start with the full duration ahead
                outcome = self.act(cluster, plan, NamePrinter(err=structured), keep)
            except LeaseLost:
                lease = None  # another sync holds it now: not ours to release
                raise
            if structured:
                print_structured({"plan": plan.to_dict(), "outcome": outcome.to_dict()}, self.output)
            for f in outcome.failed:
                click.echo(f"error: {escape(f)}", err=True)
            for s in outcome.skipped:
                info(escape(s))
            if outcome.failed:
                click.echo(f"error: {len(outcome.failed)} action(s) failed; what was Ready stays in place",
                           err=True)
                return EXIT_FAILURE
            return 0
        finally:
            if lease is not None:
                try:
                    release(cluster, lease)
                except ImageCacheError as exc:
                    warn(f"could not release Lease {lease.namespace}/{lease.name}: {exc.message}")

    def _preview(self, plan: SyncPlan) -> None:
        rows = [["create", c.name, f"{len(c.images)} image(s), {c.size_gib}Gi", ", ".join(c.workloads)]
                for c in plan.creates]
        rows += [["refresh", r.name, f"replaces {r.old}", ", ".join(ch.image for ch in r.changes)]
                 for r in plan.refreshes]
        rows += [["delete", d.name, ",".join(d.reasons), f"after {', '.join(d.after)}" if d.after else ""]
                 for d in plan.deletes]
        if rows:
            print_table([[escape(c) for c in row] for row in rows], ["ACTION", "IMAGECACHE", "WHAT", "FOR"])
        for n in plan.notes:
            info(escape(f"{n.subject}: {n.reason}"))
        for d in plan.deferred:
            info(f"deferred to the next run (--max-create/--max-delete): {d}")


@click.command("sync", context_settings={"help_option_names": ["-h", "--help"]})
@selector_flag("Only workloads with these labels.")
@click.option("-y", "--yes", is_flag=True, help="Act on the plan (without it: preview only).")
@output_flag(("table", "json", "yaml"))
@click.option("--max-create", type=click.IntRange(0), metavar="N", help="Create at most N caches this run.")
@click.option("--max-delete", type=click.IntRange(0), metavar="N", help="Delete at most N caches this run.")
@click.option("--lease-namespace", default="kubectl-imagecache", show_default=True, metavar="NAMESPACE",
              help="Namespace of the Lease kubectl-imagecache-sync that keeps two syncs from acting together.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION",
              help="How long to wait for new caches to be Ready.")
@click.option("--policy", metavar="FILE", help="A sync policy (YAML): reasons, maxCreate, maxDelete, namespaces.")
@registry_flags
@cache_flags
@kube_flags
def command(selector: Optional[str], yes: bool, output: str, max_create: Optional[int], max_delete: Optional[int],
            lease_namespace: str, timeout: str, policy: Optional[str], registry: RegistryFlags, cache: CacheFlags,
            kube: KubeFlags) -> int:
    """Warm what is missing, refresh what is stale, prune what is expired, failed or unused: one plan.

    Without --yes only the plan is shown. With --yes, new caches are created and waited for, and a
    cache is deleted only once the caches taking over from it are Ready. Running it again right
    after changes nothing.

    \b
    Examples:
      kubectl imagecache sync -A
      kubectl imagecache sync -n shop --yes --max-create 5
      kubectl imagecache sync -A --yes -o json
    """
    return SyncOptions(selector, yes, output, max_create, max_delete, lease_namespace, timeout, policy, kube,
                       registry, cache).execute()
