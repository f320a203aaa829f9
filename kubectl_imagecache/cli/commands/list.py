"""`kubectl imagecache list` (aliases get, ls): the ImageCaches of the cluster."""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import click

from ..options import kube_flags, kube_settings, output_flag, selector_flag
from ..printers import print_structured, print_table

FORMATS = ("table", "wide", "json", "yaml", "name")


@click.command("list", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar="[NAME]...")
@selector_flag("Only caches with these labels, e.g. app.kubernetes.io/managed-by=kubectl-imagecache.")
@output_flag(FORMATS)
@kube_flags
def command(names: tuple[str, ...], selector: Optional[str], output: str, **flags: Any) -> int:
    """List ImageCaches: phase, progress, size, images and expiry.

    \b
    Examples:
      kubectl imagecache list
      kubectl imagecache get -o wide -l app.kubernetes.io/managed-by=kubectl-imagecache
      kubectl imagecache ls my-cache -o yaml
    """
    kube = kube_settings(flags)
    cluster = kube.connect()
    if names:
        items = [cluster.get_imagecache(n) for n in dict.fromkeys(names)]
    else:
        items = cluster.list_imagecaches(selector)
    items.sort(key=lambda o: str((o.get("metadata") or {}).get("name")))
    if output in ("json", "yaml"):
        from ...imagecache.view import as_list, for_output

        print_structured(for_output(items[0]) if len(names) == 1 else as_list(items), output)
    elif output == "name":
        for o in items:
            click.echo(f"imagecache.eci.alibabacloud.com/{o['metadata']['name']}")
    elif not items:
        click.echo("No ImageCaches found.", err=True)
    else:
        from ...imagecache.view import LIST_HEADERS, WIDE_HEADERS, list_row

        now = dt.datetime.now(dt.timezone.utc)
        wide = output == "wide"
        print_table([list_row(o, now, wide) for o in items], WIDE_HEADERS if wide else LIST_HEADERS)
    return 0
