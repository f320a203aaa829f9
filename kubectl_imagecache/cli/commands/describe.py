"""`kubectl imagecache describe NAME`: spec, status, events, provenance and expiry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from ..options import CommandOptions, KubeFlags, kube_flags

if TYPE_CHECKING:
    from ...kube.api import KubeSettings


@dataclass
class DescribeOptions(CommandOptions):
    names: tuple[str, ...]
    kube: KubeFlags = KubeFlags()
    settings: KubeSettings = field(init=False)

    def complete(self) -> None:
        self.names = tuple(dict.fromkeys(self.names))
        self.settings = self.kube.complete()

    def run(self) -> int:
        from ...imagecache.view import describe

        cluster = self.settings.connect()
        objs = [cluster.get_imagecache(n) for n in self.names]  # all fetched before printing any
        now = dt.datetime.now(dt.timezone.utc)
        from .coverage import freshness_of

        fresh = freshness_of(objs)
        click.echo("\n\n".join(describe(o, now).rstrip("\n") + _freshness(fresh[o["metadata"]["name"]]) for o in objs))
        return 0


def _freshness(f: Any) -> str:
    """Per image: the digest recorded when the cache was made and the one its tag names now."""
    lines = ["", "Freshness:"]
    for i in f.images:
        state = "STALE" if i.stale else ("current" if i.known else "unknown")
        lines.append(f"  {i.image}  recorded {i.recorded or '<none>'}  current {i.current or '<unknown>'}  {state}")
    return "\n".join(lines)


@click.command("describe", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@kube_flags
def command(names: tuple[str, ...], kube: KubeFlags) -> int:
    """Show one or more ImageCaches in detail, with the images' digests and source workloads.

    \b
    Example:
      kubectl imagecache describe imc-3f2a9c81d0b4
    """
    return DescribeOptions(names, kube).execute()
