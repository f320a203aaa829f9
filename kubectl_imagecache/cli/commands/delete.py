"""`kubectl imagecache delete NAME...|-l SELECTOR|--all`: remove caches, confirmed first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import click

from ...errors import Cancelled, ClusterNotFound, UsageError
from ..options import CommandOptions, KubeFlags, kube_flags, selector_flag
from ..printers import NamePrinter, confirm, interactive

if TYPE_CHECKING:
    from ...kube.api import KubeSettings


@dataclass
class DeleteOptions(CommandOptions):
    names: tuple[str, ...] = ()
    selector: Optional[str] = None
    all: bool = False
    yes: bool = False
    ignore_not_found: bool = False
    kube: KubeFlags = KubeFlags()
    settings: KubeSettings = field(init=False)

    def complete(self) -> None:
        self.names = tuple(dict.fromkeys(self.names))
        self.settings = self.kube.complete()

    def validate(self) -> None:
        if sum(bool(x) for x in (self.names, self.selector, self.all)) != 1:
            raise UsageError("name the caches to delete: NAME..., -l SELECTOR or --all (exactly one of them)")
        if self.all and not self.yes and not interactive():
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
        if not self.yes and interactive():
            click.echo("Will delete: " + ", ".join(targets), err=True)
            if not confirm(f"Delete {len(targets)} ImageCache(s)?"):
                raise Cancelled("nothing deleted")
        printer = NamePrinter()
        for n in targets:
            try:
                cluster.delete_imagecache(n)
            except ClusterNotFound:
                if not self.ignore_not_found and self.names:
                    raise
            printer.deleted(n)
        return 0


@click.command("delete", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar="[NAME]...")
@selector_flag("Delete the caches with these labels.")
@click.option("--all", "all_", is_flag=True, help="Delete every ImageCache (needs --yes without a terminal).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--ignore-not-found", is_flag=True, help="Treat a missing NAME as deleted.")
@kube_flags
def command(names: tuple[str, ...], selector: Optional[str], all_: bool, yes: bool, ignore_not_found: bool,
            kube: KubeFlags) -> int:
    """Delete ImageCaches (the cloud snapshots go with them).

    \b
    Examples:
      kubectl imagecache delete imc-3f2a9c81d0b4
      kubectl imagecache delete -l team=shop --yes
    """
    return DeleteOptions(names, selector, all_, yes, ignore_not_found, kube).execute()
