"""`kubectl imagecache describe NAME`: spec, status, events, provenance and expiry."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import click

from ...errors import UsageError
from ..options import CommandOptions, KubeFlags, kube_flags, selector_flag
from ..resourcearg import METAVAR

if TYPE_CHECKING:
    from ...kube.api import KubeSettings


@dataclass
class DescribeOptions(CommandOptions):
    names: tuple[str, ...]
    selector: Optional[str] = None
    kube: KubeFlags = KubeFlags()
    settings: KubeSettings = field(init=False)
    every: bool = field(init=False, default=False)  # `describe imagecache`: all of them, as kubectl describe TYPE

    def complete(self) -> None:
        from ..resourcearg import parse_names, type_only

        self.every = type_only(self.names)
        self.names = parse_names(self.names)
        self.settings = self.kube.complete()

    def validate(self) -> None:
        if not self.every and bool(self.names) == bool(self.selector):
            raise UsageError("name the caches to describe (NAME... or imagecache/NAME) or select them with -l")

    def run(self) -> int:
        from ..view import describe, freshness_text

        cluster = self.settings.connect()
        if self.names:
            objs = [cluster.get_imagecache(n) for n in self.names]  # all fetched before printing any
        else:
            objs = sorted(cluster.list_imagecaches(self.selector), key=lambda o: str(o["metadata"]["name"]))
            if not objs:
                click.echo("No ImageCaches found.", err=True)
                return 0
        now = dt.datetime.now(dt.timezone.utc)
        from ..scope import freshness_of

        fresh = freshness_of(objs)
        click.echo("\n\n".join(describe(o, now).rstrip("\n") + freshness_text(fresh[o["metadata"]["name"]])
                                 for o in objs))
        return 0


@click.command("describe", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar=METAVAR)
@selector_flag("Describe the caches with these labels.")
@kube_flags
def command(names: tuple[str, ...], selector: Optional[str], kube: KubeFlags) -> int:
    """Show one or more ImageCaches in detail, with the images' digests and source workloads.

    \b
    Examples:
      kubectl imagecache describe imc-3f2a9c81d0b4
      kubectl imagecache describe imagecache imc-3f2a9c81d0b4
      kubectl imagecache describe -l app.kubernetes.io/managed-by=kubectl-imagecache
    """
    return DescribeOptions(names, selector, kube).execute()
