"""`kubectl imagecache list` (aliases get, ls): the ImageCaches of the cluster."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Optional

import click

from ..options import CommandOptions, KubeFlags, kube_flags, output_flag, selector_flag
from ..printers import NamePrinter, print_structured, print_table

if TYPE_CHECKING:
    from ...kube.api import KubeSettings

FORMATS = ("table", "wide", "json", "yaml", "name")


@dataclass
class ListOptions(CommandOptions):
    names: tuple[str, ...] = ()
    selector: Optional[str] = None
    output: str = "table"
    kube: KubeFlags = KubeFlags()
    settings: KubeSettings = field(init=False)

    def complete(self) -> None:
        self.names = tuple(dict.fromkeys(self.names))
        self.settings = self.kube.complete()

    def run(self) -> int:
        cluster = self.settings.connect()
        if self.names:
            items: list[Mapping[str, Any]] = [cluster.get_imagecache(n) for n in self.names]
        else:
            items = list(cluster.list_imagecaches(self.selector))
        items.sort(key=lambda o: str((o.get("metadata") or {}).get("name")))
        if self.output in ("json", "yaml"):
            from ...imagecache.view import as_list, for_output

            print_structured(for_output(items[0]) if len(self.names) == 1 else as_list(items), self.output)
        elif self.output == "name":
            printer = NamePrinter()
            for o in items:
                printer.name(o["metadata"]["name"])
        elif not items:
            click.echo("No ImageCaches found.", err=True)
        else:
            from ...imagecache.view import LIST_HEADERS, WIDE_HEADERS, list_row
            from .coverage import freshness_of, stale_text

            now = dt.datetime.now(dt.timezone.utc)
            wide = self.output == "wide"
            fresh = freshness_of(items)  # STALE: recorded vs current digests (HEAD only past the cache TTL)
            n = len(LIST_HEADERS)  # STALE ends the narrow columns; wide ones follow
            print_table([(row := list_row(o, now, wide))[:n] + [stale_text(fresh[o["metadata"]["name"]])] + row[n:]
                         for o in items], [*LIST_HEADERS, "STALE", *(WIDE_HEADERS[n:] if wide else [])])
        return 0


@click.command("list", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar="[NAME]...")
@selector_flag("Only caches with these labels, e.g. app.kubernetes.io/managed-by=kubectl-imagecache.")
@output_flag(FORMATS)
@kube_flags
def command(names: tuple[str, ...], selector: Optional[str], output: str, kube: KubeFlags) -> int:
    """List ImageCaches: phase, progress, size, images and expiry.

    \b
    Examples:
      kubectl imagecache list
      kubectl imagecache get -o wide -l app.kubernetes.io/managed-by=kubectl-imagecache
      kubectl imagecache ls my-cache -o yaml
    """
    return ListOptions(names, selector, output, kube).execute()
