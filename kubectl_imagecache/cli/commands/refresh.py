"""`kubectl imagecache refresh NAME... | --all-stale`: replace stale caches, never leaving their images uncached.

For each cache: create a replacement holding the same images at the digests their tags name now
(sized again: the new content may be larger), wait until it is Ready, and only then delete the old
one. If the replacement fails or the wait runs out, the old cache stays and the command exits
non-zero naming the reason. A cache pinned by id (k8s.aliyun.com/eci-imc-id) is refused: its
replacement gets a new id, and deleting the old one would break the pods that pin it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import click

from ...errors import EXIT_FAILURE, EXIT_FORBIDDEN, ClusterNotFound, ImageCacheError, UsageError
from ...escape import clean
from ..options import (
    CacheFlags,
    CacheSettings,
    CommandOptions,
    KubeFlags,
    RegistryFlags,
    RegistrySettings,
    cache_flags,
    kube_flags,
    output_flag,
    registry_flags,
)
from ..printers import NamePrinter, info, print_table, warn
from ..printflags import PrintOptions

if TYPE_CHECKING:
    from ...kube.api import KubeSettings


@dataclass
class RefreshOptions(CommandOptions, PrintOptions):
    names: tuple[str, ...] = ()
    all_stale: bool = False
    dry_run: bool = False
    timeout: str = "30m"
    output: str = "table"
    kube_flags: KubeFlags = KubeFlags()
    registry_flags: RegistryFlags = RegistryFlags()
    cache_flags: CacheFlags = CacheFlags()
    kube: KubeSettings = field(init=False)
    registry: RegistrySettings = field(init=False)
    cache: CacheSettings = field(init=False)
    seconds: float = field(init=False, default=0.0)

    def complete(self) -> None:
        from ...durations import parse_duration

        self.names = tuple(dict.fromkeys(self.names))
        self.kube = self.kube_flags.complete()
        self.registry = self.registry_flags.complete()
        self.cache = self.cache_flags.complete()
        self.seconds = parse_duration(self.timeout, "--timeout")

    def validate(self) -> None:
        if bool(self.names) == self.all_stale:
            raise UsageError("name the caches to refresh, or pass --all-stale (not both)")

    def run(self) -> int:
        import datetime as dt

        from ...imagecache.freshness import tags_to_resolve
        from ...imagecache.planner import Policy, Scope, Snapshot, plan
        from ...model import imagecache as imc
        from ..executor import Executor
        from ..scope import cache_secrets, read_usage, resolve_current, size_images

        cluster = self.kube.connection
        caches = cluster.list_imagecaches()
        by_name = {imc.name(c): c for c in caches}
        missing = [n for n in self.names if n not in by_name]
        if missing:
            raise ClusterNotFound(f'{imc.CRD_NAME} "{missing[0]}" not found')
        targets = [by_name[n] for n in self.names] if self.names else \
            [c for c in caches if imc.phase(c) == imc.READY]
        current = resolve_current(self.registry, self.cache, tags_to_resolve(targets))
        from ...imagecache.freshness import cache_freshness

        stale = [c for c in targets if cache_freshness(c, current).stale]
        usage, unknown = read_usage(cluster) if stale else (None, "")
        sizes, errors = size_images([i for c in stale for i in imc.images(c)], self.registry, self.cache,
                                    cache_secrets(stale, cluster)) if stale and usage else ({}, {})
        snapshot = Snapshot(caches, dt.datetime.now(dt.timezone.utc), usage=usage, usage_unknown=unknown,
                            current=current, sizes=sizes, sizing_errors=errors)
        p = plan(snapshot, Scope(), Policy(refresh=frozenset(self.names)))
        refused = [f"{n.subject}: {n.reason}" for n in p.notes if not n.done]
        for n in p.notes:
            if n.done:
                info(f"ImageCache {n.subject} is {n.reason}: nothing to do")
        if not p.refreshes and not refused:
            if self.printer.document:
                self.printer.print_obj({"refreshes": [], "failed": []})
            elif self.all_stale:
                click.echo("No stale ImageCaches.", err=True)
            return 0
        for r in refused:
            warn(clean(r))
        if not self.printer.document:
            print_table([[r.old, r.name, ", ".join(f"{c.image} {(c.recorded or '?')[:19]} -> {(c.current or '?')[:19]}"
                                                    for c in r.changes)] for r in p.refreshes],
                        ["STALE", "REPLACEMENT", "MOVED"])
        if self.dry_run:
            if self.printer.document:
                self.printer.print_obj({"refreshes": [_row(r) for r in p.refreshes], "failed": refused})
            return EXIT_FAILURE if refused else 0
        printer = NamePrinter(err=self.printer.document)
        out = Executor(cluster, printer, wait=self.seconds, wait_text=self.timeout).run(p, caches, usage,
                                                                                         snapshot.now)
        old = {r.name: r.old for r in p.refreshes}
        failures = [f"replacement {f.name} is {f.why}; {old.get(f.name, 'the old cache')} stays" if not f.deleting
                    else str(f) for f in out.failed]
        for f in failures:
            click.echo(f"error: {clean(f)}", err=True)
        if self.printer.document:
            self.printer.print_obj({"refreshes": [_row(r) for r in p.refreshes], "failed": refused + failures})
        if failures or refused:
            total = len(p.refreshes) + len(refused)
            raise ImageCacheError(f"{len(failures) + len(refused)} of {total} refresh(es) did not complete: "
                                  f"{(failures + refused)[0]}", exit_code=EXIT_FORBIDDEN if p.limited else None)
        return 0


def _row(r: Any) -> dict[str, Any]:
    return {"old": r.old, "name": r.name, "changes": [c.to_dict() for c in r.changes]}


@click.command("refresh", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--all-stale", is_flag=True, help="Every Ready cache whose tags moved.")
@click.option("--dry-run", is_flag=True, help="Show the replacements; create and delete nothing.")
@click.option("--timeout", default="30m", show_default=True, metavar="DURATION",
              help="How long to wait for each replacement to be Ready.")
@output_flag()
@registry_flags
@cache_flags
@kube_flags
def command(names: Sequence[str], all_stale: bool, dry_run: bool, timeout: str, output: str,
            registry: RegistryFlags, cache: CacheFlags, kube: KubeFlags) -> int:
    """Replace stale caches by caches of the same images at their current digests.

    The replacement is created and waited for first; the old cache is deleted only once it is
    Ready, so a Ready cache holds the images at every moment. If the replacement fails, the old
    cache stays and the command exits non-zero with the reason.

    \b
    Examples:
      kubectl imagecache refresh --all-stale --dry-run
      kubectl imagecache refresh imc-3f2a9c81d0b4 --timeout 20m
    """
    return RefreshOptions(tuple(names), all_stale, dry_run, timeout, output, kube, registry, cache).execute()
