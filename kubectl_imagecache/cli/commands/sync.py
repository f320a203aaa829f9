"""`kubectl imagecache sync`: warm what is missing, refresh what is stale, prune what is not needed.

One preview (imagecache.planner.plan, with sync's policy); --yes acts through the executor under a
coordination.k8s.io Lease so two syncs never act together: creates first (under 200 a minute), then
wait until the new caches are Ready, then deletes, each only once the caches taking over its
workloads are Ready. A failed or late create leaves every cache it would have replaced in place, and
the run exits 1.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import click

from ...errors import EXIT_FAILURE, EXIT_FORBIDDEN, ClusterNotFound, Forbidden, ImageCacheError, UsageError
from ...escape import clean
from ...imagecache.syncpolicy import SYNC_REASONS
from ...kube.lease import CRONJOB_NAME, CRONJOB_SCHEDULE, LEASE_NAMESPACE
from ...model.imagecache import ANN_SYNC_SUMMARY
from ..executor import Executor
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
from ..printers import NamePrinter, info, print_table, warn
from ..printflags import PrintOptions

if TYPE_CHECKING:
    from ...imagecache.coverage import Summary
    from ...imagecache.planner import Plan, Snapshot
    from ...kube.api import Cluster, KubeSettings
    from ...kube.lease import Lease
    from ..executor import Outcome


# The Lease lasts --timeout (the longest step, the wait) plus this margin from each renewal; renewed
# after planning, before the wait and the deletes, and (executor.py) while creates are spaced out.
LEASE_MARGIN_SECONDS = 600
LEASE_MAX_SECONDS = 2**31 - 1  # leaseDurationSeconds is an int32


@dataclass
class _Record:
    """What a run got to, for the summary written when it gives the Lease back."""

    plan: Optional[Plan] = None
    outcome: Optional[Outcome] = None
    coverage: Optional[Summary] = None
    code: int = EXIT_FAILURE  # until the run returns: it raised


def _coverage_after(cluster: Cluster, snapshot: Snapshot, acted: bool) -> Optional[Summary]:
    """Coverage as the run left it: the caches read again after acting (the plan's reads otherwise)."""
    from ...imagecache.coverage import coverage, summarize

    if not acted:
        return summarize(snapshot.coverage, snapshot.caches)
    try:
        caches = cluster.list_imagecaches()
    except ImageCacheError as exc:
        warn(f"could not read the caches after acting, so the run's summary has no coverage: {exc.message}")
        return None
    return summarize(coverage(snapshot.workloads, caches, pods=snapshot.pods, current=snapshot.current), caches)


@dataclass
class SyncOptions(CommandOptions, PrintOptions):
    selector: Optional[str] = None
    yes: bool = False
    output: str = "table"
    max_create: Optional[int] = None
    max_delete: Optional[int] = None
    lease_namespace: str = LEASE_NAMESPACE
    timeout: str = "30m"
    policy: Optional[str] = None
    status: bool = False
    kube_flags: KubeFlags = KubeFlags()
    registry_flags: RegistryFlags = RegistryFlags()
    cache_flags: CacheFlags = CacheFlags()
    kube: KubeSettings = field(init=False)
    registry: RegistrySettings = field(init=False)
    cache: CacheSettings = field(init=False)
    seconds: float = field(init=False, default=0.0)
    reasons: frozenset[str] = field(init=False, default=SYNC_REASONS)
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
        if self.seconds + LEASE_MARGIN_SECONDS > LEASE_MAX_SECONDS:
            raise UsageError(f"--timeout {self.timeout} is too long for sync's Lease: at most "
                             f"{(LEASE_MAX_SECONDS - LEASE_MARGIN_SECONDS) // 86400}d")
        if self.status and (self.yes or self.policy is not None):
            raise UsageError("--status only reads the last run's summary: drop --yes and --policy")
        if self.namespaces is not None and self.kube_flags.namespace:
            raise UsageError("the policy file names namespaces: drop -n, or the policy's namespaces")

    # -- planning ------------------------------------------------------------------------------------------
    def _scopes(self) -> list[Optional[str]]:
        if self.namespaces is not None:
            return list(self.namespaces)
        return [None if self.kube_flags.all_namespaces else self.kube.resolved_namespace()]

    def snapshot(self, cluster: Cluster) -> Snapshot:
        """Everything the plan decides from: the scope, every cache, every pin, the registry's answers."""

        from ...imagecache.coverage import coverage
        from ...imagecache.freshness import stale_caches, tags_to_resolve
        from ...imagecache.planner import Snapshot, warm_plan
        from ...model import imagecache as imc
        from ..scope import (
            cache_secrets,
            discover_secrets,
            for_want_of_secret,
            read_scope,
            read_usage,
            resolve_current,
            size_images,
        )

        workloads: list[dict[str, Any]] = []
        pods: list[dict[str, Any]] = []
        scopes = [read_scope(cluster, ns, self.selector, events=False) for ns in self._scopes()]
        for scope in scopes:
            workloads += scope.workloads
            pods += scope.pods
        caches = scopes[-1].caches if scopes else cluster.list_imagecaches()  # cluster-scoped: the newest read
        current = resolve_current(self.registry, self.cache, tags_to_resolve(caches))
        results = coverage(workloads, caches, pods=pods, current=current)
        usage, unknown = read_usage(cluster, scopes[0] if len(scopes) == 1 else None)
        # What the planner will size: the new caches' images and the stale caches' (read as each cache does).
        planned, _ = warm_plan(results, caches)
        unread: dict[str, str] = {}  # secrets are read only where granted (deploy/sync/components/scoped-secrets)
        secrets, names = discover_secrets(workloads, cluster, self.registry, unread) if planned else ([], ())
        sizes, errors = size_images([i for p in planned for i in p.images], self.registry, self.cache, secrets)
        stale = {f.name for f in stale_caches(caches, current)}
        stale_objs = [c for c in caches if imc.name(c) in stale]
        more, more_errors = size_images([i for c in stale_objs for i in imc.images(c)], self.registry, self.cache,
                                        cache_secrets(stale_objs, cluster, unread))
        errors.update(more_errors)
        return Snapshot(caches, dt.datetime.now(dt.timezone.utc), workloads, pods, results, usage, unknown, current,
                        {**sizes, **more}, errors, str(self.registry.platform), names,
                        unread_secrets=for_want_of_secret(errors, unread, workloads, stale_objs))

    def plan(self, snapshot: Snapshot) -> Plan:
        from ...imagecache.planner import Policy, Scope, plan
        from ...imagecache.prune import PruneOptions

        scope = Scope(None if self._scopes() == [None] else tuple(n for n in self._scopes() if n), self.selector)
        policy = Policy(warm=True, refresh=frozenset(), prune=PruneOptions(reasons=self.reasons), only_used=True,
                        max_create=self.max_create, max_delete=self.max_delete)
        return plan(snapshot, scope, policy)

    def run(self) -> int:
        if self.status:
            return self._status()
        from ...kube.lease import LeaseLost, acquire, holder_identity

        cluster = self.kube.connection
        lease = None
        if self.yes:
            # Taken before reading anything: the plan is made on what the holder alone changes.
            lease = acquire(cluster, self.lease_namespace, holder_identity(), int(self.seconds) + LEASE_MARGIN_SECONDS)
        record = _Record()
        try:
            record.code = self._run(cluster, lease, record)
            return record.code
        except LeaseLost:
            lease = None  # another sync holds it now: not ours to release
            raise
        finally:
            if lease is not None:
                self._release(cluster, lease, record)

    def _run(self, cluster: Cluster, lease: Optional[Lease], record: _Record) -> int:
        from ...kube.lease import renew

        snapshot = self.snapshot(cluster)
        plan = record.plan = self.plan(snapshot)
        structured = self.printer.document
        if not structured:
            self._preview(plan)
        if lease is None or plan.empty:
            if structured:
                self.printer.print_obj({"plan": plan.to_dict(), "outcome": None})
            elif plan.empty:
                click.echo("In sync: nothing to do.", err=True)
            else:
                click.echo("Preview only: run again with --yes to act.", err=True)
            record.coverage = _coverage_after(cluster, snapshot, acted=False)
            return self._limited(plan)

        def keep() -> None:
            renew(cluster, lease)

        keep()  # planning took a while: the steps below each start with the full duration ahead
        executor = Executor(cluster, NamePrinter(err=structured), wait=self.seconds, wait_text=self.timeout, keep=keep)
        outcome = record.outcome = executor.run(plan, snapshot.caches, snapshot.usage, snapshot.now)
        record.coverage = _coverage_after(cluster, snapshot, acted=True)
        if structured:
            self.printer.print_obj({"plan": plan.to_dict(), "outcome": outcome.to_dict()})
        for f in outcome.failed:
            click.echo(f"error: {clean(f)}", err=True)
        for s in outcome.skipped:
            info(clean(s))
        if outcome.failed:
            click.echo(f"error: {len(outcome.failed)} action(s) failed; what was Ready stays in place", err=True)
            return EXIT_FAILURE
        return self._limited(plan)

    def _release(self, cluster: Cluster, lease: Lease, record: _Record) -> None:
        """Give the Lease back with this run's summary in its annotations (sync --status reads them)."""
        from ...imagecache.syncsummary import RunSummary, of_run
        from ...kube.lease import release

        previous = RunSummary.from_annotations((lease.obj.get("metadata") or {}).get("annotations") or {})
        summary = of_run(record.plan, record.outcome, record.coverage, record.code, dt.datetime.now(dt.timezone.utc),
                         previous)
        try:
            release(cluster, lease, summary.annotations(), ANN_SYNC_SUMMARY)
        except ImageCacheError as exc:
            warn(f"could not release Lease {lease.namespace}/{lease.name}: {exc.message}")

    def _status(self) -> int:
        """The last run's summary from the Lease (get on leases is all it needs), and a warning when stale."""
        from ...imagecache.syncsummary import RunSummary, staleness
        from ...kube.lease import LEASE_NAME

        cluster = self.kube.connection
        where = f"Lease {self.lease_namespace}/{LEASE_NAME}"
        try:
            lease = cluster.get_lease(self.lease_namespace, LEASE_NAME)
        except ClusterNotFound:
            raise ClusterNotFound(f"no sync has run: {where} does not exist (`sync --yes` makes it)") from None
        summary = RunSummary.from_annotations((lease.get("metadata") or {}).get("annotations") or {})
        if summary is None:
            raise ClusterNotFound(f"no sync run is recorded in {where} yet (`sync --yes` records one)")
        schedule, gap = self._schedule(cluster)
        stale = staleness(summary, gap, dt.datetime.now(dt.timezone.utc)) if gap is not None else None
        if self.printer.document:
            self.printer.print_obj({**summary.to_dict(), "schedule": schedule, "stale": stale})
        else:
            for line in summary.lines():
                click.echo(clean(line))
        if stale:
            warn(f"{stale}; check CronJob {self.lease_namespace}/{CRONJOB_NAME} and its Jobs' logs")
        return 0

    def _schedule(self, cluster: Cluster) -> tuple[str, Optional[dt.timedelta]]:
        """The CronJob's schedule and its longest gap; deploy/sync's when the CronJob cannot be read."""
        from ...cron import CronError, longest_gap

        try:
            schedule = str((cluster.get_cronjob(self.lease_namespace, CRONJOB_NAME).get("spec") or {})
                           .get("schedule") or "")
        except (ClusterNotFound, Forbidden):  # not deployed here, or the user may only get the Lease
            schedule = CRONJOB_SCHEDULE
        try:
            return schedule, longest_gap(schedule)
        except CronError as exc:
            warn(f'cannot read the schedule "{clean(schedule)}" of CronJob {self.lease_namespace}/{CRONJOB_NAME} '
                 f"({exc}); the last run's age is not checked")
            return schedule, None

    def _limited(self, plan: Plan) -> int:
        """Exit 8 when unknown pins kept the plan from what it was asked (the notes say why)."""
        if not plan.limited:
            return 0
        click.echo(f"error: forbidden to read every pod and pod template, so {len(plan.limited)} action(s) were "
                   f"left out ({plan.limited[0]}...): grant list on pods and workloads cluster-wide", err=True)
        return EXIT_FORBIDDEN

    def _preview(self, plan: Plan) -> None:
        rows = [["create", c.name, f"{len(c.images)} image(s), {c.size_gib}Gi", ", ".join(c.workloads)]
                for c in plan.creates]
        rows += [["refresh", r.name, f"replaces {r.old}", ", ".join(ch.image for ch in r.changes)]
                 for r in plan.refreshes]
        rows += [["delete", d.name, ",".join(d.reasons), f"after {', '.join(d.after)}" if d.after else ""]
                 for d in plan.deletes]
        if rows:
            print_table(rows, ["ACTION", "IMAGECACHE", "WHAT", "FOR"])
        for k in plan.kept:
            info(clean(k.describe()))
        for n in plan.notes:
            info(clean(f"{n.subject}: {n.reason}"))
        for d in plan.deferred:
            info(f"deferred to the next run (--max-create/--max-delete): {d}")


@click.command("sync", context_settings={"help_option_names": ["-h", "--help"]})
@selector_flag("Only workloads with these labels.")
@click.option("-y", "--yes", is_flag=True, help="Act on the plan (without it: preview only).")
@output_flag()
@click.option("--max-create", type=click.IntRange(0), metavar="N", help="Create at most N caches this run.")
@click.option("--max-delete", type=click.IntRange(0), metavar="N", help="Delete at most N caches this run.")
@click.option("--lease-namespace", default=LEASE_NAMESPACE, show_default=True, metavar="NAMESPACE",
              help="Namespace of the Lease kubectl-imagecache-sync that keeps two syncs from acting together.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION",
              help="How long to wait for new caches to be Ready.")
@click.option("--policy", metavar="FILE", help="A sync policy (YAML): reasons, maxCreate, maxDelete, namespaces.")
@click.option("--status", is_flag=True,
              help="Print the last run's summary from the Lease, and warn when the last success is overdue.")
@registry_flags
@cache_flags
@kube_flags
def command(selector: Optional[str], yes: bool, output: str, max_create: Optional[int], max_delete: Optional[int],
            lease_namespace: str, timeout: str, policy: Optional[str], status: bool, registry: RegistryFlags,
            cache: CacheFlags, kube: KubeFlags) -> int:
    """Warm what is missing, refresh what is stale, prune what is expired, failed or unused: one plan.

    Without --yes only the plan is shown. With --yes, new caches are created and waited for, and a
    cache is deleted only once the caches taking over from it are Ready. Running it again right
    after changes nothing.

    \b
    Examples:
      kubectl imagecache sync -A
      kubectl imagecache sync -n shop --yes --max-create 5
      kubectl imagecache sync -A --yes -o json
      kubectl imagecache sync --status
    """
    return SyncOptions(selector, yes, output, max_create, max_delete, lease_namespace, timeout, policy, status, kube,
                       registry, cache).execute()
