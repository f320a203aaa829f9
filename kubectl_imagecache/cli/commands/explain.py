"""`kubectl imagecache explain POD|KIND/NAME`: every candidate cache, its match count, and why the winner won."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

import click

from ...errors import UsageError
from ...escape import clean
from ..options import CommandOptions, KubeFlags, kube_flags, output_flag
from ..printers import print_table
from ..printflags import PrintOptions

if TYPE_CHECKING:
    from ...kube.api import KubeSettings


@dataclass
class ExplainOptions(CommandOptions, PrintOptions):
    target: str
    output: str = "table"
    kube_flags: KubeFlags = KubeFlags()
    kube: KubeSettings = field(init=False)
    kind: str = field(init=False, default="pod")
    name: str = field(init=False, default="")

    def complete(self) -> None:
        self.kube = self.kube_flags.complete()
        kind, slash, name = self.target.partition("/")
        self.kind, self.name = (kind, name) if slash else ("pod", kind)

    def validate(self) -> None:
        from ...model.kinds import WORKLOAD_KIND_NAMES, WORKLOAD_KINDS

        if self.kind.lower() not in WORKLOAD_KINDS or not self.name or "/" in self.name:
            raise UsageError(f'"{self.target}" must be POD or KIND/NAME with KIND one of '
                             f"{', '.join(WORKLOAD_KIND_NAMES)}")

    def run(self) -> int:
        from ...imagecache.coverage import template_annotations, template_images, workload_of, workload_of_pod
        from ...imagecache.matching import choose_cache

        cluster = self.kube.connection
        ns = self.kube.resolved_namespace()
        obj = cluster.get_workload(self.kind, ns, self.name)
        subject = workload_of(obj)
        owner: Optional[Any] = None
        if obj.get("kind") == "Pod":
            owners = [o for k in ("ReplicaSet", "Job") for o in cluster.list_kind(k, ns)] + \
                list(cluster.list_workloads(ns, None))
            owner = workload_of_pod(obj, owners)
        match = choose_cache(template_images(obj), template_annotations(obj), cluster.list_imagecaches())
        if self.printer.document:
            self.printer.print_obj({"subject": str(subject), "workload": str(owner) if owner else None,
                              **match.to_dict()})
            return 0
        state = match.state.value + (f" {match.k}/{match.n}" if match.state.value == "PARTIAL" else "")
        click.echo(f"{subject}" + (f" (of {owner})" if owner and owner != subject else "") + f": {state}")
        click.echo(f"images ({match.n}): " + (", ".join(match.images) or "none"))
        for note in match.request.notes:
            click.echo(f"note: {clean(note)}")
        if match.candidates:
            rows = [["*" if match.chosen and c.name == match.chosen.name else "", c.name, c.phase,
                     f"{c.count}/{match.n}", f"{c.size_gib}Gi", c.reason] for c in match.candidates]
            print_table(rows, ["", "CACHE", "PHASE", "MATCHED", "SIZE", "REASON"])
        click.echo(f"why: {clean(match.why)}")
        if match.missing and match.chosen:
            click.echo("missing: " + ", ".join(match.missing))
        return 0


@click.command("explain", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target", metavar="POD|KIND/NAME")
@output_flag()
@kube_flags
def command(target: str, output: str, kube: KubeFlags) -> int:
    """Show each cache that could serve a pod or workload, its match count, and why the winner won.

    \b
    Examples:
      kubectl imagecache explain web-7d4b9c-x2x9z -n shop
      kubectl imagecache explain deployment/web -n shop -o json
    """
    return ExplainOptions(target, output, kube).execute()
