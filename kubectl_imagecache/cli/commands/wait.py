"""`kubectl imagecache wait NAME... --for=Ready`: block until caches are built (or fail)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

from ...imagecache.resource import READY
from ...kube.waiting import DELETE, Outcome, parse_for
from ..options import CommandOptions, KubeFlags, kube_flags
from ..printers import NamePrinter
from ..progress import wait_and_report

if TYPE_CHECKING:
    from ...kube.api import KubeSettings


@dataclass
class WaitOptions(CommandOptions):
    names: tuple[str, ...]
    for_: str = READY
    timeout: str = "30m"
    kube: KubeFlags = KubeFlags()
    target: str = field(init=False, default=READY)
    seconds: float = field(init=False, default=0.0)
    settings: KubeSettings = field(init=False)

    def complete(self) -> None:
        from ...durations import parse_duration

        self.names = tuple(dict.fromkeys(self.names))
        self.target = parse_for(self.for_)
        self.seconds = parse_duration(self.timeout, "--timeout")
        self.settings = self.kube.complete()

    def run(self) -> int:
        cluster = self.settings.connect()
        if self.target != DELETE:
            for n in self.names:
                cluster.get_imagecache(n)  # a name that does not exist is an error now, not after the timeout
        goal = "deleted" if self.target == DELETE else self.target

        def timed_out(o: Outcome) -> str:
            return (f"timed out after {self.timeout} waiting for {o.name} to be {goal}: it is {o.phase} "
                    f"at {o.progress}; wait longer with --timeout")

        return wait_and_report(cluster, list(self.names), self.target, self.seconds, timed_out, NamePrinter())


@click.command("wait", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("--for", "for_", default=READY, show_default=True, metavar="PHASE",
              help=f"{READY}, phase=PHASE or {DELETE}.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION", help="Give up after this long.")
@kube_flags
def command(names: tuple[str, ...], for_: str, timeout: str, kube: KubeFlags) -> int:
    """Wait until ImageCaches reach a phase; fail at once when one fails to build.

    \b
    Examples:
      kubectl imagecache wait imc-3f2a9c81d0b4 --for=Ready --timeout=20m
      kubectl imagecache wait old-cache --for=delete
    """
    return WaitOptions(names, for_, timeout, kube).execute()
