"""`kubectl imagecache delete NAME...|-l SELECTOR|--all`: remove caches, confirmed first."""

from __future__ import annotations

from typing import Any, Optional

import click

from ...errors import Cancelled, ClusterNotFound, UsageError
from ..options import kube_flags, kube_settings, selector_flag
from ..printers import confirm, interactive


@click.command("delete", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar="[NAME]...")
@selector_flag("Delete the caches with these labels.")
@click.option("--all", "all_", is_flag=True, help="Delete every ImageCache (needs --yes without a terminal).")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--ignore-not-found", is_flag=True, help="Treat a missing NAME as deleted.")
@kube_flags
def command(names: tuple[str, ...], selector: Optional[str], all_: bool, yes: bool, ignore_not_found: bool,
            **flags: Any) -> int:
    """Delete ImageCaches (the cloud snapshots go with them).

    \b
    Examples:
      kubectl imagecache delete imc-3f2a9c81d0b4
      kubectl imagecache delete -l team=shop --yes
    """
    chosen = sum(bool(x) for x in (names, selector, all_))
    if chosen != 1:
        raise UsageError("name the caches to delete: NAME..., -l SELECTOR or --all (exactly one of them)")
    if all_ and not yes and not interactive():
        raise UsageError("--all deletes every ImageCache: add --yes to confirm when not on a terminal")
    cluster = kube_settings(flags).connect()
    if names:
        targets = []
        for n in dict.fromkeys(names):
            try:
                cluster.get_imagecache(n)
                targets.append(n)
            except ClusterNotFound:
                if not ignore_not_found:
                    raise
    else:
        targets = sorted(str(o["metadata"]["name"]) for o in cluster.list_imagecaches(selector if selector else None))
    if not targets:
        click.echo("No ImageCaches to delete.", err=True)
        return 0
    if not yes and interactive():
        click.echo("Will delete: " + ", ".join(targets), err=True)
        if not confirm(f"Delete {len(targets)} ImageCache(s)?"):
            raise Cancelled("nothing deleted")
    for n in targets:
        try:
            cluster.delete_imagecache(n)
        except ClusterNotFound:
            if not ignore_not_found and names:
                raise
        click.echo(f'imagecache.eci.alibabacloud.com "{n}" deleted')
    return 0
