"""`kubectl imagecache describe NAME`: spec, status, events, provenance and expiry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from ..options import kube_flags, kube_settings


@click.command("describe", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@kube_flags
def command(names: tuple[str, ...], **flags: Any) -> int:
    """Show one or more ImageCaches in detail, with the images' digests and source workloads.

    \b
    Example:
      kubectl imagecache describe imc-3f2a9c81d0b4
    """
    from ...imagecache.view import describe

    cluster = kube_settings(flags).connect()
    objs = [cluster.get_imagecache(n) for n in dict.fromkeys(names)]  # all fetched before printing any
    now = dt.datetime.now(dt.timezone.utc)
    click.echo("\n\n".join(describe(o, now).rstrip("\n") for o in objs))
    return 0
