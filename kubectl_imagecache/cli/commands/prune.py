"""`kubectl imagecache prune`: remove expired, failed, unused and superseded caches. Preview first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import click

from ...errors import EXIT_FORBIDDEN, Cancelled, UsageError
from ..options import CommandOptions, DryRun, KubeFlags, kube_flags, output_flag, selector_flag
from ..printers import NamePrinter, confirm, interactive, print_table
from ..printflags import PrintOptions

if TYPE_CHECKING:
    from ...imagecache.planner import Plan, Snapshot
    from ...kube.api import Cluster, KubeSettings


def _reasons(values: tuple[str, ...], older_than: Optional[str]) -> frozenset[str]:
    from ...model.reasons import DEFAULT_REASONS, REASONS, Reason, parse_reasons

    known, unknown = parse_reasons(values)
    if unknown:
        raise UsageError(f'--reason "{unknown[0]}" is unknown: use {", ".join(REASONS)}')
    chosen = set(known)
    if Reason.OLDER_THAN in chosen and older_than is None:
        raise UsageError("--reason older-than needs --older-than DURATION")
    if not chosen:
        chosen = set(DEFAULT_REASONS) | ({Reason.OLDER_THAN.value} if older_than else set())
    return frozenset(chosen)


def _in_grace(caches: Any, candidates: set[str], grace: float, grace_text: str) -> list[str]:
    """Failed caches --failed-grace keeps, so `--reason failed` that prunes nothing says why.
    (The clock of prune's rule: model.imagecache.last_changed.)"""
    from ...durations import format_duration
    from ...model import imagecache as imc

    now = dt.datetime.now(dt.timezone.utc)
    out = []
    for obj in caches:
        if imc.phase(obj) not in imc.FAILED_PHASES or imc.name(obj) in candidates:
            continue
        since = imc.last_changed(obj)
        if since is not None and (now - since).total_seconds() < grace:
            out.append(f"kept ImageCache {imc.name(obj)} ({imc.phase(obj)} for "
                       f"{format_duration((now - since).total_seconds())}): within --failed-grace {grace_text}; "
                       "use --failed-grace 0 to prune it now")
    return out


@dataclass
class PruneOptions(CommandOptions, PrintOptions):
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
        from ...imagecache.planner import Policy, Scope, Snapshot, plan
        from ...model.reasons import Reason
        from ..printers import info, warn
        from ..scope import read_usage

        cluster = self.settings.connect()
        caches = cluster.list_imagecaches(self.selector)
        # Pins keep even an expired cache where they can be read; where RBAC forbids the reads, only
        # expired and failed caches (which no pod can start from) are pruned.
        usage, unknown = read_usage(cluster) if caches else (None, "")
        snapshot = Snapshot(caches, dt.datetime.now(dt.timezone.utc), usage=usage, usage_unknown=unknown)
        pruning = plan(snapshot, Scope(), Policy(prune=self.rules))
        for kept in pruning.kept:
            info(kept.describe())
        if Reason.FAILED in self.rules.reasons:
            for line in _in_grace(caches, {d.name for d in pruning.deletes}, self.rules.failed_grace,
                                  self.failed_grace):
                info(line)
        if pruning.limited:
            warn(unknown)
        chosen = [d.candidate for d in pruning.deletes if d.candidate is not None]
        total = sum(c.size_gib for c in chosen)
        if self.printer.document:
            self.printer.print_obj({"candidates": [c.to_dict() for c in chosen], "reclaimGiB": total,
                                    "deleted": self.yes and self.dry_run is DryRun.NONE})
        elif chosen:
            print_table([[c.name, ",".join(c.reasons), f"{c.size_gib}Gi", format_duration(c.age_seconds)]
                         for c in chosen], ["NAME", "REASONS", "SIZE", "AGE"])
            click.echo(f"\n{len(chosen)} ImageCache(s), {total} GiB to reclaim.")
        else:
            click.echo("Nothing to prune.", err=True)
        code = EXIT_FORBIDDEN if pruning.limited else 0
        if not chosen:
            return self._refused(code)
        # A dry run is the preview; so is -o json|yaml without --yes: a document on stdout is never
        # followed by a question (a script reading it cannot answer one).
        if self.dry_run is not DryRun.NONE:
            click.echo("Dry run: nothing deleted.", err=True)
            return self._refused(code)
        if not self.yes:
            if self.printer.document or not interactive():
                click.echo("Preview only: run again with --yes to delete these.", err=True)
                return self._refused(code)
            if not confirm(f"Delete these {len(chosen)} ImageCache(s)?"):
                raise Cancelled("nothing deleted")
        self._delete(cluster, pruning, snapshot)
        return self._refused(code)

    def _refused(self, code: int) -> int:
        if code:
            click.echo("error: forbidden to read every pod and pod template: only expired and failed caches "
                       "were considered; grant list on pods and workloads cluster-wide, or pass "
                       "--reason expired,failed", err=True)
        return code

    def _delete(self, cluster: Cluster, pruning: Plan, snapshot: Snapshot) -> None:
        from ..executor import Executor
        from ..progress import CountBar

        later = _Later(err=self.printer.document)  # stdout holds the JSON/YAML document
        bar = CountBar(len(pruning.deletes), "Deleting caches")
        with bar as step:
            later.now = not bar.active
            Executor(cluster, later, on_delete=lambda name: step()).run(pruning, snapshot.caches, snapshot.usage,
                                                                         snapshot.now)
        later.flush()  # after the bar, so its line is not broken by the names


class _Later(NamePrinter):
    """Deleted names, printed as they go, or after a progress bar (whose line they would break)."""

    def __init__(self, err: bool) -> None:
        super().__init__(err=err)
        self.now = True
        self.names: list[str] = []

    def deleted(self, name: str, suffix: str = "") -> None:
        if self.now:
            super().deleted(name, suffix)
        else:
            self.names.append(name)

    def flush(self) -> None:
        for n in self.names:
            super().deleted(n)
        self.names.clear()


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
@output_flag()
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
