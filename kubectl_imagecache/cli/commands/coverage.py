"""`kubectl imagecache coverage`: per workload the cache ECI would pick, its state and the last hit or miss.

The reads here (workloads, pods, ECI's pod events, caches, the tags' current digests, the sizing of
what --fix creates) are shared with `explain`, `refresh` and `sync`: one place gathers a scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Sequence

import click

from ...errors import Cancelled, Forbidden, ImageCacheError
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
from ..printers import NamePrinter, confirm, escape, info, interactive, print_structured, print_table, warn

if TYPE_CHECKING:
    from ...imagecache.coverage import Summary, WorkloadCoverage
    from ...imagecache.plan import PlannedCache
    from ...kube.api import Cluster, KubeSettings

FORMATS = ("table", "wide", "json", "yaml")


# -- reads shared by coverage, explain, refresh and sync -----------------------------------------------------

def list_events(cluster: Cluster, namespace: Optional[str]) -> Iterator[dict]:
    """core/v1 Events about pods (ECI's cache events are among them), page by page."""
    from urllib.parse import quote

    path = f"/api/v1/namespaces/{quote(namespace)}/events" if namespace else "/api/v1/events"
    return cluster._pages(path, {"fieldSelector": "involvedObject.kind=Pod"}, "list", "events")


@dataclass
class Scope:
    """What one run read: workloads of the scope, their pods and events, every cache."""

    workloads: list[dict]
    pods: list[dict]
    events: list[dict]
    caches: list[dict]


def read_scope(cluster: Cluster, namespace: Optional[str], selector: Optional[str], events: bool = True) -> Scope:
    workloads = list(cluster.list_workloads(namespace, selector))
    pods = list(cluster.list_pods(namespace)) if workloads else []
    evs: list[dict] = []
    if events and workloads:
        try:
            evs = list(list_events(cluster, namespace))
        except Forbidden:
            warn("cannot list events: the last hit or miss is not shown")
    return Scope(workloads, pods, evs, cluster.list_imagecaches())


def resolve_current(registry: RegistrySettings, cache: CacheSettings, tags: Sequence[str],
                    secrets: Sequence[Any] = ()) -> dict[str, str]:
    """The digests the tags name now (HEAD through the local metadata cache: none within --cache-ttl).

    A tag that cannot be resolved is left out (its freshness is unknown) with one warning.
    """
    if not tags:
        return {}
    from ...registry.reference import parse_reference

    refs = []
    for t in tags:
        try:
            refs.append((t, parse_reference(t)))
        except ImageCacheError:
            continue
    with registry.open_client(cache, secrets) as client:
        results = client.inspect_many(refs)
    failed = [r for r in results if r.error is not None]
    if failed:
        warn(f"{len(failed)} tag(s) could not be resolved, their freshness is unknown "
             f"(first: {failed[0].image}: {failed[0].error.message if failed[0].error else ''})")
    return {r.image: r.info.digest for r in results if r.info is not None}


def freshness_of(caches: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """name -> freshness.CacheFreshness, with the default registry and metadata-cache settings (list,
    describe): HEAD requests only for tags older than the cache's TTL; a failure leaves them unknown."""
    from ...imagecache import resource as imc
    from ...imagecache.freshness import cache_freshness, tags_to_resolve

    try:
        current = resolve_current(RegistryFlags().complete(), CacheFlags().complete(), tags_to_resolve(caches))
    except ImageCacheError as exc:
        warn(f"cannot check the images' current digests ({exc.message}): staleness unknown")
        current = {}
    return {imc.name(c): cache_freshness(c, current) for c in caches}


def stale_text(f: Any) -> str:
    """list's STALE column: yes (a tag moved), no (every recorded digest is current), - (cannot tell)."""
    if f.stale:
        return "yes"
    return "no" if f.images and not f.unknown else "-"


def build_bodies(planned: Sequence[PlannedCache], workloads: Sequence[Mapping[str, Any]], cluster: Cluster,
                 registry: RegistrySettings, cache: CacheSettings, strict: bool = True) -> list[dict]:
    """warm's sizing of planned caches: every image inspected (none missing), 2x rule, current digests.

    strict: one image that cannot be sized fails all (coverage --fix, as warm); else (sync) only the
    caches holding it are left out, with a warning each, so one broken workload does not stop the rest.
    """
    if not planned:
        return []
    from ...imagecache.plan import imagecache_object
    from ...kube.pullsecrets import Reads, discover
    from ...registry.reference import parse_reference
    from ...sizing import recommend_gib

    found = discover(workloads, registry.pull_secrets, Reads(cluster.get_secret, cluster.get_service_account), warn)
    unique = sorted({i for p in planned for i in p.images})
    with registry.open_client(cache, found.secrets) as client:
        results = client.inspect_many([(i, parse_reference(i)) for i in unique])
    failed = [r for r in results if r.error is not None]
    if failed and not strict:
        bad = {r.image for r in failed}
        for r in failed:
            warn(f"{r.image}: {r.error.message if r.error else ''}")
        for p in planned:
            if bad & set(p.images):
                warn(f"not warming {p.name} ({', '.join(p.workloads)}): an image could not be sized")
        planned = [p for p in planned if not bad & set(p.images)]
    elif failed:
        for r in failed:
            click.echo(f"error: {r.image}: {r.error.message if r.error else ''}", err=True)
        raise ImageCacheError(f"{len(failed)} image(s) could not be sized, so no cache was planned (a size that "
                              "ignores an image would be too small)", exit_code=failed[0].error.exit_code
                              if failed[0].error else None)
    infos = {r.image: r.info for r in results if r.info is not None}
    bodies = []
    for p in planned:
        needed = sum(infos[i].size_bytes for i in p.images)
        bodies.append(imagecache_object(p, size_gib=recommend_gib(needed), digests={i: infos[i].digest
                                                                                     for i in p.images},
                                        image_bytes=needed, platform=str(registry.platform),
                                        pull_secrets=found.names))
    return bodies


def state_text(r: WorkloadCoverage) -> str:
    from ...imagecache.matching import State

    if r.state is State.PARTIAL or (r.state is State.PINNED and r.match.k < r.match.n):
        return f"{r.state.value} {r.match.k}/{r.match.n}"
    return r.state.value


def _last(r: WorkloadCoverage, now: dt.datetime) -> str:
    from ...durations import format_duration

    e = r.last_event
    if e is None:
        return "-"
    return f"{e.outcome} ({format_duration((now - e.time).total_seconds())} ago)" if e.time else e.outcome


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:g}%"


def summary_lines(s: Summary) -> list[str]:
    lines = [f"{s.workloads_covered} of {s.workloads} workload(s) fully covered ({_pct(s.workloads_percent)}), "
             f"{s.pods_covered} of {s.pods} pod(s) ({_pct(s.pods_percent)}).",
             f"{s.caches} ImageCache(s) hold {s.held_gib} GiB."]
    if s.price_per_gib_month is not None:
        lines.append(f"Monthly cost at {s.price_per_gib_month:g}/GiB: {s.monthly_cost:.2f} held, "
                     f"{s.reclaimable_monthly_cost:.2f} reclaimable by prune ({s.reclaimable_gib} GiB).")
    return lines


@dataclass
class CoverageOptions(CommandOptions):
    selector: Optional[str] = None
    output: str = "table"
    price: Optional[float] = None
    fix: bool = False
    yes: bool = False
    kube_flags: KubeFlags = KubeFlags()
    registry_flags: RegistryFlags = RegistryFlags()
    cache_flags: CacheFlags = CacheFlags()
    kube: KubeSettings = field(init=False)
    registry: RegistrySettings = field(init=False)
    cache: CacheSettings = field(init=False)

    def complete(self) -> None:
        self.kube = self.kube_flags.complete()
        self.registry = self.registry_flags.complete()
        self.cache = self.cache_flags.complete()

    def validate(self) -> None:
        from ...errors import UsageError
        from ...imagecache.coverage import validate_price

        if self.price is not None:
            validate_price(self.price)
        if self.yes and not self.fix:
            raise UsageError("--yes creates what --fix plans: add --fix, or drop --yes")

    def run(self) -> int:
        from ...imagecache.coverage import coverage, reclaimable_gib, summarize
        from ...imagecache.freshness import tags_to_resolve

        cluster = self.kube.connection
        ns = None if self.kube_flags.all_namespaces else self.kube.resolved_namespace()
        scope = read_scope(cluster, ns, self.selector)
        current = resolve_current(self.registry, self.cache, tags_to_resolve(scope.caches))
        now = dt.datetime.now(dt.timezone.utc)
        results = coverage(scope.workloads, scope.caches, pods=scope.pods, events=scope.events, current=current)
        reclaim = 0
        if self.price is not None and scope.caches:
            from ...imagecache.prune import PruneOptions, plan_prune
            from .prune import _pod_usage

            pods, pins = _pod_usage(cluster)
            reclaim = reclaimable_gib(plan_prune(scope.caches, pods, now, PruneOptions(), pins).candidates)
        summary = summarize(results, scope.caches, reclaimable=reclaim, price_per_gib_month=self.price)
        fix: list[dict] = []
        if self.fix:
            from ...imagecache.syncplan import warm_plan

            planned, notes = warm_plan(results, scope.caches)
            for n in notes:
                info(escape(f"{n.subject}: {n.reason}"))
            fix = build_bodies(planned, scope.workloads, cluster, self.registry, self.cache)
        if self.output in ("json", "yaml"):
            doc: dict[str, Any] = {"workloads": [r.to_dict() for r in results], "summary": summary.to_dict()}
            if self.fix:
                doc["fix"] = [_fix_row(b) for b in fix]
            print_structured(doc, self.output)
        else:
            self._table(results, now)
            for line in summary_lines(summary):
                click.echo(line)
        if not self.fix:
            return 0
        return self._apply_fix(cluster, fix)

    def _table(self, results: Sequence[WorkloadCoverage], now: dt.datetime) -> None:
        if not results:
            click.echo("No workloads found.", err=True)
            return
        wide = self.output == "wide"
        rows = []
        for r in results:
            row = [str(r.workload), state_text(r), r.cache or "-", str(r.pods), _last(r, now)]
            if wide:
                row.append(r.match.why)
            rows.append(row)
        headers = ["WORKLOAD", "STATE", "CACHE", "PODS", "LAST"] + (["WHY"] if wide else [])
        print_table([[escape(c) for c in row] for row in rows], headers)  # names and reasons come from the API
        click.echo("")

    def _apply_fix(self, cluster: Cluster, bodies: list[dict]) -> int:
        if not bodies:
            click.echo("Nothing to warm: every workload a cache can cover is covered.", err=True)
            return 0
        if self.output not in ("json", "yaml"):
            click.echo("")
            print_table([[r["name"], str(len(r["images"])), f"{r['sizeGiB']}Gi", ",".join(r["workloads"])]
                         for r in map(_fix_row, bodies)], ["CREATE", "IMAGES", "SIZE", "WORKLOADS"])
        if not self.yes:
            if not interactive():
                click.echo("Preview only: run again with --fix --yes to create these.", err=True)
                return 0
            if not confirm(f"Create these {len(bodies)} ImageCache(s)?"):
                raise Cancelled("nothing created")
        printer = NamePrinter(err=self.output in ("json", "yaml"))
        for body in bodies:
            cluster.create_imagecache(body)
            printer.name(body["metadata"]["name"], "created")
        return 0


def _fix_row(body: Mapping[str, Any]) -> dict[str, Any]:
    import json

    from ...imagecache import resource as imc

    return {"name": imc.name(body), "images": imc.images(body), "sizeGiB": imc.effective_size_gib(body),
            "workloads": json.loads(imc.annotations(body).get(imc.ANN_WORKLOADS) or "[]")}


@click.command("coverage", context_settings={"help_option_names": ["-h", "--help"]})
@selector_flag("Only workloads with these labels.")
@output_flag(FORMATS)
@click.option("--price-per-gib-month", "price", type=float, metavar="PRICE",
              help="Also show the monthly cost of what caches hold and of what prune would reclaim.")
@click.option("--fix", is_flag=True, help="Plan the warm that makes every NONE/PARTIAL workload FULL.")
@click.option("-y", "--yes", is_flag=True, help="With --fix: create what it plans, without asking.")
@registry_flags
@cache_flags
@kube_flags
def command(selector: Optional[str], output: str, price: Optional[float], fix: bool, yes: bool,
            registry: RegistryFlags, cache: CacheFlags, kube: KubeFlags) -> int:
    """Show, per workload, the cache ECI would pick and whether its pods start warm.

    States: FULL (one Ready cache holds every image), PARTIAL k/n, NONE, OFF (eci-auto-imc is
    false), PINNED (eci-imc-id names a Ready cache), BROKEN (the pinned cache is missing or not
    Ready), STALE (the chosen cache holds a moved tag at its old digest).

    \b
    Examples:
      kubectl imagecache coverage -A
      kubectl imagecache coverage -n shop -o wide --price-per-gib-month 0.05
      kubectl imagecache coverage -A --fix --yes
    """
    return CoverageOptions(selector, output, price, fix, yes, kube, registry, cache).execute()


__all__ = ["command", "CoverageOptions", "Scope", "read_scope", "resolve_current", "build_bodies", "list_events",
           "freshness_of", "stale_text",
           "state_text", "summary_lines"]
