"""`kubectl imagecache prune`: remove expired, failed, unused and superseded caches. Preview first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import click

from ...errors import Cancelled, ClusterNotFound, UsageError
from ..options import CommandOptions, DryRun, KubeFlags, kube_flags, output_flag, selector_flag
from ..printers import NamePrinter, confirm, interactive, print_structured, print_table

if TYPE_CHECKING:
    from ...kube.api import KubeSettings


def _reasons(values: tuple[str, ...], older_than: Optional[str]) -> frozenset[str]:
    from ...imagecache import prune as rules

    chosen: set[str] = set()
    for v in values:
        for part in v.split(","):
            part = part.strip()
            if part not in rules.REASONS:
                raise UsageError(f'--reason "{part}" is unknown: use {", ".join(rules.REASONS)}')
            chosen.add(part)
    if "older-than" in chosen and older_than is None:
        raise UsageError("--reason older-than needs --older-than DURATION")
    if not chosen:
        chosen = set(rules.PruneOptions().reasons) | ({"older-than"} if older_than else set())
    return frozenset(chosen)


def _in_grace(caches: Any, candidates: set[str], grace: float, grace_text: str) -> list[str]:
    """Failed caches --failed-grace keeps, so `--reason failed` that prunes nothing says why.
    (The same clock as imagecache/prune.py's rule: last update, else start, else creation.)"""
    from ...durations import format_duration
    from ...imagecache import resource as imc

    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for obj in caches:
        if imc.phase(obj) not in imc.FAILED_PHASES or imc.name(obj) in candidates:
            continue
        status = obj.get("status") or {}
        since = imc.parse_time(status.get("lastUpdatedTime")) or imc.parse_time(status.get("startTime")) \
            or imc.created_at(obj)
        if since is not None and (now - since).total_seconds() < grace:
            out.append(f"kept ImageCache {imc.name(obj)} ({imc.phase(obj)} for "
                       f"{format_duration((now - since).total_seconds())}): within --failed-grace {grace_text}; "
                       "use --failed-grace 0 to prune it now")
    return out


@dataclass
class PruneOptions(CommandOptions):
    reasons: tuple[str, ...] = ()
    older_than: Optional[str] = None
    failed_grace: str = "1h"
    include_in_progress: bool = False
    selector: Optional[str] = None
    yes: bool = False
    output: str = "table"
    kube: KubeFlags = KubeFlags()
    dry_run: DryRun = DryRun.NONE
    rules: Any = field(init=False, default=None)  # imagecache.prune.PruneOptions
    settings: KubeSettings = field(init=False)

    def complete(self) -> None:
        from ...durations import parse_duration
        from ...imagecache import prune as rules

        self.rules = rules.PruneOptions(
            reasons=_reasons(self.reasons, self.older_than),
            failed_grace=parse_duration(self.failed_grace, "--failed-grace"),
            older_than=parse_duration(self.older_than, "--older-than") if self.older_than else None,
            include_in_progress=self.include_in_progress,
        )
        self.settings = self.kube.complete()

    def run(self) -> int:
        from ...durations import format_duration
        from ...imagecache.prune import plan_prune
        from ..printers import info
        from ..scope import pod_usage

        cluster = self.settings.connect()
        caches = cluster.list_imagecaches(self.selector)
        pods, pins = pod_usage(cluster) if caches else (None, None)
        pruning = plan_prune(caches, pods if "unused" in self.rules.reasons else None,
                             dt.datetime.now(dt.timezone.utc), self.rules, pins)
        for kept in pruning.kept:
            info(kept.describe())
        if "failed" in self.rules.reasons:
            for line in _in_grace(caches, {c.name for c in pruning.candidates}, self.rules.failed_grace,
                                  self.failed_grace):
                info(line)
        plan = pruning.candidates
        total = sum(c.size_gib for c in plan)
        if self.output != "table":
            print_structured({"candidates": [c.to_dict() for c in plan], "reclaimGiB": total,
                              "deleted": self.yes and self.dry_run is DryRun.NONE}, self.output)
        elif plan:
            print_table([[c.name, ",".join(c.reasons), f"{c.size_gib}Gi", format_duration(c.age_seconds)]
                         for c in plan], ["NAME", "REASONS", "SIZE", "AGE"])
            click.echo(f"\n{len(plan)} ImageCache(s), {total} GiB to reclaim.")
        else:
            click.echo("Nothing to prune.", err=True)
        if not plan:
            return 0
        # A dry run is the preview; so is -o json|yaml without --yes: a document on stdout is never
        # followed by a question (a script reading it cannot answer one).
        if self.dry_run is not DryRun.NONE:
            click.echo("Dry run: nothing deleted.", err=True)
            return 0
        if not self.yes:
            if self.output != "table" or not interactive():
                click.echo("Preview only: run again with --yes to delete these.", err=True)
                return 0
            if not confirm(f"Delete these {len(plan)} ImageCache(s)?"):
                raise Cancelled("nothing deleted")
        from ..progress import CountBar

        printer = NamePrinter(err=self.output != "table")  # stdout holds the JSON/YAML document
        deleted: list[str] = []
        bar = CountBar(len(plan), "Deleting caches")
        with bar as step:
            for c in plan:
                try:
                    cluster.delete_imagecache(c.name)
                except ClusterNotFound:
                    step()
                    continue  # someone else removed it meanwhile: the goal is met
                step()
                deleted.append(c.name)
                if not bar.active:
                    printer.deleted(c.name)
        if bar.active:  # after the bar, so its line is not broken by the names
            for n in deleted:
                printer.deleted(n)
        return 0


@click.command("prune", context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--reason", "reasons", multiple=True, metavar="REASON[,REASON]",
              help="Which reasons apply: expired, failed, unused, superseded, older-than (default: all given).")
@click.option("--older-than", metavar="DURATION", help="Also prune caches older than this, e.g. 30d.")
@click.option("--failed-grace", default="1h", show_default=True, metavar="DURATION",
              help="How long a cache must have been Failed before it is pruned.")
@click.option("--include-in-progress", is_flag=True, help="Also prune caches that are still being built.")
@selector_flag("Only consider caches with these labels.")
@click.option("-y", "--yes", is_flag=True, help="Delete what the preview shows, without asking.")
@click.option("--dry-run", type=click.Choice([d.value for d in DryRun]), default=DryRun.NONE.value, is_flag=False,
              flag_value=DryRun.CLIENT.value, show_default=True, callback=lambda ctx, param, value: DryRun(value),
              help="Only preview (client or server: the same here, since a preview sends no delete).")
@output_flag(("table", "json", "yaml"))
@kube_flags
def command(reasons: tuple[str, ...], older_than: Optional[str], failed_grace: str, include_in_progress: bool,
            selector: Optional[str], yes: bool, dry_run: DryRun, output: str, kube: KubeFlags) -> int:
    """Preview, then delete, the ImageCaches nobody needs any more.

    Without --yes this only shows the plan (on a terminal it then asks). Caches still being built
    are left alone unless --include-in-progress. Caches that pods or pod templates pin
    (k8s.aliyun.com/eci-imc-id) are kept; prune needs to list pods and workloads in every namespace.

    \b
    Examples:
      kubectl imagecache prune
      kubectl imagecache prune --reason expired,failed --yes
      kubectl imagecache prune --older-than 30d -o json
      kubectl imagecache prune --dry-run
    """
    return PruneOptions(reasons, older_than, failed_grace, include_in_progress, selector, yes, output, kube,
                        dry_run).execute()
