"""`kubectl imagecache wait NAME... --for=Ready`: block until caches are built (or fail)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

import click

from ...errors import ClusterNotFound, UsageError
from ...kube.waiting import DELETE, Outcome, parse_for
from ...model.imagecache import PHASES, READY
from ..options import CommandOptions, KubeFlags, kube_flags, selector_flag
from ..printers import NamePrinter
from ..progress import wait_and_report
from ..resourcearg import METAVAR

if TYPE_CHECKING:
    from ...kube.api import KubeSettings


@dataclass
class WaitOptions(CommandOptions):
    names: tuple[str, ...]
    selector: Optional[str] = None
    all: bool = False
    for_: str = READY
    timeout: str = "30m"
    kube: KubeFlags = KubeFlags()
    target: str = field(init=False, default=READY)
    seconds: float = field(init=False, default=0.0)
    settings: KubeSettings = field(init=False)

    def complete(self) -> None:
        from ...durations import parse_duration
        from ..resourcearg import parse_names

        self.names = parse_names(self.names)
        self.target = parse_for(self.for_)
        self.seconds = parse_duration(self.timeout, "--timeout")
        self.settings = self.kube.complete()

    def validate(self) -> None:
        if sum(bool(x) for x in (self.names, self.selector, self.all)) != 1:
            raise UsageError("name the caches to wait for: NAME..., -l SELECTOR or --all (exactly one of them)")

    def run(self) -> int:
        cluster = self.settings.connect()
        if not self.names:  # -l / --all: the caches that exist now, as kubectl wait does
            self.names = tuple(sorted(str(o["metadata"]["name"])
                                      for o in cluster.list_imagecaches(self.selector or None)))
            if not self.names:
                raise ClusterNotFound("no matching ImageCaches found"
                                      + (f" for -l {self.selector}" if self.selector else ""))
        elif self.target != DELETE:
            for n in self.names:
                cluster.get_imagecache(n)  # a name that does not exist is an error now, not after the timeout
        goal = "deleted" if self.target == DELETE else self.target

        def timed_out(o: Outcome) -> str:
            return (f"timed out after {self.timeout} waiting for {o.name} to be {goal}: it is {o.phase} "
                    f"at {o.progress}; wait longer with --timeout")

        return wait_and_report(cluster, list(self.names), self.target, self.seconds, timed_out, NamePrinter())


@click.command("wait", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar=METAVAR)
@selector_flag("Wait for the caches with these labels.")
@click.option("--all", "all_", is_flag=True, help="Wait for every ImageCache.")
@click.option("--for", "for_", default=READY, show_default=True, metavar="PHASE",
              help=f"A phase ({', '.join(PHASES)}), as PHASE or phase=PHASE, or {DELETE}.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION", help="Give up after this long.")
@kube_flags
def command(names: tuple[str, ...], selector: Optional[str], all_: bool, for_: str, timeout: str,
            kube: KubeFlags) -> int:
    """Wait until ImageCaches reach a phase; fail at once when one fails to build.

    \b
    Examples:
      kubectl imagecache wait imc-3f2a9c81d0b4 --for=Ready --timeout=20m
      kubectl imagecache wait old-cache --for=delete
      kubectl imagecache wait $(kubectl imagecache warm nginx:1.27 -o name)
      kubectl imagecache wait -l team=shop --for=phase=Ready
    """
    return WaitOptions(names, selector, all_, for_, timeout, kube).execute()
