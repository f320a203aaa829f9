"""`kubectl imagecache delete NAME...|-l SELECTOR|--all`: remove caches, confirmed first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import click

from ...errors import Cancelled, ClusterNotFound, UsageError
from ..options import CommandOptions, DryRun, KubeFlags, dry_run_flag, kube_flags, selector_flag
from ..printers import NamePrinter, confirm, interactive
from ..printflags import AnyPrinter, PrintFlags
from ..resourcearg import METAVAR

if TYPE_CHECKING:
    from ...kube.api import KubeSettings

_DRY = {DryRun.NONE: "", DryRun.CLIENT: " (dry run)", DryRun.SERVER: " (server dry run)"}  # kubectl's suffixes


@dataclass
class DeleteOptions(CommandOptions):
    names: tuple[str, ...] = ()
    selector: Optional[str] = None
    all: bool = False
    yes: bool = False
    ignore_not_found: bool = False
    dry_run: DryRun = DryRun.NONE
    wait: bool = True
    timeout: str = "5m"
    output: str = ""
    kube: KubeFlags = KubeFlags()
    settings: KubeSettings = field(init=False)
    seconds: float = field(init=False, default=0.0)
    printer: Optional[AnyPrinter] = field(init=False, default=None)

    def complete(self) -> None:
        from ...durations import parse_duration
        from ..resourcearg import parse_names

        self.names = parse_names(self.names)
        self.printer = PrintFlags(self.output, ("name",)).to_printer() if self.output else None
        self.seconds = parse_duration(self.timeout, "--timeout")
        self.settings = self.kube.complete()

    def validate(self) -> None:
        if sum(bool(x) for x in (self.names, self.selector, self.all)) != 1:
            raise UsageError("name the caches to delete: NAME..., -l SELECTOR or --all (exactly one of them)")
        if self.all and not self.yes and self.dry_run is DryRun.NONE and not interactive():
            raise UsageError("--all deletes every ImageCache: add --yes to confirm when not on a terminal")

    def run(self) -> int:
        cluster = self.settings.connect()
        if self.names:
            targets = []
            for n in self.names:  # every name is checked before anything is deleted
                try:
                    cluster.get_imagecache(n)
                    targets.append(n)
                except ClusterNotFound:
                    if not self.ignore_not_found:
                        raise
        else:
            targets = sorted(str(o["metadata"]["name"]) for o in cluster.list_imagecaches(self.selector or None))
        if not targets:
            click.echo("No ImageCaches to delete.", err=True)
            return 0
        if not self.yes and self.dry_run is DryRun.NONE and interactive():
            click.echo("Will delete: " + ", ".join(targets), err=True)
            if not confirm(f"Delete {len(targets)} ImageCache(s)?"):
                raise Cancelled("nothing deleted")
        printer = NamePrinter()
        deleted = []
        for n in targets:
            if self.dry_run is not DryRun.CLIENT:
                try:
                    cluster.delete_imagecache(n, dry_run=self.dry_run is DryRun.SERVER)
                except ClusterNotFound:
                    if not self.ignore_not_found and self.names:
                        raise
                    continue
            deleted.append(n)
            if self.printer is not None:  # -o name, the only one delete offers
                printer.name(n, _DRY[self.dry_run].strip())
            else:
                printer.deleted(n, _DRY[self.dry_run])
        if self.wait and deleted and self.dry_run is DryRun.NONE:
            from ...kube.waiting import DELETE
            from ..progress import wait_and_report

            return wait_and_report(cluster, deleted, DELETE, self.seconds,
                                   lambda o: f"timed out after {self.timeout} waiting for {o.name} to be deleted: "
                                             "it still exists (a finalizer?); wait longer with --timeout", None)
        return 0


@click.command("delete", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar=METAVAR)
@selector_flag("Delete the caches with these labels.")
@click.option("--all", "all_", is_flag=True, help="Delete every ImageCache (needs --yes without a terminal).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--ignore-not-found", is_flag=True, help="Treat a missing NAME as deleted.")
@dry_run_flag("Print what would be deleted; delete nothing (server: the API server checks the deletion).")
@click.option("--wait", type=click.BOOL, default=True, is_flag=False, flag_value=True, show_default=True,
              metavar="[=true|false]", help="Return only once the caches are gone (finalizers done), as kubectl.")
@click.option("--timeout", default="5m", show_default=True, metavar="DURATION", help="How long --wait waits.")
@click.option("-o", "--output", default="", metavar="name", help="name: print imagecache.../NAME per cache.")
@kube_flags
def command(names: tuple[str, ...], selector: Optional[str], all_: bool, yes: bool, ignore_not_found: bool,
            dry_run: DryRun, wait: bool, timeout: str, output: str, kube: KubeFlags) -> int:
    """Delete ImageCaches (the cloud snapshots go with them).

    \b
    Examples:
      kubectl imagecache delete imc-3f2a9c81d0b4
      kubectl imagecache delete imc/old-cache --wait
      kubectl imagecache delete -l team=shop --dry-run=server
      kubectl imagecache list -o name | xargs kubectl imagecache delete --yes
    """
    return DeleteOptions(names, selector, all_, yes, ignore_not_found, dry_run, wait, timeout, output,
                         kube).execute()
