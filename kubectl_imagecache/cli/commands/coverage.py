"""`kubectl imagecache coverage`: per workload the cache ECI would pick, its state and the last hit or miss.

Its reads (cli/scope.py) are shared with `explain`, `refresh` and `sync`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import click

from ...errors import Cancelled
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
from ..printers import NamePrinter, confirm, escape, info, interactive, print_structured, print_table
from ..scope import build_bodies, pod_usage, read_scope, resolve_current

if TYPE_CHECKING:
    from ...imagecache.coverage import Summary, WorkloadCoverage
    from ...kube.api import Cluster, KubeSettings

FORMATS = ("table", "wide", "json", "yaml")


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
            pods, pins = pod_usage(cluster)
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


__all__ = ["command", "CoverageOptions", "state_text", "summary_lines"]
