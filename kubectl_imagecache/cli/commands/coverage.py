"""`kubectl imagecache coverage`: per workload the cache ECI would pick, its state and the last hit or miss.

Its reads (cli/scope.py) are shared with `explain`, `refresh` and `sync`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import click

from ...errors import EXIT_FAILURE, Cancelled
from ...escape import clean
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
from ..printers import NamePrinter, confirm, info, interactive, print_table
from ..printflags import PrintOptions
from ..scope import read_scope, read_usage, resolve_current

if TYPE_CHECKING:
    from ...imagecache.coverage import Summary, WorkloadCoverage
    from ...imagecache.planner import Plan
    from ...kube.api import Cluster, KubeSettings

FORMATS = ("table", "wide", "json", "yaml")


def state_text(r: WorkloadCoverage) -> str:
    from ...imagecache.matching import State

    if r.state is State.PARTIAL:
        return f"{r.state.value} {r.match.k}/{r.match.n}"
    if r.state is State.PINNED and r.match.k < r.match.n:
        return f"{r.state.value} ({r.match.k} of {r.match.n})"  # not covered: the pinned cache lacks images
    return str(r.state.value)


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
             f"{s.caches} ImageCache(s) hold {s.held_gib} GiB" + (
                 f" ({s.failed_caches} Failed, which hold no storage, not counted)." if s.failed_caches else ".")]
    if s.price_per_gib_month is not None:
        lines.append(f"Monthly cost at {s.price_per_gib_month:g}/GiB: {s.monthly_cost:.2f} held, "
                     f"{s.reclaimable_monthly_cost:.2f} reclaimable by prune ({s.reclaimable_gib} GiB).")
    return lines


@dataclass
class CoverageOptions(CommandOptions, PrintOptions):
    output_formats = FORMATS
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
            from ...imagecache.planner import Policy, Scope, Snapshot, plan
            from ...imagecache.prune import PruneOptions

            usage, _ = read_usage(cluster)
            pruning = plan(Snapshot(scope.caches, now, usage=usage), Scope(), Policy(prune=PruneOptions()))
            reclaim = reclaimable_gib(d.candidate for d in pruning.deletes if d.candidate is not None)
        summary = summarize(results, scope.caches, reclaimable=reclaim, price_per_gib_month=self.price)
        fix: list[Mapping[str, Any]] = []
        if self.fix:
            fixing = self._fix_plan(cluster, scope, results, now)
            fix = [c.body for c in fixing.creates]
        if self.printer.document:
            doc: dict[str, Any] = {"workloads": [r.to_dict() for r in results], "summary": summary.to_dict()}
            if self.fix:
                doc["fix"] = [_fix_row(b) for b in fix]
            self.printer.print_obj(doc)
        else:
            self._table(results, now)
            for line in summary_lines(summary):
                click.echo(line)
        if not self.fix:
            return 0
        return self._apply_fix(cluster, fixing, scope.caches, now)

    def _fix_plan(self, cluster: Cluster, scope: Any, results: Any, now: dt.datetime) -> Plan:
        """The planner with coverage --fix's policy: warm what needs a cache, nothing else."""
        from ...imagecache.planner import Policy, Scope, Snapshot, plan, warm_plan
        from ..scope import discover_secrets, size_images

        planned, _ = warm_plan(results, scope.caches)
        secrets, names = discover_secrets(scope.workloads, cluster, self.registry) if planned else ([], ())
        sizes, errors = size_images([i for p in planned for i in p.images], self.registry, self.cache, secrets)
        for image, why in sorted(errors.items()):
            click.echo(f"error: {image}: {why}", err=True)
        snapshot = Snapshot(scope.caches, now, scope.workloads, scope.pods, results, sizes=sizes,
                            sizing_errors=errors, platform=str(self.registry.platform), pull_secrets=names)
        fixing = plan(snapshot, Scope(), Policy(warm=True, strict_sizing=True))
        for n in fixing.notes:
            info(clean(f"{n.subject}: {n.reason}"))
        return fixing

    def _table(self, results: Sequence[WorkloadCoverage], now: dt.datetime) -> None:
        if not results:
            click.echo("No workloads found.", err=True)
            return
        wide = self.printer.wide
        rows = []
        for r in results:
            row = [str(r.workload), state_text(r), r.cache or "-", str(r.pods), _last(r, now)]
            if wide:
                row.append(r.match.why)
            rows.append(row)
        headers = ["WORKLOAD", "STATE", "CACHE", "PODS", "LAST"] + (["WHY"] if wide else [])
        print_table(rows, headers)  # the table escapes each cell: names and reasons come from the API
        click.echo("")

    def _apply_fix(self, cluster: Cluster, fixing: Plan, caches: Sequence[Mapping[str, Any]], now: dt.datetime) -> int:
        from ..executor import Executor

        bodies = [c.body for c in fixing.creates]
        if not bodies:
            click.echo("Nothing to warm: every workload a cache can cover is covered.", err=True)
            return 0
        if not self.printer.document:
            click.echo("")
            print_table([[r["name"], str(len(r["images"])), f"{r['sizeGiB']}Gi", ",".join(r["workloads"])]
                         for r in map(_fix_row, bodies)], ["CREATE", "IMAGES", "SIZE", "WORKLOADS"])
        if not self.yes:
            if not interactive():
                click.echo("Preview only: run again with --fix --yes to create these.", err=True)
                return 0
            if not confirm(f"Create these {len(bodies)} ImageCache(s)?"):
                raise Cancelled("nothing created")
        out = Executor(cluster, NamePrinter(err=self.printer.document)).run(fixing, caches, None, now)
        for f in out.failed:
            click.echo(f"error: {clean(f)}", err=True)
        return EXIT_FAILURE if out.failed else 0


def _fix_row(body: Mapping[str, Any]) -> dict[str, Any]:
    from ...model import imagecache as imc

    return {"name": imc.name(body), "images": imc.images(body), "sizeGiB": imc.effective_size_gib(body),
            "workloads": imc.workloads(body) or []}


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
